//! Any byte stream splits into whole frames inside it, without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for range in doc_camera::playback::split_mjpeg(data) {
        assert!(range.start < range.end && range.end <= data.len());
        assert_eq!(&data[range.start..range.start + 2], &[0xFF, 0xD8]);
    }
});
