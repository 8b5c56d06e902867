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

/// Rows of output warped together by one task (even: colour works in pairs of rows).
const BAND: usize = 16;
/// Columns of a band warped before moving on to the next.
const BLOCK: usize = 128;

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

/// A warped page: `channels` 1 (grey), 3 (RGB) or 4 (RGBX, the fourth byte unused).
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

/// Entries of the contrast table.
const TABLE: usize = 2049;

/// The contrast curve, indexed by luma/background in 1/1024ths (up to 2×).
fn contrast_table() -> [u8; TABLE] {
    std::array::from_fn(|i| {
        let r = i as f32 / 1024.0;
        let t = ((r - BLACK) / (WHITE - BLACK)).clamp(0.0, 1.0);
        // A slight gamma keeps thin strokes dark after the stretch.
        (255.0 * t.powf(1.2)).round() as u8
    })
}

/// The page mapped by `map` (page pixels → `plane` pixels) resampled as it is: no
/// flattening, no contrast. For looking at the page's layout on a small copy.
pub fn resample(plane: &Plane, map: &Homography, width: usize, height: usize) -> Plane {
    let mut data = vec![0u8; width * height];
    data.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(v, row)| {
            let walk = Walk::new(map, v as f64, 1.0, 0.0, plane);
            walk.run(width, |u, x, y| {
                row[u] = ((bilinear_fixed(plane, x, y) + 512) >> 10) as u8;
            });
        });
    Plane {
        width,
        height,
        data,
    }
}

/// Warps the page outlined by `quad` in `picture` to `width`×`height`, flattened by `bg`.
///
/// The output is made in bands of [`BAND`] rows, one band per task, and each band in blocks of
/// [`BLOCK`] columns: a rotated page's output row crosses hundreds of frame rows, a block only
/// a few, so the frame is read from cache. Colour pages get their chroma at a quarter of the
/// pixels (4:2:0, what the output is encoded at), each chroma sample scaled by the gain the
/// luma under it got, so that flattening keeps hues; the band is then put together as RGB for
/// the encoder, in integers.
pub fn warp(
    picture: &Picture,
    map: &Homography,
    bg: &Plane,
    width: usize,
    height: usize,
    render: Render,
) -> Page {
    let table = contrast_table();
    let chroma = match (render, &picture.chroma) {
        (Render::Colour, Some(planes)) => Some(planes),
        _ => None,
    };
    // Colour as RGBX: a pixel is one 32-bit word, written and read whole.
    let channels = if chroma.is_some() { 4 } else { 1 };
    let mut data = vec![0u8; width * height * channels];
    let warper = Warper {
        picture,
        map,
        bg,
        width,
        height,
        table: &table,
    };
    data.par_chunks_mut(width * channels * BAND)
        .enumerate()
        .for_each(|(band, out)| {
            let top = band * BAND;
            match chroma {
                None => warper.luma::<false>(top, out, &mut []),
                Some((cb, cr)) => {
                    let rows = out.len() / (width * 4);
                    let mut luma = vec![0u8; width * rows];
                    let mut source = vec![0u32; width * rows];
                    warper.luma::<true>(top, &mut luma, &mut source);
                    warper.colour(top, &luma, &source, (cb, cr), out);
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

/// What every band of one warp shares.
struct Warper<'a> {
    picture: &'a Picture,
    map: &'a Homography,
    bg: &'a Plane,
    width: usize,
    height: usize,
    table: &'a [u8; TABLE],
}

impl Warper<'_> {
    /// Flattened, contrast-stretched luma of the rows from `top` into `out` (whole rows), and
    /// with `SOURCE` the frame's luma under each pixel (10 fraction bits) into `source`.
    fn luma<const SOURCE: bool>(&self, top: usize, out: &mut [u8], source: &mut [u32]) {
        let width = self.width;
        let rows = out.len() / width;
        // 1/background along each row, in 1/1024ths of the contrast table per luma step.
        let mut gains = vec![0u32; width * rows];
        for (r, gain) in gains.chunks_mut(width).enumerate() {
            background_gains(self.bg, (top + r).min(self.height - 1), gain);
        }
        let (luma, table) = (&self.picture.y, self.table);
        for left in (0..width).step_by(BLOCK) {
            let right = (left + BLOCK).min(width);
            for r in 0..rows {
                let span = r * width + left..r * width + right;
                let (out, gains) = (&mut out[span.clone()], &gains[span.clone()]);
                let source = if SOURCE {
                    &mut source[span]
                } else {
                    &mut [][..]
                };
                let walk = Walk::new(self.map, (top + r) as f64, 1.0, left as f64, luma);
                let (d, stride) = (&luma.data[..], luma.width);
                walk.segments(right - left, |run, (mut x, mut y), (dx, dy), inside| {
                    for u in run {
                        let l = if inside {
                            sample_inside(d, stride, x, y)
                        } else {
                            bilinear_fixed(luma, x, y)
                        };
                        out[u] =
                            table[((u64::from(l) * u64::from(gains[u])) >> 20).min(2048) as usize];
                        if SOURCE {
                            source[u] = l;
                        }
                        x += dx;
                        y += dy;
                    }
                });
            }
        }
    }

    /// RGB rows from `top` into `out`, from the band's output `luma`, the frame's `source`
    /// luma under it and the frame's chroma planes.
    fn colour(
        &self,
        top: usize,
        luma: &[u8],
        source: &[u32],
        (cb, cr): (&Plane, &Plane),
        out: &mut [u8],
    ) {
        let width = self.width;
        let rows = luma.len() / width;
        // Chroma is subsampled by 1, 2 or 4: a shift takes a luma position to a chroma one.
        let (fx, fy) = self.picture.chroma_factors();
        let shift = |f: f32| {
            (f.round().max(1.0) as u32)
                .next_power_of_two()
                .trailing_zeros()
        };
        let (sx, sy) = (shift(fx), shift(fy));
        let limit = (
            (cb.width as i64 - 2) << 16 | 0xFFFF,
            (cb.height as i64 - 2) << 16 | 0xFFFF,
        );
        // Red, green and blue added to each pixel's luma by its chroma, along a row.
        let mut added = [vec![0i16; width], vec![0i16; width], vec![0i16; width]];
        for pair in (0..rows).step_by(2) {
            let below = (pair + 1).min(rows - 1);
            // The centre of each 2×2 block of output pixels.
            let walk = Walk::new(self.map, (top + pair) as f64 + 0.5, 2.0, 0.5, cb);
            let (upper, lower) = (pair * width, below * width);
            let (cbd, crd, stride) = (&cb.data[..], &cr.data[..], cb.width);
            walk.segments(width.div_ceil(2), |run, (mut x, mut y), (dx, dy), _| {
                for cu in run {
                    let (u0, u1) = (2 * cu, (2 * cu + 1).min(width - 1));
                    // The gain the luma of the block got.
                    let made = u32::from(luma[upper + u0])
                        + u32::from(luma[upper + u1])
                        + u32::from(luma[lower + u0])
                        + u32::from(luma[lower + u1]);
                    let seen = source[upper + u0]
                        + source[upper + u1]
                        + source[lower + u0]
                        + source[lower + u1];
                    let k = made as f32 / seen.max(1024) as f32;
                    // Chroma sample centres sit `factor` luma samples apart.
                    let (cx, cy) = (((x + 32768) >> sx) - 32768, ((y + 32768) >> sy) - 32768);
                    let (b, r) = if (0..=limit.0).contains(&cx) && (0..=limit.1).contains(&cy) {
                        (
                            sample_inside(cbd, stride, cx, cy),
                            sample_inside(crd, stride, cx, cy),
                        )
                    } else {
                        (bilinear_fixed(cb, cx, cy), bilinear_fixed(cr, cx, cy))
                    };
                    let scaled = |c: u32| ((c as f32 - 131_072.0) * k).clamp(-128.0, 127.0) as i32;
                    let (b, r) = (scaled(b), scaled(r));
                    // BT.601 full range, as JPEG uses; both pixels of the pair get it.
                    let rgb =
                        [359 * r, -88 * b - 183 * r, 454 * b].map(|v| ((v + 128) >> 8) as i16);
                    for (c, add) in added.iter_mut().enumerate() {
                        add[2 * cu] = rgb[c];
                        add[(2 * cu + 1).min(width - 1)] = rgb[c];
                    }
                    x += dx;
                    y += dy;
                }
            });
            for row in pair..(pair + 2).min(rows) {
                let y_row = &luma[row * width..(row + 1) * width];
                let line = &mut out[row * width * 4..(row + 1) * width * 4];
                // One 32-bit RGBX word a pixel: a loop the compiler vectorises.
                let [r, g, b] = &added;
                for ((px, &y), ((&r, &g), &b)) in line
                    .chunks_exact_mut(4)
                    .zip(y_row)
                    .zip(r.iter().zip(g).zip(b))
                {
                    let y = i16::from(y);
                    let channel = |a: i16| (y + a).clamp(0, 255) as u32;
                    let word = channel(r) | channel(g) << 8 | channel(b) << 16;
                    px.copy_from_slice(&word.to_le_bytes());
                }
            }
        }
    }
}

/// A walk along a row of output samples: sample `i` is at `(offset + i·step, v)` in output
/// pixels, mapped to the frame in 16.16 fixed point. The exact position every 8 samples, linear
/// in between: over 8 samples the perspective bends the line by far less than 1/100 px. A run
/// of 8 whose ends both have their 2×2 neighbourhood inside the plane lies inside it all along.
struct Walk {
    h: [f64; 9],
    v: f64,
    step: f64,
    offset: f64,
    /// Largest whole x and y (16.16) whose 2×2 neighbourhood is inside the plane.
    limit: (i64, i64),
}

impl Walk {
    fn new(map: &Homography, v: f64, step: f64, offset: f64, plane: &Plane) -> Walk {
        Walk {
            h: map.0,
            v,
            step,
            offset,
            limit: (
                (plane.width as i64 - 2) << 16 | 0xFFFF,
                (plane.height as i64 - 2) << 16 | 0xFFFF,
            ),
        }
    }

    fn exact(&self, i: usize) -> (i64, i64) {
        let (h, u) = (&self.h, self.offset + i as f64 * self.step);
        let w = h[6] * u + h[7] * self.v + h[8];
        let x = (h[0] * u + h[1] * self.v + h[2]) / w;
        let y = (h[3] * u + h[4] * self.v + h[5]) / w;
        ((x * 65536.0) as i64, (y * 65536.0) as i64)
    }

    fn inside(&self, (x, y): (i64, i64)) -> bool {
        (0..=self.limit.0).contains(&x) && (0..=self.limit.1).contains(&y)
    }

    /// Calls `f(run, start, step, inside)` for each run of up to 8 of the samples `0..n`:
    /// the run's first position and the step to the next.
    #[inline(always)]
    fn segments(
        &self,
        n: usize,
        mut f: impl FnMut(std::ops::Range<usize>, (i64, i64), (i64, i64), bool),
    ) {
        let mut here = self.exact(0);
        for start in (0..n).step_by(8) {
            let next = self.exact(start + 8);
            let step = ((next.0 - here.0) / 8, (next.1 - here.1) / 8);
            let inside =
                self.inside(here) && self.inside((here.0 + 7 * step.0, here.1 + 7 * step.1));
            f(start..(start + 8).min(n), here, step, inside);
            here = next;
        }
    }

    /// Calls `f(i, x, y)` for samples `0..n` in order.
    #[inline(always)]
    fn run(&self, n: usize, mut f: impl FnMut(usize, i64, i64)) {
        self.segments(n, |run, (mut x, mut y), (dx, dy), _| {
            for i in run {
                f(i, x, y);
                x += dx;
                y += dy;
            }
        });
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

/// [`bilinear_fixed`] on rows `stride` long, where the 2×2 neighbourhood is known to be inside.
#[inline(always)]
fn sample_inside(d: &[u8], stride: usize, x: i64, y: i64) -> u32 {
    let (xi, yi) = ((x >> 16) as usize, (y >> 16) as usize);
    let (fx, fy) = (((x >> 11) & 31) as u32, ((y >> 11) & 31) as u32);
    let i = yi * stride + xi;
    let top = u32::from(d[i]) * (32 - fx) + u32::from(d[i + 1]) * fx;
    let bottom = u32::from(d[i + stride]) * (32 - fx) + u32::from(d[i + stride + 1]) * fx;
    top * (32 - fy) + bottom * fy
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
