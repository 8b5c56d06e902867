//! Forward-only migrations. The schema version is SQLite's `user_version`; each migration runs
//! in its own transaction with the version bump, so a crash leaves the old schema or the new one.
//! A database newer than this build is refused, never downgraded, and nothing is ever reset.

use crate::StoreError;
use rusqlite::Connection;

/// Each migration, in order; the schema version is how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: applications, their page files, the outbox and the audit chain.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
     CREATE TABLE applications (
         number TEXT PRIMARY KEY,
         saved_at_ms INTEGER NOT NULL,
         status TEXT NOT NULL,
         status_at_ms INTEGER NOT NULL,
         applicant_key BLOB NOT NULL,
         items TEXT NOT NULL,
         sealed BLOB NOT NULL
     ) STRICT;
     CREATE INDEX applications_by_applicant ON applications (applicant_key);
     CREATE TABLE page_refs (
         file TEXT NOT NULL,
         owner TEXT NOT NULL,
         PRIMARY KEY (file, owner)
     ) STRICT;
     CREATE INDEX page_refs_by_owner ON page_refs (owner);
     CREATE TABLE outbox (
         id TEXT PRIMARY KEY,
         application TEXT NOT NULL UNIQUE REFERENCES applications (number) ON DELETE CASCADE,
         state TEXT NOT NULL CHECK (state IN ('pending', 'inflight', 'delivered', 'rejected', 'dead')),
         attempts INTEGER NOT NULL DEFAULT 0,
         next_attempt_ms INTEGER NOT NULL,
         lease_until_ms INTEGER,
         last_error TEXT,
         created_ms INTEGER NOT NULL,
         delivered_ms INTEGER
     ) STRICT;
     CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);
     CREATE TABLE audit (
         seq INTEGER PRIMARY KEY,
         at_ms INTEGER NOT NULL,
         event TEXT NOT NULL,
         mac BLOB NOT NULL
     ) STRICT;",
    // 2: materials kept for reuse (材料复用), and tombstones of purged applications.
    "CREATE TABLE stored_materials (
         id TEXT PRIMARY KEY,
         applicant_key BLOB NOT NULL,
         material TEXT NOT NULL,
         trust TEXT NOT NULL,
         captured_at_ms INTEGER NOT NULL,
         valid_until_ms INTEGER,
         consent_at_ms INTEGER NOT NULL,
         source_application TEXT NOT NULL,
         pages TEXT NOT NULL
     ) STRICT;
     CREATE INDEX stored_materials_by_applicant ON stored_materials (applicant_key, material);
     CREATE TABLE purged (number TEXT PRIMARY KEY, purged_at_ms INTEGER NOT NULL) STRICT;",
    // 3: each stored material carries a MAC over its row, so a row moved to another citizen (a
    // changed `applicant_key`) is not offered to them. Rows without one are never offered.
    "ALTER TABLE stored_materials ADD COLUMN mac BLOB;",
    // 4: remote commands from the central office, kept until carried out and acknowledged.
    "CREATE TABLE commands (
         id INTEGER PRIMARY KEY,
         kind TEXT NOT NULL,
         received_ms INTEGER NOT NULL,
         done_ms INTEGER,
         acked TEXT NOT NULL DEFAULT 'none' CHECK (acked IN ('none', 'received', 'done'))
     ) STRICT;",
    // 5: the agent's next due entries come straight off an index in sending order (a queue of
    // thousands was sorted afresh for every lease), and expired leases are found without a scan.
    "DROP INDEX outbox_due;
     CREATE INDEX outbox_due ON outbox (state, next_attempt_ms, created_ms);
     CREATE INDEX outbox_leases ON outbox (state, lease_until_ms);",
    // 6: corrections supplied at the kiosk are delivered on their own: an outbox entry is one
    // part of an application, 0 the application itself and N its Nth supplement.
    "CREATE TABLE outbox_parts (
         id TEXT PRIMARY KEY,
         application TEXT NOT NULL REFERENCES applications (number) ON DELETE CASCADE,
         part INTEGER NOT NULL DEFAULT 0,
         state TEXT NOT NULL CHECK (state IN ('pending', 'inflight', 'delivered', 'rejected', 'dead')),
         attempts INTEGER NOT NULL DEFAULT 0,
         next_attempt_ms INTEGER NOT NULL,
         lease_until_ms INTEGER,
         last_error TEXT,
         created_ms INTEGER NOT NULL,
         delivered_ms INTEGER,
         UNIQUE (application, part)
     ) STRICT;
     INSERT INTO outbox_parts (id, application, part, state, attempts, next_attempt_ms,
         lease_until_ms, last_error, created_ms, delivered_ms)
     SELECT id, application, 0, state, attempts, next_attempt_ms, lease_until_ms, last_error,
         created_ms, delivered_ms FROM outbox;
     DROP TABLE outbox;
     ALTER TABLE outbox_parts RENAME TO outbox;
     CREATE INDEX outbox_due ON outbox (state, next_attempt_ms, created_ms);
     CREATE INDEX outbox_leases ON outbox (state, lease_until_ms);",
    // 7: the heartbeat's statistics read the audit of the last day by time.
    "CREATE INDEX audit_by_time ON audit (at_ms);",
];

/// The schema version this build writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;

/// The database's schema version.
pub fn version(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Brings the database to [`LATEST`]; refuses one that is newer.
pub fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    migrate_to(conn, LATEST)
}

pub(crate) fn migrate_to(conn: &mut Connection, target: u32) -> Result<u32, StoreError> {
    let found = version(conn)?;
    if found > LATEST {
        return Err(StoreError::NewerSchema {
            found,
            supported: LATEST,
        });
    }
    for (n, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(found as usize)
    {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", n as u32 + 1)?;
        tx.commit()?;
        tracing::info!(version = n + 1, "store schema migrated");
    }
    version(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_database_is_brought_forward_with_its_rows_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiosk.db");
        let mut conn = Connection::open(&path).unwrap();
        assert_eq!(migrate_to(&mut conn, 1).unwrap(), 1);
        conn.execute("INSERT INTO meta VALUES ('terminal', '10001')", [])
            .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), LATEST);
        let kept: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'terminal'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(kept, "10001");
        assert_eq!(
            migrate(&mut conn).unwrap(),
            LATEST,
            "running again changes nothing"
        );

        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        match migrate(&mut conn) {
            Err(StoreError::NewerSchema { found, supported }) => {
                assert_eq!((found, supported), (LATEST + 1, LATEST))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let still: u32 = version(&conn).unwrap();
        assert_eq!(still, LATEST + 1, "a newer database is left as it is");
    }
}
