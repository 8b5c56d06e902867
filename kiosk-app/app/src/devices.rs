//! The kiosk's devices: each driver opened on its port, its events turned into the engine's,
//! and its status written to `DATA_DIR/status/NAME.json`, where the sync agent reads it for
//! the heartbeat.

use crate::camera::Camera;
use crate::config::Config;
use crate::runtime::Input;
use crate::voice::Voice;
use a4_printer::A4Printer;
use application::Applicant;
use device_model::{Device as _, DeviceState, Status};
use dispenser::{DispenserConfig, SerialCardDispenser};
use doc_camera::FrameSource;
use idcard::{IdCard, IdCardEvent, IdCardReader, ReaderConfig, SerialIdCardReader, Sex};
use receipt_printer::raster::FontRasterizer;
use receipt_printer::{EscPosPrinter, PrinterConfig, PrinterEvent, Profile};
use serde::Serialize;
use serial_link::host::Attachment;
use session::{Device, Event};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc::UnboundedSender, watch};

/// The drivers the runtime uses; `None` where the device is not fitted.
pub struct Devices {
    /// The ID card reader.
    pub id_reader: Option<Arc<SerialIdCardReader>>,
    /// The receipt printer.
    pub printer: Option<Arc<EscPosPrinter>>,
    /// The dispenser.
    pub dispenser: Option<Arc<SerialCardDispenser>>,
    /// The document camera.
    pub camera: Option<Camera>,
    /// The A4 printer.
    pub a4: Option<Arc<A4Printer>>,
    /// Voice guidance; without it, what would be said is shown as a caption only.
    pub voice: Option<Voice>,
}

/// Why a device could not be started.
#[derive(Debug, thiserror::Error)]
#[error("{device}: {message}")]
pub struct DeviceError {
    device: &'static str,
    message: String,
}

impl Devices {
    /// Opens every fitted device and starts forwarding its events to `inputs`. `camera` is the
    /// frame source chosen by the caller (V4L2 for the configured device, or a simulator).
    pub fn open(
        config: &Config,
        camera: Option<Box<dyn FrameSource>>,
        inputs: &UnboundedSender<Input>,
    ) -> Result<Devices, DeviceError> {
        let status_dir = config.data_dir.join("status");
        let err = |device: &'static str| {
            move |e: std::io::Error| DeviceError {
                device,
                message: e.to_string(),
            }
        };
        let d = &config.devices;
        let id_reader = match &d.id_reader {
            Some(c) => {
                let mut rc = ReaderConfig::new(&c.port);
                if let Some(baud) = c.baud {
                    rc.baud = baud;
                }
                let reader = SerialIdCardReader::open(rc).map_err(err("id_reader"))?;
                forward_status(
                    "idcard",
                    Device::IdReader,
                    reader.status(),
                    &status_dir,
                    inputs,
                );
                forward_cards(reader.events(), inputs.clone());
                reader.set_presence_polling(true);
                Some(Arc::new(reader))
            }
            None => None,
        };
        let printer = match &d.receipt_printer {
            Some(c) => {
                let attachment = match c.baud {
                    Some(baud) => Attachment::Serial { baud },
                    None => Attachment::CharDevice,
                };
                let profile = Profile::by_name(&c.profile).ok_or_else(|| DeviceError {
                    device: "receipt_printer",
                    message: format!("no profile {}", c.profile),
                })?;
                let fonts = FontRasterizer::noto_cjk().map_err(|e| DeviceError {
                    device: "receipt_printer",
                    message: format!("no CJK font (Debian package fonts-noto-cjk): {e}"),
                })?;
                let mut pc = PrinterConfig::new(&c.port, attachment, profile, Arc::new(fonts));
                // A bundle's receipt lists a dozen items and the materials still owed, much of
                // it drawn as raster: give it time on a slow serial line.
                pc.print_time = RECEIPT_PRINT_TIME;
                // One slow status reply (a busy kiosk PC) must not take the printer away from
                // the citizen at the receipt.
                pc.reply_timeout = STATUS_REPLY_TIME;
                let printer = EscPosPrinter::open(pc).map_err(err("receipt_printer"))?;
                forward_status(
                    "receipt-printer",
                    Device::ReceiptPrinter,
                    printer.status(),
                    &status_dir,
                    inputs,
                );
                forward_receipts(printer.events(), inputs.clone());
                Some(Arc::new(printer))
            }
            None => None,
        };
        let dispenser = match &d.dispenser {
            Some(c) => {
                let mut dc = DispenserConfig::new(&c.port);
                if let Some(baud) = c.baud {
                    dc.baud = baud;
                }
                dc.counts_file = Some(config.data_dir.join("dispenser-counts.json"));
                let dispenser = SerialCardDispenser::open(dc).map_err(err("dispenser"))?;
                forward_status(
                    "dispenser",
                    Device::Dispenser,
                    dispenser.status(),
                    &status_dir,
                    inputs,
                );
                Some(Arc::new(dispenser))
            }
            None => None,
        };
        let a4 = match &d.a4_printer {
            Some(c) => {
                let fonts = a4_printer::Fonts::noto_cjk().map_err(|e| DeviceError {
                    device: "a4_printer",
                    message: format!("no CJK font (Debian package fonts-noto-cjk): {e}"),
                })?;
                let mut ac = a4_printer::A4Config::new(&c.queue);
                ac.server = c.server.clone();
                let printer = A4Printer::start(ac, Arc::new(fonts)).map_err(|e| DeviceError {
                    device: "a4_printer",
                    message: e.to_string(),
                })?;
                forward_status(
                    "a4-printer",
                    Device::A4Printer,
                    printer.status(),
                    &status_dir,
                    inputs,
                );
                Some(Arc::new(printer))
            }
            None => None,
        };
        let camera = match camera {
            Some(source) => {
                let camera = Camera::spawn(source, inputs.clone()).map_err(err("camera"))?;
                write_status_file("doc-camera", camera.status(), status_dir.clone());
                Some(camera)
            }
            None => None,
        };
        let devices = Devices {
            id_reader,
            printer,
            dispenser,
            camera,
            a4,
            voice: d.speaker.clone().map(Voice::new),
        };
        // A camera that is configured but could not be opened is out of order, not absent.
        if devices.camera.is_none() && d.camera.is_some() {
            let _ = inputs.send(Input::Event(Event::Device {
                device: Device::Camera,
                usable: false,
                reason: Some("cannot be opened".into()),
            }));
        }
        Ok(devices)
    }

    /// The devices this kiosk does not have: neither configured nor given. The engine offers
    /// nothing that needs them, and does not tell citizens they are out of order.
    pub fn not_fitted(&self, config: &Config) -> BTreeSet<Device> {
        [
            (Device::IdReader, self.id_reader.is_some()),
            (Device::ReceiptPrinter, self.printer.is_some()),
            (Device::Dispenser, self.dispenser.is_some()),
            (
                Device::Camera,
                self.camera.is_some() || config.devices.camera.is_some(),
            ),
            (Device::A4Printer, self.a4.is_some()),
        ]
        .into_iter()
        .filter(|&(_, fitted)| !fitted)
        .map(|(device, _)| device)
        .collect()
    }
}

/// The applicant as the session needs it, from the card.
pub fn applicant(card: &IdCard) -> Applicant {
    Applicant {
        name: card.name.clone(),
        id_number: card.id_number.clone(),
        sex: match card.sex {
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::Unknown | Sex::Unspecified => "未说明",
        }
        .into(),
        nation: card.nation.clone(),
        birth_date: card.birth_date.to_string(),
        address: card.address.clone(),
    }
}

/// How long the longest receipt may take to print.
const RECEIPT_PRINT_TIME: std::time::Duration = std::time::Duration::from_secs(15);

/// How long the receipt printer may take to answer a status request.
const STATUS_REPLY_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a device may take to answer for the first time after the driver starts.
const FIRST_ANSWER: std::time::Duration = std::time::Duration::from_secs(5);

fn usable(state: DeviceState) -> bool {
    matches!(state, DeviceState::Online | DeviceState::Busy)
}

/// Tells the engine when the device becomes usable or unusable, and keeps its status file.
fn forward_status<C: Clone + Serialize + Send + Sync + 'static>(
    name: &'static str,
    device: Device,
    mut status: watch::Receiver<Status<C>>,
    dir: &Path,
    inputs: &UnboundedSender<Input>,
) {
    write_status_file(name, status.clone(), dir.to_owned());
    let inputs = inputs.clone();
    tokio::spawn(async move {
        let mut last: Option<bool> = None;
        loop {
            let (now, reason) = {
                let s = status.borrow_and_update();
                (
                    usable(s.device),
                    s.fault.as_ref().map(|f| f.message.clone()),
                )
            };
            // A driver starts as `noDevice` until its device first answers: give it that
            // long before telling citizens it does not work.
            if last.is_none() && !now {
                let answered = tokio::time::timeout(FIRST_ANSWER, status.changed()).await;
                if let Ok(Err(_)) = answered {
                    return;
                }
                if answered.is_ok() {
                    continue;
                }
            }
            if last != Some(now) {
                last = Some(now);
                let event = Event::Device {
                    device,
                    usable: now,
                    reason: if now { None } else { reason },
                };
                if inputs.send(Input::Event(event)).is_err() {
                    return;
                }
            }
            if status.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Keeps `DIR/NAME.json` equal to the device's last status, written durably.
fn write_status_file<C: Clone + Serialize + Send + Sync + 'static>(
    name: &'static str,
    mut status: watch::Receiver<Status<C>>,
    dir: PathBuf,
) {
    tokio::spawn(async move {
        loop {
            let s = status.borrow_and_update().clone();
            let body = serde_json::json!({
                "state": s.device,
                "class": s.class,
                "fault": s.fault,
            });
            let path = dir.join(format!("{name}.json"));
            let write = tokio::task::spawn_blocking(move || {
                durable_fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
                durable_fs::write_atomic(&path, body.to_string().as_bytes())
            })
            .await;
            if let Ok(Err(e)) = write {
                tracing::warn!(device = name, error = %e, "status file not written");
            }
            if status.changed().await.is_err() {
                return;
            }
        }
    });
}

fn forward_cards(mut events: broadcast::Receiver<IdCardEvent>, inputs: UnboundedSender<Input>) {
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(IdCardEvent::CardRead(card)) => Event::CardRead(Box::new(applicant(&card))),
                Ok(IdCardEvent::CardReadFailed(fault)) => Event::CardUnreadable {
                    reason: fault.message,
                },
                Ok(IdCardEvent::CardRemoved) => Event::CardRemoved,
                Ok(IdCardEvent::CardInserted) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "card events missed");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if inputs.send(Input::Event(event)).is_err() {
                return;
            }
        }
    });
}

/// A receipt cut and waiting in the presenter is printed, as far as the citizen is concerned.
fn forward_receipts(mut events: broadcast::Receiver<PrinterEvent>, inputs: UnboundedSender<Input>) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(PrinterEvent::ReceiptPresented) => {
                    if inputs.send(Input::Event(Event::ReceiptPrinted)).is_err() {
                        return;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}
