//! A4 printing of forms, certificates and result notices: a [`Document`] is laid out as a PDF
//! with the CJK fonts embedded and subsetted ([`pdf`]) and printed through a CUPS queue over
//! IPP, the job followed to completion or failure ([`cups`]).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod doc;
pub mod pdf;

pub use doc::{Block, Document};
pub use pdf::{Fonts, PdfError, render};
