//! The fixed command lines operations scripts use, run as processes: `central-backend pki …`,
//! `serve` (its ready line), `applications list --json` beside the running server, `review
//! decide`, `fleet`, and `sync-agent` with the certificate files the PKI tool wrote.

mod common;

use application::{ApplicationNumber, Status};
use common::*;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `central-backend`, built beside `sync-agent` by a workspace build (`scripts/test`).
fn backend_exe() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sync-agent")).with_file_name("central-backend");
    assert!(
        exe.is_file(),
        "{} is missing: build the workspace (cargo build --workspace) first",
        exe.display()
    );
    exe
}

fn central(args: &[&str]) -> Output {
    let out = Command::new(backend_exe()).args(args).output().unwrap();
    assert!(out.status.success(), "central-backend {args:?}: {out:?}");
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An HTTPS client presenting the certificate `NAME.pem` of the PKI.
fn client(pki: &std::path::Path, name: &str) -> reqwest::Client {
    let tls = sync_protocol::tls::client_config(
        &pki.join("ca.pem"),
        &pki.join(format!("{name}.pem")),
        &pki.join(format!("{name}.key")),
    )
    .unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_backend_and_agent_command_lines_run_the_whole_loop() {
    let w = World::without_pki();
    let pki = w.pki();
    let pki_s = pki.to_str().unwrap();
    let init = json(&central(&["pki", "init", "--dir", pki_s]));
    assert!(init["ca"].as_str().unwrap().ends_with("ca.pem"));
    for file in ["ca.pem", "ca.key", "server.pem", "server.key"] {
        assert!(pki.join(file).is_file(), "{file}");
    }
    central(&["pki", "issue", "--dir", pki_s, "--device", TERMINAL]);
    assert!(pki.join("10001.pem").is_file() && pki.join("10001.key").is_file());

    let data = w.central();
    let data_s = data.to_str().unwrap();
    let mut server = Server(
        Command::new(backend_exe())
            .args([
                "serve",
                "--data-dir",
                data_s,
                "--listen",
                "127.0.0.1:0",
                "--pki",
                pki_s,
            ])
            .env("CENTRAL_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("ready"), "{line}");
    let url = line.split_whitespace().last().unwrap().to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let numbers = w.submit(3, 9);
    let _agent = w.agent(&url, &[]);
    wait_until(60, "the outbox to drain", || {
        let c = w.counts();
        c.pending == 0 && c.in_flight == 0
    });

    // Listed by the command line while the server runs.
    let list = json(&central(&[
        "applications",
        "list",
        "--data-dir",
        data_s,
        "--json",
    ]));
    let listed = list.as_array().unwrap();
    assert_eq!(listed.len(), 3);
    let store = w.store();
    for a in listed {
        let number = a["number"].as_str().unwrap();
        assert_eq!(a["id"], a["number"]);
        assert_eq!(a["device"], TERMINAL);
        assert!(numbers.iter().any(|n| n == number));
        let app = store
            .application(&ApplicationNumber::parse(number).unwrap())
            .unwrap();
        let pages: Vec<String> = store
            .pages(&app)
            .unwrap()
            .iter()
            .map(|(_, p)| sync_protocol::sha256_hex(p))
            .collect();
        assert_eq!(a["pages"], serde_json::json!(pages));
    }
    drop(store);

    // Publishing checks the signature first.
    let signed = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../kiosk-app/catalogue/sample/catalogue.signed.json");
    let published = json(&central(&[
        "catalogue",
        "publish",
        "--data-dir",
        data_s,
        signed.to_str().unwrap(),
    ]));
    assert_eq!(
        published["etag"],
        sync_protocol::etag_of(&std::fs::read(&signed).unwrap())
    );
    let mut envelope: catalogue::Envelope =
        serde_json::from_slice(&std::fs::read(&signed).unwrap()).unwrap();
    envelope.catalogue = envelope
        .catalogue
        .replacen("\"version\"", "\"version\" ", 1);
    let tampered = w.dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&envelope).unwrap()).unwrap();
    let refused = Command::new(backend_exe())
        .args([
            "catalogue",
            "publish",
            "--data-dir",
            data_s,
            tampered.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not published"));

    // The review API answers reviewers only; a decision through it reaches the kiosk.
    central(&["pki", "issue", "--dir", pki_s, "--reviewer", "wang"]);
    let as_reviewer = client(&pki, "reviewer-wang");
    let as_kiosk = client(&pki, TERMINAL);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (listed, refused, decided, unknown) = rt.block_on(async {
        let get = |c: &reqwest::Client| c.get(format!("{url}/v1/review/applications")).send();
        let listed: serde_json::Value = get(&as_reviewer).await.unwrap().json().await.unwrap();
        let refused = get(&as_kiosk).await.unwrap().status().as_u16();
        let decide = |n: &str| {
            as_reviewer
                .post(format!("{url}/v1/review/applications/{n}/decision"))
                .json(&Status::Rejected {
                    reason: "材料不符合要求".into(),
                })
                .send()
        };
        let decided = decide(&numbers[1]).await.unwrap().status().as_u16();
        let unknown = decide("10001-261122-9999-0")
            .await
            .unwrap()
            .status()
            .as_u16();
        (listed, refused, decided, unknown)
    });
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert_eq!((refused, decided, unknown), (403, 200, 404));
    wait_until(30, "the API's decision at the kiosk", || {
        w.store()
            .application(&ApplicationNumber::parse(&numbers[1]).unwrap())
            .unwrap()
            .history
            .iter()
            .any(|h| matches!(h.status, Status::Rejected { .. }))
    });

    // A decision made on the command line reaches the kiosk through the running server.
    central(&[
        "review",
        "decide",
        "--data-dir",
        data_s,
        &numbers[0],
        "--accept",
    ]);
    wait_until(30, "the decision at the kiosk", || {
        w.store()
            .application(&ApplicationNumber::parse(&numbers[0]).unwrap())
            .unwrap()
            .history
            .iter()
            .any(|h| h.status == Status::Accepted)
    });
    wait_until(30, "the kiosk in the fleet view", || {
        let fleet = json(&central(&["fleet", "--data-dir", data_s, "--json"]));
        fleet
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["device"] == TERMINAL && k["heartbeat"]["queue"]["delivered"] == 3)
    });
}
