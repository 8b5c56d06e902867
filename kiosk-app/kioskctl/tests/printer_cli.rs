//! `kioskctl sim printer` and `kioskctl printer …` as a technician runs them.

mod common;

use common::{Sim, failure, json, kioskctl};
use std::path::Path;

fn start_sim(out: &Path, args: &[&str]) -> Sim {
    let mut all = vec!["--out", out.to_str().unwrap()];
    all.extend_from_slice(args);
    Sim::start("printer", &all)
}

#[test]
fn status_reports_paper_cover_and_cutter() {
    let out = tempfile::tempdir().unwrap();
    let status = |args: &[&str]| {
        let sim = start_sim(out.path(), args);
        json(&kioskctl(&["printer", "status", "--json"], &sim.link))
    };
    assert_eq!(
        status(&[]),
        serde_json::json!({"state": "online", "paper": "ok", "cover_open": false, "cutter_error": false})
    );
    let low = status(&["--paper", "low"]);
    assert_eq!(
        (low["state"].as_str(), low["paper"].as_str()),
        (Some("online"), Some("low"))
    );
    let out_of_paper = status(&["--paper", "out"]);
    assert_eq!(
        (
            out_of_paper["state"].as_str(),
            out_of_paper["paper"].as_str()
        ),
        (Some("hardwareError"), Some("out"))
    );
    let cover = status(&["--cover-open"]);
    assert_eq!(
        (cover["state"].as_str(), cover["cover_open"].as_bool()),
        (Some("userError"), Some(true))
    );
    let cutter = status(&["--cutter-error"]);
    assert_eq!(
        (cutter["state"].as_str(), cutter["cutter_error"].as_bool()),
        (Some("hardwareError"), Some(true))
    );

    let sim = start_sim(out.path(), &["--paper", "low"]);
    let text = kioskctl(&["printer", "status"], &sim.link);
    assert_eq!(
        String::from_utf8(text.stdout).unwrap(),
        "state online, paper low, cover closed, cutter ok\n"
    );
}

#[test]
fn a_test_receipt_comes_out_with_chinese_text_and_a_qr_code() {
    let out = tempfile::tempdir().unwrap();
    let sim = start_sim(out.path(), &[]);
    let v = json(&kioskctl(&["printer", "test"], &sim.link));
    assert_eq!(v, serde_json::json!({"outcome": "printed"}));
    let transcript = std::fs::read_to_string(out.path().join("receipt-0001.txt")).unwrap();
    assert!(transcript.contains("受理回执"), "{transcript}");
    assert!(transcript.contains("[QR https://"), "{transcript}");
    assert!(out.path().join("receipt-0001.png").exists());

    // The same through the USB printer-class path.
    let v = json(&kioskctl(&["printer", "test", "--usb"], &sim.link));
    assert_eq!(v, serde_json::json!({"outcome": "printed"}));
    assert!(out.path().join("receipt-0002.png").exists());
}

#[test]
fn a_kiosk_printer_reports_whether_the_receipt_was_taken() {
    let out = tempfile::tempdir().unwrap();
    let sim = start_sim(out.path(), &["--take-after-ms", "200"]);
    let args = ["printer", "test", "--profile", "custom-kiosk"];
    let v = json(&kioskctl(
        &[&args[..], &["--take-timeout-s", "10"]].concat(),
        &sim.link,
    ));
    assert_eq!(v, serde_json::json!({"outcome": "taken"}));

    let sim = start_sim(out.path(), &[]);
    let v = json(&kioskctl(
        &[&args[..], &["--take-timeout-s", "1"]].concat(),
        &sim.link,
    ));
    assert_eq!(v, serde_json::json!({"outcome": "retracted"}));
}

#[test]
fn faults_fail_the_test_print_with_one_line() {
    let out = tempfile::tempdir().unwrap();
    let sim = start_sim(out.path(), &["--paper", "out"]);
    let line = failure(&kioskctl(&["printer", "test"], &sim.link));
    assert!(
        line.contains("not ready") && line.contains("paper out"),
        "{line}"
    );

    let sim = start_sim(out.path(), &["--paper-left-dots", "200"]);
    let line = failure(&kioskctl(&["printer", "test"], &sim.link));
    assert!(line.contains("stopped mid-receipt"), "{line}");

    let line = failure(&kioskctl(
        &["printer", "status", "--json"],
        &out.path().join("no-such-printer"),
    ));
    assert!(line.contains("unplugged?"), "{line}");
}
