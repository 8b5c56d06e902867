//! The host-side decoder on arbitrary bytes: no panic, bounded memory, and every frame it yields
//! re-encodes to bytes that were in the input.
#![no_main]

use dispenser::frame::{Decoded, Decoder, ReplyFrame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, bytes)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut decoder = Decoder::<ReplyFrame>::default();
    for piece in bytes.chunks(chunk) {
        decoder.push(piece);
        while let Some(decoded) = decoder.decode() {
            if let Decoded::Frame(reply) = decoded {
                let wire = reply.encode();
                assert!(bytes.windows(wire.len()).any(|w| w == wire.as_slice()));
            }
        }
        assert!(decoder.buffered() <= 4 + 1024 + 2 + chunk);
    }
});
