//! The kiosk's session engine: every citizen journey as a state machine with no I/O (like a
//! sans-IO protocol core). The UI, the headless driver and the tests all drive it the same way:
//! [`Engine::intent`] for what a finger does, [`Engine::event`] for what the devices, the store
//! and the central office report, [`Engine::tick`] for the clock; each returns the
//! [`Effect`]s to carry out, and [`Engine::view`] is what the screen shows.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod effect;
mod engine;
mod filing;
mod input;
pub mod maintenance;
mod records;
pub mod view;

pub use effect::{Effect, ReceiptInfo, ReceiptKind, Submission, Supplement};
pub use engine::{Display, Engine, IDLE_SCREENS, Settings, Timeouts};
pub use input::{
    Command, Device, Event, Intent, Language, PageProblem, Record, Records, SaveFailure,
};
pub use records::lookup;
pub use view::{Screen, View};
