//! The document camera on its own thread: frames are big and the pipeline takes a good part of
//! a second, so it must not hold up the screen. While a material is being captured it watches
//! the preview, takes each page once the hand has left and the page is still, and reports it.

use crate::runtime::Input;
use catalogue::Colour;
use doc_camera::autocapture::Verdict;
use doc_camera::{CameraStatus, CaptureError, DocCamera, FrameSource};
use session::{Device, Event, PageProblem};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::{mpsc::UnboundedSender, watch};
use zeroize::Zeroizing;

/// How often an unusable camera is tried again while nobody is capturing.
const PROBE_EVERY: Duration = Duration::from_secs(2);

enum Command {
    Start {
        material: String,
        colour: Colour,
    },
    Stop,
    Test {
        reply: mpsc::Sender<Result<String, String>>,
    },
}

/// How long a self-test waits for a test page to be laid under the camera.
const TEST_PATIENCE: Duration = Duration::from_secs(30);

/// The handle of the camera thread.
#[derive(Clone)]
pub struct Camera {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<device_model::Status<CameraStatus>>,
}

impl Camera {
    /// Starts the thread over `source`; pages and failures are sent to `inputs`.
    pub fn spawn(
        source: Box<dyn FrameSource>,
        inputs: UnboundedSender<Input>,
    ) -> std::io::Result<Camera> {
        let camera = DocCamera::new(source, docscan::Options::default());
        let status = camera.status().subscribe();
        let (commands, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("doc-camera".into())
            .spawn(move || work(camera, &rx, &inputs))?;
        Ok(Camera { commands, status })
    }

    /// Starts capturing pages of `material`.
    pub fn start(&self, material: String, colour: Colour) {
        let _ = self.commands.send(Command::Start { material, colour });
    }

    /// Stops capturing.
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }

    /// The maintenance self-test: a test page laid under the camera is captured and checked,
    /// and only its size and checks are reported (the image is not kept). Blocks until done.
    pub fn self_test(&self) -> Result<String, String> {
        let (reply, answer) = mpsc::channel();
        self.commands
            .send(Command::Test { reply })
            .map_err(|_| "the camera thread has stopped".to_owned())?;
        answer
            .recv()
            .map_err(|_| "the camera thread has stopped".to_owned())?
    }

    /// The camera's status channel.
    pub fn status(&self) -> watch::Receiver<device_model::Status<CameraStatus>> {
        self.status.clone()
    }
}

/// Captures one test page: waits for a page to be laid and still, takes it, and describes it.
fn self_test(camera: &mut DocCamera<Box<dyn FrameSource>>) -> Result<String, String> {
    camera.set_render(None);
    camera.start_preview().map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + TEST_PATIENCE;
    let result = loop {
        if std::time::Instant::now() > deadline {
            break Err("no test page was laid under the camera".to_owned());
        }
        match camera.preview() {
            Ok(p) if matches!(p.verdict, Verdict::Capture(_)) => {
                break match camera.capture() {
                    Ok(scan) => Ok(format!(
                        "test image {}×{} {:?}, {} KB, {}",
                        scan.width,
                        scan.height,
                        scan.render,
                        scan.jpeg.len() / 1024,
                        if scan.quality.ok() {
                            "sharp, no glare, complete".to_owned()
                        } else {
                            format!("problems: {:?}", scan.quality.problems())
                        }
                    )),
                    Err(e) => Err(e.to_string()),
                };
            }
            Ok(_) => {}
            Err(e) => break Err(e.to_string()),
        }
    };
    camera.stop();
    result
}

fn work(
    mut camera: DocCamera<Box<dyn FrameSource>>,
    commands: &mpsc::Receiver<Command>,
    inputs: &UnboundedSender<Input>,
) {
    let send = |event: Event| inputs.send(Input::Event(event)).is_ok();
    let unusable = |reason: String| Event::Device {
        device: Device::Camera,
        usable: false,
        reason: Some(reason),
    };
    let mut material: Option<String> = None;
    // Tried once at start, so that a camera missing at boot is told before anyone needs it.
    let mut usable = match camera.start_preview() {
        Ok(_) => {
            camera.stop();
            true
        }
        Err(e) => {
            send(unusable(e.to_string()));
            false
        }
    };
    loop {
        let command = if material.is_some() {
            match commands.try_recv() {
                Ok(c) => Some(c),
                Err(mpsc::TryRecvError::Empty) => None,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        } else {
            match commands.recv_timeout(PROBE_EVERY) {
                Ok(c) => Some(c),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        };
        match command {
            Some(Command::Start {
                material: m,
                colour,
            }) => {
                camera.set_render(Some(match colour {
                    Colour::Colour => docscan::Render::Colour,
                    Colour::Grey => docscan::Render::Grey,
                }));
                match camera.start_preview() {
                    Ok(_) => material = Some(m),
                    Err(e) => {
                        usable = false;
                        let reason = e.to_string();
                        send(Event::CaptureFailed {
                            reason: reason.clone(),
                        });
                        send(unusable(reason));
                    }
                }
                continue;
            }
            Some(Command::Stop) => {
                camera.stop();
                material = None;
                continue;
            }
            Some(Command::Test { reply }) => {
                material = None;
                let _ = reply.send(self_test(&mut camera));
                continue;
            }
            None => {}
        }
        let Some(m) = &material else {
            if !usable && camera.start_preview().is_ok() {
                camera.stop();
                usable = true;
                send(Event::Device {
                    device: Device::Camera,
                    usable: true,
                    reason: None,
                });
            }
            continue;
        };
        let failure = match camera.preview() {
            Ok(p) if matches!(p.verdict, Verdict::Capture(_)) => match camera.capture() {
                Ok(scan) if scan.quality.sharp && !scan.quality.glare && scan.quality.complete => {
                    tracing::info!(material = %m, bytes = scan.jpeg.len(), "page captured");
                    send(Event::PageCaptured {
                        material: m.clone(),
                        image: Zeroizing::new(scan.jpeg),
                    });
                    None
                }
                Ok(scan) => {
                    tracing::info!(material = %m, quality = ?scan.quality, "page not taken: quality");
                    let problem = if !scan.quality.complete {
                        PageProblem::CutOff
                    } else if scan.quality.glare {
                        PageProblem::Glare
                    } else {
                        PageProblem::Blurred
                    };
                    send(Event::PageRejected {
                        material: m.clone(),
                        problem,
                    });
                    None
                }
                Err(CaptureError::Scan(e)) => {
                    tracing::info!(material = %m, error = %e, "no page in the still frame");
                    None
                }
                Err(CaptureError::Camera(e)) => Some(e.to_string()),
            },
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(reason) = failure {
            camera.stop();
            material = None;
            usable = false;
            send(Event::CaptureFailed {
                reason: reason.clone(),
            });
            send(unusable(reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doc_camera::sim::{SimCamera, SimFault};
    use std::time::Instant;

    /// The next camera report, waiting up to `within`.
    fn next_report(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<Input>,
        within: Duration,
    ) -> Option<(bool, Option<String>)> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            match rx.try_recv() {
                Ok(Input::Event(Event::Device {
                    device: Device::Camera,
                    usable,
                    reason,
                })) => return Some((usable, reason)),
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        None
    }

    #[test]
    fn a_camera_unplugged_at_boot_is_told_at_once_and_taken_up_when_plugged_in() {
        let (source, control) = SimCamera::new(1, false);
        control.inject(SimFault::Unplug);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _camera = Camera::spawn(Box::new(source), tx).unwrap();
        let (usable, reason) = next_report(&mut rx, Duration::from_secs(10)).expect("a report");
        assert!(!usable);
        assert!(reason.is_some_and(|r| !r.is_empty()));
        control.replug();
        let report = next_report(&mut rx, PROBE_EVERY * 5);
        assert_eq!(report, Some((true, None)));
    }

    #[test]
    fn a_camera_present_at_boot_is_not_reported() {
        let (source, _control) = SimCamera::new(2, false);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _camera = Camera::spawn(Box::new(source), tx).unwrap();
        assert_eq!(next_report(&mut rx, Duration::from_secs(1)), None);
    }
}
