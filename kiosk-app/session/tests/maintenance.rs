//! Maintenance mode through the engine: who gets in (PIN with lockout, technician's card), that
//! it is never open during a citizen's session, never shows citizen data, and that the
//! out-of-service switch and the idle limit behave.

mod common;

use common::{CERTIFICATE, Kiosk, PIN, assert_nothing_of, citizen, technician};
use serde_json::Value;
use session::maintenance::{Action, Report};
use session::{Event, Intent, Timeouts};

fn pin(k: &mut Kiosk, pin: &str) {
    k.intent(Intent::MaintenancePin { pin: pin.into() });
}

fn act(k: &mut Kiosk, action: Action) {
    k.intent(Intent::Maintain { action });
}

#[test]
fn the_pin_opens_maintenance_and_repeated_failures_lock_it() {
    let mut k = Kiosk::new();
    k.intent(Intent::MaintenanceGesture);
    assert_eq!(k.screen(), "maintenance_login");
    for n in 1..5 {
        pin(&mut k, "000000");
        assert_eq!(k.view()["failures"], n);
    }
    pin(&mut k, "000000");
    let v = k.view();
    assert_eq!(v["screen"], "maintenance_login");
    assert_eq!(v["locked_s"], 900, "{v}");
    pin(&mut k, PIN);
    assert_eq!(
        k.screen(),
        "maintenance_login",
        "not even the right PIN while locked"
    );
    assert!(k.effects.iter().any(|e| e.contains("MaintenanceLockedOut")));

    // The technician comes back after the lockout.
    k.intent(Intent::Cancel);
    assert_eq!(k.screen(), "attract");
    k.wait(901);
    k.intent(Intent::MaintenanceGesture);
    assert_eq!(k.view()["locked_s"], Value::Null);
    pin(&mut k, PIN);
    let v = k.view();
    assert_eq!(v["screen"], "maintenance", "{v}");
    assert_eq!(v["report"], Value::Null, "until the runtime reports");
    assert!(k.effects.iter().any(|e| e == "Maintenance(Report)"));
    assert!(
        !k.effects.iter().any(|e| e.contains(PIN)),
        "the PIN is in no effect or audit event"
    );
}

#[test]
fn a_technicians_card_opens_it_and_a_citizens_card_starts_nothing() {
    let mut k = Kiosk::new();
    k.intent(Intent::MaintenanceGesture);
    let someone = citizen(50);
    k.place_card(&someone);
    let v = k.view();
    assert_eq!(v["screen"], "maintenance_login");
    assert_nothing_of(&v, &someone);
    assert!(
        !k.effects.iter().any(|e| e.starts_with("Lookup")),
        "no session, no lookup"
    );
    k.event(Event::CardRemoved);
    k.place_card(&technician());
    assert_eq!(k.screen(), "maintenance");
    assert!(
        k.effects
            .iter()
            .any(|e| e.contains("MaintenanceEntered") && e.contains("card"))
    );
}

#[test]
fn never_during_a_session_and_nothing_of_the_last_citizen_shows() {
    let mut k = Kiosk::new();
    let who = citizen(51);
    k.place_card(&who);
    k.intent(Intent::MaintenanceGesture);
    assert_eq!(k.screen(), "home", "the gesture does nothing in a session");
    k.intent(Intent::Cancel);
    k.event(Event::CardRemoved);
    k.file(&who, CERTIFICATE);
    k.leave();
    assert_eq!(k.screen(), "attract");

    k.intent(Intent::MaintenanceGesture);
    pin(&mut k, PIN);
    k.event(Event::MaintenanceReport(Box::new(Report {
        terminal: "10001".into(),
        ..Report::default()
    })));
    let v = k.view();
    assert_eq!(v["report"]["terminal"], "10001");
    assert_nothing_of(&v, &who);
}

#[test]
fn the_switch_takes_the_kiosk_out_of_service_when_the_technician_leaves() {
    let mut k = Kiosk::new();
    k.intent(Intent::MaintenanceGesture);
    pin(&mut k, PIN);
    act(&mut k, Action::OutOfService { on: true });
    assert_eq!(k.view()["out_of_service"], true);
    assert_eq!(
        k.screen(),
        "maintenance",
        "the technician stays until leaving"
    );
    act(&mut k, Action::Leave);
    assert_eq!(k.screen(), "out_of_service");
    assert!(
        k.effects
            .iter()
            .any(|e| e.contains("OutOfService { reason: Some"))
    );

    // A citizen's card on the out-of-service screen starts nothing; the technician switches
    // the kiosk back.
    k.place_card(&citizen(52));
    assert_eq!(k.screen(), "out_of_service");
    k.event(Event::CardRemoved);
    k.intent(Intent::MaintenanceGesture);
    pin(&mut k, PIN);
    act(&mut k, Action::OutOfService { on: false });
    act(&mut k, Action::Leave);
    assert_eq!(k.screen(), "attract");
}

#[test]
fn an_idle_menu_closes_by_itself() {
    let mut k = Kiosk::new();
    k.intent(Intent::MaintenanceGesture);
    pin(&mut k, PIN);
    k.wait(Timeouts::default().form_s as i64 + 1);
    assert_eq!(k.screen(), "attract");
    assert!(
        k.effects
            .iter()
            .any(|e| e.contains("MaintenanceLeft") && e.contains("timed_out"))
    );
    // The login screen closes too, after the menus' limit.
    k.intent(Intent::MaintenanceGesture);
    k.wait(Timeouts::default().screen_s as i64 + 1);
    assert_eq!(k.screen(), "attract");
}

#[test]
fn a_lockout_survives_a_restart_through_the_audit() {
    use kiosk_store::AuditEvent;
    let mut k = Kiosk::new();
    let until_ms = k.now + 600_000;
    let refused = || AuditEvent::MaintenanceRefused { how: "pin".into() };
    k.engine.restore_pin_guard(&[
        refused(),
        AuditEvent::MaintenanceLockedOut { until_ms },
        refused(),
    ]);
    k.intent(Intent::MaintenanceGesture);
    let v = k.view();
    assert_eq!(
        (v["failures"].as_u64(), v["locked_s"].as_u64()),
        (Some(1), Some(600))
    );
    pin(&mut k, PIN);
    assert_eq!(
        k.screen(),
        "maintenance_login",
        "still locked after the restart"
    );
}
