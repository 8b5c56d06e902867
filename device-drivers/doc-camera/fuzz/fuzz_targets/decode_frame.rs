//! Any bytes from a camera decode to a frame or a typed error, and page detection and the
//! page's orientation on whatever decodes never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = docscan::Frame::decode(data) {
        if let Some(found) = frame.locate() {
            let _ = frame.orientation(&found, &docscan::Options::default());
        }
    }
});
