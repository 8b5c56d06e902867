//! The simulated document camera: streams generated scenes as MJPEG frames, exactly what a UVC
//! camera hands the driver, with a world that tests, demos and the kiosk's simulated mode
//! control (lay a page, take it away, pull the cable).
//!
//! A V4L2 device cannot be emulated from user space (CUSE has no mmap, and `/dev` nodes cannot
//! be made in a container), so the simulator sits behind the same [`FrameSource`] trait as the
//! V4L2 source; its size table is a real 8 MP 高拍仪's.
//!
//! Laying a page plays the citizen's movement at the preview rate: the page slides in held by a
//! hand, the hand rests on it, then leaves; only after that is the scene still.

use crate::scene::{BASE_HEIGHT, Faults, Hand, Scene};
use crate::source::{CameraError, Frame, FrameSize, FrameSource, Mode, PixelFormat, choose_size};
use docscan::geometry::Point;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Frames while the hand slides the page in.
pub const SLIDE_FRAMES: u64 = 10;
/// Frames while the hand rests on the page.
pub const REST_FRAMES: u64 = 6;
/// Frames while the hand leaves.
pub const LEAVE_FRAMES: u64 = 6;

/// A fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimFault {
    /// The USB cable is pulled now.
    Unplug,
    /// The cable is pulled after this many more frames (during a capture).
    UnplugAfter(u64),
    /// The next frame never comes.
    Timeout,
    /// The next frame is cut short.
    BadFrame,
}

#[derive(Debug)]
struct World {
    desk: Scene,
    page: Option<(Scene, u64)>,
    plugged: bool,
    unplug_after: Option<u64>,
    timeout_next: bool,
    bad_next: bool,
    frames: u64,
}

impl World {
    /// The scene the camera sees at frame `frame`.
    fn view(&self, frame: u64) -> Scene {
        let Some((page, laid_at)) = &self.page else {
            return self.desk.clone();
        };
        let k = frame.saturating_sub(*laid_at);
        let corners = page.corners(BASE_HEIGHT as u32 * 4 / 3, BASE_HEIGHT as u32);
        let bottom = corners.0[2].y.max(corners.0[3].y);
        let centre_x = (corners.0[2].x + corners.0[3].x) / 2.0;
        let size = 180.0;
        // A little tremor: a resting hand is never perfectly still.
        let tremor = if k % 2 == 0 { 3.0 } else { -3.0 };
        let hand_at = |y: f64| {
            Some(Hand {
                palm: Point::new(centre_x + tremor, y),
                size,
            })
        };
        if k < SLIDE_FRAMES {
            let left = (SLIDE_FRAMES - k) as f64 * 90.0;
            page.clone()
                .shifted(0.0, left)
                .with_hand(hand_at(bottom - 120.0 + left))
        } else if k < SLIDE_FRAMES + REST_FRAMES {
            page.clone().with_hand(hand_at(bottom - 120.0))
        } else if k < SLIDE_FRAMES + REST_FRAMES + LEAVE_FRAMES {
            let gone = (k - SLIDE_FRAMES - REST_FRAMES + 1) as f64 * 160.0;
            page.clone().with_hand(hand_at(bottom - 120.0 + gone))
        } else {
            page.clone()
        }
    }
}

/// The world's controls: what a test or `kioskctl sim control` does to the camera.
#[derive(Clone, Debug)]
pub struct SimControl {
    world: Arc<Mutex<World>>,
}

impl SimControl {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A citizen lays the page of scene `seed` (with `faults`) under the camera.
    pub fn lay_page(&self, seed: u64, faults: Faults) {
        let mut w = self.world();
        let at = w.frames;
        let page = Scene::generate(seed, faults).on_desk(&w.desk);
        w.page = Some((page, at));
    }

    /// The page is taken away.
    pub fn remove_page(&self) {
        self.world().page = None;
    }

    /// The scene on the desk now, without the hand, with its true corners.
    pub fn page(&self) -> Option<Scene> {
        self.world().page.as_ref().map(|(s, _)| s.clone())
    }

    /// Whether the last frame sent showed a hand.
    pub fn hand_in_view(&self) -> bool {
        let w = self.world();
        w.page.is_some() && w.view(w.frames.saturating_sub(1)).hand.is_some()
    }

    /// Injects a fault.
    pub fn inject(&self, fault: SimFault) {
        let mut w = self.world();
        match fault {
            SimFault::Unplug => w.plugged = false,
            SimFault::UnplugAfter(n) => w.unplug_after = Some(n),
            SimFault::Timeout => w.timeout_next = true,
            SimFault::BadFrame => w.bad_next = true,
        }
    }

    /// The cable is plugged back in.
    pub fn replug(&self) {
        let mut w = self.world();
        w.plugged = true;
        w.unplug_after = None;
    }
}

/// The simulated camera.
#[derive(Debug)]
pub struct SimCamera {
    world: Arc<Mutex<World>>,
    streaming: Option<FrameSize>,
    sequence: u64,
    started: Instant,
    fps: f32,
    realtime: bool,
}

impl SimCamera {
    /// A camera over the empty desk of scene `seed`, with its control handle. `realtime` paces
    /// frames at the stream's rate (the kiosk's simulated mode); tests run as fast as they can.
    pub fn new(seed: u64, realtime: bool) -> (SimCamera, SimControl) {
        let world = Arc::new(Mutex::new(World {
            desk: Scene::generate(seed, Faults::default()).without_page(),
            page: None,
            plugged: true,
            unplug_after: None,
            timeout_next: false,
            bad_next: false,
            frames: 0,
        }));
        let camera = SimCamera {
            world: Arc::clone(&world),
            streaming: None,
            sequence: 0,
            started: Instant::now(),
            fps: 15.0,
            realtime,
        };
        (camera, SimControl { world })
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_plugged(&self) -> Result<(), CameraError> {
        if self.world().plugged {
            Ok(())
        } else {
            Err(CameraError::Unplugged("simulated camera unplugged".into()))
        }
    }
}

/// The size table of an 8 MP UVC document camera.
pub fn sizes_table() -> Vec<FrameSize> {
    let size = |format, width, height, fps: &[f32]| FrameSize {
        format,
        width,
        height,
        fps: fps.to_vec(),
    };
    vec![
        size(PixelFormat::Mjpeg, 3264, 2448, &[15.0, 10.0, 5.0]),
        size(PixelFormat::Mjpeg, 2592, 1944, &[15.0, 10.0]),
        size(PixelFormat::Mjpeg, 1920, 1080, &[30.0, 15.0]),
        size(PixelFormat::Mjpeg, 1280, 720, &[30.0]),
        size(PixelFormat::Mjpeg, 816, 612, &[30.0, 15.0]),
        size(PixelFormat::Mjpeg, 640, 480, &[30.0]),
        size(PixelFormat::Yuyv, 640, 480, &[30.0]),
        size(PixelFormat::Yuyv, 3264, 2448, &[2.0]),
    ]
}

impl FrameSource for SimCamera {
    fn sizes(&mut self) -> Result<Vec<FrameSize>, CameraError> {
        self.check_plugged()?;
        Ok(sizes_table())
    }

    fn start(&mut self, mode: Mode) -> Result<FrameSize, CameraError> {
        self.check_plugged()?;
        let size = choose_size(&sizes_table(), mode)?;
        self.fps = size.fps.first().copied().unwrap_or(15.0);
        self.streaming = Some(size.clone());
        self.sequence = 0;
        self.started = Instant::now();
        Ok(size)
    }

    fn next_frame(&mut self, timeout: Duration) -> Result<Frame, CameraError> {
        let size = self.streaming.clone().ok_or(CameraError::NotStreaming)?;
        let at = Duration::from_secs_f32(self.sequence as f32 / self.fps);
        {
            let mut w = self.world();
            if let Some(n) = w.unplug_after {
                if n == 0 {
                    w.plugged = false;
                    w.unplug_after = None;
                } else {
                    w.unplug_after = Some(n - 1);
                }
            }
            if !w.plugged {
                drop(w);
                self.streaming = None;
                return Err(CameraError::Unplugged("simulated camera unplugged".into()));
            }
            if std::mem::take(&mut w.timeout_next) {
                return Err(CameraError::Timeout(timeout));
            }
        }
        if self.realtime {
            let due = self.started + at;
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let (scene, bad) = {
            let mut w = self.world();
            let scene = w.view(w.frames);
            w.frames += 1;
            (scene, std::mem::take(&mut w.bad_next))
        };
        let mut jpeg = scene.render_jpeg(size.width, size.height);
        if bad {
            jpeg.truncate(jpeg.len() / 3);
        }
        self.sequence += 1;
        Ok(Frame {
            jpeg,
            width: size.width,
            height: size.height,
            sequence: self.sequence - 1,
            at,
        })
    }

    fn stop(&mut self) {
        self.streaming = None;
    }
}
