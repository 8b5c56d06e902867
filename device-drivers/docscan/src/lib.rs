//! The document pipeline of the high-speed document camera (高拍仪): from one camera frame to a
//! flat, cropped, readable 300 dpi page within a byte budget.
//!
//! [`process`] runs, in order: decode to the JPEG's own planes ([`picture`]), page detection
//! ([`detect`]), physical size ([`paper`]), perspective correction fused with illumination
//! flattening and contrast ([`warp`]), the quality checks the citizen is told about
//! ([`quality`]) and the output JPEG ([`jpeg`]). [`pdf`] joins a material's pages.
//!
//! Everything here is pure computation on bytes: the camera and its simulator live in
//! `doc-camera`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod detect;
pub mod geometry;
pub mod jpeg;
pub mod orient;
pub mod paper;
pub mod pdf;
pub mod picture;
pub mod quality;
pub mod warp;

pub use detect::Found;
pub use geometry::{Point, Quad};
pub use orient::Orientation;
pub use picture::{Picture, Plane};
pub use quality::{Problem, Quality};
pub use warp::Render;

use geometry::Homography;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The document camera's field of view at the base plate, in millimetres across the frame's
/// width, when the camera has not been calibrated (an A3-capable 高拍仪).
pub const DEFAULT_FIELD_WIDTH_MM: f64 = 480.0;

/// How to turn a frame into a page.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Millimetres the frame's width covers at the base plate (the camera's calibration).
    pub field_width_mm: f64,
    /// Output resolution.
    pub dpi: u32,
    /// Largest output JPEG.
    pub budget_bytes: usize,
    /// Grey, colour, or decided by the page (`None`).
    pub render: Option<Render>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            field_width_mm: DEFAULT_FIELD_WIDTH_MM,
            dpi: 300,
            // An A4 text page at 300 dpi fits in well under this at quality 85; a colour page
            // with a photo may step the quality down. Two of them stay small on a slow link.
            budget_bytes: 800 * 1024,
            render: None,
        }
    }
}

/// A processed page.
#[derive(Clone, Debug, PartialEq)]
pub struct Scan {
    /// The page's corners in the input frame, clockwise from its top-left (as its text
    /// reads, when the orientation is sure).
    pub corners: Quad,
    /// How the page was laid, and the quarter turns that put it upright.
    pub orientation: Orientation,
    /// Output width in pixels.
    pub width: usize,
    /// Output height in pixels.
    pub height: usize,
    /// The checks.
    pub quality: Quality,
    /// How it was rendered.
    pub render: Render,
    /// The output JPEG.
    pub jpeg: Vec<u8>,
    /// The JPEG quality the budget allowed.
    pub jpeg_quality: i32,
}

/// Why a frame gave no page.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// Not a JPEG this pipeline can read.
    #[error("cannot decode the frame: {0}")]
    Decode(String),
    /// Nothing in the frame looks like a page.
    #[error("no page found: lay the page flat inside the marks")]
    NoPage,
    /// The output could not be encoded.
    #[error("cannot encode the page: {0}")]
    Encode(String),
    /// Even the lowest quality is over the budget.
    #[error("page needs {bytes} bytes even at the lowest quality, over the budget of {budget}")]
    OverBudget {
        /// The smallest size reached.
        bytes: usize,
        /// The budget.
        budget: usize,
    },
}

/// A frame decoded with its detection copy, ready for [`locate`] and [`finish`].
#[derive(Clone, Debug)]
pub struct Frame {
    /// The decoded frame.
    pub picture: Picture,
    /// Luma shrunk by `factor` for detection.
    pub small: Plane,
    /// The shrink factor.
    pub factor: usize,
}

impl Frame {
    /// Decodes `jpeg` and makes its detection copy.
    pub fn decode(jpeg: &[u8]) -> Result<Frame, ScanError> {
        let picture = Picture::decode(jpeg)?;
        let factor = detect::detect_factor(picture.width());
        let small = picture.y.shrink(factor);
        Ok(Frame {
            picture,
            small,
            factor,
        })
    }

    /// The page in this frame, if any.
    pub fn locate(&self) -> Option<Found> {
        detect::find_page(&self.picture.y, &self.small, self.factor)
    }

    /// Which way up the page `found` lies, read from the detection copy.
    pub fn orientation(&self, found: &Found, options: &Options) -> Orientation {
        let px_per_mm = self.picture.width() as f64 / options.field_width_mm.max(1.0);
        let (w_mm, h_mm) = paper::size_mm(&found.quad, px_per_mm);
        let k = orient::PX_PER_MM;
        let (w, h) = ((w_mm * k).round() as usize, (h_mm * k).round() as usize);
        // Detection pixel centres sit at the centre of each factor² block.
        let (f, off) = (self.factor as f64, (self.factor as f64 - 1.0) / 2.0);
        let small_quad = Quad(
            found
                .quad
                .0
                .map(|p| Point::new((p.x - off) / f, (p.y - off) / f)),
        );
        match warp::page_to_frame(&small_quad, w, h) {
            Some(map) => orient::detect(&warp::resample(&self.small, &map, w, h)),
            None => Orientation::UNSURE,
        }
    }
}

/// One frame to one page: decode, find, flatten, check, encode.
pub fn process(jpeg: &[u8], options: &Options) -> Result<Scan, ScanError> {
    let started = Instant::now();
    let frame = Frame::decode(jpeg)?;
    let found = frame.locate().ok_or(ScanError::NoPage)?;
    let scan = finish(&frame, &found, options)?;
    tracing::debug!(
        width = scan.width,
        height = scan.height,
        bytes = scan.jpeg.len(),
        quality = scan.jpeg_quality,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "page processed"
    );
    Ok(scan)
}

/// The page `found` in `frame`, turned upright, corrected, checked and encoded.
pub fn finish(frame: &Frame, found: &Found, options: &Options) -> Result<Scan, ScanError> {
    let picture = &frame.picture;
    let px_per_mm = picture.width() as f64 / options.field_width_mm.max(1.0);
    // The checks read the frame only, whichever way up the page is: they run beside the
    // orientation (each on one core), so that the warp has every core to itself.
    let (orientation, quality) =
        rayon::join(|| frame.orientation(found, options), || check(frame, found));
    // A blurred page's lines run into each other: its layout is not read (the citizen is
    // asked to lay it again anyway), and it stays as laid.
    let orientation = if quality.sharp {
        orientation
    } else {
        Orientation::UNSURE
    };
    let quad = found.quad.turned(usize::from(orientation.turns));
    let (w_mm, h_mm) = paper::size_mm(&quad, px_per_mm);
    let (width, height) = (
        paper::pixels(w_mm, options.dpi),
        paper::pixels(h_mm, options.dpi),
    );
    let map = warp::page_to_frame(&quad, width, height).ok_or(ScanError::NoPage)?;
    let render = options.render.unwrap_or_else(|| {
        if colourful(picture, &map, width, height) {
            Render::Colour
        } else {
            Render::Grey
        }
    });
    let bg = warp::background(&frame.small, frame.factor, &map, width, height);
    let page = warp::warp(picture, &map, &bg, width, height, render);
    let (jpeg, jpeg_quality) = jpeg::encode_within(&page, options.budget_bytes, options.dpi)?;
    Ok(Scan {
        corners: quad,
        orientation,
        width,
        height,
        quality,
        render: if page.channels > 1 {
            Render::Colour
        } else {
            Render::Grey
        },
        jpeg,
        jpeg_quality,
    })
}

/// The quality checks of the page `found` in `frame`.
fn check(frame: &Frame, found: &Found) -> Quality {
    let small_quad = found.quad.scale(1.0 / frame.factor as f64);
    let unit = Homography::from_points(
        &[
            Point::new(0.0, 0.0),
            Point::new(1.0, 0.0),
            Point::new(1.0, 1.0),
            Point::new(0.0, 1.0),
        ],
        &found.quad.0,
    );
    Quality {
        sharp: unit.is_none_or(|u| quality::sharp(&frame.picture.y, &u)),
        glare: quality::glare(&frame.small, |p| small_quad.contains(p), small_quad.area()),
        complete: found.complete,
    }
}

/// Whether the page carries colour worth keeping (a photo, an ID card copy, a red seal): more
/// than one sample in a hundred clearly off grey.
fn colourful(picture: &Picture, map: &Homography, width: usize, height: usize) -> bool {
    let Some((cb, cr)) = &picture.chroma else {
        return false;
    };
    let (fx, fy) = picture.chroma_factors();
    let (mut coloured, mut total) = (0u32, 0u32);
    for gy in 0..60 {
        for gx in 0..40 {
            let p = map.apply(Point::new(
                (gx as f64 + 0.5) * width as f64 / 40.0,
                (gy as f64 + 0.5) * height as f64 / 60.0,
            ));
            let (x, y) = (p.x as f32 / fx, p.y as f32 / fy);
            let chroma = (cb.sample(x, y) - 128.0).abs() + (cr.sample(x, y) - 128.0).abs();
            total += 1;
            coloured += u32::from(chroma > 30.0);
        }
    }
    coloured * 100 > total
}
