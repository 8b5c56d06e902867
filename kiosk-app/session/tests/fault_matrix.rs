//! The state × fault matrix, through the engine and a real store: at every state of every
//! journey, the card is taken away, the receipt printer runs out, the camera is unplugged, or
//! nobody touches the screen. In every cell the citizen sees the right thing; then the session
//! ends, nothing saved is lost, and the next citizen sees nothing of the first. (Network down
//! and kill -9 need the whole process: the kiosk application's headless tests.)

mod common;

use application::{Applicant, Correction, Status};
use catalogue::Delivery;
use common::{CERTIFICATE, HOTEL, Kiosk, assert_nothing_of, citizen};
use serde_json::Value;
use session::{Device, Event, Intent, Timeouts};

/// A state to reach, and how many applications the citizen has once it is reached.
struct State {
    name: &'static str,
    reach: fn(&mut Kiosk, &Applicant),
}

const STATES: &[State] = &[
    State {
        name: "identify",
        reach: |k, _| k.intent(Intent::Touch),
    },
    State {
        name: "home",
        reach: |k, who| k.place_card(who),
    },
    State {
        name: "choose",
        reach: |k, who| {
            k.place_card(who);
            k.intent(Intent::NewApplication);
        },
    },
    State {
        name: "question",
        reach: |k, who| {
            k.place_card(who);
            k.intent(Intent::NewApplication);
            k.intent(Intent::ChooseBundle { id: HOTEL.into() });
            k.intent(Intent::Continue);
        },
    },
    State {
        name: "form",
        reach: |k, who| k.start_item(who, CERTIFICATE),
    },
    State {
        name: "materials",
        reach: |k, who| {
            k.start_item(who, CERTIFICATE);
            k.fill_form(who);
        },
    },
    State {
        name: "capture",
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
        reach: |k, who| {
            k.start_item(who, CERTIFICATE);
            k.fill_form(who);
            k.provide_materials(false, false);
        },
    },
    State {
        name: "consent",
        reach: |k, who| {
            to_review(k, who);
            k.intent(Intent::Continue);
        },
    },
    State {
        name: "sign",
        reach: |k, who| {
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
        },
    },
    State {
        name: "receipt",
        reach: |k, who| k.file(who, CERTIFICATE),
    },
    State {
        name: "rate",
        reach: |k, who| {
            k.file(who, CERTIFICATE);
            k.intent(Intent::Continue);
        },
    },
    State {
        name: "progress",
        reach: |k, who| {
            filed_earlier(k, who, None);
            k.place_card(who);
            k.intent(Intent::Progress);
        },
    },
    State {
        name: "supplement",
        reach: |k, who| {
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
        },
    },
    State {
        name: "pickup",
        reach: |k, who| {
            filed_earlier(
                k,
                who,
                Some(Status::ResultReady {
                    delivery: Delivery::Dispenser,
                }),
            );
            k.place_card(who);
            k.intent(Intent::Pickup);
        },
    },
];

fn to_review(k: &mut Kiosk, who: &Applicant) {
    k.start_item(who, CERTIFICATE);
    k.fill_form(who);
    k.provide_materials(false, false);
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

/// What the citizen must see right after `fault` at `state`.
fn check_cell(state: &str, fault: Fault, before: &Value, after: &Value) {
    let cell = format!("{state} × {fault:?}: {after}");
    match fault {
        // The card has been read: the session goes on until it ends (the goodbye screen asks
        // for the card back), so a citizen who took it out early loses nothing.
        Fault::CardRemoved => assert_eq!(after["screen"], before["screen"], "{cell}"),
        Fault::PrinterOut => {
            assert!(notices(after).contains(&"receipt_printer".into()), "{cell}");
            assert_eq!(after["screen"], before["screen"], "{cell}");
        }
        Fault::CameraUnplugged => {
            assert!(notices(after).contains(&"camera".into()), "{cell}");
            if state == "capture" {
                assert_eq!(after["screen"], "materials", "back to the list: {cell}");
            } else {
                assert_eq!(after["screen"], before["screen"], "{cell}");
            }
        }
        Fault::IdleTimeout => {
            let ended = ["goodbye", "attract"];
            assert!(
                ended.contains(&after["screen"].as_str().unwrap()),
                "reset after the timeout: {cell}"
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
            assert_eq!(before["screen"], state.name, "reaching {}", state.name);
            let saved = k.applications_of(&who).len();
            match fault {
                Fault::CardRemoved => k.event(Event::CardRemoved),
                Fault::PrinterOut => {
                    k.paper = false;
                    device_down(&mut k, Device::ReceiptPrinter);
                }
                Fault::CameraUnplugged => device_down(&mut k, Device::Camera),
                Fault::IdleTimeout => {
                    for _ in 0..3 {
                        k.wait(longest);
                    }
                }
            }
            let after = k.view();
            check_cell(state.name, fault, &before, &after);

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

            // The citizen walks away; the kiosk comes back to its attract screen.
            k.wait(longest);
            k.wait(goodbye);
            k.event(Event::CardRemoved);
            k.event(Event::ReceiptTaken);
            let cell = format!("{} × {fault:?}", state.name);
            assert_eq!(k.screen(), "attract", "{cell}: {}", k.view());
            assert_nothing_of(&k.view(), &who);
            let now_saved = k.applications_of(&who).len();
            let submitted = matches!((fault, state.name), (Fault::PrinterOut, "sign"));
            assert_eq!(
                now_saved,
                saved + usize::from(submitted),
                "{cell}: nothing saved is lost, nothing half-done is saved"
            );

            // The next citizen sees nothing of the first, on any screen they reach.
            let next = citizen(41);
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
        }
    }
}
