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
const BG_STEP: usize = 16;

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
    let grown = max_filter(&low, 3);
    let mut bg = box_blur(&grown, 3);
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
    data.par_chunks_mut(width * channels * 8)
        .enumerate()
        .for_each(|(band, rows)| {
            // 1/background along the row, in 1/1024ths of the contrast table per luma step.
            let mut gain = vec![0u32; width];
            for (r, row) in rows.chunks_mut(width * channels).enumerate() {
                let v = band * 8 + r;
                background_gains(bg, v, &mut gain);
                // The exact position every 8 pixels, linear in between (16.16 fixed point):
                // over 8 output pixels the perspective bends the line by far less than 1/100 px.
                let vf = v as f64;
                let at = |u: usize| {
                    let uf = u as f64;
                    let w = h[6] * uf + h[7] * vf + h[8];
                    let x = (h[0] * uf + h[1] * vf + h[2]) / w;
                    let y = (h[3] * uf + h[4] * vf + h[5]) / w;
                    ((x * 65536.0) as i64, (y * 65536.0) as i64)
                };
                let (mut fx, mut fy) = at(0);
                let (mut dx, mut dy) = (0i64, 0i64);
                for u in 0..width {
                    if u % 8 == 0 {
                        let (ex, ey) = at(u + 8);
                        dx = (ex - fx) / 8;
                        dy = (ey - fy) / 8;
                    }
                    let (x, y) = (fx, fy);
                    fx += dx;
                    fy += dy;
                    // Luma with 10 fraction bits.
                    let luma = bilinear_fixed(&picture.y, x, y);
                    let idx = ((u64::from(luma) * u64::from(gain[u])) >> 20).min(2048) as usize;
                    if channels == 1 {
                        row[u] = table[idx];
                    } else if let Some((cb, cr)) = &picture.chroma {
                        let l = luma as f32 / 1024.0;
                        let k = f32::from(table[idx]) / l.max(1.0);
                        let (x, y) = (x as f32 / 65536.0, y as f32 / 65536.0);
                        let (cx, cy) = ((x + 0.5) / cfx - 0.5, (y + 0.5) / cfy - 0.5);
                        let b = bilinear(cb, cx, cy) as f32 / 1024.0 - 128.0;
                        let rr = bilinear(cr, cx, cy) as f32 / 1024.0 - 128.0;
                        // BT.601 full-range YCbCr → RGB, then the same gain as luma got.
                        let rgb = [
                            l + 1.402 * rr,
                            l - 0.344_136 * b - 0.714_136 * rr,
                            l + 1.772 * b,
                        ];
                        for (c, value) in rgb.iter().enumerate() {
                            row[3 * u + c] = (value * k).clamp(0.0, 255.0) as u8;
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

/// For each pixel of output row `v`: 2²⁰ / background, so that
/// `luma(10 fraction bits) × gain >> 20` is luma/background in 1/1024ths. The division is done
/// once per background sample and the gain interpolated between them: a division per pixel
/// would cost more than the whole warp.
fn background_gains(bg: &Plane, v: usize, gain: &mut [u32]) {
    let fy = (v % BG_STEP) as u64;
    let (r0, r1) = (v / BG_STEP, (v / BG_STEP + 1).min(bg.height - 1));
    let step = BG_STEP as u64;
    let at = |x: usize| {
        let x = x.min(bg.width - 1);
        let paper = u64::from(bg.data[r0 * bg.width + x]) * (step - fy)
            + u64::from(bg.data[r1 * bg.width + x]) * fy;
        ((1u64 << 20) * step / paper.max(step)) as i64
    };
    let mut left = at(0);
    for (block, chunk) in gain.chunks_mut(BG_STEP).enumerate() {
        let right = at(block + 1);
        let delta = (right - left) / BG_STEP as i64;
        let mut g = left;
        for out in chunk {
            *out = g as u32;
            g += delta;
        }
        left = right;
    }
}

/// Bilinear sample at a 16.16 fixed-point position, with 5-bit weights, result × 1024.
#[inline(always)]
fn bilinear_fixed(p: &Plane, x: i64, y: i64) -> u32 {
    let (xi, yi) = ((x >> 16) as isize, (y >> 16) as isize);
    let (fx, fy) = (((x >> 11) & 31) as u32, ((y >> 11) & 31) as u32);
    corners(p, xi, yi, fx, fy)
}

/// Bilinear sample with 5-bit weights (as OpenCV's warps use), result × 1024; clamped at the
/// edges, fast inside.
#[inline(always)]
fn bilinear(p: &Plane, x: f32, y: f32) -> u32 {
    // Truncation, corrected below zero: `f32::floor` is a library call on baseline x86-64.
    let (mut xi, mut yi) = (x as isize, y as isize);
    xi -= isize::from((xi as f32) > x);
    yi -= isize::from((yi as f32) > y);
    let (fx, fy) = (
        ((x - xi as f32) * 32.0) as u32,
        ((y - yi as f32) * 32.0) as u32,
    );
    corners(p, xi, yi, fx.min(31), fy.min(31))
}

/// Blends the four samples around `(xi, yi)` with weights out of 32.
#[inline(always)]
fn corners(p: &Plane, xi: isize, yi: isize, fx: u32, fy: u32) -> u32 {
    let (a, b, c, d) =
        if xi >= 0 && yi >= 0 && (xi as usize) + 1 < p.width && (yi as usize) + 1 < p.height {
            let i = yi as usize * p.width + xi as usize;
            let row = &p.data[i..i + p.width + 2];
            (row[0], row[1], row[p.width], row[p.width + 1])
        } else {
            (
                p.at(xi, yi),
                p.at(xi + 1, yi),
                p.at(xi, yi + 1),
                p.at(xi + 1, yi + 1),
            )
        };
    let top = u32::from(a) * (32 - fx) + u32::from(b) * fx;
    let bottom = u32::from(c) * (32 - fx) + u32::from(d) * fx;
    top * (32 - fy) + bottom * fy
}
