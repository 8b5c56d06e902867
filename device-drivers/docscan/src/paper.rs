//! The page's physical size, and so the output's pixel size at 300 dpi.

use crate::geometry::Quad;

/// Paper and card sizes a citizen brings (millimetres, portrait).
const SIZES: [(&str, f64, f64); 6] = [
    ("A4", 210.0, 297.0),
    ("A5", 148.0, 210.0),
    ("B5", 176.0, 250.0),
    ("A3", 297.0, 420.0),
    ("Letter", 215.9, 279.4),
    ("ID-1 card", 54.0, 85.6),
];

/// A measured size within this share of a standard one is taken to be it.
const SNAP: f64 = 0.08;

/// The page's width and height in millimetres: measured with the camera's scale, then snapped
/// to the nearest standard size in the same orientation when it is close.
pub fn size_mm(quad: &Quad, px_per_mm: f64) -> (f64, f64) {
    let (w, h) = quad.side_lengths();
    let (w, h) = (w / px_per_mm, h / px_per_mm);
    for (_, a, b) in SIZES {
        let (sw, sh) = if w <= h { (a, b) } else { (b, a) };
        if (w / sw - 1.0).abs() < SNAP && (h / sh - 1.0).abs() < SNAP {
            return (sw, sh);
        }
    }
    (w, h)
}

/// Pixels for `mm` at `dpi`.
pub fn pixels(mm: f64, dpi: u32) -> usize {
    (mm / 25.4 * f64::from(dpi)).round().max(1.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Point;

    #[test]
    fn an_a4_page_near_its_size_is_a4_at_300_dpi() {
        let k = 6.8;
        let q = Quad([
            Point::new(0.0, 0.0),
            Point::new(205.0 * k, 0.0),
            Point::new(205.0 * k, 301.0 * k),
            Point::new(0.0, 301.0 * k),
        ]);
        let (w, h) = size_mm(&q, k);
        assert_eq!((pixels(w, 300), pixels(h, 300)), (2480, 3508));
        let odd = Quad([
            Point::new(0.0, 0.0),
            Point::new(100.0 * k, 0.0),
            Point::new(100.0 * k, 100.0 * k),
            Point::new(0.0, 100.0 * k),
        ]);
        let (w, h) = size_mm(&odd, k);
        assert!((w - 100.0).abs() < 1e-9 && (h - 100.0).abs() < 1e-9);
    }
}
