//! Generated scenes: a document lying on a desk under the camera, with its true corners known.
//!
//! A scene is a set of parameters drawn from a seed (what the page is, where it lies, the desk,
//! the light, the faults) and can be rendered at any frame size, so one scene serves both the
//! preview stream and the 8 MP still. Geometry is kept in the units of a 3264×2448 frame.
//!
//! Page content imitates what citizens bring: lines of Chinese-like glyphs (strokes in square
//! cells: no font is needed and nothing is copied), forms with tables and a red seal, ID card
//! copies, and pages with a photo. The scene adds what makes detection hard: perspective and
//! rotation, uneven light and a shadow, clutter on the desk, sensor noise, JPEG artefacts, and
//! on request blur, glare, a page cut off by the frame's edge or a hand.

use docscan::geometry::{Homography, Point, Quad};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Width of the frame the geometry is expressed in.
pub const BASE_WIDTH: f64 = 3264.0;
/// Height of that frame.
pub const BASE_HEIGHT: f64 = 2448.0;
/// Texture resolution of the rendered page.
const TEX_PX_PER_MM: f64 = 8.0;

/// A small, fast, seedable generator (SplitMix64): scenes must be the same on every machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.range(0.0, 1.0) < p
    }

    /// Uniform integer in `[lo, hi)`.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo).max(1) as u64) as usize
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What is printed on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PageKind {
    /// Paragraphs of text.
    Text,
    /// A form with a table and a red seal.
    Form,
    /// Copies of both sides of an ID card.
    IdCopy,
    /// A page with a colour photo.
    Photo,
}

/// Faults to put in a scene.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Defocus or motion blur, σ in pixels of the 8 MP frame (0: sharp).
    pub blur: f64,
    /// A specular reflection on the page.
    pub glare: bool,
    /// The page pushed partly out of the frame.
    pub cut_off: bool,
}

/// A hand in view: where its palm is, in base-frame pixels, and which edge its arm comes from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hand {
    /// Palm centre.
    pub palm: Point,
    /// Palm radius.
    pub size: f64,
}

#[derive(Clone, Debug)]
enum Shape {
    /// A rotated rectangle: centre, half sizes, angle, colour.
    Rect(Point, f64, f64, f64, [f32; 3]),
    /// A ring (a mug seen from above): centre, outer radius, width, colour.
    Ring(Point, f64, f64, [f32; 3]),
}

/// One scene, ready to render at any size.
#[derive(Clone, Debug)]
pub struct Scene {
    /// The seed it was drawn from.
    pub seed: u64,
    /// What is on the page.
    pub kind: PageKind,
    /// Paper size in millimetres.
    pub paper_mm: (f64, f64),
    /// Quarter turns clockwise the page was laid from upright.
    pub turns: u8,
    /// Faults put in.
    pub faults: Faults,
    /// A hand in view, if any.
    pub hand: Option<Hand>,
    /// Whether the page is on the desk at all.
    pub page: bool,
    /// Page millimetres → base-frame pixels.
    page_to_base: Homography,
    base_to_page: Homography,
    desk: [f32; 3],
    grain: f64,
    clutter: Vec<Shape>,
    light_gradient: (f64, f64),
    vignette: f64,
    shadow: Option<(Point, f64, f64)>,
    glare_at: Option<(Point, f64)>,
    noise: f64,
    noise_seed: u64,
    jpeg_quality: i32,
    texture: std::sync::Arc<Texture>,
}

/// The scene's true answer, written beside each generated image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// The scene's seed.
    pub seed: u64,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// The page's corners in frame pixels, clockwise from its top-left (may lie outside the
    /// frame when the page is cut off).
    pub corners: [[f64; 2]; 4],
    /// What is on the page.
    pub kind: PageKind,
    /// Paper size in millimetres.
    pub paper_mm: [f64; 2],
    /// Quarter turns clockwise the page was laid from upright.
    #[serde(default)]
    pub turns: u8,
    /// The faults put in.
    pub faults: Faults,
    /// Whether a hand is in view.
    pub hand: bool,
}

impl Scene {
    /// The scene for `seed` with the given faults and no hand, the page laid upright.
    pub fn generate(seed: u64, faults: Faults) -> Scene {
        Scene::generate_laid(seed, faults, 0)
    }

    /// The scene for `seed` with the page laid `turns` quarter turns clockwise from upright
    /// (sideways or upside down), as citizens often lay it.
    pub fn generate_laid(seed: u64, faults: Faults, turns: u8) -> Scene {
        let mut rng = Rng::new(seed);
        let kind = match rng.int(0, 20) {
            0..=7 => PageKind::Text,
            8..=12 => PageKind::Form,
            13..=16 => PageKind::IdCopy,
            _ => PageKind::Photo,
        };
        let paper_mm = if kind == PageKind::Text && rng.chance(0.15) {
            (148.0, 210.0)
        } else {
            (210.0, 297.0)
        };
        let scale = BASE_WIDTH / docscan::DEFAULT_FIELD_WIDTH_MM * rng.range(0.95, 1.04);
        let page_to_base = place(&mut rng, paper_mm, scale, faults.cut_off, turns);
        let base_to_page = page_to_base.inverse().unwrap_or(page_to_base);
        let outline = page_outline(&page_to_base, paper_mm);
        let desk = match rng.int(0, 4) {
            0 => [92.0, 62.0, 40.0],    // dark wood
            1 => [38.0, 38.0, 42.0],    // black pad
            2 => [120.0, 122.0, 125.0], // grey laminate
            _ => [150.0, 112.0, 78.0],  // light wood
        };
        let mut clutter = Vec::new();
        for _ in 0..rng.int(0, 4) {
            for _attempt in 0..20 {
                let c = Point::new(rng.range(0.0, BASE_WIDTH), rng.range(0.0, BASE_HEIGHT));
                let shape = if rng.chance(0.6) {
                    let colour = [
                        rng.range(20.0, 220.0) as f32,
                        rng.range(20.0, 220.0) as f32,
                        rng.range(20.0, 220.0) as f32,
                    ];
                    Shape::Rect(
                        c,
                        rng.range(30.0, 300.0),
                        rng.range(8.0, 40.0),
                        rng.range(0.0, 3.2),
                        colour,
                    )
                } else {
                    Shape::Ring(
                        c,
                        rng.range(150.0, 260.0),
                        rng.range(15.0, 30.0),
                        [200.0, 196.0, 190.0],
                    )
                };
                // Clutter lies beside the page, not on it.
                if outline_distance(&outline, c) > shape.reach() + 60.0 {
                    clutter.push(shape);
                    break;
                }
            }
        }
        let shadow = rng.chance(0.35).then(|| {
            let p = page_to_base.apply(Point::new(
                rng.range(0.0, paper_mm.0),
                rng.range(0.0, paper_mm.1),
            ));
            (p, rng.range(300.0, 800.0), rng.range(0.6, 0.85))
        });
        let glare_at = faults.glare.then(|| {
            let p = page_to_base.apply(Point::new(
                rng.range(0.25, 0.75) * paper_mm.0,
                rng.range(0.25, 0.75) * paper_mm.1,
            ));
            (p, rng.range(60.0, 120.0))
        });
        let texture = std::sync::Arc::new(Texture::render(kind, paper_mm, &mut rng));
        Scene {
            seed,
            kind,
            paper_mm,
            turns: turns % 4,
            faults,
            hand: None,
            page: true,
            page_to_base,
            base_to_page,
            desk,
            grain: rng.range(0.0, 0.08),
            clutter,
            light_gradient: (rng.range(-0.12, 0.12), rng.range(-0.12, 0.12)),
            vignette: rng.range(0.0, 0.3),
            shadow,
            glare_at,
            noise: rng.range(1.5, 4.0),
            noise_seed: seed,
            jpeg_quality: rng.range(80.0, 93.0) as i32,
            texture,
        }
    }

    /// The same scene with a hand in view.
    pub fn with_hand(mut self, hand: Option<Hand>) -> Scene {
        self.hand = hand;
        self
    }

    /// This scene's page lying on `desk`'s desk (its colour, clutter, light and noise), so that
    /// pages laid one after another under one camera share the same surroundings. Clutter the
    /// page would cover is taken away.
    pub fn on_desk(mut self, desk: &Scene) -> Scene {
        let outline = page_outline(&self.page_to_base, self.paper_mm);
        self.desk = desk.desk;
        self.grain = desk.grain;
        self.clutter = desk
            .clutter
            .iter()
            .filter(|c| outline_distance(&outline, c.centre()) > c.reach() + 60.0)
            .cloned()
            .collect();
        self.light_gradient = desk.light_gradient;
        self.vignette = desk.vignette;
        self.noise = desk.noise;
        self.jpeg_quality = desk.jpeg_quality;
        self.noise_seed = desk.noise_seed;
        self
    }

    /// The same desk with the page taken away.
    pub fn without_page(mut self) -> Scene {
        self.page = false;
        self
    }

    /// The same scene with the page moved by `(dx, dy)` base pixels (being slid into place).
    pub fn shifted(mut self, dx: f64, dy: f64) -> Scene {
        let mut h = self.page_to_base.0;
        // Translate after projecting: x' = x + dx·w, with w the denominator row.
        for i in 0..3 {
            h[i] += dx * h[6 + i];
            h[3 + i] += dy * h[6 + i];
        }
        self.page_to_base = Homography(h);
        self.base_to_page = self.page_to_base.inverse().unwrap_or(self.page_to_base);
        self
    }

    /// The page's corners in a `width`×`height` frame, clockwise from its top-left.
    pub fn corners(&self, width: u32, height: u32) -> Quad {
        let (sx, sy) = (
            f64::from(width) / BASE_WIDTH,
            f64::from(height) / BASE_HEIGHT,
        );
        Quad(
            page_outline(&self.page_to_base, self.paper_mm)
                .map(|p| Point::new((p.x + 0.5) * sx - 0.5, (p.y + 0.5) * sy - 0.5)),
        )
    }

    /// The truth for a `width`×`height` rendering.
    pub fn truth(&self, width: u32, height: u32) -> Truth {
        Truth {
            seed: self.seed,
            width,
            height,
            corners: self.corners(width, height).0.map(|p| [p.x, p.y]),
            kind: self.kind,
            paper_mm: [self.paper_mm.0, self.paper_mm.1],
            turns: self.turns,
            faults: self.faults,
            hand: self.hand.is_some(),
        }
    }

    /// The frame as packed RGB.
    pub fn render_rgb(&self, width: u32, height: u32) -> Vec<u8> {
        let (w, h) = (width as usize, height as usize);
        let s = BASE_WIDTH / f64::from(width);
        let level = self.texture.level_for(s * self.frame_mm_per_px());
        // Millimetres of page one frame pixel covers (near enough the same everywhere).
        let mm_per_px = self.frame_mm_per_px() * s;
        let mut rgb = vec![0u8; w * h * 3];
        rgb.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
            let base_y = (y as f64 + 0.5) * s - 0.5;
            // The desk grain's slow wave along the rows, the same for the whole row.
            let wave = (base_y * 0.0021).sin();
            for x in 0..w {
                let base = Point::new((x as f64 + 0.5) * s - 0.5, base_y);
                let c = self.colour_at(base, mm_per_px, wave, level, (x, y));
                for k in 0..3 {
                    row[3 * x + k] = c[k].clamp(0.0, 255.0) as u8;
                }
            }
        });
        if self.faults.blur > 0.0 {
            gaussian_blur(&mut rgb, w, h, self.faults.blur / s);
        }
        rgb
    }

    /// The frame as the camera would send it: a JPEG with 4:2:2 chroma, like UVC MJPEG.
    pub fn render_jpeg(&self, width: u32, height: u32) -> Vec<u8> {
        let rgb = self.render_rgb(width, height);
        let image = turbojpeg::Image {
            pixels: rgb.as_slice(),
            width: width as usize,
            pitch: width as usize * 3,
            height: height as usize,
            format: turbojpeg::PixelFormat::RGB,
        };
        turbojpeg::compress(image, self.jpeg_quality, turbojpeg::Subsamp::Sub2x1)
            .map(|b| b.to_vec())
            .unwrap_or_default()
    }

    fn frame_mm_per_px(&self) -> f64 {
        let a = self
            .base_to_page
            .apply(Point::new(BASE_WIDTH / 2.0, BASE_HEIGHT / 2.0));
        let b = self
            .base_to_page
            .apply(Point::new(BASE_WIDTH / 2.0 + 1.0, BASE_HEIGHT / 2.0));
        a.dist(b)
    }

    fn colour_at(
        &self,
        p: Point,
        mm_per_px: f64,
        wave: f64,
        level: usize,
        (ix, iy): (usize, usize),
    ) -> [f32; 3] {
        // The page, anti-aliased at its edges, with a thin shadow on the desk beside it.
        let q = self.base_to_page.apply(p);
        let (pw, ph) = self.paper_mm;
        let edge_mm = if self.page {
            q.x.min(pw - q.x).min(q.y).min(ph - q.y)
        } else {
            -1e9
        };
        let coverage = (edge_mm / mm_per_px + 0.5).clamp(0.0, 1.0) as f32;
        // The desk, with wood grain and clutter, where the page does not cover it.
        let mut c = [0.0; 3];
        if coverage < 1.0 {
            let g = 1.0
                + self.grain
                    * ((p.x * 0.004 + 2.5 * wave).sin() + 0.5 * (p.y * 0.031 + p.x * 0.002).sin());
            c = self.desk.map(|v| v * g as f32);
            for shape in &self.clutter {
                if let Some(colour) = shape.cover(p) {
                    c = colour;
                }
            }
        }
        if coverage < 1.0 && edge_mm > -3.0 {
            let dark = (1.0 - 0.3 * (1.0 + edge_mm / 3.0)).clamp(0.7, 1.0) as f32;
            c = c.map(|v| v * dark);
        }
        if coverage > 0.0 {
            let t = self.texture.sample(level, q.x, q.y);
            for k in 0..3 {
                c[k] = c[k] * (1.0 - coverage) + t[k] * coverage;
            }
        }
        if let Some(hand) = &self.hand
            && let Some(skin) = hand_cover(hand, p)
        {
            c = skin;
        }
        // Light: gradient, vignette, a soft shadow.
        let (nx, ny) = (p.x / BASE_WIDTH - 0.5, p.y / BASE_HEIGHT - 0.5);
        // Auto-exposure keeps the brightest paper below clipping: light never exceeds 1.
        let (gx, gy) = self.light_gradient;
        let mut light = (1.0 + gx * nx * 2.0 + gy * ny * 2.0) / (1.0 + gx.abs() + gy.abs());
        light *= 1.0 - self.vignette * (nx * nx + ny * ny) * 2.0;
        if let Some((centre, r, depth)) = self.shadow {
            let d = p.dist(centre) / r;
            let t = ((d - 0.8) / 0.4).clamp(0.0, 1.0);
            light *= depth + (1.0 - depth) * t;
        }
        let mut out = c.map(|v| v * light as f32);
        if let Some((centre, r)) = self.glare_at {
            let d2 = p.dist(centre).powi(2) / (r * r);
            let add = (400.0 * (-d2).exp()) as f32;
            out = out.map(|v| v + add);
        }
        // Sensor noise, the same for a pixel in every rendering of this scene.
        let n = mix(self.noise_seed ^ ((iy as u64) << 32) ^ ix as u64);
        let tri =
            |bits: u64| ((bits & 0xFFFF) as f32 + ((bits >> 16) & 0xFFFF) as f32) / 65535.0 - 1.0;
        let sigma = self.noise as f32 * 1.7;
        [
            out[0] + sigma * tri(n),
            out[1] + sigma * tri(n >> 20),
            out[2] + sigma * tri(n >> 40),
        ]
    }
}

/// Scene `i` of the fixed seeded set used by the accuracy test, the benchmark and
/// `kioskctl sim camera`: one in seven blurred (σ 4–6 px), one in eleven with glare.
pub fn seeded(i: u64) -> Scene {
    let faults = Faults {
        blur: if i % 7 == 3 {
            4.0 + (i % 3) as f64
        } else {
            0.0
        },
        glare: i % 11 == 5,
        cut_off: false,
    };
    Scene::generate(1000 + i, faults)
}

/// Scene `i` of the fixed seeded set laid any way round, used by the orientation test and
/// `kioskctl sim camera --turned`: each page laid a quarter turn clockwise more than the one
/// before (upright, on its right side, upside down, on its left side), with no faults.
pub fn seeded_turned(i: u64) -> Scene {
    Scene::generate_laid(5000 + i, Faults::default(), (i % 4) as u8)
}

/// Where the page lies: `turns` quarter turns clockwise and up to 15° more either way, tilted a
/// little (each corner moved up to 1.5% of the page), inside the frame with a margin, or pushed
/// past an edge when `cut_off`.
fn place(rng: &mut Rng, paper: (f64, f64), scale: f64, cut_off: bool, turns: u8) -> Homography {
    let (pw, ph) = paper;
    let page = [
        Point::new(0.0, 0.0),
        Point::new(pw, 0.0),
        Point::new(pw, ph),
        Point::new(0.0, ph),
    ];
    let mut fallback = None;
    for attempt in 0..200 {
        let max_angle = 15f64.to_radians() * (1.0 - attempt as f64 / 200.0);
        let angle =
            rng.range(-max_angle, max_angle) + f64::from(turns % 4) * std::f64::consts::FRAC_PI_2;
        let (sin, cos) = angle.sin_cos();
        let centre = Point::new(
            rng.range(0.3, 0.7) * BASE_WIDTH,
            rng.range(0.4, 0.6) * BASE_HEIGHT,
        );
        let corners = page.map(|c| {
            let (x, y) = (
                c.x - pw / 2.0 + rng.range(-0.015, 0.015) * pw,
                c.y - ph / 2.0 + rng.range(-0.015, 0.015) * ph,
            );
            Point::new(
                centre.x + scale * (x * cos - y * sin),
                centre.y + scale * (x * sin + y * cos),
            )
        });
        let mut corners = corners;
        if cut_off {
            // Slide the page left until a good part of it leaves the frame.
            let left = corners.iter().map(|p| p.x).fold(f64::MAX, f64::min);
            let shift = left + rng.range(0.1, 0.25) * pw * scale;
            corners = corners.map(|p| Point::new(p.x - shift, p.y));
        }
        let h = Homography::from_points(&page, &corners);
        let margin = 40.0;
        let fits = corners.iter().all(|p| {
            p.y > margin
                && p.y < BASE_HEIGHT - margin
                && p.x < BASE_WIDTH - margin
                && (cut_off || p.x > margin)
        });
        if fits && let Some(h) = h {
            return h;
        }
        fallback = fallback.or(h);
    }
    fallback.unwrap_or(Homography([
        scale, 0.0, 100.0, 0.0, scale, 100.0, 0.0, 0.0, 1.0,
    ]))
}

fn page_outline(h: &Homography, (pw, ph): (f64, f64)) -> [Point; 4] {
    [
        Point::new(0.0, 0.0),
        Point::new(pw, 0.0),
        Point::new(pw, ph),
        Point::new(0.0, ph),
    ]
    .map(|p| h.apply(p))
}

/// Distance from `p` to the page outline's nearest corner or inside (0).
fn outline_distance(outline: &[Point; 4], p: Point) -> f64 {
    if Quad(*outline).contains(p) {
        return 0.0;
    }
    (0..4)
        .map(|i| segment_distance(outline[i], outline[(i + 1) % 4], p))
        .fold(f64::MAX, f64::min)
}

fn segment_distance(a: Point, b: Point, p: Point) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let t = (((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy).max(1e-9)).clamp(0.0, 1.0);
    p.dist(Point::new(a.x + t * dx, a.y + t * dy))
}

impl Shape {
    fn centre(&self) -> Point {
        match self {
            Shape::Rect(c, ..) | Shape::Ring(c, ..) => *c,
        }
    }

    fn reach(&self) -> f64 {
        match self {
            Shape::Rect(_, a, b, _, _) => a.hypot(*b),
            Shape::Ring(_, r, _, _) => *r,
        }
    }

    fn cover(&self, p: Point) -> Option<[f32; 3]> {
        match self {
            Shape::Rect(c, a, b, angle, colour) => {
                let (sin, cos) = angle.sin_cos();
                let (dx, dy) = (p.x - c.x, p.y - c.y);
                let (u, v) = (dx * cos + dy * sin, -dx * sin + dy * cos);
                (u.abs() <= *a && v.abs() <= *b).then_some(*colour)
            }
            Shape::Ring(c, r, width, colour) => {
                let d = p.dist(*c);
                (d <= *r && d >= r - width).then_some(*colour)
            }
        }
    }
}

/// The hand: a palm, four fingers and a forearm reaching in from the bottom of the frame, in
/// a light skin tone with shading.
fn hand_cover(hand: &Hand, p: Point) -> Option<[f32; 3]> {
    let s = hand.size;
    let skin = |shade: f64| {
        [
            (222.0 * shade) as f32,
            (176.0 * shade) as f32,
            (146.0 * shade) as f32,
        ]
    };
    let palm = p.dist(hand.palm) / s;
    if palm <= 1.0 {
        return Some(skin(1.0 - 0.15 * palm));
    }
    for i in 0..4 {
        let base = Point::new(
            hand.palm.x + (i as f64 - 1.5) * 0.45 * s,
            hand.palm.y - 0.8 * s,
        );
        let tip = Point::new(
            base.x + (i as f64 - 1.5) * 0.15 * s,
            base.y - (1.1 + 0.2 * (i % 2) as f64) * s,
        );
        if segment_distance(base, tip, p) <= 0.2 * s {
            return Some(skin(0.92));
        }
    }
    let wrist = Point::new(hand.palm.x + 0.2 * s, hand.palm.y + 0.5 * s);
    let elbow = Point::new(hand.palm.x + 0.9 * s, BASE_HEIGHT + s);
    (segment_distance(wrist, elbow, p) <= 0.7 * s).then(|| skin(0.88))
}

/// Separable Gaussian blur of packed RGB in place.
fn gaussian_blur(rgb: &mut [u8], w: usize, h: usize, sigma: f64) {
    let r = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp() as f32)
        .collect();
    let sum: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / sum).collect();
    // Each output sample sums the same products in the same order as the textbook loop
    // (tap by tap), but tap by tap over a whole row at once, which the compiler vectorises.
    let taps = kernel.len();
    let r = r as usize;
    let mut tmp = vec![0f32; w * h * 3];
    tmp.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
        let src = &rgb[y * w * 3..(y + 1) * w * 3];
        for c in 0..3 {
            // The row's channel, its ends repeated `r` times.
            let padded: Vec<f32> = (0..w + 2 * r)
                .map(|j| f32::from(src[j.saturating_sub(r).min(w - 1) * 3 + c]))
                .collect();
            let mut acc = vec![0f32; w];
            for (i, k) in kernel.iter().enumerate() {
                for (a, v) in acc.iter_mut().zip(&padded[i..i + w]) {
                    *a += k * v;
                }
            }
            for (x, a) in acc.into_iter().enumerate() {
                row[3 * x + c] = a;
            }
        }
    });
    rgb.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
        let mut acc = vec![0f32; w * 3];
        for (i, k) in kernel.iter().enumerate().take(taps) {
            let yy = (y + i).saturating_sub(r).min(h - 1);
            for (a, v) in acc.iter_mut().zip(&tmp[yy * w * 3..(yy + 1) * w * 3]) {
                *a += k * v;
            }
        }
        for (out, a) in row.iter_mut().zip(acc) {
            *out = a.clamp(0.0, 255.0) as u8;
        }
    });
}

/// The page's printed content, rendered once per scene with smaller copies for small frames.
#[derive(Clone, Debug)]
struct Texture {
    levels: Vec<(usize, usize, Vec<u8>)>,
}

impl Texture {
    fn render(kind: PageKind, (pw, ph): (f64, f64), rng: &mut Rng) -> Texture {
        let (w, h) = ((pw * TEX_PX_PER_MM) as usize, (ph * TEX_PX_PER_MM) as usize);
        let paper = [
            rng.range(228.0, 246.0) as u8,
            rng.range(226.0, 244.0) as u8,
            rng.range(220.0, 240.0) as u8,
        ];
        let mut c = Canvas {
            w,
            h,
            rgb: paper.iter().copied().cycle().take(w * h * 3).collect(),
        };
        let mm = TEX_PX_PER_MM;
        let ink = [28, 28, 34];
        let margin = 20.0 * mm;
        let mut y = 22.0 * mm;
        // A centred title.
        let title = rng.int(6, 12);
        let big = 7.0 * mm;
        let x0 = (w as f64 - title as f64 * big * 1.1) / 2.0;
        for i in 0..title {
            c.glyph(x0 + i as f64 * big * 1.1, y, big, ink, rng);
        }
        y += big * 2.0;
        let small = 4.0 * mm;
        let per_line = ((w as f64 - 2.0 * margin) / (small * 1.05)) as usize;
        let text = |c: &mut Canvas, y: &mut f64, lines: usize, rng: &mut Rng| {
            for line in 0..lines {
                let indent = if line == 0 { 2 } else { 0 };
                let n = if line + 1 == lines {
                    rng.int(3, per_line)
                } else {
                    per_line
                };
                for i in indent..n {
                    c.glyph(margin + i as f64 * small * 1.05, *y, small, ink, rng);
                }
                *y += small * 1.7;
            }
        };
        match kind {
            PageKind::Text => {
                while y < h as f64 - 40.0 * mm {
                    let lines = rng.int(2, 7);
                    text(&mut c, &mut y, lines, rng);
                    y += small;
                }
            }
            PageKind::Form => {
                text(&mut c, &mut y, 2, rng);
                let (rows, cols) = (rng.int(6, 11), 4);
                let cell_h = 11.0 * mm;
                let table_w = w as f64 - 2.0 * margin;
                for r in 0..=rows {
                    c.rect(margin, y + r as f64 * cell_h, table_w, 0.35 * mm, ink);
                }
                for k in 0..=cols {
                    c.rect(
                        margin + k as f64 * table_w / cols as f64,
                        y,
                        0.35 * mm,
                        rows as f64 * cell_h,
                        ink,
                    );
                }
                for r in 0..rows {
                    for k in 0..cols {
                        for i in 0..rng.int(1, 6) {
                            c.glyph(
                                margin
                                    + k as f64 * table_w / cols as f64
                                    + (2.0 + i as f64 * 4.2) * mm,
                                y + r as f64 * cell_h + 3.5 * mm,
                                small,
                                ink,
                                rng,
                            );
                        }
                    }
                }
                y += rows as f64 * cell_h + 10.0 * mm;
                text(&mut c, &mut y, 2, rng);
                // The red seal, over the signature line.
                let centre = (w as f64 - margin - 25.0 * mm, y + 10.0 * mm);
                c.ring(centre, 20.0 * mm, 1.2 * mm, [200, 40, 40]);
                c.ring(centre, 4.0 * mm, 4.0 * mm, [200, 40, 40]);
            }
            PageKind::IdCopy => {
                for side in 0..2 {
                    let (cw, ch) = (85.6 * mm, 54.0 * mm);
                    let (cx, cy) = ((w as f64 - cw) / 2.0, y + side as f64 * (ch + 15.0 * mm));
                    c.rect(cx, cy, cw, ch, [196, 214, 226]);
                    if side == 0 {
                        c.rect(
                            cx + cw - 32.0 * mm,
                            cy + 8.0 * mm,
                            26.0 * mm,
                            32.0 * mm,
                            [150, 170, 200],
                        );
                        c.ring(
                            (cx + cw - 19.0 * mm, cy + 20.0 * mm),
                            8.0 * mm,
                            8.0 * mm,
                            [90, 70, 60],
                        );
                        for line in 0..5 {
                            for i in 0..rng.int(3, 9) {
                                c.glyph(
                                    cx + (5.0 + i as f64 * 4.0) * mm,
                                    cy + (6.0 + line as f64 * 8.0) * mm,
                                    3.0 * mm,
                                    ink,
                                    rng,
                                );
                            }
                        }
                    } else {
                        c.ring(
                            (cx + 14.0 * mm, cy + 14.0 * mm),
                            9.0 * mm,
                            2.0 * mm,
                            [210, 50, 40],
                        );
                        for i in 0..10 {
                            c.glyph(
                                cx + (28.0 + i as f64 * 5.0) * mm,
                                cy + 10.0 * mm,
                                4.5 * mm,
                                ink,
                                rng,
                            );
                        }
                    }
                }
            }
            PageKind::Photo => {
                let (pw_px, ph_px) = (w as f64 - 2.0 * margin, 90.0 * mm);
                for yy in 0..ph_px as usize {
                    for xx in 0..pw_px as usize {
                        let t = yy as f64 / ph_px;
                        let colour = if t < 0.55 {
                            [(120.0 + 80.0 * t) as u8, (170.0 + 40.0 * t) as u8, 230]
                        } else {
                            [
                                (60.0 + 40.0 * (xx as f64 * 0.01).sin()) as u8,
                                (120.0 - 30.0 * t) as u8,
                                50,
                            ]
                        };
                        c.set((margin as usize + xx, y as usize + yy), colour);
                    }
                }
                y += ph_px + 10.0 * mm;
                text(&mut c, &mut y, rng.int(4, 10), rng);
            }
        }
        let mut levels = vec![(w, h, c.rgb)];
        while levels.len() < 5 {
            let Some((lw, lh, data)) = levels.last() else {
                break;
            };
            let (nw, nh) = (lw / 2, lh / 2);
            let mut out = vec![0u8; nw * nh * 3];
            for y in 0..nh {
                for x in 0..nw {
                    for k in 0..3 {
                        let at = |dx: usize, dy: usize| {
                            u32::from(data[((2 * y + dy) * lw + 2 * x + dx) * 3 + k])
                        };
                        out[(y * nw + x) * 3 + k] =
                            ((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4) as u8;
                    }
                }
            }
            levels.push((nw, nh, out));
        }
        Texture { levels }
    }

    /// The copy to sample when one frame pixel covers `mm` millimetres of page.
    fn level_for(&self, mm: f64) -> usize {
        let tex_px = mm * TEX_PX_PER_MM;
        (tex_px.max(1.0).log2().floor() as usize).min(self.levels.len() - 1)
    }

    fn sample(&self, level: usize, x_mm: f64, y_mm: f64) -> [f32; 3] {
        let (w, h, data) = &self.levels[level];
        let k = TEX_PX_PER_MM / f64::from(1u32 << level);
        let x = (x_mm * k - 0.5).clamp(0.0, (*w - 1) as f64);
        let y = (y_mm * k - 0.5).clamp(0.0, (*h - 1) as f64);
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
        let at = |xx: usize, yy: usize, c: usize| f32::from(data[(yy * w + xx) * 3 + c]);
        [0, 1, 2].map(|c| {
            let top = at(x0, y0, c) + (at(x1, y0, c) - at(x0, y0, c)) * fx;
            let bottom = at(x0, y1, c) + (at(x1, y1, c) - at(x0, y1, c)) * fx;
            top + (bottom - top) * fy
        })
    }
}

struct Canvas {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, (x, y): (usize, usize), c: [u8; 3]) {
        if x < self.w && y < self.h {
            let i = (y * self.w + x) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, c: [u8; 3]) {
        let (x0, y0) = (x.max(0.0) as usize, y.max(0.0) as usize);
        let (x1, y1) = (
            ((x + w).max(0.0) as usize).min(self.w),
            ((y + h).max(0.0) as usize).min(self.h),
        );
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.set((xx, yy), c);
            }
        }
    }

    fn ring(&mut self, (cx, cy): (f64, f64), r: f64, width: f64, c: [u8; 3]) {
        for yy in (cy - r).max(0.0) as usize..((cy + r) as usize).min(self.h) {
            for xx in (cx - r).max(0.0) as usize..((cx + r) as usize).min(self.w) {
                let d = (xx as f64 - cx).hypot(yy as f64 - cy);
                if d <= r && d >= r - width {
                    self.set((xx, yy), c);
                }
            }
        }
    }

    /// A Chinese-like glyph: three to seven strokes (横, 竖, 撇/捺, 点) in an `s`-sized cell.
    fn glyph(&mut self, x: f64, y: f64, s: f64, c: [u8; 3], rng: &mut Rng) {
        let t = (s * 0.09).max(1.5);
        for _ in 0..rng.int(3, 8) {
            match rng.int(0, 4) {
                0 => {
                    let (a, b) = (rng.range(0.05, 0.45), rng.range(0.55, 0.95));
                    self.rect(x + a * s, y + rng.range(0.1, 0.9) * s, (b - a) * s, t, c);
                }
                1 => {
                    let (a, b) = (rng.range(0.05, 0.45), rng.range(0.55, 0.95));
                    self.rect(x + rng.range(0.1, 0.9) * s, y + a * s, t, (b - a) * s, c);
                }
                2 => {
                    let (x0, y0) = (rng.range(0.1, 0.9), rng.range(0.1, 0.5));
                    let (x1, y1) = (rng.range(0.1, 0.9), rng.range(0.5, 0.95));
                    let steps = (s * 1.2) as usize;
                    for i in 0..=steps {
                        let f = i as f64 / steps as f64;
                        self.rect(
                            x + (x0 + (x1 - x0) * f) * s,
                            y + (y0 + (y1 - y0) * f) * s,
                            t,
                            t,
                            c,
                        );
                    }
                }
                _ => self.rect(
                    x + rng.range(0.2, 0.8) * s,
                    y + rng.range(0.2, 0.8) * s,
                    t * 1.5,
                    t * 1.5,
                    c,
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_are_the_same_for_the_same_seed() {
        let a = Scene::generate(7, Faults::default()).render_rgb(408, 306);
        let b = Scene::generate(7, Faults::default()).render_rgb(408, 306);
        let c = Scene::generate(8, Faults::default()).render_rgb(408, 306);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn corners_scale_with_the_frame() {
        let s = Scene::generate(3, Faults::default());
        let big = s.corners(3264, 2448);
        let small = s.corners(816, 612);
        for (b, m) in big.0.iter().zip(&small.0) {
            assert!(((b.x + 0.5) / 4.0 - 0.5 - m.x).abs() < 1e-9);
        }
        assert!(
            big.0
                .iter()
                .all(|p| p.x > 0.0 && p.y > 0.0 && p.x < 3264.0 && p.y < 2448.0)
        );
    }
}
