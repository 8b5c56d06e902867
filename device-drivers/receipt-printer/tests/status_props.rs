//! The status decoder on any bytes, in any chunking: no panic, and the same result however the
//! bytes are split.

use proptest::prelude::*;
use receipt_printer::status::{Incoming, StatusDecoder};

fn decode(pieces: &[&[u8]]) -> Vec<Incoming> {
    let mut dec = StatusDecoder::default();
    let mut out = Vec::new();
    for p in pieces {
        dec.push(p, |i| out.push(i));
    }
    out
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(bytes in prop::collection::vec(any::<u8>(), 0..500),
                                       cut in any::<prop::sample::Index>()) {
        let at = cut.index(bytes.len() + 1);
        prop_assert_eq!(decode(&[&bytes[..at], &bytes[at..]]), decode(&[&bytes]));
    }
}
