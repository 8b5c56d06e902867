//! The receipt printer driver: ESC/POS over a serial port or a USB printer-class device, on its
//! own thread.
//!
//! A receipt is printed only when the printer says it can (DLE EOT 1–4), and the status is
//! watched while it prints: real-time status is answered ahead of the print buffer, so a printer
//! that stops at paper end or with its cover opened says so within the job's print time. On a
//! kiosk printer the cut receipt is presented, and retracted if the citizen has not taken it in
//! time, so that a stranger never picks up someone else's application number.

use crate::Receipt;
use crate::encode::{EncodeError, Encoder, Presenter, Profile};
use crate::raster::Rasterizer;
use crate::status::{
    FULL_STATUS, Incoming, PresenterStatus, PrinterCondition, StatusDecoder, dle_eot,
};
use device_model::{
    ActionHint, CommandError, CommandQueue, Device, DeviceFault, DeviceState, ErrorCode, Fault,
    Silence, Status, StatusPublisher, Worker,
};
use serde::{Deserialize, Serialize};
use serial_link::host::{Attachment, Line, LinkError};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// How the driver talks to one printer.
#[derive(Clone)]
pub struct PrinterConfig {
    /// The port's path (`/dev/ttyS1`, `/dev/usb/lp0`).
    pub path: PathBuf,
    /// Serial line or USB printer class.
    pub attachment: Attachment,
    /// What the printer model can do.
    pub profile: Profile,
    /// Draws text the printer cannot print (rare characters).
    pub rasterizer: Arc<dyn Rasterizer>,
    /// How long the printer may take to answer a status request.
    pub reply_timeout: Duration,
    /// How long a receipt takes to print at most: the status is watched that long after the
    /// job is sent.
    pub print_time: Duration,
    /// How long a presented receipt waits for the citizen before it is retracted.
    pub take_timeout: Duration,
    /// Interval of status polls, while a receipt waits and when idle.
    pub poll_interval: Duration,
    /// Interval between attempts to re-open a vanished port.
    pub reconnect_interval: Duration,
}

impl PrinterConfig {
    /// The defaults for a printer of `profile` at `path`.
    pub fn new(
        path: impl Into<PathBuf>,
        attachment: Attachment,
        profile: Profile,
        rasterizer: Arc<dyn Rasterizer>,
    ) -> Self {
        Self {
            path: path.into(),
            attachment,
            profile,
            rasterizer,
            reply_timeout: Duration::from_millis(500),
            print_time: Duration::from_secs(3),
            take_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            reconnect_interval: Duration::from_secs(1),
        }
    }
}

/// The receipt printer's class status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrinterStatus {
    /// What the printer last reported (none before it first answered).
    pub condition: Option<PrinterCondition>,
    /// A receipt waits in the presenter for the citizen.
    pub receipt_waiting: bool,
}

/// How a receipt job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptOutcome {
    /// Printed and cut; the printer cannot tell whether it was taken (no presenter sensor).
    Printed,
    /// The citizen took it from the presenter.
    Taken,
    /// Not taken in time: pulled back into the printer.
    Retracted,
}

/// What happens at the printer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrinterEvent {
    /// A cut receipt waits for the citizen.
    ReceiptPresented,
    /// The citizen took it.
    ReceiptTaken,
    /// It was retracted.
    ReceiptRetracted,
}

/// A failed printer command. Messages are one line, for a technician.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PrinterError {
    /// Refused before printing anything: the printer cannot print now.
    #[error("printer not ready: {}", .0.message)]
    NotReady(Fault),
    /// The printer stopped in the middle of the receipt, which is lost.
    #[error("printing stopped mid-receipt: {}", .0.message)]
    Stopped(Fault),
    /// The receipt cannot be encoded for this printer.
    #[error("receipt not printable: {0}")]
    Encode(#[from] EncodeError),
    /// The receipt stayed in the presenter after it was told to retract.
    #[error("receipt still in the presenter after retracting (presenter jammed?)")]
    RetractFailed,
    /// No status reply in time.
    #[error("timeout: no status reply from the printer")]
    Timeout,
    /// The port is not there: the printer is unplugged or its path is wrong.
    #[error("port error: {0} (printer unplugged?)")]
    NoDevice(String),
    /// The port is there but cannot be used.
    #[error("port error: {0}")]
    Port(String),
    /// The caller canceled.
    #[error("canceled")]
    Canceled,
    /// The driver stopped before answering.
    #[error("the printer driver stopped")]
    Abandoned,
}

impl DeviceFault for PrinterError {
    fn code(&self) -> ErrorCode {
        match self {
            PrinterError::NotReady(f) | PrinterError::Stopped(f) => f.code,
            PrinterError::Encode(_) => ErrorCode::InvalidData,
            PrinterError::RetractFailed => ErrorCode::HardwareError,
            PrinterError::Timeout => ErrorCode::Timeout,
            PrinterError::NoDevice(_) | PrinterError::Port(_) => ErrorCode::DeviceNotReady,
            PrinterError::Canceled => ErrorCode::Canceled,
            PrinterError::Abandoned => ErrorCode::InternalError,
        }
    }

    fn action(&self) -> ActionHint {
        match self {
            PrinterError::NotReady(f) | PrinterError::Stopped(f) => f.action,
            PrinterError::NoDevice(_) => ActionHint::Staff,
            PrinterError::Canceled => ActionHint::Retry,
            PrinterError::Encode(_)
            | PrinterError::RetractFailed
            | PrinterError::Timeout
            | PrinterError::Port(_)
            | PrinterError::Abandoned => ActionHint::Engineer,
        }
    }
}

impl CommandError for PrinterError {
    fn canceled() -> Self {
        PrinterError::Canceled
    }

    fn abandoned() -> Self {
        PrinterError::Abandoned
    }
}

/// The receipt printer device class.
pub trait ReceiptPrinter: Device<Class = PrinterStatus, Event = PrinterEvent> {
    /// Asks the printer for its status now.
    fn query(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<PrinterCondition, PrinterError>> + Send;
    /// Prints `receipt`, and on a kiosk printer waits for the citizen to take it, retracting it
    /// otherwise. Canceled while the receipt waits: retracted, then completes as canceled.
    fn print(
        &self,
        receipt: Receipt,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<ReceiptOutcome, PrinterError>> + Send;
}

type Job = device_model::Job<PrinterWorker>;

/// A receipt printer on a serial port or a USB printer-class device.
pub struct EscPosPrinter {
    queue: CommandQueue<Job>,
    status: Arc<StatusPublisher<PrinterStatus>>,
    events: broadcast::Sender<PrinterEvent>,
}

impl EscPosPrinter {
    /// Starts the driver. The port need not be there yet.
    pub fn open(config: PrinterConfig) -> std::io::Result<Self> {
        let status = Arc::new(StatusPublisher::new(
            "receipt-printer",
            PrinterStatus::default(),
        ));
        let (events, _) = broadcast::channel(16);
        let worker = PrinterWorker {
            line: Line::attached(&config.path, config.attachment, config.reconnect_interval),
            config,
            status: status.clone(),
            events: events.clone(),
            silence: Silence::default(),
        };
        let queue = CommandQueue::spawn("receipt-printer", worker)?;
        Ok(Self {
            queue,
            status,
            events,
        })
    }
}

impl Device for EscPosPrinter {
    type Class = PrinterStatus;
    type Event = PrinterEvent;

    fn status(&self) -> watch::Receiver<Status<PrinterStatus>> {
        self.status.subscribe()
    }

    fn events(&self) -> broadcast::Receiver<PrinterEvent> {
        self.events.subscribe()
    }
}

impl ReceiptPrinter for EscPosPrinter {
    fn query(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<PrinterCondition, PrinterError>> + Send {
        self.queue.call(cancel, |w, cancel| w.query(cancel))
    }

    fn print(
        &self,
        receipt: Receipt,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<ReceiptOutcome, PrinterError>> + Send {
        self.queue
            .call(cancel, move |w, cancel| w.print(&receipt, cancel))
    }
}

struct PrinterWorker {
    config: PrinterConfig,
    line: Line,
    status: Arc<StatusPublisher<PrinterStatus>>,
    events: broadcast::Sender<PrinterEvent>,
    silence: Silence,
}

impl Worker for PrinterWorker {
    type Job = Job;

    fn run(&mut self, job: Job) {
        job(self);
    }

    /// Keeps the status fresh (paper running low, cover opened, unplugged) between jobs.
    fn tick(&mut self) -> Duration {
        if self.line.close_if_vanished() {
            self.link_failed(LinkError::Gone(std::io::ErrorKind::NotFound.into()));
        }
        if self.line.is_open() || self.line.open_due() {
            let _ = self.query(&CancellationToken::new());
        }
        self.config.poll_interval.max(Duration::from_millis(50))
    }
}

impl PrinterWorker {
    fn print(
        &mut self,
        receipt: &Receipt,
        cancel: &CancellationToken,
    ) -> Result<ReceiptOutcome, PrinterError> {
        let before = self.query(cancel)?;
        if let (_, Some(fault)) = before.assess() {
            return Err(PrinterError::NotReady(fault));
        }
        let bytes =
            Encoder::new(self.config.profile, self.config.rasterizer.as_ref()).encode(receipt)?;
        // From here the job runs to its end: half a receipt helps nobody.
        let never = CancellationToken::new();
        let presenter = self.config.profile.presenter;
        if let Some(p @ Presenter::Custom { .. }) = presenter
            && self.presenter_status(&never)?.ticket_in_output
        {
            // The last citizen's receipt is still there: it is not for this one.
            self.retract(p)?;
        }
        self.transfer(|port| port.write(&bytes))?;
        let printed_by = Instant::now() + self.config.print_time;
        loop {
            let condition = self.query(&never)?;
            if let (_, Some(fault)) = condition.assess() {
                tracing::warn!(fault = %fault.message, "printer stopped mid-receipt");
                return Err(PrinterError::Stopped(fault));
            }
            if Instant::now() >= printed_by {
                break;
            }
            self.pause(printed_by);
        }
        let Some(presenter) = presenter else {
            return Ok(ReceiptOutcome::Printed);
        };
        self.presented(true);
        let retract_at = Instant::now() + self.config.take_timeout;
        while !cancel.is_cancelled() && Instant::now() < retract_at {
            if let Presenter::Custom { .. } = presenter
                && !self.presenter_status(&never)?.ticket_in_output
            {
                self.presented(false);
                self.emit(PrinterEvent::ReceiptTaken);
                return Ok(ReceiptOutcome::Taken);
            }
            self.pause(retract_at);
        }
        self.retract(presenter)?;
        self.presented(false);
        if cancel.is_cancelled() {
            return Err(PrinterError::Canceled);
        }
        Ok(match presenter {
            Presenter::Custom { .. } => ReceiptOutcome::Retracted,
            // Without a sensor the retraction may have found the presenter empty.
            Presenter::Citizen => ReceiptOutcome::Printed,
        })
    }

    /// Pulls the receipt back in; where the presenter can tell, waits until it is gone.
    fn retract(&mut self, presenter: Presenter) -> Result<(), PrinterError> {
        self.transfer(|port| port.write(&presenter.retract()))?;
        if let Presenter::Custom { .. } = presenter {
            let never = CancellationToken::new();
            let give_up = Instant::now() + self.config.print_time;
            while self.presenter_status(&never)?.ticket_in_output {
                if Instant::now() >= give_up {
                    let error = PrinterError::RetractFailed;
                    self.status
                        .set_state(DeviceState::HardwareError, Some(error.to_fault()));
                    return Err(error);
                }
                self.pause(give_up);
            }
        }
        self.emit(PrinterEvent::ReceiptRetracted);
        Ok(())
    }

    /// Sleeps one poll interval, or until `until`.
    fn pause(&self, until: Instant) {
        let left = until.saturating_duration_since(Instant::now());
        std::thread::sleep(self.config.poll_interval.min(left));
    }

    fn presented(&mut self, waiting: bool) {
        self.status.update(|s| s.class.receipt_waiting = waiting);
        if waiting {
            self.emit(PrinterEvent::ReceiptPresented);
        }
    }

    /// Asks DLE EOT 1–4 and brings the device status in line with the answer.
    fn query(&mut self, cancel: &CancellationToken) -> Result<PrinterCondition, PrinterError> {
        let result = self.ask_condition(cancel);
        match &result {
            Ok(condition) => {
                self.silence.answered();
                let condition = *condition;
                self.status.update(|s| s.class.condition = Some(condition));
                let (state, fault) = condition.assess();
                self.status.set_state(state, fault);
            }
            Err(PrinterError::Timeout) => {
                self.silence
                    .timed_out(&self.status, PrinterError::Timeout.to_fault());
            }
            Err(_) => {}
        }
        result
    }

    fn ask_condition(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<PrinterCondition, PrinterError> {
        let mut condition = PrinterCondition::default();
        for n in 1..=4 {
            let deadline = Instant::now() + self.config.reply_timeout;
            let mut decoder = StatusDecoder::default();
            let byte = self.transfer(|port| {
                port.send(&dle_eot(n))?;
                port.receive(deadline, cancel, |bytes| {
                    let mut reply = None;
                    decoder.push(bytes, |incoming| {
                        if let Incoming::Realtime(b) = incoming {
                            reply = reply.or(Some(b));
                        }
                    });
                    reply
                })
            })?;
            // The decoder only passes bytes of the reply pattern.
            let _ = condition.apply_realtime(n, byte);
        }
        Ok(condition)
    }

    fn presenter_status(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<PresenterStatus, PrinterError> {
        let deadline = Instant::now() + self.config.reply_timeout;
        let mut heard = Vec::new();
        self.transfer(|port| {
            port.send(&FULL_STATUS)?;
            port.receive(deadline, cancel, |bytes| {
                heard.extend_from_slice(bytes);
                PresenterStatus::find(&heard)
            })
        })
    }

    /// Runs `exchange` on the open port, turning link failures into printer errors.
    fn transfer<T>(
        &mut self,
        exchange: impl FnOnce(&mut serial_link::host::Port) -> Result<T, LinkError>,
    ) -> Result<T, PrinterError> {
        let result = self.line.open().and_then(|(port, _)| exchange(port));
        match result {
            Ok(value) => Ok(value),
            Err(LinkError::Timeout) => Err(PrinterError::Timeout),
            Err(LinkError::Canceled) => Err(PrinterError::Canceled),
            Err(e) => Err(self.link_failed(e)),
        }
    }

    fn link_failed(&mut self, e: LinkError) -> PrinterError {
        self.line.close();
        let where_ = self.line.path().display().to_string();
        let error = match e {
            LinkError::Gone(e) => PrinterError::NoDevice(format!("{where_}: {e}")),
            other => PrinterError::Port(format!("{where_}: {other}")),
        };
        self.status
            .set_state(DeviceState::NoDevice, Some(error.to_fault()));
        error
    }

    fn emit(&self, event: PrinterEvent) {
        tracing::info!(event = ?event, "printer event");
        let _ = self.events.send(event);
    }
}
