//! The kiosk–central sync protocol, shared by the sync agent and the central backend so that
//! both sides serialise the same types. `openapi.yaml` beside this crate is the written contract.
//!
//! - Identity is the TLS client certificate: its common name is the terminal number. An
//!   application taken by another terminal (its `terminal` or number prefix) is refused.
//! - Pages go first, content-addressed: `PUT /v1/pages/{sha256}`; the server checks the digest
//!   and stores each page once.
//! - An application is `POST /v1/applications` with `Idempotency-Key` = its number. The same key
//!   with the same payload returns the stored answer; a changed payload is 422; one still being
//!   processed is 409.
//! - Corrections supplied at a kiosk are `POST /v1/applications/{number}/supplements` with
//!   `Idempotency-Key` = `{number}/{n}` ([`supplement_key`]), after their pages, under the same
//!   rules; the server moves the application back to review (`supplied`).
//! - Review results come back through a cursor (`GET /v1/results?after=N&wait_s=S`, a long poll).
//! - The catalogue and configuration are pulled with `If-None-Match`; the ETag is the SHA-256
//!   of the published bytes, so the installed file is its own ETag.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod tls;

use application::{Application, Status, Supplement};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The header carrying the application's number on `POST /v1/applications`.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Set on a response that repeats a stored answer.
pub const REPLAYED: &str = "Idempotent-Replayed";
/// The largest page accepted (a 300 dpi A3 colour page within the camera's budget is far less).
pub const MAX_PAGE_BYTES: usize = 16 << 20;
/// The largest application body accepted.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// The longest long poll a server grants.
pub const MAX_WAIT_S: u64 = 60;
/// The largest log bundle accepted (`PUT /v1/logs/{name}`).
pub const MAX_LOG_BYTES: usize = 16 << 20;

/// Whether `name` can name a log bundle: 1 to 64 of `a-z 0-9 . _ -`, not starting with a dot.
pub fn is_log_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
}

/// The lowercase hex SHA-256 of `bytes`: a page's address.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `s` is a lowercase hex SHA-256.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The strong ETag of published bytes.
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", sha256_hex(bytes))
}

/// One page of a submitted application, named by its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageEntry {
    /// The page file the application record names.
    pub file: String,
    /// The material it belongs to.
    pub material: String,
    /// SHA-256 of the image, lowercase hex; uploaded before the application.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
}

/// The body of `POST /v1/applications`. Serialised the same way every time, so a retry sends
/// the same bytes and the server can tell a repeat from a changed payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The application as the kiosk saved it.
    pub application: Application,
    /// Its pages, in the record's order.
    pub pages: Vec<PageEntry>,
}

/// The body of `POST /v1/applications/{number}/supplements`; serialised the same way every
/// time, like [`Submission`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplementSubmission {
    /// The application corrected.
    pub number: String,
    /// The corrections as the kiosk saved them.
    pub supplement: Supplement,
    /// Its pages, in the supplement's order.
    pub pages: Vec<PageEntry>,
}

/// The idempotency key of an application's `n`th supplement.
pub fn supplement_key(number: &str, n: u32) -> String {
    format!("{number}/{n}")
}

/// The server's answer to an accepted submission; repeated verbatim for a repeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The application's number.
    pub number: String,
    /// The central office's case id.
    pub case: String,
    /// When the server committed it, ms since the epoch.
    pub received_at_ms: i64,
}

/// One review result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewResult {
    /// Its position in this device's result stream.
    pub seq: u64,
    /// The application's number.
    pub number: String,
    /// The new status.
    pub status: Status,
    /// When it was decided, ms since the epoch.
    pub at_ms: i64,
}

/// The body of `GET /v1/results`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Results {
    /// Results after the cursor, oldest first.
    pub results: Vec<ReviewResult>,
    /// The cursor to ask from next time.
    pub cursor: u64,
}

/// A device's state as the heartbeat reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceReport {
    /// Which device (`idcard`, `receipt-printer`, …).
    pub device: String,
    /// The common status model's state (`online`, `noDevice`, …).
    pub state: String,
    /// Class-specific detail, as the driver published it.
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// The outbox as the heartbeat reports it; also `kioskctl sync status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueReport {
    /// Waiting to be sent.
    pub pending: u64,
    /// Being sent now.
    pub in_flight: u64,
    /// Delivered (kept until purged).
    pub delivered: u64,
    /// Refused by the server for good: a technician or the central office must look.
    pub dead: u64,
    /// Age of the oldest application not yet delivered, seconds.
    pub oldest_pending_age_s: Option<f64>,
}

/// The body of `POST /v1/heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// When it was sent, ms since the epoch (the kiosk's clock).
    pub at_ms: i64,
    /// The agent's version.
    pub version: String,
    /// The outbox.
    pub queue: QueueReport,
    /// Numbers of the applications in the dead-letter state, with the server's reason.
    pub dead_letters: Vec<DeadLetter>,
    /// Each device's last published status.
    pub devices: Vec<DeviceReport>,
    /// Delivery statistics since the agent started.
    pub stats: SyncStats,
    /// Why the kiosk is out of service, if it is.
    pub out_of_service: Option<String>,
    /// What the kiosk's audit says of the last day (电子监察).
    #[serde(default)]
    pub statistics: Statistics,
}

/// Statistics derived from the kiosk's audit over a window (the last 24 hours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statistics {
    /// The window, seconds.
    pub window_s: u64,
    /// Citizens' sessions begun (a card read).
    pub sessions: u64,
    /// How sessions ended: `completed`, `cancelled`, `timed_out`, `card_changed`.
    pub ended: std::collections::BTreeMap<String, u64>,
    /// Sessions that began a new application and ended without saving it.
    pub abandoned: u64,
    /// Applications saved, by item code (a bundle counts each of its items).
    pub applications_by_item: std::collections::BTreeMap<String, u64>,
    /// Applications saved, by local hour of the day (24 entries).
    pub applications_by_hour: Vec<u64>,
    /// Corrections supplied at the kiosk.
    pub supplements: u64,
    /// Results handed out at the kiosk.
    pub results_collected: u64,
    /// Ratings (好差评) given, 1 to 5 stars (5 entries).
    pub ratings: Vec<u64>,
    /// Devices that became unusable, by device.
    pub device_failures: std::collections::BTreeMap<String, u64>,
}

impl Default for Statistics {
    /// Nothing counted: 24 hours and 5 ratings, all zero.
    fn default() -> Self {
        Statistics {
            window_s: 0,
            sessions: 0,
            ended: Default::default(),
            abandoned: 0,
            applications_by_item: Default::default(),
            applications_by_hour: vec![0; 24],
            supplements: 0,
            results_collected: 0,
            ratings: vec![0; 5],
            device_failures: Default::default(),
        }
    }
}

/// An application the server refused for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Its number.
    pub number: String,
    /// The server's reason.
    pub reason: String,
}

/// Counters since the agent started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStats {
    /// Applications delivered.
    pub delivered: u64,
    /// Attempts that failed and will be retried.
    pub retries: u64,
    /// Pages uploaded.
    pub pages: u64,
    /// Review results applied.
    pub results: u64,
}

/// What the central office asks a kiosk to do; obeyed between sessions, never during one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// Stop taking citizens until told otherwise.
    OutOfService,
    /// Take citizens again.
    InService,
    /// Restart the kiosk.
    Reboot,
    /// Upload the logs.
    CollectLogs,
}

/// A remote command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Its id, unique at the server.
    pub id: u64,
    /// What to do.
    pub kind: CommandKind,
}

/// The answer to a heartbeat: commands not yet acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// Commands to record and acknowledge.
    pub commands: Vec<Command>,
}

/// How far a command got, in `POST /v1/commands/{id}/ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// The kiosk has it on disk and will carry it out between sessions.
    Received,
    /// The kiosk carried it out.
    Done,
}

/// The body of `POST /v1/commands/{id}/ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandAck {
    /// How far it got.
    pub state: CommandState,
}

/// Every error response's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code (`digest_mismatch`, `payload_changed`, `in_progress`, …).
    pub code: String,
    /// A sentence for the log.
    pub message: String,
}

/// Whether a response status should be retried later (network-like) rather than given up on.
pub fn is_transient(status: u16) -> bool {
    matches!(status, 408 | 409 | 425 | 429) || status >= 500
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_lowercase_sha256_and_etags_are_quoted() {
        let a = sha256_hex(b"abc");
        assert_eq!(
            a,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(is_sha256_hex(&a));
        assert!(!is_sha256_hex(&a.to_uppercase()));
        assert!(!is_sha256_hex("../etc/passwd"));
        assert_eq!(etag_of(b"abc"), format!("\"{a}\""));
    }

    #[test]
    fn only_network_like_statuses_are_retried() {
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(is_transient(s), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422] {
            assert!(!is_transient(s), "{s}");
        }
    }
}
