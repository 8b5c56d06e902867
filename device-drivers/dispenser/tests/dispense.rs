//! The dispenser driver against the simulated dispenser over a real PTY: what a user of the
//! dispenser trait sees, for the normal flows and the faults.

use device_model::{ActionHint, Device, DeviceState, ErrorCode, Status};
use dispenser::sim::{DispenserSimulator, SimConfig};
use dispenser::{
    CardDispenser, Channel, DispenserConfig, DispenserError, DispenserEvent, DispenserStatus,
    Outcome, SerialCardDispenser, Stacker,
};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(10);

struct Rig {
    dir: tempfile::TempDir,
    link: PathBuf,
    sim: DispenserSimulator,
    dispenser: SerialCardDispenser,
    events: broadcast::Receiver<DispenserEvent>,
    status: watch::Receiver<Status<DispenserStatus>>,
}

fn rig(sim: SimConfig, tweak: impl FnOnce(&mut DispenserConfig)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("dispenser");
    let baud = sim.baud;
    let sim = DispenserSimulator::start(&link, sim).unwrap();
    let mut config = DispenserConfig::new(&link);
    config.baud = baud;
    config.poll_interval = Duration::from_millis(50);
    config.reconnect_interval = Duration::from_millis(50);
    config.command_timeout = Duration::from_secs(2);
    config.counts_file = Some(dir.path().join("counts.json"));
    tweak(&mut config);
    let dispenser = SerialCardDispenser::open(config).unwrap();
    let events = dispenser.events();
    let status = dispenser.status();
    Rig {
        dir,
        link,
        sim,
        dispenser,
        events,
        status,
    }
}

fn go() -> CancellationToken {
    CancellationToken::new()
}

impl Rig {
    async fn event(&mut self) -> DispenserEvent {
        tokio::time::timeout(PATIENCE, self.events.recv())
            .await
            .expect("an event")
            .expect("event channel open")
    }

    async fn wait_status(
        &mut self,
        what: &str,
        want: impl Fn(&Status<DispenserStatus>) -> bool,
    ) -> Status<DispenserStatus> {
        device_model::wait_for_status(&mut self.status, PATIENCE, want)
            .await
            .unwrap_or_else(|last| panic!("status never became {what}: last {last:?}"))
    }
}

#[tokio::test]
async fn a_card_taken_by_the_citizen_is_counted_as_dispensed() {
    let mut rig = rig(SimConfig::default(), |_| {});
    rig.sim.set_take_after(Some(Duration::from_millis(300)));
    let outcome = rig.dispenser.dispense(Duration::from_secs(5), go()).await;
    assert_eq!(outcome, Ok(Outcome::Taken));
    assert_eq!(rig.event().await, DispenserEvent::CardPresented);
    assert_eq!(rig.event().await, DispenserEvent::CardTaken);
    let contents = rig.sim.contents();
    assert_eq!((contents.stacker, contents.reject_bin), (99, 0));
    assert_eq!(contents.channel, Channel::Empty);
    let status = rig
        .wait_status("counted", |s| s.class.counts.dispensed == 1)
        .await;
    assert_eq!(status.class.counts.retained, 0);
    // Through the RF position to the gate.
    let moves: Vec<_> = rig
        .sim
        .commands()
        .into_iter()
        .filter(|c| c.0 == 0x32)
        .collect();
    assert_eq!(moves, [(0x32, 0x32), (0x32, 0x39)]);
}

#[tokio::test]
async fn a_card_not_taken_in_time_is_captured_into_the_reject_bin() {
    let mut rig = rig(SimConfig::default(), |_| {});
    let outcome = rig
        .dispenser
        .dispense(Duration::from_millis(400), go())
        .await;
    assert_eq!(outcome, Ok(Outcome::Retained));
    assert_eq!(rig.event().await, DispenserEvent::CardPresented);
    assert_eq!(rig.event().await, DispenserEvent::CardRetained);
    let contents = rig.sim.contents();
    assert_eq!((contents.stacker, contents.reject_bin), (99, 1));
    assert_eq!(contents.channel, Channel::Empty, "nothing left in the gate");
    rig.wait_status("counted", |s| s.class.counts.retained == 1)
        .await;
}

#[tokio::test]
async fn counts_survive_a_restart_of_the_driver() {
    let rig1 = rig(SimConfig::default(), |_| {});
    rig1.sim.set_take_after(Some(Duration::ZERO));
    assert_eq!(
        rig1.dispenser.dispense(Duration::from_secs(5), go()).await,
        Ok(Outcome::Taken)
    );
    rig1.sim.set_take_after(None);
    assert_eq!(
        rig1.dispenser
            .dispense(Duration::from_millis(200), go())
            .await,
        Ok(Outcome::Retained)
    );
    let counts_file = rig1.dir.path().join("counts.json");
    drop(rig1.dispenser);
    let again = SerialCardDispenser::open({
        let mut c = DispenserConfig::new(&rig1.link);
        c.counts_file = Some(counts_file.clone());
        c
    })
    .unwrap();
    let counts = again.status().borrow().class.counts;
    assert_eq!((counts.dispensed, counts.retained), (1, 1));

    // A damaged counts file stops the driver rather than starting again from zero.
    std::fs::write(&counts_file, "{").unwrap();
    let mut c = DispenserConfig::new(&rig1.link);
    c.counts_file = Some(counts_file);
    assert!(SerialCardDispenser::open(c).is_err());
}

#[tokio::test]
async fn the_enq_handshake_works_when_both_sides_use_it() {
    let strict = SimConfig {
        require_enq: true,
        ..SimConfig::default()
    };
    let rig_ok = rig(strict.clone(), |c| c.send_enq = true);
    rig_ok.sim.set_take_after(Some(Duration::ZERO));
    assert_eq!(
        rig_ok
            .dispenser
            .dispense(Duration::from_secs(5), go())
            .await,
        Ok(Outcome::Taken)
    );

    // A lenient dispenser ignores the ENQ of a host that sends one.
    let rig_lenient = rig(SimConfig::default(), |c| c.send_enq = true);
    assert!(rig_lenient.dispenser.sensors(go()).await.is_ok());

    // A strict dispenser never answers a host that does not send ENQ.
    let rig_bad = rig(strict, |c| {
        c.send_enq = false;
        c.command_timeout = Duration::from_millis(300);
    });
    let err = rig_bad.dispenser.sensors(go()).await.unwrap_err();
    assert_eq!(
        err,
        DispenserError::Timeout {
            command: "status",
            phase: "reply"
        }
    );
}

#[tokio::test]
async fn a_jam_is_a_hardware_error_for_staff_with_either_negative_marker() {
    for marker in [b'E', b'N'] {
        let mut rig = rig(
            SimConfig {
                negative_marker: marker,
                ..SimConfig::default()
            },
            |_| {},
        );
        rig.sim.set_jammed(true);
        let err = rig
            .dispenser
            .dispense(Duration::from_secs(1), go())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("card jam"), "{err}");
        let status = rig
            .wait_status("jammed", |s| s.device == DeviceState::HardwareError)
            .await;
        let fault = status.fault.unwrap();
        assert_eq!(
            (fault.code, fault.action),
            (ErrorCode::HardwareError, ActionHint::Staff)
        );
        rig.sim.set_jammed(false);
        rig.wait_status("online", |s| s.device == DeviceState::Online)
            .await;
    }
}

#[tokio::test]
async fn an_empty_stacker_or_a_full_reject_bin_refuses_before_moving_anything() {
    let mut rig = rig(
        SimConfig {
            cards: 2,
            low_at: 2,
            reject_capacity: 1,
            ..SimConfig::default()
        },
        |_| {},
    );
    let status = rig
        .wait_status("low", |s| {
            s.class.sensors.is_some_and(|x| x.stacker == Stacker::Low)
        })
        .await;
    assert_eq!(status.class.attention(), Some(ActionHint::Staff));

    // One card not taken fills the bin: no more dispensing until staff empty it.
    assert_eq!(
        rig.dispenser
            .dispense(Duration::from_millis(100), go())
            .await,
        Ok(Outcome::Retained)
    );
    assert_eq!(
        rig.dispenser
            .dispense(Duration::from_millis(100), go())
            .await,
        Err(DispenserError::RejectBinFull)
    );
    assert_eq!(rig.sim.contents().stacker, 1, "nothing moved");
    rig.sim.empty_reject_bin();

    rig.sim.refill(0);
    let err = rig
        .dispenser
        .dispense(Duration::from_millis(100), go())
        .await
        .unwrap_err();
    assert_eq!(err, DispenserError::StackerEmpty);
    use device_model::DeviceFault;
    assert_eq!(err.action(), ActionHint::Staff);
    let status = rig
        .wait_status("empty", |s| {
            s.class.sensors.is_some_and(|x| x.stacker == Stacker::Empty)
        })
        .await;
    assert_eq!(status.class.attention(), Some(ActionHint::Staff));
}

#[tokio::test]
async fn a_corrupt_reply_is_asked_for_again() {
    let rig = rig(SimConfig::default(), |_| {});
    rig.sim.corrupt_replies(1);
    let sensors = rig.dispenser.sensors(go()).await.unwrap();
    assert_eq!(sensors.channel, Channel::Empty);
    rig.sim.corrupt_replies(5);
    let err = rig.dispenser.sensors(go()).await.unwrap_err();
    assert_eq!(err, DispenserError::Checksum { command: "status" });
}

/// A writer that records what it wrote, or fails.
struct Writer {
    written: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    fail: bool,
}

impl dispenser::CardWriter for Writer {
    fn write(&mut self, reference: &str) -> Result<(), String> {
        if self.fail {
            return Err("no card answers at the RF position".into());
        }
        self.written.lock().unwrap().push(reference.to_owned());
        Ok(())
    }
}

#[tokio::test]
async fn a_certificate_is_written_at_the_rf_position_and_an_unwritten_card_never_handed_out() {
    use dispenser::codes::{Command, Position};
    let mut rig = rig(SimConfig::default(), |_| {});
    rig.sim.set_take_after(Some(Duration::from_millis(100)));
    let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let certificate = |fail| dispenser::Certificate {
        reference: "CERT-2026-004271".into(),
        writer: Box::new(Writer {
            written: written.clone(),
            fail,
        }),
    };
    assert_eq!(
        rig.dispenser
            .issue(certificate(false), Duration::from_secs(5), go())
            .await,
        Ok(Outcome::Taken)
    );
    assert_eq!(*written.lock().unwrap(), ["CERT-2026-004271"]);
    let moves: Vec<_> = rig
        .sim
        .commands()
        .into_iter()
        .filter_map(|(cm, pm)| match Command::from_code(cm, pm) {
            Some(Command::Move(p)) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(moves, [Position::Rf, Position::Gate]);
    assert_eq!(rig.event().await, DispenserEvent::CardPresented);
    assert_eq!(rig.event().await, DispenserEvent::CardTaken);

    let error = rig
        .dispenser
        .issue(certificate(true), Duration::from_secs(5), go())
        .await
        .unwrap_err();
    assert!(matches!(error, DispenserError::NotWritten(_)), "{error:?}");
    assert_eq!(rig.event().await, DispenserEvent::CardRetained);
    let contents = rig.sim.contents();
    assert_eq!((contents.reject_bin, contents.channel), (1, Channel::Empty));
}

#[tokio::test]
async fn late_replies_to_earlier_commands_are_not_taken_for_answers() {
    let mut rig = rig(SimConfig::default(), |_| {});
    rig.sim.set_take_after(Some(Duration::from_millis(100)));
    // A jam reported for an earlier move to the gate, arriving while the card moves to the RF
    // position.
    let (cm, pm) = dispenser::codes::Command::Move(dispenser::codes::Position::Gate).code();
    rig.sim
        .send_late_reply(dispenser::frame::ReplyFrame::Negative {
            addr: 0,
            cm,
            pm,
            error: *b"10",
            marker: b'E',
            data: Vec::new(),
        });
    assert_eq!(
        rig.dispenser.dispense(Duration::from_secs(5), go()).await,
        Ok(Outcome::Taken)
    );
    assert_eq!(rig.event().await, DispenserEvent::CardPresented);
    assert_eq!(rig.event().await, DispenserEvent::CardTaken);
    let contents = rig.sim.contents();
    assert_eq!((contents.reject_bin, contents.stacker), (0, 99));
}

#[tokio::test]
async fn a_card_left_in_the_channel_is_captured_not_handed_out() {
    let mut rig = rig(SimConfig::default(), |_| {});
    // As an interrupted dispense (a power cut in the middle) would leave it.
    rig.sim.leave_card_at_gate();
    assert_eq!(
        rig.dispenser.initialise(go()).await.unwrap().channel,
        Channel::Empty
    );
    assert_eq!(rig.event().await, DispenserEvent::CardRetained);
    assert_eq!(rig.sim.contents().reject_bin, 1);

    // A dispense that finds a card in the channel captures it before handing out a new one.
    rig.sim.leave_card_at_gate();
    rig.sim.set_take_after(Some(Duration::ZERO));
    assert_eq!(
        rig.dispenser.dispense(Duration::from_secs(5), go()).await,
        Ok(Outcome::Taken)
    );
    assert_eq!(rig.event().await, DispenserEvent::CardRetained);
    assert_eq!(rig.event().await, DispenserEvent::CardPresented);
    assert_eq!(rig.event().await, DispenserEvent::CardTaken);
    let counts = rig
        .wait_status("counted", |s| s.class.counts.dispensed == 1)
        .await
        .class
        .counts;
    assert_eq!(counts.retained, 2);
    assert_eq!(rig.sim.contents().reject_bin, 2);
}

#[tokio::test]
async fn canceled_while_the_card_waits_it_is_captured_then_canceled() {
    let mut rig = rig(SimConfig::default(), |_| {});
    let cancel = CancellationToken::new();
    let dispense = rig
        .dispenser
        .dispense(Duration::from_secs(30), cancel.clone());
    let canceller = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(dispense, canceller);
    assert_eq!(result, Err(DispenserError::Canceled));
    assert_eq!(rig.event().await, DispenserEvent::CardPresented);
    assert_eq!(rig.event().await, DispenserEvent::CardRetained);
    assert_eq!(rig.sim.contents().channel, Channel::Empty);
    assert_eq!(rig.sim.contents().reject_bin, 1);
}

#[tokio::test]
async fn unplugged_it_is_no_device_and_comes_back_by_itself() {
    let mut rig = rig(SimConfig::default(), |_| {});
    rig.wait_status("online", |s| s.device == DeviceState::Online)
        .await;
    rig.sim.unplug();
    let status = rig
        .wait_status("no device", |s| s.device == DeviceState::NoDevice)
        .await;
    assert_eq!(status.fault.unwrap().action, ActionHint::Staff);
    let err = rig.dispenser.sensors(go()).await.unwrap_err();
    assert!(err.to_string().starts_with("port error:"), "{err}");
    rig.sim.replug();
    rig.wait_status("online", |s| s.device == DeviceState::Online)
        .await;
    assert!(rig.dispenser.sensors(go()).await.is_ok());
}

#[tokio::test]
async fn a_silent_dispenser_goes_offline() {
    let mut rig = rig(SimConfig::default(), |c| {
        c.ack_timeout = Duration::from_millis(200)
    });
    rig.wait_status("online", |s| s.device == DeviceState::Online)
        .await;
    rig.sim.set_silent(true);
    let status = rig
        .wait_status("offline", |s| s.device == DeviceState::Offline)
        .await;
    assert_eq!(status.fault.unwrap().code, ErrorCode::Timeout);
    rig.sim.set_silent(false);
    rig.wait_status("online", |s| s.device == DeviceState::Online)
        .await;
}
