//! `kioskctl sim dispenser` and `kioskctl dispenser …` as a technician runs them.

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const KIOSKCTL: &str = env!("CARGO_BIN_EXE_kioskctl");

/// A `kioskctl sim dispenser` process, stopped with SIGTERM when dropped.
struct Sim {
    child: Child,
    link: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sim {
    fn start(extra: &[&str]) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("dispenser");
        let child = Command::new(KIOSKCTL)
            .args(["sim", "dispenser", "--link"])
            .arg(&link)
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
}

impl Drop for Sim {
    fn drop(&mut self) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn kioskctl(args: &[&str], port: &std::path::Path) -> Output {
    Command::new(KIOSKCTL)
        .args(args)
        .arg("--port")
        .arg(port)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn status_reports_stacker_bin_and_gate() {
    let sim = Sim::start(&["--cards", "3"]);
    let v = json(&kioskctl(&["dispenser", "status", "--json"], &sim.link));
    assert_eq!(
        v,
        serde_json::json!({"state": "online", "stacker": "low", "reject_bin_full": false, "card_at_gate": false})
    );
    let sim = Sim::start(&["--cards", "0", "--reject-capacity", "0"]);
    let v = json(&kioskctl(&["dispenser", "status", "--json"], &sim.link));
    assert_eq!(
        (v["stacker"].as_str(), v["reject_bin_full"].as_bool()),
        (Some("empty"), Some(true))
    );
}

#[test]
fn a_card_taken_and_a_card_retained() {
    let sim = Sim::start(&["--take-after-ms", "200"]);
    let v = json(&kioskctl(
        &["dispenser", "dispense", "--take-timeout-s", "10"],
        &sim.link,
    ));
    assert_eq!(v, serde_json::json!({"outcome": "taken"}));

    let sim = Sim::start(&[]);
    let v = json(&kioskctl(
        &["dispenser", "dispense", "--take-timeout-s", "1"],
        &sim.link,
    ));
    assert_eq!(v, serde_json::json!({"outcome": "retained"}));
}

#[test]
fn the_enq_handshake_and_the_n_marker_through_the_cli() {
    let sim = Sim::start(&["--require-enq", "--negative-marker", "N", "--jammed"]);
    let out = kioskctl(
        &["dispenser", "dispense", "--enq", "--take-timeout-s", "1"],
        &sim.link,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("dispenser error 10") && err.contains("card jam"),
        "{err}"
    );
}

#[test]
fn a_missing_port_is_one_line_and_exit_2() {
    let missing = tempfile::tempdir().unwrap().path().join("nothing");
    let out = kioskctl(&["dispenser", "status", "--json"], &missing);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("kioskctl: port error:") && err.lines().count() == 1,
        "{err}"
    );
}
