//! Driver state × fault, over a real PTY: for each, the events and status a user of the
//! reader trait sees, and that the reader recovers.
//!
//! States: idle (polling, no card), reading (the fault strikes as the card is being read),
//! holding (the card was read and stays on the reader).
//! Faults: unplug, silence, bad checksum, garbage, card removed mid-read.

mod common;

use common::{POLL, Rig, card};
use device_model::{ActionHint, DeviceState, ErrorCode};
use idcard::sim::{SimFault, When};
use idcard::{IdCardEvent, IdCardReader, Media};

/// A rig whose presence loop is running with no card on the reader.
async fn idle() -> Rig {
    let mut rig = Rig::standard();
    rig.reader.set_presence_polling(true);
    rig.wait_status("idle", |s| {
        s.device == DeviceState::Online && s.class.media == Media::NotPresent
    })
    .await;
    rig
}

/// A rig holding a card that was read.
async fn holding() -> Rig {
    let mut rig = idle().await;
    rig.sim.insert(&card("resident")).unwrap();
    rig.expect_inserted_then_read().await;
    rig
}

/// A rig where `fault` strikes at the read of the card that is laid on the reader now.
async fn reading(fault: SimFault) -> Rig {
    let mut rig = idle().await;
    rig.sim.inject(fault, When::NextRead);
    rig.sim.insert(&card("resident")).unwrap();
    assert!(matches!(
        rig.next_event("insert").await,
        IdCardEvent::CardInserted
    ));
    rig
}

async fn expect_read_failed(rig: &mut Rig, code: ErrorCode) {
    match rig.next_event("read failure").await {
        IdCardEvent::CardReadFailed(fault) => assert_eq!(fault.code, code, "{fault:?}"),
        other => panic!("expected CardReadFailed, got {other:?}"),
    }
}

async fn expect_read(rig: &mut Rig) {
    expect_read_of(rig, "resident").await;
}

async fn expect_read_of(rig: &mut Rig, name: &str) {
    match rig.next_event("read").await {
        IdCardEvent::CardRead(read) => assert!(*read == card(name), "{name}"),
        other => panic!("expected CardRead, got {other:?}"),
    }
}

/// The old card's removal, then the new card's arrival and read.
async fn expect_swapped_to(rig: &mut Rig, name: &str) {
    assert!(matches!(
        rig.next_event("removal").await,
        IdCardEvent::CardRemoved
    ));
    assert!(matches!(
        rig.next_event("insert").await,
        IdCardEvent::CardInserted
    ));
    expect_read_of(rig, name).await;
}

async fn expect_removed(rig: &mut Rig) {
    assert!(matches!(
        rig.next_event("removal").await,
        IdCardEvent::CardRemoved
    ));
    let status = rig
        .wait_status("no media", |s| s.class.media == Media::NotPresent)
        .await;
    assert_eq!(status.device, DeviceState::Online);
}

/// Unplugged: noDevice with "staff" (re-seat the cable), then online again by itself.
async fn unplug_and_recover(rig: &mut Rig) {
    rig.sim.unplug();
    let status = rig.wait_state(DeviceState::NoDevice).await;
    let fault = status.fault.unwrap();
    assert_eq!(
        (fault.code, fault.action),
        (ErrorCode::DeviceNotReady, ActionHint::Staff)
    );
    assert_eq!(
        status.class.media,
        Media::Unknown,
        "nobody can tell while it is away"
    );
    rig.expect_quiet_for(POLL * 5).await;
    rig.sim.replug();
    rig.wait_state(DeviceState::Online).await;
}

// ---- idle ----

#[tokio::test]
async fn idle_unplug() {
    let mut rig = idle().await;
    unplug_and_recover(&mut rig).await;
    rig.sim.insert(&card("resident")).unwrap();
    rig.expect_inserted_then_read().await;
}

#[tokio::test]
async fn idle_silence() {
    let mut rig = idle().await;
    rig.sim.inject(SimFault::Silence, When::Always);
    let status = rig.wait_state(DeviceState::Offline).await;
    assert_eq!(status.fault.unwrap().code, ErrorCode::Timeout);
    rig.expect_quiet_for(POLL * 5).await;
    rig.sim.clear_faults();
    rig.wait_state(DeviceState::Online).await;
    rig.sim.insert(&card("resident")).unwrap();
    rig.expect_inserted_then_read().await;
}

#[tokio::test]
async fn idle_bad_checksum() {
    let mut rig = idle().await;
    rig.sim.inject(SimFault::BadChecksum, When::NextCommand);
    rig.expect_quiet(5).await;
    assert_eq!(
        rig.status.borrow().device,
        DeviceState::Online,
        "one retry hides it"
    );
    // Corrupt every reply: the link is unusable, an engineer must look at the cable.
    rig.sim.inject(SimFault::BadChecksum, When::Always);
    let status = rig.wait_state(DeviceState::HardwareError).await;
    let fault = status.fault.unwrap();
    assert_eq!(
        (fault.code, fault.action),
        (ErrorCode::InvalidData, ActionHint::Engineer)
    );
    rig.sim.clear_faults();
    rig.wait_state(DeviceState::Online).await;
}

#[tokio::test]
async fn idle_garbage() {
    let mut rig = idle().await;
    for _ in 0..5 {
        rig.sim.inject(SimFault::Garbage, When::NextCommand);
    }
    rig.expect_quiet(8).await;
    assert_eq!(rig.status.borrow().device, DeviceState::Online);
    rig.sim.insert(&card("resident")).unwrap();
    rig.expect_inserted_then_read().await;
}

// ---- reading ----

#[tokio::test]
async fn reading_unplug() {
    let mut rig = reading(SimFault::Unplug).await;
    expect_read_failed(&mut rig, ErrorCode::DeviceNotReady).await;
    rig.wait_state(DeviceState::NoDevice).await;
    rig.sim.replug();
    // The card is still there and was never read: it is read now, without a removal in between.
    expect_read(&mut rig).await;
    assert_eq!(rig.status.borrow().device, DeviceState::Online);
}

#[tokio::test]
async fn reading_silence() {
    let mut rig = reading(SimFault::Silence).await;
    expect_read_failed(&mut rig, ErrorCode::Timeout).await;
    // One lost reply does not take the reader offline, and the card is read at the next poll.
    expect_read(&mut rig).await;
    assert_eq!(rig.status.borrow().device, DeviceState::Online);
}

#[tokio::test]
async fn reading_bad_checksum() {
    let mut rig = reading(SimFault::BadChecksum).await;
    expect_read(&mut rig).await;
    assert_eq!(rig.status.borrow().device, DeviceState::Online);
    let reads = rig
        .sim
        .commands()
        .iter()
        .filter(|c| **c == idcard::command::Command::ReadTextPhoto)
        .count();
    assert_eq!(reads, 2, "the corrupt reply was asked for again once");
}

#[tokio::test]
async fn reading_garbage() {
    let mut rig = reading(SimFault::Garbage).await;
    expect_read(&mut rig).await;
    assert_eq!(rig.status.borrow().device, DeviceState::Online);
}

#[tokio::test]
async fn reading_card_removed() {
    let mut rig = reading(SimFault::RemoveCard).await;
    expect_read_failed(&mut rig, ErrorCode::UserError).await;
    expect_removed(&mut rig).await;
    rig.expect_quiet(5).await;
}

// ---- holding ----

#[tokio::test]
async fn holding_unplug() {
    let mut rig = holding().await;
    unplug_and_recover(&mut rig).await;
    // Same card still there: known to be there again, and not read again.
    rig.wait_status("card present", |s| s.class.media == Media::Present)
        .await;
    rig.expect_quiet(5).await;
    assert_eq!(rig.reads(), 1);
    rig.sim.remove();
    expect_removed(&mut rig).await;
}

#[tokio::test]
async fn holding_unplug_and_a_different_card_meanwhile() {
    let mut rig = holding().await;
    rig.sim.unplug();
    rig.wait_state(DeviceState::NoDevice).await;
    rig.sim.insert(&card("hmt_residence_permit")).unwrap();
    rig.sim.replug();
    // The media stays present: the swap shows in the events only.
    expect_swapped_to(&mut rig, "hmt_residence_permit").await;
}

#[tokio::test]
async fn holding_silence() {
    let mut rig = holding().await;
    rig.sim.inject(SimFault::Silence, When::Always);
    rig.wait_state(DeviceState::Offline).await;
    rig.expect_quiet_for(POLL * 5).await;
    rig.sim.clear_faults();
    rig.wait_state(DeviceState::Online).await;
    rig.expect_quiet(5).await;
    rig.sim.remove();
    expect_removed(&mut rig).await;
}

#[tokio::test]
async fn holding_bad_checksum() {
    let mut rig = holding().await;
    rig.sim.inject(SimFault::BadChecksum, When::NextCommand);
    rig.expect_quiet(5).await;
    assert_eq!(rig.status.borrow().device, DeviceState::Online);
    rig.sim.remove();
    expect_removed(&mut rig).await;
}

#[tokio::test]
async fn holding_garbage() {
    let mut rig = holding().await;
    for _ in 0..5 {
        rig.sim.inject(SimFault::Garbage, When::NextCommand);
    }
    rig.expect_quiet(8).await;
    assert_eq!(rig.status.borrow().device, DeviceState::Online);
    rig.sim.remove();
    expect_removed(&mut rig).await;
}

#[tokio::test]
async fn holding_card_removed() {
    let mut rig = holding().await;
    rig.sim.remove();
    expect_removed(&mut rig).await;
    rig.expect_quiet(5).await;
}

#[tokio::test]
async fn a_card_that_keeps_failing_is_given_up_on_until_it_leaves() {
    let mut rig = idle().await;
    for _ in 0..3 {
        rig.sim.inject(SimFault::Silence, When::NextRead);
    }
    rig.sim.insert(&card("resident")).unwrap();
    assert!(matches!(
        rig.next_event("insert").await,
        IdCardEvent::CardInserted
    ));
    for _ in 0..3 {
        expect_read_failed(&mut rig, ErrorCode::Timeout).await;
    }
    rig.expect_quiet(5).await;
    rig.sim.remove();
    expect_removed(&mut rig).await;
}

#[tokio::test]
async fn polling_stopped_forgets_the_card_and_stops_asking() {
    let mut rig = holding().await;
    rig.reader.set_presence_polling(false);
    rig.wait_status("media unknown", |s| s.class.media == Media::Unknown)
        .await;
    let finds = rig.finds();
    rig.sim.remove();
    rig.expect_quiet_for(POLL * 8).await;
    assert_eq!(rig.finds(), finds, "no polling while it is off");
}

#[tokio::test]
async fn a_card_swapped_between_polls_is_seen_as_a_new_card() {
    let mut rig = holding().await;
    rig.sim.remove();
    // Put the other card down as soon as one poll has missed the first.
    let finds = rig.finds();
    while rig.finds() == finds {
        tokio::time::sleep(POLL / 4).await;
    }
    rig.sim.insert(&card("foreign_permanent_2017")).unwrap();
    expect_swapped_to(&mut rig, "foreign_permanent_2017").await;
}

#[tokio::test]
async fn a_reader_power_cycled_to_its_default_baud_rate_is_found_again() {
    let mut rig = holding().await;
    rig.reader
        .set_baud(
            idcard::command::Baud::B38400,
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    rig.wait_status("38400 baud", |s| s.class.baud == 38_400)
        .await;
    // Replugging powers the reader up again at 115200; the driver still talks 38400.
    rig.sim.unplug();
    rig.wait_state(DeviceState::NoDevice).await;
    rig.sim.replug();
    let status = rig
        .wait_status("online at 115200", |s| {
            s.device == DeviceState::Online && s.class.baud == 115_200
        })
        .await;
    assert_eq!(status.fault, None);
    rig.wait_status("card present", |s| s.class.media == Media::Present)
        .await;
    rig.sim.remove();
    expect_removed(&mut rig).await;
}
