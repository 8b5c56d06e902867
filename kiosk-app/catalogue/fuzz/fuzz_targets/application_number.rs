//! An application number as typed or read out: parsing never panics, and what parses prints
//! back as itself and parses again to the same number.
#![no_main]

use application::ApplicationNumber;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(n) = ApplicationNumber::parse(text) {
        assert_eq!(ApplicationNumber::parse(n.as_str()), Ok(n.clone()));
        assert_eq!(n.terminal().len(), 5);
    }
});
