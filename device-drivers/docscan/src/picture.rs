//! Decoded camera frames, kept as the JPEG's own planes (luma at full size, chroma subsampled).
//!
//! The pipeline never builds an RGB copy of the 8 MP frame: page detection, the grey output and
//! the quality checks need only luma, and colour output samples chroma where it lands. This
//! skips libjpeg-turbo's colour conversion and upsampling, the largest part of decoding.

use crate::ScanError;
use rayon::prelude::*;
use turbojpeg::{Decompressor, Subsamp, YuvImage};

/// The largest frame accepted (pixels): above every document camera sold, below what a hostile
/// header could make the kiosk allocate.
pub const MAX_PIXELS: usize = 64_000_000;

/// One 8-bit plane, rows packed.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` samples, row by row.
    pub data: Vec<u8>,
}

impl Plane {
    /// A plane filled with `value`.
    pub fn filled(width: usize, height: usize, value: u8) -> Self {
        Self {
            width,
            height,
            data: vec![value; width * height],
        }
    }

    /// The sample at `(x, y)`, clamped to the edge.
    #[inline]
    pub fn at(&self, x: isize, y: isize) -> u8 {
        let x = x.clamp(0, self.width as isize - 1) as usize;
        let y = y.clamp(0, self.height as isize - 1) as usize;
        self.data[y * self.width + x]
    }

    /// Bilinear sample at `(x, y)` (pixel centres at integers), clamped to the edge.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let max_x = (self.width - 1) as f32;
        let max_y = (self.height - 1) as f32;
        let x = x.clamp(0.0, max_x);
        let y = y.clamp(0.0, max_y);
        let (x0, y0) = (x as usize, y as usize);
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let r0 = y0 * self.width;
        let r1 = y1 * self.width;
        let d = &self.data;
        let top = f32::from(d[r0 + x0]) + (f32::from(d[r0 + x1]) - f32::from(d[r0 + x0])) * fx;
        let bottom = f32::from(d[r1 + x0]) + (f32::from(d[r1 + x1]) - f32::from(d[r1 + x0])) * fx;
        top + (bottom - top) * fy
    }

    /// The plane shrunk by an integer `factor`, each sample the mean of a `factor`² block.
    pub fn shrink(&self, factor: usize) -> Plane {
        let factor = factor.max(1);
        let (w, h) = (self.width / factor, self.height / factor);
        let mut out = vec![0u8; w * h];
        let area = (factor * factor) as u32;
        out.par_chunks_mut(w.max(1))
            .enumerate()
            .for_each(|(y, row)| {
                let mut sums = vec![0u32; w];
                for dy in 0..factor {
                    let src = &self.data[(y * factor + dy) * self.width..][..w * factor];
                    for (x, s) in sums.iter_mut().enumerate() {
                        *s += src[x * factor..][..factor]
                            .iter()
                            .map(|&v| u32::from(v))
                            .sum::<u32>();
                    }
                }
                for (o, s) in row.iter_mut().zip(sums) {
                    *o = ((s + area / 2) / area) as u8;
                }
            });
        Plane {
            width: w,
            height: h,
            data: out,
        }
    }
}

/// A decoded frame: luma at full size, and chroma (none for a grey JPEG) at its subsampling.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    /// Luma.
    pub y: Plane,
    /// Blue and red chroma, `None` for a greyscale JPEG.
    pub chroma: Option<(Plane, Plane)>,
}

impl Picture {
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.y.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.y.height
    }

    /// Decodes a JPEG (baseline or progressive, YCbCr or grey) into its planes.
    pub fn decode(jpeg: &[u8]) -> Result<Picture, ScanError> {
        let bad = |e: turbojpeg::Error| ScanError::Decode(e.to_string());
        let mut d = Decompressor::new().map_err(bad)?;
        let header = d.read_header(jpeg).map_err(bad)?;
        let (width, height) = (header.width, header.height);
        if width < 16 || height < 16 || width.saturating_mul(height) > MAX_PIXELS {
            return Err(ScanError::Decode(format!(
                "frame size {width}×{height} out of range"
            )));
        }
        let subsamp = header.subsamp;
        let len = turbojpeg::yuv_pixels_len(width, 1, height, subsamp).map_err(bad)?;
        let mut pixels = vec![0u8; len];
        let image = YuvImage {
            pixels: pixels.as_mut_slice(),
            width,
            align: 1,
            height,
            subsamp,
        };
        let (yw, yh) = image.y_size();
        let (cw, ch) = image.uv_size();
        d.decompress_to_yuv(jpeg, image).map_err(bad)?;
        // Planes are padded to whole MCUs: keep the picture's own rows and columns.
        let crop = |data: &[u8], w: usize, keep_w: usize, keep_h: usize| {
            let mut out = Vec::with_capacity(keep_w * keep_h);
            for row in data.chunks_exact(w).take(keep_h) {
                out.extend_from_slice(&row[..keep_w]);
            }
            Plane {
                width: keep_w,
                height: out.len() / keep_w.max(1),
                data: out,
            }
        };
        let chroma = if subsamp == Subsamp::Gray || pixels.len() < yw * yh + 2 * cw * ch || cw == 0
        {
            None
        } else {
            let cb = &pixels[yw * yh..][..cw * ch];
            let cr = &pixels[yw * yh + cw * ch..][..cw * ch];
            Some((crop(cb, cw, cw, ch), crop(cr, cw, cw, ch)))
        };
        let y = if yw == width {
            // No padding on the right: the luma plane is the buffer's first rows, kept as is.
            pixels.truncate(width * height);
            Plane {
                width,
                height,
                data: pixels,
            }
        } else {
            crop(&pixels[..yw * yh], yw, width, height)
        };
        Ok(Picture { y, chroma })
    }

    /// Horizontal and vertical chroma subsampling factors (1 or 2).
    pub fn chroma_factors(&self) -> (f32, f32) {
        match &self.chroma {
            Some((cb, _)) => (
                (self.y.width as f32 / cb.width as f32).round().max(1.0),
                (self.y.height as f32 / cb.height as f32).round().max(1.0),
            ),
            None => (1.0, 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrink_averages_blocks() {
        let p = Plane {
            width: 4,
            height: 2,
            data: vec![0, 2, 10, 20, 4, 6, 30, 40],
        };
        assert_eq!(p.shrink(2).data, vec![3, 25]);
    }

    #[test]
    fn bilinear_sample_interpolates() {
        let p = Plane {
            width: 2,
            height: 2,
            data: vec![0, 100, 100, 200],
        };
        assert_eq!(p.sample(0.5, 0.5), 100.0);
        assert_eq!(p.sample(5.0, -3.0), 100.0);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(
            Picture::decode(b"\xff\xd8 not a jpeg"),
            Err(ScanError::Decode(_))
        ));
    }
}
