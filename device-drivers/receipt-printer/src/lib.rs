//! ESC/POS receipt printers: the receipt model ([`doc`]), its encoding for a printer model
//! ([`encode`], [`raster`]) and the printer's status ([`status`]), all with no I/O; the printer's
//! side of the protocol ([`interp`]) and a simulator running it on a pseudo-terminal ([`sim`]);
//! the driver ([`driver`]) over a serial port or a USB printer-class device.
//!
//! Protocol facts and their sources: `shared/reference/devices.md` §2.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod doc;
pub mod driver;
pub mod encode;
pub mod interp;
pub mod raster;
pub mod sim;
pub mod status;
pub mod template;

pub use doc::{Align, Barcode, Block, Receipt, Style};
pub use driver::{
    EscPosPrinter, PrinterConfig, PrinterError, PrinterEvent, PrinterStatus, ReceiptOutcome,
    ReceiptPrinter,
};
pub use encode::{EncodeError, Encoder, Presenter, Profile};
pub use status::{Paper, PrinterCondition, StatusDecoder};
