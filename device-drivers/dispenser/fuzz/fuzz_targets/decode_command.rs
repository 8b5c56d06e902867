//! The device-side decoder (the simulator's) on arbitrary bytes: no panic, bounded memory.
#![no_main]

use dispenser::frame::{CommandFrame, Decoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::<CommandFrame>::default();
    for piece in data.chunks(5) {
        decoder.push(piece);
        while decoder.decode().is_some() {}
        assert!(decoder.buffered() <= 4 + 1024 + 2 + 5);
    }
});
