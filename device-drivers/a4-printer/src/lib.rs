//! A4 printing of forms, certificates and result notices: a [`Document`] is laid out as a PDF
//! with the CJK fonts embedded and subsetted ([`pdf`]) and printed through a CUPS queue over
//! IPP, the job followed to completion or failure ([`cups`]).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod cups;
pub mod doc;
pub mod driver;
pub mod pdf;
pub mod sim;

pub use doc::{Block, Document};
pub use driver::{A4Config, A4Error, A4Event, A4Printer, A4Status};
pub use pdf::{Fonts, PdfError, render};
