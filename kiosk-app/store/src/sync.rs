//! The sync agent's side of the store. The agent is its own process: it opens the same
//! database through its own connection, while the kiosk's [`crate::Store`] keeps the
//! application writer's lock. SQLite serialises the two writers (WAL, `BEGIN IMMEDIATE`, a busy
//! timeout); each of the agent's writes is one short transaction.
//!
//! An outbox entry moves `pending` → `inflight` (leased) → `delivered`, or back to `pending`
//! with a later `next_attempt_ms` on a transient failure, or to `dead` when the server refuses
//! it for good. `sync.lock` admits one agent per data directory, so at start every `inflight`
//! lease is a dead agent's and is taken back at once.

use crate::StoreError;
use crate::audit::{self, AuditEvent};
use crate::crypto::{KeySource, Keys};
use crate::store::{
    DB_FILE, PAGES_DIR, PageImage, apply_status, load_application, lock_file, meta, quick_check,
    read_pages, set_meta, stored_cipher,
};
use application::{Application, ApplicationNumber, Status};
use nix::fcntl::Flock;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The results cursor in `meta`: advanced in the transaction that applies the results.
const CURSOR: &str = "sync_results_cursor";

/// An outbox entry leased for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The outbox entry.
    pub id: String,
    /// The application.
    pub number: ApplicationNumber,
    /// What is sent: 0 the application itself, N its Nth supplement of corrections.
    pub part: u32,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// The outbox's counts, for `kioskctl sync status` and the heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueCounts {
    /// Waiting to be sent.
    pub pending: u64,
    /// Leased by the agent now.
    pub in_flight: u64,
    /// Delivered.
    pub delivered: u64,
    /// Refused for good.
    pub dead: u64,
    /// Age of the oldest entry not yet delivered (dead ones included), seconds.
    pub oldest_pending_age_s: Option<f64>,
}

/// A remote command kept until carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCommand {
    /// The server's id.
    pub id: u64,
    /// Its kind, as the server named it.
    pub kind: String,
    /// Carried out?
    pub done: bool,
    /// What the server has been told: `none`, `received` or `done`.
    pub acked: String,
}

/// The sync agent's handle on the store.
pub struct SyncDb {
    conn: Connection,
    keys: Arc<Keys>,
    data_dir: PathBuf,
    _lock: Flock<File>,
}

/// Reads applications and their pages for sending, through a connection of its own: the
/// agent prepares several deliveries at once (decrypting and hashing on every core) while
/// [`SyncDb`]'s connection is busy with a durable commit. WAL lets it read what is committed.
pub struct Payloads {
    conn: std::sync::Mutex<Connection>,
    keys: Arc<Keys>,
    dir: PathBuf,
}

impl Payloads {
    /// The application as it is stored, and the page images of the part sent (the
    /// application's own, or its supplement's) in the order the record lists them. Only the
    /// record is read under this reader's lock.
    pub fn read(
        &self,
        number: &ApplicationNumber,
        part: u32,
    ) -> Result<(Application, Vec<PageImage>), StoreError> {
        let application = {
            let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            load_application(&conn, &self.keys, number)?
        };
        let materials = match part {
            0 => &application.draft.materials,
            n => {
                &application
                    .supplement(n)
                    .ok_or_else(|| StoreError::NotFound(format!("{number} supplement {n}")))?
                    .materials
            }
        };
        let pages = read_pages(&self.keys, &self.dir, materials)?;
        Ok((application, pages))
    }
}

impl SyncDb {
    /// Opens the kiosk's store for delivery. The store must exist (`kioskctl db init`); a
    /// second agent on the same directory gets [`StoreError::Busy`]. Leases left by a killed
    /// agent are released.
    pub fn open(data_dir: &Path, key: &dyn KeySource) -> Result<SyncDb, StoreError> {
        let db = data_dir.join(DB_FILE);
        if !db.is_file() {
            return Err(StoreError::NotInitialised(data_dir.display().to_string()));
        }
        let lock = lock_file(data_dir, "sync.lock")?;
        let master = key.master_key()?;
        let mut conn =
            Connection::open_with_flags(&db, OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        quick_check(&conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        crate::schema::migrate(&mut conn)?;
        let cipher = stored_cipher(&conn)?
            .ok_or_else(|| StoreError::Corrupt("the store names no cipher".into()))?;
        let keys = Arc::new(Keys::derive(&master, cipher));
        let db = SyncDb {
            conn,
            keys,
            data_dir: data_dir.to_path_buf(),
            _lock: lock,
        };
        let released = db.conn.execute(
            "UPDATE outbox SET state = 'pending', lease_until_ms = NULL WHERE state = 'inflight'",
            [],
        )?;
        if released > 0 {
            tracing::warn!(released, "took back the leases of an agent that stopped");
        }
        Ok(db)
    }

    /// Leases up to `limit` entries that are due, oldest due first, until `now + lease_ms`.
    /// An entry that keeps failing backs off, so those behind it are not held up; none is ever
    /// given up on while its failures are transient.
    pub fn take(&mut self, now_ms: i64, lease_ms: i64, limit: u32) -> Result<Vec<Job>, StoreError> {
        // A lease need not survive a crash (the next agent takes every lease back at start), so
        // it is not fsynced; the next durable commit carries it to disk anyway.
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let jobs = self.lease(now_ms, lease_ms, limit);
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        jobs
    }

    fn lease(&mut self, now_ms: i64, lease_ms: i64, limit: u32) -> Result<Vec<Job>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Expired leases first (they are the most overdue), then what is due in order. Two
        // queries, each read off its index in order: one OR-ed query sorted the whole queue.
        let mut rows: Vec<(String, String, u32, u32)> = Vec::new();
        for sql in [
            "SELECT id, application, part, attempts FROM outbox
             WHERE state = 'inflight' AND lease_until_ms < ?1 ORDER BY lease_until_ms LIMIT ?2",
            "SELECT id, application, part, attempts FROM outbox
             WHERE state = 'pending' AND next_attempt_ms <= ?1
             ORDER BY next_attempt_ms, created_ms LIMIT ?2",
        ] {
            let left = limit - rows.len() as u32;
            rows.extend(
                tx.prepare_cached(sql)?
                    .query_map(params![now_ms, left], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        let mut jobs = Vec::with_capacity(rows.len());
        for (id, number, part, attempts) in rows {
            tx.execute(
                "UPDATE outbox SET state = 'inflight', lease_until_ms = ?2 WHERE id = ?1",
                params![id, now_ms + lease_ms],
            )?;
            let number = ApplicationNumber::parse(&number)
                .map_err(|e| StoreError::Corrupt(format!("outbox names {number}: {e}")))?;
            jobs.push(Job {
                id,
                number,
                part,
                attempts,
            });
        }
        tx.commit()?;
        Ok(jobs)
    }

    /// A reader of what is to be sent, with its own connection.
    pub fn payloads(&self) -> Result<Payloads, StoreError> {
        let conn = Connection::open_with_flags(
            self.data_dir.join(DB_FILE),
            OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(Payloads {
            conn: std::sync::Mutex::new(conn),
            keys: self.keys.clone(),
            dir: self.data_dir.join(PAGES_DIR),
        })
    }

    /// Records the server's acceptance of each job: the entries are delivered and the
    /// applications' histories say so (a supplement's entry is closed and audited; the
    /// history already says `Supplied`), in one durable transaction (a group commit: one fsync
    /// for all that finished together). Losing it to a crash only means sending again, which
    /// the server answers from its stored reply.
    pub fn delivered(&mut self, jobs: &[Job], now_ms: i64) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for job in jobs {
            let state: Option<String> = tx
                .query_row("SELECT state FROM outbox WHERE id = ?1", [&job.id], |r| {
                    r.get(0)
                })
                .optional()?;
            if state.as_deref() == Some("delivered") {
                continue;
            }
            // The history says `Delivered` once, right after `Saved`: a repeat acknowledged
            // after review results (or a supplement) arrived must not set it back.
            let first = job.part == 0
                && load_application(&tx, &self.keys, &job.number)?.status() == Some(&Status::Saved);
            if first {
                apply_status(&tx, &self.keys, &job.number, Status::Delivered, now_ms)?;
                continue;
            }
            tx.execute(
                "UPDATE outbox SET state = 'delivered', delivered_ms = ?2, lease_until_ms = NULL
                 WHERE id = ?1",
                params![job.id, now_ms],
            )?;
            let event = match job.part {
                0 => AuditEvent::Delivered {
                    number: job.number.to_string(),
                },
                n => AuditEvent::SupplementDelivered {
                    number: job.number.to_string(),
                    n,
                },
            };
            audit::append(&tx, &self.keys, now_ms, &event)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Puts the entry back to be tried again after `delay_ms`.
    pub fn retry_later(
        &mut self,
        job: &Job,
        now_ms: i64,
        delay_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET state = 'pending', attempts = attempts + 1, next_attempt_ms = ?2,
                 lease_until_ms = NULL, last_error = ?3
             WHERE id = ?1 AND state = 'inflight'",
            params![job.id, now_ms + delay_ms, error],
        )?;
        Ok(())
    }

    /// Moves the entry to the dead-letter state with the server's reason.
    pub fn dead(&mut self, job: &Job, now_ms: i64, reason: &str) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE outbox SET state = 'dead', attempts = attempts + 1, lease_until_ms = NULL,
                 last_error = ?2
             WHERE id = ?1",
            params![job.id, reason],
        )?;
        audit::append(
            &tx,
            &self.keys,
            now_ms,
            &AuditEvent::DeliveryRefused {
                number: job.number.to_string(),
                reason: reason.to_owned(),
            },
        )?;
        tx.commit()?;
        tracing::error!(number = %job.number, reason, "application refused by the central office");
        Ok(())
    }

    /// Queues every dead letter again (after the cause was fixed). Returns how many.
    pub fn requeue_dead(&mut self, now_ms: i64) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let numbers: Vec<String> = tx
            .prepare("SELECT application FROM outbox WHERE state = 'dead'")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for number in &numbers {
            audit::append(
                &tx,
                &self.keys,
                now_ms,
                &AuditEvent::Requeued {
                    number: number.clone(),
                },
            )?;
        }
        tx.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_ms = ?1 WHERE state = 'dead'",
            [now_ms],
        )?;
        tx.commit()?;
        Ok(numbers.len())
    }

    /// The review results cursor.
    pub fn results_cursor(&self) -> Result<u64, StoreError> {
        Ok(meta(&self.conn, CURSOR)?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }

    /// Applies review results and advances the cursor in one transaction, so each result is
    /// applied once whatever stops the agent. A result for an application this kiosk no longer
    /// keeps (purged) is skipped. Returns how many were applied.
    pub fn apply_results(
        &mut self,
        results: &[(ApplicationNumber, Status, i64)],
        cursor: u64,
    ) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut applied = 0;
        for (number, status, at_ms) in results {
            match apply_status(&tx, &self.keys, number, status.clone(), *at_ms) {
                Ok(()) => applied += 1,
                Err(StoreError::NotFound(_)) => {
                    tracing::warn!(number = %number, "result for an application no longer kept")
                }
                Err(e) => return Err(e),
            }
        }
        set_meta(&tx, CURSOR, &cursor.to_string())?;
        tx.commit()?;
        Ok(applied)
    }

    /// Records commands from the central office (each once); returns those new to this kiosk.
    pub fn record_commands(
        &mut self,
        commands: &[(u64, String)],
        now_ms: i64,
    ) -> Result<Vec<u64>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut new = Vec::new();
        for (id, kind) in commands {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO commands (id, kind, received_ms) VALUES (?1, ?2, ?3)",
                params![*id as i64, kind, now_ms],
            )?;
            if inserted > 0 {
                audit::append(
                    &tx,
                    &self.keys,
                    now_ms,
                    &AuditEvent::CommandReceived {
                        id: *id,
                        kind: kind.clone(),
                    },
                )?;
                new.push(*id);
            }
        }
        tx.commit()?;
        Ok(new)
    }

    /// Commands whose state the server has not been told yet.
    pub fn unacknowledged_commands(&self) -> Result<Vec<StoredCommand>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, kind, done_ms IS NOT NULL, acked FROM commands
             WHERE acked = 'none' OR (done_ms IS NOT NULL AND acked != 'done') ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(StoredCommand {
                id: r.get::<_, i64>(0)? as u64,
                kind: r.get(1)?,
                done: r.get(2)?,
                acked: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Notes what the server was told about a command.
    pub fn command_acknowledged(&mut self, id: u64, done: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE commands SET acked = ?2 WHERE id = ?1",
            params![id as i64, if done { "done" } else { "received" }],
        )?;
        Ok(())
    }

    /// The outbox's counts now.
    pub fn counts(&self, now_ms: i64) -> Result<QueueCounts, StoreError> {
        counts(&self.conn, now_ms)
    }

    /// The audit events recorded since `since_ms`, oldest first, with their times (for the
    /// heartbeat's statistics). An event this build does not know is skipped.
    pub fn audit_since(&self, since_ms: i64) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        audit::since(&self.conn, since_ms)
    }

    /// Dead letters: number and the server's reason.
    pub fn dead_letters(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT application, COALESCE(last_error, '') FROM outbox WHERE state = 'dead'
             ORDER BY created_ms",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The outbox's counts, read without the key or any lock: usable while the kiosk and the agent
/// run.
pub fn queue_counts(data_dir: &Path, now_ms: i64) -> Result<QueueCounts, StoreError> {
    let db = data_dir.join(DB_FILE);
    if !db.is_file() {
        return Err(StoreError::NotInitialised(data_dir.display().to_string()));
    }
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    counts(&conn, now_ms)
}

fn counts(conn: &Connection, now_ms: i64) -> Result<QueueCounts, StoreError> {
    let mut out = QueueCounts::default();
    let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        let n = n as u64;
        match state.as_str() {
            "pending" => out.pending = n,
            "inflight" => out.in_flight = n,
            "delivered" => out.delivered = n,
            "dead" | "rejected" => out.dead += n,
            _ => {}
        }
    }
    let oldest: Option<i64> = conn.query_row(
        "SELECT MIN(created_ms) FROM outbox WHERE state != 'delivered'",
        [],
        |r| r.get(0),
    )?;
    out.oldest_pending_age_s = oldest.map(|t| (now_ms - t).max(0) as f64 / 1000.0);
    Ok(out)
}
