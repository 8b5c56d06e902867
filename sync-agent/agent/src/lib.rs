//! The kiosk's sync agent: its own process (and systemd service) beside the kiosk, sharing the
//! kiosk's SQLite database. It delivers every saved application to the central office exactly
//! once, whatever the network, the kiosk or the server does; brings back review results, the
//! catalogue and the configuration; and reports the kiosk's health in heartbeats.
//!
//! Exactly once is the server's deduplication (`Idempotency-Key` = the application's number)
//! plus the agent marking an entry delivered only after the server's 2xx: a crash between the
//! two re-sends, and the server answers with what it stored the first time.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod agent;
pub mod client;
pub mod config;
pub mod statistics;

pub use agent::{Agent, StartError};
pub use config::Settings;
