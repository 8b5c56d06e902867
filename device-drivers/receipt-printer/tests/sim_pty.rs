//! The simulated printer through its real transport: bytes written to its PTY, receipts filed,
//! DLE EOT answered over the wire.

use receipt_printer::interp::Mechanics;
use receipt_printer::raster::FontRasterizer;
use receipt_printer::sim::PrinterSimulator;
use receipt_printer::status::{Paper, PrinterCondition, dle_eot};
use receipt_printer::{Block, Encoder, Profile, Receipt, Style};
use serial_link::host::Port;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn status(port: &mut Port) -> PrinterCondition {
    let mut c = PrinterCondition::default();
    for n in 1..=4 {
        port.send(&dle_eot(n)).unwrap();
        let byte = port
            .receive(
                Instant::now() + Duration::from_secs(5),
                &CancellationToken::new(),
                |b| b.first().copied(),
            )
            .unwrap();
        c.apply_realtime(n, byte).unwrap();
    }
    c
}

#[test]
fn a_receipt_sent_over_the_pty_is_filed_as_png_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let fonts = Arc::new(FontRasterizer::noto_cjk().expect("fonts-noto-cjk installed"));
    let sim = PrinterSimulator::start(
        &dir.path().join("printer"),
        115_200,
        &dir.path().join("out"),
        fonts.clone(),
    )
    .unwrap();
    let mut port = Port::open(&dir.path().join("printer"), 115_200).unwrap();
    assert!(status(&mut port).can_print());

    let receipt = Receipt::new()
        .text("受理回执 Receipt", Style::large())
        .push(Block::Qr {
            data: "https://zw.example.cn/p/1".into(),
            module: 5,
        })
        .push(Block::Cut { partial: true });
    port.write(
        &Encoder::new(Profile::EPSON_GENERIC, fonts.as_ref())
            .encode(&receipt)
            .unwrap(),
    )
    .unwrap();
    let start = Instant::now();
    while sim.printed() == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "never printed");
        std::thread::sleep(Duration::from_millis(10));
    }
    let text = std::fs::read_to_string(dir.path().join("out/receipt-0001.txt")).unwrap();
    // The QR code is followed by the line feed that ends it: a blank line on the paper.
    assert_eq!(text, "受理回执 Receipt\n[QR https://zw.example.cn/p/1]\n\n");
    let png = std::fs::read(dir.path().join("out/receipt-0001.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(
        u32::from_be_bytes([png[16], png[17], png[18], png[19]]),
        576,
        "576 dots wide"
    );

    sim.set_mechanics(Mechanics {
        paper: Paper::Out,
        ..Mechanics::default()
    });
    let c = status(&mut port);
    assert_eq!(c.paper, Paper::Out);
    assert!(!c.can_print());
}
