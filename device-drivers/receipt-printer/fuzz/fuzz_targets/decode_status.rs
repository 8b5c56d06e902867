//! The printer status decoder and the status assessment on arbitrary bytes: no panic, and every
//! realtime reply and ASB block it yields is one the assessment takes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use receipt_printer::status::{Incoming, PrinterCondition, StatusDecoder};

fuzz_target!(|data: &[u8]| {
    let mut decoder = StatusDecoder::default();
    let mut condition = PrinterCondition::default();
    for (i, piece) in data.chunks(3).enumerate() {
        decoder.push(piece, |incoming| match incoming {
            Incoming::Realtime(byte) => {
                let n = (i % 4) as u8 + 1;
                assert!(condition.apply_realtime(n, byte).is_ok());
            }
            Incoming::Asb(block) => condition = PrinterCondition::from_asb(block),
            _ => {}
        });
        let _ = condition.assess();
    }
});
