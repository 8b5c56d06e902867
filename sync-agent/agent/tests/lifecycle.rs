//! Certificates, published documents, payload changes, review results and commands.

mod common;

use application::{ApplicationNumber, Correction, Status};
use central_backend::pki::{Pki, Validity};
use central_backend::{Faults, SqliteStorage, Storage};
use common::*;
use std::time::Duration;

fn backend_storage(w: &World) -> SqliteStorage {
    SqliteStorage::open(&w.central()).unwrap()
}

fn drained(w: &World) -> bool {
    let c = w.counts();
    c.pending == 0 && c.in_flight == 0
}

#[test]
fn a_renewed_certificate_is_picked_up_without_a_restart_while_the_old_one_is_revoked() {
    let w = World::new();
    let backend = w.backend(Faults::default());
    let url = format!("https://{}", backend.addr);
    let first = w.submit(2, 1);
    let _agent = w.agent(&url, &[]);
    wait_until(60, "the first delivery", || drained(&w));

    // Renewal: the old certificate is kept aside and revoked, a new one written in place.
    let pki = Pki::new(&w.pki());
    let old = w.dir.path().join("old.pem");
    std::fs::copy(w.pki().join("10001.pem"), &old).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    pki.issue(TERMINAL, Validity::default()).unwrap();
    pki.revoke(&old).unwrap();
    let second = w.submit(2, 2);
    wait_until(60, "delivery with the renewed certificate", || drained(&w));
    w.assert_exactly_once(&[first, second].concat());
}

#[test]
fn an_expired_or_revoked_certificate_delivers_nothing_and_dead_letters_nothing() {
    let w = World::new();
    let backend = w.backend(Faults::default());
    let url = format!("https://{}", backend.addr);
    let pki = Pki::new(&w.pki());
    let numbers = w.submit(2, 3);

    pki.issue(
        TERMINAL,
        Validity {
            days: 30,
            backdate_days: 60,
        },
    )
    .unwrap();
    let agent = w.agent(&url, &[]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(w.received().is_empty(), "an expired certificate is refused");
    let c = w.counts();
    assert_eq!((c.pending + c.in_flight, c.dead), (2, 0), "kept, to retry");
    drop(agent);

    pki.issue(TERMINAL, Validity::default()).unwrap();
    pki.revoke(&w.pki().join("10001.pem")).unwrap();
    let agent = w.agent(&url, &[]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(w.received().is_empty(), "a revoked certificate is refused");
    assert_eq!(w.counts().dead, 0);

    // A fresh certificate, written while the same agent runs, gets everything through.
    std::thread::sleep(Duration::from_millis(20));
    pki.issue(TERMINAL, Validity::default()).unwrap();
    wait_until(60, "delivery after renewal", || drained(&w));
    drop(agent);
    w.assert_exactly_once(&numbers);
}

fn newer_signed_catalogue(version_bump: u64) -> Vec<u8> {
    let mut c: serde_json::Value = serde_json::from_str(catalogue::sample::CATALOGUE).unwrap();
    let v = c["version"].as_u64().unwrap();
    c["version"] = serde_json::json!(v + version_bump);
    let key = catalogue::SigningKey::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../kiosk-app/catalogue/sample/dev-signing-key.json"),
    )
    .unwrap();
    serde_json::to_vec(&key.sign(&serde_json::to_string(&c).unwrap()).unwrap()).unwrap()
}

fn sign_config(version: u64) -> Vec<u8> {
    let key = catalogue::SigningKey::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../kiosk-app/catalogue/sample/dev-signing-key.json"),
    )
    .unwrap();
    let text = serde_json::json!({"version": version, "idle_timeout_s": 90}).to_string();
    serde_json::to_vec(&key.sign_config(&text).unwrap()).unwrap()
}

fn tamper(envelope: &[u8]) -> Vec<u8> {
    let mut e: catalogue::Envelope = serde_json::from_slice(envelope).unwrap();
    e.catalogue = e
        .catalogue
        .replacen("90", "9", 1)
        .replacen("\"version\":", "\"version\": ", 1);
    serde_json::to_vec(&e).unwrap()
}

#[test]
fn catalogue_and_configuration_come_by_etag_and_a_tampered_one_is_refused_keeping_the_old() {
    let w = World::new();
    let backend = w.backend(Faults::default());
    let settings = sync_agent::Settings::new(
        &w.kiosk(),
        &format!("https://{}", backend.addr),
        &w.pki().join("ca.pem"),
        &w.pki().join("10001.pem"),
        &w.pki().join("10001.key"),
    );
    let storage = backend_storage(&w);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let agent = sync_agent::Agent::start(settings).unwrap();
    let installed = || std::fs::read(w.kiosk().join("catalogue.json")).unwrap();

    // The same catalogue the kiosk has: 304, nothing changes.
    storage
        .publish("catalogue", catalogue::sample::SIGNED.as_bytes(), 0)
        .unwrap();
    let before = installed();
    assert!(
        !rt.block_on(agent.check_published("catalogue")).unwrap(),
        "304"
    );
    assert_eq!(installed(), before);

    // A newer one is installed, and then it is the ETag sent: 304 again.
    let newer = newer_signed_catalogue(1);
    storage.publish("catalogue", &newer, 0).unwrap();
    assert!(rt.block_on(agent.check_published("catalogue")).unwrap());
    assert_eq!(installed(), newer);
    assert!(!rt.block_on(agent.check_published("catalogue")).unwrap());

    // A tampered one is refused and the installed one stays.
    let bad = tamper(&newer_signed_catalogue(2));
    storage.publish("catalogue", &bad, 0).unwrap();
    let err = rt.block_on(agent.check_published("catalogue")).unwrap_err();
    assert!(err.contains("signature"), "{err}");
    assert_eq!(installed(), newer, "the old catalogue stays");

    // The configuration the same way.
    let config = sign_config(1);
    storage.publish("config", &config, 0).unwrap();
    assert!(rt.block_on(agent.check_published("config")).unwrap());
    assert_eq!(
        std::fs::read(w.kiosk().join("terminal-config.json")).unwrap(),
        config
    );
    storage
        .publish("config", &tamper(&sign_config(2)), 0)
        .unwrap();
    assert!(rt.block_on(agent.check_published("config")).is_err());
    assert_eq!(
        std::fs::read(w.kiosk().join("terminal-config.json")).unwrap(),
        config
    );
}

/// Sends a submission the way the agent does, with the kiosk's certificate.
fn post(w: &World, url: &str, submission: &sync_protocol::Submission) -> (u16, String, bool) {
    let tls = sync_protocol::tls::client_config(
        &w.pki().join("ca.pem"),
        &w.pki().join("10001.pem"),
        &w.pki().join("10001.key"),
    )
    .unwrap();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = client
            .post(format!("{url}/v1/applications"))
            .header("Idempotency-Key", submission.application.number.as_str())
            .body(serde_json::to_vec(submission).unwrap())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let replayed = r.headers().contains_key("idempotent-replayed");
        (status, r.text().await.unwrap(), replayed)
    })
}

#[test]
fn a_changed_payload_under_the_same_key_is_422_and_becomes_a_dead_letter_the_fleet_sees() {
    let w = World::new();
    let backend = w.backend(Faults::default());
    let url = format!("https://{}", backend.addr);
    let numbers = w.submit(2, 4);

    // Another payload under the first application's number reaches the server first (a buggy
    // or altered sender): its pages are uploaded, then it is posted.
    let store = w.store();
    let number = ApplicationNumber::parse(&numbers[0]).unwrap();
    let mut app = store.application(&number).unwrap();
    let pages = store.pages(&app).unwrap();
    drop(store);
    let files: Vec<String> = app.page_files().map(|p| p.file.clone()).collect();
    let storage = backend_storage(&w);
    let entries = files
        .into_iter()
        .zip(&pages)
        .map(|(file, (material, image))| {
            storage
                .put_page(&sync_protocol::sha256_hex(image), image)
                .unwrap();
            sync_protocol::PageEntry {
                file,
                material: material.clone(),
                sha256: sync_protocol::sha256_hex(image),
                bytes: image.len() as u64,
            }
        })
        .collect();
    app.saved_at_ms += 1;
    let altered = sync_protocol::Submission {
        application: app,
        pages: entries,
    };
    assert_eq!(post(&w, &url, &altered).0, 201);
    let (status, body, replayed) = post(&w, &url, &altered);
    assert_eq!(
        (status, replayed),
        (201, true),
        "the same payload: the stored answer"
    );
    let mut changed = altered.clone();
    changed.application.saved_at_ms += 1;
    let (status, body2, _) = post(&w, &url, &changed);
    assert_eq!(status, 422, "{body2}");
    assert!(body2.contains("payload_changed"), "{body2}");
    assert!(body.contains(&numbers[0]));

    // The kiosk's own payload for that number is refused for good: a dead letter, which the
    // kiosk's status and the central office's fleet view both show; the other one is delivered.
    let _agent = w.agent(&url, &[]);
    wait_until(60, "the refusal", || {
        let c = w.counts();
        c.dead == 1 && c.pending == 0 && c.in_flight == 0
    });
    assert_eq!(w.counts().delivered, 1);
    assert_eq!(w.received().len(), 2);
    wait_until(30, "a heartbeat naming the dead letter", || {
        storage.fleet().unwrap().iter().any(|k| {
            k.heartbeat["dead_letters"].as_array().is_some_and(|d| {
                d.iter().any(|l| {
                    l["number"] == numbers[0].as_str()
                        && l["reason"]
                            .as_str()
                            .unwrap_or("")
                            .contains("payload_changed")
                })
            })
        })
    });
}

#[test]
fn review_results_are_applied_once_across_restarts_and_commands_are_acknowledged() {
    let w = World::new();
    let backend = w.backend(Faults::default());
    let url = format!("https://{}", backend.addr);
    let numbers = w.submit(2, 5);
    let agent = w.agent(&url, &[]);
    wait_until(60, "delivery", || drained(&w));

    let storage = backend_storage(&w);
    let corrections = Status::CorrectionsNeeded {
        corrections: vec![Correction {
            target: "marriage_certificate".into(),
            note: "照片不清晰，请重新拍摄".into(),
        }],
    };
    storage.decide(&numbers[0], &Status::Accepted, 10).unwrap();
    storage.decide(&numbers[1], &corrections, 11).unwrap();
    let history = |n: &str| {
        w.store()
            .application(&ApplicationNumber::parse(n).unwrap())
            .unwrap()
            .history
    };
    wait_until(30, "the results at the kiosk", || {
        history(&numbers[1]).last().map(|h| &h.status) == Some(&corrections)
    });
    drop(agent);

    let id = storage
        .add_command(TERMINAL, sync_protocol::CommandKind::OutOfService, 12)
        .unwrap();
    let _agent = w.agent(&url, &[]);
    wait_until(30, "the command acknowledged", || {
        storage
            .commands()
            .unwrap()
            .iter()
            .any(|(i, _, _, state)| *i == id && state == "received")
    });
    std::thread::sleep(Duration::from_secs(2));
    let accepted = history(&numbers[0])
        .iter()
        .filter(|h| h.status == Status::Accepted)
        .count();
    assert_eq!(accepted, 1, "applied once, after a restart too");
    assert_eq!(
        history(&numbers[1])
            .iter()
            .filter(|h| h.status == corrections)
            .count(),
        1
    );
    let db = rusqlite::Connection::open(w.kiosk().join("kiosk.db")).unwrap();
    let kind: String = db
        .query_row(
            "SELECT kind FROM commands WHERE id = ?1",
            [id as i64],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        kind, "out_of_service",
        "kept for the kiosk to obey between sessions"
    );
}
