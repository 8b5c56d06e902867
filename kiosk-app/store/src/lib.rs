//! The kiosk's offline store: once [`Store::submit`] returns, the application, its pages and its
//! outbox entry survive a crash or a power cut, and nothing personal is readable on the disk.
//!
//! - One writer: a [`Store`] owns the only connection and is not `Sync`; the kiosk keeps it in
//!   one task. SQLite runs in WAL mode with `synchronous=FULL`, so a commit is on disk when it
//!   returns, before the receipt that promises it is printed.
//! - Page images are sealed and written as files (temporary name, fsync, rename, directory
//!   fsync) *before* the transaction that names them; a crash in between leaves unreferenced
//!   files, which the next start removes.
//! - The application row, its outbox row, stored materials and the audit entry are one
//!   transaction: they exist together or not at all.
//! - At start `quick_check` runs; a damaged database stops the store with [`StoreError::Corrupt`]
//!   and is never reset. A newer schema is refused. A nearly full disk refuses new applications
//!   before anything is written.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod audit;
pub mod crypto;
pub mod rules;
pub mod schema;
mod store;
pub mod sync;

pub use audit::{AuditEvent, ChainCheck};
pub use crypto::{Cipher, KeyFile, KeySource, MasterKey};
pub use rules::Refusal;
pub use store::{
    CapturedMaterial, Config, PageImage, PurgeReport, Report, Saved, Store, StoredMaterial,
};

/// Why the store cannot do what was asked. Nothing was saved when any of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database fails its integrity check: out of service, export it, never reset it.
    #[error(
        "the database is damaged ({0}); the kiosk must stay out of service until an engineer recovers it"
    )]
    Corrupt(String),
    /// The data directory has no store: `kioskctl db init` makes one.
    #[error("{0} holds no store; it is made once, at installation")]
    NotInitialised(String),
    /// Another process has the store open (one writer only).
    #[error("the store is in use by another process")]
    Busy,
    /// The database was written by a newer build.
    #[error("the database has schema {found}, newer than this build's {supported}")]
    NewerSchema {
        /// Its version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
    /// The disk is too full to take an application safely.
    #[error(
        "the disk is nearly full ({free_bytes} bytes free, {needed_bytes} needed); no new applications"
    )]
    DiskFull {
        /// Free bytes.
        free_bytes: u64,
        /// Bytes needed, reserve included.
        needed_bytes: u64,
    },
    /// The application breaks a rule; nothing was saved.
    #[error("the application cannot be saved: {0}")]
    Refused(#[from] Refusal),
    /// The master key is unusable.
    #[error("store key: {0}")]
    Key(String),
    /// A sealed record or page does not open.
    #[error("{0}")]
    Sealed(String),
    /// No such application.
    #[error("no application {0}")]
    NotFound(String),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// SQLite failed.
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The file system failed.
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Turns "no space left" from either SQLite or the file system into [`StoreError::DiskFull`].
    pub(crate) fn or_disk_full(self, free_bytes: u64) -> StoreError {
        let full = match &self {
            StoreError::Io(e) => e.raw_os_error() == Some(nix::libc::ENOSPC),
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DiskFull
            }
            _ => false,
        };
        if full {
            StoreError::DiskFull {
                free_bytes,
                needed_bytes: free_bytes + 1,
            }
        } else {
            self
        }
    }
}
