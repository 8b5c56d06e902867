//! The kiosk as the central office, a technician and the night see it, through the whole
//! simulated kiosk as a process: remote commands carried out between sessions and reported in
//! the heartbeat; logs collected; devices failing through their simulators; the result printed
//! on the A4 printer; the idle countdown said and shown at the kiosk's own pace.

mod common;

use central_backend::Storage;
use common::{CERTIFICATE, Kiosk, PATIENCE, assert_nothing_of, files_holding};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

const TERMINAL: &str = kiosk_app::simulated::TERMINAL;

/// The kiosk's last heartbeat at the central office.
fn heartbeat(k: &Kiosk) -> Value {
    k.backend()
        .fleet()
        .unwrap()
        .into_iter()
        .find(|f| f.device == TERMINAL)
        .map(|f| f.heartbeat)
        .unwrap_or_default()
}

#[test]
fn remote_commands_wait_for_the_citizen_and_are_carried_out_between_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    k.start_new(50);
    k.world(json!({"world": "command", "kind": "out_of_service"}));
    // The agent brings it within a heartbeat and the kiosk looks every two seconds: the citizen
    // in the middle of choosing is not interrupted.
    let taken = k.wait_within(Duration::from_secs(8), &|v| v["screen"] != "choose");
    assert!(taken.is_none(), "interrupted: {}", k.last);
    k.intent(json!({"intent": "cancel"}));
    k.screen("goodbye");
    k.world(json!({"world": "remove_card"}));
    let v = k.screen("out_of_service");
    assert_nothing_of(&v, 50);
    // The reason reaches the central office in the heartbeat.
    k.until_backend("the out-of-service reason in the heartbeat", |_| {
        heartbeat(&k)["out_of_service"].as_str().map(str::to_owned)
    });
    // A card now starts nothing.
    k.world(json!({"world": "insert_card", "citizen": 51}));
    assert!(
        k.wait_within(Duration::from_secs(3), &|v| v["screen"] != "out_of_service")
            .is_none()
    );
    k.world(json!({"world": "remove_card"}));
    k.world(json!({"world": "command", "kind": "in_service"}));
    k.screen("attract");
    k.until_backend("back in service in the heartbeat", |_| {
        heartbeat(&k)["out_of_service"].is_null().then_some(())
    });

    // The central office asks for the logs: a bundle of the report, device states and the log
    // files arrives, with nothing of the citizens in it.
    k.world(json!({"world": "command", "kind": "collect_logs"}));
    let bundle = k.until_backend("the log bundle", |b| {
        let found = b
            .logs()
            .unwrap()
            .into_iter()
            .find(|l| l.device == TERMINAL)?;
        b.log(&found.device, &found.name).unwrap()
    });
    let bundle: Value = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(bundle["terminal"], TERMINAL);
    assert_eq!(bundle["report"]["terminal"], TERMINAL);
    assert!(
        bundle["status"]["idcard.json"]["state"].is_string(),
        "{bundle}"
    );
    let logs = bundle["logs"].as_str().unwrap();
    assert!(
        logs.contains("out of service") || logs.contains("service changed"),
        "{logs}"
    );
    for n in [50, 51] {
        let who = demo_data::applicant(n);
        for secret in [&who.name[..], &who.id_number[..]] {
            assert!(
                !bundle.to_string().contains(secret),
                "{secret} in the bundle"
            );
        }
    }
    // Sent bundles are not kept (removed once the backend's answer is in).
    let uploads = dir.path().join("kiosk/uploads");
    k.until_backend("the sent bundle removed at the kiosk", |_| {
        (!uploads.read_dir().unwrap().any(|_| true)).then_some(())
    });

    // A reboot: acknowledged, then the kiosk exits for its service manager to start it again.
    k.world(json!({"world": "command", "kind": "reboot"}));
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = k.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no reboot:\n{}", k.log_tail());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        status.code(),
        Some(3),
        "the exit status asking for a restart"
    );
    drop(k);
    // Started again, it tells the central office the reboot is done and does not reboot again.
    let mut k = Kiosk::start(dir.path());
    k.until_backend("the reboot acknowledged as done", |b| {
        b.commands()
            .unwrap()
            .into_iter()
            .any(|(_, _, kind, state)| kind == "reboot" && state == "done")
            .then_some(())
    });
    assert!(k.child.try_wait().unwrap().is_none(), "still running");
    k.screen("attract");
}

#[test]
fn a_result_is_printed_on_the_a4_printer_for_the_holder_identified_again_even_offline() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let number = k.result_ready(52, CERTIFICATE, "kiosk_print");
    // The result is at the kiosk: it is handed out with the network down.
    k.world(json!({"world": "network", "up": false}));
    k.collect_as(&number, 52);
    k.wait_for("printed", |v| v["done"] == true);

    // What came out of the printer: the notice, with the holder masked as on the receipt.
    let pdf = dir.path().join("cups/out/kiosk-a4.pdf");
    let text = std::process::Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (Debian package poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    let who = demo_data::applicant(52);
    for expected in [
        "办理结果通知书",
        &number[..],
        "无犯罪记录证明开具",
        &idcard::mask::name(&who.name),
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    assert!(!text.contains(&who.id_number[..]), "{text}");
}

#[test]
fn a_stopped_a4_printer_is_told_and_its_results_wait_until_it_prints_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let number = k.result_ready(53, CERTIFICATE, "kiosk_print");
    k.intent(json!({"intent": "cancel"}));
    k.world(json!({"world": "remove_card"}));
    k.screen("attract");
    // The paper runs out: the kiosk says so and stops offering the printed result.
    k.world(json!({"world": "a4", "stopped": "media-empty"}));
    k.wait_for("the A4 printer's notice", |v| {
        v["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["device"] == "a4_printer")
    });
    k.identify(53);
    k.wait_for("pickup not offered", |v| {
        v["screen"] == "home" && v["journeys"][2]["available"] == false
    });
    k.intent(json!({"intent": "cancel"}));
    k.world(json!({"world": "remove_card"}));
    k.world(json!({"world": "a4", "stopped": null}));
    k.wait_for("the notice gone", |v| {
        v["screen"] == "attract" && v["notices"].as_array().unwrap().is_empty()
    });
    // Started again, the printer serves the citizen.
    k.until_pickup_offered(53);
    k.collect_as(&number, 53);
    k.wait_for("printed", |v| v["done"] == true);
}

#[test]
fn devices_failing_through_their_simulators_disable_only_what_needs_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    k.start_item(54, CERTIFICATE);
    k.intent(json!({"intent": "capture", "material": "id_card"}));
    k.screen("capture");
    // The camera's cable is pulled in the middle of a capture: back to the list of materials,
    // with a notice and what can still be done.
    k.world(json!({"world": "unplug", "device": "camera"}));
    let v = k.wait_for("back to materials with the camera's notice", |v| {
        v["screen"] == "materials"
            && v["notices"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["device"] == "camera")
    });
    assert_eq!(v["materials"][0]["id"], "id_card");
    k.world(json!({"world": "replug", "device": "camera"}));
    k.wait_for("the camera back", |v| {
        v["notices"].as_array().unwrap().is_empty()
    });
    k.intent(json!({"intent": "cancel"}));
    k.screen("goodbye");
    k.world(json!({"world": "remove_card"}));
    k.screen("attract");

    // Without the ID card reader the kiosk cannot serve anyone: out of service, and the
    // central office is told why.
    k.world(json!({"world": "unplug", "device": "id_reader"}));
    let v = k.screen("out_of_service");
    assert!(v["reason"].as_str().unwrap().contains("自助终端"), "{v}");
    let reason = k.until_backend("the reason in the heartbeat", |_| {
        heartbeat(&k)["out_of_service"].as_str().map(str::to_owned)
    });
    assert!(reason.contains("IdReader"), "{reason}");
    let idcard = k.until_backend("the reader's state in the heartbeat", |_| {
        heartbeat(&k)["devices"]
            .as_array()?
            .iter()
            .find(|d| d["device"] == "idcard" && d["state"] != "online")
            .cloned()
    });
    assert_eq!(idcard["state"], "noDevice", "{idcard}");
    k.world(json!({"world": "replug", "device": "id_reader"}));
    k.screen("attract");
    k.identify(55);
}

#[test]
fn nobody_at_the_screen_hears_and_sees_the_countdown_then_the_kiosk_resets() {
    let dir = tempfile::tempdir().unwrap();
    // The speaker: a synthesiser that writes down what it is asked to say, in which voice.
    let speaker = tempfile::tempdir().unwrap();
    let said = speaker.path().join("said.txt");
    let synthesiser = speaker.path().join("synthesiser");
    std::fs::write(
        &synthesiser,
        format!(
            "#!/bin/sh\nprintf '%s %s\\n' \"$2\" \"$5\" >> '{}'\n",
            said.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&synthesiser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut k = Kiosk::start_with(
        dir.path(),
        &[
            "--timeouts",
            "screen_s=8,form_s=10,goodbye_s=4,warning_s=5",
            "--voice",
            synthesiser.to_str().unwrap(),
        ],
    );
    k.start_item(56, CERTIFICATE);
    let warning = k.wait_for("the countdown", |v| {
        v["screen"] == "materials" && v["countdown_s"].as_u64().is_some_and(|s| s <= 5)
    });
    assert!(
        warning["speech"]
            .as_str()
            .unwrap()
            .contains("秒后将回到首页"),
        "{warning}"
    );
    let v = k.screen("goodbye");
    assert_eq!(v["take_card"], true);
    assert_nothing_of(&v, 56);
    // The countdown was said aloud, in the Mandarin voice.
    let spoken = std::fs::read_to_string(&said).unwrap_or_default();
    assert!(
        spoken
            .lines()
            .any(|l| l.starts_with("cmn ") && l.contains("秒后将回到首页")),
        "{spoken}"
    );
    // The citizen has gone without the card: the kiosk waits for it, then is ready again.
    k.world(json!({"world": "remove_card"}));
    let v = k.screen("attract");
    assert_nothing_of(&v, 56);
}

#[test]
fn a_technician_tests_every_device_counts_supplies_and_exports_diagnostics_without_citizen_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    k.file_item(32, CERTIFICATE, false, false);
    k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    k.leave();

    k.intent(json!({"intent": "maintenance_gesture"}));
    k.screen("maintenance_login");
    k.intent(json!({"intent": "maintenance_pin", "pin": "000000"}));
    k.wait_for("a wrong PIN counted", |v| v["failures"] == 1);
    k.intent(json!({"intent": "maintenance_pin", "pin": kiosk_app::simulated::TECHNICIAN_PIN}));
    let menu = k.wait_for("the menu with its report", |v| {
        v["screen"] == "maintenance" && v["report"].is_object()
    });
    let report = &menu["report"];
    assert_eq!(report["terminal"], TERMINAL);
    let states: Vec<(String, String)> = report["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["device"].as_str().unwrap().into(),
                d["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    for device in ["idcard", "receipt-printer", "dispenser", "a4-printer"] {
        assert!(
            states.contains(&(device.into(), "online".into())),
            "{device} in {states:?}"
        );
    }
    let network = &report["network"];
    assert!(network["certificate_days_left"].as_i64().unwrap() > 300);
    assert!(
        network["last_contact_s"].as_i64().is_some_and(|s| s < 60),
        "the sync agent reached the backend lately: {network}"
    );
    let configuration = report["configuration"].to_string();
    assert!(
        configuration.contains("devices.a4_printer: kiosk-a4"),
        "{configuration}"
    );
    assert!(
        !configuration.contains("argon2"),
        "no PIN or card hashes shown"
    );
    let used = |v: &Value, supply: &str| {
        v["report"]["supplies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["supply"] == supply)
            .unwrap()["used"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        used(&menu, "receipt_paper"),
        1,
        "one receipt printed so far"
    );

    // Each action clears the last outcome until its own comes.
    let test = |k: &mut Kiosk, device: &str, world: Option<Value>| -> Value {
        k.intent(json!({"intent": "maintain", "action": "self_test", "device": device}));
        k.wait_for("the self-test under way", |v| v["last"].is_null());
        if let Some(event) = world {
            std::thread::sleep(Duration::from_millis(500));
            k.world(event);
        }
        let v = k.wait_for("the self-test's outcome", |v| {
            v["last"]["action"] == "self_test"
        });
        v["last"].clone()
    };
    // The printer prints a slip; the technician tears it off.
    let slips = k.receipts().len();
    k.intent(json!({"intent": "maintain", "action": "self_test", "device": "receipt_printer"}));
    let tested = |v: &Value| v["last"]["action"] == "self_test" && used(v, "receipt_paper") == 2;
    let deadline = Instant::now() + PATIENCE;
    let v = loop {
        let _ = k.try_world(json!({"world": "take_receipt"}));
        if let Some(v) = k.wait_within(Duration::from_secs(1), &tested) {
            break v;
        }
        assert!(Instant::now() < deadline, "no self-test: {}", k.last);
    };
    assert_eq!(v["last"]["ok"], true, "{v}");
    assert_eq!(k.receipts().len(), slips + 1, "the slip came out");
    // The reader reads a test card (a technician's own), and says nothing of what is on it.
    let tech = kiosk_app::simulated::TECHNICIAN_CARD;
    let outcome = test(
        &mut k,
        "id_reader",
        Some(json!({"world": "insert_card", "citizen": tech})),
    );
    assert_eq!(outcome["ok"], true, "{outcome}");
    assert!(
        outcome["detail"]
            .as_str()
            .unwrap()
            .contains("test card read")
    );
    assert_nothing_of(&outcome, tech);
    k.world(json!({"world": "remove_card"}));
    // The camera captures a test page laid under it.
    let outcome = test(
        &mut k,
        "camera",
        Some(json!({"world": "lay_page", "seed": 3})),
    );
    assert_eq!(outcome["ok"], true, "{outcome}");
    assert!(
        outcome["detail"].as_str().unwrap().contains("test image"),
        "{outcome}"
    );
    k.world(json!({"world": "remove_page"}));
    // The dispenser hands out a test card; the technician takes it once it is at the gate.
    k.intent(json!({"intent": "maintain", "action": "self_test", "device": "dispenser"}));
    k.wait_for("the self-test under way", |v| v["last"].is_null());
    let deadline = Instant::now() + PATIENCE;
    let outcome = loop {
        k.world(json!({"world": "take_card"}));
        let done = |v: &Value| v["last"]["action"] == "self_test";
        if let Some(v) = k.wait_within(Duration::from_millis(500), &done) {
            break v["last"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no dispenser self-test: {}",
            k.last
        );
    };
    assert_eq!(outcome["ok"], true, "{outcome}");
    assert!(
        outcome["detail"].as_str().unwrap().contains("taken"),
        "{outcome}"
    );
    // The A4 printer prints a test page.
    let outcome = test(&mut k, "a4_printer", None);
    assert_eq!(outcome["ok"], true, "{outcome}");
    // The report after each outcome counts what was used.
    k.wait_for("a card and a sheet counted", |v| {
        used(v, "cards") == 1 && used(v, "a4_paper") == 1
    });
    for supply in ["receipt_paper", "cards", "a4_paper"] {
        k.intent(json!({"intent": "maintain", "action": "refilled", "supply": supply}));
        k.wait_for("the refill under way", |v| v["last"].is_null());
        let v = k.wait_for("the counter reset", |v| {
            v["last"]["action"] == "refilled" && used(v, supply) == 0
        });
        assert_eq!(v["last"]["ok"], true, "{v}");
    }

    k.intent(json!({"intent": "maintain", "action": "sync_now"}));
    let v = k.wait_for("sync now done", |v| v["last"]["action"] == "sync_now");
    assert_eq!(v["last"]["ok"], true, "{v}");

    // Diagnostics on the USB drive: the report, device states, the store's check, the logs.
    k.intent(json!({"intent": "maintain", "action": "export_diagnostics"}));
    let v = k.wait_for("exported", |v| v["last"]["action"] == "export_diagnostics");
    assert_eq!(v["last"]["ok"], true, "{v}");
    let usb = dir.path().join("usb");
    let folder = std::fs::read_dir(&usb)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let check: Value =
        serde_json::from_slice(&std::fs::read(folder.join("store-check.json")).unwrap()).unwrap();
    assert_eq!(
        (
            check["applications"].as_u64(),
            check["audit_chain"].as_str()
        ),
        (Some(1), Some("ok"))
    );
    assert!(folder.join("status/idcard.json").is_file());
    let log = std::fs::read_to_string(folder.join("logs/kiosk.log")).unwrap();
    assert!(
        log.contains("application saved") || log.contains("INFO"),
        "{log}"
    );
    // The logs name applications by number (to trace a delivery), never a person.
    let who = demo_data::applicant(32);
    for secret in [&who.name[..], &who.id_number[..]] {
        let found = files_holding(&usb, secret);
        assert!(found.is_empty(), "{secret} in {found:?}");
    }
    assert_nothing_of(&v, 32);

    k.intent(json!({"intent": "maintain", "action": "leave"}));
    k.screen("attract");

    // A technician's card opens it too; it starts no citizen session.
    k.intent(json!({"intent": "maintenance_gesture"}));
    k.screen("maintenance_login");
    k.world(json!({"world": "insert_card", "citizen": tech}));
    let v = k.screen("maintenance");
    assert_nothing_of(&v, tech);
    k.intent(json!({"intent": "cancel"}));
    k.world(json!({"world": "remove_card"}));
    k.screen("attract");
}
