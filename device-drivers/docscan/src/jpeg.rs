//! Output JPEGs: 300 dpi in the header, and no larger than the byte budget.

use crate::ScanError;
use crate::warp::Page;
use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

/// Qualities tried in turn until the page fits its budget.
const QUALITIES: [i32; 6] = [85, 78, 70, 62, 54, 46];

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

/// Encodes at quality `q`: greyscale for one channel, 4:2:0 for colour.
pub fn encode(page: &Page, q: i32) -> Result<Vec<u8>, ScanError> {
    let bad = |e: turbojpeg::Error| ScanError::Encode(e.to_string());
    let (format, subsamp) = if page.channels == 1 {
        (PixelFormat::GRAY, Subsamp::Gray)
    } else {
        (PixelFormat::RGB, Subsamp::Sub2x2)
    };
    let mut c = Compressor::new().map_err(bad)?;
    c.set_quality(q);
    c.set_subsamp(subsamp);
    let image = Image {
        pixels: page.data.as_slice(),
        width: page.width,
        pitch: page.width * page.channels,
        height: page.height,
        format,
    };
    c.compress_to_vec(image).map_err(bad)
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
