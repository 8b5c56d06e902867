//! The printer driver against the simulated printer over a real PTY, attached as a serial line
//! and as a USB printer-class character device: what a user of the printer trait sees, for the
//! normal flows and the fault matrix.

use device_model::{ActionHint, Device, DeviceFault, DeviceState, Status};
use receipt_printer::interp::Mechanics;
use receipt_printer::raster::FontRasterizer;
use receipt_printer::sim::PrinterSimulator;
use receipt_printer::status::Paper;
use receipt_printer::template::ApplicationReceipt;
use receipt_printer::{
    EscPosPrinter, PrinterConfig, PrinterError, PrinterEvent, PrinterStatus, Profile, Receipt,
    ReceiptOutcome, ReceiptPrinter,
};
use serial_link::host::Attachment;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(10);

struct Rig {
    dir: tempfile::TempDir,
    sim: PrinterSimulator,
    printer: EscPosPrinter,
    events: broadcast::Receiver<PrinterEvent>,
    status: watch::Receiver<Status<PrinterStatus>>,
}

fn rig(profile: Profile, attachment: Attachment, tweak: impl FnOnce(&mut PrinterConfig)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("printer");
    let fonts = Arc::new(FontRasterizer::noto_cjk().expect("fonts-noto-cjk installed"));
    let sim =
        PrinterSimulator::start(&link, 115_200, &dir.path().join("out"), fonts.clone()).unwrap();
    let mut config = PrinterConfig::new(&link, attachment, profile, fonts);
    config.print_time = Duration::from_millis(300);
    config.take_timeout = Duration::from_millis(600);
    config.poll_interval = Duration::from_millis(50);
    config.reconnect_interval = Duration::from_millis(50);
    tweak(&mut config);
    let printer = EscPosPrinter::open(config).unwrap();
    let events = printer.events();
    let status = printer.status();
    Rig {
        dir,
        sim,
        printer,
        events,
        status,
    }
}

const SERIAL: Attachment = Attachment::Serial { baud: 115_200 };

fn receipt() -> Receipt {
    ApplicationReceipt::specimen().layout(48)
}

fn go() -> CancellationToken {
    CancellationToken::new()
}

impl Rig {
    async fn print(&self) -> Result<ReceiptOutcome, PrinterError> {
        self.printer.print(receipt(), go()).await
    }

    fn events_so_far(&mut self) -> Vec<PrinterEvent> {
        std::iter::from_fn(|| self.events.try_recv().ok()).collect()
    }

    async fn wait_status(
        &mut self,
        what: &str,
        want: impl Fn(&Status<PrinterStatus>) -> bool,
    ) -> Status<PrinterStatus> {
        device_model::wait_for_status(&mut self.status, PATIENCE, want)
            .await
            .unwrap_or_else(|last| panic!("status never became {what}: last {last:?}"))
    }

    fn receipts_filed(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("out"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "png")
            })
            .count()
    }
}

async fn prints_a_whole_receipt(attachment: Attachment) {
    let mut rig = rig(Profile::EPSON_GENERIC, attachment, |_| {});
    assert_eq!(rig.print().await, Ok(ReceiptOutcome::Printed));
    assert_eq!(rig.sim.printed(), 1);
    assert_eq!(rig.receipts_filed(), 1);
    let status = rig
        .wait_status("online", |s| s.device == DeviceState::Online)
        .await;
    assert_eq!(status.class.condition.unwrap().paper, Paper::Ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_serial_printer_prints_the_receipt() {
    prints_a_whole_receipt(SERIAL).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_usb_printer_class_device_prints_the_receipt() {
    // The PTY opened as a plain character device: no line settings, reads by poll, as
    // /dev/usb/lpN.
    prints_a_whole_receipt(Attachment::CharDevice).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_condition_refuses_the_job_with_who_must_act() {
    let rig = rig(Profile::EPSON_GENERIC, SERIAL, |_| {});
    let cases = [
        (
            Mechanics {
                paper: Paper::Out,
                ..Mechanics::default()
            },
            DeviceState::HardwareError,
            ActionHint::Staff,
        ),
        (
            Mechanics {
                cover_open: true,
                ..Mechanics::default()
            },
            DeviceState::UserError,
            ActionHint::Staff,
        ),
        (
            Mechanics {
                cutter_error: true,
                ..Mechanics::default()
            },
            DeviceState::HardwareError,
            ActionHint::Engineer,
        ),
    ];
    for (mechanics, state, action) in cases {
        rig.sim.set_mechanics(mechanics);
        match rig.print().await {
            Err(e @ PrinterError::NotReady(_)) => assert_eq!(e.action(), action, "{mechanics:?}"),
            other => panic!("{mechanics:?}: {other:?}"),
        }
        let status = rig.printer.status().borrow().clone();
        assert_eq!(status.device, state, "{mechanics:?}");
        assert_eq!(status.fault.unwrap().action, action);
    }
    assert_eq!(rig.sim.printed(), 0, "nothing printed");

    // Paper low still prints, and says so.
    rig.sim.set_mechanics(Mechanics {
        paper: Paper::Low,
        ..Mechanics::default()
    });
    assert_eq!(rig.print().await, Ok(ReceiptOutcome::Printed));
    let status = rig.printer.status().borrow().clone();
    assert_eq!(status.device, DeviceState::Online);
    assert_eq!(status.class.condition.unwrap().paper, Paper::Low);
}

#[tokio::test(flavor = "multi_thread")]
async fn paper_running_out_mid_receipt_fails_the_job() {
    let mut rig = rig(Profile::EPSON_GENERIC, SERIAL, |_| {});
    rig.sim.set_mechanics(Mechanics {
        paper_left: Some(300),
        ..Mechanics::default()
    });
    let error = rig.print().await.unwrap_err();
    assert!(matches!(error, PrinterError::Stopped(_)), "{error:?}");
    assert_eq!(error.action(), ActionHint::Staff);
    assert_eq!(rig.sim.printed(), 0, "no receipt was cut");
    rig.wait_status("paper out", |s| s.device == DeviceState::HardwareError)
        .await;

    // Refilled: the status recovers by itself and the next receipt prints.
    rig.sim.set_mechanics(Mechanics::default());
    rig.wait_status("online", |s| s.device == DeviceState::Online)
        .await;
    assert_eq!(rig.print().await, Ok(ReceiptOutcome::Printed));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_not_taken_is_retracted_and_a_taken_one_is_not() {
    let mut rig = rig(Profile::CUSTOM_KIOSK, SERIAL, |_| {});
    assert_eq!(rig.print().await, Ok(ReceiptOutcome::Retracted));
    assert!(!rig.sim.receipt_waiting(), "pulled back in");
    assert_eq!(
        rig.events_so_far(),
        [
            PrinterEvent::ReceiptPresented,
            PrinterEvent::ReceiptRetracted
        ]
    );
    assert!(!rig.printer.status().borrow().class.receipt_waiting);

    rig.sim.set_take_after(Some(Duration::from_millis(100)));
    assert_eq!(rig.print().await, Ok(ReceiptOutcome::Taken));
    assert_eq!(
        rig.events_so_far(),
        [PrinterEvent::ReceiptPresented, PrinterEvent::ReceiptTaken]
    );
    assert_eq!(rig.sim.printed(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_waiting_when_the_session_ends_is_retracted() {
    let mut rig = rig(Profile::CUSTOM_KIOSK, SERIAL, |c| {
        c.take_timeout = Duration::from_secs(30);
    });
    // The session ends (the citizen walked away) while the receipt waits.
    let cancel = go();
    let mut status = rig.printer.status();
    let walk_away = async {
        device_model::wait_for_status(&mut status, PATIENCE, |s| s.class.receipt_waiting)
            .await
            .expect("the receipt is presented");
        assert!(rig.sim.receipt_waiting());
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(rig.printer.print(receipt(), cancel.clone()), walk_away);
    assert_eq!(result, Err(PrinterError::Canceled));
    assert!(!rig.sim.receipt_waiting(), "retracted when canceled");
    assert_eq!(
        rig.events_so_far(),
        [
            PrinterEvent::ReceiptPresented,
            PrinterEvent::ReceiptRetracted
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_citizen_style_presenter_is_told_to_retract_after_the_timeout() {
    let rig = rig(Profile::CITIZEN_KIOSK, SERIAL, |_| {});
    assert_eq!(rig.print().await, Ok(ReceiptOutcome::Printed));
    // Nothing to ask a Citizen presenter: watch the simulator take the command.
    let start = std::time::Instant::now();
    while rig.sim.receipt_waiting() {
        assert!(start.elapsed() < PATIENCE, "never retracted");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unplugged_printer_is_no_device_until_it_comes_back() {
    let mut rig = rig(Profile::EPSON_GENERIC, SERIAL, |_| {});
    rig.wait_status("online", |s| s.device == DeviceState::Online)
        .await;
    rig.sim.unplug();
    let status = rig
        .wait_status("no device", |s| s.device == DeviceState::NoDevice)
        .await;
    assert_eq!(status.fault.unwrap().action, ActionHint::Staff);
    assert!(matches!(rig.print().await, Err(PrinterError::NoDevice(_))));
    rig.sim.replug();
    rig.wait_status("online", |s| s.device == DeviceState::Online)
        .await;
    assert_eq!(rig.print().await, Ok(ReceiptOutcome::Printed));
    assert_eq!(rig.sim.printed(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_left_in_the_presenter_is_retracted_before_the_next_prints() {
    let mut rig = rig(Profile::CUSTOM_KIOSK, SERIAL, |_| {});
    rig.sim.hold_receipt();
    rig.sim.set_take_after(Some(Duration::from_millis(100)));
    assert_eq!(rig.print().await, Ok(ReceiptOutcome::Taken));
    assert_eq!(
        rig.events_so_far(),
        [
            PrinterEvent::ReceiptRetracted,
            PrinterEvent::ReceiptPresented,
            PrinterEvent::ReceiptTaken
        ]
    );
}
