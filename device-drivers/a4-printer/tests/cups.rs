//! A4 printing through a real CUPS: a private `cupsd` started for each test, with a queue whose
//! PDF goes through CUPS's own `pdftopdf` filter to a file (`FileDevice`), and the text of the
//! PDF that comes out read back with poppler's `pdftotext`.

mod common;

use a4_printer::cups::{CupsQueue, JobState};
use a4_printer::sim::CupsSimulator;
use a4_printer::{A4Config, A4Error, A4Event, A4Printer, Fonts};
use device_model::{ActionHint, Device, DeviceState};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A private CUPS scheduler for one test, in a directory removed with it.
struct Cupsd {
    sim: CupsSimulator,
    _dir: tempfile::TempDir,
}

impl Cupsd {
    fn start() -> Cupsd {
        let dir = tempfile::tempdir().unwrap();
        Cupsd {
            sim: CupsSimulator::start(dir.path()).unwrap(),
            _dir: dir,
        }
    }

    fn add_queue(&self, name: &str, output: &Path, options: &[&str]) {
        self.sim.add_queue(name, output, options).unwrap();
    }
}

impl std::ops::Deref for Cupsd {
    type Target = CupsSimulator;
    fn deref(&self) -> &CupsSimulator {
        &self.sim
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
    cups.set_stopped("kiosk-a4", Some("tray removed")).unwrap();
    let printer = A4Printer::start(cups.config("kiosk-a4"), fonts()).unwrap();

    let error = printer.print(&common::sample(), go()).await.unwrap_err();
    let A4Error::NotReady(fault) = &error else {
        panic!("{error:?}")
    };
    assert!(fault.message.contains("tray removed"), "{fault:?}");
    assert_eq!(fault.action, ActionHint::Engineer);
    assert_eq!(printer.status().borrow().device, DeviceState::Offline);
    assert!(!output.exists(), "nothing printed");

    cups.set_stopped("kiosk-a4", None).unwrap();
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
