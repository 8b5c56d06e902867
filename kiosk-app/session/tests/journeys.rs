//! Journeys through the engine, with the effects carried out against a real store in a
//! temporary directory (`common`). The same journeys over the device simulators are the kiosk
//! application's tests.

mod common;

use application::{Provided, Status};
use common::{CERTIFICATE, HOTEL, Kiosk, assert_nothing_of, citizen};
use serde_json::Value;
use session::{Command, Device, Event, Intent, Language, Screen, Timeouts};

#[test]
fn the_hotel_bundle_with_optional_items_is_filed_printed_and_wiped() {
    let mut k = Kiosk::new();
    let who = citizen(1);
    assert_eq!(k.screen(), "attract");
    k.intent(Intent::Touch);
    assert_eq!(k.screen(), "identify");
    k.place_card(&who);
    let home = k.view();
    assert_eq!(home["screen"], "home");
    assert_eq!(home["name"], who.name.as_str());
    assert!(!home.to_string().contains(&who.id_number), "masked");

    k.intent(Intent::NewApplication);
    k.intent(Intent::Search {
        text: "旅店".into(),
    });
    let Screen::Choose { bundles, .. } = k.engine.view().screen else {
        panic!()
    };
    assert!(
        bundles.iter().any(|b| b.id == HOTEL),
        "search finds the bundle"
    );
    k.intent(Intent::ChooseBundle { id: HOTEL.into() });
    let Screen::Optional { items, .. } = k.engine.view().screen else {
        panic!("{}", k.view())
    };
    assert_eq!(items.len(), 6);
    // Two optional items other than the food licence, which an answer adds below.
    const FOOD: &str = "11440600MB2D2062101000035000000";
    let picked: Vec<String> = items
        .iter()
        .map(|t| t.code.clone())
        .filter(|c| c != FOOD)
        .take(2)
        .collect();
    for code in &picked {
        k.intent(Intent::ToggleOptional { code: code.clone() });
    }
    k.intent(Intent::Continue);
    assert_eq!(k.screen(), "question");
    // Food served (adds the food business licence), the rest no; the applicant is the
    // legal representative.
    k.answer_all(&|q| match q {
        "q_hotel_food" => Some("yes"),
        "q_agent" => Some("yes"),
        _ => Some("no"),
    });
    assert_eq!(k.screen(), "form");
    let form = k.view();
    let name_field = form["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "applicant.name")
        .unwrap();
    assert_eq!(
        name_field["value"],
        who.name.as_str(),
        "pre-filled from the card"
    );
    assert_eq!(name_field["locked"], true);
    k.intent(Intent::Continue);
    assert_eq!(k.screen(), "form", "an incomplete form does not go on");
    assert!(
        k.view()["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["error"].is_string()),
        "and says what is missing"
    );
    k.fill_form(&who);
    k.provide_materials(false, false);
    let review = k.view();
    let items = review["items"].as_array().unwrap().len();
    assert_eq!(
        items,
        7 + 2 + 1,
        "mandatory, two optional, one added by an answer"
    );
    k.consent_sign_submit(true);

    assert_eq!(k.screen(), "receipt", "{}", k.view());
    assert_eq!(k.view()["printing"], "printed");
    let receipt = k.printed.last().unwrap().clone();
    let saved = k.applications_of(&who);
    assert_eq!(saved.len(), 1);
    assert_eq!(receipt.number, saved[0].number.as_str());
    assert_eq!(saved[0].items.len(), 10);
    for code in &picked {
        assert!(saved[0].items.contains(code));
    }
    assert!(receipt.qr.ends_with(saved[0].number.as_str()));

    k.intent(Intent::Continue);
    assert_eq!(k.screen(), "rate");
    k.intent(Intent::Rate { stars: 5 });
    let bye = k.view();
    assert_eq!(bye["screen"], "goodbye");
    assert_eq!(bye["take_card"], true);
    assert_eq!(bye["take_receipt"], true);
    assert_nothing_of(&bye, &who);
    assert!(k.effects.iter().any(|e| e == "EndSession"));
    k.event(Event::CardRemoved);
    assert_eq!(k.screen(), "goodbye", "the receipt is still there");
    k.event(Event::ReceiptTaken);
    assert_eq!(k.screen(), "attract");
    assert!(!k.engine.in_session());
}

#[test]
fn a_second_visit_reuses_stored_materials_and_earlier_values() {
    let mut k = Kiosk::new();
    let who = citizen(2);
    // 居民身份证换领 asks for the ID card, photo and hukou booklet, all reusable.
    let item = "11440600MB2C0417XA4000107000000";
    for visit in 0..2 {
        k.place_card(&who);
        k.intent(Intent::NewApplication);
        k.intent(Intent::ChooseItem { code: item.into() });
        k.answer_all(&|_| None);
        if visit == 1 {
            let phone = k.view()["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["id"] == "applicant.phone")
                .cloned()
                .unwrap();
            let first = k.applications_of(&who)[0]
                .draft
                .value("applicant.phone")
                .map(str::to_owned);
            assert_eq!(
                phone["value"].as_str(),
                first.as_deref(),
                "from the first visit"
            );
            assert_eq!(phone["from_earlier"], true);
        }
        k.fill_form(&who);
        if visit == 1 {
            let Screen::Materials { materials, .. } = k.engine.view().screen else {
                panic!()
            };
            let offered = materials.iter().filter(|m| m.reusable.is_some()).count();
            assert!(offered >= 2, "{materials:?}");
        }
        k.provide_materials(true, false);
        k.consent_sign_submit(true);
        assert_eq!(k.screen(), "receipt");
        k.intent(Intent::Continue);
        k.intent(Intent::Continue);
        k.event(Event::CardRemoved);
        k.event(Event::ReceiptTaken);
        assert_eq!(k.screen(), "attract");
    }
    let apps = k.applications_of(&who);
    assert_eq!(apps.len(), 2);
    let reused = apps[1]
        .draft
        .materials
        .iter()
        .filter(|m| matches!(m.provided, Provided::Reused { .. }))
        .count();
    assert!(reused >= 2, "{:?}", apps[1].draft.materials);
}

#[test]
fn a_rongque_application_promises_the_missing_material_on_the_receipt() {
    let mut k = Kiosk::new();
    let who = citizen(3);
    k.start_hotel(&who);
    k.provide_materials(false, true);
    let review = k.view();
    let missing = review["missing"].as_array().unwrap().clone();
    assert!(!missing.is_empty());
    k.intent(Intent::Continue);
    k.intent(Intent::Consent {
        processing: true,
        store_for_reuse: false,
    });
    k.intent(Intent::Continue);
    assert_eq!(k.view()["promise"].as_array().unwrap(), &missing, "signed");
    k.intent(Intent::Sign {
        strokes: vec![vec![(1, 1), (2, 2)]],
    });
    k.intent(Intent::Submit);
    let receipt = k.printed.last().unwrap();
    assert_eq!(receipt.missing.len(), missing.len());
    let saved = &k.applications_of(&who)[0];
    let later = saved
        .draft
        .materials
        .iter()
        .filter(|m| matches!(m.provided, Provided::Missing { .. }))
        .count();
    assert_eq!(later, missing.len());
}

#[test]
fn with_no_paper_the_receipt_is_shown_as_a_qr_code_and_the_application_is_kept() {
    let mut k = Kiosk::new();
    let who = citizen(4);
    k.paper = false;
    k.file(&who, CERTIFICATE);
    let v = k.view();
    assert_eq!(v["screen"], "receipt");
    assert_eq!(v["printing"], "shown_as_qr");
    let number = k.applications_of(&who)[0].number.to_string();
    assert!(v["receipt"]["qr"].as_str().unwrap().ends_with(&number));
    assert!(
        v["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["device"] == "receipt_printer"),
        "{v}"
    );
    k.intent(Intent::Continue);
    k.intent(Intent::Continue);
    assert_eq!(k.view()["take_receipt"], false, "nothing to take");
    // The next citizen is told at once; the journey does not depend on the printer.
    k.event(Event::CardRemoved);
    k.place_card(&citizen(5));
    assert_eq!(k.view()["journeys"][0]["available"], true);
    assert_eq!(k.view()["notices"][0]["device"], "receipt_printer");
}

#[test]
fn an_idle_form_warns_then_resets_and_the_next_citizen_sees_nothing() {
    let mut k = Kiosk::new();
    let who = citizen(6);
    k.start_item(&who, CERTIFICATE);
    k.intent(Intent::SetField {
        field: "applicant.phone".into(),
        value: "13912345678".into(),
    });
    let limit = Timeouts::default().form_s as i64;
    k.wait(limit - 25);
    assert_eq!(k.view()["countdown_s"], Value::Null);
    k.wait(10);
    assert_eq!(k.screen(), "form");
    assert_eq!(k.view()["countdown_s"], 15);
    let said = |k: &Kiosk, words: &str| {
        k.effects
            .iter()
            .any(|e| e.contains("Speak") && e.contains(words))
    };
    assert!(said(&k, "请触摸屏幕。15秒后将回到首页"));
    // What is said is shown too, for those who cannot hear it.
    assert!(
        k.view()["speech"]
            .as_str()
            .unwrap()
            .contains("15秒后将回到首页")
    );
    k.wait(4);
    assert_eq!(k.view()["countdown_s"], 11);
    assert!(
        !said(&k, "还有"),
        "said once at the warning, once near the end"
    );
    k.wait(1);
    assert!(said(&k, "还有10秒"));
    k.intent(Intent::Touch);
    assert_eq!(k.view()["countdown_s"], Value::Null, "a touch keeps it");
    k.wait(limit + 1);
    let v = k.view();
    assert_eq!(v["screen"], "goodbye");
    assert_eq!(v["take_card"], true);
    assert_eq!(v["countdown_s"], Value::Null, "goodbye is itself the wait");
    assert_nothing_of(&v, &who);
    assert!(!v.to_string().contains("13912345678"));
    k.wait(Timeouts::default().goodbye_s as i64 + 1);
    assert_eq!(k.screen(), "attract");
    assert!(k.applications_of(&who).is_empty(), "nothing was filed");
    // The next citizen's form starts empty.
    let next = citizen(7);
    k.event(Event::CardRemoved);
    k.start_item(&next, CERTIFICATE);
    assert_nothing_of(&k.view(), &who);
    assert!(!k.view().to_string().contains("13912345678"));
}

#[test]
fn a_screen_with_its_own_idle_limit_keeps_it() {
    let mut timeouts = Timeouts::default();
    timeouts.screens.insert("review".into(), 40);
    let mut k = Kiosk::with_timeouts(timeouts);
    let who = citizen(61);
    k.start_item(&who, CERTIFICATE);
    k.fill_form(&who);
    k.wait(50);
    assert_eq!(
        k.screen(),
        "materials",
        "the menu limit (90 s) still holds here"
    );
    k.provide_materials(false, false);
    k.wait(25);
    assert_eq!(k.view()["countdown_s"], 15, "review's own 40 s");
    k.wait(16);
    assert_eq!(k.screen(), "goodbye");
}

#[test]
fn another_card_ends_the_session_of_the_first_citizen() {
    let mut k = Kiosk::new();
    let (a, b) = (citizen(8), citizen(9));
    k.place_card(&a);
    k.intent(Intent::NewApplication);
    k.intent(Intent::ChooseItem {
        code: CERTIFICATE.into(),
    });
    k.place_card(&b);
    assert_nothing_of(&k.view(), &a);
    assert!(k.effects.iter().any(|e| e.contains("card_changed")));
    k.event(Event::CardRemoved);
    k.place_card(&b);
    assert_eq!(k.view()["name"], b.name.as_str());
}

#[test]
fn a_kiosk_without_a_camera_or_a4_printer_offers_what_it_can_without_calling_them_broken() {
    let mut k = Kiosk::without(&[Device::Camera, Device::A4Printer]);
    let who = citizen(11);
    // A driver's report about a device that is not there changes nothing.
    k.event(Event::Device {
        device: Device::A4Printer,
        usable: true,
        reason: None,
    });
    k.start_hotel(&who);
    let v = k.view();
    assert_eq!(v["notices"], serde_json::json!([]), "{v}");
    let floor = material(&v, "floor_plan");
    assert_eq!(floor["can_capture"], false);
    assert!(
        floor["can_defer"].is_string(),
        "容缺 stays possible: {floor}"
    );
    // A fitted device that fails is still told, with its alternative.
    k.event(Event::Device {
        device: Device::ReceiptPrinter,
        usable: false,
        reason: Some("paper out".into()),
    });
    let notices: Vec<Value> = k.view()["notices"].as_array().unwrap().clone();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["device"], "receipt_printer");
}

#[test]
fn a_camera_failure_leaves_reuse_and_rongque_and_says_so() {
    let mut k = Kiosk::new();
    let who = citizen(10);
    k.start_hotel(&who);
    k.intent(Intent::Capture {
        material: "floor_plan".into(),
    });
    assert_eq!(k.screen(), "capture");
    k.event(Event::CaptureFailed {
        reason: "unplugged".into(),
    });
    let v = k.view();
    assert_eq!(v["screen"], "materials");
    assert!(k.effects.iter().any(|e| e == "StopCapture"));
    let floor = material(&v, "floor_plan");
    assert_eq!(floor["can_capture"], false);
    assert!(floor["can_defer"].is_string());
    assert!(v["notices"][0]["text"].as_str().unwrap().contains("高拍仪"));
    k.intent(Intent::Capture {
        material: "floor_plan".into(),
    });
    assert_eq!(k.screen(), "materials", "no capture without a camera");
    k.intent(Intent::SupplyLater {
        material: "floor_plan".into(),
    });
    let v = k.view();
    let floor = material(&v, "floor_plan");
    assert_eq!(floor["state"]["how"], "later");
}

#[test]
fn a_full_disk_says_nothing_was_saved_and_takes_the_kiosk_out_of_service_after() {
    let mut k = Kiosk::new();
    let who = citizen(11);
    k.disk_full = true;
    k.file(&who, CERTIFICATE);
    let v = k.view();
    assert_eq!(v["screen"], "not_saved");
    assert_eq!(v["failure"], "disk_full");
    assert!(k.printed.is_empty(), "no receipt promises anything");
    k.intent(Intent::Continue);
    assert_eq!(k.screen(), "goodbye");
    k.event(Event::CardRemoved);
    assert_eq!(k.screen(), "out_of_service");
    assert!(
        k.effects
            .iter()
            .any(|e| e.contains("OutOfService") && e.contains("Store"))
    );
    k.place_card(&citizen(12));
    assert_eq!(k.screen(), "out_of_service", "nobody is taken");
}

#[test]
fn a_remote_command_waits_for_the_session_to_end() {
    let mut k = Kiosk::new();
    let who = citizen(13);
    k.place_card(&who);
    k.intent(Intent::NewApplication);
    k.event(Event::Command {
        id: 7,
        command: Command::OutOfService,
    });
    assert_eq!(k.screen(), "choose", "not in the middle of a session");
    assert!(!k.effects.iter().any(|e| e.contains("CommandDone")));
    k.intent(Intent::Cancel);
    k.event(Event::CardRemoved);
    assert_eq!(k.screen(), "out_of_service");
    assert!(k.effects.iter().any(|e| e == "CommandDone { id: 7 }"));
    k.event(Event::Command {
        id: 8,
        command: Command::InService,
    });
    assert_eq!(k.screen(), "attract");
}

#[test]
fn corrections_asked_are_shown_and_supplied_with_a_signature() {
    let mut k = Kiosk::new();
    let who = citizen(14);
    k.file(&who, CERTIFICATE);
    let number = k.applications_of(&who)[0].number.clone();
    k.leave();
    k.store
        .record_status(
            &number,
            Status::CorrectionsNeeded {
                corrections: vec![
                    application::Correction {
                        target: "applicant.phone".into(),
                        note: "号码无法接通，请更正".into(),
                    },
                    application::Correction {
                        target: "id_card".into(),
                        note: "身份证复印件不清晰，请重新拍摄".into(),
                    },
                ],
            },
            k.now,
        )
        .unwrap();

    k.place_card(&who);
    k.intent(Intent::Progress);
    let v = k.view();
    assert_eq!(v["applications"][0]["status"], "corrections_needed");
    assert_eq!(v["applications"][0]["can_supplement"], true);
    assert_eq!(
        v["applications"][0]["corrections"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    k.intent(Intent::Supplement {
        number: number.to_string(),
    });
    assert_eq!(k.screen(), "supplement");
    k.intent(Intent::SetField {
        field: "applicant.phone".into(),
        value: "1391234".into(),
    });
    assert!(k.view()["corrections"][0]["error"].is_string());
    k.intent(Intent::SetField {
        field: "applicant.phone".into(),
        value: "13912345678".into(),
    });
    k.capture("id_card", 2);
    let v = k.view();
    assert_eq!(v["screen"], "supplement");
    assert_eq!(v["corrections"][1]["pages"], 2);
    assert_eq!(v["complete"], true);
    k.intent(Intent::Submit);
    assert_eq!(k.screen(), "supplement", "not without a signature");
    k.intent(Intent::Sign {
        strokes: vec![vec![(5, 5), (50, 50)]],
    });
    k.intent(Intent::Submit);
    let sent = k
        .effects
        .iter()
        .find(|e| e.starts_with("SaveSupplement"))
        .unwrap();
    assert!(
        sent.contains(number.as_str()) && sent.contains("pages: 2"),
        "{sent}"
    );
    let v = k.view();
    assert_eq!(
        (v["screen"].as_str(), v["receipt"]["kind"].as_str()),
        (Some("receipt"), Some("supplement"))
    );
    assert_eq!(v["receipt"]["number"], number.as_str());
    let stored = k.applications_of(&who).remove(0);
    assert_eq!(stored.status(), Some(&Status::Supplied));
    assert_eq!(stored.supplements[0].page_files().count(), 2);
    // The next visit's progress says so and offers nothing more to supply.
    k.intent(Intent::Continue);
    k.intent(Intent::Rate { stars: 4 });
    k.leave();
    k.place_card(&who);
    k.intent(Intent::Progress);
    let v = k.view();
    assert_eq!(
        (
            v["applications"][0]["status"].as_str(),
            v["applications"][0]["can_supplement"].as_bool()
        ),
        (Some("supplied"), Some(false)),
        "{v}"
    );
}

#[test]
fn a_result_is_dispensed_only_to_the_card_holder_identified_again() {
    let mut k = Kiosk::new();
    let who = citizen(15);
    // 社会保障卡补领、换领: the card can come from the dispenser.
    k.place_card(&who);
    k.intent(Intent::NewApplication);
    k.intent(Intent::ChooseItem {
        code: "11440600MB2C05180Q9000214000000".into(),
    });
    k.answer_all(&|_| Some("lost"));
    k.fill_form(&who);
    k.provide_materials(false, false);
    k.intent(Intent::Delivery {
        delivery: catalogue::Delivery::Dispenser,
    });
    k.consent_sign_submit(false);
    let number = k.applications_of(&who)[0].number.clone();
    k.leave();
    k.store
        .record_status(
            &number,
            Status::ResultReady {
                delivery: catalogue::Delivery::Dispenser,
            },
            k.now,
        )
        .unwrap();

    k.place_card(&who);
    k.intent(Intent::Pickup);
    let v = k.view();
    assert_eq!(v["results"][0]["number"], number.as_str());
    assert_eq!(v["results"][0]["available"], true);
    k.intent(Intent::Collect {
        number: number.to_string(),
    });
    assert_eq!(k.view()["verifying"], true);
    assert!(!k.effects.iter().any(|e| e.starts_with("HandOut")));
    k.place_card(&who);
    assert!(k.effects.iter().any(|e| e.starts_with("HandOut")));
    k.event(Event::ResultHandedOut);
    assert_eq!(k.view()["done"], true);
    assert!(k.effects.iter().any(|e| e.contains("ResultCollected")));

    // With the dispenser down the result is listed but not offered.
    k.intent(Intent::Cancel);
    k.event(Event::CardRemoved);
    k.event(Event::Device {
        device: Device::Dispenser,
        usable: false,
        reason: Some("empty".into()),
    });
    k.place_card(&who);
    assert_eq!(k.view()["journeys"][2]["available"], false);
}

#[test]
fn nothing_in_any_view_of_a_journey_carries_another_citizens_data() {
    // Two citizens in turn, each through a whole filing; every view of the second is free of
    // the first.
    let mut k = Kiosk::new();
    let first = citizen(16);
    k.start_item(&first, CERTIFICATE);
    k.fill_form(&first);
    k.intent(Intent::Cancel);
    k.event(Event::CardRemoved);
    let second = citizen(17);
    k.place_card(&second);
    let mut views = vec![k.view()];
    k.intent(Intent::NewApplication);
    views.push(k.view());
    k.intent(Intent::ChooseItem {
        code: CERTIFICATE.into(),
    });
    views.push(k.view());
    k.answer_all(&|_| None);
    views.push(k.view());
    for v in &views {
        assert_nothing_of(v, &first);
    }
}

#[test]
fn a_late_answer_about_one_citizen_is_never_applied_to_the_next() {
    let mut k = Kiosk::new();
    let (a, b) = (citizen(18), citizen(19));
    k.file(&a, CERTIFICATE);
    k.leave();
    let late = session::lookup(&k.store, &k.catalogue, &a.id_number, k.now).unwrap();
    assert_eq!(late.applications.len(), 1);
    k.place_card(&b);
    // A's lookup answer arrives after B's session began (the first session was number 1).
    k.event(Event::Records {
        session: 1,
        records: Box::new(late),
    });
    k.intent(Intent::Progress);
    let v = k.view();
    assert_eq!(v["screen"], "progress");
    assert_eq!(v["applications"].as_array().unwrap().len(), 0, "{v}");
}

#[test]
fn a_page_the_camera_will_not_take_says_what_to_fix_once() {
    let mut k = Kiosk::new();
    let who = citizen(15);
    k.start_item(&who, CERTIFICATE);
    k.fill_form(&who);
    k.intent(Intent::Capture {
        material: "id_card".into(),
    });
    let spoken = |k: &Kiosk| k.effects.iter().filter(|e| e.contains("放平")).count();
    for _ in 0..3 {
        k.event(Event::PageRejected {
            material: "id_card".into(),
            problem: session::PageProblem::Blurred,
        });
    }
    let v = k.view();
    assert_eq!(
        (v["screen"].as_str(), v["problem"].as_str()),
        (Some("capture"), Some("blurred"))
    );
    assert_eq!(spoken(&k), 1, "said once, not for every frame");
    k.event(Event::PageRejected {
        material: "id_card".into(),
        problem: session::PageProblem::Glare,
    });
    assert_eq!(k.view()["problem"], "glare");
    k.event(Event::PageCaptured {
        material: "id_card".into(),
        image: zeroize::Zeroizing::new(b"page".to_vec()),
    });
    let v = k.view();
    assert_eq!(
        (v["pages"].as_u64(), &v["problem"]),
        (Some(1), &Value::Null)
    );
}

#[test]
fn items_are_found_by_characters_by_english_and_by_pinyin_initials() {
    let mut k = Kiosk::new();
    k.place_card(&citizen(16));
    k.intent(Intent::NewApplication);
    let found = |k: &mut Kiosk, text: &str| -> Vec<String> {
        k.intent(Intent::Search { text: text.into() });
        k.view()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for text in ["犯罪记录", "criminal", "wfzjl", "WFZJL"] {
        assert!(
            found(&mut k, text).contains(&CERTIFICATE.to_owned()),
            "{text}"
        );
    }
    assert!(found(&mut k, "zzzzq").is_empty());
}

#[test]
fn display_choices_are_the_citizens_own_and_reset_for_the_next() {
    let mut k = Kiosk::new();
    let who = citizen(60);
    // Chosen on the attract screen, before anything else: kept for the one who chose.
    k.intent(Intent::Language {
        language: Language::En,
    });
    k.intent(Intent::LargeText { on: true });
    k.intent(Intent::HighContrast { on: true });
    k.intent(Intent::Voice { on: false });
    k.intent(Intent::Touch);
    assert_eq!(k.view()["large_text"], true);
    let before = k.effects.len();
    k.place_card(&who);
    let v = k.view();
    assert_eq!(
        (
            v["language"].as_str(),
            v["large_text"].as_bool(),
            v["high_contrast"].as_bool()
        ),
        (Some("en"), Some(true), Some(true))
    );
    assert_eq!(v["languages"], serde_json::json!(["zh", "en"]));
    // Voice off: nothing is said, but the caption still shows what would have been.
    assert!(!k.effects[before..].iter().any(|e| e.contains("Speak")));
    assert_eq!(v["speech"], "What would you like to do?");
    // Back to Chinese with the voice on: the question is said again, in Chinese.
    k.intent(Intent::Language {
        language: Language::Zh,
    });
    assert_eq!(k.view()["speech"], "请选择要办理的业务。");
    assert!(!k.effects[before..].iter().any(|e| e.contains("Speak")));
    k.intent(Intent::Voice { on: true });
    assert!(
        k.effects[before..]
            .iter()
            .any(|e| e.contains("Speak") && e.contains("请选择要办理的业务")),
        "{:?}",
        &k.effects[before..]
    );
    k.intent(Intent::Language {
        language: Language::En,
    });
    assert_eq!(k.view()["speech"], "What would you like to do?");
    assert!(
        k.effects
            .last()
            .is_some_and(|e| e.contains("Speak") && e.contains("What would you like")),
        "{:?}",
        k.effects.last()
    );
    k.leave();
    k.wait(Timeouts::default().goodbye_s as i64 + 1);
    let v = k.view();
    assert_eq!(v["screen"], "attract");
    assert_eq!(
        (
            v["language"].as_str(),
            v["large_text"].as_bool(),
            v["high_contrast"].as_bool(),
            v["voice"].as_bool()
        ),
        (Some("zh"), Some(false), Some(false), Some(true)),
        "the next citizen starts from the kiosk's defaults"
    );
}

#[test]
fn the_countdown_is_said_again_once_the_citizen_has_shown_they_are_there() {
    let mut k = Kiosk::new();
    let who = citizen(62);
    k.start_item(&who, CERTIFICATE);
    k.fill_form(&who);
    k.intent(Intent::Capture {
        material: "id_card".into(),
    });
    let asked = |k: &Kiosk| {
        k.effects
            .iter()
            .filter(|e| e.contains("Speak") && e.contains("您还在吗"))
            .count()
    };
    let limit = Timeouts::default().form_s as i64;
    k.wait(limit - 5);
    assert_eq!(asked(&k), 1);
    // A page laid down (blurred): someone is there after all.
    k.event(Event::PageRejected {
        material: "id_card".into(),
        problem: session::PageProblem::Blurred,
    });
    assert_eq!(k.view()["countdown_s"], Value::Null);
    k.wait(limit - 5);
    assert_eq!(asked(&k), 2, "asked again, not left silent");
    assert_eq!(k.screen(), "capture");
}

/// The materials screen's row for material `id`.
fn material(view: &Value, id: &str) -> Value {
    view["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {view}"))
        .clone()
}
