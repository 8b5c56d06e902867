//! A real document camera (高拍仪) on a V4L2 node such as `/dev/video0`, through `linuxvideo`.
//!
//! `linuxvideo` turns a `Device` into a capture device when the format is set, so a stream is
//! switched (preview -> still) by dropping the old stream and opening the node again by path. The
//! same path is reopened after the camera was unplugged. The crate exposes neither the buffer's
//! sequence nor its timestamp, so frames are counted here and timed from the start of the stream.

use crate::source::{CameraError, Frame, FrameSize, FrameSource, Mode, PixelFormat, choose_size};
use linuxvideo::format::{FrameIntervals, FrameSizes, PixFormat, PixelFormat as Fourcc};
use linuxvideo::stream::ReadStream;
use linuxvideo::{BufType, CapabilityFlags, Device, Fract};
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// Linux errno values meaning "the device node is gone" (the same on every Linux architecture).
const ENOENT: i32 = 2;
const ENXIO: i32 = 6;
const ENODEV: i32 = 19;

/// How long frames are dropped after a start while auto-exposure settles, unless configured.
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(500);
/// At most this many frames are dropped while settling, however slow the camera is.
const SETTLE_MAX_FRAMES: u32 = 10;
/// How long one frame may take while settling: the first frame after STREAMON is slow.
const SETTLE_FRAME_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a waiting `next_frame` asks the driver whether a buffer is done.
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// A UVC document camera streaming MJPEG over V4L2: the kiosk's real `FrameSource`.
pub struct V4l2Camera {
    path: PathBuf,
    /// The node, open while no stream owns it (starting a stream consumes it); `sizes` during a
    /// stream opens a second descriptor, which V4L2 allows for queries.
    device: Option<Device>,
    stream: Option<Running>,
    /// The node vanished; the next open is a reconnection.
    lost: bool,
    settle: Duration,
}

/// A running stream and what the frames it delivers need.
struct Running {
    stream: ReadStream,
    width: u32,
    height: u32,
    started: Instant,
    sequence: u64,
}

impl V4l2Camera {
    /// Opens the node at `path` and checks it can stream video; the path is kept for reopening
    /// after an unplug or a format change.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, CameraError> {
        let path = path.into();
        let device = open_checked(&path)?;
        Ok(Self::new(path, Some(device)))
    }

    /// The camera at `path`, opened now if it is there, or when a stream is started after it
    /// has been plugged in: a kiosk that boots with the camera unplugged picks it up later.
    /// A node that is there but cannot stream video is still an error.
    pub fn at(path: impl Into<PathBuf>) -> Result<Self, CameraError> {
        let path = path.into();
        match open_checked(&path) {
            Ok(device) => Ok(Self::new(path, Some(device))),
            Err(CameraError::Unplugged(reason)) => {
                tracing::warn!(path = %path.display(), %reason, "document camera not plugged in");
                Ok(Self::new(path, None))
            }
            Err(e) => Err(e),
        }
    }

    /// Without a node, the camera is lost until it is opened again by path.
    fn new(path: PathBuf, device: Option<Device>) -> Self {
        Self {
            lost: device.is_none(),
            path,
            device,
            stream: None,
            settle: DEFAULT_SETTLE,
        }
    }

    /// Sets how long frames are dropped after a start, for cameras whose exposure settles
    /// faster or slower than [`DEFAULT_SETTLE`]; zero drops none.
    #[must_use]
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// The node kept open, or the node opened again by path.
    fn take_device(&mut self) -> Result<Device, CameraError> {
        if let Some(device) = self.device.take() {
            return Ok(device);
        }
        let device = open_checked(&self.path)?;
        if std::mem::take(&mut self.lost) {
            tracing::info!(path = %self.path.display(), "document camera reconnected");
        }
        Ok(device)
    }

    /// Forgets the node and any stream when `result` says the camera is gone.
    fn watch<T>(&mut self, result: Result<T, CameraError>) -> Result<T, CameraError> {
        if let Err(CameraError::Unplugged(reason)) = &result {
            tracing::warn!(path = %self.path.display(), %reason, "document camera lost");
            self.stream = None;
            self.device = None;
            self.lost = true;
        }
        result
    }

    fn start_stream(&mut self, mode: Mode) -> Result<FrameSize, CameraError> {
        let device = self.take_device()?;
        let size = choose_size(&enumerate(&device)?, mode)?;
        let interval = fastest(&intervals(&device, Fourcc::MJPG, size.width, size.height)?);
        let wanted = PixFormat::new(size.width, size.height, Fourcc::MJPG);
        let capture = device
            .video_capture(wanted)
            .map_err(|e| classify(&e, "set MJPEG format"))?;
        let format = capture.format();
        if format.pixel_format() != Fourcc::MJPG {
            return Err(CameraError::Unsupported(format!(
                "driver chose {} instead of MJPG",
                format.pixel_format()
            )));
        }
        let (width, height) = (format.width(), format.height());
        if let Some(interval) = interval
            && let Some(actual) =
                optional(capture.set_frame_interval(interval), "set frame interval")?
        {
            tracing::debug!(interval = %actual, "frame interval set");
        }
        let stream = capture
            .into_stream()
            .map_err(|e| classify(&e, "start streaming"))?;
        let started = Instant::now();
        self.stream = Some(Running {
            stream,
            width,
            height,
            started,
            sequence: 0,
        });
        tracing::info!(path = %self.path.display(), ?mode, width, height, "stream started");

        let mut dropped = 0;
        while dropped < SETTLE_MAX_FRAMES && started.elapsed() < self.settle {
            match self.take_frame(SETTLE_FRAME_TIMEOUT) {
                Ok(_) | Err(CameraError::BadFrame(_)) => dropped += 1,
                Err(error) => return Err(error),
            }
        }
        if let Some(running) = &mut self.stream {
            running.sequence = 0;
        }
        tracing::debug!(dropped, "exposure settled");
        Ok(FrameSize {
            width,
            height,
            ..size
        })
    }

    fn take_frame(&mut self, timeout: Duration) -> Result<Frame, CameraError> {
        let running = self.stream.as_mut().ok_or(CameraError::NotStreaming)?;
        // `None` when the deadline is beyond what `Instant` can hold: wait without end.
        let deadline = Instant::now().checked_add(timeout);
        // Device::open cannot open non-blocking and poll(2) needs unsafe or another crate, so ask
        // the driver whether a buffer is done and sleep briefly until it is.
        while running
            .stream
            .will_block()
            .map_err(|e| classify(&e, "wait for frame"))?
        {
            let now = Instant::now();
            match deadline {
                Some(deadline) if now >= deadline => return Err(CameraError::Timeout(timeout)),
                Some(deadline) => {
                    thread::sleep(POLL_INTERVAL.min(deadline.saturating_duration_since(now)));
                }
                None => thread::sleep(POLL_INTERVAL),
            }
        }
        let (jpeg, damaged) = running
            .stream
            .dequeue(|buffer| Ok((buffer.to_vec(), buffer.is_error())))
            .map_err(|e| classify(&e, "dequeue frame"))?;
        let sequence = running.sequence;
        running.sequence += 1;
        check_jpeg(&jpeg, damaged)?;
        Ok(Frame {
            jpeg,
            width: running.width,
            height: running.height,
            sequence,
            at: running.started.elapsed(),
        })
    }
}

impl FrameSource for V4l2Camera {
    fn sizes(&mut self) -> Result<Vec<FrameSize>, CameraError> {
        let result = self.take_device().and_then(|device| {
            let sizes = enumerate(&device);
            self.device = Some(device);
            sizes
        });
        self.watch(result)
    }

    fn start(&mut self, mode: Mode) -> Result<FrameSize, CameraError> {
        self.stop();
        let result = self.start_stream(mode);
        if result.is_err() {
            self.stream = None;
        }
        self.watch(result)
    }

    fn next_frame(&mut self, timeout: Duration) -> Result<Frame, CameraError> {
        let result = self.take_frame(timeout);
        self.watch(result)
    }

    fn stop(&mut self) {
        if self.stream.take().is_some() {
            tracing::info!(path = %self.path.display(), "stream stopped");
        }
    }
}

/// Opens `path` and refuses nodes that cannot stream video (a UVC camera's metadata node).
fn open_checked(path: &Path) -> Result<Device, CameraError> {
    let device =
        Device::open(path).map_err(|e| classify(&e, &format!("open {}", path.display())))?;
    let caps = device
        .capabilities()
        .map_err(|e| classify(&e, "query capabilities"))?;
    // caps.card() is not logged: linuxvideo unwraps it as UTF-8, and a Chinese product name cut
    // at 32 bytes may not be.
    let needed = CapabilityFlags::VIDEO_CAPTURE | CapabilityFlags::STREAMING;
    if !caps.device_capabilities().contains(needed) {
        return Err(CameraError::Unsupported(format!(
            "{} is not a streaming video capture node",
            path.display()
        )));
    }
    tracing::debug!(
        path = %path.display(),
        driver = caps.driver(),
        bus = caps.bus_info(),
        "camera opened"
    );
    Ok(device)
}

/// Every capture format and size with its frame rates; stepwise ranges give their two ends.
fn enumerate(device: &Device) -> Result<Vec<FrameSize>, CameraError> {
    let mut sizes = Vec::new();
    for desc in device.formats(BufType::VIDEO_CAPTURE) {
        let fourcc = desc
            .map_err(|e| classify(&e, "enumerate formats"))?
            .pixel_format();
        let frame_sizes = optional(device.frame_sizes(fourcc), "enumerate frame sizes")?;
        let Some(frame_sizes) = frame_sizes else {
            continue;
        };
        let mut dims: Vec<(u32, u32)> = match frame_sizes {
            FrameSizes::Discrete(list) => list.iter().map(|s| (s.width(), s.height())).collect(),
            FrameSizes::Stepwise(range) | FrameSizes::Continuous(range) => vec![
                (range.max_width(), range.max_height()),
                (range.min_width(), range.min_height()),
            ],
        };
        dims.dedup();
        for (width, height) in dims {
            let fps = frame_rates(&intervals(device, fourcc, width, height)?);
            let format = pixel_format(fourcc);
            sizes.push(FrameSize {
                format,
                width,
                height,
                fps,
            });
        }
    }
    Ok(sizes)
}

/// The frame intervals offered at one size; empty when the driver does not say.
fn intervals(
    device: &Device,
    fourcc: Fourcc,
    width: u32,
    height: u32,
) -> Result<Vec<Fract>, CameraError> {
    let what = "enumerate frame intervals";
    Ok(
        match optional(device.frame_intervals(fourcc, width, height), what)? {
            Some(FrameIntervals::Discrete(list)) => list.iter().map(|i| *i.fract()).collect(),
            Some(FrameIntervals::Stepwise(range) | FrameIntervals::Continuous(range)) => {
                vec![*range.min(), *range.max()]
            }
            None => Vec::new(),
        },
    )
}

/// A query's answer, or `None` when the driver does not answer it; only a lost camera stops.
fn optional<T>(result: io::Result<T>, what: &str) -> Result<Option<T>, CameraError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) => match classify(&e, what) {
            lost @ CameraError::Unplugged(_) => Err(lost),
            error => {
                tracing::debug!(%error, "query not answered");
                Ok(None)
            }
        },
    }
}

/// Frames per second for an interval of `numerator / denominator` seconds. Computed here rather
/// than by comparing `Fract`s, whose comparison multiplies denominators in `u32`.
fn fps(interval: &Fract) -> Option<f32> {
    let (n, d) = (interval.numerator(), interval.denominator());
    if n == 0 || d == 0 {
        return None;
    }
    Some((f64::from(d) / f64::from(n)) as f32)
}

/// Frame rates, fastest first, without repeats.
fn frame_rates(intervals: &[Fract]) -> Vec<f32> {
    let mut rates: Vec<f32> = intervals.iter().filter_map(fps).collect();
    rates.sort_by(|a, b| b.total_cmp(a));
    rates.dedup();
    rates
}

/// The shortest valid interval, to ask the driver for.
fn fastest(intervals: &[Fract]) -> Option<Fract> {
    let valid = intervals.iter().filter_map(|i| Some((*i, fps(i)?)));
    valid
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(interval, _)| interval)
}

fn pixel_format(fourcc: Fourcc) -> PixelFormat {
    match fourcc {
        Fourcc::MJPG => PixelFormat::Mjpeg,
        Fourcc::YUYV => PixelFormat::Yuyv,
        other => PixelFormat::Other(other.as_fourcc()),
    }
}

/// A frame is usable when the driver did not flag it and it starts with a JPEG SOI marker.
fn check_jpeg(bytes: &[u8], damaged: bool) -> Result<(), CameraError> {
    if damaged {
        let len = bytes.len();
        return Err(CameraError::BadFrame(format!(
            "driver flagged a {len}-byte frame as damaged"
        )));
    }
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        let len = bytes.len();
        return Err(CameraError::BadFrame(format!(
            "{len}-byte frame does not start with FF D8"
        )));
    }
    Ok(())
}

/// A vanished node (ENODEV, ENOENT, ENXIO) is an unplug; anything else is an I/O failure.
fn classify(err: &io::Error, what: &str) -> CameraError {
    let message = format!("{what}: {err}");
    match err.raw_os_error() {
        Some(ENODEV | ENOENT | ENXIO) => CameraError::Unplugged(message),
        _ => CameraError::Io(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn vanished_nodes_are_unplugs() {
        for code in [ENODEV, ENOENT, ENXIO] {
            let CameraError::Unplugged(message) = classify(&os(code), "dequeue frame") else {
                panic!("errno {code} not an unplug");
            };
            assert!(message.starts_with("dequeue frame: "), "{message}");
        }
    }

    #[test]
    fn other_errors_are_io() {
        for error in [os(5), os(16), os(22), io::Error::other("no errno")] {
            assert!(
                matches!(classify(&error, "x"), CameraError::Io(_)),
                "{error}"
            );
        }
    }

    #[test]
    fn frame_rates_fastest_first() {
        let intervals = [
            Fract::new(1, 15),
            Fract::new(1, 30),
            Fract::new(2, 60),
            Fract::new(0, 1),
        ];
        assert_eq!(frame_rates(&intervals), vec![30.0, 15.0]);
        assert_eq!(fastest(&intervals).and_then(|i| fps(&i)), Some(30.0));
        assert!(fastest(&[Fract::new(0, 1)]).is_none());
        assert_eq!(
            fps(&Fract::new(333_333, 10_000_000)).map(f32::round),
            Some(30.0)
        );
    }

    #[test]
    fn fourccs_map() {
        assert_eq!(pixel_format(Fourcc::MJPG), PixelFormat::Mjpeg);
        assert_eq!(pixel_format(Fourcc::YUYV), PixelFormat::Yuyv);
        let nv12 = Fourcc::from_fourcc(*b"NV12");
        assert_eq!(pixel_format(nv12), PixelFormat::Other(*b"NV12"));
    }

    #[test]
    fn only_whole_jpegs_pass() {
        assert!(check_jpeg(&[0xFF, 0xD8, 0xFF, 0xE0], false).is_ok());
        assert!(matches!(
            check_jpeg(&[0xFF, 0xD8], true),
            Err(CameraError::BadFrame(_))
        ));
        assert!(matches!(
            check_jpeg(&[0x00, 0xD8], false),
            Err(CameraError::BadFrame(_))
        ));
        assert!(matches!(
            check_jpeg(&[], false),
            Err(CameraError::BadFrame(_))
        ));
    }

    #[test]
    fn a_missing_node_is_waited_for_and_tried_again_at_each_start() {
        let path = "/nonexistent/video0";
        assert!(matches!(
            V4l2Camera::open(path),
            Err(CameraError::Unplugged(_))
        ));
        // A kiosk booted with the camera unplugged has it, waiting to be plugged in.
        let mut camera = V4l2Camera::at(path).unwrap();
        assert!(camera.lost);
        let frame = camera.next_frame(Duration::from_millis(1));
        assert_eq!(frame, Err(CameraError::NotStreaming));
        assert!(matches!(
            camera.start(Mode::Preview),
            Err(CameraError::Unplugged(_))
        ));
        assert!(camera.lost);
    }

    #[test]
    fn a_non_video_node_is_refused() {
        // /dev/null opens but answers VIDIOC_QUERYCAP with ENOTTY.
        for camera in [V4l2Camera::open("/dev/null"), V4l2Camera::at("/dev/null")] {
            assert!(matches!(camera, Err(CameraError::Io(_))));
        }
    }
}
