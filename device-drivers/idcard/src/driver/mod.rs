//! The ID card reader driver: the protocol core over a serial port, on its own thread.
//!
//! A presence loop looks for a card every ~300 ms (the reference's minimum interval), reads each
//! card once when it arrives (find → select → read, every time), and reports it gone after two
//! polls in a row find nothing ([`presence`]). The port vanishing is `noDevice`; the driver
//! re-opens it by itself when it comes back, and finds the reader's baud rate again if a power
//! cycle reset it ([`link`]). Nothing depends on DTR/RTS.

mod link;
mod presence;

use crate::card::{IdCard, decode_ucs2_trimmed, parse_text};
use crate::command::{Baud, CardBlocks, Command, SamId, malformed};
use crate::error::IdCardError;
use crate::frame::{Decoder, Reply};
use crate::sw3::Sw3;
use device_model::{CommandQueue, Device, Fault, Silence, Status, StatusPublisher, Worker};
use presence::Presence;
use serde::{Deserialize, Serialize};
use serial_link::host::Line;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
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
    /// Finds, selects and reads the card in the field. The presence loop then takes this card as
    /// read: it sends no `CardRead` for it.
    fn read_card(
        &self,
        options: ReadOptions,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<IdCard, IdCardError>> + Send;
    /// Reads the newest appended address of the card read last (`None`: the card has none);
    /// fails with [`IdCardError::CardChanged`] if another card is on the reader now.
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

type Job = device_model::Job<ReaderWorker>;

/// Card events kept for a receiver that has not read them yet. Small on purpose: a receiver
/// that lags keeps card data alive until it is overwritten, so receivers must keep up.
const EVENT_BUFFER: usize = 8;

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
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let worker = ReaderWorker {
            line: Line::new(&config.path, config.baud, config.reconnect_interval),
            config,
            decoder: Decoder::new(),
            status: status.clone(),
            events: events.clone(),
            polling: false,
            presence: Presence::Unknown,
            last_read: None,
            silence: Silence::default(),
            probe: 0,
            never: CancellationToken::new(),
        };
        let queue = CommandQueue::spawn("idcard-reader", worker)?;
        Ok(Self {
            queue,
            status,
            events,
        })
    }
}

impl Device for SerialIdCardReader {
    type Class = IdReaderStatus;
    type Event = IdCardEvent;

    fn status(&self) -> watch::Receiver<Status<IdReaderStatus>> {
        self.status.subscribe()
    }

    /// Card events. A receiver must keep reading them: events it has not read hold card data.
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
        self.queue.call(cancel, move |w, cancel| {
            w.expect(Command::FindCard, Sw3::CardFound, cancel)?;
            let serial = w.select(cancel)?;
            let card = w.read_selected(serial, options, cancel)?;
            w.presence = Presence::read(serial);
            w.set_media(Media::Present);
            Ok(card)
        })
    }

    fn read_newest_address(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Option<String>, IdCardError>> + Send {
        self.queue.call(cancel, |w, cancel| {
            // A standalone 30 03 needs the card found and selected again (devices.md §1.3).
            w.expect(Command::FindCard, Sw3::CardFound, cancel)?;
            let serial = w.select(cancel)?;
            if w.last_read != Some(serial) {
                return Err(IdCardError::CardChanged);
            }
            w.newest_address(cancel)
        })
    }

    fn reset(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<(), IdCardError>> + Send {
        self.queue.call(cancel, |w, cancel| {
            w.expect(Command::ResetSam, Sw3::Success, cancel).map(drop)
        })
    }

    fn sam_status(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<SamHealth, IdCardError>> + Send {
        self.queue.call(cancel, |w, cancel| {
            let reply = w.exchange(Command::SamStatus, cancel)?;
            Ok(sam_health(Sw3::from(reply.sw3)))
        })
    }

    fn sam_id(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<SamId, IdCardError>> + Send {
        self.queue.call(cancel, |w, cancel| {
            let reply = w.expect(Command::SamId, Sw3::Success, cancel)?;
            Ok(SamId::parse(&reply.data)?)
        })
    }

    fn set_baud(
        &self,
        baud: Baud,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<(), IdCardError>> + Send {
        self.queue.call(cancel, move |w, cancel| {
            w.expect(Command::SetBaud(baud), Sw3::Success, cancel)?;
            w.switch_baud(baud.bps())
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

/// The driver's state, owned by its thread.
struct ReaderWorker {
    config: ReaderConfig,
    /// The port, and the speed it is set to now.
    line: Line,
    decoder: Decoder<Reply>,
    status: Arc<StatusPublisher<IdReaderStatus>>,
    events: broadcast::Sender<IdCardEvent>,
    polling: bool,
    presence: Presence,
    /// Serial number of the card read last.
    last_read: Option<[u8; 8]>,
    silence: Silence,
    /// How many other baud rates were probed, to try the next one each time.
    probe: usize,
    /// The token of the driver's own commands, which nobody cancels.
    never: CancellationToken,
}

impl Worker for ReaderWorker {
    type Job = Job;

    fn run(&mut self, job: Job) {
        job(self);
    }

    fn tick(&mut self) -> Duration {
        if !self.keep_link() {
            return self.config.reconnect_interval;
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
    fn select(&mut self, cancel: &CancellationToken) -> Result<[u8; 8], IdCardError> {
        let reply = self.expect(Command::SelectCard, Sw3::Success, cancel)?;
        <[u8; 8]>::try_from(reply.data.as_slice()).map_err(|_| {
            let problem = format!("{} data bytes, expected 8", reply.data.len());
            malformed(Command::SelectCard, problem).into()
        })
    }

    /// Reads the selected card; `serial` is what the select answered.
    fn read_selected(
        &mut self,
        serial: [u8; 8],
        options: ReadOptions,
        cancel: &CancellationToken,
    ) -> Result<IdCard, IdCardError> {
        let blocks = if options.fingerprint {
            let reply = self.exchange(Command::ReadTextPhotoFingerprint, cancel)?;
            match Sw3::from(reply.sw3) {
                Sw3::Success => CardBlocks::parse(&reply.data, true)?,
                // Some readers answer "no content" to a card without fingerprints.
                Sw3::NoContent => {
                    let mut blocks = self.read_text_photo(cancel)?;
                    blocks.fingerprint = Some(Vec::new());
                    blocks
                }
                other => return Err(error_for(other)),
            }
        } else {
            self.read_text_photo(cancel)?
        };
        let mut card = parse_text(&blocks.text)?;
        card.photo_wlt = blocks.photo.clone();
        card.fingerprint = blocks.fingerprint.clone();
        self.last_read = Some(serial);
        if options.newest_address {
            card.newest_address = self.newest_address(cancel)?;
        }
        Ok(card)
    }

    fn read_text_photo(&mut self, cancel: &CancellationToken) -> Result<CardBlocks, IdCardError> {
        let reply = self.expect(Command::ReadTextPhoto, Sw3::Success, cancel)?;
        Ok(CardBlocks::parse(&reply.data, false)?)
    }

    fn newest_address(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Option<String>, IdCardError> {
        let reply = self.exchange(Command::ReadNewestAddress, cancel)?;
        match Sw3::from(reply.sw3) {
            Sw3::NoContent => Ok(None),
            // `exchange` only lets through a reply of the command's size.
            Sw3::Success => Ok(Some(decode_ucs2_trimmed(&reply.data, "newest_address")?)),
            other => Err(error_for(other)),
        }
    }
}

/// The error for a reply that is not the one wanted.
fn error_for(sw3: Sw3) -> IdCardError {
    match sw3 {
        Sw3::NoCard => IdCardError::NoCard,
        other => IdCardError::Sam(other),
    }
}
