//! Whether a captured page is good enough to send, and if not, what to tell the citizen.

use crate::geometry::{Homography, Point};
use crate::picture::Plane;
use serde::{Deserialize, Serialize};

/// Below this ratio of steepest slope to local contrast the page is blurred: a clean edge
/// rises over one or two pixels (ratio about 0.4), a defocused or shaken one over five or more.
const SHARP_RATIO: f32 = 0.2;

/// A glare spot is a connected patch of clipped white at least this share of the page.
const GLARE_SHARE: f64 = 0.002;

/// The three checks, as the kiosk reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quality {
    /// Text edges are crisp enough to read.
    pub sharp: bool,
    /// A reflection has washed out part of the page.
    pub glare: bool,
    /// All four corners are inside the frame.
    pub complete: bool,
}

/// What to tell the citizen about a page that failed a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Problem {
    /// Blurred: moved during capture, or the page is not flat.
    Blurred,
    /// Glare on the page.
    Glare,
    /// Part of the page is outside the camera's view.
    CutOff,
}

impl Problem {
    /// The message on screen and spoken, in Chinese.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Blurred => "图像模糊，请将材料放平，拍摄时不要移动",
            Self::Glare => "材料有反光，请把材料放平或挪开塑封膜",
            Self::CutOff => "材料没有完整放入拍摄区域，请放在框线内",
        }
    }

    /// The same in English.
    pub fn en(self) -> &'static str {
        match self {
            Self::Blurred => "The image is blurred: lay the page flat and keep still",
            Self::Glare => "Glare on the page: flatten it or remove the plastic sleeve",
            Self::CutOff => "Part of the page is outside the frame: place it inside the marks",
        }
    }
}

impl Quality {
    /// The problems to show, most useful first.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !self.complete {
            out.push(Problem::CutOff);
        }
        if self.glare {
            out.push(Problem::Glare);
        }
        if !self.sharp {
            out.push(Problem::Blurred);
        }
        out
    }

    /// Whether the page can be kept as it is.
    pub fn ok(&self) -> bool {
        self.problems().is_empty()
    }
}

/// Sharpness on full-resolution luma, over a grid of tiles inside the page (`unit_map` takes
/// the unit square to the page in the frame). Each tile is smoothed a little (3×3 binomial) so
/// that sensor noise does not pass for edges; its steepest slopes are compared with its
/// contrast. Tiles without enough contrast (blank paper) are skipped; when fewer than three
/// remain there is nothing to misread and the page counts as sharp.
pub fn sharp(luma: &Plane, unit_map: &Homography) -> bool {
    const TILE: usize = 40;
    let mut ratios = Vec::new();
    let mut smooth = vec![0u16; (TILE + 2) * (TILE + 2)];
    let mut values = Vec::with_capacity(TILE * TILE);
    let mut slopes = Vec::with_capacity(TILE * TILE);
    // A grid over the page, and points on its edges (paper against desk), which still tell
    // when the page carries little text.
    let grid = (0..10)
        .flat_map(|gy| (0..8).map(move |gx| ((gx as f64 + 0.5) / 8.0, (gy as f64 + 0.5) / 10.0)));
    let edges = [0.25, 0.5, 0.75]
        .into_iter()
        .flat_map(|t| [(t, 0.0), (t, 1.0), (0.0, t), (1.0, t)]);
    for (u, v) in grid.chain(edges) {
        {
            let c = unit_map.apply(Point::new(u, v));
            let (x0, y0) = (
                c.x as isize - TILE as isize / 2 - 1,
                c.y as isize - TILE as isize / 2 - 1,
            );
            let n = TILE + 2;
            for y in 0..n {
                for x in 0..n {
                    let (px, py) = (x0 + x as isize, y0 + y as isize);
                    let mut s = 0u16;
                    for (dy, wy) in [(-1, 1u16), (0, 2), (1, 1)] {
                        for (dx, wx) in [(-1, 1u16), (0, 2), (1, 1)] {
                            s += wy * wx * u16::from(luma.at(px + dx, py + dy));
                        }
                    }
                    smooth[y * n + x] = s; // 16 × luma
                }
            }
            values.clear();
            slopes.clear();
            for y in 1..n - 1 {
                for x in 1..n - 1 {
                    let i = y * n + x;
                    values.push(smooth[i]);
                    let dx = smooth[i + 1].abs_diff(smooth[i - 1]);
                    let dy = smooth[i + n].abs_diff(smooth[i - n]);
                    slopes.push(dx.max(dy));
                }
            }
            values.sort_unstable();
            let contrast =
                f32::from(values[values.len() * 98 / 100] - values[values.len() * 2 / 100]) / 16.0;
            if contrast < 60.0 {
                continue;
            }
            let k = slopes.len() - slopes.len() / 200 - 1;
            let (_, steep, _) = slopes.select_nth_unstable(k);
            ratios.push(f32::from(*steep) / 32.0 / contrast);
        }
    }
    tracing::trace!(tiles = ratios.len(), "sharpness tiles measured");
    if ratios.len() < 3 {
        return true;
    }
    ratios.sort_by(f32::total_cmp);
    ratios[ratios.len() / 2] >= SHARP_RATIO
}

/// Glare on the detection copy `small`: the largest patch of clipped white inside `inside`
/// (a test in detection pixels), compared with the page's area there.
pub fn glare(small: &Plane, inside: impl Fn(Point) -> bool, page_area: f64) -> bool {
    let (w, h) = (small.width, small.height);
    let mut seen = vec![false; w * h];
    let mut stack = Vec::new();
    let mut largest = 0usize;
    for start in 0..w * h {
        if seen[start] || small.data[start] < 252 {
            continue;
        }
        if !inside(Point::new((start % w) as f64, (start / w) as f64)) {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut size = 0;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = (i % w, i / w);
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < w).then(|| i + 1),
                (y > 0).then(|| i - w),
                (y + 1 < h).then(|| i + w),
            ];
            for j in neighbours.into_iter().flatten() {
                if !seen[j] && small.data[j] >= 250 {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        largest = largest.max(size);
    }
    largest as f64 >= GLARE_SHARE * page_area
}
