//! A4 printing through a real CUPS: a private `cupsd` started for each test, with a queue whose
//! PDF goes through CUPS's own `pdftopdf` filter to a file (`FileDevice`), and the text of the
//! PDF that comes out read back with poppler's `pdftotext`.

mod common;

use a4_printer::cups::{CupsQueue, JobState};
use a4_printer::{A4Config, A4Error, A4Event, A4Printer, Fonts};
use device_model::{ActionHint, Device, DeviceState};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PPD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/pdf-file-printer.ppd"
);

/// A private CUPS scheduler on a free port, stopped when dropped.
struct Cupsd {
    child: Child,
    dir: tempfile::TempDir,
    host: String,
}

impl Cupsd {
    fn start() -> Cupsd {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Filters run as the `lp` user and must reach the spool.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["etc", "spool", "tmp", "cache", "state", "log", "out"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        std::fs::write(
            root.join("etc/cupsd.conf"),
            format!(
                "Listen {host}\nLogLevel info\nBrowsing No\nWebInterface No\n\
                 DefaultAuthType None\n<Location />\n  Order allow,deny\n  Allow all\n</Location>\n\
                 <Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
            ),
        )
        .unwrap();
        let r = root.display();
        std::fs::write(
            root.join("etc/cups-files.conf"),
            format!(
                "ServerRoot {r}/etc\nRequestRoot {r}/spool\nTempDir {r}/tmp\nCacheDir {r}/cache\n\
                 StateDir {r}/state\nErrorLog {r}/log/error_log\nAccessLog {r}/log/access_log\n\
                 PageLog {r}/log/page_log\nPrintcap {r}/printcap\nFileDevice Yes\n"
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/cupsd")
            .arg("-f")
            .arg("-c")
            .arg(root.join("etc/cupsd.conf"))
            .arg("-s")
            .arg(root.join("etc/cups-files.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cupsd (Debian package cups-daemon)");
        let start = Instant::now();
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "cupsd never listened: {}",
                std::fs::read_to_string(root.join("log/error_log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Cupsd { child, dir, host }
    }

    fn server(&self) -> String {
        format!("http://{}", self.host)
    }

    /// Runs a CUPS administration tool against this scheduler.
    fn admin(&self, tool: &str, args: &[&str]) {
        let out = Command::new(tool)
            .arg("-h")
            .arg(&self.host)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{tool} {args:?}: {out:?}");
    }

    /// Adds queue `name` printing to the file `device`; jobs that fail are aborted, not left
    /// to stop the queue (the policy a kiosk queue is set up with).
    fn add_queue(&self, name: &str, device: &Path, options: &[&str]) {
        let uri = format!("file://{}", device.display());
        let mut args = vec!["-p", name, "-E", "-v", &uri, "-P", PPD];
        args.extend(["-o", "printer-error-policy=abort-job"]);
        for option in options {
            args.extend(["-o", option]);
        }
        self.admin("lpadmin", &args);
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("out").join(name)
    }

    fn config(&self, queue: &str) -> A4Config {
        let mut config = A4Config::new(queue);
        config.server = self.server();
        config.poll_interval = Duration::from_millis(100);
        config.status_interval = Duration::from_millis(200);
        config.job_timeout = Duration::from_secs(30);
        config
    }
}

impl Drop for Cupsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fonts() -> Arc<Fonts> {
    Arc::new(Fonts::noto_cjk().expect("fonts-noto-cjk installed"))
}

fn go() -> CancellationToken {
    CancellationToken::new()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chinese_document_printed_through_cups_comes_out_with_its_text() {
    let cups = Cupsd::start();
    let output = cups.out("kiosk-a4.pdf");
    cups.add_queue("kiosk-a4", &output, &[]);
    let printer = A4Printer::start(cups.config("kiosk-a4"), fonts()).unwrap();
    let mut events = printer.events();

    let job = printer.print(&common::sample(), go()).await.unwrap();
    assert_eq!(events.recv().await.unwrap(), A4Event::JobQueued(job));
    assert_eq!(events.recv().await.unwrap(), A4Event::JobCompleted(job));
    assert_eq!(printer.status().borrow().device, DeviceState::Online);

    let text = common::tool("pdftotext", &["-layout", output.to_str().unwrap(), "-"]);
    for expected in [
        "办理结果通知书 Result Notice",
        "𠮷秀英",
        "城乡居民医保参保登记",
        "第 3 页 / 共 3 页",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_queue_is_refused_before_anything_is_sent() {
    let cups = Cupsd::start();
    let output = cups.out("kiosk-a4.pdf");
    cups.add_queue("kiosk-a4", &output, &[]);
    cups.admin("cupsdisable", &["-r", "tray removed", "kiosk-a4"]);
    let printer = A4Printer::start(cups.config("kiosk-a4"), fonts()).unwrap();

    let error = printer.print(&common::sample(), go()).await.unwrap_err();
    let A4Error::NotReady(fault) = &error else {
        panic!("{error:?}")
    };
    assert!(fault.message.contains("tray removed"), "{fault:?}");
    assert_eq!(fault.action, ActionHint::Engineer);
    assert_eq!(printer.status().borrow().device, DeviceState::Offline);
    assert!(!output.exists(), "nothing printed");

    cups.admin("cupsenable", &["kiosk-a4"]);
    printer.print(&common::sample(), go()).await.unwrap();
    assert!(output.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_the_device_cannot_take_fails_and_is_not_left_queued() {
    let cups = Cupsd::start();
    cups.add_queue("kiosk-a4", Path::new("/nonexistent/dir/out.pdf"), &[]);
    let printer = A4Printer::start(cups.config("kiosk-a4"), fonts()).unwrap();
    let mut events = printer.events();

    let error = printer.print(&common::sample(), go()).await.unwrap_err();
    let job = match error {
        A4Error::JobFailed { job, state, .. } => {
            assert_eq!(state, JobState::Aborted);
            job
        }
        A4Error::Stopped { job, .. } => job,
        other => panic!("{other:?}"),
    };
    assert_eq!(events.recv().await.unwrap(), A4Event::JobQueued(job));
    assert_eq!(events.recv().await.unwrap(), A4Event::JobFailed(job));
    let queue =
        CupsQueue::new(&cups.server(), "kiosk-a4", "kiosk", Duration::from_secs(5)).unwrap();
    assert!(queue.job(job).await.unwrap().state.is_final());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_never_starts_is_canceled_when_the_citizen_cannot_wait_longer() {
    let cups = Cupsd::start();
    let output = cups.out("kiosk-a4.pdf");
    cups.add_queue("kiosk-a4", &output, &["job-hold-until-default=indefinite"]);
    let mut config = cups.config("kiosk-a4");
    config.job_timeout = Duration::from_secs(1);
    let printer = A4Printer::start(config, fonts()).unwrap();

    let error = printer.print(&common::sample(), go()).await.unwrap_err();
    let A4Error::TimedOut { job, .. } = error else {
        panic!("{error:?}")
    };
    let queue =
        CupsQueue::new(&cups.server(), "kiosk-a4", "kiosk", Duration::from_secs(5)).unwrap();
    assert_eq!(queue.job(job).await.unwrap().state, JobState::Canceled);
    assert!(!output.exists(), "it never prints for the next person");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_session_ends_is_canceled_in_the_queue() {
    let cups = Cupsd::start();
    let output = cups.out("kiosk-a4.pdf");
    cups.add_queue("kiosk-a4", &output, &["job-hold-until-default=indefinite"]);
    let printer = A4Printer::start(cups.config("kiosk-a4"), fonts()).unwrap();
    let mut events = printer.events();
    let cancel = go();
    let document = common::sample();
    let walk_away = async {
        let A4Event::JobQueued(job) = events.recv().await.unwrap() else {
            panic!("first event is the job queued")
        };
        cancel.cancel();
        job
    };
    let (result, job) = tokio::join!(printer.print(&document, cancel.clone()), walk_away);
    assert_eq!(result, Err(A4Error::Canceled));
    let queue =
        CupsQueue::new(&cups.server(), "kiosk-a4", "kiosk", Duration::from_secs(5)).unwrap();
    assert_eq!(queue.job(job).await.unwrap().state, JobState::Canceled);
    assert!(!output.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn cups_not_running_is_no_device_for_an_engineer() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = A4Config::new("kiosk-a4");
    config.server = format!("http://127.0.0.1:{port}");
    let printer = A4Printer::start(config, fonts()).unwrap();
    let error = printer.print(&common::sample(), go()).await.unwrap_err();
    assert!(matches!(error, A4Error::Cups(_)), "{error:?}");
    let status = printer.status().borrow().clone();
    assert_eq!(status.device, DeviceState::NoDevice);
    assert_eq!(status.fault.unwrap().action, ActionHint::Engineer);
}
