//! How an ID card reader command can fail, and who must act on each failure.

use crate::card::CardDataError;
use crate::command::MalformedReply;
use crate::sw3::Sw3;
use device_model::{ActionHint, CommandError, DeviceFault, ErrorCode};
use thiserror::Error;

/// A failed reader command. Messages are one line, for a technician; none holds citizen data.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IdCardError {
    /// No card in the reader's field.
    #[error("no card on the reader")]
    NoCard,
    /// The SAM answered with an error code.
    #[error("SAM error {:#04x}: {}", .0.code(), .0.meaning())]
    Sam(Sw3),
    /// The reader did not answer in time.
    #[error("timeout: no reply to {command} within {ms} ms")]
    Timeout {
        /// The command that got no reply.
        command: &'static str,
        /// How long the driver waited.
        ms: u64,
    },
    /// The reply was corrupt, and so was the one to the retry.
    #[error("checksum error in the reply to {command}, also after a retry")]
    Checksum {
        /// The command whose replies were corrupt.
        command: &'static str,
    },
    /// The port is not there: the reader is unplugged or its path is wrong.
    #[error("port error: {0} (reader unplugged?)")]
    NoDevice(String),
    /// The port is there but cannot be used.
    #[error("port error: {0}")]
    Port(String),
    /// The reply does not have its command's layout.
    #[error(transparent)]
    Malformed(#[from] MalformedReply),
    /// The card's text block cannot be a card's.
    #[error("unreadable card data: {0}")]
    CardData(#[from] CardDataError),
    /// Another card is on the reader than the one read last.
    #[error("a different card is on the reader")]
    CardChanged,
    /// The caller canceled.
    #[error("canceled")]
    Canceled,
    /// The driver stopped before answering.
    #[error("the reader driver stopped")]
    Abandoned,
}

impl DeviceFault for IdCardError {
    fn code(&self) -> ErrorCode {
        match self {
            IdCardError::NoCard | IdCardError::CardChanged => ErrorCode::UserError,
            IdCardError::Sam(sw3) => sw3.classify().map_or(ErrorCode::InternalError, |c| c.0),
            IdCardError::Timeout { .. } => ErrorCode::Timeout,
            IdCardError::Checksum { .. } | IdCardError::Malformed(_) | IdCardError::CardData(_) => {
                ErrorCode::InvalidData
            }
            IdCardError::NoDevice(_) | IdCardError::Port(_) => ErrorCode::DeviceNotReady,
            IdCardError::Canceled => ErrorCode::Canceled,
            IdCardError::Abandoned => ErrorCode::InternalError,
        }
    }

    fn action(&self) -> ActionHint {
        match self {
            IdCardError::NoCard | IdCardError::CardChanged | IdCardError::Canceled => {
                ActionHint::Retry
            }
            IdCardError::Sam(sw3) => sw3.classify().map_or(ActionHint::Engineer, |c| c.1),
            // Re-seating the USB cable is a job for staff; a card whose data is unreadable is
            // taken to the counter.
            IdCardError::NoDevice(_) | IdCardError::CardData(_) => ActionHint::Staff,
            IdCardError::Timeout { .. }
            | IdCardError::Checksum { .. }
            | IdCardError::Port(_)
            | IdCardError::Malformed(_)
            | IdCardError::Abandoned => ActionHint::Engineer,
        }
    }
}

impl CommandError for IdCardError {
    fn canceled() -> Self {
        IdCardError::Canceled
    }

    fn abandoned() -> Self {
        IdCardError::Abandoned
    }
}
