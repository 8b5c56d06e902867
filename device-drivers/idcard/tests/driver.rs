//! The driver against the simulated reader over a real PTY: what a user of the reader trait sees.

mod common;

use common::{CARD_FILES, Rig, card};
use device_model::{ActionHint, DeviceState, ErrorCode};
use idcard::command::{Baud, Command};
use idcard::sim::{ProcessingTime, SimFault, When};
use idcard::{IdCardError, IdCardEvent, IdCardReader, Media, ReadOptions, SamHealth, Sw3};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn go() -> CancellationToken {
    CancellationToken::new()
}

#[tokio::test]
async fn every_card_type_reads_back_as_the_card_that_was_laid_on_the_reader() {
    let rig = Rig::standard();
    for name in CARD_FILES {
        let expected = card(name);
        rig.sim.insert(&expected).unwrap();
        let read = rig
            .reader
            .read_card(ReadOptions::default(), go())
            .await
            .unwrap();
        assert!(
            read == expected,
            "{name}: {}",
            serde_json::to_string(&read).unwrap()
        );
    }
    // Every read went find → select → read, as the SAM requires.
    let reads: Vec<Command> = rig
        .sim
        .commands()
        .into_iter()
        .filter(|c| *c != Command::SamStatus)
        .collect();
    assert_eq!(
        reads,
        [
            Command::FindCard,
            Command::SelectCard,
            Command::ReadTextPhoto
        ]
        .repeat(CARD_FILES.len())
    );
}

#[tokio::test]
async fn fingerprints_and_the_newest_address_are_read_when_asked() {
    let rig = Rig::standard();
    let mut with_extras = card("resident");
    with_extras.fingerprint = Some((0..1024).map(|i| (i % 251) as u8).collect());
    with_extras.newest_address = Some("北京市西城区西长安街1号".into());
    rig.sim.insert(&with_extras).unwrap();
    let options = ReadOptions {
        fingerprint: true,
        newest_address: true,
    };
    let read = rig.reader.read_card(options, go()).await.unwrap();
    assert!(read == with_extras);

    // A card without them: an empty fingerprint block, and no newest address (SW3 91).
    rig.sim.insert(&card("resident")).unwrap();
    let read = rig.reader.read_card(options, go()).await.unwrap();
    assert_eq!(read.fingerprint, Some(vec![]));
    assert_eq!(read.newest_address, None);
    assert_eq!(rig.reader.read_newest_address(go()).await, Ok(None));
}

#[tokio::test]
async fn no_card_is_a_user_error_the_citizen_can_fix() {
    let rig = Rig::standard();
    let err = rig
        .reader
        .read_card(ReadOptions::default(), go())
        .await
        .unwrap_err();
    assert_eq!(err, IdCardError::NoCard);
    use device_model::DeviceFault;
    assert_eq!(
        (err.code(), err.action()),
        (ErrorCode::UserError, ActionHint::Retry)
    );
}

#[tokio::test]
async fn the_presence_loop_reads_each_card_once_until_it_leaves() {
    let mut rig = Rig::standard();
    rig.reader.set_presence_polling(true);
    rig.wait_status("no media", |s| s.class.media == Media::NotPresent)
        .await;
    rig.sim.insert(&card("resident")).unwrap();
    let read = rig.expect_inserted_then_read().await;
    assert!(*read == card("resident"));
    assert_eq!(rig.status.borrow().class.media, Media::Present);

    // The card stays: many polls, no second read.
    rig.expect_quiet(10).await;
    let reads = rig
        .sim
        .commands()
        .iter()
        .filter(|c| **c == Command::ReadTextPhoto)
        .count();
    assert_eq!(reads, 1);

    rig.sim.remove();
    assert!(matches!(
        rig.next_event("removal").await,
        IdCardEvent::CardRemoved
    ));
    rig.wait_status("no media", |s| s.class.media == Media::NotPresent)
        .await;

    // The same card again is a new visit: read again.
    rig.sim.insert(&card("resident")).unwrap();
    rig.expect_inserted_then_read().await;
}

#[tokio::test]
async fn a_sam_self_test_failure_is_a_hardware_error_that_asks_for_a_reset() {
    let mut rig = Rig::standard();
    rig.wait_state(DeviceState::Online).await;
    rig.sim.set_sam_failed(true);
    assert_eq!(
        rig.reader.sam_status(go()).await,
        Ok(SamHealth::SelfTestFailed)
    );
    let status = rig.wait_state(DeviceState::HardwareError).await;
    assert_eq!(status.class.sam, SamHealth::SelfTestFailed);
    let fault = status.fault.unwrap();
    assert_eq!(
        (fault.code, fault.action),
        (ErrorCode::HardwareError, ActionHint::Reset)
    );
    rig.sim.insert(&card("resident")).unwrap();
    assert_eq!(
        rig.reader.read_card(ReadOptions::default(), go()).await,
        Err(IdCardError::Sam(Sw3::SelfTestFailed))
    );

    rig.sim.set_sam_failed(false);
    assert_eq!(rig.reader.reset(go()).await, Ok(()));
    let status = rig.wait_state(DeviceState::Online).await;
    assert_eq!((status.class.sam, status.fault), (SamHealth::Ok, None));
}

#[tokio::test]
async fn the_sam_id_is_read_in_the_vendor_format() {
    let rig = Rig::standard();
    let id = rig.reader.sam_id(go()).await.unwrap();
    assert_eq!(id.to_string(), "05.01-20240309-0000000001-0000000042");
}

#[tokio::test]
async fn a_reader_left_at_another_baud_rate_is_found_by_probing() {
    let mut rig = Rig::new(9600, |c| c.baud = 115_200);
    rig.sim.insert(&card("resident")).unwrap();
    let status = rig
        .wait_status("online at 9600", |s| {
            s.device == DeviceState::Online && s.class.baud == 9600
        })
        .await;
    assert_eq!(status.fault, None);
    let read = rig
        .reader
        .read_card(ReadOptions::default(), go())
        .await
        .unwrap();
    assert!(read == card("resident"));
}

#[tokio::test]
async fn a_driver_at_the_readers_baud_rate_reads_at_once() {
    let rig = Rig::new(9600, |c| c.baud = 9600);
    rig.sim.insert(&card("resident")).unwrap();
    assert!(
        rig.reader
            .read_card(ReadOptions::default(), go())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn switching_the_baud_rate_moves_reader_and_port_together() {
    let mut rig = Rig::standard();
    rig.sim.insert(&card("hmt_residence_permit")).unwrap();
    rig.reader.set_baud(Baud::B57600, go()).await.unwrap();
    assert_eq!(rig.sim.baud(), 57_600);
    rig.wait_status("57600 baud", |s| s.class.baud == 57_600)
        .await;
    let read = rig
        .reader
        .read_card(ReadOptions::default(), go())
        .await
        .unwrap();
    assert!(read == card("hmt_residence_permit"));
}

#[tokio::test]
async fn a_canceled_read_completes_as_canceled() {
    let rig = Rig::new(115_200, |c| c.read_timeout = Duration::from_secs(30));
    rig.sim.insert(&card("resident")).unwrap();
    rig.sim.set_processing_time(ProcessingTime {
        command: Duration::ZERO,
        read: Duration::from_secs(20),
    });
    let cancel = CancellationToken::new();
    let read = rig.reader.read_card(ReadOptions::default(), cancel.clone());
    let canceller = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(read, canceller);
    assert_eq!(result, Err(IdCardError::Canceled));
    // Canceled before it starts: also completes, as canceled.
    let cancel = CancellationToken::new();
    cancel.cancel();
    assert_eq!(
        rig.reader.sam_status(cancel).await,
        Err(IdCardError::Canceled)
    );
}

#[tokio::test]
async fn commands_issued_together_are_serialised_and_each_completes_once() {
    let rig = Rig::standard();
    rig.sim.insert(&card("foreign_permanent_2023")).unwrap();
    let reads = (0..6).map(|_| rig.reader.read_card(ReadOptions::default(), go()));
    let statuses = (0..6).map(|_| rig.reader.sam_status(go()));
    let (reads, statuses) = tokio::join!(await_all(reads.collect()), await_all(statuses.collect()));
    for read in reads {
        assert!(read.unwrap() == card("foreign_permanent_2023"));
    }
    assert!(statuses.into_iter().all(|s| s == Ok(SamHealth::Ok)));
}

/// Awaits each future in turn; the driver queued all their commands when they were created.
async fn await_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    for f in futures {
        out.push(f.await);
    }
    out
}

#[tokio::test]
async fn a_reader_plugged_in_after_start_comes_online_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("idcard");
    let mut config = idcard::ReaderConfig::new(&link);
    config.reconnect_interval = Duration::from_millis(50);
    let reader = idcard::SerialIdCardReader::open(config).unwrap();
    let mut status = device_model::Device::status(&reader);
    let first = status.borrow_and_update().clone();
    assert_eq!(first.device, DeviceState::NoDevice);
    let err = reader
        .read_card(ReadOptions::default(), go())
        .await
        .unwrap_err();
    assert!(matches!(err, IdCardError::NoDevice(_)), "{err}");
    assert!(err.to_string().starts_with("port error:"), "{err}");

    let _sim = idcard::sim::IdCardSimulator::start(&link, 115_200).unwrap();
    tokio::time::timeout(
        common::PATIENCE,
        status.wait_for(|s| s.device == DeviceState::Online),
    )
    .await
    .expect("online after plug-in")
    .unwrap();
}

#[tokio::test]
async fn one_lost_reply_is_noise_a_silent_reader_is_offline() {
    let mut rig = Rig::standard();
    rig.wait_state(DeviceState::Online).await;
    rig.sim.inject(SimFault::Silence, When::NextCommand);
    let err = rig.reader.sam_status(go()).await.unwrap_err();
    assert!(matches!(err, IdCardError::Timeout { .. }));
    assert_eq!(rig.status.borrow().device, DeviceState::Online);

    rig.sim.inject(SimFault::Silence, When::Always);
    for _ in 0..2 {
        let err = rig.reader.sam_status(go()).await.unwrap_err();
        assert!(matches!(err, IdCardError::Timeout { .. }));
    }
    let status = rig.wait_state(DeviceState::Offline).await;
    let fault = status.fault.unwrap();
    assert_eq!(
        (fault.code, fault.action),
        (ErrorCode::Timeout, ActionHint::Engineer)
    );
    rig.sim.clear_faults();
    rig.wait_state(DeviceState::Online).await;
    assert_eq!(rig.reader.sam_status(go()).await, Ok(SamHealth::Ok));
}

#[tokio::test]
async fn a_late_reply_is_not_taken_for_the_next_commands_answer() {
    // The reader takes longer to read than the driver waits; its reply comes after the timeout.
    let rig = Rig::new(115_200, |c| c.read_timeout = Duration::from_millis(200));
    rig.sim.insert(&card("resident")).unwrap();
    rig.sim.set_processing_time(ProcessingTime {
        command: Duration::ZERO,
        read: Duration::from_millis(700),
    });
    let err = rig
        .reader
        .read_card(ReadOptions::default(), go())
        .await
        .unwrap_err();
    assert!(matches!(err, IdCardError::Timeout { .. }), "{err}");
    // The next commands get their own answers, although the late card data arrives first.
    assert_eq!(rig.reader.sam_status(go()).await, Ok(SamHealth::Ok));
    assert_eq!(
        rig.reader.sam_id(go()).await.unwrap().to_string(),
        "05.01-20240309-0000000001-0000000042"
    );
}

#[tokio::test]
async fn the_newest_address_is_only_read_from_the_card_read_last() {
    let rig = Rig::standard();
    let mut first = card("resident");
    first.newest_address = Some("北京市西城区西长安街1号".into());
    rig.sim.insert(&first).unwrap();
    rig.reader
        .read_card(ReadOptions::default(), go())
        .await
        .unwrap();
    assert_eq!(
        rig.reader.read_newest_address(go()).await,
        Ok(Some("北京市西城区西长安街1号".into()))
    );
    rig.sim.insert(&card("hmt_residence_permit")).unwrap();
    assert_eq!(
        rig.reader.read_newest_address(go()).await,
        Err(IdCardError::CardChanged)
    );
}

#[test]
fn the_simulator_refuses_a_card_whose_photo_is_not_1024_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let sim = idcard::sim::IdCardSimulator::start(&dir.path().join("idcard"), 115_200).unwrap();
    let mut bad = card("resident");
    bad.photo_wlt.truncate(1000);
    assert!(matches!(
        sim.insert(&bad),
        Err(idcard::card::CardDataError::WrongSize {
            field: "photo_wlt_base64",
            ..
        })
    ));
    assert!(!sim.has_card());
}
