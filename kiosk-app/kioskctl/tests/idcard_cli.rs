//! `kioskctl sim idcard` and `kioskctl idcard read` as a technician runs them: two processes
//! talking over a PTY.

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const KIOSKCTL: &str = env!("CARGO_BIN_EXE_kioskctl");

fn cards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../device-drivers/idcard/tests/cards")
}

/// A `kioskctl sim idcard` process, stopped with SIGTERM when dropped.
struct Sim {
    child: Child,
    link: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sim {
    fn start(card: &str, extra: &[&str]) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("idcard");
        let child = Command::new(KIOSKCTL)
            .args(["sim", "idcard", "--link"])
            .arg(&link)
            .arg("--card")
            .arg(cards_dir().join(format!("{card}.json")))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !link.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "simulator never made its link"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Sim {
            child,
            link,
            _dir: dir,
        }
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.signal(Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn read(port: &Path, extra: &[&str]) -> Output {
    Command::new(KIOSKCTL)
        .args(["idcard", "read", "--port"])
        .arg(port)
        .args(extra)
        .output()
        .unwrap()
}

/// Exit 2 and exactly one line on stderr; returns that line.
fn failure(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    err.trim_end().to_owned()
}

#[test]
fn reading_each_card_type_prints_the_json_the_simulator_was_given() {
    for name in [
        "resident",
        "hmt_residence_permit",
        "foreign_permanent_2017",
        "foreign_permanent_2023",
    ] {
        let sim = Sim::start(name, &[]);
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
    let sim = Sim::start("resident", &[]);
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
    let sim = Sim::start("resident", &["--baud", "9600"]);
    let out = read(&sim.link, &["--baud", "9600"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // A reader at 9600 does not hear a host at 115200.
    let line = failure(&read(&sim.link, &["--timeout-ms", "200"]));
    assert!(line.contains("timeout"), "{line}");
}

#[test]
fn the_card_taken_away_is_no_card_and_put_back_reads_again() {
    let sim = Sim::start("resident", &[]);
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

    let sim = Sim::start("resident", &["--fault", "bad-checksum"]);
    let line = failure(&read(&sim.link, &[]));
    assert!(line.starts_with("kioskctl: checksum error"), "{line}");

    let sim = Sim::start("resident", &["--fault", "sam-self-test-failed"]);
    let line = failure(&read(&sim.link, &[]));
    assert_eq!(
        line,
        "kioskctl: SAM error 0x60: SAM self-test failed (SAM自检失败)"
    );

    let sim = Sim::start("resident", &["--fault", "silence"]);
    let line = failure(&read(&sim.link, &["--timeout-ms", "100"]));
    assert!(
        line.starts_with("kioskctl: timeout: no reply to find card"),
        "{line}"
    );

    let sim = Sim::start("resident", &["--fault", "garbage"]);
    assert_eq!(
        read(&sim.link, &[]).status.code(),
        Some(0),
        "noise is skipped"
    );
}
