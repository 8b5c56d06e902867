//! Finding the page: its four corners in the camera frame.
//!
//! Two stages. On a copy shrunk to about 800 px, edges (Canny) are grouped into connected
//! outlines, and the largest outline whose convex hull is well described by four corners is the
//! page. Each side is then refined on the full-resolution luma: the strongest brightness step
//! along the side's normal is found to a fraction of a pixel at many points, a line is fitted
//! to them with outliers dropped, and neighbouring sides are intersected. The first stage is
//! robust (text, clutter, shadows), the second exact.

use crate::geometry::{Line, Point, Quad, polygon_area};
use crate::picture::Plane;

/// The detection copy is the frame shrunk by an integer factor to at most this many pixels wide.
pub const DETECT_WIDTH: usize = 900;

/// Canny hysteresis thresholds on the Sobel magnitude of the blurred detection copy: a paper
/// edge against a desk gives well over 100, paper grain and JPEG noise under 20.
const HIGH: f32 = 48.0;
const LOW: f32 = 20.0;

/// The factor by which a `width`-pixel frame is shrunk for detection.
pub fn detect_factor(width: usize) -> usize {
    width.div_ceil(DETECT_WIDTH).max(1)
}

/// A page found in a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Found {
    /// The corners in frame pixels, clockwise from the page's top-left.
    pub quad: Quad,
    /// False when a corner lies at or beyond the frame's edge: part of the page is cut off.
    pub complete: bool,
}

/// Finds the page in `luma` (the full frame) using `small`, the same frame shrunk by `factor`.
/// `None` when no outline in the frame looks like a page.
pub fn find_page(luma: &Plane, small: &Plane, factor: usize) -> Option<Found> {
    let rough = find_quad(small)?;
    let k = factor as f64;
    // Detection pixel centres sit at the centre of each factor² block.
    let offset = (k - 1.0) / 2.0;
    let rough = Quad(
        rough
            .0
            .map(|p| Point::new(p.x * k + offset, p.y * k + offset)),
    );
    let quad = refine(luma, &rough, 2.5 * k + 4.0).unwrap_or(rough);
    let margin = 0.004 * luma.width.min(luma.height) as f64;
    let complete = quad.0.iter().all(|p| {
        p.x > margin
            && p.y > margin
            && p.x < luma.width as f64 - 1.0 - margin
            && p.y < luma.height as f64 - 1.0 - margin
    });
    Some(Found { quad, complete })
}

/// The page's outline in the detection copy, corners clockwise from top-left.
pub fn find_quad(small: &Plane) -> Option<Quad> {
    let (w, h) = (small.width, small.height);
    if w < 16 || h < 16 {
        return None;
    }
    let blurred = blur5(small);
    let edges = canny(&blurred, w, h);
    let image_area = (w * h) as f64;
    let mut best: Option<(f64, Quad)> = None;
    for outline in outlines(&edges, w, h) {
        let hull = convex_hull(outline);
        let hull_area = polygon_area(&hull).abs();
        if hull_area < 0.03 * image_area {
            continue;
        }
        let Some(quad) = largest_quad(&hull) else {
            continue;
        };
        let area = quad.area();
        if area < 0.85 * hull_area || !plausible(&quad) {
            continue;
        }
        if best.as_ref().is_none_or(|(a, _)| area > *a) {
            best = Some((area, quad));
        }
    }
    best.map(|(_, q)| q)
}

/// A page seen through a document camera: convex, no angle sharper than 35° (perspective and
/// tilt included).
fn plausible(q: &Quad) -> bool {
    (0..4).all(|i| {
        let p = q.0[i];
        let a = q.0[(i + 3) % 4];
        let b = q.0[(i + 1) % 4];
        let (ux, uy, vx, vy) = (a.x - p.x, a.y - p.y, b.x - p.x, b.y - p.y);
        let cos = (ux * vx + uy * vy) / (ux.hypot(uy) * vx.hypot(vy)).max(1e-9);
        cos.abs() < 0.82
    }) && q.area() > 0.0
}

/// Separable 5-tap binomial blur (σ ≈ 1), into floats.
fn blur5(p: &Plane) -> Vec<f32> {
    const K: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
    let (w, h) = (p.width, p.height);
    let mut tmp = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (i, k) in K.iter().enumerate() {
                s += k * f32::from(p.at(x as isize + i as isize - 2, y as isize));
            }
            tmp[y * w + x] = s;
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (i, k) in K.iter().enumerate() {
                let yy = (y as isize + i as isize - 2).clamp(0, h as isize - 1) as usize;
                s += k * tmp[yy * w + x];
            }
            out[y * w + x] = s;
        }
    }
    out
}

/// Canny edges: Sobel gradient, thinning to the ridge, and hysteresis.
fn canny(g: &[f32], w: usize, h: usize) -> Vec<bool> {
    let mut mag = vec![0f32; w * h];
    let mut dir = vec![0u8; w * h];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let p = |dx: isize, dy: isize| {
                g[(y as isize + dy) as usize * w + (x as isize + dx) as usize]
            };
            let gx = p(1, -1) + 2.0 * p(1, 0) + p(1, 1) - p(-1, -1) - 2.0 * p(-1, 0) - p(-1, 1);
            let gy = p(-1, 1) + 2.0 * p(0, 1) + p(1, 1) - p(-1, -1) - 2.0 * p(0, -1) - p(1, -1);
            // The gradient is small enough that the plain square root cannot overflow (hypot is a
            // library call; this is one instruction).
            mag[y * w + x] = (gx * gx + gy * gy).sqrt();
            // Quantise the gradient direction to 0°, 45°, 90°, 135°.
            let (ax, ay) = (gx.abs(), gy.abs());
            dir[y * w + x] = if ay <= 0.414 * ax {
                0
            } else if ax <= 0.414 * ay {
                2
            } else if (gx > 0.0) == (gy > 0.0) {
                1
            } else {
                3
            };
        }
    }
    let mut strong = Vec::new();
    let mut keep = vec![0u8; w * h]; // 0 none, 1 weak, 2 strong
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            let m = mag[i];
            if m < LOW {
                continue;
            }
            let (a, b) = match dir[i] {
                0 => (i - 1, i + 1),
                2 => (i - w, i + w),
                1 => (i - w - 1, i + w + 1),
                _ => (i - w + 1, i + w - 1),
            };
            if m >= mag[a] && m > mag[b] {
                keep[i] = if m >= HIGH { 2 } else { 1 };
                if m >= HIGH {
                    strong.push(i);
                }
            }
        }
    }
    let mut edge = vec![false; w * h];
    while let Some(i) = strong.pop() {
        if edge[i] {
            continue;
        }
        edge[i] = true;
        let (x, y) = (i % w, i / w);
        for ny in y.saturating_sub(1)..(y + 2).min(h) {
            for nx in x.saturating_sub(1)..(x + 2).min(w) {
                let j = ny * w + nx;
                if !edge[j] && keep[j] > 0 {
                    strong.push(j);
                }
            }
        }
    }
    edge
}

/// Connected edge outlines (pixels within two of each other join, bridging one-pixel gaps);
/// each outline is reduced to the first and last pixel of each of its rows, which is all a
/// convex hull needs.
fn outlines(edges: &[bool], w: usize, h: usize) -> Vec<Vec<Point>> {
    let min_pixels = (w + h) / 4;
    let mut seen = vec![false; w * h];
    let mut result = Vec::new();
    let mut stack = Vec::new();
    let mut rows: Vec<(usize, usize)> = vec![(usize::MAX, 0); h];
    for start in 0..w * h {
        if !edges[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut count = 0;
        let (mut top, mut bottom) = (h, 0);
        while let Some(i) = stack.pop() {
            count += 1;
            let (x, y) = (i % w, i / w);
            let r = &mut rows[y];
            r.0 = r.0.min(x);
            r.1 = r.1.max(x);
            top = top.min(y);
            bottom = bottom.max(y);
            for ny in y.saturating_sub(2)..(y + 3).min(h) {
                for nx in x.saturating_sub(2)..(x + 3).min(w) {
                    let j = ny * w + nx;
                    if edges[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        let mut points = Vec::new();
        for (y, r) in rows.iter_mut().enumerate().take(bottom + 1).skip(top) {
            if r.0 != usize::MAX {
                points.push(Point::new(r.0 as f64, y as f64));
                if r.1 != r.0 {
                    points.push(Point::new(r.1 as f64, y as f64));
                }
            }
            *r = (usize::MAX, 0);
        }
        if count >= min_pixels {
            result.push(points);
        }
    }
    result
}

/// Convex hull (monotone chain), clockwise on screen.
fn convex_hull(mut pts: Vec<Point>) -> Vec<Point> {
    pts.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross =
        |o: Point, a: Point, b: Point| (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
    let mut hull: Vec<Point> = Vec::with_capacity(pts.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &Point>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    // Monotone chain gives counter-clockwise in y-up terms, which is clockwise on screen.
    hull
}

/// The largest-area quadrilateral with corners among the hull's vertices.
fn largest_quad(hull: &[Point]) -> Option<Quad> {
    let hull = simplify(hull, 1.5);
    let n = hull.len();
    if n < 4 {
        return None;
    }
    let tri = |a: Point, b: Point, c: Point| {
        ((b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)).abs() / 2.0
    };
    let mut best = (0.0, [0usize; 4]);
    for i in 0..n {
        for k in i + 2..n {
            let (a, c) = (hull[i], hull[k]);
            let side1 = (i + 1..k)
                .map(|j| (tri(a, hull[j], c), j))
                .max_by(|x, y| x.0.total_cmp(&y.0));
            let side2 = (k + 1..n + i)
                .map(|l| l % n)
                .map(|l| (tri(a, hull[l], c), l))
                .max_by(|x, y| x.0.total_cmp(&y.0));
            if let (Some((s1, j)), Some((s2, l))) = (side1, side2)
                && s1 + s2 > best.0
            {
                best = (s1 + s2, [i, j, k, l]);
            }
        }
    }
    (best.0 > 0.0).then(|| Quad::clockwise(best.1.map(|i| hull[i])))
}

/// Drops hull vertices that lie within `eps` of the line through their neighbours, so that a
/// page outline has a few dozen vertices, not hundreds.
fn simplify(hull: &[Point], eps: f64) -> Vec<Point> {
    let mut pts = hull.to_vec();
    loop {
        let n = pts.len();
        if n <= 4 {
            return pts;
        }
        let mut removed = false;
        let mut i = 0;
        while i < pts.len() && pts.len() > 4 {
            let n = pts.len();
            let (a, p, b) = (pts[(i + n - 1) % n], pts[i], pts[(i + 1) % n]);
            let len = a.dist(b).max(1e-9);
            let d = ((b.x - a.x) * (a.y - p.y) - (a.x - p.x) * (b.y - a.y)).abs() / len;
            if d < eps {
                pts.remove(i);
                removed = true;
            } else {
                i += 1;
            }
        }
        if !removed {
            return pts;
        }
    }
}

/// Refines each side of `rough` on the full-resolution luma, searching up to `reach` pixels
/// either side of it. `None` when a side has too few clear edge points to trust.
pub fn refine(luma: &Plane, rough: &Quad, reach: f64) -> Option<Quad> {
    let mut lines = [Line {
        n: Point::default(),
        d: 0.0,
    }; 4];
    for (i, line) in lines.iter_mut().enumerate() {
        let a = rough.0[i];
        let b = rough.0[(i + 1) % 4];
        *line = refine_side(luma, a, b, reach)?;
    }
    let mut corners = [Point::default(); 4];
    for (i, c) in corners.iter_mut().enumerate() {
        *c = lines[(i + 3) % 4].intersect(&lines[i])?;
        if c.dist(rough.0[i]) > 3.0 * reach {
            return None;
        }
    }
    Some(Quad(corners))
}

/// The side from `a` to `b` fitted to the brightness step across it.
fn refine_side(luma: &Plane, a: Point, b: Point, reach: f64) -> Option<Line> {
    const SAMPLES: usize = 64;
    let len = a.dist(b);
    if len < 8.0 {
        return None;
    }
    let (dx, dy) = ((b.x - a.x) / len, (b.y - a.y) / len);
    // Corners are clockwise on screen, so the outward normal is to the left of a→b.
    let (nx, ny) = (dy, -dx);
    let steps = (2.0 * reach).ceil() as usize + 1;
    let mut points = Vec::with_capacity(SAMPLES);
    let mut profile = vec![0f32; steps + 2];
    for s in 0..SAMPLES {
        // Stay clear of the corners, where the neighbouring side's edge would pull.
        let t = 0.08 + 0.84 * (s as f64 + 0.5) / SAMPLES as f64;
        let (bx, by) = (a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t);
        for (k, v) in profile.iter_mut().enumerate() {
            let off = k as f64 - 1.0 - reach;
            // Average three points along the side to steady the profile against text and noise.
            let mut sum = 0.0;
            for along in [-1.5, 0.0, 1.5] {
                sum += luma.sample(
                    (bx + nx * off + dx * along) as f32,
                    (by + ny * off + dy * along) as f32,
                );
            }
            *v = sum / 3.0;
        }
        // Strongest step (inside → outside) along the normal, to a fraction of a pixel.
        let diff = |k: usize| profile[k + 1] - profile[k - 1];
        let mut best = (0.0f32, 0usize);
        for k in 1..=steps {
            let d = diff(k).abs();
            if d > best.0 {
                best = (d, k);
            }
        }
        if best.0 < 12.0 || best.1 <= 1 || best.1 >= steps {
            continue;
        }
        let (l, c, r) = (diff(best.1 - 1).abs(), best.0, diff(best.1 + 1).abs());
        let denom = l - 2.0 * c + r;
        let sub = if denom.abs() > 1e-6 {
            0.5 * (l - r) / denom
        } else {
            0.0
        };
        let off = best.1 as f64 + f64::from(sub.clamp(-0.5, 0.5)) - 1.0 - reach;
        points.push(Point::new(bx + nx * off, by + ny * off));
    }
    if points.len() < SAMPLES / 4 {
        return None;
    }
    let mut line = Line::fit(&points)?;
    for tolerance in [3.0, 1.5] {
        let kept: Vec<Point> = points
            .iter()
            .copied()
            .filter(|p| line.distance(*p).abs() <= tolerance)
            .collect();
        if kept.len() < SAMPLES / 4 {
            break;
        }
        line = Line::fit(&kept)?;
        points = kept;
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dark desk with a bright page whose corners are given, drawn with anti-aliased edges.
    fn scene(w: usize, h: usize, quad: &Quad) -> Plane {
        let mut p = Plane::filled(w, h, 60);
        for y in 0..h {
            for x in 0..w {
                let mut inside = 0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let q = Point::new(
                            x as f64 + (sx as f64 - 1.5) / 4.0,
                            y as f64 + (sy as f64 - 1.5) / 4.0,
                        );
                        inside += usize::from(quad.contains(q));
                    }
                }
                p.data[y * w + x] = (60 + (200 - 60) * inside / 16) as u8;
            }
        }
        p
    }

    #[test]
    fn finds_a_rotated_page_to_a_fraction_of_a_pixel() {
        let truth = Quad([
            Point::new(210.3, 120.7),
            Point::new(880.2, 180.4),
            Point::new(830.6, 1010.9),
            Point::new(150.1, 950.2),
        ]);
        let luma = scene(1200, 1100, &truth);
        let factor = detect_factor(luma.width);
        let small = luma.shrink(factor);
        let found = find_page(&luma, &small, factor).unwrap();
        assert!(found.complete);
        for (f, t) in found.quad.0.iter().zip(&truth.0) {
            assert!(f.dist(*t) < 1.0, "{f:?} vs {t:?}");
        }
    }

    #[test]
    fn a_page_cut_by_the_frame_is_incomplete() {
        let truth = Quad([
            Point::new(-80.0, 100.0),
            Point::new(700.0, 120.0),
            Point::new(690.0, 900.0),
            Point::new(-60.0, 880.0),
        ]);
        let luma = scene(1000, 1000, &truth);
        let factor = detect_factor(luma.width);
        let found = find_page(&luma, &luma.shrink(factor), factor).unwrap();
        assert!(!found.complete);
    }

    #[test]
    fn an_empty_desk_has_no_page() {
        let luma = Plane::filled(800, 600, 70);
        assert_eq!(find_page(&luma, &luma.shrink(1), 1), None);
    }
}
