//! Automatic capture: take the page when it lies still in view and no hand is over it.
//!
//! A pure state machine fed the preview stream's decoded frames. The empty desk seen while
//! nothing moves becomes the reference; with a page in view, anything that differs from that
//! reference outside the page and has skin colour is a hand (the arm always reaches in from the
//! frame's edge, even when the palm rests on the page). The page is taken once it has been
//! found in the same place, with the frame unchanged, for a set number of frames; the same
//! page is not taken twice, so the next capture waits until it is removed or replaced.

use docscan::geometry::{Point, Quad};
use docscan::{Found, Frame, Plane};
use serde::Serialize;

/// Frames of stillness before the page is taken (0.6 s at 15 fps: long enough for a hand to
/// be gone, short enough that the citizen does not wait).
pub const STEADY_FRAMES: u32 = 9;

/// Mean brightness change (of 255) between frames above which the scene is moving.
const MOTION: f64 = 1.5;
/// Brightness change from the empty desk that marks a pixel as something new.
const FOREIGN: u8 = 28;
/// Share of the frame that must be new, skin-coloured and outside the page to be a hand.
const HAND_SHARE: f64 = 0.002;

/// What the preview shows now, for the screen and the voice prompt.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Verdict {
    /// No page in view.
    Empty,
    /// A hand is in view.
    HandInView,
    /// The page or the scene is moving.
    Moving,
    /// Still, for `frames` of the frames needed.
    Steadying {
        /// Still frames so far.
        frames: u32,
    },
    /// Take the page now (its outline in the preview frame).
    #[serde(skip)]
    Capture(Found),
    /// This page has been taken; waiting for the next one.
    Taken,
}

/// The automatic capture state.
#[derive(Debug, Default)]
pub struct AutoCapture {
    reference: Option<Plane>,
    previous: Option<Plane>,
    last_quad: Option<Quad>,
    still: u32,
    taken: Option<Quad>,
}

impl AutoCapture {
    /// A fresh state, with no empty-desk reference yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next preview frame and says what to do.
    pub fn push(&mut self, frame: &Frame) -> Verdict {
        let small = &frame.small;
        let moving = self.previous.as_ref().is_some_and(|p| {
            p.width == small.width && p.height == small.height && mean_change(p, small) > MOTION
        });
        self.previous = Some(small.clone());
        let Some(found) = frame.locate() else {
            self.last_quad = None;
            self.still = 0;
            self.taken = None;
            if !moving {
                self.reference = Some(small.clone());
            }
            return if moving {
                Verdict::Moving
            } else {
                Verdict::Empty
            };
        };
        // The outline in detection pixels, grown a little so the page's own edge is excluded.
        let quad = found.quad.scale(1.0 / frame.factor as f64);
        if self.hand(frame, &grow(&quad, 1.04)) {
            self.still = 0;
            self.last_quad = Some(quad);
            return Verdict::HandInView;
        }
        let shifted = self
            .last_quad
            .is_none_or(|q| corner_shift(&q, &quad) > 0.005 * quad.diagonal());
        self.last_quad = Some(quad);
        if moving || shifted {
            self.still = 0;
            return Verdict::Moving;
        }
        if self
            .taken
            .is_some_and(|t| corner_shift(&t, &quad) <= 0.01 * quad.diagonal())
        {
            return Verdict::Taken;
        }
        self.still += 1;
        if self.still < STEADY_FRAMES {
            return Verdict::Steadying { frames: self.still };
        }
        self.taken = Some(quad);
        Verdict::Capture(found)
    }

    fn hand(&self, frame: &Frame, page: &Quad) -> bool {
        let small = &frame.small;
        let Some((cb, cr)) = &frame.picture.chroma else {
            return false;
        };
        let (fx, fy) = frame.picture.chroma_factors();
        let k = frame.factor as f32;
        let mut count = 0usize;
        let mut total = 0usize;
        for y in (0..small.height).step_by(2) {
            for x in (0..small.width).step_by(2) {
                total += 1;
                let i = y * small.width + x;
                let new = match &self.reference {
                    Some(r) if r.data.len() == small.data.len() => {
                        r.data[i].abs_diff(small.data[i]) > FOREIGN
                    }
                    // No empty desk seen yet: judge by colour alone.
                    _ => true,
                };
                if !new || page.contains(Point::new(x as f64, y as f64)) {
                    continue;
                }
                let (cx, cy) = (x as f32 * k / fx, y as f32 * k / fy);
                if skin(cb.sample(cx, cy), cr.sample(cx, cy)) {
                    count += 1;
                }
            }
        }
        count as f64 > HAND_SHARE * total as f64
    }
}

/// Skin colour in YCbCr, for every skin tone (the classic Chai–Ngan box).
fn skin(cb: f32, cr: f32) -> bool {
    (77.0..=127.0).contains(&cb) && (137.0..=173.0).contains(&cr)
}

fn mean_change(a: &Plane, b: &Plane) -> f64 {
    let sum: u64 = a
        .data
        .iter()
        .zip(&b.data)
        .step_by(3)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / (a.data.len() / 3).max(1) as f64
}

fn corner_shift(a: &Quad, b: &Quad) -> f64 {
    a.0.iter()
        .zip(&b.0)
        .map(|(p, q)| p.dist(*q))
        .fold(0.0, f64::max)
}

fn grow(q: &Quad, k: f64) -> Quad {
    let c = docscan::geometry::centroid(&q.0);
    Quad(q.0.map(|p| Point::new(c.x + (p.x - c.x) * k, c.y + (p.y - c.y) * k)))
}
