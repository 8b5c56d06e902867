//! The A4 printer's simulator: a real, private CUPS scheduler (`cupsd` from Debian's
//! cups-daemon) on a free loopback port, everything in its own directory, with queues whose
//! PDF goes through CUPS's own `pdftopdf` filter to a file. The driver speaks IPP to it exactly
//! as to a kiosk's CUPS; a queue can be stopped (paper out, tray removed) with `cupsdisable`.

use crate::driver::A4Config;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A PPD for a printer that takes PDF (its pages go to the queue's file unchanged).
const PPD: &str = include_str!("../sim/pdf-file-printer.ppd");

/// A private CUPS scheduler, stopped when dropped (or by [`CupsSimulator::stop`]).
pub struct CupsSimulator {
    child: Mutex<Option<Child>>,
    root: PathBuf,
    host: String,
}

/// The file holding the running scheduler's process id, in its directory.
pub const PID_FILE: &str = "cupsd.pid";

/// Stops a scheduler a process that was killed left running in `root` (its pid file names it,
/// and its command line names `root`'s configuration, so no other process is touched).
pub fn stop_left_over(root: &Path) {
    let Some(pid) = std::fs::read_to_string(root.join(PID_FILE))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    else {
        return;
    };
    let conf = root.join("etc/cupsd.conf");
    let ours = std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        c.split(|&b| b == 0)
            .any(|arg| arg == conf.as_os_str().as_encoded_bytes())
    });
    if ours {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        // Wait until it is gone, so the new one can take the spool.
        for _ in 0..100 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = std::fs::remove_file(root.join(PID_FILE));
}

impl CupsSimulator {
    /// Starts `cupsd` with its configuration, spool and logs under `root` (created; a directory
    /// used before is set up afresh).
    pub fn start(root: &Path) -> io::Result<CupsSimulator> {
        stop_left_over(root);
        std::fs::create_dir_all(root)?;
        // Filters run as the `lp` user and must reach the spool.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))?;
        for sub in ["etc", "spool", "tmp", "cache", "state", "log", "out"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
        std::fs::set_permissions(root.join("out"), std::fs::Permissions::from_mode(0o777))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let host = format!("127.0.0.1:{port}");
        std::fs::write(
            root.join("etc/cupsd.conf"),
            format!(
                "Listen {host}\nLogLevel info\nBrowsing No\nWebInterface No\n\
                 DefaultAuthType None\n<Location />\n  Order allow,deny\n  Allow all\n</Location>\n\
                 <Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
            ),
        )?;
        let r = root.display();
        std::fs::write(
            root.join("etc/cups-files.conf"),
            format!(
                "ServerRoot {r}/etc\nRequestRoot {r}/spool\nTempDir {r}/tmp\nCacheDir {r}/cache\n\
                 StateDir {r}/state\nErrorLog {r}/log/error_log\nAccessLog {r}/log/access_log\n\
                 PageLog {r}/log/page_log\nPrintcap {r}/printcap\nFileDevice Yes\n"
            ),
        )?;
        std::fs::write(root.join("pdf-file-printer.ppd"), PPD)?;
        let child = Command::new("/usr/sbin/cupsd")
            .arg("-f")
            .arg("-c")
            .arg(root.join("etc/cupsd.conf"))
            .arg("-s")
            .arg(root.join("etc/cups-files.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cupsd (Debian package cups-daemon): {e}"))
            })?;
        std::fs::write(root.join(PID_FILE), child.id().to_string())?;
        let cups = CupsSimulator {
            child: Mutex::new(Some(child)),
            root: root.to_owned(),
            host,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(&cups.host).is_err() {
            if start.elapsed() > Duration::from_secs(20) || cups.exited() {
                let log = std::fs::read_to_string(root.join("log/error_log")).unwrap_or_default();
                return Err(io::Error::other(format!("cupsd never listened: {log}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(cups)
    }

    /// The scheduler's URL.
    pub fn server(&self) -> String {
        format!("http://{}", self.host)
    }

    /// Runs a CUPS administration tool (`lpadmin`, `cupsdisable` …) against this scheduler.
    pub fn admin(&self, tool: &str, args: &[&str]) -> io::Result<()> {
        let out = Command::new(tool)
            .arg("-h")
            .arg(&self.host)
            .args(args)
            .output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{tool} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Adds queue `name` printing to the file `output`, with the policy a kiosk queue is set
    /// up with (a job that fails is aborted, not left to stop the queue) and `options`.
    pub fn add_queue(&self, name: &str, output: &Path, options: &[&str]) -> io::Result<()> {
        let uri = format!("file://{}", output.display());
        let ppd = self.root.join("pdf-file-printer.ppd");
        let ppd = ppd.to_string_lossy();
        let mut args = vec!["-p", name, "-E", "-v", &uri, "-P", &ppd];
        args.extend(["-o", "printer-error-policy=abort-job"]);
        for option in options {
            args.extend(["-o", option]);
        }
        self.admin("lpadmin", &args)
    }

    /// Stops the queue as a printer does when its paper runs out or a tray is removed
    /// (`reason` is what CUPS reports), or starts it again (`None`).
    pub fn set_stopped(&self, queue: &str, reason: Option<&str>) -> io::Result<()> {
        match reason {
            Some(r) => self.admin("cupsdisable", &["-r", r, queue]),
            None => self.admin("cupsenable", &[queue]),
        }
    }

    /// A file in this scheduler's output directory (writable by CUPS's filters).
    pub fn out(&self, name: &str) -> PathBuf {
        self.root.join("out").join(name)
    }

    /// The driver's configuration for `queue` here, polling often (a simulation answers fast).
    pub fn config(&self, queue: &str) -> A4Config {
        let mut config = A4Config::new(queue);
        config.server = self.server();
        config.poll_interval = Duration::from_millis(100);
        config.status_interval = Duration::from_millis(200);
        config.job_timeout = Duration::from_secs(30);
        config
    }

    fn exited(&self) -> bool {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Stops the scheduler (a kiosk that exits stops its simulated printer).
    pub fn stop(&self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut c) = child.take() {
            let _ = c.kill();
            let _ = c.wait();
            let _ = std::fs::remove_file(self.root.join(PID_FILE));
        }
    }
}

impl Drop for CupsSimulator {
    fn drop(&mut self) {
        self.stop();
    }
}
