//! Receipts to ESC/POS bytes (devices.md §2), for a printer described by a [`Profile`].
//!
//! Chinese text goes out in GB18030 with Chinese mode on (`FS &`). Printers take only its 2-byte
//! area, so a paragraph with a character that needs 4 bytes (a rare character in a name) is drawn
//! from a CJK font and sent as a raster image instead of being dropped. QR codes use the printer's
//! own command where it has one, and a raster image otherwise. No `DLE EOT n` sequence is ever left
//! inside data, because the printer would answer it in the middle of a job.

use crate::doc::{Align, Barcode, Block, Receipt, Style};
use crate::raster::{Bitmap, Rasterizer, qr_bitmap};

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const LF: u8 = 0x0A;

/// Height of the printer's standard font A, in dots (12×24).
pub const FONT_A_HEIGHT: u32 = 24;
/// Width of font A's half-width characters, in dots.
pub const FONT_A_WIDTH: u32 = 12;

/// How a kiosk printer presents and retracts receipts (not standardised: per model family).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presenter {
    /// Custom-style `GS e`: present `steps` after the cut, retract with `GS e 2`.
    Custom {
        /// Presenter steps to move the receipt out.
        steps: u8,
    },
    /// Citizen-style `GS R`: retract with `GS R 0`; the driver times the retraction itself.
    Citizen,
}

impl Presenter {
    /// Bytes that present a cut receipt.
    pub fn present(self) -> Vec<u8> {
        match self {
            Presenter::Custom { steps } => vec![GS, b'e', 3, steps],
            // Citizen presenters present on cut; automatic retraction is turned off so that
            // the driver decides when (GS R 1 0).
            Presenter::Citizen => vec![GS, b'R', b'1', 0],
        }
    }

    /// Bytes that retract a receipt not taken.
    pub fn retract(self) -> Vec<u8> {
        match self {
            Presenter::Custom { .. } => vec![GS, b'e', 2],
            Presenter::Citizen => vec![GS, b'R', b'0'],
        }
    }
}

/// What a printer model can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Name for configuration and logs.
    pub name: &'static str,
    /// Printable width in dots (576 on 80 mm paper at 203 dpi).
    pub dots_per_line: u32,
    /// Has `GS ( k` QR codes.
    pub native_qr: bool,
    /// Prints GB18030's 4-byte area (none known does; kept for models that will).
    pub gb18030_four_byte: bool,
    /// Full cut available (some printers cut only partially).
    pub full_cut: bool,
    /// Kiosk presenter, if any.
    pub presenter: Option<Presenter>,
}

impl Profile {
    /// A generic Epson-compatible 80 mm printer.
    pub const EPSON_GENERIC: Profile = Profile {
        name: "epson-generic",
        dots_per_line: 576,
        native_qr: true,
        gb18030_four_byte: false,
        full_cut: true,
        presenter: None,
    };

    /// A kiosk printer with a Custom-style presenter.
    pub const CUSTOM_KIOSK: Profile = Profile {
        name: "custom-kiosk",
        dots_per_line: 576,
        native_qr: true,
        gb18030_four_byte: false,
        full_cut: true,
        presenter: Some(Presenter::Custom { steps: 40 }),
    };

    /// A kiosk printer with a Citizen-style presenter.
    pub const CITIZEN_KIOSK: Profile = Profile {
        name: "citizen-kiosk",
        dots_per_line: 576,
        native_qr: true,
        gb18030_four_byte: false,
        full_cut: true,
        presenter: Some(Presenter::Citizen),
    };

    /// The profiles known, for configuration by name.
    pub const ALL: [Profile; 3] = [Self::EPSON_GENERIC, Self::CUSTOM_KIOSK, Self::CITIZEN_KIOSK];

    /// The profile with this name.
    pub fn by_name(name: &str) -> Option<Profile> {
        Self::ALL.into_iter().find(|p| p.name == name)
    }

    /// Half-width characters in a line at size 1.
    pub fn chars_per_line(&self) -> usize {
        (self.dots_per_line / FONT_A_WIDTH) as usize
    }
}

/// A receipt that cannot be encoded for this printer.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// Wider than the paper.
    #[error("image {width} dots wide, the paper takes {max}")]
    TooWide {
        /// Its width.
        width: u32,
        /// The printable width.
        max: u32,
    },
    /// A QR code's data does not fit a QR code.
    #[error("QR data of {0} bytes does not fit a QR code")]
    QrTooLong(usize),
    /// Barcode data its symbology cannot encode.
    #[error("barcode data not encodable: {0}")]
    BadBarcode(String),
    /// A style out of range.
    #[error("character size {0}×{1} outside 1–8")]
    BadSize(u8, u8),
}

/// Encodes receipts for one printer.
pub struct Encoder<'a> {
    profile: Profile,
    rasterizer: &'a dyn Rasterizer,
}

impl<'a> Encoder<'a> {
    /// An encoder for `profile`, drawing unprintable text with `rasterizer`.
    pub fn new(profile: Profile, rasterizer: &'a dyn Rasterizer) -> Self {
        Self {
            profile,
            rasterizer,
        }
    }

    /// The whole job: initialise, Chinese mode, every block, presenter if any.
    pub fn encode(&self, receipt: &Receipt) -> Result<Vec<u8>, EncodeError> {
        let mut out = vec![ESC, b'@', FS, b'&'];
        for block in &receipt.blocks {
            self.block(block, &mut out)?;
        }
        Ok(out)
    }

    fn block(&self, block: &Block, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match block {
            Block::Text(text, style) => self.text(text, *style, out),
            Block::Rule => {
                out.extend_from_slice(&[ESC, b'a', 0]);
                out.extend(std::iter::repeat_n(b'-', self.profile.chars_per_line()));
                out.push(LF);
                Ok(())
            }
            Block::Qr { data, module } => self.qr(data, (*module).clamp(1, 16), out),
            Block::Barcode(kind, data) => barcode(*kind, data, out),
            Block::Image(bitmap) => self.image(bitmap, out),
            Block::Feed(lines) => {
                out.extend_from_slice(&[ESC, b'd', *lines]);
                Ok(())
            }
            Block::Cut { partial } => {
                let m = if *partial || !self.profile.full_cut {
                    66
                } else {
                    65
                };
                // Feed the last line past the cutter, then cut.
                out.extend_from_slice(&[GS, b'V', m, 80]);
                if let Some(presenter) = self.profile.presenter {
                    out.extend(presenter.present());
                }
                Ok(())
            }
        }
    }

    fn text(&self, text: &str, style: Style, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if !(1..=8).contains(&style.width) || !(1..=8).contains(&style.height) {
            return Err(EncodeError::BadSize(style.width, style.height));
        }
        // Control characters would be commands; the printer gets none from text.
        let clean: String = text
            .chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .collect();
        let (bytes, _, _) = encoding_rs::GB18030.encode(&clean);
        let printable = self.profile.gb18030_four_byte || !has_four_byte_sequence(&bytes);
        out.extend_from_slice(&[ESC, b'a', align(style.align)]);
        if printable {
            let size = ((style.width - 1) << 4) | (style.height - 1);
            out.extend_from_slice(&[GS, b'!', size, ESC, b'E', u8::from(style.bold)]);
            out.extend(bytes.iter().map(|&b| if b == b'\n' { LF } else { b }));
            out.push(LF);
            out.extend_from_slice(&[GS, b'!', 0, ESC, b'E', 0]);
            Ok(())
        } else {
            let px = FONT_A_HEIGHT * u32::from(style.height);
            let bitmap = self
                .rasterizer
                .render(&clean, px, style.bold, self.profile.dots_per_line);
            self.image(&bitmap, out)
        }
    }

    fn qr(&self, data: &str, module: u8, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(&[ESC, b'a', 1]);
        if self.profile.native_qr {
            let store_len = data.len() + 3;
            if store_len > 7092 {
                return Err(EncodeError::QrTooLong(data.len()));
            }
            let [pl, ph] = (store_len as u16).to_le_bytes();
            out.extend_from_slice(&[GS, b'(', b'k', 4, 0, 49, 65, 50, 0]);
            out.extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 67, module]);
            out.extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 69, 49]);
            out.extend_from_slice(&[GS, b'(', b'k', pl, ph, 49, 80, 48]);
            out.extend_from_slice(data.as_bytes());
            out.extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 81, 48]);
            out.push(LF);
            Ok(())
        } else {
            let bitmap =
                qr_bitmap(data, u32::from(module)).ok_or(EncodeError::QrTooLong(data.len()))?;
            self.image(&bitmap, out)
        }
    }

    fn image(&self, bitmap: &Bitmap, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if bitmap.width() > self.profile.dots_per_line {
            return Err(EncodeError::TooWide {
                width: bitmap.width(),
                max: self.profile.dots_per_line,
            });
        }
        let [xl, xh] = (bitmap.row_bytes() as u16).to_le_bytes();
        let [yl, yh] = (bitmap.height().min(u32::from(u16::MAX)) as u16).to_le_bytes();
        out.extend_from_slice(&[ESC, b'a', 1, GS, b'v', b'0', 0, xl, xh, yl, yh]);
        out.extend(defuse_realtime(bitmap.data()));
        out.push(LF);
        Ok(())
    }
}

fn align(a: Align) -> u8 {
    match a {
        Align::Left => 0,
        Align::Center => 1,
        Align::Right => 2,
    }
}

fn barcode(kind: Barcode, data: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let ok = match kind {
        Barcode::Code128 => data.bytes().all(|b| (0x20..0x7F).contains(&b)) && data.len() <= 253,
        Barcode::Code39 => {
            data.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b" -.$/+%".contains(&b))
                && data.len() <= 255
        }
    };
    if !ok || data.is_empty() {
        return Err(EncodeError::BadBarcode(data.to_owned()));
    }
    out.extend_from_slice(&[ESC, b'a', 1, GS, b'h', 80, GS, b'w', 2, GS, b'H', 2]);
    match kind {
        Barcode::Code128 => {
            out.extend_from_slice(&[GS, b'k', 73, data.len() as u8 + 2, b'{', b'B']);
        }
        Barcode::Code39 => out.extend_from_slice(&[GS, b'k', 69, data.len() as u8]),
    }
    out.extend_from_slice(data.as_bytes());
    out.push(LF);
    Ok(())
}

/// Whether GB18030 bytes hold a 4-byte sequence (lead 0x81–0xFE, then a digit 0x30–0x39).
fn has_four_byte_sequence(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x81..=0xFE => {
                if bytes.get(i + 1).is_some_and(|b| (0x30..=0x39).contains(b)) {
                    return true;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    false
}

/// Image data with every `10 04 n` (n 1–4) broken by clearing one dot, so the printer never takes
/// a piece of a picture for a status request.
fn defuse_realtime(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    for i in 0..out.len().saturating_sub(2) {
        if out[i] == 0x10 && out[i + 1] == 0x04 && (1..=4).contains(&out[i + 2]) {
            out[i + 1] = 0x00;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::Bitmap;

    /// Draws every character as a full block, to see where text became an image.
    struct Blocks;

    impl Rasterizer for Blocks {
        fn render(&self, text: &str, px: u32, _bold: bool, _max: u32) -> Bitmap {
            let w = px * text.chars().count() as u32;
            let mut b = Bitmap::new(w, px);
            for y in 0..px {
                for x in 0..w {
                    b.set(x, y);
                }
            }
            b
        }
    }

    fn encode(profile: Profile, receipt: &Receipt) -> Vec<u8> {
        Encoder::new(profile, &Blocks).encode(receipt).unwrap()
    }

    #[test]
    fn chinese_text_is_sent_in_gb18030_with_style_and_reset() {
        let r = Receipt::new().text("受理号 A1", Style::large());
        let bytes = encode(Profile::EPSON_GENERIC, &r);
        let mut expected = vec![
            ESC, b'@', FS, b'&', ESC, b'a', 1, GS, b'!', 0x11, ESC, b'E', 1,
        ];
        expected.extend_from_slice(&[0xCA, 0xDC, 0xC0, 0xED, 0xBA, 0xC5, b' ', b'A', b'1', LF]);
        expected.extend_from_slice(&[GS, b'!', 0, ESC, b'E', 0]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn a_rare_name_character_becomes_an_image_not_a_gap() {
        let r = Receipt::new().text("申请人 𠮷秀英", Style::default());
        let bytes = encode(Profile::EPSON_GENERIC, &r);
        assert!(
            !has_four_byte_sequence(&bytes[4..]),
            "no 4-byte GB18030 reaches the printer"
        );
        let gs_v = bytes
            .windows(4)
            .position(|w| w == [GS, b'v', b'0', 0])
            .expect("a raster image");
        // 7 characters at 24 dots: 168 dots = 21 bytes a row, 24 rows.
        assert_eq!(&bytes[gs_v + 4..gs_v + 8], &[21, 0, 24, 0]);
    }

    #[test]
    fn qr_codes_use_the_printer_command_or_a_raster_image() {
        let r = Receipt::new().push(Block::Qr {
            data: "https://zw.example.cn/p/1".into(),
            module: 6,
        });
        let native = encode(Profile::EPSON_GENERIC, &r);
        let store = [GS, b'(', b'k', 28, 0, 49, 80, 48];
        let at = native
            .windows(8)
            .position(|w| w == store)
            .expect("store command");
        assert_eq!(&native[at + 8..at + 33], b"https://zw.example.cn/p/1");
        assert!(native.ends_with(&[GS, b'(', b'k', 3, 0, 49, 81, 48, LF]));

        let no_qr = Profile {
            native_qr: false,
            ..Profile::EPSON_GENERIC
        };
        let raster = encode(no_qr, &r);
        assert!(raster.windows(3).all(|w| w != [GS, b'(', b'k']));
        assert!(raster.windows(4).any(|w| w == [GS, b'v', b'0', 0]));
    }

    #[test]
    fn cut_and_presenter_follow_the_profile() {
        let r = Receipt::new().push(Block::Cut { partial: false });
        let tail = |p| encode(p, &r)[4..].to_vec();
        assert_eq!(tail(Profile::EPSON_GENERIC), [GS, b'V', 65, 80]);
        assert_eq!(
            tail(Profile::CUSTOM_KIOSK),
            [GS, b'V', 65, 80, GS, b'e', 3, 40]
        );
        assert_eq!(
            tail(Profile::CITIZEN_KIOSK),
            [GS, b'V', 65, 80, GS, b'R', b'1', 0]
        );
        assert_eq!(Presenter::Custom { steps: 1 }.retract(), [GS, b'e', 2]);
        assert_eq!(Presenter::Citizen.retract(), [GS, b'R', b'0']);
        assert_eq!(
            Profile::by_name("citizen-kiosk"),
            Some(Profile::CITIZEN_KIOSK)
        );
    }

    #[test]
    fn barcodes_are_checked_and_encoded() {
        let mut out = Vec::new();
        barcode(Barcode::Code128, "A2026-0001", &mut out).unwrap();
        let k = out.windows(3).position(|w| w == [GS, b'k', 73]).unwrap();
        assert_eq!(&out[k + 3..k + 6], &[12, b'{', b'B']);
        assert!(barcode(Barcode::Code39, "lower", &mut Vec::new()).is_err());
        assert!(barcode(Barcode::Code128, "", &mut Vec::new()).is_err());
    }

    #[test]
    fn images_wider_than_the_paper_are_refused_and_status_requests_defused() {
        let wide = Receipt::new().push(Block::Image(Bitmap::new(600, 1)));
        let err = Encoder::new(Profile::EPSON_GENERIC, &Blocks)
            .encode(&wide)
            .unwrap_err();
        assert_eq!(
            err,
            EncodeError::TooWide {
                width: 600,
                max: 576
            }
        );
        let tricky = Bitmap::from_data(24, 1, vec![0x10, 0x04, 0x02]).unwrap();
        let bytes = encode(
            Profile::EPSON_GENERIC,
            &Receipt::new().push(Block::Image(tricky)),
        );
        assert!(
            bytes
                .windows(3)
                .all(|w| !(w[0] == 0x10 && w[1] == 0x04 && (1..=4).contains(&w[2])))
        );
    }

    #[test]
    fn control_characters_in_text_never_reach_the_printer() {
        let bytes = encode(
            Profile::EPSON_GENERIC,
            &Receipt::new().text("a\u{10}\u{4}\u{1}b", Style::default()),
        );
        assert!(bytes.windows(3).all(|w| w != [0x10, 0x04, 0x01]));
        assert!(bytes.windows(2).any(|w| w == b"ab"));
    }
}
