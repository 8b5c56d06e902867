//! Properties of the dispenser's frame codec: round trip in any chunking, control bytes kept in
//! order, no panic on any input.

use dispenser::frame::{ACK, CommandFrame, Decoded, Decoder, NAK, ReplyFrame};
use proptest::prelude::*;

fn reply() -> impl Strategy<Value = ReplyFrame> {
    let data = prop::collection::vec(any::<u8>(), 0..200);
    prop_oneof![
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<[u8; 3]>(),
            data.clone()
        )
            .prop_map(|(addr, cm, pm, status, data)| ReplyFrame::Positive {
                addr,
                cm,
                pm,
                status,
                data
            }),
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<[u8; 2]>(),
            prop::bool::ANY,
            data
        )
            .prop_map(|(addr, cm, pm, error, n, data)| ReplyFrame::Negative {
                addr,
                cm,
                pm,
                error,
                marker: if n { b'N' } else { b'E' },
                data
            }),
    ]
}

fn decode_all<F: dispenser::frame::Frame>(pieces: &[&[u8]]) -> Vec<Decoded<F>> {
    let mut dec = Decoder::<F>::default();
    let mut out = Vec::new();
    for p in pieces {
        dec.push(p);
        out.extend(std::iter::from_fn(|| dec.decode()));
    }
    out
}

proptest! {
    #[test]
    fn replies_and_acknowledgements_round_trip_in_any_chunking(
        replies in prop::collection::vec(reply(), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = vec![ACK];
        let mut expected = vec![Decoded::Control(ACK)];
        for r in &replies {
            wire.extend(r.encode());
            wire.push(NAK);
            expected.push(Decoded::Frame(r.clone()));
            expected.push(Decoded::Control(NAK));
        }
        let at = cut.index(wire.len() + 1);
        let events = decode_all::<ReplyFrame>(&[&wire[..at], &wire[at..]]);
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn commands_round_trip(addr in 0u8..16, cm in any::<u8>(), pm in any::<u8>(),
                           data in prop::collection::vec(any::<u8>(), 0..100)) {
        let command = CommandFrame { addr, cm, pm, data };
        prop_assert_eq!(decode_all::<CommandFrame>(&[&command.encode()]), vec![Decoded::Frame(command)]);
    }

    #[test]
    fn any_bytes_never_panic_and_memory_stays_bounded(
        bytes in prop::collection::vec(any::<u8>(), 0..4000), chunk in 1usize..64,
    ) {
        let mut dec = Decoder::<ReplyFrame>::default();
        for piece in bytes.chunks(chunk) {
            dec.push(piece);
            while dec.decode().is_some() {}
            prop_assert!(dec.buffered() <= 4 + 1024 + 2 + chunk);
        }
    }
}
