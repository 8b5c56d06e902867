//! The text-block parser on arbitrary 256-byte blocks: no panic, and whatever it accepts is
//! written back by the encoder into a block that parses to the same card.
#![no_main]

use idcard::card::{encode_text, parse_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(block) = <[u8; 256]>::try_from(data.get(..256).unwrap_or(&[])) else { return };
    if let Ok(card) = parse_text(&block) {
        let again = encode_text(&card).expect("a parsed card fits its own layout");
        let reparsed = parse_text(&again).expect("an encoded card parses");
        assert!(reparsed == card);
    }
});
