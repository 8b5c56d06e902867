//! The reference central review backend: receives applications from kiosks over mutual TLS,
//! keeps them exactly once, lets reviewers decide, sends results back, publishes the signed
//! catalogue and the terminal configuration, and shows the fleet's heartbeats.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod pki;
pub mod server;
pub mod storage;

pub use server::{Faults, Identity, TlsFiles};
pub use storage::{LogBundle, SqliteStorage, Storage, StorageError};
