//! The PDF as a viewer or printer reads it: its text extracted by poppler's `pdftotext`, its
//! fonts embedded and subsetted (`pdffonts`).

mod common;

use a4_printer::{Fonts, render};
use common::{sample, tool};

#[test]
fn the_pdf_reads_back_in_chinese_with_subsetted_embedded_fonts_and_page_numbers() {
    let fonts = Fonts::noto_cjk().expect("fonts-noto-cjk installed");
    let pdf = render(&sample(), &fonts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notice.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let p = path.to_str().unwrap();

    let text = tool("pdftotext", &["-layout", p, "-"]);
    for expected in [
        "办理结果通知书 Result Notice",
        "2611 2100 4271",
        "𠮷秀英",
        "城乡居民医保参保登记",
        "第100条",
        "第 1 页 / 共 3 页",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    let info = tool("pdfinfo", &[p]);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {name} in {info}"))
    };
    assert_eq!(field("Pages:"), "3");
    assert_eq!(field("Page size:"), "595.28 x 841.89 pts (A4)");
    assert_eq!(field("Title:"), "新生儿出生一件事 办理结果通知书");

    let fonts_table = tool("pdffonts", &[p]);
    let rows: Vec<&str> = fonts_table.lines().skip(2).collect();
    assert!(rows.len() >= 2, "regular and bold:\n{fonts_table}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // name, type…, encoding, emb, sub, uni, object: emb/sub/uni are the 3 before the id.
        let n = cols.len();
        assert_eq!(&cols[n - 5..n - 2], ["yes", "yes", "yes"], "{row}");
        assert!(cols[0].contains('+'), "subset tag in {row}");
    }
    // Subsetted: a few glyphs of three 20 MB collections make a small file.
    assert!(pdf.len() < 300_000, "{} bytes", pdf.len());
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("result-notice.pdf"),
        &pdf,
    )
    .unwrap();
}
