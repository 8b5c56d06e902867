//! How a dispenser command can fail, and who must act on each failure.

use crate::codes::DeviceErrorCode;
use device_model::{ActionHint, CommandError, DeviceFault, ErrorCode};
use thiserror::Error;

/// A failed dispenser command. Messages are one line, for a technician.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DispenserError {
    /// The dispenser answered with an error code.
    #[error("dispenser error {code} in {command}: {}", .code.meaning())]
    Device {
        /// The command that failed.
        command: &'static str,
        /// The device's code.
        code: DeviceErrorCode,
    },
    /// No acknowledgement or no reply in time.
    #[error("timeout: no {phase} to {command}")]
    Timeout {
        /// The command.
        command: &'static str,
        /// "acknowledgement" or "reply".
        phase: &'static str,
    },
    /// The dispenser kept refusing the command's checksum, or its replies stayed corrupt.
    #[error("checksum error: {command} not exchanged after retries")]
    Checksum {
        /// The command.
        command: &'static str,
    },
    /// A reply that is not a status the protocol defines.
    #[error("malformed reply to {command}")]
    Malformed {
        /// The command.
        command: &'static str,
    },
    /// Refused before moving anything: no card to dispense.
    #[error("stacker empty: refill the certificate cards")]
    StackerEmpty,
    /// Refused before moving anything: a card not taken could not be taken back.
    #[error("reject bin full: empty it before dispensing")]
    RejectBinFull,
    /// The certificate could not be written onto the card, which was captured.
    #[error("certificate not written, card captured: {0}")]
    NotWritten(String),
    /// The port is not there: the dispenser is unplugged or its path is wrong.
    #[error("port error: {0} (dispenser unplugged?)")]
    NoDevice(String),
    /// The port is there but cannot be used.
    #[error("port error: {0}")]
    Port(String),
    /// The counts could not be saved.
    #[error("counts not saved: {0}")]
    Counts(String),
    /// The caller canceled.
    #[error("canceled")]
    Canceled,
    /// The driver stopped before answering.
    #[error("the dispenser driver stopped")]
    Abandoned,
}

impl DeviceFault for DispenserError {
    fn code(&self) -> ErrorCode {
        match self {
            DispenserError::Device { code, .. } => code.classify().0,
            DispenserError::Timeout { .. } => ErrorCode::Timeout,
            DispenserError::Checksum { .. } | DispenserError::Malformed { .. } => {
                ErrorCode::InvalidData
            }
            DispenserError::StackerEmpty
            | DispenserError::RejectBinFull
            | DispenserError::NoDevice(_)
            | DispenserError::Port(_) => ErrorCode::DeviceNotReady,
            DispenserError::Counts(_) | DispenserError::Abandoned => ErrorCode::InternalError,
            DispenserError::NotWritten(_) => ErrorCode::HardwareError,
            DispenserError::Canceled => ErrorCode::Canceled,
        }
    }

    fn action(&self) -> ActionHint {
        match self {
            DispenserError::Device { code, .. } => code.classify().1,
            DispenserError::StackerEmpty
            | DispenserError::RejectBinFull
            | DispenserError::NoDevice(_) => ActionHint::Staff,
            DispenserError::Canceled => ActionHint::Retry,
            DispenserError::Timeout { .. }
            | DispenserError::Checksum { .. }
            | DispenserError::Malformed { .. }
            | DispenserError::Port(_)
            | DispenserError::Counts(_)
            | DispenserError::NotWritten(_)
            | DispenserError::Abandoned => ActionHint::Engineer,
        }
    }
}

impl CommandError for DispenserError {
    fn canceled() -> Self {
        DispenserError::Canceled
    }

    fn abandoned() -> Self {
        DispenserError::Abandoned
    }
}
