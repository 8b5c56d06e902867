//! Device status and error classification, named after XFS4IoT `Common.Status` and
//! `Common.ErrorEvent` so that an XFS4IoT adapter can be added later without renaming.

use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use tokio::sync::watch;

/// The common device state (XFS4IoT `Common.Status.device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeviceState {
    /// Ready to take commands.
    Online,
    /// Connected but not answering (powered off, cable to the module loose, wrong baud rate).
    Offline,
    /// The device is not there at all: its port vanished or was never present.
    NoDevice,
    /// The device reports a fault of its own that needs a person or a reset.
    HardwareError,
    /// A person prevents operation (cover open, card held in the gate …).
    UserError,
    /// Working on a command that takes long.
    Busy,
}

/// Who must act on an error (XFS4IoT `ErrorEvent.action`, reduced to what a kiosk fleet pages on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionHint {
    /// Nobody needs to touch the device: the citizen or the application just tries again.
    Retry,
    /// A device reset is expected to clear it (the driver or a remote command may issue one).
    Reset,
    /// On-site staff can fix it without tools: refill paper, clear a bin, re-seat a cable.
    Staff,
    /// Needs an engineer: replace or repair the device, reauthorise a module.
    Engineer,
}

/// How a command ended when it did not succeed (XFS4IoT completion codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    /// The device did not answer in time.
    Timeout,
    /// The caller canceled the command.
    Canceled,
    /// The device is not connected or not ready to take commands.
    DeviceNotReady,
    /// The device reported a fault of its own.
    HardwareError,
    /// A person prevented the command (no card, card removed, wrong card).
    UserError,
    /// The data exchanged was corrupt or could not be interpreted.
    InvalidData,
    /// The device refused the command as malformed.
    InvalidCommand,
    /// The device does not support the command.
    UnsupportedCommand,
    /// The command is not allowed in the device's current state.
    SequenceError,
    /// A fault of the driver itself.
    InternalError,
}

/// An error a device command can end with: every one names its code and who must act.
pub trait DeviceFault: std::error::Error {
    /// The completion code.
    fn code(&self) -> ErrorCode;
    /// Who must act.
    fn action(&self) -> ActionHint;

    /// A snapshot to keep in the status or to send to the fleet.
    fn to_fault(&self) -> Fault {
        Fault {
            code: self.code(),
            action: self.action(),
            message: self.to_string(),
        }
    }
}

/// The error that put a device in its current state, for the maintenance menu and the heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The completion code of the failing command.
    pub code: ErrorCode,
    /// Who must act.
    pub action: ActionHint,
    /// One line in plain words, for a technician. Never contains citizen data.
    pub message: String,
}

/// The whole status of one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status<C> {
    /// The common state.
    pub device: DeviceState,
    /// The class-specific status.
    pub class: C,
    /// Why the device is not online, when it is not.
    pub fault: Option<Fault>,
}

/// The sending side of a device's status channel. Changes are logged once, when they happen.
#[derive(Debug)]
pub struct StatusPublisher<C> {
    device: &'static str,
    tx: watch::Sender<Status<C>>,
}

impl<C: Clone + PartialEq + Debug> StatusPublisher<C> {
    /// A device named `device` in the logs, starting as `noDevice` until its driver has opened it.
    pub fn new(device: &'static str, class: C) -> Self {
        let (tx, _) = watch::channel(Status {
            device: DeviceState::NoDevice,
            class,
            fault: None,
        });
        Self { device, tx }
    }

    /// A receiver that sees the current status and every change.
    pub fn subscribe(&self) -> watch::Receiver<Status<C>> {
        self.tx.subscribe()
    }

    /// The status now.
    pub fn current(&self) -> Status<C> {
        self.tx.borrow().clone()
    }

    /// Sets the common state: `Online` clears the fault, any other state keeps the given one.
    pub fn set_state(&self, device: DeviceState, fault: Option<Fault>) {
        self.update(|s| {
            s.device = device;
            s.fault = if device == DeviceState::Online {
                None
            } else {
                fault
            };
        });
    }

    /// Applies `f` to the status and notifies receivers only if something changed.
    pub fn update(&self, f: impl FnOnce(&mut Status<C>)) {
        let device = self.device;
        self.tx.send_if_modified(|status| {
            let before = status.clone();
            f(status);
            let changed = *status != before;
            if changed {
                tracing::info!(
                    device,
                    state = ?status.device,
                    class = ?status.class,
                    fault = status.fault.as_ref().map(|f| f.message.as_str()),
                    action = ?status.fault.as_ref().map(|f| f.action),
                    "device status changed"
                );
            }
            changed
        });
    }
}

/// Tells a lost reply from a silent device: one timeout on a live link is noise; two in a row,
/// or one from a device not online yet, make it offline.
#[derive(Debug, Default)]
pub struct Silence {
    in_row: u32,
}

impl Silence {
    /// The device answered.
    pub fn answered(&mut self) {
        self.in_row = 0;
    }

    /// A request timed out: marks the device offline with `fault` if it has gone silent.
    pub fn timed_out<C: Clone + PartialEq + Debug>(
        &mut self,
        status: &StatusPublisher<C>,
        fault: Fault,
    ) {
        self.in_row += 1;
        if self.in_row >= 2 || status.current().device != DeviceState::Online {
            status.set_state(DeviceState::Offline, Some(fault));
        }
    }
}

/// Waits up to `within` until a device's status satisfies `want` (a device coming online,
/// a card appearing) and returns it; on timeout, the last status seen is the error.
pub async fn wait_for_status<C: Clone>(
    status: &mut watch::Receiver<Status<C>>,
    within: std::time::Duration,
    want: impl Fn(&Status<C>) -> bool,
) -> Result<Status<C>, Status<C>> {
    let found = tokio::time::timeout(within, status.wait_for(|s| want(s)))
        .await
        .map(|r| r.map(|s| s.clone()));
    match found {
        Ok(Ok(found)) => Ok(found),
        _ => Err(status.borrow().clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lost_reply_is_noise_and_two_are_a_silent_device() {
        let status = StatusPublisher::new("test", ());
        let fault = || Fault {
            code: ErrorCode::Timeout,
            action: ActionHint::Engineer,
            message: "no reply".into(),
        };
        let mut silence = Silence::default();
        silence.timed_out(&status, fault());
        assert_eq!(
            status.current().device,
            DeviceState::Offline,
            "never online"
        );
        status.set_state(DeviceState::Online, None);
        silence.answered();
        silence.timed_out(&status, fault());
        assert_eq!(status.current().device, DeviceState::Online);
        silence.timed_out(&status, fault());
        assert_eq!(status.current().device, DeviceState::Offline);
    }

    #[test]
    fn online_clears_the_fault_and_receivers_see_each_change_once() {
        let publisher = StatusPublisher::new("test", 0u8);
        let mut rx = publisher.subscribe();
        assert_eq!(rx.borrow_and_update().device, DeviceState::NoDevice);

        let fault = Fault {
            code: ErrorCode::Timeout,
            action: ActionHint::Engineer,
            message: "no answer".into(),
        };
        publisher.set_state(DeviceState::Offline, Some(fault.clone()));
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().fault, Some(fault.clone()));

        publisher.set_state(DeviceState::Offline, Some(fault));
        assert!(
            !rx.has_changed().unwrap(),
            "an unchanged status is not re-sent"
        );

        publisher.set_state(DeviceState::Online, None);
        let now = rx.borrow_and_update().clone();
        assert_eq!((now.device, now.fault), (DeviceState::Online, None));
    }
}
