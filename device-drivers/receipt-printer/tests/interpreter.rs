//! The encoder's bytes through the printer's interpreter: what a citizen would find on the paper.

use receipt_printer::interp::{Interpreter, Output, Printed, png};
use receipt_printer::raster::FontRasterizer;
use receipt_printer::status::{Paper, PrinterCondition, dle_eot};
use receipt_printer::{Block, Encoder, Profile, Receipt, Style};
use std::sync::Arc;

fn fonts() -> Arc<FontRasterizer> {
    Arc::new(FontRasterizer::noto_cjk().expect("fonts-noto-cjk installed"))
}

fn sample() -> Receipt {
    Receipt::new()
        .text("政务服务受理回执", Style::large())
        .text("申请人：𠮷秀英", Style::default())
        .push(Block::Rule)
        .push(Block::Qr {
            data: "https://zw.example.cn/p/A20261121-0001".into(),
            module: 6,
        })
        .push(Block::Barcode(
            receipt_printer::Barcode::Code128,
            "A20261121-0001".into(),
        ))
        .push(Block::Cut { partial: false })
}

fn print(profile: Profile, receipt: &Receipt, interp: &mut Interpreter) -> Vec<Output> {
    let fonts = fonts();
    let bytes = Encoder::new(profile, fonts.as_ref())
        .encode(receipt)
        .unwrap();
    let mut out = Vec::new();
    // In small pieces, as a serial line delivers them.
    for chunk in bytes.chunks(7) {
        interp.push(chunk, &mut out);
    }
    out
}

fn cuts(out: &[Output]) -> Vec<&Printed> {
    out.iter()
        .filter_map(|o| match o {
            Output::Cut(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn decode_qr(printed: &Printed) -> String {
    let img = &printed.image;
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        img.width() as usize,
        img.height() as usize,
        |x, y| if img.get(x as u32, y as u32) { 0 } else { 255 },
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the receipt");
    grids[0].decode().expect("readable").1
}

#[test]
fn a_receipt_prints_its_text_and_a_qr_code_a_phone_can_read() {
    let mut interp = Interpreter::new(fonts());
    let out = print(Profile::EPSON_GENERIC, &sample(), &mut interp);
    let cut = cuts(&out);
    assert_eq!(cut.len(), 1);
    let printed = cut[0];
    assert!(
        printed.transcript.starts_with("政务服务受理回执\n"),
        "{}",
        printed.transcript
    );
    assert!(
        printed.transcript.contains("[image"),
        "the rare name went as an image"
    );
    assert!(printed.transcript.contains("[barcode A20261121-0001]"));
    assert_eq!(decode_qr(printed), "https://zw.example.cn/p/A20261121-0001");
    assert_eq!(printed.image.width(), 576);

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join("sample-receipt.png"), png(&printed.image).unwrap()).unwrap();
}

#[test]
fn the_raster_qr_of_a_printer_without_qr_reads_the_same() {
    let mut interp = Interpreter::new(fonts());
    let profile = Profile {
        native_qr: false,
        ..Profile::EPSON_GENERIC
    };
    let out = print(profile, &sample(), &mut interp);
    assert_eq!(
        decode_qr(cuts(&out)[0]),
        "https://zw.example.cn/p/A20261121-0001"
    );
}

#[test]
fn status_replies_follow_the_mechanics_and_nothing_prints_without_paper() {
    let mut interp = Interpreter::new(fonts());
    let ask = |interp: &mut Interpreter| {
        let mut condition = PrinterCondition::default();
        for n in 1..=4 {
            let mut out = Vec::new();
            interp.push(&dle_eot(n), &mut out);
            let [Output::Reply(bytes)] = out.as_slice() else {
                panic!("one reply to DLE EOT {n}")
            };
            condition.apply_realtime(n, bytes[0]).unwrap();
        }
        condition
    };
    assert!(ask(&mut interp).can_print());
    interp.mechanics.paper = Paper::Low;
    let c = ask(&mut interp);
    assert!(c.can_print() && c.paper == Paper::Low);
    interp.mechanics.paper = Paper::Out;
    assert!(!ask(&mut interp).can_print());
    assert!(cuts(&print(Profile::EPSON_GENERIC, &sample(), &mut interp)).is_empty());

    interp.mechanics.paper = Paper::Ok;
    interp.mechanics.cover_open = true;
    assert!(ask(&mut interp).cover_open);
    interp.mechanics.cover_open = false;
    interp.mechanics.cutter_error = true;
    assert!(ask(&mut interp).cutter_error);
    assert!(
        cuts(&print(Profile::EPSON_GENERIC, &sample(), &mut interp)).is_empty(),
        "not cut"
    );
}

#[test]
fn a_kiosk_printer_presents_the_receipt_and_retracts_it_on_command() {
    let mut interp = Interpreter::new(fonts());
    let out = print(Profile::CUSTOM_KIOSK, &sample(), &mut interp);
    assert!(matches!(out.last(), Some(Output::Presented)));
    let mut out = Vec::new();
    interp.push(
        &receipt_printer::Presenter::Custom { steps: 40 }.retract(),
        &mut out,
    );
    assert!(matches!(out.as_slice(), [Output::Retracted]));
}

#[test]
fn the_application_receipt_reads_in_both_languages_and_its_qr_opens_the_progress_page() {
    use receipt_printer::template::ApplicationReceipt;
    let specimen = ApplicationReceipt::specimen();
    let receipt = specimen.layout(Profile::CUSTOM_KIOSK.chars_per_line());
    let mut interp = Interpreter::new(fonts());
    let out = print(Profile::CUSTOM_KIOSK, &receipt, &mut interp);
    let printed = cuts(&out)[0];
    let text = &printed.transcript;
    for expected in [
        "受理回执",
        "Application Receipt",
        "2611 2100 4271",
        "港澳通行证再次签注",
        "1101**********002X",
        "5 个工作日 / 5 working days",
        "户口簿首页及本人页",
        "Hand in by 2026-12-05",
        "[barcode 261121004271]",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(
        !text.contains("11010519491231002X"),
        "whole ID never printed"
    );
    assert!(
        text.contains("[image"),
        "the name with a rare character went as an image"
    );
    assert_eq!(decode_qr(printed), specimen.progress_url);

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(
        dir.join("application-receipt.png"),
        png(&printed.image).unwrap(),
    )
    .unwrap();
}

#[test]
fn paper_running_out_mid_receipt_stops_it_uncut_and_the_printer_says_so() {
    let mut interp = Interpreter::new(fonts());
    interp.mechanics.paper_left = Some(200);
    assert!(cuts(&print(Profile::EPSON_GENERIC, &sample(), &mut interp)).is_empty());
    assert_eq!(interp.mechanics.paper, Paper::Out);
    assert!(!interp.condition().can_print());
    // Refilled: the next receipt is whole, with nothing of the torn one.
    interp.mechanics = Default::default();
    let out = print(Profile::EPSON_GENERIC, &sample(), &mut interp);
    assert!(cuts(&out)[0].transcript.starts_with("政务服务受理回执\n"));
}
