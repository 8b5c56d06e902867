//! A signed catalogue from the network: the envelope and signature checks never panic, and
//! nothing unsigned by the trusted key is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Only what the development key signed opens (the fuzzer cannot forge a signature), and
    // what opens is a valid catalogue.
    if let Ok(c) = catalogue::signed::open(data, &catalogue::sample::trust()) {
        assert!(c.validate().is_ok());
    }
});
