//! Maintenance mode: who may enter (a technician PIN, stored only as an Argon2 hash and locked
//! out after repeated failures, or a technician's card, known only by a salted Argon2 hash of
//! its number: an unsalted hash of an ID number is reversed by trying them all),
//! what a technician may do, and what the menu shows. The menu is built from a [`Report`] the
//! runtime gathers: device states, the outbox's counts, the certificate, the supplies, the
//! terminal's identity. None of it is citizen data, by construction.

use crate::input::Device;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};

/// Who may enter maintenance mode. With neither a PIN hash nor a card, nobody can.
#[derive(Debug, Clone)]
pub struct Access {
    /// The technician PIN's Argon2 hash (PHC string), from [`hash_pin`].
    pub pin_hash: Option<String>,
    /// Technicians' cards: [`card_key`] of each ID number (Argon2 hashes).
    pub technician_cards: Vec<String>,
    /// Wrong PINs in a row before the PIN is locked.
    pub max_failures: u32,
    /// How long the PIN stays locked, seconds.
    pub lockout_s: u64,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            pin_hash: None,
            technician_cards: Vec::new(),
            max_failures: 5,
            lockout_s: 900,
        }
    }
}

impl Access {
    /// Whether `pin` is the technician PIN. A malformed hash matches nothing.
    pub fn pin_matches(&self, pin: &str) -> bool {
        self.pin_hash.as_deref().is_some_and(|h| matches(h, pin))
    }

    /// Whether the card with this ID number is a technician's.
    pub fn is_technician(&self, id_number: &str) -> bool {
        let id = normalised(id_number);
        self.technician_cards.iter().any(|hash| matches(hash, &id))
    }
}

fn matches(hash: &str, secret: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

fn normalised(id_number: &str) -> String {
    id_number.trim().to_uppercase()
}

/// The PIN's lockout as the audit of the last day leaves it: wrong PINs since the last entry or
/// lockout, and the lockout's end. The kiosk rebuilds it at start, so that a restart does not
/// give a guesser a fresh set of tries.
pub fn guard_from_audit(events: &[kiosk_store::AuditEvent]) -> (u32, Option<i64>) {
    use kiosk_store::AuditEvent as A;
    let (mut failures, mut locked_until_ms) = (0, None);
    for event in events {
        match event {
            A::MaintenanceRefused { how } if how == "pin" => failures += 1,
            A::MaintenanceEntered { .. } => failures = 0,
            A::MaintenanceLockedOut { until_ms } => {
                failures = 0;
                locked_until_ms = Some(*until_ms);
            }
            _ => {}
        }
    }
    (failures, locked_until_ms)
}

/// The Argon2id hash of a PIN, as the configuration keeps it.
pub fn hash_pin(pin: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn getrandom(buf: &mut [u8]) -> Result<(), String> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|e| format!("no randomness: {e}"))
}

/// How a technician's card is named in the configuration: a salted Argon2 hash of its ID
/// number, so that the file neither carries the number nor lets it be found by trying them all.
pub fn card_key(id_number: &str) -> Result<String, String> {
    hash_pin(&normalised(id_number))
}

/// What a technician does in the menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Gather the report again.
    Refresh,
    /// Test a device (the receipt printer prints a test slip; the others report their state).
    SelfTest {
        /// The device.
        device: Device,
    },
    /// A supply was refilled: its counter starts again.
    Refilled {
        /// `receipt_paper` or `cards`.
        supply: String,
    },
    /// The out-of-service switch; it takes effect when the technician leaves.
    OutOfService {
        /// Out of service?
        on: bool,
    },
    /// Write diagnostics (device states, queue, supplies, the audit chain's check; never
    /// citizen data) to the USB drive.
    ExportDiagnostics,
    /// Send what waits in the outbox now, without waiting out the back-off.
    SyncNow,
    /// Leave maintenance mode.
    Leave,
}

impl Action {
    /// Its name in the audit.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Refresh => "refresh",
            Action::SelfTest { .. } => "self_test",
            Action::Refilled { .. } => "refilled",
            Action::OutOfService { .. } => "out_of_service",
            Action::ExportDiagnostics => "export_diagnostics",
            Action::SyncNow => "sync_now",
            Action::Leave => "leave",
        }
    }
}

/// What the runtime is asked to do for the menu; answered by [`crate::Event::MaintenanceReport`]
/// or [`crate::Event::MaintenanceDone`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Gather the report.
    Report,
    /// Test a device.
    SelfTest(Device),
    /// Start a supply's counter again.
    Refilled(String),
    /// Write diagnostics to the USB drive.
    ExportDiagnostics,
    /// Make every waiting outbox entry due now.
    SyncNow,
}

/// The menu's content, gathered by the runtime.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Terminal number.
    pub terminal: String,
    /// The office it belongs to.
    pub office: String,
    /// The software's version.
    pub version: String,
    /// The installed catalogue's version.
    pub catalogue_version: u64,
    /// Each device: name, common status model state, detail.
    pub devices: Vec<DeviceLine>,
    /// The outbox: pending, in flight, delivered, dead; oldest pending age in seconds.
    pub queue: QueueLine,
    /// The backend and the kiosk's certificate.
    pub network: NetworkLine,
    /// Supplies used since their last refill.
    pub supplies: Vec<SupplyLine>,
    /// Free disk space, bytes.
    pub disk_free_bytes: u64,
    /// The configuration in use, without secrets (keys, PIN and card hashes), as `key: value`
    /// lines.
    pub configuration: Vec<String>,
}

/// One device in the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeviceLine {
    /// Its name (`idcard`, `receipt-printer`, …).
    pub device: String,
    /// `online`, `offline`, `noDevice`, `hardwareError`, `userError` or `busy`.
    pub state: String,
    /// Class-specific detail, as the driver published it.
    pub detail: String,
}

/// The outbox in the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueLine {
    /// Waiting.
    pub pending: u64,
    /// Being sent.
    pub in_flight: u64,
    /// Delivered.
    pub delivered: u64,
    /// Refused for good: the central office must look.
    pub dead: u64,
    /// The oldest waiting, seconds.
    pub oldest_pending_age_s: Option<f64>,
}

/// The backend and the certificate in the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkLine {
    /// The backend's URL (`simulated` in simulated mode).
    pub backend: String,
    /// The kiosk certificate's last day of validity, `YYYY-MM-DD`, if it could be read.
    pub certificate_until: Option<String>,
    /// Days left on it.
    pub certificate_days_left: Option<i64>,
    /// Seconds since the sync agent last reached the backend (`None`: never).
    pub last_contact_s: Option<i64>,
    /// What failed since then, if anything.
    pub last_error: Option<String>,
}

/// A supply in the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SupplyLine {
    /// `receipt_paper`, `cards` or `a4_paper`.
    pub supply: String,
    /// Used since the last refill (receipts printed, cards dispensed).
    pub used: u64,
}

/// How an action went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The action's name.
    pub action: String,
    /// Did it work?
    pub ok: bool,
    /// What the technician is told (where the export went, what the test found).
    pub detail: String,
}
