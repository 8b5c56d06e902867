//! The document camera driver the kiosk uses: a frame source, automatic capture and the
//! pipeline, with the device's status kept in the common model.

use crate::autocapture::{AutoCapture, Verdict};
use crate::source::{CameraError, FrameSize, FrameSource, Mode, whole_jpeg};
use device_model::{DeviceFault, DeviceState, Silence, StatusPublisher};
use docscan::{Frame, Options, Scan, ScanError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a frame may take: a 15 fps stream sends one every 67 ms, a still after a mode
/// switch may take a second.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(2);

/// The camera's class-specific status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraStatus {
    /// The stream running, if any.
    pub streaming: Option<Mode>,
    /// Pages captured since start.
    pub captured: u64,
}

/// Why a capture gave no page.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CaptureError {
    /// The camera failed.
    #[error(transparent)]
    Camera(#[from] CameraError),
    /// The frame held no usable page.
    #[error(transparent)]
    Scan(#[from] ScanError),
}

/// A preview frame and what automatic capture makes of it.
#[derive(Debug)]
pub struct Preview {
    /// The frame as the camera sent it, for the screen.
    pub jpeg: Vec<u8>,
    /// What to do.
    pub verdict: Verdict,
}

/// The document camera.
#[derive(Debug)]
pub struct DocCamera<S> {
    source: S,
    status: StatusPublisher<CameraStatus>,
    silence: Silence,
    auto: AutoCapture,
    options: Options,
}

impl<S: FrameSource> DocCamera<S> {
    /// A driver over `source`, producing pages with `options`.
    pub fn new(source: S, options: Options) -> Self {
        Self {
            source,
            status: StatusPublisher::new("doc-camera", CameraStatus::default()),
            silence: Silence::default(),
            auto: AutoCapture::new(),
            options,
        }
    }

    /// The status channel.
    pub fn status(&self) -> &StatusPublisher<CameraStatus> {
        &self.status
    }

    /// Renders the pages of the next captures in grey, in colour, or as each page needs.
    pub fn set_render(&mut self, render: Option<docscan::Render>) {
        self.options.render = render;
    }

    /// Starts the live preview.
    pub fn start_preview(&mut self) -> Result<FrameSize, CameraError> {
        let size = self
            .source
            .start(Mode::Preview)
            .map_err(|e| self.failed(e))?;
        self.status
            .update(|s| s.class.streaming = Some(Mode::Preview));
        self.status.set_state(DeviceState::Online, None);
        Ok(size)
    }

    /// The next preview frame and the automatic-capture verdict on it.
    pub fn preview(&mut self) -> Result<Preview, CameraError> {
        let frame = self.frame()?;
        let verdict = match Frame::decode(&frame) {
            Ok(decoded) => self.auto.push(&decoded),
            Err(e) => return Err(self.failed(CameraError::BadFrame(e.to_string()))),
        };
        Ok(Preview {
            jpeg: frame,
            verdict,
        })
    }

    /// Takes the page at full resolution and processes it; the preview resumes afterwards.
    pub fn capture(&mut self) -> Result<Scan, CaptureError> {
        self.source.start(Mode::Still).map_err(|e| self.failed(e))?;
        self.status
            .update(|s| s.class.streaming = Some(Mode::Still));
        // One damaged frame is retried; the camera is not at fault for it.
        let jpeg = match self.frame() {
            Err(CameraError::BadFrame(_)) => self.frame(),
            other => other,
        };
        let result = jpeg
            .map_err(CaptureError::from)
            .and_then(|j| Ok(docscan::process(&j, &self.options)?));
        if let Err(CaptureError::Camera(CameraError::Unplugged(_))) = &result {
            return result;
        }
        self.start_preview()?;
        if result.is_ok() {
            self.status.update(|s| s.class.captured += 1);
        }
        result
    }

    /// Stops streaming.
    pub fn stop(&mut self) {
        self.source.stop();
        self.status.update(|s| s.class.streaming = None);
    }

    fn frame(&mut self) -> Result<Vec<u8>, CameraError> {
        let frame = self
            .source
            .next_frame(FRAME_TIMEOUT)
            .map_err(|e| self.failed(e))?;
        if !whole_jpeg(&frame.jpeg) {
            return Err(self.failed(CameraError::BadFrame("frame cut short".into())));
        }
        self.silence.answered();
        Ok(frame.jpeg)
    }

    /// Records a failure in the status and hands it back.
    fn failed(&mut self, e: CameraError) -> CameraError {
        tracing::warn!(error = %e, "document camera failed");
        match &e {
            CameraError::Unplugged(_) => {
                self.status.update(|s| s.class.streaming = None);
                self.status
                    .set_state(DeviceState::NoDevice, Some(e.to_fault()));
            }
            CameraError::Timeout(_) => self.silence.timed_out(&self.status, e.to_fault()),
            CameraError::Unsupported(_) | CameraError::Io(_) => {
                self.status
                    .set_state(DeviceState::HardwareError, Some(e.to_fault()));
            }
            CameraError::BadFrame(_) | CameraError::NotStreaming | CameraError::EndOfStream => {}
        }
        e
    }
}
