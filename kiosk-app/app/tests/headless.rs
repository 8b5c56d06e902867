//! Journeys through the whole simulated kiosk, as a process: `kiosk-app --simulate --headless`
//! with every device simulator on its PTY, the local backend, the network relay and the sync
//! agent. Fingers are intents on standard input; the world (cards, pages, paper, reviewers) acts
//! through the control socket; what the citizen sees is read off standard output.

mod common;

use central_backend::Storage;
use common::{
    CERTIFICATE, HOTEL, Kiosk, PATIENCE, SOCIAL_SECURITY_CARD, assert_nothing_of, files_holding,
};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn a_second_visit_reuses_the_page_captured_on_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let (first, how) = k.file_item(21, CERTIFICATE, false, true);
    assert_eq!(how, ["captured"]);
    let printed = k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    assert_eq!(printed["receipt"]["number"], first.as_str());
    let receipts = k.receipts();
    assert!(
        receipts.iter().any(|r| r.contains(&first)),
        "the printed receipt carries the number: {receipts:?}"
    );
    k.leave();
    assert_nothing_of(&k.last.clone(), 21);

    let (second, how) = k.file_item(21, CERTIFICATE, true, false);
    assert_eq!(how, ["reused"], "the ID card copy of the first visit");
    assert_ne!(first, second);
    // Both reach the central office.
    k.decide(&first, json!({"status": "accepted"}));
    k.decide(&second, json!({"status": "accepted"}));
}

#[test]
fn the_hotel_bundle_with_optional_items_and_a_deferred_material() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let who = k.start_new(22);
    k.intent(json!({"intent": "choose_bundle", "id": HOTEL}));
    let optional = k.screen("optional");
    let items = optional["items"].as_array().unwrap().clone();
    assert!(items.len() >= 2, "{optional}");
    for item in &items[..2] {
        let code = item["code"].clone();
        k.intent(json!({"intent": "toggle_optional", "code": code}));
        k.wait_for("the optional item on", |v| {
            v["items"]
                .as_array()
                .is_some_and(|is| is.iter().any(|i| i["code"] == code && i["on"] == true))
        });
    }
    k.intent(json!({"intent": "continue"}));
    k.answer_all();
    k.fill_form(&who);
    let how = k.provide_materials(false, true);
    assert!(
        how.contains(&"later"),
        "容缺 offered for some material: {how:?}"
    );
    let review = k.last.clone();
    let missing = review["missing"].as_array().unwrap().clone();
    assert!(!missing.is_empty());
    let receipt = k.consent_sign_submit(false);
    assert!(
        receipt["receipt"]["items"].as_array().unwrap().len() >= 9,
        "{receipt}"
    );
    assert!(!receipt["receipt"]["missing"].as_array().unwrap().is_empty());
    let number = receipt["receipt"]["number"].as_str().unwrap().to_owned();
    k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    let text = k
        .receipts()
        .into_iter()
        .find(|r| r.contains(&number))
        .unwrap();
    let deadline = missing[0][1].as_str().unwrap();
    assert!(
        text.contains(deadline),
        "the promise and its deadline on paper: {text}"
    );
    k.leave();
    k.decide(&number, json!({"status": "accepted"}));
}

#[test]
fn with_the_paper_out_the_receipt_is_shown_as_a_qr_code_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    k.world(json!({"world": "paper", "supply": "out"}));
    k.wait_for("the notice", |v| {
        v["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["device"] == "receipt_printer")
    });
    let (number, _) = k.file_item(23, CERTIFICATE, false, false);
    let shown = k.wait_for("the QR code", |v| v["printing"] == "shown_as_qr");
    assert!(shown["receipt"]["qr"].as_str().unwrap().ends_with(&number));
    assert!(k.receipts().is_empty(), "nothing came out of the printer");
    k.intent(json!({"intent": "continue"}));
    k.screen("rate");
    k.intent(json!({"intent": "rate", "stars": 4}));
    k.screen("goodbye");
    k.world(json!({"world": "remove_card"}));
    k.screen("attract");
    k.decide(&number, json!({"status": "accepted"}));
}

#[test]
fn a_social_security_card_is_collected_from_the_dispenser_after_the_holder_is_identified_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let number = k.result_ready(24, SOCIAL_SECURITY_CARD, "dispenser");
    k.collect_as(&number, 24);
    std::thread::sleep(Duration::from_millis(500));
    k.world(json!({"world": "take_card"}));
    k.wait_for("handed out", |v| v["done"] == true);
}

#[test]
fn an_application_saved_just_before_kill_9_is_there_after_the_restart_and_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let (number, _) = k.file_item(25, CERTIFICATE, false, false);
    // Saved: the receipt screen shows the number. Cut the power now.
    k.world(json!({"world": "network", "up": false}));
    k.kill_9();

    let mut k = Kiosk::start(dir.path());
    k.identify(25);
    // Progress is offered once the lookup has found the citizen's applications.
    k.wait_for("progress offered", |v| {
        v["journeys"][1]["available"] == true
    });
    k.intent(json!({"intent": "progress"}));
    let progress = k.screen("progress");
    assert_eq!(
        progress["applications"][0]["number"],
        number.as_str(),
        "{progress}"
    );
    k.decide(&number, json!({"status": "accepted"}));
}

#[test]
fn corrections_asked_are_supplied_offline_and_reach_the_backend_after_kill_9_right_after_saved() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let (number, _) = k.file_item(27, CERTIFICATE, false, false);
    k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    k.leave();
    k.decide(
        &number,
        json!({"status": "corrections_needed", "corrections": [
            {"target": "applicant.phone", "note": "电话无法接通，请核对"},
            {"target": "id_card", "note": "身份证复印件反光，请重新拍摄"},
        ]}),
    );

    // The request comes back through the sync agent; the citizen may come before it does.
    let deadline = Instant::now() + PATIENCE;
    let progress = loop {
        k.identify(27);
        k.wait_for("progress offered", |v| {
            v["journeys"][1]["available"] == true
        });
        k.intent(json!({"intent": "progress"}));
        let progress = k.screen("progress");
        if progress["applications"][0]["can_supplement"] == true {
            break progress;
        }
        assert!(
            Instant::now() < deadline,
            "the request never reached the kiosk"
        );
        k.intent(json!({"intent": "cancel"}));
        k.world(json!({"world": "remove_card"}));
        k.screen("attract");
        std::thread::sleep(Duration::from_millis(500));
    };
    let row = &progress["applications"][0];
    assert_eq!(
        (row["number"].as_str(), row["status"].as_str()),
        (Some(number.as_str()), Some("corrections_needed"))
    );
    assert_eq!(
        row["corrections"],
        json!(["电话无法接通，请核对", "身份证复印件反光，请重新拍摄"]),
        "every correction, all at once"
    );

    // The network goes down: the corrections are supplied all the same.
    k.world(json!({"world": "network", "up": false}));
    k.intent(json!({"intent": "supplement", "number": number}));
    let asked = k.screen("supplement");
    assert_eq!(asked["corrections"].as_array().unwrap().len(), 2);
    assert_eq!(asked["complete"], false);
    k.intent(json!({"intent": "submit"}));
    k.intent(json!({"intent": "set_field", "field": "applicant.phone", "value": "13912345678"}));
    k.wait_for("the phone corrected", |v| {
        v["screen"] == "supplement" && v["corrections"][0]["value"] == "13912345678"
    });
    k.intent(json!({"intent": "capture", "material": "id_card"}));
    k.screen("capture");
    k.world(json!({"world": "lay_page", "seed": 77}));
    k.wait_for("a page captured", |v| {
        v["screen"] == "capture" && v["pages"] == 1
    });
    k.world(json!({"world": "remove_page"}));
    k.intent(json!({"intent": "capture_done"}));
    k.wait_for("everything asked supplied", |v| {
        v["screen"] == "supplement" && v["complete"] == true
    });
    k.intent(json!({"intent": "sign", "strokes": [[[100, 200], [300, 220]]]}));
    k.intent(json!({"intent": "submit"}));
    let receipt = k.screen("receipt");
    assert_eq!(
        (
            receipt["receipt"]["kind"].as_str(),
            receipt["receipt"]["number"].as_str()
        ),
        (Some("supplement"), Some(number.as_str()))
    );
    // Saved: the power is cut now. Started again (with the network), the kiosk delivers them.
    k.kill_9();
    let mut k = Kiosk::start(dir.path());

    // At the backend: the corrections as given, and the application back in review.
    let backend =
        central_backend::SqliteStorage::open_read_only(&dir.path().join("central")).unwrap();
    let deadline = Instant::now() + PATIENCE;
    let shown = loop {
        let shown = backend.application(&number).unwrap();
        if shown["supplements"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
        {
            break shown;
        }
        assert!(
            Instant::now() < deadline,
            "the corrections never reached the backend"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let supplement = &shown["supplements"][0]["supplement"];
    assert_eq!(
        supplement["form"],
        json!([{"field": "applicant.phone", "value": "13912345678"}])
    );
    assert_eq!(
        shown["supplements"][0]["pages"].as_array().unwrap().len(),
        1
    );
    let listed = backend.applications().unwrap();
    let status = listed.iter().find(|a| a.number == number).unwrap();
    assert_eq!(status.status, "supplied");

    // The heartbeat's statistics, from the kiosk's audit, tell the central office about the
    // day: the item filed, the supplement, the completed session and its rating (the second
    // session never ended: the power was cut).
    let deadline = Instant::now() + PATIENCE;
    let stats = loop {
        let fleet = backend.fleet().unwrap();
        let stats = fleet[0].heartbeat["statistics"].clone();
        if stats["supplements"] == 1 && stats["ratings"][4] == 1 {
            break stats;
        }
        assert!(Instant::now() < deadline, "no statistics: {stats}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(stats["applications_by_item"][CERTIFICATE], 1, "{stats}");
    assert!(
        stats["ended"]["completed"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    assert_nothing_of(&stats, 27);

    // Back at the kiosk, progress says so and offers nothing more to supply.
    k.identify(27);
    k.wait_for("progress offered", |v| {
        v["journeys"][1]["available"] == true
    });
    k.intent(json!({"intent": "progress"}));
    let row = k.screen("progress")["applications"][0].clone();
    assert_eq!(
        (row["status"].as_str(), row["can_supplement"].as_bool()),
        (Some("supplied"), Some(false))
    );
}

#[test]
fn with_the_network_down_and_kill_9_at_any_step_nothing_is_lost_or_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    // The network is down for the whole night: a citizen files all the same.
    k.world(json!({"world": "network", "up": false}));
    let (number, _) = k.file_item(30, CERTIFICATE, false, false);
    k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    k.leave();

    // The next citizen is cut off by a power failure at each step in turn.
    for step in ["form", "capture", "sign"] {
        let who = k.start_new(31);
        k.intent(json!({"intent": "choose_item", "code": CERTIFICATE}));
        if step != "form" {
            k.fill_form(&who);
        }
        match step {
            "capture" => {
                k.intent(json!({"intent": "capture", "material": "id_card"}));
                k.screen("capture");
                k.world(json!({"world": "lay_page", "seed": 5}));
                k.wait_for("a page captured", |v| v["pages"] == 1);
            }
            "sign" => {
                k.provide_materials(false, false);
                k.intent(json!({"intent": "continue"}));
                k.intent(json!({"intent": "consent", "processing": true, "store_for_reuse": true}));
                k.intent(json!({"intent": "continue"}));
                k.screen("sign");
                k.intent(json!({"intent": "sign", "strokes": [[[10, 20], [30, 40]]]}));
                k.wait_for("signed", |v| v["strokes"] == 1);
            }
            _ => {
                k.screen("form");
            }
        }
        k.kill_9();
        k = Kiosk::start(dir.path());
        assert_nothing_of(&k.last, 31);
        k.world(json!({"world": "network", "up": false}));
    }

    // Nothing of the interrupted citizen anywhere on disk, in clear: not in the store, the
    // page files, the receipts, or the log.
    assert!(
        !files_holding(dir.path(), &number).is_empty(),
        "the search finds what is there (the first receipt's number)"
    );
    let who = demo_data::applicant(31);
    for secret in [&who.name[..], &who.id_number[..]] {
        let found = files_holding(dir.path(), secret);
        assert!(found.is_empty(), "{secret} in {found:?}");
    }
    // Their progress lists nothing: nothing half-done was saved.
    k.identify(31);
    k.wait_for("progress offered", |v| {
        v["journeys"][1]["available"] == true
    });
    k.intent(json!({"intent": "progress"}));
    assert_eq!(k.screen("progress")["applications"], json!([]));
    k.intent(json!({"intent": "cancel"}));
    k.world(json!({"world": "remove_card"}));

    // The first citizen's application waited through it all, and goes out with the network.
    k.world(json!({"world": "network", "up": true}));
    k.decide(&number, json!({"status": "accepted"}));
}

#[test]
fn a_blurred_page_is_not_taken_and_the_citizen_is_told_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    k.start_item(33, CERTIFICATE);
    k.intent(json!({"intent": "capture", "material": "id_card"}));
    k.screen("capture");
    k.world(json!({"world": "lay_page", "seed": 8, "blurred": true}));
    let v = k.wait_for("the blur reported", |v| v["problem"] == "blurred");
    assert_eq!(v["pages"], 0, "a blurred page is not taken");
    // The citizen lifts the page and lays it down again, still this time.
    k.world(json!({"world": "remove_page"}));
    std::thread::sleep(Duration::from_millis(1500));
    k.world(json!({"world": "lay_page", "seed": 8}));
    k.wait_for("the sharp page taken", |v| {
        v["screen"] == "capture" && v["pages"] == 1 && v["problem"].is_null()
    });
}
