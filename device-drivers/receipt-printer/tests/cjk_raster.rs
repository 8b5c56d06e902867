//! Rare name characters drawn with Debian's Noto CJK fonts (installed by scripts/setup-debian).

use receipt_printer::raster::{FontRasterizer, Rasterizer};
use receipt_printer::{Block, Encoder, Profile, Receipt, Style};

#[test]
fn a_character_outside_the_bmp_is_drawn() {
    let fonts = FontRasterizer::noto_cjk().expect("fonts-noto-cjk installed");
    // 𠮷 (U+20BB7) is outside the BMP and outside GB18030's 2-byte area.
    let rare = fonts.render("𠮷", 48, false, 576);
    let common = fonts.render("秀", 48, false, 576);
    assert_eq!(
        (rare.height(), common.height()),
        (60, 60),
        "48-dot glyphs at a 60-dot pitch"
    );
    assert!(
        rare.black_dots() > 200,
        "drawn, not blank: {}",
        rare.black_dots()
    );
    assert!(common.black_dots() > 200);
    assert_ne!(rare, common);
}

#[test]
fn long_text_wraps_at_the_paper_width() {
    let fonts = FontRasterizer::noto_cjk().expect("fonts-noto-cjk installed");
    let line = "申请人𠮷".repeat(8);
    let bitmap = fonts.render(&line, 24, false, 576);
    assert_eq!(bitmap.width(), 576);
    assert!(bitmap.height() >= 48, "wrapped onto a second line");
}

#[test]
fn a_receipt_with_a_rare_name_encodes_with_the_real_font() {
    let fonts = FontRasterizer::noto_cjk().expect("fonts-noto-cjk installed");
    let receipt = Receipt::new()
        .text("申请人：𠮷秀英", Style::default())
        .push(Block::Cut { partial: true });
    let bytes = Encoder::new(Profile::EPSON_GENERIC, &fonts)
        .encode(&receipt)
        .unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == [0x1D, b'v', b'0', 0])
        .expect("raster");
    let (x, y) = (
        u16::from_le_bytes([bytes[at + 4], bytes[at + 5]]),
        u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]),
    );
    assert_eq!(
        (x, y),
        (72, 30),
        "one line the width of the paper, 30 dots a line"
    );
}
