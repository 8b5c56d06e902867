//! `kioskctl sim control`: acting as the world (and as a finger) on a running simulated kiosk
//! through its control socket, as a demonstration or a support engineer does.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The kiosk, stopped however the test ends: as an operator stops it (SIGINT: it stops its
/// simulators, the A4 printer's CUPS among them), killed if it does not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn world_events_and_intents_reach_the_simulated_kiosk_and_a_refused_line_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // `scripts/test` builds every binary of the workspace before the tests.
    let kiosk_app = Path::new(env!("CARGO_BIN_EXE_kioskctl")).with_file_name("kiosk-app");
    let mut kiosk = Running(
        Command::new(&kiosk_app)
            .args(["--simulate", "--headless", "--dir"])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", kiosk_app.display())),
    );
    let (tx, views) = mpsc::channel();
    let stdout = kiosk.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let view: serde_json::Value = serde_json::from_str(&line).unwrap();
            if tx.send(view).is_err() {
                return;
            }
        }
    });
    let socket = dir.path().join("control.sock");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "no control socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let control = |lines: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kioskctl"))
            .args(["sim", "control", "--socket"])
            .arg(&socket)
            .args(lines)
            .output()
            .unwrap()
    };
    let run = control(&[r#"{"world":"insert_card","citizen":7}"#]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(String::from_utf8_lossy(&run.stdout), "{\"ok\":true}\n");
    let seen = |screen: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let view = views
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {screen} screen"));
            if view["screen"] == screen && view["journeys"][0]["available"] != false {
                return view;
            }
        }
    };
    let home = seen("home");
    assert_eq!(home["name"], demo_data::applicant(7).name.as_str());
    let run = control(&[r#"{"intent":"new_application"}"#]);
    assert!(run.status.success(), "{run:?}");
    seen("choose");

    // A line the kiosk does not take: the reason, exit 2.
    let run = control(&[r#"{"world":"unplug","device":"toaster"}"#]);
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("toaster"),
        "{run:?}"
    );
}
