//! The dispenser driver: the CRT-591 protocol over a serial port, on its own thread.
//!
//! Each command is sent, acknowledged (ACK; a NAK makes it send again), optionally followed by
//! ENQ for dispensers that wait for one, answered, and the answer acknowledged. Dispensing moves a
//! card from the stacker through the RF position (where a certificate's reference is written onto
//! it, if one is given) to the gate, waits for the citizen to take it,
//! and takes it back into the reject bin if they do not: a certificate card is never left in the
//! gate of an unattended kiosk. Counts of cards handed out and taken back survive restarts.

use crate::codes::{Channel, Command, DeviceErrorCode, Position, Sensors, Stacker};
use crate::error::DispenserError;
use crate::frame::{ACK, CommandFrame, Decoded, Decoder, ENQ, NAK, ReplyFrame};
use device_model::persist::{load_json, store_json};
use device_model::{
    ActionHint, CommandQueue, Device, DeviceFault, DeviceState, ErrorCode, Silence, Status,
    StatusPublisher, Worker,
};
use serde::{Deserialize, Serialize};
use serial_link::host::{Line, LinkError};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// How the driver talks to one dispenser.
#[derive(Clone, Debug)]
pub struct DispenserConfig {
    /// The serial port's path.
    pub path: PathBuf,
    /// Line speed (the CRT-591 default is 9600).
    pub baud: u32,
    /// Device address, 0–15 (DIP switches).
    pub address: u8,
    /// Send ENQ after the acknowledgement, for dispensers that wait for it.
    pub send_enq: bool,
    /// How long the dispenser may take to acknowledge a command.
    pub ack_timeout: Duration,
    /// How long it may take to carry a command out (card moves are mechanical).
    pub command_timeout: Duration,
    /// Interval of status polls while a card waits at the gate, and between them when idle.
    pub poll_interval: Duration,
    /// Interval between attempts to re-open a vanished port.
    pub reconnect_interval: Duration,
    /// Where the counts are kept across restarts (none: not kept).
    pub counts_file: Option<PathBuf>,
}

impl DispenserConfig {
    /// The defaults for a dispenser at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            baud: 9600,
            address: 0,
            send_enq: false,
            ack_timeout: Duration::from_millis(500),
            command_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(500),
            reconnect_interval: Duration::from_secs(1),
            counts_file: None,
        }
    }
}

/// Cards handed out and taken back, kept across restarts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Cards the citizen took.
    pub dispensed: u64,
    /// Cards captured into the reject bin (not taken, or left in the channel).
    pub retained: u64,
}

/// The dispenser's class status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispenserStatus {
    /// The last sensor reading (none before the first).
    pub sensors: Option<Sensors>,
    /// Cards handed out and taken back.
    pub counts: Counts,
}

impl DispenserStatus {
    /// Who must come, if anyone: staff to refill the stacker or empty the reject bin.
    pub fn attention(&self) -> Option<ActionHint> {
        let s = self.sensors?;
        (s.stacker != Stacker::Ok || s.reject_bin_full).then_some(ActionHint::Staff)
    }
}

/// How a dispense ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The citizen took the card.
    Taken,
    /// The card was not taken in time and was captured into the reject bin.
    Retained,
}

/// What happens at the dispenser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DispenserEvent {
    /// A card waits at the gate.
    CardPresented,
    /// The citizen took it.
    CardTaken,
    /// A card was captured into the reject bin.
    CardRetained,
}

/// Writes a certificate's reference onto the card while it is at the RF position. The antenna
/// there belongs to a contactless reader/writer (the dispenser's own RF module or a separate
/// PC/SC reader), which is not this driver's to speak.
pub trait CardWriter: Send + 'static {
    /// Writes `reference` onto the card in the RF position; the error says why not.
    fn write(&mut self, reference: &str) -> Result<(), String>;
}

/// A certificate to write onto the card before it is handed out.
pub struct Certificate {
    /// What is written: the certificate's reference.
    pub reference: String,
    /// Who writes it.
    pub writer: Box<dyn CardWriter>,
}

/// The card dispenser device class.
pub trait CardDispenser: Device<Class = DispenserStatus, Event = DispenserEvent> {
    /// Reads the sensors now.
    fn sensors(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Sensors, DispenserError>> + Send;
    /// Hands out one card: stacker → RF position → gate, then waits up to `take_timeout` for the
    /// citizen to take it, and captures it otherwise. Canceled while the card waits: captured,
    /// then completes as canceled.
    fn dispense(
        &self,
        take_timeout: Duration,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Outcome, DispenserError>> + Send;
    /// Hands out a certificate card: as [`CardDispenser::dispense`], with `certificate` written
    /// onto the card at the RF position. A card that could not be written is captured into the
    /// reject bin, never handed out.
    fn issue(
        &self,
        certificate: Certificate,
        take_timeout: Duration,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Outcome, DispenserError>> + Send;
    /// Initialises the dispenser, capturing any card left in the channel.
    fn initialise(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Sensors, DispenserError>> + Send;
}

type Job = device_model::Job<DispenserWorker>;

/// A card dispenser on a serial port.
pub struct SerialCardDispenser {
    queue: CommandQueue<Job>,
    status: Arc<StatusPublisher<DispenserStatus>>,
    events: broadcast::Sender<DispenserEvent>,
}

impl SerialCardDispenser {
    /// Starts the driver. The port need not be there yet. Fails if the counts file exists but
    /// cannot be read: counts are never silently reset.
    pub fn open(config: DispenserConfig) -> std::io::Result<Self> {
        let counts = match &config.counts_file {
            Some(path) => load_json(path)?.unwrap_or_default(),
            None => Counts::default(),
        };
        let status = Arc::new(StatusPublisher::new(
            "dispenser",
            DispenserStatus {
                sensors: None,
                counts,
            },
        ));
        let (events, _) = broadcast::channel(16);
        let worker = DispenserWorker {
            line: Line::new(&config.path, config.baud, config.reconnect_interval),
            config,
            decoder: Decoder::default(),
            status: status.clone(),
            events: events.clone(),
            counts,
            silence: Silence::default(),
            never: CancellationToken::new(),
        };
        let queue = CommandQueue::spawn("card-dispenser", worker)?;
        Ok(Self {
            queue,
            status,
            events,
        })
    }
}

impl Device for SerialCardDispenser {
    type Class = DispenserStatus;
    type Event = DispenserEvent;

    fn status(&self) -> watch::Receiver<Status<DispenserStatus>> {
        self.status.subscribe()
    }

    fn events(&self) -> broadcast::Receiver<DispenserEvent> {
        self.events.subscribe()
    }
}

impl CardDispenser for SerialCardDispenser {
    fn sensors(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Sensors, DispenserError>> + Send {
        self.queue.call(cancel, |w, cancel| w.read_sensors(cancel))
    }

    fn dispense(
        &self,
        take_timeout: Duration,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Outcome, DispenserError>> + Send {
        self.queue.call(cancel, move |w, cancel| {
            w.dispense(None, take_timeout, cancel)
        })
    }

    fn issue(
        &self,
        certificate: Certificate,
        take_timeout: Duration,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Outcome, DispenserError>> + Send {
        self.queue.call(cancel, move |w, cancel| {
            w.dispense(Some(certificate), take_timeout, cancel)
        })
    }

    fn initialise(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Sensors, DispenserError>> + Send {
        self.queue.call(cancel, |w, cancel| {
            let before = w.read_sensors(cancel)?;
            w.command(Command::InitialiseCapture, cancel)?;
            if before.channel != Channel::Empty {
                w.count(|c| c.retained += 1)?;
                w.emit(DispenserEvent::CardRetained);
            }
            w.read_sensors(cancel)
        })
    }
}

struct DispenserWorker {
    config: DispenserConfig,
    line: Line,
    decoder: Decoder<ReplyFrame>,
    status: Arc<StatusPublisher<DispenserStatus>>,
    events: broadcast::Sender<DispenserEvent>,
    counts: Counts,
    silence: Silence,
    never: CancellationToken,
}

impl Worker for DispenserWorker {
    type Job = Job;

    fn run(&mut self, job: Job) {
        job(self);
    }

    /// Keeps the status fresh (stacker running low, bin filling, unplugged) between commands.
    fn tick(&mut self) -> Duration {
        if self.line.close_if_vanished() {
            self.link_failed(LinkError::Gone(std::io::ErrorKind::NotFound.into()));
        }
        if self.line.is_open() || self.line.open_due() {
            let never = self.never.clone();
            let _ = self.read_sensors(&never);
        }
        self.config.poll_interval.max(Duration::from_millis(50))
    }
}

/// What arrived while waiting for an acknowledgement or a reply.
enum Heard {
    Ack,
    Nak,
    Reply(ReplyFrame),
    Corrupt,
}

impl DispenserWorker {
    fn dispense(
        &mut self,
        certificate: Option<Certificate>,
        take_timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Outcome, DispenserError> {
        let sensors = self.read_sensors(cancel)?;
        if sensors.reject_bin_full {
            return Err(DispenserError::RejectBinFull);
        }
        if sensors.channel != Channel::Empty {
            // Left over from an interrupted dispense: never handed to the next citizen.
            self.retain(cancel)?;
        }
        if sensors.stacker == Stacker::Empty {
            return Err(DispenserError::StackerEmpty);
        }
        // Through the RF position, where a certificate card can be written, to the gate.
        self.command(Command::Move(Position::Rf), cancel)?;
        if let Some(mut certificate) = certificate
            && let Err(why) = certificate.writer.write(&certificate.reference)
        {
            tracing::warn!(reason = %why, "certificate not written; card captured");
            self.retain(&self.never.clone())?;
            return Err(DispenserError::NotWritten(why));
        }
        self.command(Command::Move(Position::Gate), cancel)?;
        self.emit(DispenserEvent::CardPresented);
        let deadline = Instant::now() + take_timeout;
        loop {
            if self.read_sensors(&self.never.clone())?.channel == Channel::Empty {
                self.count(|c| c.dispensed += 1)?;
                self.emit(DispenserEvent::CardTaken);
                return Ok(Outcome::Taken);
            }
            if cancel.is_cancelled() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(self.config.poll_interval.min(deadline - Instant::now()));
        }
        // Not taken: take it back, whatever the caller does meanwhile.
        let never = self.never.clone();
        let outcome = self.retain(&never)?;
        if cancel.is_cancelled() {
            return Err(DispenserError::Canceled);
        }
        Ok(outcome)
    }

    /// Captures the card in the channel into the reject bin. A card taken at the last moment
    /// (nothing left to capture) counts as taken.
    fn retain(&mut self, cancel: &CancellationToken) -> Result<Outcome, DispenserError> {
        match self.command(Command::Move(Position::RejectBin), cancel) {
            Ok(_) => {
                self.count(|c| c.retained += 1)?;
                self.emit(DispenserEvent::CardRetained);
                Ok(Outcome::Retained)
            }
            Err(e) => {
                if self.read_sensors(cancel)?.channel == Channel::Empty {
                    self.count(|c| c.dispensed += 1)?;
                    self.emit(DispenserEvent::CardTaken);
                    return Ok(Outcome::Taken);
                }
                Err(e)
            }
        }
    }

    fn read_sensors(&mut self, cancel: &CancellationToken) -> Result<Sensors, DispenserError> {
        self.command(Command::Status, cancel)
    }

    /// Carries out `command`; answers the sensors of the positive reply.
    fn command(
        &mut self,
        command: Command,
        cancel: &CancellationToken,
    ) -> Result<Sensors, DispenserError> {
        let result = self
            .exchange(command, cancel)
            .and_then(|reply| match reply {
                ReplyFrame::Positive { status, .. } => {
                    Sensors::parse(status).ok_or(DispenserError::Malformed {
                        command: command.name(),
                    })
                }
                ReplyFrame::Negative { error, .. } => Err(DispenserError::Device {
                    command: command.name(),
                    code: DeviceErrorCode(error),
                }),
            });
        self.observe(&result);
        result
    }

    /// Sends `command` (again on NAK), sends ENQ if configured, takes the reply (asking again
    /// on a corrupt one) and acknowledges it.
    fn exchange(
        &mut self,
        command: Command,
        cancel: &CancellationToken,
    ) -> Result<ReplyFrame, DispenserError> {
        let (cm, pm) = command.code();
        let frame = CommandFrame {
            addr: self.config.address,
            cm,
            pm,
            data: Vec::new(),
        }
        .encode();
        let name = command.name();
        let (ack_timeout, command_timeout, send_enq) = (
            self.config.ack_timeout,
            self.config.command_timeout,
            self.config.send_enq,
        );
        let result = (|| {
            let (port, _) = self.line.open()?;
            let decoder = &mut self.decoder;
            decoder.clear();
            let mut acked = false;
            for _ in 0..3 {
                port.send(&frame)?;
                match port.receive(Instant::now() + ack_timeout, cancel, |b| {
                    hear(decoder, b, cm, pm)
                }) {
                    Ok(Heard::Ack) => {
                        acked = true;
                        break;
                    }
                    // The device may skip the ACK and answer at once.
                    Ok(Heard::Reply(reply)) => {
                        port.write(&[ACK])?;
                        return Ok(Ok(reply));
                    }
                    Ok(Heard::Nak | Heard::Corrupt) => continue,
                    Err(LinkError::Timeout) => {
                        return Ok(Err(DispenserError::Timeout {
                            command: name,
                            phase: "acknowledgement",
                        }));
                    }
                    Err(e) => return Err(e),
                }
            }
            if !acked {
                return Ok(Err(DispenserError::Checksum { command: name }));
            }
            if send_enq {
                port.write(&[ENQ])?;
            }
            for _ in 0..3 {
                match port.receive(Instant::now() + command_timeout, cancel, |b| {
                    hear(decoder, b, cm, pm)
                }) {
                    Ok(Heard::Reply(reply)) => {
                        port.write(&[ACK])?;
                        return Ok(Ok(reply));
                    }
                    Ok(Heard::Corrupt) => port.write(&[NAK])?,
                    Ok(Heard::Ack | Heard::Nak) => {}
                    Err(LinkError::Timeout) => {
                        return Ok(Err(DispenserError::Timeout {
                            command: name,
                            phase: "reply",
                        }));
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(Err(DispenserError::Checksum { command: name }))
        })();
        match result {
            Ok(outcome) => outcome,
            Err(LinkError::Canceled) => Err(DispenserError::Canceled),
            Err(e) => Err(self.link_failed(e)),
        }
    }

    fn link_failed(&mut self, e: LinkError) -> DispenserError {
        self.line.close();
        let where_ = self.line.path().display().to_string();
        let error = match e {
            LinkError::Gone(e) => DispenserError::NoDevice(format!("{where_}: {e}")),
            other => DispenserError::Port(format!("{where_}: {other}")),
        };
        self.observe_error(&error);
        error
    }

    /// Brings the device status in line with a command's outcome.
    fn observe(&mut self, result: &Result<Sensors, DispenserError>) {
        match result {
            Ok(sensors) => {
                self.silence.answered();
                let sensors = *sensors;
                self.status.update(|s| s.class.sensors = Some(sensors));
                self.status.set_state(DeviceState::Online, None);
            }
            Err(e) => self.observe_error(e),
        }
    }

    fn observe_error(&mut self, error: &DispenserError) {
        match error {
            DispenserError::Timeout { .. } => {
                self.silence.timed_out(&self.status, error.to_fault());
            }
            DispenserError::NoDevice(_) | DispenserError::Port(_) => {
                self.status
                    .set_state(DeviceState::NoDevice, Some(error.to_fault()));
            }
            DispenserError::Device { .. } if error.code() == ErrorCode::HardwareError => {
                self.status
                    .set_state(DeviceState::HardwareError, Some(error.to_fault()));
            }
            _ => {}
        }
    }

    /// Changes the counts and saves them before anyone is told.
    fn count(&mut self, change: impl FnOnce(&mut Counts)) -> Result<(), DispenserError> {
        change(&mut self.counts);
        let counts = self.counts;
        self.status.update(|s| s.class.counts = counts);
        if let Some(path) = &self.config.counts_file {
            store_json(path, &counts).map_err(|e| DispenserError::Counts(e.to_string()))?;
        }
        Ok(())
    }

    fn emit(&self, event: DispenserEvent) {
        tracing::info!(event = ?event, "dispenser event");
        let _ = self.events.send(event);
    }
}

/// Takes what was heard; a reply to another command is stale and skipped.
fn hear(decoder: &mut Decoder<ReplyFrame>, bytes: &[u8], cm: u8, pm: u8) -> Option<Heard> {
    decoder.push(bytes);
    loop {
        match decoder.decode()? {
            Decoded::Control(ACK) => return Some(Heard::Ack),
            Decoded::Control(NAK) => return Some(Heard::Nak),
            Decoded::Control(_) | Decoded::Skipped(_) => {}
            Decoded::Corrupt => return Some(Heard::Corrupt),
            Decoded::Frame(reply) if reply.command() == (cm, pm) => {
                return Some(Heard::Reply(reply));
            }
            Decoded::Frame(_) => tracing::debug!("stale dispenser reply skipped"),
        }
    }
}
