//! One-bit images for the printer: text the printer cannot print itself (rare name characters)
//! drawn from a CJK font, and QR codes for printers without a QR command.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use std::io;
use std::path::Path;

/// A one-bit image, rows packed MSB-first (the leftmost dot is bit 7), as `GS v 0` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    width: u32,
    height: u32,
    bits: Vec<u8>,
}

impl Bitmap {
    /// A blank image.
    pub fn new(width: u32, height: u32) -> Self {
        let row = width.div_ceil(8) as usize;
        Self {
            width,
            height,
            bits: vec![0; row * height as usize],
        }
    }

    /// Width in dots.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in dots.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        self.width.div_ceil(8) as usize
    }

    /// The packed rows.
    pub fn data(&self) -> &[u8] {
        &self.bits
    }

    /// Builds an image from packed rows.
    pub fn from_data(width: u32, height: u32, bits: Vec<u8>) -> Option<Self> {
        (bits.len() == width.div_ceil(8) as usize * height as usize).then_some(Self {
            width,
            height,
            bits,
        })
    }

    /// Whether the dot at (x, y) is black.
    pub fn get(&self, x: u32, y: u32) -> bool {
        x < self.width
            && y < self.height
            && self.bits[y as usize * self.row_bytes() + (x / 8) as usize] & (0x80 >> (x % 8)) != 0
    }

    /// Blackens the dot at (x, y); outside the image: nothing.
    pub fn set(&mut self, x: u32, y: u32) {
        if x < self.width && y < self.height {
            let i = y as usize * self.row_bytes() + (x / 8) as usize;
            self.bits[i] |= 0x80 >> (x % 8);
        }
    }

    /// How many dots are black.
    pub fn black_dots(&self) -> u32 {
        self.bits.iter().map(|b| b.count_ones()).sum()
    }
}

/// Draws text into a bitmap.
pub trait Rasterizer: Send + Sync {
    /// `text` in glyphs `px` dots high, wrapped at `max_width` dots, emboldened if `bold`.
    fn render(&self, text: &str, px: u32, bold: bool, max_width: u32) -> Bitmap;
}

/// A rasterizer over font faces tried in order for each character (the first that has it).
pub struct FontRasterizer {
    faces: Vec<FontVec>,
}

impl FontRasterizer {
    /// Loads faces, each a font file and its index in a collection.
    pub fn load(faces: &[(&Path, u32)]) -> io::Result<Self> {
        let faces = faces
            .iter()
            .map(|(path, index)| {
                let bytes = std::fs::read(path)?;
                FontVec::try_from_vec_and_index(bytes, *index)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self { faces })
    }

    /// Debian's Noto Sans CJK SC (package `fonts-noto-cjk`). It covers 2590 characters outside
    /// the BMP (rare name characters such as 𠮷); the other faces of Debian's collections cover
    /// no character it lacks, so loading them would only cost memory.
    pub fn noto_cjk() -> io::Result<Self> {
        let dir = Path::new("/usr/share/fonts/opentype/noto");
        Self::load(&[(&dir.join("NotoSansCJK-Regular.ttc"), 2)])
    }

    fn face_for(&self, c: char) -> Option<&FontVec> {
        self.faces
            .iter()
            .find(|f| f.glyph_id(c).0 != 0)
            .or(self.faces.first())
    }
}

impl Rasterizer for FontRasterizer {
    fn render(&self, text: &str, px: u32, bold: bool, max_width: u32) -> Bitmap {
        // The em square is `px` dots, as the printer's own CJK glyphs fill their cell.
        let scale_of = |face: &FontVec| {
            let em = face.units_per_em().unwrap_or(1000.0);
            PxScale::from(px as f32 * face.height_unscaled() / em)
        };
        // Lines are spaced as the printer's default: 30 dots for a 24-dot font.
        let pitch = px * 5 / 4;
        // Lay out: (face, char, x, line).
        let mut placed = Vec::new();
        let (mut x, mut line) = (0.0f32, 0u32);
        for c in text.chars() {
            if c == '\n' {
                (x, line) = (0.0, line + 1);
                continue;
            }
            let Some(face) = self.face_for(c) else {
                continue;
            };
            // Like the printer's ROM fonts: half-width characters take exactly half a cell.
            let advance = if c.is_ascii() {
                px as f32 / 2.0
            } else {
                face.as_scaled(scale_of(face)).h_advance(face.glyph_id(c))
            };
            if x > 0.0 && x + advance > max_width as f32 {
                (x, line) = (0.0, line + 1);
            }
            placed.push((face, c, x, line));
            x += advance;
        }
        let lines = if placed.is_empty() { 0 } else { line + 1 };
        let mut bitmap = Bitmap::new(max_width, lines * pitch);
        for (face, c, x, line) in placed {
            // Ideographs fill the em square, whose top is 0.88 em above the baseline; the spare
            // eighth of the pitch above it keeps tall strokes from being cut.
            let baseline = line as f32 * pitch as f32 + px as f32 * (0.125 + 0.88);
            let glyph = face
                .glyph_id(c)
                .with_scale_and_position(scale_of(face), ab_glyph::point(x, baseline));
            if let Some(outline) = face.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    if coverage > 0.5 {
                        let dx = bounds.min.x as i64 + i64::from(gx);
                        let dy = bounds.min.y as i64 + i64::from(gy);
                        if let (Ok(dx), Ok(dy)) = (u32::try_from(dx), u32::try_from(dy)) {
                            // Only inside this line's cell: nothing spills into the next.
                            if dy / pitch.max(1) == line {
                                bitmap.set(dx, dy);
                                if bold {
                                    bitmap.set(dx + 1, dy);
                                }
                            }
                        }
                    }
                });
            }
        }
        bitmap
    }
}

/// A QR code as dots: `module` dots a module, a quiet zone of four modules, error correction M.
pub fn qr_bitmap(data: &str, module: u32) -> Option<Bitmap> {
    let code =
        qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M).ok()?;
    let n = code.width() as u32;
    let colors = code.to_colors();
    let size = (n + 8) * module;
    let mut bitmap = Bitmap::new(size, size);
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (i as u32 % n + 4, i as u32 / n + 4);
            for dy in 0..module {
                for dx in 0..module {
                    bitmap.set(mx * module + dx, my * module + dy);
                }
            }
        }
    }
    Some(bitmap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_packed_msb_first() {
        let mut b = Bitmap::new(10, 2);
        b.set(0, 0);
        b.set(9, 1);
        b.set(10, 0);
        assert_eq!(b.row_bytes(), 2);
        assert_eq!(b.data(), &[0x80, 0x00, 0x00, 0x40]);
        assert!(b.get(0, 0) && b.get(9, 1) && !b.get(1, 0) && !b.get(10, 0));
        assert_eq!(b.black_dots(), 2);
        assert!(Bitmap::from_data(10, 2, vec![0; 3]).is_none());
    }

    #[test]
    fn a_qr_code_has_its_finder_pattern_and_quiet_zone() {
        let b = qr_bitmap("https://example.gov.cn/p/2026112100001", 4).unwrap();
        assert_eq!(b.width(), b.height());
        // Quiet zone blank, finder pattern's corner black.
        assert!(!b.get(0, 0) && !b.get(15, 15));
        assert!(b.get(16, 16) && b.get(19, 19));
    }
}
