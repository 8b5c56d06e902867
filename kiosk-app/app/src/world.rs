//! The world around a simulated kiosk: what citizens, paper rolls, cables, the network and the
//! central office's reviewers do. Each world event acts on a device simulator (over its wire,
//! as the real device would behave) or on the local backend, never on the engine directly.

use crate::net::Network;
use central_backend::Storage;
use doc_camera::scene::Faults;
use doc_camera::sim::{SimControl, SimFault};
use idcard::IdCard;
use idcard::sim::IdCardSimulator;
use receipt_printer::Paper;
use receipt_printer::interp::Mechanics;
use receipt_printer::sim::PrinterSimulator;
use serde::Deserialize;
use std::sync::Arc;
use sync_protocol::CommandKind;

/// The resident card every simulated citizen's card is made from.
const CARD_TEMPLATE: &str =
    include_str!("../../../device-drivers/idcard/tests/cards/resident.json");

/// One thing the world does, as a JSON line tagged by `world`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "world", rename_all = "snake_case", deny_unknown_fields)]
pub enum WorldEvent {
    /// Demo citizen number `citizen` lays their resident ID card on the reader (the same
    /// number is the same person every time).
    InsertCard {
        /// Which citizen.
        citizen: u64,
    },
    /// The card is taken off the reader.
    RemoveCard,
    /// A page (generated scene `seed`) is laid under the document camera by a hand that then
    /// leaves.
    LayPage {
        /// The scene.
        seed: u64,
        /// Out of focus.
        #[serde(default)]
        blurred: bool,
    },
    /// The page is taken away.
    RemovePage,
    /// The citizen takes the receipt from the presenter.
    TakeReceipt,
    /// The receipt roll is `ok`, `low` or `out`.
    Paper {
        /// The supply.
        supply: Paper,
    },
    /// A device's cable is pulled.
    Unplug {
        /// Which.
        device: SimDevice,
    },
    /// It is plugged back in.
    Replug {
        /// Which.
        device: SimDevice,
    },
    /// The citizen takes the card waiting at the dispenser's gate.
    TakeCard,
    /// The A4 printer stops (its paper out, a tray removed: `stopped` says why, as CUPS
    /// reports it) or starts again (`null`).
    A4 {
        /// Why it stopped, or `None` to start it.
        stopped: Option<String>,
    },
    /// The kiosk's network goes down or comes back.
    Network {
        /// Up?
        up: bool,
    },
    /// A reviewer at the central office decides on an application.
    Decide {
        /// The application number.
        number: String,
        /// The new status, as `{"status": "accepted"}`, `{"status": "corrections_needed",
        /// "corrections": [...]}`, `{"status": "result_ready", "delivery": "dispenser"}` ….
        status: application::Status,
    },
    /// The central office sends this kiosk a remote command.
    Command {
        /// `out_of_service`, `in_service`, `reboot` or `collect_logs`.
        kind: CommandKind,
    },
}

/// The simulated devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimDevice {
    /// The ID card reader.
    IdReader,
    /// The receipt printer.
    ReceiptPrinter,
    /// The dispenser.
    Dispenser,
    /// The document camera.
    Camera,
}

/// The simulators and the backend the world acts on.
pub struct World {
    /// The ID card reader.
    pub idcard: IdCardSimulator,
    /// The receipt printer.
    pub printer: PrinterSimulator,
    /// The dispenser.
    pub dispenser: dispenser::sim::DispenserSimulator,
    /// The document camera.
    pub camera: SimControl,
    /// The A4 printer's CUPS, if installed.
    pub a4: Option<a4_printer::sim::CupsSimulator>,
    /// The network between the sync agent and the backend.
    pub network: Network,
    /// The central backend's storage (reviewers' decisions, remote commands).
    pub backend: Arc<dyn Storage>,
    /// This kiosk's terminal number.
    pub terminal: String,
}

impl World {
    /// Stops what runs beside the kiosk (the A4 printer's CUPS) when the kiosk exits.
    pub fn shutdown(&self) {
        if let Some(cups) = &self.a4 {
            cups.stop();
        }
    }

    /// Makes `event` happen.
    pub fn apply(&self, event: WorldEvent) -> Result<(), String> {
        tracing::info!(event = ?event, "world");
        match event {
            WorldEvent::InsertCard { citizen } => {
                let card = citizen_card(citizen)?;
                self.idcard.insert(&card).map_err(|e| e.to_string())?;
            }
            WorldEvent::RemoveCard => self.idcard.remove(),
            WorldEvent::LayPage { seed, blurred } => self.camera.lay_page(
                seed,
                Faults {
                    blur: if blurred { 6.0 } else { 0.0 },
                    ..Faults::default()
                },
            ),
            WorldEvent::RemovePage => self.camera.remove_page(),
            WorldEvent::TakeReceipt => self.printer.take_receipt(),
            WorldEvent::Paper { supply } => self.printer.set_mechanics(Mechanics {
                paper: supply,
                ..self.printer.mechanics()
            }),
            WorldEvent::Unplug { device } => match device {
                SimDevice::IdReader => self.idcard.unplug(),
                SimDevice::ReceiptPrinter => self.printer.unplug(),
                SimDevice::Dispenser => self.dispenser.unplug(),
                SimDevice::Camera => self.camera.inject(SimFault::Unplug),
            },
            WorldEvent::Replug { device } => match device {
                SimDevice::IdReader => self.idcard.replug(),
                SimDevice::ReceiptPrinter => self.printer.replug(),
                SimDevice::Dispenser => self.dispenser.replug(),
                SimDevice::Camera => self.camera.replug(),
            },
            WorldEvent::TakeCard => self.dispenser.take_card(),
            WorldEvent::A4 { stopped } => self
                .a4
                .as_ref()
                .ok_or("this simulated kiosk has no A4 printer (CUPS is not installed)")?
                .set_stopped(crate::simulated::A4_QUEUE, stopped.as_deref())
                .map_err(|e| e.to_string())?,
            WorldEvent::Network { up } => self.network.set_up(up),
            WorldEvent::Decide { number, status } => {
                self.backend
                    .decide(&number, &status, application::time::now_ms())
                    .map_err(|e| e.to_string())?;
            }
            WorldEvent::Command { kind } => {
                self.backend
                    .add_command(&self.terminal, kind, application::time::now_ms())
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// Demo citizen `n`'s resident card: the demo data's person on the reader's card layout.
pub fn citizen_card(n: u64) -> Result<IdCard, String> {
    let who = demo_data::applicant(n);
    let mut card: serde_json::Value =
        serde_json::from_str(CARD_TEMPLATE).map_err(|e| e.to_string())?;
    card["name"] = who.name.clone().into();
    card["sex"] = if who.sex == "男" { "male" } else { "female" }.into();
    card["birth_date"] = who.birth_date.clone().into();
    card["address"] = who.address.clone().into();
    card["id_number"] = who.id_number.clone().into();
    serde_json::from_value(card).map_err(|e| e.to_string())
}
