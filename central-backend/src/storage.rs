//! The backend's storage, behind a trait so that a PostgreSQL store can follow; SQLite (WAL,
//! `synchronous=FULL`) by default, with page images as content-addressed files beside it.
//!
//! Every answer the server gives (a 2xx for a page or an application) follows a durable commit:
//! a page's file is fsynced and renamed before its `PUT` is answered; an application's row, its
//! pages list and its stored answer are one transaction.

use application::Status;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use sync_protocol::{
    Command, CommandKind, CommandState, Heartbeat, Receipt, ReviewResult, Submission,
    SupplementSubmission,
};

/// Why storage failed. The server answers 500 (retry) for all of these.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The file system failed.
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    /// No such application.
    #[error("no application {0}")]
    NotFound(String),
    /// A stored value does not parse.
    #[error("stored data: {0}")]
    Corrupt(String),
}

/// What the start of an idempotent submission found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// New: the caller processes it and calls [`Storage::complete`].
    New,
    /// Seen with the same payload: the stored answer.
    Replay(Receipt),
    /// Seen with another payload.
    Changed,
    /// Another request with this key is being processed now.
    InProgress,
}

/// An application as `applications list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    /// Its number.
    pub id: String,
    /// Its number (the kiosk's, printed on the receipt).
    pub number: String,
    /// The device that sent it.
    pub device: String,
    /// The central case id.
    pub case: String,
    /// SHA-256 of each page, in order.
    pub pages: Vec<String>,
    /// The latest status.
    pub status: String,
    /// When it arrived, ms since the epoch.
    pub received_at_ms: i64,
}

/// A kiosk as the fleet view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetEntry {
    /// The device.
    pub device: String,
    /// When its last heartbeat arrived, ms since the epoch.
    pub seen_at_ms: i64,
    /// The heartbeat.
    pub heartbeat: serde_json::Value,
}

/// The backend's storage.
pub trait Storage: Send + Sync + 'static {
    /// Whether a page with this digest is stored.
    fn has_page(&self, sha256: &str) -> Result<bool, StorageError>;
    /// Stores a verified page durably (once).
    fn put_page(&self, sha256: &str, bytes: &[u8]) -> Result<(), StorageError>;
    /// Starts processing a submission with this key, unless it was seen before.
    fn begin(&self, device: &str, key: &str, payload_sha256: &str) -> Result<Begin, StorageError>;
    /// Stores the application and the answer for its key, in one transaction.
    fn complete(
        &self,
        device: &str,
        key: &str,
        submission: &Submission,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Receipt, StorageError>;
    /// Stores corrections for an application the device took, and the answer for their key, in
    /// one transaction; the application goes back to review. `NotFound` when the device has no
    /// such application.
    fn complete_supplement(
        &self,
        device: &str,
        key: &str,
        supplement: &SupplementSubmission,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Receipt, StorageError>;
    /// Forgets an in-progress key after a failure, so a retry can start afresh.
    fn abandon(&self, device: &str, key: &str) -> Result<(), StorageError>;
    /// Review results for a device after a cursor.
    fn results_after(
        &self,
        device: &str,
        cursor: u64,
        limit: u32,
    ) -> Result<Vec<ReviewResult>, StorageError>;
    /// Records a reviewer's decision; it is sent to the kiosk that took the application.
    fn decide(
        &self,
        number: &str,
        status: &Status,
        now_ms: i64,
    ) -> Result<ReviewResult, StorageError>;
    /// Every application, oldest first.
    fn applications(&self) -> Result<Vec<Listed>, StorageError>;
    /// One application's stored submission.
    fn application(&self, number: &str) -> Result<serde_json::Value, StorageError>;
    /// Records a heartbeat; returns the device's commands not yet acknowledged as received.
    fn heartbeat(
        &self,
        device: &str,
        heartbeat: &Heartbeat,
        now_ms: i64,
    ) -> Result<Vec<Command>, StorageError>;
    /// Queues a command for a device.
    fn add_command(
        &self,
        device: &str,
        kind: CommandKind,
        now_ms: i64,
    ) -> Result<u64, StorageError>;
    /// Records a command's acknowledgement; false when the device has no such command.
    fn ack_command(&self, device: &str, id: u64, state: CommandState)
    -> Result<bool, StorageError>;
    /// Every command: id, device, kind, state.
    fn commands(&self) -> Result<Vec<(u64, String, String, String)>, StorageError>;
    /// The fleet: each device's last heartbeat.
    fn fleet(&self) -> Result<Vec<FleetEntry>, StorageError>;
    /// Publishes a document (`catalogue` or `config`); returns its ETag.
    fn publish(&self, name: &str, bytes: &[u8], now_ms: i64) -> Result<String, StorageError>;
    /// The published document and its ETag.
    fn published(&self, name: &str) -> Result<Option<(String, Vec<u8>)>, StorageError>;
    /// Stores a device's log bundle (the same name again replaces it), keeping only the
    /// device's [`LOG_BUNDLES_KEPT`] newest.
    fn put_logs(
        &self,
        device: &str,
        name: &str,
        bytes: &[u8],
        now_ms: i64,
    ) -> Result<(), StorageError>;
    /// Every log bundle received, newest first.
    fn logs(&self) -> Result<Vec<LogBundle>, StorageError>;
    /// One log bundle's bytes.
    fn log(&self, device: &str, name: &str) -> Result<Option<Vec<u8>>, StorageError>;
}

/// How many log bundles are kept per device: enough for a technician to compare before and
/// after, while a kiosk asked again and again cannot fill the server's disk.
pub const LOG_BUNDLES_KEPT: usize = 5;

/// A log bundle a kiosk sent when asked to (`collect_logs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogBundle {
    /// The device.
    pub device: String,
    /// The bundle's name.
    pub name: String,
    /// Its size.
    pub bytes: usize,
    /// When it arrived, ms since the epoch.
    pub received_at_ms: i64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS submissions (
    device TEXT NOT NULL,
    key TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    receipt TEXT,
    PRIMARY KEY (device, key)
) STRICT;
CREATE TABLE IF NOT EXISTS applications (
    number TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    case_id TEXT NOT NULL UNIQUE,
    received_ms INTEGER NOT NULL,
    status TEXT NOT NULL,
    body BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS application_pages (
    number TEXT NOT NULL REFERENCES applications (number),
    position INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (number, position)
) STRICT;
CREATE TABLE IF NOT EXISTS supplements (
    number TEXT NOT NULL REFERENCES applications (number),
    n INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (number, n)
) STRICT;
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    number TEXT NOT NULL,
    status TEXT NOT NULL,
    at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS results_by_device ON results (device, seq);
CREATE TABLE IF NOT EXISTS heartbeats (
    device TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'received', 'done'))
) STRICT;
CREATE TABLE IF NOT EXISTS published (
    name TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    body BLOB NOT NULL,
    at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS logs (
    device TEXT NOT NULL,
    name TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (device, name)
) STRICT;
";

/// SQLite storage in a data directory: `central.db` and `pages/`.
pub struct SqliteStorage {
    conn: Mutex<Connection>,
    pages: PathBuf,
    /// Two uploads of the same page must not share a temporary file: writes are serialised
    /// per digest stripe, different pages still go in parallel.
    page_locks: [Mutex<()>; 16],
}

fn lock(m: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SqliteStorage {
    /// Opens (creating if need be) the storage in `dir` for the server. In-progress
    /// submissions of a previous run are forgotten: their requests died with it.
    pub fn open_for_server(dir: &Path) -> Result<Self, StorageError> {
        let storage = SqliteStorage::open(dir)?;
        lock(&storage.conn).execute("DELETE FROM submissions WHERE state = 'in_progress'", [])?;
        durable_fs::remove_leftovers(&storage.pages)?;
        Ok(storage)
    }

    /// Opens (creating if need be) the storage in `dir`, beside a running server (for the
    /// command line's decisions and publishing).
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        durable_fs::create_dir_all(&dir.join("pages"))?;
        let conn = Connection::open(dir.join("central.db"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
            pages: dir.join("pages"),
            page_locks: Default::default(),
        })
    }

    /// Opens the storage read-only, beside a running server (for the command line).
    pub fn open_read_only(dir: &Path) -> Result<Self, StorageError> {
        let conn =
            Connection::open_with_flags(dir.join("central.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
            pages: dir.join("pages"),
            page_locks: Default::default(),
        })
    }

    fn page_path(&self, sha256: &str) -> PathBuf {
        self.pages.join(sha256)
    }
}

fn status_name(status: &Status) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| {
            v.get("status")
                .and_then(|s| s.as_str())
                .map(str::to_owned)
                .or_else(|| v.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Stores the answer for an idempotency key, in the transaction that stored what it answers.
fn answered(
    tx: &rusqlite::Transaction<'_>,
    device: &str,
    key: &str,
    receipt: &Receipt,
) -> Result<(), StorageError> {
    tx.execute(
        "UPDATE submissions SET state = 'done', receipt = ?3 WHERE device = ?1 AND key = ?2",
        params![
            device,
            key,
            serde_json::to_string(receipt).unwrap_or_default()
        ],
    )?;
    Ok(())
}

impl Storage for SqliteStorage {
    fn has_page(&self, sha256: &str) -> Result<bool, StorageError> {
        Ok(self.page_path(sha256).is_file())
    }

    fn put_page(&self, sha256: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let stripe = usize::from(sha256.as_bytes().first().copied().unwrap_or(0) % 16);
        let _guard = self.page_locks[stripe]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if self.has_page(sha256)? {
            return Ok(());
        }
        durable_fs::write_atomic(&self.page_path(sha256), bytes)?;
        Ok(())
    }

    fn begin(&self, device: &str, key: &str, payload_sha256: &str) -> Result<Begin, StorageError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seen: Option<(String, String, Option<String>)> = tx
            .query_row(
                "SELECT payload_sha256, state, receipt FROM submissions WHERE device = ?1 AND key = ?2",
                params![device, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let begin = match seen {
            Some((sha, _, _)) if sha != payload_sha256 => Begin::Changed,
            Some((_, state, _)) if state == "in_progress" => Begin::InProgress,
            Some((_, _, receipt)) => Begin::Replay(
                serde_json::from_str(receipt.as_deref().unwrap_or(""))
                    .map_err(|e| StorageError::Corrupt(format!("stored answer: {e}")))?,
            ),
            None => {
                tx.execute(
                    "INSERT INTO submissions (device, key, payload_sha256, state)
                     VALUES (?1, ?2, ?3, 'in_progress')",
                    params![device, key, payload_sha256],
                )?;
                Begin::New
            }
        };
        tx.commit()?;
        Ok(begin)
    }

    fn complete(
        &self,
        device: &str,
        key: &str,
        submission: &Submission,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Receipt, StorageError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let number = submission.application.number.to_string();
        let case = format!(
            "CASE-{}",
            &sync_protocol::sha256_hex(format!("{device}/{number}").as_bytes())[..16]
        );
        let receipt = Receipt {
            number: number.clone(),
            case: case.clone(),
            received_at_ms: now_ms,
        };
        tx.execute(
            "INSERT INTO applications (number, device, case_id, received_ms, status, body)
             VALUES (?1, ?2, ?3, ?4, 'delivered', ?5)",
            params![number, device, case, now_ms, payload],
        )?;
        for (position, page) in submission.pages.iter().enumerate() {
            tx.execute(
                "INSERT INTO application_pages (number, position, sha256) VALUES (?1, ?2, ?3)",
                params![number, position as i64, page.sha256],
            )?;
        }
        answered(&tx, device, key, &receipt)?;
        tx.commit()?;
        Ok(receipt)
    }

    fn complete_supplement(
        &self,
        device: &str,
        key: &str,
        supplement: &SupplementSubmission,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Receipt, StorageError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let number = supplement.number.as_str();
        let case: String = tx
            .query_row(
                "SELECT case_id FROM applications WHERE number = ?1 AND device = ?2",
                params![number, device],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StorageError::NotFound(number.to_owned()))?;
        tx.execute(
            "INSERT INTO supplements (number, n, received_ms, body) VALUES (?1, ?2, ?3, ?4)",
            params![number, supplement.supplement.n, now_ms, payload],
        )?;
        // Back to review, unless the reviewer has moved on meanwhile: then it is kept for them.
        tx.execute(
            "UPDATE applications SET status = 'supplied'
             WHERE number = ?1 AND status = 'corrections_needed'",
            [number],
        )?;
        let receipt = Receipt {
            number: number.to_owned(),
            case,
            received_at_ms: now_ms,
        };
        answered(&tx, device, key, &receipt)?;
        tx.commit()?;
        Ok(receipt)
    }

    fn abandon(&self, device: &str, key: &str) -> Result<(), StorageError> {
        lock(&self.conn).execute(
            "DELETE FROM submissions WHERE device = ?1 AND key = ?2 AND state = 'in_progress'",
            params![device, key],
        )?;
        Ok(())
    }

    fn results_after(
        &self,
        device: &str,
        cursor: u64,
        limit: u32,
    ) -> Result<Vec<ReviewResult>, StorageError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(
            "SELECT seq, number, status, at_ms FROM results WHERE device = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![device, cursor as i64, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, number, status, at_ms) = row?;
            out.push(ReviewResult {
                seq: seq as u64,
                number,
                status: serde_json::from_str(&status)
                    .map_err(|e| StorageError::Corrupt(format!("result {seq}: {e}")))?,
                at_ms,
            });
        }
        Ok(out)
    }

    fn decide(
        &self,
        number: &str,
        status: &Status,
        now_ms: i64,
    ) -> Result<ReviewResult, StorageError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let device: String = tx
            .query_row(
                "SELECT device FROM applications WHERE number = ?1",
                [number],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StorageError::NotFound(number.to_owned()))?;
        let json = serde_json::to_string(status).unwrap_or_default();
        tx.execute(
            "INSERT INTO results (device, number, status, at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![device, number, json, now_ms],
        )?;
        let seq = tx.last_insert_rowid() as u64;
        tx.execute(
            "UPDATE applications SET status = ?2 WHERE number = ?1",
            params![number, status_name(status)],
        )?;
        tx.commit()?;
        Ok(ReviewResult {
            seq,
            number: number.to_owned(),
            status: status.clone(),
            at_ms: now_ms,
        })
    }

    fn applications(&self) -> Result<Vec<Listed>, StorageError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare(
            "SELECT a.number, a.device, a.case_id, a.status, a.received_ms,
                    COALESCE((SELECT json_group_array(sha256) FROM
                        (SELECT sha256 FROM application_pages p WHERE p.number = a.number
                         ORDER BY position)), '[]')
             FROM applications a ORDER BY a.received_ms, a.number",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (number, device, case, status, received_at_ms, pages) = row?;
            out.push(Listed {
                id: number.clone(),
                number,
                device,
                case,
                pages: serde_json::from_str(&pages)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?,
                status,
                received_at_ms,
            });
        }
        Ok(out)
    }

    fn application(&self, number: &str) -> Result<serde_json::Value, StorageError> {
        let conn = lock(&self.conn);
        let body: Vec<u8> = conn
            .query_row(
                "SELECT body FROM applications WHERE number = ?1",
                [number],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StorageError::NotFound(number.to_owned()))?;
        let corrupt = |e: serde_json::Error| StorageError::Corrupt(e.to_string());
        let mut shown: serde_json::Value = serde_json::from_slice(&body).map_err(corrupt)?;
        let supplements = conn
            .prepare("SELECT body FROM supplements WHERE number = ?1 ORDER BY n")?
            .query_map([number], |r| r.get::<_, Vec<u8>>(0))?
            .map(|b| serde_json::from_slice::<serde_json::Value>(&b?).map_err(corrupt))
            .collect::<Result<Vec<_>, StorageError>>()?;
        if let Some(o) = shown.as_object_mut() {
            o.insert("supplements".into(), supplements.into());
        }
        Ok(shown)
    }

    fn heartbeat(
        &self,
        device: &str,
        heartbeat: &Heartbeat,
        now_ms: i64,
    ) -> Result<Vec<Command>, StorageError> {
        let conn = lock(&self.conn);
        conn.execute(
            "INSERT INTO heartbeats (device, at_ms, body) VALUES (?1, ?2, ?3)
             ON CONFLICT (device) DO UPDATE SET at_ms = excluded.at_ms, body = excluded.body",
            params![
                device,
                now_ms,
                serde_json::to_string(heartbeat).unwrap_or_default()
            ],
        )?;
        let mut stmt = conn.prepare(
            "SELECT id, kind FROM commands WHERE device = ?1 AND state = 'queued' ORDER BY id",
        )?;
        let rows = stmt.query_map([device], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, kind) = row?;
            let kind = serde_json::from_value(serde_json::Value::String(kind.clone()))
                .map_err(|_| StorageError::Corrupt(format!("command kind {kind}")))?;
            out.push(Command {
                id: id as u64,
                kind,
            });
        }
        Ok(out)
    }

    fn add_command(
        &self,
        device: &str,
        kind: CommandKind,
        now_ms: i64,
    ) -> Result<u64, StorageError> {
        let conn = lock(&self.conn);
        let kind = serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        conn.execute(
            "INSERT INTO commands (device, kind, created_ms) VALUES (?1, ?2, ?3)",
            params![device, kind, now_ms],
        )?;
        Ok(conn.last_insert_rowid() as u64)
    }

    fn ack_command(
        &self,
        device: &str,
        id: u64,
        state: CommandState,
    ) -> Result<bool, StorageError> {
        let state = match state {
            CommandState::Received => "received",
            CommandState::Done => "done",
        };
        // Never backwards: a late `received` does not undo `done`.
        let changed = lock(&self.conn).execute(
            "UPDATE commands SET state = ?3 WHERE id = ?1 AND device = ?2
                 AND NOT (state = 'done' AND ?3 = 'received')",
            params![id as i64, device, state],
        )?;
        let exists: bool = lock(&self.conn).query_row(
            "SELECT EXISTS (SELECT 1 FROM commands WHERE id = ?1 AND device = ?2)",
            params![id as i64, device],
            |r| r.get(0),
        )?;
        Ok(changed > 0 || exists)
    }

    fn commands(&self) -> Result<Vec<(u64, String, String, String)>, StorageError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare("SELECT id, device, kind, state FROM commands ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn fleet(&self) -> Result<Vec<FleetEntry>, StorageError> {
        let conn = lock(&self.conn);
        let mut stmt =
            conn.prepare("SELECT device, at_ms, body FROM heartbeats ORDER BY device")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, seen_at_ms, body) = row?;
            out.push(FleetEntry {
                device,
                seen_at_ms,
                heartbeat: serde_json::from_str(&body)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?,
            });
        }
        Ok(out)
    }

    fn publish(&self, name: &str, bytes: &[u8], now_ms: i64) -> Result<String, StorageError> {
        let etag = sync_protocol::etag_of(bytes);
        lock(&self.conn).execute(
            "INSERT INTO published (name, etag, body, at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET etag = excluded.etag, body = excluded.body,
                 at_ms = excluded.at_ms",
            params![name, etag, bytes, now_ms],
        )?;
        Ok(etag)
    }

    fn published(&self, name: &str) -> Result<Option<(String, Vec<u8>)>, StorageError> {
        Ok(lock(&self.conn)
            .query_row(
                "SELECT etag, body FROM published WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn put_logs(
        &self,
        device: &str,
        name: &str,
        bytes: &[u8],
        now_ms: i64,
    ) -> Result<(), StorageError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO logs (device, name, received_ms, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device, name) DO UPDATE SET received_ms = excluded.received_ms,
                 body = excluded.body",
            params![device, name, now_ms, bytes],
        )?;
        tx.execute(
            "DELETE FROM logs WHERE device = ?1 AND rowid NOT IN (
                 SELECT rowid FROM logs WHERE device = ?1
                 ORDER BY received_ms DESC, rowid DESC LIMIT ?2)",
            params![device, LOG_BUNDLES_KEPT as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn logs(&self) -> Result<Vec<LogBundle>, StorageError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare(
            "SELECT device, name, length(body), received_ms FROM logs
             ORDER BY received_ms DESC, device, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(LogBundle {
                device: r.get(0)?,
                name: r.get(1)?,
                bytes: r.get::<_, i64>(2)? as usize,
                received_at_ms: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn log(&self, device: &str, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(lock(&self.conn)
            .query_row(
                "SELECT body FROM logs WHERE device = ?1 AND name = ?2",
                [device, name],
                |r| r.get(0),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_each_devices_newest_log_bundles_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStorage::open_for_server(dir.path()).unwrap();
        for i in 0..LOG_BUNDLES_KEPT + 2 {
            s.put_logs("10001", &format!("logs-{i}.json"), b"x", i as i64)
                .unwrap();
        }
        s.put_logs("10002", "logs-0.json", b"y", 0).unwrap();
        // The same name again replaces the bundle and makes it the newest.
        s.put_logs("10001", "logs-2.json", b"again", 100).unwrap();
        let kept: Vec<(String, String)> = s
            .logs()
            .unwrap()
            .into_iter()
            .map(|b| (b.device, b.name))
            .collect();
        let names = |device: &str| -> Vec<&str> {
            kept.iter()
                .filter(|(d, _)| d == device)
                .map(|(_, n)| n.as_str())
                .collect()
        };
        assert_eq!(
            names("10001"),
            [
                "logs-2.json",
                "logs-6.json",
                "logs-5.json",
                "logs-4.json",
                "logs-3.json"
            ]
        );
        assert_eq!(names("10002"), ["logs-0.json"]);
        assert_eq!(
            s.log("10001", "logs-2.json").unwrap().as_deref(),
            Some(&b"again"[..])
        );
        assert_eq!(s.log("10001", "logs-0.json").unwrap(), None);
    }

    #[test]
    fn a_key_is_new_once_then_in_progress_then_replayed_and_a_changed_payload_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStorage::open_for_server(dir.path()).unwrap();
        assert_eq!(s.begin("10001", "k1", "aa").unwrap(), Begin::New);
        assert_eq!(s.begin("10001", "k1", "aa").unwrap(), Begin::InProgress);
        assert_eq!(s.begin("10001", "k1", "bb").unwrap(), Begin::Changed);
        assert_eq!(
            s.begin("20001", "k1", "aa").unwrap(),
            Begin::New,
            "keys are per device"
        );
        s.abandon("10001", "k1").unwrap();
        assert_eq!(s.begin("10001", "k1", "aa").unwrap(), Begin::New);
        drop(s);
        let s = SqliteStorage::open_for_server(dir.path()).unwrap();
        assert_eq!(
            s.begin("10001", "k1", "aa").unwrap(),
            Begin::New,
            "a restart forgets requests that died with the old process"
        );
    }
}
