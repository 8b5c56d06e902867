//! The interpreter on any bytes: no panic, and the buffer never outgrows one command.

use proptest::prelude::*;
use receipt_printer::interp::Interpreter;
use receipt_printer::raster::{Bitmap, Rasterizer};
use std::sync::Arc;

struct Nothing;

impl Rasterizer for Nothing {
    fn render(&self, _: &str, px: u32, _: bool, max: u32) -> Bitmap {
        Bitmap::new(max, px)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(
        prop_oneof![any::<u8>(), Just(0x1B), Just(0x1D), Just(0x10), Just(0x0A)], 0..3000)) {
        let mut interp = Interpreter::new(Arc::new(Nothing));
        let mut out = Vec::new();
        for chunk in bytes.chunks(5) {
            interp.push(chunk, &mut out);
        }
    }
}
