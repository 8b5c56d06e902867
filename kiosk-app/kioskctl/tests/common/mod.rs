//! A `kioskctl sim …` process for CLI tests: started with its link in a fresh directory, and
//! stopped with SIGTERM when dropped.

#![allow(dead_code)] // each test binary uses part of it

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const KIOSKCTL: &str = env!("CARGO_BIN_EXE_kioskctl");

pub struct Sim {
    child: Child,
    pub link: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sim {
    /// Runs `kioskctl sim DEVICE --link LINK ARGS…` and waits for its link.
    pub fn start(device: &str, args: &[&str]) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join(device);
        let child = Command::new(KIOSKCTL)
            .args(["sim", device, "--link"])
            .arg(&link)
            .args(args)
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

    pub fn signal(&self, signal: Signal) {
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

/// Runs `kioskctl ARGS… --port PORT`.
pub fn kioskctl(args: &[&str], port: &Path) -> Output {
    Command::new(KIOSKCTL)
        .args(args)
        .arg("--port")
        .arg(port)
        .output()
        .unwrap()
}

/// Exit 2 and exactly one line on stderr; returns that line.
pub fn failure(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    err.trim_end().to_owned()
}

/// Exit 0 and one JSON object on stdout; returns it.
pub fn json(out: &Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}
