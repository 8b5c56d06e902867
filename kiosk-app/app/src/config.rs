//! The kiosk's one configuration file (`/etc/kiosk/kiosk.toml`), read and checked at start.
//! Every problem is reported at once, each naming its key, so a technician fixes the file in
//! one go instead of one error per restart. `packaging/kiosk.example.toml` documents every key.

use serde::Deserialize;
use session::{Language, Timeouts};
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The kiosk's data directory: the store, the installed catalogue, device status files.
    pub data_dir: PathBuf,
    /// The store's key file (default: `DATA_DIR/store.key`).
    #[serde(default)]
    pub store_key: Option<PathBuf>,
    /// The keys the central office signs the catalogue and configuration with (a kiosk
    /// never falls back to the development key).
    pub trust: PathBuf,
    /// Who this kiosk is.
    pub terminal: Terminal,
    /// The devices; a device left out is absent (its journeys and steps are disabled).
    #[serde(default)]
    pub devices: Devices,
    /// The central backend; left out, applications wait in the outbox.
    #[serde(default)]
    pub backend: Option<Backend>,
    /// Idle limits.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Languages and display defaults.
    #[serde(default)]
    pub ui: Ui,
    /// Who may enter maintenance mode, and where diagnostics go.
    #[serde(default)]
    pub maintenance: Maintenance,
}

/// Maintenance mode.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// The technician PIN's Argon2 hash (`kiosk-app --hash-pin` makes one); left out, only a
    /// technician's card opens maintenance mode.
    #[serde(default)]
    pub pin_hash: Option<String>,
    /// Technicians' cards: a salted Argon2 hash of each ID number (`kiosk-app --card-key`
    /// makes one).
    #[serde(default)]
    pub technician_cards: Vec<String>,
    /// Wrong PINs in a row before the PIN is locked.
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    /// How long the PIN stays locked, seconds.
    #[serde(default = "default_lockout_s")]
    pub lockout_s: u64,
    /// Where the USB drive for diagnostics is mounted.
    #[serde(default = "default_export_dir")]
    pub export_dir: PathBuf,
}

fn default_max_failures() -> u32 {
    5
}

fn default_lockout_s() -> u64 {
    900
}

fn default_export_dir() -> PathBuf {
    PathBuf::from("/media/kiosk-usb")
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance {
            pin_hash: None,
            technician_cards: Vec::new(),
            max_failures: default_max_failures(),
            lockout_s: default_lockout_s(),
            export_dir: default_export_dir(),
        }
    }
}

impl Maintenance {
    /// Who may enter, as the engine checks it.
    pub fn access(&self) -> session::maintenance::Access {
        session::maintenance::Access {
            pin_hash: self.pin_hash.clone(),
            technician_cards: self.technician_cards.clone(),
            max_failures: self.max_failures,
            lockout_s: self.lockout_s,
        }
    }
}

/// The terminal's identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terminal {
    /// The terminal number the catalogue authorises (its certificate names the same).
    pub id: String,
    /// The service centre printed on receipts.
    pub office: String,
    /// The service hotline printed on receipts.
    #[serde(default = "default_hotline")]
    pub hotline: String,
    /// The progress page the receipt's QR code opens; the application number is appended.
    pub progress_url: String,
}

fn default_hotline() -> String {
    "12345".into()
}

/// Where each device is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Devices {
    /// The ID card reader.
    #[serde(default)]
    pub id_reader: Option<SerialDevice>,
    /// The receipt printer.
    #[serde(default)]
    pub receipt_printer: Option<ReceiptPrinter>,
    /// The card and certificate dispenser.
    #[serde(default)]
    pub dispenser: Option<SerialDevice>,
    /// The document camera.
    #[serde(default)]
    pub camera: Option<Camera>,
    /// The A4 printer: a CUPS queue.
    #[serde(default)]
    pub a4_printer: Option<A4Printer>,
    /// The speakers, through a speech synthesiser (espeak-ng); left out, voice guidance is
    /// shown as captions only.
    #[serde(default)]
    pub speaker: Option<Speaker>,
}

/// The A4 printer, as a CUPS queue (set up with `printer-error-policy=abort-job`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct A4Printer {
    /// The CUPS server.
    #[serde(default = "default_cups")]
    pub server: String,
    /// The queue's name.
    pub queue: String,
}

fn default_cups() -> String {
    "http://127.0.0.1:631".into()
}

/// Voice guidance through a speech synthesiser.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Speaker {
    /// The synthesiser (Debian's espeak-ng); it is given `-v VOICE -s RATE TEXT`.
    #[serde(default = "default_synthesiser")]
    pub program: PathBuf,
    /// Words per minute: slower than usual, for elderly listeners.
    #[serde(default = "default_rate")]
    pub rate: u32,
}

impl Default for Speaker {
    fn default() -> Speaker {
        Speaker {
            program: default_synthesiser(),
            rate: default_rate(),
        }
    }
}

fn default_synthesiser() -> PathBuf {
    PathBuf::from("/usr/bin/espeak-ng")
}

fn default_rate() -> u32 {
    140
}

/// A device on a serial port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialDevice {
    /// The port (`/dev/ttyS1`, `/dev/serial/by-id/…`).
    pub port: PathBuf,
    /// Line speed (default: the device's usual one).
    #[serde(default)]
    pub baud: Option<u32>,
}

/// The receipt printer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptPrinter {
    /// The port: a serial line or a USB printer-class device (`/dev/usb/lp0`).
    pub port: PathBuf,
    /// Line speed of a serial printer; left out for a USB printer-class device.
    #[serde(default)]
    pub baud: Option<u32>,
    /// The printer model's profile: `epson-generic`, `custom-kiosk` or `citizen-kiosk`.
    pub profile: String,
}

/// The document camera.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    /// The V4L2 device (`/dev/video0`).
    pub device: PathBuf,
}

/// The central backend, as the sync agent reaches it (mutual TLS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// `https://host:port`.
    pub url: String,
    /// The CA the server's certificate must chain to.
    pub ca: PathBuf,
    /// This kiosk's certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

/// Languages and display defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ui {
    /// The languages offered; the first is the one each session starts in.
    #[serde(default = "default_languages")]
    pub languages: Vec<Language>,
    /// Large text from the start of each session.
    #[serde(default)]
    pub large_text: bool,
    /// The colour theme: `day`, `night` or `high_contrast` (high contrast from the start of
    /// each session).
    #[serde(default = "default_theme")]
    pub theme: String,
    /// Voice guidance from the start of each session (each citizen can turn it off).
    #[serde(default = "default_voice")]
    pub voice: bool,
}

fn default_voice() -> bool {
    true
}

impl Default for Ui {
    fn default() -> Self {
        Self {
            languages: default_languages(),
            large_text: false,
            theme: default_theme(),
            voice: default_voice(),
        }
    }
}

impl Ui {
    /// How each session starts, as the engine applies it.
    pub fn display(&self) -> session::Display {
        session::Display {
            languages: self.languages.clone(),
            large_text: self.large_text,
            high_contrast: self.theme == "high_contrast",
            voice: self.voice,
        }
    }
}

fn default_languages() -> Vec<Language> {
    vec![Language::Zh, Language::En]
}

fn default_theme() -> String {
    "day".into()
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, or a key unknown, missing or of the wrong type (the message shows the line).
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line and column.
        message: String,
    },
    /// Values that parse but cannot work, each as `key: why`.
    #[error("{path}: {}", .problems.join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<String>,
    },
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems,
            })
        }
    }

    /// The store's key file.
    pub fn store_key(&self) -> PathBuf {
        self.store_key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("store.key"))
    }

    /// Everything that parses but cannot work.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !self.data_dir.is_absolute() {
            p.push("data_dir: must be an absolute path".to_owned());
        }
        let t = &self.terminal;
        if t.id.is_empty() || !t.id.chars().all(|c| c.is_ascii_alphanumeric()) {
            p.push("terminal.id: letters and digits only, not empty".to_owned());
        }
        if t.office.trim().is_empty() {
            p.push("terminal.office: the service centre's name is printed on receipts".to_owned());
        }
        if !t.progress_url.starts_with("https://") {
            p.push("terminal.progress_url: must start with https://".to_owned());
        }
        let d = &self.devices;
        for (key, port) in [
            (
                "devices.id_reader.port",
                d.id_reader.as_ref().map(|s| &s.port),
            ),
            (
                "devices.dispenser.port",
                d.dispenser.as_ref().map(|s| &s.port),
            ),
            (
                "devices.receipt_printer.port",
                d.receipt_printer.as_ref().map(|s| &s.port),
            ),
            (
                "devices.camera.device",
                d.camera.as_ref().map(|c| &c.device),
            ),
        ] {
            if port.is_some_and(|p| !p.is_absolute()) {
                p.push(format!("{key}: must be an absolute path"));
            }
        }
        for (key, baud) in [
            (
                "devices.id_reader.baud",
                d.id_reader.as_ref().and_then(|s| s.baud),
            ),
            (
                "devices.dispenser.baud",
                d.dispenser.as_ref().and_then(|s| s.baud),
            ),
            (
                "devices.receipt_printer.baud",
                d.receipt_printer.as_ref().and_then(|s| s.baud),
            ),
        ] {
            if baud.is_some_and(|b| !matches!(b, 9600 | 19_200 | 38_400 | 57_600 | 115_200)) {
                p.push(format!("{key}: one of 9600, 19200, 38400, 57600, 115200"));
            }
        }
        if let Some(printer) = &d.receipt_printer
            && receipt_printer::Profile::by_name(&printer.profile).is_none()
        {
            p.push(
                "devices.receipt_printer.profile: one of epson-generic, custom-kiosk, citizen-kiosk"
                    .to_owned(),
            );
        }
        if let Some(a4) = &d.a4_printer {
            if !a4.server.starts_with("http://") && !a4.server.starts_with("https://") {
                p.push("devices.a4_printer.server: an http:// or https:// URL".to_owned());
            }
            if a4.queue.is_empty() || a4.queue.contains(['/', ' ', '#']) {
                p.push("devices.a4_printer.queue: a CUPS queue name".to_owned());
            }
        }
        if let Some(speaker) = &d.speaker {
            if !speaker.program.is_absolute() {
                p.push("devices.speaker.program: must be an absolute path".to_owned());
            }
            if !(80..=300).contains(&speaker.rate) {
                p.push("devices.speaker.rate: between 80 and 300 words a minute".to_owned());
            }
        }
        if let Some(b) = &self.backend {
            if !b.url.starts_with("https://") {
                p.push("backend.url: must start with https:// (mutual TLS)".to_owned());
            }
            for (key, path) in [
                ("backend.ca", &b.ca),
                ("backend.cert", &b.cert),
                ("backend.key", &b.key),
            ] {
                if !path.is_file() {
                    p.push(format!("{key}: {} is not a file", path.display()));
                }
            }
        }
        if !self.trust.is_file() {
            p.push(format!("trust: {} is not a file", self.trust.display()));
        }
        let to = &self.timeouts;
        if !(30..=600).contains(&to.screen_s) {
            p.push("timeouts.screen_s: between 30 and 600 seconds".to_owned());
        }
        if !(60..=1800).contains(&to.form_s) {
            p.push("timeouts.form_s: between 60 and 1800 seconds".to_owned());
        }
        if !(5..=120).contains(&to.goodbye_s) {
            p.push("timeouts.goodbye_s: between 5 and 120 seconds".to_owned());
        }
        for (screen, limit) in &to.screens {
            match session::IDLE_SCREENS.iter().find(|(name, _)| name == screen) {
                None => p.push(format!(
                    "timeouts.screens.{screen}: not a screen with an idle limit (one of {})",
                    session::IDLE_SCREENS.map(|(name, _)| name).join(", ")
                )),
                Some((_, longest)) if !(30..=*longest).contains(limit) || *limit <= to.warning_s => {
                    p.push(format!(
                        "timeouts.screens.{screen}: between 30 and {longest} seconds, longer than the warning"
                    ))
                }
                Some(_) => {}
            }
        }
        if to.warning_s < 10 || to.warning_s >= to.screen_s.min(to.form_s) {
            p.push(
                "timeouts.warning_s: at least 10 seconds (time to read and touch), and shorter than the screen limits"
                    .to_owned(),
            );
        }
        let m = &self.maintenance;
        if m.pin_hash
            .as_deref()
            .is_some_and(|h| !h.starts_with("$argon2"))
        {
            p.push(
                "maintenance.pin_hash: an Argon2 hash from kiosk-app --hash-pin, never the PIN"
                    .to_owned(),
            );
        }
        if !m.technician_cards.iter().all(|c| c.starts_with("$argon2")) {
            p.push("maintenance.technician_cards: Argon2 hashes from kiosk-app --card-key, never the ID number".to_owned());
        }
        if !(1..=10).contains(&m.max_failures) {
            p.push("maintenance.max_failures: between 1 and 10".to_owned());
        }
        if !(60..=86_400).contains(&m.lockout_s) {
            p.push("maintenance.lockout_s: between 60 and 86400 seconds".to_owned());
        }
        let ui = &self.ui;
        if ui.languages.is_empty() {
            p.push("ui.languages: at least one".to_owned());
        }
        if ui.languages.first().is_some_and(|l| *l != Language::Zh) {
            p.push("ui.languages: Chinese first (each session starts in the first)".to_owned());
        }
        if !matches!(ui.theme.as_str(), "day" | "night" | "high_contrast") {
            p.push("ui.theme: one of day, night, high_contrast".to_owned());
        }
        p
    }
}
