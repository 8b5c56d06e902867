//! The audit trail (电子监察): an append-only log of typed events, each entry's MAC covering the
//! previous entry's MAC, so an entry removed, reordered or altered breaks the chain. The MAC key
//! comes from the store's master key, so the chain cannot be rebuilt by someone who only has the
//! database file. The head (last sequence and MAC) is also kept in `meta`, in the same
//! transaction, so cutting entries off the end is detected too, unless the head is set back as
//! well: an older head is a genuine pair, so that cut shows only against a copy kept elsewhere
//! (the head the kiosk reports to the central office).
//!
//! Events carry no personal data: application numbers, item codes and counts only.

use crate::StoreError;
use crate::crypto::Keys;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

/// Every event the kiosk records. Each variant's documentation is the event's documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AuditEvent {
    /// The store was opened; its schema version and how many half-written page files of an
    /// interrupted submission were cleared.
    StoreOpened {
        /// Schema version.
        schema: u32,
        /// Leftover temporary and unreferenced page files removed.
        leftovers: usize,
    },
    /// An application was durably saved, with its outbox entry.
    ApplicationSaved {
        /// Its number.
        number: String,
        /// Item codes filed.
        items: Vec<String>,
        /// Pages captured.
        pages: u32,
        /// Materials reused from earlier applications.
        reused: Vec<String>,
        /// Materials missing under 容缺.
        missing: Vec<String>,
    },
    /// Corrections for an application were durably saved, with their own outbox entry.
    SupplementSaved {
        /// The application's number.
        number: String,
        /// The supplement's position, from 1.
        n: u32,
        /// Fields corrected (their ids, never their values).
        fields: Vec<String>,
        /// Pages captured again.
        pages: u32,
    },
    /// The central office received corrections supplied at the kiosk.
    SupplementDelivered {
        /// The application's number.
        number: String,
        /// The supplement's position.
        n: u32,
    },
    /// A submission was refused because the disk is nearly full; nothing was saved.
    DiskFull {
        /// Bytes free.
        free_bytes: u64,
        /// Bytes the store keeps in reserve.
        reserve_bytes: u64,
    },
    /// The central office received an application.
    Delivered {
        /// Its number.
        number: String,
    },
    /// The central office refused an application for good; it waits in the dead-letter state
    /// for a technician or the central office.
    DeliveryRefused {
        /// Its number.
        number: String,
        /// The server's reason.
        reason: String,
    },
    /// A dead letter was queued again by a technician.
    Requeued {
        /// Its number.
        number: String,
    },
    /// A remote command from the central office was received.
    CommandReceived {
        /// The server's id.
        id: u64,
        /// What it asks.
        kind: String,
    },
    /// A remote command was carried out.
    CommandDone {
        /// The server's id.
        id: u64,
    },
    /// An application's status changed.
    StatusChanged {
        /// Its number.
        number: String,
        /// The new status.
        status: String,
    },
    /// A citizen's session began: a card was read.
    SessionStarted,
    /// A session reached a screen (人过留迹: every step leaves a trace).
    Step {
        /// The screen's name, as in the headless protocol.
        screen: String,
    },
    /// Items were chosen for a new application.
    ItemsChosen {
        /// The bundle, if one was chosen.
        bundle: Option<String>,
        /// Item codes.
        items: Vec<String>,
    },
    /// A session ended.
    SessionEnded {
        /// `completed`, `cancelled`, `timed_out` or `card_changed`.
        outcome: String,
        /// The last screen before the end.
        screen: String,
        /// How long it lasted, ms.
        duration_ms: i64,
    },
    /// The service was rated (好差评).
    Rated {
        /// The application rated, if one was filed.
        number: Option<String>,
        /// 1 to 5.
        stars: u8,
    },
    /// A result was handed out at the kiosk.
    ResultCollected {
        /// The application.
        number: String,
        /// `dispenser` or `kiosk_print`.
        delivery: String,
    },
    /// Maintenance mode was entered.
    MaintenanceEntered {
        /// `pin` or `card`.
        how: String,
    },
    /// A way into maintenance mode was refused.
    MaintenanceRefused {
        /// `pin`, `card` or `locked` (a PIN tried while locked out).
        how: String,
    },
    /// Too many wrong PINs: the PIN is locked.
    MaintenanceLockedOut {
        /// Until when, ms since the epoch.
        until_ms: i64,
    },
    /// A technician's action in maintenance mode.
    MaintenanceAction {
        /// The action (`self_test`, `refilled`, `out_of_service`, `export_diagnostics`, …).
        action: String,
        /// Its subject (the device or supply), if any.
        subject: Option<String>,
    },
    /// Maintenance mode was left.
    MaintenanceLeft {
        /// `left` or `timed_out`.
        outcome: String,
    },
    /// A device became unusable or usable again.
    DeviceChanged {
        /// The device.
        device: String,
        /// Usable now?
        usable: bool,
        /// Why not.
        reason: Option<String>,
    },
    /// The kiosk went out of service or back in.
    ServiceChanged {
        /// Why it is out of service, or `None` when back in.
        reason: Option<String>,
    },
    /// Delivered applications past retention, and stored materials past validity, were erased.
    Purged {
        /// Application numbers erased.
        applications: Vec<String>,
        /// Stored materials erased.
        materials: u32,
    },
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum ChainCheck {
    /// Every entry is in place and unaltered.
    Ok {
        /// Entries checked.
        entries: u64,
    },
    /// The chain is broken at this entry.
    Broken {
        /// The first entry that does not check.
        at_seq: u64,
        /// How.
        reason: String,
    },
}

const HEAD: &str = "audit_head";

/// Appends `event` in the caller's transaction.
pub(crate) fn append(
    tx: &Transaction<'_>,
    keys: &Keys,
    at_ms: i64,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let (seq, prev) = head(tx)?;
    let seq = seq + 1;
    let json = serde_json::to_string(event).map_err(|e| StoreError::Sealed(e.to_string()))?;
    let mac = keys.audit_mac(&[
        &prev,
        &seq.to_be_bytes(),
        &at_ms.to_be_bytes(),
        json.as_bytes(),
    ]);
    tx.execute(
        "INSERT INTO audit (seq, at_ms, event, mac) VALUES (?1, ?2, ?3, ?4)",
        params![seq as i64, at_ms, json, mac],
    )?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![HEAD, format!("{seq}:{}", hex::encode(&mac))],
    )?;
    Ok(())
}

fn head(tx: &rusqlite::Connection) -> Result<(u64, Vec<u8>), StoreError> {
    let value: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [HEAD], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(value) = value else {
        return Ok((0, Vec::new()));
    };
    let garbled = || StoreError::Corrupt("the audit head is garbled".into());
    let (seq, mac) = value.split_once(':').ok_or_else(garbled)?;
    Ok((
        seq.parse().map_err(|_| garbled())?,
        hex::decode(mac).map_err(|_| garbled())?,
    ))
}

/// Checks the whole chain.
/// The events recorded since `since_ms`, oldest first, with their times. An event this build
/// does not know is skipped.
pub(crate) fn since(
    conn: &rusqlite::Connection,
    since_ms: i64,
) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT at_ms, event FROM audit WHERE at_ms >= ?1 ORDER BY seq")?;
    let rows = stmt.query_map([since_ms], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (at_ms, event) = row?;
        if let Ok(event) = serde_json::from_str(&event) {
            out.push((at_ms, event));
        }
    }
    Ok(out)
}

pub(crate) fn verify(conn: &rusqlite::Connection, keys: &Keys) -> Result<ChainCheck, StoreError> {
    let mut stmt = conn.prepare("SELECT seq, at_ms, event, mac FROM audit ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut prev: Vec<u8> = Vec::new();
    let mut expected = 1u64;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let at_ms: i64 = row.get(1)?;
        let event: String = row.get(2)?;
        let mac: Vec<u8> = row.get(3)?;
        let seq = seq as u64;
        if seq != expected {
            return Ok(ChainCheck::Broken {
                at_seq: expected,
                reason: format!("entry {expected} is missing"),
            });
        }
        let want = keys.audit_mac(&[
            &prev,
            &seq.to_be_bytes(),
            &at_ms.to_be_bytes(),
            event.as_bytes(),
        ]);
        if want != mac {
            return Ok(ChainCheck::Broken {
                at_seq: seq,
                reason: format!("entry {seq} was altered"),
            });
        }
        if serde_json::from_str::<AuditEvent>(&event).is_err() {
            return Ok(ChainCheck::Broken {
                at_seq: seq,
                reason: format!("entry {seq} is not a known event"),
            });
        }
        prev = mac;
        expected += 1;
    }
    let (head_seq, head_mac) = head(conn)?;
    if head_seq != expected - 1 || head_mac != prev {
        return Ok(ChainCheck::Broken {
            at_seq: expected,
            reason: format!(
                "the log ends at entry {} but entry {head_seq} was written",
                expected - 1
            ),
        });
    }
    Ok(ChainCheck::Ok {
        entries: expected - 1,
    })
}
