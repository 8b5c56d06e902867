//! Points, page quadrilaterals and plane homographies.

use serde::{Deserialize, Serialize};

/// A point in pixels (x to the right, y down).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    /// Column.
    pub x: f64,
    /// Row.
    pub y: f64,
}

impl Point {
    /// A point at `(x, y)`.
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    /// Distance to `other`.
    pub fn dist(self, other: Point) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }

    /// The point scaled by `k` about the origin.
    pub fn scale(self, k: f64) -> Point {
        Point::new(self.x * k, self.y * k)
    }
}

/// A page outline: its four corners clockwise from the page's top-left.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quad(pub [Point; 4]);

impl Quad {
    /// Orders four corners clockwise (on screen, y down) starting with the one whose direction
    /// from the centre is nearest to up-left: the page's top-left for any page laid within 45°
    /// of upright.
    pub fn clockwise(points: [Point; 4]) -> Quad {
        let c = centroid(&points);
        let angle = |p: &Point| (p.y - c.y).atan2(p.x - c.x);
        let mut sorted = points;
        sorted.sort_by(|a, b| angle(a).total_cmp(&angle(b)));
        // Up-left is at -3π/4; angles grow clockwise on screen.
        let up_left = -3.0 * std::f64::consts::FRAC_PI_4;
        let off = |p: &Point| {
            let d = (angle(p) - up_left).rem_euclid(std::f64::consts::TAU);
            d.min(std::f64::consts::TAU - d)
        };
        let first = (0..4)
            .min_by(|&i, &j| off(&sorted[i]).total_cmp(&off(&sorted[j])))
            .unwrap_or(0);
        sorted.rotate_left(first);
        Quad(sorted)
    }

    /// Area (shoelace), positive for clockwise corners on screen.
    pub fn area(&self) -> f64 {
        polygon_area(&self.0)
    }

    /// Mean of the two diagonals' lengths.
    pub fn diagonal(&self) -> f64 {
        (self.0[0].dist(self.0[2]) + self.0[1].dist(self.0[3])) / 2.0
    }

    /// Mean width (top and bottom sides) and height (left and right sides).
    pub fn side_lengths(&self) -> (f64, f64) {
        let [a, b, c, d] = self.0;
        ((a.dist(b) + d.dist(c)) / 2.0, (a.dist(d) + b.dist(c)) / 2.0)
    }

    /// The quad scaled by `k` about the origin (between image resolutions).
    pub fn scale(&self, k: f64) -> Quad {
        Quad(self.0.map(|p| p.scale(k)))
    }

    /// Whether `p` lies inside (corners clockwise on screen).
    pub fn contains(&self, p: Point) -> bool {
        (0..4).all(|i| {
            let a = self.0[i];
            let b = self.0[(i + 1) % 4];
            (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) >= 0.0
        })
    }

    /// The same outline for the page's content turned `k` quarter turns clockwise: its
    /// top-left is the corner `k` places back (a quarter turn brings the bottom-left up).
    pub fn turned(&self, k: usize) -> Quad {
        let mut p = self.0;
        p.rotate_right(k % 4);
        Quad(p)
    }
}

/// The centre of mass of the corner points.
pub fn centroid(points: &[Point]) -> Point {
    let n = points.len().max(1) as f64;
    let (x, y) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.x, y + p.y));
    Point::new(x / n, y / n)
}

/// Shoelace area of a polygon, positive when clockwise on screen.
pub fn polygon_area(points: &[Point]) -> f64 {
    let n = points.len();
    let mut s = 0.0;
    for i in 0..n {
        let a = points[i];
        let b = points[(i + 1) % n];
        s += a.x * b.y - b.x * a.y;
    }
    s / 2.0
}

/// A projective map of the plane: `(x, y) ↦ ((h0 x + h1 y + h2) / w, (h3 x + h4 y + h5) / w)`
/// with `w = h6 x + h7 y + 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Homography(pub [f64; 9]);

impl Homography {
    /// The map taking each `from[i]` to `to[i]`, or `None` when three of the points are in line.
    pub fn from_points(from: &[Point; 4], to: &[Point; 4]) -> Option<Homography> {
        let mut a = [[0.0f64; 9]; 8];
        for i in 0..4 {
            let (x, y, u, v) = (from[i].x, from[i].y, to[i].x, to[i].y);
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        let h = solve8(a)?;
        Some(Homography([
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0,
        ]))
    }

    /// Where `p` goes.
    pub fn apply(&self, p: Point) -> Point {
        let h = &self.0;
        let w = h[6] * p.x + h[7] * p.y + h[8];
        Point::new(
            (h[0] * p.x + h[1] * p.y + h[2]) / w,
            (h[3] * p.x + h[4] * p.y + h[5]) / w,
        )
    }

    /// The map going back, or `None` if this one is singular.
    pub fn inverse(&self) -> Option<Homography> {
        let m = &self.0;
        let c = [
            m[4] * m[8] - m[5] * m[7],
            m[2] * m[7] - m[1] * m[8],
            m[1] * m[5] - m[2] * m[4],
            m[5] * m[6] - m[3] * m[8],
            m[0] * m[8] - m[2] * m[6],
            m[2] * m[3] - m[0] * m[5],
            m[3] * m[7] - m[4] * m[6],
            m[1] * m[6] - m[0] * m[7],
            m[0] * m[4] - m[1] * m[3],
        ];
        let det = m[0] * c[0] + m[1] * c[3] + m[2] * c[6];
        if det.abs() < 1e-12 || c[8].abs() < 1e-12 {
            return None;
        }
        Some(Homography(c.map(|v| v / c[8])))
    }
}

/// Gaussian elimination with partial pivoting on an 8×9 augmented matrix.
fn solve8(mut a: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let mut x = [0.0; 8];
    for (i, xi) in x.iter_mut().enumerate() {
        *xi = a[i][8] / a[i][i];
    }
    Some(x)
}

/// A straight line `n·p = d` with `n` a unit normal, fitted to edge points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line {
    /// Unit normal.
    pub n: Point,
    /// Offset along the normal.
    pub d: f64,
}

impl Line {
    /// The total-least-squares line through `points`, or `None` for fewer than two.
    pub fn fit(points: &[Point]) -> Option<Line> {
        if points.len() < 2 {
            return None;
        }
        let c = centroid(points);
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for p in points {
            let (dx, dy) = (p.x - c.x, p.y - c.y);
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        // Direction of largest spread; the normal is perpendicular to it.
        let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy);
        let n = Point::new(-theta.sin(), theta.cos());
        Some(Line {
            n,
            d: n.x * c.x + n.y * c.y,
        })
    }

    /// Signed distance of `p` from the line.
    pub fn distance(&self, p: Point) -> f64 {
        self.n.x * p.x + self.n.y * p.y - self.d
    }

    /// Where two lines cross, or `None` when they are (nearly) parallel.
    pub fn intersect(&self, other: &Line) -> Option<Point> {
        let det = self.n.x * other.n.y - self.n.y * other.n.x;
        if det.abs() < 1e-9 {
            return None;
        }
        Some(Point::new(
            (self.d * other.n.y - self.n.y * other.d) / det,
            (self.n.x * other.d - self.d * other.n.x) / det,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homography_maps_corners_and_inverts() {
        let from = [
            Point::new(0.0, 0.0),
            Point::new(100.0, 0.0),
            Point::new(100.0, 140.0),
            Point::new(0.0, 140.0),
        ];
        let to = [
            Point::new(310.0, 220.0),
            Point::new(905.0, 180.0),
            Point::new(990.0, 1010.0),
            Point::new(260.0, 1080.0),
        ];
        let h = Homography::from_points(&from, &to).unwrap();
        let inv = h.inverse().unwrap();
        for (f, t) in from.iter().zip(&to) {
            assert!(h.apply(*f).dist(*t) < 1e-6);
            assert!(inv.apply(*t).dist(*f) < 1e-6);
        }
    }

    #[test]
    fn corners_are_ordered_from_the_top_left_clockwise() {
        let q = Quad::clockwise([
            Point::new(900.0, 1000.0),
            Point::new(100.0, 150.0),
            Point::new(120.0, 990.0),
            Point::new(880.0, 100.0),
        ]);
        assert_eq!(q.0[0], Point::new(100.0, 150.0));
        assert_eq!(q.0[1], Point::new(880.0, 100.0));
        assert_eq!(q.0[2], Point::new(900.0, 1000.0));
        assert!(q.area() > 0.0);
        assert!(q.contains(Point::new(500.0, 500.0)));
        assert!(!q.contains(Point::new(50.0, 500.0)));
    }

    #[test]
    fn lines_fit_and_cross() {
        let a: Vec<Point> = (0..10)
            .map(|i| Point::new(i as f64, 2.0 * i as f64 + 1.0))
            .collect();
        let b: Vec<Point> = (0..10).map(|i| Point::new(i as f64, 5.0)).collect();
        let p = Line::fit(&a)
            .unwrap()
            .intersect(&Line::fit(&b).unwrap())
            .unwrap();
        assert!(p.dist(Point::new(2.0, 5.0)) < 1e-9);
    }
}
