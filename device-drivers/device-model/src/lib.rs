//! The model every kiosk device driver follows, after XFS4IoT (CEN/XFS's successor).
//!
//! * A common [`DeviceState`] (online, offline, noDevice, hardwareError, userError, busy) plus a
//!   class-specific status, together a [`Status`], published on a `tokio::sync::watch` channel
//!   so the UI, health checks and fleet telemetry all see the same thing.
//! * Unsolicited events (card inserted, paper low …) on a `tokio::sync::broadcast` channel.
//! * Every command completes exactly once ([`completion`]): `Ok` for success, or an error that
//!   implements [`DeviceFault`] and so names its [`ErrorCode`] and who must act ([`ActionHint`]).
//! * Commands to one port are serialised by a [`CommandQueue`] that owns the port on its own
//!   thread, so a presence poll can never interleave with a read on the same wire.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod persist;
mod queue;
mod status;

pub use queue::{CommandError, CommandQueue, Completion, Job, Pending, Worker, completion};
pub use status::{
    ActionHint, DeviceFault, DeviceState, ErrorCode, Fault, Silence, Status, StatusPublisher,
    wait_for_status,
};

use tokio::sync::{broadcast, watch};

/// What every device class trait offers besides its commands.
pub trait Device {
    /// The class-specific part of the status (media present, paper low …).
    type Class: Clone;
    /// Unsolicited events of this class.
    type Event: Clone;

    /// The current status, and every change to it.
    fn status(&self) -> watch::Receiver<Status<Self::Class>>;
    /// A receiver of the events that happen from now on.
    fn events(&self) -> broadcast::Receiver<Self::Event>;
}
