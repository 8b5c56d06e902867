//! The certificate card dispenser (Creator CRT-591 protocol): the protocol core with no I/O
//! ([`frame`], [`codes`]), the driver over a serial port ([`driver`]) and a simulator of the
//! dispenser on a pseudo-terminal ([`sim`]).
//!
//! Protocol facts and their sources: `shared/reference/devices.md` §3.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod codes;
pub mod driver;
pub mod error;
pub mod frame;
pub mod sim;

pub use codes::{Channel, Sensors, Stacker};
pub use driver::{
    CardDispenser, CardWriter, Certificate, Counts, DispenserConfig, DispenserEvent,
    DispenserStatus, Outcome, SerialCardDispenser,
};
pub use error::DispenserError;
