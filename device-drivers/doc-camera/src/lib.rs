//! The high-speed document camera (高拍仪): where frames come from and when to take the page.
//!
//! - [`source`]: the frame-source trait every camera implements;
//! - [`v4l2`]: a UVC camera over V4L2;
//! - [`scene`] and [`sim`]: generated desk scenes with known page corners, and a simulated
//!   camera that streams them, with a hand placing the page and faults to inject;
//! - [`playback`]: recorded MJPEG streams played back;
//! - [`autocapture`]: takes the page when it is present and still and no hand is in view;
//! - [`camera`]: the driver the kiosk uses, which keeps the device status.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod autocapture;
pub mod camera;
pub mod playback;
pub mod scene;
pub mod sim;
pub mod source;
pub mod v4l2;

pub use camera::{CameraStatus, CaptureError, DocCamera, Preview};
pub use source::{CameraError, Frame, FrameSize, FrameSource, Mode, PixelFormat};
