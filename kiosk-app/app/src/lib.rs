//! The kiosk application: the session engine carried out over the device drivers, the store and
//! the sync agent (`runtime`), the kiosk's configuration file (`config`), voice guidance
//! (`voice`), its log files (`logs`), and the simulated kiosk (`simulated`, `world`, `net`) driven headless or through
//! the world-control socket (`drive`).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod camera;
pub mod config;
pub mod devices;
pub mod drive;
pub mod logs;
pub mod maintenance;
pub mod net;
pub mod runtime;
pub mod simulated;
pub mod voice;
pub mod world;

pub use config::Config;
pub use runtime::{Exit, Input, Runtime};
