//! The request decoder (the simulator's side) on arbitrary bytes: no panic, bounded memory.
#![no_main]

use idcard::frame::{Decoder, HEADER_LEN, MAX_REQUEST_LEN, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::<Request>::new();
    for piece in data.chunks(7) {
        decoder.push(piece);
        while decoder.decode().is_some() {}
        assert!(decoder.buffered() < HEADER_LEN + usize::from(MAX_REQUEST_LEN) + 7);
    }
});
