//! The ID card reader driver: the protocol core over a serial port, on its own thread.
//!
//! A presence loop looks for a card every ~300 ms (the reference's minimum interval), reads each
//! card once when it arrives (find → select → read, every time), and reports it gone after two
//! polls in a row find nothing. The port vanishing is `noDevice`; the driver re-opens it by itself
//! when it comes back. Nothing depends on DTR/RTS.

use crate::card::{IdCard, decode_ucs2_trimmed, parse_text};
use crate::command::{ADDRESS_LEN, Baud, CardBlocks, Command, SamId, malformed};
use crate::error::IdCardError;
use crate::frame::{Decoded, Decoder, Reply};
use crate::sw3::Sw3;
use device_model::{
    CommandQueue, Device, DeviceFault, DeviceState, Fault, Status, StatusPublisher, Worker,
    completion,
};
use serde::{Deserialize, Serialize};
use serial_link::host::{LinkError, Port};
use serial_link::wire_time;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// How the driver talks to one reader.
#[derive(Clone, Debug)]
pub struct ReaderConfig {
    /// The serial port's path (a udev alias such as `/dev/kiosk/idcard`, or a simulator's link).
    pub path: PathBuf,
    /// Line speed; the reader powers up at 115200.
    pub baud: u32,
    /// How long the reader may take to act on a control command (status, find, select), on top of
    /// the wire time of its longest reply at the current baud rate.
    pub command_timeout: Duration,
    /// How long it may take to read a card, on top of the reply's wire time.
    pub read_timeout: Duration,
    /// Interval of the presence loop.
    pub poll_interval: Duration,
    /// Interval between attempts to re-open a vanished port.
    pub reconnect_interval: Duration,
    /// Polls in a row that must find no card before the card counts as removed.
    pub removal_polls: u32,
    /// Automatic read attempts per card insertion before the driver waits for the card to leave.
    pub read_attempts: u32,
    /// What the presence loop reads of each card.
    pub read_options: ReadOptions,
}

impl ReaderConfig {
    /// The defaults for a reader at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            baud: 115_200,
            command_timeout: Duration::from_millis(500),
            read_timeout: Duration::from_millis(2000),
            poll_interval: Duration::from_millis(300),
            reconnect_interval: Duration::from_secs(1),
            removal_polls: 2,
            read_attempts: 3,
            read_options: ReadOptions::default(),
        }
    }
}

/// What to read besides the text and photo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Read the fingerprint templates too (`30 10` instead of `30 01`).
    pub fingerprint: bool,
    /// Read the newest address appended by the police station (`30 03`).
    pub newest_address: bool,
}

/// Whether a card is in the reader's field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Media {
    /// Not known yet (no poll since the driver started or the port came back).
    Unknown,
    /// A card is in the field.
    Present,
    /// No card.
    NotPresent,
}

/// Health of the SAM security module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SamHealth {
    /// Not known yet.
    Unknown,
    /// Answering normally.
    Ok,
    /// Self-test failed (SW3 60).
    SelfTestFailed,
    /// Not authorised (SW3 66).
    NotAuthorised,
}

/// The ID card reader's class status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdReaderStatus {
    /// Card in the field.
    pub media: Media,
    /// SAM health.
    pub sam: SamHealth,
    /// Current line speed.
    pub baud: u32,
}

/// What happens at the reader without anyone asking.
#[derive(Clone, Debug)]
pub enum IdCardEvent {
    /// A card came into the field.
    CardInserted,
    /// The card in the field was read. Sent once per card until it leaves the field.
    CardRead(Arc<IdCard>),
    /// Reading the card in the field failed (it may be retried while the card stays).
    CardReadFailed(Fault),
    /// The card left the field.
    CardRemoved,
}

/// The ID card reader device class.
pub trait IdCardReader: Device<Class = IdReaderStatus, Event = IdCardEvent> {
    /// Finds, selects and reads the card in the field.
    fn read_card(
        &self,
        options: ReadOptions,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<IdCard, IdCardError>> + Send;
    /// Reads the newest appended address of the card just read (`None`: the card has none).
    fn read_newest_address(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Option<String>, IdCardError>> + Send;
    /// Resets the SAM module.
    fn reset(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<(), IdCardError>> + Send;
    /// Asks the SAM for its self-test status.
    fn sam_status(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<SamHealth, IdCardError>> + Send;
    /// Reads the SAM's identity.
    fn sam_id(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<SamId, IdCardError>> + Send;
    /// Switches reader and port to another speed.
    fn set_baud(
        &self,
        baud: Baud,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<(), IdCardError>> + Send;
    /// Starts or stops the presence loop (and so the card events).
    fn set_presence_polling(&self, on: bool);
}

type Job = Box<dyn FnOnce(&mut ReaderWorker) + Send>;

/// An ID card reader on a serial port.
pub struct SerialIdCardReader {
    queue: CommandQueue<Job>,
    status: Arc<StatusPublisher<IdReaderStatus>>,
    events: broadcast::Sender<IdCardEvent>,
}

impl SerialIdCardReader {
    /// Starts the driver. The port need not be there yet: until it is, the status is `noDevice`.
    pub fn open(config: ReaderConfig) -> std::io::Result<Self> {
        let status = Arc::new(StatusPublisher::new(
            "idcard",
            IdReaderStatus {
                media: Media::Unknown,
                sam: SamHealth::Unknown,
                baud: config.baud,
            },
        ));
        let (events, _) = broadcast::channel(64);
        let worker = ReaderWorker {
            baud: config.baud,
            config,
            port: None,
            last_port_error: None,
            next_open: Instant::now(),
            decoder: Decoder::new(),
            status: status.clone(),
            events: events.clone(),
            polling: false,
            presence: Presence::Unknown,
            timeouts_in_row: 0,
            never: CancellationToken::new(),
        };
        let queue = CommandQueue::spawn("idcard-reader", worker)?;
        Ok(Self {
            queue,
            status,
            events,
        })
    }

    fn call<T: Send + 'static>(
        &self,
        cancel: CancellationToken,
        f: impl FnOnce(&mut ReaderWorker, &CancellationToken) -> Result<T, IdCardError> + Send + 'static,
    ) -> device_model::Pending<T, IdCardError> {
        let (done, pending) = completion();
        self.queue.submit(Box::new(move |w: &mut ReaderWorker| {
            if cancel.is_cancelled() {
                done.complete(Err(IdCardError::Canceled));
            } else {
                done.complete(f(w, &cancel));
            }
        }));
        pending
    }
}

impl Device for SerialIdCardReader {
    type Class = IdReaderStatus;
    type Event = IdCardEvent;

    fn status(&self) -> watch::Receiver<Status<IdReaderStatus>> {
        self.status.subscribe()
    }

    fn events(&self) -> broadcast::Receiver<IdCardEvent> {
        self.events.subscribe()
    }
}

impl IdCardReader for SerialIdCardReader {
    fn read_card(
        &self,
        options: ReadOptions,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<IdCard, IdCardError>> + Send {
        self.call(cancel, move |w, cancel| {
            let (card, serial) = w.read_sequence(options, cancel)?;
            // The caller has this card: the presence loop must not read it again.
            w.presence = Presence::Present {
                serial: Some(serial),
                done: true,
                attempts: 1,
                misses: 0,
                verify: false,
            };
            w.set_media(Media::Present);
            Ok(card)
        })
    }

    fn read_newest_address(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Option<String>, IdCardError>> + Send {
        self.call(cancel, |w, cancel| w.newest_address(cancel))
    }

    fn reset(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<(), IdCardError>> + Send {
        self.call(cancel, |w, cancel| {
            w.expect(Command::ResetSam, Sw3::Success, cancel).map(drop)
        })
    }

    fn sam_status(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<SamHealth, IdCardError>> + Send {
        self.call(cancel, |w, cancel| {
            let reply = w.exchange(Command::SamStatus, cancel)?;
            Ok(sam_health(Sw3::from(reply.sw3)))
        })
    }

    fn sam_id(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<SamId, IdCardError>> + Send {
        self.call(cancel, |w, cancel| {
            let reply = w.expect(Command::SamId, Sw3::Success, cancel)?;
            Ok(SamId::parse(&reply.data)?)
        })
    }

    fn set_baud(
        &self,
        baud: Baud,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<(), IdCardError>> + Send {
        self.call(cancel, move |w, cancel| {
            w.expect(Command::SetBaud(baud), Sw3::Success, cancel)?;
            w.baud = baud.bps();
            if let Some(port) = w.port.as_mut() {
                port.set_baud(w.baud).map_err(|e| w.link_failed(e))?;
            }
            let bps = w.baud;
            w.status.update(|s| s.class.baud = bps);
            Ok(())
        })
    }

    fn set_presence_polling(&self, on: bool) {
        self.queue.submit(Box::new(move |w: &mut ReaderWorker| {
            w.polling = on;
            if !on {
                w.presence = Presence::Unknown;
                w.set_media(Media::Unknown);
            }
        }));
    }
}

fn sam_health(sw3: Sw3) -> SamHealth {
    match sw3 {
        Sw3::SelfTestFailed => SamHealth::SelfTestFailed,
        Sw3::NotAuthorised => SamHealth::NotAuthorised,
        _ => SamHealth::Ok,
    }
}

/// What the presence loop knows about the card in the field.
#[derive(Debug)]
enum Presence {
    Unknown,
    Empty,
    Present {
        /// The card's serial number, once selected.
        serial: Option<[u8; 8]>,
        /// Read, or given up on: nothing more until it leaves.
        done: bool,
        attempts: u32,
        /// Polls in a row that found no card.
        misses: u32,
        /// The port was lost meanwhile: check it is still the same card.
        verify: bool,
    },
}

struct ReaderWorker {
    config: ReaderConfig,
    baud: u32,
    port: Option<Port>,
    last_port_error: Option<IdCardError>,
    next_open: Instant,
    decoder: Decoder<Reply>,
    status: Arc<StatusPublisher<IdReaderStatus>>,
    events: broadcast::Sender<IdCardEvent>,
    polling: bool,
    presence: Presence,
    timeouts_in_row: u32,
    never: CancellationToken,
}

impl Worker for ReaderWorker {
    type Job = Job;

    fn run(&mut self, job: Job) {
        job(self);
    }

    fn tick(&mut self) -> Duration {
        if self.port.is_some() && !self.config.path.exists() {
            // The device node vanished: unplugged, even if nothing was sent to notice it.
            self.link_failed(LinkError::Gone(std::io::ErrorKind::NotFound.into()));
        }
        if self.port.is_none() {
            if Instant::now() < self.next_open {
                return self.next_open - Instant::now();
            }
            let never = self.never.clone();
            // Re-opened: ask the SAM how it is, which also sets the status.
            if self.exchange(Command::SamStatus, &never).is_err() {
                return self.config.reconnect_interval;
            }
        }
        if self.polling {
            self.poll_presence();
            self.config.poll_interval
        } else {
            self.config.reconnect_interval
        }
    }
}

impl ReaderWorker {
    /// Sends one command and waits for its reply, retrying once when either side saw a bad
    /// checksum. Keeps the device status in line with what happened.
    fn exchange(
        &mut self,
        command: Command,
        cancel: &CancellationToken,
    ) -> Result<Reply, IdCardError> {
        let result = self.exchange_raw(command, cancel);
        match &result {
            Ok(reply) => self.observe_reply(reply),
            Err(error) => self.observe_error(error),
        }
        result
    }

    fn exchange_raw(
        &mut self,
        command: Command,
        cancel: &CancellationToken,
    ) -> Result<Reply, IdCardError> {
        self.connect()?;
        let timeout = self.timeout_for(command);
        let request = command.encode();
        for attempt in 0..2 {
            let (Some(port), decoder) = (self.port.as_mut(), &mut self.decoder) else {
                return Err(IdCardError::Abandoned);
            };
            decoder.clear();
            let outcome = port.send(&request).and_then(|()| {
                port.receive(Instant::now() + timeout, cancel, |bytes| {
                    decoder.push(bytes);
                    next_reply(decoder)
                })
            });
            match outcome {
                Ok(Some(reply))
                    if Sw3::from(reply.sw3) == Sw3::HostChecksumError && attempt == 0 =>
                {
                    tracing::warn!(
                        command = command.name(),
                        "reader saw a bad checksum; resending"
                    );
                }
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) if attempt == 0 => {
                    tracing::warn!(command = command.name(), "bad checksum in reply; resending");
                }
                Ok(None) => {
                    return Err(IdCardError::Checksum {
                        command: command.name(),
                    });
                }
                Err(LinkError::Timeout) => {
                    return Err(IdCardError::Timeout {
                        command: command.name(),
                        ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                    });
                }
                Err(LinkError::Canceled) => return Err(IdCardError::Canceled),
                Err(e) => return Err(self.link_failed(e)),
            }
        }
        Err(IdCardError::Checksum {
            command: command.name(),
        })
    }

    /// Sends `command` and requires `want` in the reply.
    fn expect(
        &mut self,
        command: Command,
        want: Sw3,
        cancel: &CancellationToken,
    ) -> Result<Reply, IdCardError> {
        let reply = self.exchange(command, cancel)?;
        match Sw3::from(reply.sw3) {
            got if got == want => Ok(reply),
            Sw3::NoCard => Err(IdCardError::NoCard),
            got => Err(IdCardError::Sam(got)),
        }
    }

    fn timeout_for(&self, command: Command) -> Duration {
        let acting = match command {
            Command::ReadTextPhoto | Command::ReadTextPhotoFingerprint => self.config.read_timeout,
            _ => self.config.command_timeout,
        };
        acting + wire_time(command.max_reply_bytes() + 10, self.baud)
    }

    /// Opens the port if it is not open. Failures keep the status `noDevice`.
    fn connect(&mut self) -> Result<(), IdCardError> {
        if self.port.is_some() {
            return Ok(());
        }
        match Port::open(&self.config.path, self.baud) {
            Ok(port) => {
                tracing::info!(path = %self.config.path.display(), baud = self.baud, "reader port open");
                self.port = Some(port);
                self.last_port_error = None;
                if let Presence::Present { verify, .. } = &mut self.presence {
                    *verify = true;
                }
                Ok(())
            }
            Err(e) => {
                self.next_open = Instant::now() + self.config.reconnect_interval;
                let error = port_error(&self.config.path, e);
                if self.last_port_error.as_ref() != Some(&error) {
                    tracing::warn!(%error, "reader port cannot be opened");
                    self.last_port_error = Some(error.clone());
                }
                Err(error)
            }
        }
    }

    /// The port failed under us: close it so that the next command or tick re-opens it.
    fn link_failed(&mut self, e: LinkError) -> IdCardError {
        self.port = None;
        self.next_open = Instant::now();
        let error = port_error(&self.config.path, e);
        self.observe_error(&error);
        error
    }

    /// Brings the device status in line with an answer.
    fn observe_reply(&mut self, reply: &Reply) {
        self.timeouts_in_row = 0;
        let sw3 = Sw3::from(reply.sw3);
        let sam = sam_health(sw3);
        self.status.update(|s| s.class.sam = sam);
        if sw3.is_sam_fault() {
            let fault = IdCardError::Sam(sw3).to_fault();
            self.status
                .set_state(DeviceState::HardwareError, Some(fault));
        } else {
            self.status.set_state(DeviceState::Online, None);
        }
    }

    /// Brings the device status in line with a failure.
    fn observe_error(&mut self, error: &IdCardError) {
        match error {
            IdCardError::Timeout { .. } => {
                self.timeouts_in_row += 1;
                // One lost reply is noise on a live link; two, or none ever, is a silent reader.
                let online = self.status.current().device == DeviceState::Online;
                if self.timeouts_in_row >= 2 || !online {
                    self.status
                        .set_state(DeviceState::Offline, Some(error.to_fault()));
                }
            }
            IdCardError::NoDevice(_) | IdCardError::Port(_) => {
                self.status.update(|s| s.class.media = Media::Unknown);
                self.status
                    .set_state(DeviceState::NoDevice, Some(error.to_fault()));
            }
            IdCardError::Checksum { .. } => {
                self.status
                    .set_state(DeviceState::HardwareError, Some(error.to_fault()));
            }
            _ => {}
        }
    }

    fn set_media(&self, media: Media) {
        self.status.update(|s| s.class.media = media);
    }

    fn emit(&self, event: IdCardEvent) {
        tracing::info!(event = event_name(&event), "idcard event");
        // Nobody listening is fine: the kiosk may not be on a screen that wants cards.
        let _ = self.events.send(event);
    }

    /// One round of the presence loop.
    fn poll_presence(&mut self) {
        let never = self.never.clone();
        let Ok(reply) = self.exchange(Command::FindCard, &never) else {
            return;
        };
        match Sw3::from(reply.sw3) {
            Sw3::CardFound => {
                match &mut self.presence {
                    Presence::Present { misses, .. } => *misses = 0,
                    Presence::Unknown | Presence::Empty => self.card_arrived(),
                }
                self.read_if_needed();
            }
            Sw3::NoCard => match &mut self.presence {
                Presence::Present { misses, .. } => {
                    *misses += 1;
                    if *misses >= self.config.removal_polls {
                        self.card_left();
                    }
                }
                Presence::Unknown => {
                    self.presence = Presence::Empty;
                    self.set_media(Media::NotPresent);
                }
                Presence::Empty => {}
            },
            _ => {}
        }
    }

    fn card_arrived(&mut self) {
        self.presence = Presence::Present {
            serial: None,
            done: false,
            attempts: 0,
            misses: 0,
            verify: false,
        };
        self.set_media(Media::Present);
        self.emit(IdCardEvent::CardInserted);
    }

    fn card_left(&mut self) {
        self.presence = Presence::Empty;
        self.set_media(Media::NotPresent);
        self.emit(IdCardEvent::CardRemoved);
    }

    /// Reads the card in the field unless it was read already; after a lost port, selects it
    /// first to see whether it is still the card that was read.
    fn read_if_needed(&mut self) {
        let never = self.never.clone();
        let Presence::Present {
            serial: known,
            done,
            verify,
            ..
        } = self.presence
        else {
            return;
        };
        if verify {
            if let Presence::Present { verify, .. } = &mut self.presence {
                *verify = false;
            }
            if let Some(known) = known {
                let Ok(serial) = self.select(&never) else {
                    return;
                };
                if serial == known {
                    return;
                }
                // Another card was put in while the reader was away.
                self.card_left();
                self.card_arrived();
            } else if done {
                return;
            }
        } else if done {
            return;
        }
        let options = self.config.read_options;
        let result = self.read_sequence(options, &never);
        let Presence::Present {
            serial,
            done,
            attempts,
            ..
        } = &mut self.presence
        else {
            return;
        };
        *attempts += 1;
        match result {
            Ok((card, read_serial)) => {
                *serial = Some(read_serial);
                *done = true;
                self.emit(IdCardEvent::CardRead(Arc::new(card)));
            }
            Err(e) => {
                *done = *attempts >= self.config.read_attempts;
                tracing::warn!(error = %e, attempts = *attempts, "card read failed");
                self.emit(IdCardEvent::CardReadFailed(e.to_fault()));
            }
        }
    }

    fn select(&mut self, cancel: &CancellationToken) -> Result<[u8; 8], IdCardError> {
        let reply = self.expect(Command::SelectCard, Sw3::Success, cancel)?;
        <[u8; 8]>::try_from(reply.data.as_slice()).map_err(|_| {
            malformed(
                Command::SelectCard,
                format!("{} data bytes, expected 8", reply.data.len()),
            )
            .into()
        })
    }

    /// Find, select, read: the sequence the SAM requires for every read.
    fn read_sequence(
        &mut self,
        options: ReadOptions,
        cancel: &CancellationToken,
    ) -> Result<(IdCard, [u8; 8]), IdCardError> {
        self.expect(Command::FindCard, Sw3::CardFound, cancel)?;
        let serial = self.select(cancel)?;
        let command = if options.fingerprint {
            Command::ReadTextPhotoFingerprint
        } else {
            Command::ReadTextPhoto
        };
        let reply = self.expect(command, Sw3::Success, cancel)?;
        let blocks = CardBlocks::parse(&reply.data, options.fingerprint)?;
        let mut card = parse_text(&blocks.text)?;
        card.photo_wlt = blocks.photo.clone();
        card.fingerprint = blocks.fingerprint.clone();
        if options.newest_address {
            card.newest_address = self.newest_address(cancel)?;
        }
        Ok((card, serial))
    }

    fn newest_address(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Option<String>, IdCardError> {
        let reply = self.exchange(Command::ReadNewestAddress, cancel)?;
        match Sw3::from(reply.sw3) {
            Sw3::NoContent => Ok(None),
            Sw3::Success => {
                let text = reply.data.get(..ADDRESS_LEN).ok_or_else(|| {
                    let problem =
                        format!("{} data bytes, expected {ADDRESS_LEN}", reply.data.len());
                    malformed(Command::ReadNewestAddress, problem)
                })?;
                Ok(Some(decode_ucs2_trimmed(text, "newest_address")?))
            }
            Sw3::NoCard => Err(IdCardError::NoCard),
            other => Err(IdCardError::Sam(other)),
        }
    }
}

/// Takes decoded frames until a reply or a bad checksum (`Some(None)`); noise is skipped.
fn next_reply(decoder: &mut Decoder<Reply>) -> Option<Option<Reply>> {
    loop {
        match decoder.decode()? {
            Decoded::Frame(reply) => return Some(Some(reply)),
            Decoded::BadChecksum { .. } => return Some(None),
            Decoded::Skipped(n) => tracing::debug!(bytes = n, "noise before reply skipped"),
            Decoded::ImpossibleLength(len) => tracing::debug!(len, "false preamble skipped"),
        }
    }
}

fn port_error(path: &std::path::Path, e: LinkError) -> IdCardError {
    match e {
        LinkError::Gone(e) => IdCardError::NoDevice(format!("{}: {e}", path.display())),
        other => IdCardError::Port(format!("{}: {other}", path.display())),
    }
}

fn event_name(event: &IdCardEvent) -> &'static str {
    match event {
        IdCardEvent::CardInserted => "card_inserted",
        IdCardEvent::CardRead(_) => "card_read",
        IdCardEvent::CardReadFailed(_) => "card_read_failed",
        IdCardEvent::CardRemoved => "card_removed",
    }
}
