//! The document camera through its driver: the simulated camera, recorded frames, automatic
//! capture and faults.

use device_model::{ActionHint, DeviceState};
use doc_camera::autocapture::{AutoCapture, Verdict};
use doc_camera::playback::{Playback, record};
use doc_camera::scene::Faults;
use doc_camera::sim::{SimCamera, SimControl, SimFault};
use doc_camera::{CameraError, CaptureError, DocCamera, FrameSource, Mode};
use docscan::Options;
use std::time::Duration;

const T: Duration = Duration::from_secs(1);

fn camera() -> (DocCamera<SimCamera>, SimControl) {
    let (sim, control) = SimCamera::new(77, false);
    (DocCamera::new(sim, Options::default()), control)
}

/// Runs the preview until automatic capture fires, checking that it never fires while a hand
/// is in view; returns the verdicts seen.
fn until_capture(cam: &mut DocCamera<SimCamera>, control: &SimControl) -> Vec<Verdict> {
    let mut seen = Vec::new();
    for _ in 0..60 {
        let p = cam.preview().unwrap();
        let hand = control.hand_in_view();
        if let Verdict::Capture(_) = p.verdict {
            assert!(!hand, "captured while a hand was in view");
            seen.push(p.verdict);
            return seen;
        }
        seen.push(p.verdict);
    }
    panic!("no capture in 60 frames: {seen:?}");
}

#[test]
fn the_page_is_taken_once_the_hand_has_left_and_it_is_still() {
    let (mut cam, control) = camera();
    cam.start_preview().unwrap();
    for _ in 0..3 {
        assert_eq!(cam.preview().unwrap().verdict, Verdict::Empty);
    }
    control.lay_page(4242, Faults::default());
    let seen = until_capture(&mut cam, &control);
    assert!(
        seen.contains(&Verdict::HandInView),
        "the hand was seen: {seen:?}"
    );
    assert!(seen.iter().any(|v| matches!(v, Verdict::Steadying { .. })));
    let scan = cam.capture().unwrap();
    let truth = control.page().unwrap().corners(3264, 2448);
    for (got, want) in scan.corners.0.iter().zip(&truth.0) {
        assert!(
            got.dist(*want) < 0.01 * truth.diagonal(),
            "{got:?} vs {want:?}"
        );
    }
    assert!(scan.quality.ok());
    assert_eq!((scan.width, scan.height), (2480, 3508));
    assert_eq!(cam.status().current().class.captured, 1);
    // The same page is not taken again; removing it and laying another re-arms.
    for _ in 0..12 {
        assert!(!matches!(
            cam.preview().unwrap().verdict,
            Verdict::Capture(_)
        ));
    }
    control.remove_page();
    assert!(matches!(
        cam.preview().unwrap().verdict,
        Verdict::Empty | Verdict::Moving
    ));
    control.lay_page(4243, Faults::default());
    until_capture(&mut cam, &control);
}

#[test]
fn recorded_frames_play_back_through_the_frame_source_trait() {
    let (mut sim, control) = SimCamera::new(5, false);
    sim.start(Mode::Preview).unwrap();
    let mut frames = Vec::new();
    for i in 0..40 {
        if i == 3 {
            control.lay_page(99, Faults::default());
        }
        frames.push(sim.next_frame(T).unwrap().jpeg);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preview.mjpeg");
    record(&path, frames.iter().map(Vec::as_slice)).unwrap();

    let mut playback = Playback::open(&path, false).unwrap();
    assert_eq!(playback.len(), 40);
    assert_eq!(playback.next_frame(T), Err(CameraError::NotStreaming));
    let size = playback.start(Mode::Preview).unwrap();
    assert_eq!((size.width, size.height), (816, 612));
    // Live and recorded frames give the same verdicts, frame by frame.
    let (mut live, mut replay) = (AutoCapture::new(), AutoCapture::new());
    let mut captured_at = None;
    for (i, original) in frames.iter().enumerate() {
        let frame = playback.next_frame(T).unwrap();
        assert_eq!(&frame.jpeg, original);
        let a = live.push(&docscan::Frame::decode(original).unwrap());
        let b = replay.push(&docscan::Frame::decode(&frame.jpeg).unwrap());
        assert_eq!(a, b);
        if matches!(a, Verdict::Capture(_)) {
            captured_at.get_or_insert(i);
        }
    }
    assert_eq!(playback.next_frame(T), Err(CameraError::EndOfStream));
    let at = captured_at.expect("the recording contains a capture");
    let settled = 3
        + doc_camera::sim::SLIDE_FRAMES
        + doc_camera::sim::REST_FRAMES
        + doc_camera::sim::LEAVE_FRAMES;
    assert!(
        at as u64 >= settled,
        "captured at frame {at}, before the hand left at {settled}"
    );
}

#[test]
fn unplugging_during_a_capture_is_reported_and_recovered() {
    let (mut cam, control) = camera();
    cam.start_preview().unwrap();
    control.lay_page(7, Faults::default());
    cam.preview().unwrap();
    control.inject(SimFault::UnplugAfter(0));
    let err = cam.capture().unwrap_err();
    assert!(
        matches!(err, CaptureError::Camera(CameraError::Unplugged(_))),
        "{err:?}"
    );
    let status = cam.status().current();
    assert_eq!(status.device, DeviceState::NoDevice);
    assert_eq!(status.fault.unwrap().action, ActionHint::Staff);
    assert_eq!(status.class.streaming, None);
    assert!(matches!(
        cam.start_preview(),
        Err(CameraError::Unplugged(_))
    ));
    control.replug();
    cam.start_preview().unwrap();
    assert_eq!(cam.status().current().device, DeviceState::Online);
    assert!(cam.capture().is_ok());
}

#[test]
fn a_damaged_frame_is_retried_and_silence_takes_the_camera_offline() {
    let (mut cam, control) = camera();
    cam.start_preview().unwrap();
    control.lay_page(8, Faults::default());
    control.inject(SimFault::BadFrame);
    assert!(cam.capture().is_ok(), "one cut-short frame is retried");
    control.inject(SimFault::Timeout);
    assert!(matches!(cam.preview(), Err(CameraError::Timeout(_))));
    control.inject(SimFault::Timeout);
    assert!(matches!(cam.preview(), Err(CameraError::Timeout(_))));
    assert_eq!(cam.status().current().device, DeviceState::Offline);
    cam.preview().unwrap();
    cam.start_preview().unwrap();
    assert_eq!(cam.status().current().device, DeviceState::Online);
}

#[test]
fn no_page_and_cut_off_pages_are_told_apart() {
    let (mut cam, control) = camera();
    cam.start_preview().unwrap();
    assert!(matches!(
        cam.capture(),
        Err(CaptureError::Scan(docscan::ScanError::NoPage))
    ));
    control.lay_page(
        11,
        Faults {
            cut_off: true,
            ..Faults::default()
        },
    );
    until_capture(&mut cam, &control);
    let scan = cam.capture().unwrap();
    assert!(!scan.quality.complete);
    assert_eq!(scan.quality.problems(), vec![docscan::Problem::CutOff]);
}
