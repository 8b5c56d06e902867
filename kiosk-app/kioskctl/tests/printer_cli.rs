//! `kioskctl sim printer` as a technician runs it: receipts sent over its PTY are filed, and its
//! paper state answers DLE EOT over the wire.

mod common;

use common::Sim;
use serial_link::host::Port;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn paper_status(link: &std::path::Path) -> u8 {
    let mut port = Port::open(link, 115_200).unwrap();
    port.send(&[0x10, 0x04, 4]).unwrap();
    port.receive(
        Instant::now() + Duration::from_secs(5),
        &CancellationToken::new(),
        |b| b.first().copied(),
    )
    .unwrap()
}

#[test]
fn the_simulated_printer_files_receipts_and_reports_its_paper() {
    let out = tempfile::tempdir().unwrap();
    let sim = Sim::start("printer", &["--out", out.path().to_str().unwrap()]);
    assert_eq!(paper_status(&sim.link), 0x12, "paper ok");
    let mut port = Port::open(&sim.link, 115_200).unwrap();
    port.write(b"\x1b@\x1c&TEST \xb2\xe2\xca\xd4\n\x1dVA\x10")
        .unwrap();
    let txt = out.path().join("receipt-0001.txt");
    let start = Instant::now();
    while !txt.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no receipt filed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_to_string(txt).unwrap(), "TEST 测试\n");
    assert!(out.path().join("receipt-0001.png").exists());

    let empty = Sim::start(
        "printer",
        &["--out", out.path().to_str().unwrap(), "--paper", "out"],
    );
    assert_eq!(paper_status(&empty.link), 0x12 | 0x6C, "paper end");
}
