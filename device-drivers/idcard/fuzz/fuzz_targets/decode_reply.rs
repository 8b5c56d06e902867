//! The reply decoder on arbitrary bytes in arbitrary chunks: no panic, bounded memory, and every
//! frame it yields re-encodes to bytes that were in the input.
#![no_main]

use idcard::frame::{Decoded, Decoder, Frame, HEADER_LEN, MAX_REPLY_LEN, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, so the fuzzer explores splits too.
    let Some((&chunk, bytes)) = data.split_first() else { return };
    let mut decoder = Decoder::<Reply>::new();
    for piece in bytes.chunks(usize::from(chunk).max(1)) {
        decoder.push(piece);
        while let Some(decoded) = decoder.decode() {
            if let Decoded::Frame(reply) = decoded {
                let wire = reply.encode();
                assert!(bytes.windows(wire.len()).any(|w| w == wire.as_slice()));
            }
        }
        assert!(decoder.buffered() < HEADER_LEN + usize::from(MAX_REPLY_LEN) + usize::from(chunk).max(1));
    }
});
