//! Perspective correction fused with illumination flattening and contrast, in one pass over the
//! output page.
//!
//! Paper under a kiosk lamp is never evenly lit: a corner is darker, the camera head casts a
//! shadow. The paper's own brightness (the "background") is estimated on a small copy of the
//! page as the local maximum of luma, since ink only ever darkens paper. Each output pixel is
//! then its luma divided by the background there, mapped through a contrast curve that turns
//! paper white and keeps ink dark. Doing this inside the warp loop touches each output pixel
//! once.

use crate::geometry::{Homography, Point, Quad};
use crate::picture::{Picture, Plane};
use rayon::prelude::*;

/// Output pixels per background sample: the background varies slowly, text must not count.
const BG_STEP: usize = 8;

/// Below this share of the paper's brightness a pixel is black ink.
const BLACK: f32 = 0.35;
/// Above this share it is paper, shown white.
const WHITE: f32 = 0.92;

/// How the page is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Render {
    /// One channel: text pages, forms.
    Grey,
    /// RGB: photos, ID card copies, red seals.
    Colour,
}

/// A warped page: `channels` 1 (grey) or 3 (RGB).
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Samples per pixel.
    pub channels: usize,
    /// Rows packed.
    pub data: Vec<u8>,
}

/// The map from output page pixels to frame pixels for a `width`×`height` page.
pub fn page_to_frame(quad: &Quad, width: usize, height: usize) -> Option<Homography> {
    let (w, h) = (width as f64 - 1.0, height as f64 - 1.0);
    let page = [
        Point::new(0.0, 0.0),
        Point::new(w, 0.0),
        Point::new(w, h),
        Point::new(0.0, h),
    ];
    Homography::from_points(&page, &quad.0)
}

/// The paper's brightness across the page, one sample per `BG_STEP` output pixels, from the
/// detection copy `small` (the frame shrunk by `factor`).
pub fn background(
    small: &Plane,
    factor: usize,
    map: &Homography,
    width: usize,
    height: usize,
) -> Plane {
    let (bw, bh) = (width.div_ceil(BG_STEP) + 1, height.div_ceil(BG_STEP) + 1);
    let k = 1.0 / factor as f64;
    let off = (factor as f64 - 1.0) / 2.0;
    let mut low = Plane::filled(bw, bh, 0);
    for by in 0..bh {
        for bx in 0..bw {
            let p = map.apply(Point::new((bx * BG_STEP) as f64, (by * BG_STEP) as f64));
            low.data[by * bw + bx] =
                small.sample(((p.x - off) * k) as f32, ((p.y - off) * k) as f32) as u8;
        }
    }
    // Local maximum over about a centimetre of page, then a box blur to smooth its blocks.
    let grown = max_filter(&low, 6);
    let mut bg = box_blur(&grown, 6);
    // Where a dark photo or stamp covers the whole window the maximum is not paper: keep the
    // background no darker than half the page's typical paper brightness.
    let mut sorted = bg.data.clone();
    sorted.sort_unstable();
    let typical = sorted.get(sorted.len() * 3 / 4).copied().unwrap_or(200);
    let floor = (typical / 2).max(24);
    for v in &mut bg.data {
        *v = (*v).max(floor);
    }
    bg
}

fn max_filter(p: &Plane, r: usize) -> Plane {
    let pass = |src: &Plane, horizontal: bool| {
        let mut out = src.clone();
        for y in 0..src.height {
            for x in 0..src.width {
                let mut m = 0;
                for d in -(r as isize)..=r as isize {
                    let v = if horizontal {
                        src.at(x as isize + d, y as isize)
                    } else {
                        src.at(x as isize, y as isize + d)
                    };
                    m = m.max(v);
                }
                out.data[y * src.width + x] = m;
            }
        }
        out
    };
    pass(&pass(p, true), false)
}

fn box_blur(p: &Plane, r: usize) -> Plane {
    let pass = |src: &Plane, horizontal: bool| {
        let mut out = src.clone();
        let n = (2 * r + 1) as u32;
        for y in 0..src.height {
            for x in 0..src.width {
                let mut s = 0u32;
                for d in -(r as isize)..=r as isize {
                    s += u32::from(if horizontal {
                        src.at(x as isize + d, y as isize)
                    } else {
                        src.at(x as isize, y as isize + d)
                    });
                }
                out.data[y * src.width + x] = (s / n) as u8;
            }
        }
        out
    };
    pass(&pass(p, true), false)
}

/// The contrast curve, indexed by luma/background in 1/1024ths (up to 2×).
fn contrast_table() -> Vec<u8> {
    (0..=2048)
        .map(|i| {
            let r = i as f32 / 1024.0;
            let t = ((r - BLACK) / (WHITE - BLACK)).clamp(0.0, 1.0);
            // A slight gamma keeps thin strokes dark after the stretch.
            (255.0 * t.powf(1.2)).round() as u8
        })
        .collect()
}

/// Warps the page outlined by `quad` in `picture` to `width`×`height`, flattened by `bg`.
pub fn warp(
    picture: &Picture,
    map: &Homography,
    bg: &Plane,
    width: usize,
    height: usize,
    render: Render,
) -> Page {
    let channels = match (render, &picture.chroma) {
        (Render::Colour, Some(_)) => 3,
        _ => 1,
    };
    let table = contrast_table();
    let mut data = vec![0u8; width * height * channels];
    let h = map.0;
    let (cfx, cfy) = picture.chroma_factors();
    let inv_step = 1.0 / BG_STEP as f32;
    data.par_chunks_mut(width * channels * 8)
        .enumerate()
        .for_each(|(band, rows)| {
            for (r, row) in rows.chunks_mut(width * channels).enumerate() {
                let v = (band * 8 + r) as f64;
                // The homography's numerators and denominator are linear along a row.
                let (mut nx, mut ny, mut nw) = (h[1] * v + h[2], h[4] * v + h[5], h[7] * v + h[8]);
                let bgy = v as f32 * inv_step;
                for u in 0..width {
                    let inv = 1.0 / nw;
                    let (x, y) = ((nx * inv) as f32, (ny * inv) as f32);
                    nx += h[0];
                    ny += h[3];
                    nw += h[6];
                    let luma = picture.y.sample(x, y);
                    let paper = bg.sample(u as f32 * inv_step, bgy).max(1.0);
                    let ratio = luma / paper;
                    let idx = ((ratio * 1024.0) as usize).min(2048);
                    if channels == 1 {
                        row[u] = table[idx];
                    } else if let Some((cb, cr)) = &picture.chroma {
                        let gain = f32::from(table[idx]) / luma.max(1.0);
                        let cx = (x + 0.5) / cfx - 0.5;
                        let cy = (y + 0.5) / cfy - 0.5;
                        let b = cb.sample(cx, cy) - 128.0;
                        let rr = cr.sample(cx, cy) - 128.0;
                        // BT.601 full-range YCbCr → RGB, then the same gain as luma got.
                        let rgb = [
                            luma + 1.402 * rr,
                            luma - 0.344_136 * b - 0.714_136 * rr,
                            luma + 1.772 * b,
                        ];
                        for (c, value) in rgb.iter().enumerate() {
                            row[3 * u + c] = (value * gain).clamp(0.0, 255.0) as u8;
                        }
                    }
                }
            }
        });
    Page {
        width,
        height,
        channels,
        data,
    }
}
