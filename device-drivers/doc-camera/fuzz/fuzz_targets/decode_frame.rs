//! Any bytes from a camera decode to a frame or a typed error, and page detection on whatever
//! decodes never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = docscan::Frame::decode(data) {
        let _ = frame.locate();
    }
});
