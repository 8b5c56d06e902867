//! Output JPEGs: 300 dpi in the header, no larger than the byte budget, encoded on every core.
//!
//! libjpeg-turbo encodes on one thread. A page is cut into horizontal strips a whole number of
//! MCU rows high, each strip is encoded on its own thread with the same tables, and the strips'
//! entropy-coded data are joined into one baseline JPEG with restart markers between them
//! (JPEG's own way to make intervals independent: each one starts with fresh DC predictions,
//! exactly as an encoder starting on a new image does). Every decoder reads the result; it
//! differs from a one-thread encoding only by the markers, a few bytes a strip.

use crate::ScanError;
use crate::warp::Page;
use rayon::prelude::*;
use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

/// Qualities tried in turn until the page fits its budget.
const QUALITIES: [i32; 6] = [85, 78, 70, 62, 54, 46];

/// Strips per encoding thread: more than one evens out strips that hold more detail.
const STRIPS_PER_THREAD: usize = 3;

/// Encodes `page` at the best quality in [`QUALITIES`] that fits `budget` bytes, with `dpi` in
/// its JFIF header. Returns the JPEG and the quality used.
pub fn encode_within(page: &Page, budget: usize, dpi: u32) -> Result<(Vec<u8>, i32), ScanError> {
    let mut smallest = usize::MAX;
    for q in QUALITIES {
        let mut jpeg = encode(page, q)?;
        if jpeg.len() <= budget {
            set_density(&mut jpeg, dpi);
            return Ok((jpeg, q));
        }
        smallest = smallest.min(jpeg.len());
    }
    Err(ScanError::OverBudget {
        bytes: smallest,
        budget,
    })
}

/// Encodes at quality `q`: greyscale for one channel, 4:2:0 for colour; in strips on every
/// core when the page is tall enough to share.
pub fn encode(page: &Page, q: i32) -> Result<Vec<u8>, ScanError> {
    // An MCU is 8 rows in grey, 16 in 4:2:0 colour.
    let mcu = if page.channels == 1 { 8 } else { 16 };
    let mcu_rows = page.height.div_ceil(mcu);
    let wanted = rayon::current_num_threads() * STRIPS_PER_THREAD;
    let strip_mcus = mcu_rows.div_ceil(wanted.max(1)).max(1);
    let strips = mcu_rows.div_ceil(strip_mcus);
    // The restart interval counts MCUs and is 16 bits.
    let interval = page.width.div_ceil(mcu) * strip_mcus;
    if strips < 2 || interval > usize::from(u16::MAX) {
        return encode_rows(page, 0, page.height, q);
    }
    let rows = strip_mcus * mcu;
    let parts = (0..strips)
        .into_par_iter()
        .map(|i| encode_rows(page, i * rows, ((i + 1) * rows).min(page.height), q))
        .collect::<Result<Vec<_>, _>>()?;
    match join(&parts, page.height, interval) {
        Some(joined) => Ok(joined),
        // Strips that do not share their tables cannot be joined (a libjpeg-turbo built to
        // optimise Huffman tables per image): encode in one piece instead.
        None => encode_rows(page, 0, page.height, q),
    }
}

/// Encodes rows `top..bottom` of `page` as a JPEG of their own.
fn encode_rows(page: &Page, top: usize, bottom: usize, q: i32) -> Result<Vec<u8>, ScanError> {
    let bad = |e: turbojpeg::Error| ScanError::Encode(e.to_string());
    let (format, subsamp) = match page.channels {
        1 => (PixelFormat::GRAY, Subsamp::Gray),
        3 => (PixelFormat::RGB, Subsamp::Sub2x2),
        _ => (PixelFormat::RGBX, Subsamp::Sub2x2),
    };
    let pitch = page.width * page.channels;
    let mut c = Compressor::new().map_err(bad)?;
    c.set_quality(q);
    c.set_subsamp(subsamp);
    let image = Image {
        pixels: &page.data[top * pitch..bottom * pitch],
        width: page.width,
        pitch,
        height: bottom - top,
        format,
    };
    c.compress_to_vec(image).map_err(bad)
}

/// One JPEG's parts as the joining needs them.
struct Parsed<'a> {
    /// Everything before the start-of-scan segment (SOI, APP0, DQT, SOF, DHT).
    tables: &'a [u8],
    /// Offset of the frame height inside `tables`.
    height_at: usize,
    /// The start-of-scan segment.
    scan_header: &'a [u8],
    /// The entropy-coded data, up to the end-of-image marker.
    data: &'a [u8],
}

/// Splits a JPEG as libjpeg-turbo writes it; `None` for anything else (progressive, several
/// scans, restart markers already in it, or damage).
fn parse(jpeg: &[u8]) -> Option<Parsed<'_>> {
    if jpeg.get(..2)? != [0xFF, 0xD8] || jpeg.get(jpeg.len().checked_sub(2)?..)? != [0xFF, 0xD9] {
        return None;
    }
    let mut at = 2;
    let mut height_at = None;
    loop {
        if *jpeg.get(at)? != 0xFF {
            return None;
        }
        let marker = *jpeg.get(at + 1)?;
        let len = usize::from(u16::from_be_bytes([*jpeg.get(at + 2)?, *jpeg.get(at + 3)?]));
        let end = at + 2 + len;
        match marker {
            // Baseline frame header: precision, then the height.
            0xC0 => height_at = Some(at + 5),
            0xDA => {
                let data = jpeg.get(end..jpeg.len() - 2)?;
                return Some(Parsed {
                    tables: &jpeg[..at],
                    height_at: height_at?,
                    scan_header: jpeg.get(at..end)?,
                    data,
                });
            }
            // Anything but application data, tables and a baseline frame is not joinable.
            0xC4 | 0xDB | 0xE0..=0xEF | 0xFE => {}
            _ => return None,
        }
        at = end;
    }
}

/// Joins strips encoded alone into one JPEG `height` rows high with a restart marker after
/// each strip; `None` when their tables differ.
fn join(parts: &[Vec<u8>], height: usize, interval: usize) -> Option<Vec<u8>> {
    let parsed = parts.iter().map(|p| parse(p)).collect::<Option<Vec<_>>>()?;
    let first = parsed.first()?;
    // The same tables but for the frame's height (two bytes at `height_at`).
    let at = first.height_at;
    let same_tables = |p: &Parsed| {
        p.tables.len() == first.tables.len()
            && p.height_at == at
            && p.tables.get(..at) == first.tables.get(..at)
            && p.tables.get(at + 2..) == first.tables.get(at + 2..)
            && p.scan_header == first.scan_header
    };
    if !parsed.iter().all(same_tables) {
        return None;
    }
    let size = first.tables.len() + 6 + first.scan_header.len();
    let mut out = Vec::with_capacity(size + parsed.iter().map(|p| p.data.len() + 2).sum::<usize>());
    out.extend_from_slice(first.tables);
    let height = u16::try_from(height).ok()?.to_be_bytes();
    out.get_mut(first.height_at..first.height_at + 2)?
        .copy_from_slice(&height);
    // Define Restart Interval, in MCUs.
    out.extend_from_slice(&[0xFF, 0xDD, 0x00, 0x04]);
    out.extend_from_slice(&u16::try_from(interval).ok()?.to_be_bytes());
    out.extend_from_slice(first.scan_header);
    for (i, p) in parsed.iter().enumerate() {
        if i > 0 {
            // RST0 … RST7, in turn.
            out.extend_from_slice(&[0xFF, 0xD0 + ((i - 1) % 8) as u8]);
        }
        out.extend_from_slice(p.data);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    Some(out)
}

/// Writes `dpi` into the JFIF APP0 segment libjpeg-turbo puts first (its default says 1:1
/// aspect with no unit), so printers and PDF viewers show the page at its real size.
pub fn set_density(jpeg: &mut [u8], dpi: u32) {
    let dpi = u16::try_from(dpi).unwrap_or(u16::MAX).to_be_bytes();
    if jpeg.len() > 18 && jpeg[..4] == [0xFF, 0xD8, 0xFF, 0xE0] && &jpeg[6..11] == b"JFIF\0" {
        jpeg[13] = 1; // dots per inch
        jpeg[14..16].copy_from_slice(&dpi);
        jpeg[16..18].copy_from_slice(&dpi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page with detail everywhere, so that every strip has work and DC changes across
    /// strip boundaries.
    fn page(width: usize, height: usize, channels: usize) -> Page {
        let data = (0..width * height * channels)
            .map(|i| {
                let (p, c) = (i / channels, i % channels);
                let (x, y) = (p % width, p / width);
                (((x * 7 + y * 3 + c * 50) % 256) ^ (((x / 9 + y / 13) % 2) * 90)) as u8
            })
            .collect();
        Page {
            width,
            height,
            channels,
            data,
        }
    }

    fn decode(jpeg: &[u8], format: PixelFormat) -> turbojpeg::Image<Vec<u8>> {
        turbojpeg::decompress(jpeg, format).expect("decodes")
    }

    #[test]
    fn strips_join_into_the_same_image_as_one_encoding() {
        for (channels, format, height) in [
            (1, PixelFormat::GRAY, 1001),
            (3, PixelFormat::RGB, 997),
            (3, PixelFormat::RGB, 1024),
            (4, PixelFormat::RGBX, 1000),
        ] {
            let p = page(640, height, channels);
            let joined = encode(&p, 85).expect("encodes");
            let whole = encode_rows(&p, 0, p.height, 85).expect("encodes");
            assert!(
                joined.windows(2).any(|w| w == [0xFF, 0xDD]),
                "restart interval present"
            );
            let (a, b) = (decode(&joined, format), decode(&whole, format));
            assert_eq!((a.width, a.height), (640, height));
            // Restarting DC prediction changes nothing in the decoded pixels.
            assert_eq!(a.pixels, b.pixels, "channels {channels}, height {height}");
        }
    }

    #[test]
    fn strips_that_do_not_parse_are_not_joined() {
        let p = page(64, 64, 1);
        let a = encode_rows(&p, 0, 32, 85).expect("encodes");
        let b = encode_rows(&p, 32, 64, 70).expect("encodes");
        assert!(join(&[a.clone(), b], 64, 8).is_none(), "different tables");
        assert!(
            join(&[a[..a.len() - 1].to_vec()], 32, 8).is_none(),
            "truncated"
        );
    }
}
