//! `kioskctl sim idcard` and `kioskctl idcard read` as a technician runs them: two processes
//! talking over a PTY.

mod common;

use common::{Sim, failure, kioskctl};
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

fn cards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../device-drivers/idcard/tests/cards")
}

/// A reader simulator with `card` on it.
fn start_sim(card: &str, extra: &[&str]) -> Sim {
    let card = cards_dir().join(format!("{card}.json"));
    let mut args = vec!["--card", card.to_str().unwrap()];
    args.extend_from_slice(extra);
    Sim::start("idcard", &args)
}

fn read(port: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["idcard", "read"];
    args.extend_from_slice(extra);
    kioskctl(&args, port)
}

#[test]
fn reading_each_card_type_prints_the_json_the_simulator_was_given() {
    for name in [
        "resident",
        "hmt_residence_permit",
        "foreign_permanent_2017",
        "foreign_permanent_2023",
    ] {
        let sim = start_sim(name, &[]);
        let out = read(&sim.link, &[]);
        assert_eq!(out.status.code(), Some(0), "{name}: {out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "one JSON object");
        let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let given: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(cards_dir().join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(printed, given, "{name}");
    }
}

#[test]
fn the_required_keys_are_printed_with_their_forms() {
    let sim = start_sim("resident", &[]);
    let out = read(&sim.link, &["--baud", "115200", "--timeout-ms", "800"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["card_type"], "resident");
    assert_eq!(v["sex"], "female");
    assert_eq!(v["nation"], "汉");
    assert_eq!(v["birth_date"], "1949-12-31");
    assert_eq!(v["valid_to"], "long_term");
    assert_eq!(v["id_number_valid"], true);
    assert_eq!(
        v["photo_wlt_base64"].as_str().unwrap().len(),
        1368,
        "1024 bytes in base64"
    );
}

#[test]
fn a_simulator_at_another_baud_rate_is_served_at_that_rate() {
    let sim = start_sim("resident", &["--baud", "9600"]);
    let out = read(&sim.link, &["--baud", "9600"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // A reader at 9600 does not hear a host at 115200.
    let line = failure(&read(&sim.link, &["--timeout-ms", "200"]));
    assert!(line.contains("timeout"), "{line}");
}

#[test]
fn the_card_taken_away_is_no_card_and_put_back_reads_again() {
    let sim = start_sim("resident", &[]);
    sim.signal(Signal::SIGUSR1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let out = read(&sim.link, &[]);
        if out.status.code() == Some(2) || Instant::now() > deadline {
            break failure(&out);
        }
    };
    assert_eq!(line, "kioskctl: no card on the reader");
    sim.signal(Signal::SIGUSR1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while read(&sim.link, &[]).status.code() != Some(0) {
        assert!(Instant::now() < deadline, "card never came back");
    }
}

#[test]
fn failures_name_their_cause_on_one_line() {
    let missing = tempfile::tempdir().unwrap().path().join("no-such-port");
    let line = failure(&read(&missing, &[]));
    assert!(line.starts_with("kioskctl: port error:"), "{line}");

    let sim = start_sim("resident", &["--fault", "bad-checksum"]);
    let line = failure(&read(&sim.link, &[]));
    assert!(line.starts_with("kioskctl: checksum error"), "{line}");

    let sim = start_sim("resident", &["--fault", "sam-self-test-failed"]);
    let line = failure(&read(&sim.link, &[]));
    assert_eq!(
        line,
        "kioskctl: SAM error 0x60: SAM self-test failed (SAM自检失败)"
    );

    let sim = start_sim("resident", &["--fault", "silence"]);
    let line = failure(&read(&sim.link, &["--timeout-ms", "100"]));
    assert!(
        line.starts_with("kioskctl: timeout: no reply to find card"),
        "{line}"
    );

    let sim = start_sim("resident", &["--fault", "garbage"]);
    assert_eq!(
        read(&sim.link, &[]).status.code(),
        Some(0),
        "noise is skipped"
    );
}
