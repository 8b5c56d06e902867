//! The second-generation ID card reader (二代证阅读器, SAM_V module): the protocol core with no
//! I/O ([`frame`], [`command`], [`sw3`]), the card data ([`card`]) and how it is shown in public ([`mask`]), the driver over a serial port
//! ([`driver`]) and a simulator of the reader on a pseudo-terminal ([`sim`]).
//!
//! Protocol facts and their sources: `shared/reference/devices.md` §1.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod card;
pub mod command;
pub mod driver;
pub mod error;
pub mod frame;
pub mod mask;
pub mod photo;
pub mod sim;
pub mod sw3;

pub use card::{CardType, Date, IdCard, Sex, ValidTo};
pub use driver::{
    IdCardEvent, IdCardReader, IdReaderStatus, Media, ReadOptions, ReaderConfig, SamHealth,
    SerialIdCardReader,
};
pub use error::IdCardError;
pub use photo::PhotoDecoder;
pub use sw3::Sw3;
