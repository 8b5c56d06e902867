//! The state × fault matrix, through the engine and a real store: at every state of every
//! journey (a save, a print and a hand-out still under way among them), the card is taken
//! away, the receipt printer runs out, the camera is unplugged, or nobody touches the screen.
//! In every cell the citizen sees the right thing; then the session ends, nothing saved is
//! lost, and the next citizen sees nothing of the first, neither the card's data nor anything
//! typed. The network and kill -9 need the whole process: the kiosk application's headless
//! tests cut the network and kill the kiosk in each journey.

mod common;

use application::{Applicant, Correction, Status};
use catalogue::Delivery;
use common::{CERTIFICATE, HOTEL, Kiosk, assert_none_typed, assert_nothing_of, citizen};
use serde_json::Value;
use session::{Device, Event, Intent, Timeouts};

/// A state to reach: its name, the screen it shows, and how to get there.
struct State {
    name: &'static str,
    screen: &'static str,
    reach: fn(&mut Kiosk, &Applicant),
}

const STATES: &[State] = &[
    State {
        name: "identify",
        screen: "identify",
        reach: |k, _| k.intent(Intent::Touch),
    },
    State {
        name: "home",
        screen: "home",
        reach: |k, who| k.place_card(who),
    },
    State {
        name: "choose",
        screen: "choose",
        reach: |k, who| {
            k.place_card(who);
            k.intent(Intent::NewApplication);
        },
    },
    State {
        name: "optional",
        screen: "optional",
        reach: |k, who| {
            k.place_card(who);
            k.intent(Intent::NewApplication);
            k.intent(Intent::ChooseBundle { id: HOTEL.into() });
        },
    },
    State {
        name: "question",
        screen: "question",
        reach: |k, who| {
            k.place_card(who);
            k.intent(Intent::NewApplication);
            k.intent(Intent::ChooseBundle { id: HOTEL.into() });
            k.intent(Intent::Continue);
        },
    },
    State {
        name: "form",
        screen: "form",
        reach: |k, who| k.start_item(who, CERTIFICATE),
    },
    State {
        name: "materials",
        screen: "materials",
        reach: |k, who| {
            k.start_item(who, CERTIFICATE);
            k.fill_form(who);
        },
    },
    State {
        name: "capture",
        screen: "capture",
        reach: |k, who| {
            k.start_item(who, CERTIFICATE);
            k.fill_form(who);
            k.intent(Intent::Capture {
                material: "id_card".into(),
            });
        },
    },
    State {
        name: "review",
        screen: "review",
        reach: to_review,
    },
    State {
        name: "consent",
        screen: "consent",
        reach: |k, who| {
            to_review(k, who);
            k.intent(Intent::Continue);
        },
    },
    State {
        name: "sign",
        screen: "sign",
        reach: to_sign,
    },
    State {
        name: "saving",
        screen: "saving",
        reach: |k, who| {
            to_sign(k, who);
            k.hold = true;
            k.intent(Intent::Submit);
        },
    },
    State {
        name: "not_saved",
        screen: "not_saved",
        reach: |k, who| {
            to_sign(k, who);
            k.disk_full = true;
            k.intent(Intent::Submit);
        },
    },
    State {
        name: "printing",
        screen: "receipt",
        reach: |k, who| {
            to_sign(k, who);
            k.hold = true;
            k.intent(Intent::Submit);
            // Saved: the receipt is printing, slowly.
            k.release();
            assert_eq!(k.view()["printing"], "printing");
        },
    },
    State {
        name: "receipt",
        screen: "receipt",
        reach: |k, who| k.file(who, CERTIFICATE),
    },
    State {
        name: "rate",
        screen: "rate",
        reach: |k, who| {
            k.file(who, CERTIFICATE);
            k.intent(Intent::Continue);
        },
    },
    State {
        name: "goodbye",
        screen: "goodbye",
        reach: |k, who| {
            k.file(who, CERTIFICATE);
            k.intent(Intent::Continue);
            k.intent(Intent::Continue);
        },
    },
    State {
        name: "progress",
        screen: "progress",
        reach: |k, who| {
            filed_earlier(k, who, None);
            k.place_card(who);
            k.intent(Intent::Progress);
        },
    },
    State {
        name: "supplement",
        screen: "supplement",
        reach: to_supplement,
    },
    State {
        name: "supplement capture",
        screen: "capture",
        reach: |k, who| {
            to_supplement(k, who);
            k.intent(Intent::Capture {
                material: "id_card".into(),
            });
        },
    },
    State {
        name: "supplement saving",
        screen: "saving",
        reach: |k, who| {
            to_supplement(k, who);
            k.capture("id_card", 1);
            k.intent(Intent::Sign {
                strokes: vec![vec![(1, 1), (80, 90)]],
            });
            k.hold = true;
            k.intent(Intent::Submit);
        },
    },
    State {
        name: "pickup",
        screen: "pickup",
        reach: |k, who| {
            result_ready(k, who);
            k.place_card(who);
            k.intent(Intent::Pickup);
        },
    },
    State {
        name: "collecting: verifying",
        screen: "collecting",
        reach: |k, who| {
            to_collect(k, who);
            assert_eq!(k.view()["verifying"], true);
        },
    },
    State {
        name: "collecting: handing out",
        screen: "collecting",
        reach: |k, who| {
            to_collect(k, who);
            k.event(Event::CardRemoved);
            k.hold = true;
            k.place_card(who);
            assert_eq!(k.view()["verifying"], false);
            assert_eq!(k.view()["done"], Value::Null, "still handing out");
        },
    },
    State {
        name: "collecting: done",
        screen: "collecting",
        reach: |k, who| {
            to_collect(k, who);
            k.event(Event::CardRemoved);
            k.place_card(who);
            k.event(Event::ResultHandedOut);
            assert_eq!(k.view()["done"], true);
        },
    },
];

fn to_review(k: &mut Kiosk, who: &Applicant) {
    k.start_item(who, CERTIFICATE);
    k.fill_form(who);
    k.provide_materials(false, false);
}

fn to_sign(k: &mut Kiosk, who: &Applicant) {
    to_review(k, who);
    k.intent(Intent::Continue);
    k.intent(Intent::Consent {
        processing: true,
        store_for_reuse: false,
    });
    k.intent(Intent::Continue);
    k.intent(Intent::Sign {
        strokes: vec![vec![(1, 1), (80, 90)]],
    });
}

fn to_supplement(k: &mut Kiosk, who: &Applicant) {
    filed_earlier(
        k,
        who,
        Some(Status::CorrectionsNeeded {
            corrections: vec![Correction {
                target: "id_card".into(),
                note: "请重新拍摄".into(),
            }],
        }),
    );
    k.place_card(who);
    k.intent(Intent::Progress);
    let number = k.view()["applications"][0]["number"]
        .as_str()
        .unwrap()
        .to_owned();
    k.intent(Intent::Supplement { number });
}

fn result_ready(k: &mut Kiosk, who: &Applicant) {
    filed_earlier(
        k,
        who,
        Some(Status::ResultReady {
            delivery: Delivery::Dispenser,
        }),
    );
}

fn to_collect(k: &mut Kiosk, who: &Applicant) {
    result_ready(k, who);
    k.place_card(who);
    k.intent(Intent::Pickup);
    let number = k.view()["results"][0]["number"]
        .as_str()
        .unwrap()
        .to_owned();
    k.intent(Intent::Collect { number });
}

/// The citizen filed an application on an earlier visit, now at `status`.
fn filed_earlier(k: &mut Kiosk, who: &Applicant, status: Option<Status>) {
    k.file(who, CERTIFICATE);
    k.intent(Intent::Continue);
    k.intent(Intent::Continue);
    k.leave();
    let number = k.applications_of(who)[0].number.clone();
    if let Some(status) = status {
        k.store.record_status(&number, status, k.now).unwrap();
    }
    assert_eq!(k.screen(), "attract");
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    CardRemoved,
    PrinterOut,
    CameraUnplugged,
    IdleTimeout,
}

fn device_down(k: &mut Kiosk, device: Device) {
    k.event(Event::Device {
        device,
        usable: false,
        reason: Some("simulated".into()),
    });
}

fn notices(v: &Value) -> Vec<String> {
    v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["device"].as_str().unwrap().to_owned())
        .collect()
}

/// Nobody touches the screen: the countdown shows and is said, then the session ends. A
/// save or a hand-out under way is never cut short, and the goodbye screen is itself the
/// short wait before the next citizen.
fn idle(k: &mut Kiosk, state: &State) {
    let waits_out = matches!(
        state.name,
        "saving" | "supplement saving" | "collecting: handing out"
    );
    let limit = Timeouts::default().form_s + 1;
    if waits_out || state.name == "goodbye" {
        for _ in 0..3 {
            k.wait(limit as i64);
            assert_eq!(k.view()["countdown_s"], Value::Null, "{}", state.name);
        }
        return;
    }
    let mut warned = false;
    for _ in 0..limit {
        k.wait(1);
        let v = k.view();
        if v["screen"] != state.screen {
            break;
        }
        if let Some(left) = v["countdown_s"].as_u64() {
            assert!(left <= Timeouts::default().warning_s, "{}: {v}", state.name);
            let caption = v["speech"].as_str().unwrap_or_default();
            assert!(
                caption.contains("秒"),
                "{}: the countdown is said: {v}",
                state.name
            );
            warned = true;
        }
    }
    assert!(warned, "{}: a warning before the reset", state.name);
}

/// What the citizen must see right after `fault` at `state`.
fn check_cell(state: &State, fault: Fault, before: &Value, after: &Value) {
    let cell = format!("{} × {fault:?}: {after}", state.name);
    match fault {
        // The card has been read: the session goes on until it ends (the goodbye screen asks
        // for the card back), so a citizen who took it out early loses nothing.
        Fault::CardRemoved => assert_eq!(after["screen"], before["screen"], "{cell}"),
        Fault::PrinterOut => {
            assert!(notices(after).contains(&"receipt_printer".into()), "{cell}");
            assert_eq!(after["screen"], before["screen"], "{cell}");
            if state.name == "printing" {
                assert_eq!(
                    after["printing"], "shown_as_qr",
                    "the receipt as a QR code: {cell}"
                );
            }
        }
        Fault::CameraUnplugged => {
            assert!(notices(after).contains(&"camera".into()), "{cell}");
            match state.name {
                "capture" => assert_eq!(after["screen"], "materials", "back to the list: {cell}"),
                "supplement capture" => {
                    assert_eq!(
                        after["screen"], "supplement",
                        "back to the corrections: {cell}"
                    )
                }
                _ => assert_eq!(after["screen"], before["screen"], "{cell}"),
            }
        }
        Fault::IdleTimeout => {
            let expected: &[&str] = match state.name {
                "saving" | "supplement saving" | "collecting: handing out" => &[state.screen],
                _ => &["goodbye", "attract"],
            };
            assert!(
                expected.contains(&after["screen"].as_str().unwrap()),
                "{cell}"
            );
            assert_eq!(after["countdown_s"], Value::Null, "{cell}");
        }
    }
}

#[test]
fn every_state_meets_every_fault_and_the_next_citizen_sees_nothing() {
    let faults = [
        Fault::CardRemoved,
        Fault::PrinterOut,
        Fault::CameraUnplugged,
        Fault::IdleTimeout,
    ];
    let longest = Timeouts::default().form_s as i64 + 1;
    let goodbye = Timeouts::default().goodbye_s as i64 + 1;
    for state in STATES {
        for fault in faults {
            let mut k = Kiosk::new();
            let who = citizen(40);
            (state.reach)(&mut k, &who);
            let before = k.view();
            assert_eq!(before["screen"], state.screen, "reaching {}", state.name);
            let saved = k.applications_of(&who).len();
            let supplied = supplements(&k, &who);
            match fault {
                Fault::CardRemoved => k.event(Event::CardRemoved),
                Fault::PrinterOut => {
                    k.paper = false;
                    device_down(&mut k, Device::ReceiptPrinter);
                    if state.name == "printing" {
                        // The job fails as the roll runs out.
                        k.release();
                    }
                }
                Fault::CameraUnplugged => device_down(&mut k, Device::Camera),
                Fault::IdleTimeout => idle(&mut k, state),
            }
            let after = k.view();
            check_cell(state, fault, &before, &after);

            // A citizen who was signing goes on with the printer out: the receipt is a QR code.
            if let (Fault::PrinterOut, "sign") = (fault, state.name) {
                k.intent(Intent::Submit);
                let v = k.view();
                assert_eq!(
                    (v["screen"].as_str(), v["printing"].as_str()),
                    (Some("receipt"), Some("shown_as_qr")),
                    "{v}"
                );
                assert!(k.printed.is_empty());
            }
            // What was under way finishes: the save reaches the disk, the card comes out.
            k.hold = false;
            k.release();

            // The citizen walks away; the kiosk comes back to its attract screen.
            k.wait(longest);
            k.wait(longest);
            k.wait(goodbye);
            k.event(Event::CardRemoved);
            k.event(Event::ReceiptTaken);
            let cell = format!("{} × {fault:?}", state.name);
            if state.name == "not_saved" {
                // The disk is full: the kiosk takes nobody else until a technician has been.
                assert_eq!(k.screen(), "out_of_service", "{cell}: {}", k.view());
                assert_nothing_of(&k.view(), &who);
                k.place_card(&citizen(41));
                assert_eq!(k.screen(), "out_of_service", "{cell}");
                assert_eq!(k.applications_of(&who).len(), saved, "{cell}");
                continue;
            }
            assert_eq!(k.screen(), "attract", "{cell}: {}", k.view());
            assert_nothing_of(&k.view(), &who);
            let filed = matches!(
                (fault, state.name),
                (Fault::PrinterOut, "sign") | (_, "saving")
            );
            assert_eq!(
                k.applications_of(&who).len(),
                saved + usize::from(filed),
                "{cell}: nothing saved is lost, nothing half-done is saved"
            );
            assert_eq!(
                supplements(&k, &who),
                supplied + usize::from(state.name == "supplement saving"),
                "{cell}: corrections being saved are kept"
            );

            // The next citizen sees nothing of the first, on any screen they reach.
            let next = citizen(41);
            let typed = std::mem::take(&mut k.typed);
            k.place_card(&next);
            assert_nothing_of(&k.view(), &who);
            k.intent(Intent::Progress);
            let v = k.view();
            assert_nothing_of(&v, &who);
            assert_eq!(v["applications"], Value::Array(Vec::new()), "{cell}: {v}");
            k.intent(Intent::Back);
            k.intent(Intent::NewApplication);
            k.intent(Intent::ChooseItem {
                code: CERTIFICATE.into(),
            });
            let v = k.view();
            assert_eq!(v["screen"], "form", "{cell}");
            assert_nothing_of(&v, &who);
            assert_none_typed(&v, &typed);
        }
    }
}

/// How many times `who`'s applications have had corrections supplied.
fn supplements(k: &Kiosk, who: &Applicant) -> usize {
    k.applications_of(who)
        .iter()
        .map(|a| a.supplements.len())
        .sum()
}
