//! The frame-source trait: what the kiosk needs from any document camera, real or simulated.
//!
//! A UVC document camera (高拍仪) streams MJPEG: every frame is a complete JPEG. The kiosk uses
//! two streams, a small one for the live preview and automatic capture and the largest still
//! size for the page itself, so a source is always started in one of those two modes.

use device_model::{ActionHint, DeviceFault, ErrorCode};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A pixel format the camera offers, by its V4L2 FourCC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PixelFormat {
    /// Motion JPEG: one JPEG per frame. The only format fast enough for full-resolution stills
    /// over USB 2.0.
    Mjpeg,
    /// YUYV 4:2:2, two bytes per pixel.
    Yuyv,
    /// Anything else, by its FourCC.
    Other([u8; 4]),
}

/// One frame size the camera offers for a format, with its frame intervals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameSize {
    /// The format.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second the camera offers at this size, fastest first (empty when unknown).
    pub fps: Vec<f32>,
}

/// Why a stream is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// The small, fast stream shown on screen and watched by automatic capture.
    Preview,
    /// The largest MJPEG size, for the page itself.
    Still,
}

/// One frame as the camera delivered it.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// The frame, always a complete JPEG (MJPEG frames are JPEGs without their own Huffman
    /// tables at times; the decoder adds the standard ones).
    pub jpeg: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The driver's frame counter; a gap means frames were dropped.
    pub sequence: u64,
    /// When the frame was taken, from the start of the stream.
    pub at: Duration,
}

/// The camera's view of one session of frames: enumerate, start a mode, take frames.
pub trait FrameSource: Send {
    /// Every format and size the camera offers (VIDIOC_ENUM_FMT, _FRAMESIZES, _FRAMEINTERVALS).
    fn sizes(&mut self) -> Result<Vec<FrameSize>, CameraError>;

    /// Starts (or switches to) a stream for `mode` and returns the size chosen: the largest
    /// MJPEG size for stills, the one nearest 800 px wide for the preview. Frames taken in the
    /// first moments after a start are dropped until auto-exposure has settled.
    fn start(&mut self, mode: Mode) -> Result<FrameSize, CameraError>;

    /// The next frame of the running stream, waiting at most `timeout`.
    fn next_frame(&mut self, timeout: Duration) -> Result<Frame, CameraError>;

    /// Stops streaming and releases the buffers; the device stays open.
    fn stop(&mut self);
}

/// A camera chosen at start (V4L2 or simulated) behind one type.
impl<S: FrameSource + ?Sized> FrameSource for Box<S> {
    fn sizes(&mut self) -> Result<Vec<FrameSize>, CameraError> {
        (**self).sizes()
    }
    fn start(&mut self, mode: Mode) -> Result<FrameSize, CameraError> {
        (**self).start(mode)
    }
    fn next_frame(&mut self, timeout: Duration) -> Result<Frame, CameraError> {
        (**self).next_frame(timeout)
    }
    fn stop(&mut self) {
        (**self).stop()
    }
}

/// Why the camera could not deliver.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CameraError {
    /// The device node is gone (USB unplugged) or was never there.
    #[error("document camera not connected: {0}")]
    Unplugged(String),
    /// The camera is there but delivered no frame in time.
    #[error("document camera sent no frame within {0:?}")]
    Timeout(Duration),
    /// A frame arrived damaged (not a whole JPEG).
    #[error("document camera sent a damaged frame: {0}")]
    BadFrame(String),
    /// The camera offers nothing the kiosk can use (no MJPEG, or nothing large enough).
    #[error("document camera unsuitable: {0}")]
    Unsupported(String),
    /// `next_frame` before `start`.
    #[error("document camera is not streaming")]
    NotStreaming,
    /// Any other failure of the device or driver.
    #[error("document camera failed: {0}")]
    Io(String),
    /// A recording ended.
    #[error("end of recorded frames")]
    EndOfStream,
}

impl DeviceFault for CameraError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Unplugged(_) => ErrorCode::DeviceNotReady,
            Self::Timeout(_) => ErrorCode::Timeout,
            Self::BadFrame(_) => ErrorCode::InvalidData,
            Self::Unsupported(_) => ErrorCode::UnsupportedCommand,
            Self::NotStreaming => ErrorCode::SequenceError,
            Self::Io(_) => ErrorCode::HardwareError,
            Self::EndOfStream => ErrorCode::DeviceNotReady,
        }
    }

    fn action(&self) -> ActionHint {
        match self {
            // A loose USB cable: staff re-seat it.
            Self::Unplugged(_) => ActionHint::Staff,
            Self::Timeout(_) | Self::Io(_) => ActionHint::Reset,
            Self::BadFrame(_) => ActionHint::Retry,
            Self::Unsupported(_) => ActionHint::Engineer,
            Self::NotStreaming | Self::EndOfStream => ActionHint::Reset,
        }
    }
}

/// The size to use for `mode` among `sizes`: MJPEG only; the largest for stills, the one
/// nearest 800 px wide for the preview.
pub fn choose_size(sizes: &[FrameSize], mode: Mode) -> Result<FrameSize, CameraError> {
    let mjpeg = sizes.iter().filter(|s| s.format == PixelFormat::Mjpeg);
    let chosen = match mode {
        Mode::Still => mjpeg.max_by_key(|s| u64::from(s.width) * u64::from(s.height)),
        Mode::Preview => mjpeg.min_by_key(|s| s.width.abs_diff(800)),
    };
    chosen
        .cloned()
        .ok_or_else(|| CameraError::Unsupported("no MJPEG frame size offered".into()))
}

/// Whether `jpeg` is a whole JPEG: starts with SOI and ends with EOI, allowing the zero
/// padding some UVC cameras add after it. A cut-short frame decodes to grey garbage in
/// libjpeg (a warning, not an error), so it is refused here.
pub fn whole_jpeg(jpeg: &[u8]) -> bool {
    let end = jpeg.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    jpeg.len() >= 4 && jpeg[..2] == [0xFF, 0xD8] && end >= 4 && jpeg[end - 2..end] == [0xFF, 0xD9]
}
