//! A receipt as the kiosk composes it, before any printer's bytes.

use crate::raster::Bitmap;

/// Horizontal alignment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Align {
    /// Left.
    #[default]
    Left,
    /// Centred.
    Center,
    /// Right.
    Right,
}

/// How a paragraph of text looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Character width multiplier, 1–8.
    pub width: u8,
    /// Character height multiplier, 1–8.
    pub height: u8,
    /// Emphasised.
    pub bold: bool,
    /// Alignment.
    pub align: Align,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            width: 1,
            height: 1,
            bold: false,
            align: Align::Left,
        }
    }
}

impl Style {
    /// Large and bold, for what an elderly reader must find at once (the application number).
    pub fn large() -> Self {
        Self {
            width: 2,
            height: 2,
            bold: true,
            align: Align::Center,
        }
    }
}

/// 1-D barcode symbologies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Barcode {
    /// CODE128, code set B (printable ASCII).
    Code128,
    /// CODE39 (digits, capitals, a few symbols).
    Code39,
}

/// One block of a receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// A paragraph, ended by a new line.
    Text(String, Style),
    /// A dashed line across the paper.
    Rule,
    /// A QR code of `data`, `module` dots a module (1–16).
    Qr {
        /// Content (a URL for phone scanners).
        data: String,
        /// Module size in dots.
        module: u8,
    },
    /// A 1-D barcode with its text printed below.
    Barcode(Barcode, String),
    /// A raster image, centred.
    Image(Bitmap),
    /// Blank lines.
    Feed(u8),
    /// Feed past the cutter and cut (partially, leaving a hinge, if `partial`).
    Cut {
        /// Leave a hinge.
        partial: bool,
    },
}

/// A receipt: blocks printed in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The blocks.
    pub blocks: Vec<Block>,
}

impl Receipt {
    /// An empty receipt.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a paragraph.
    pub fn text(mut self, text: impl Into<String>, style: Style) -> Self {
        self.blocks.push(Block::Text(text.into(), style));
        self
    }

    /// Adds any block.
    pub fn push(mut self, block: Block) -> Self {
        self.blocks.push(block);
        self
    }
}
