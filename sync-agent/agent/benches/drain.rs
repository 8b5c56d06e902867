//! Draining a queue of applications, each with two 200 KB pages, over loopback mTLS to the
//! reference backend: the sync agent against a plain loop that posts the same bytes (pages,
//! then the application) with the same client set-up and concurrency, and keeps no books.
//!
//! `cargo bench -p sync-agent --bench drain -- [N]` (default 10,000). Each side gets a fresh
//! backend, so neither finds the other's pages already stored. Prints applications per second
//! for both and the ratio (goal: at least 0.7).

use central_backend::pki::{Pki, Validity};
use central_backend::{Faults, SqliteStorage, Storage};
use kiosk_store::{CapturedMaterial, Config, KeyFile, Store};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use sync_protocol::IDEMPOTENCY_KEY;
use zeroize::Zeroizing;

const TERMINAL: &str = "10001";
const PAGE_BYTES: usize = 200 * 1024;
const CONCURRENCY: usize = 4;

fn backend(rt: &tokio::runtime::Runtime, data: &Path, pki: &Path) -> SocketAddr {
    central_backend::server::spawn_local(rt, data, pki, Faults::default()).unwrap()
}

/// Saves `n` applications with exactly two distinct 200 KB pages each.
fn fill(kiosk: &Path, n: usize) {
    std::fs::create_dir_all(kiosk).unwrap();
    KeyFile::create(&kiosk.join("store.key")).unwrap();
    let mut store = Store::create(
        Config::new(kiosk, TERMINAL),
        &KeyFile(kiosk.join("store.key")),
    )
    .unwrap();
    let catalogue = catalogue::sample::catalogue().unwrap();
    let mut rng = demo_data::Rng::new(7);
    let small = demo_data::page_images();
    let mut made = 0;
    while made < n {
        let now = application::time::now_ms();
        let (mut draft, captured) =
            demo_data::application(&catalogue, TERMINAL, &store, &mut rng, &small, now).unwrap();
        let fits = captured.len() == 1
            && catalogue
                .material(&captured[0].material)
                .is_some_and(|m| m.capture.max_pages >= 2);
        let reuses = draft
            .materials
            .iter()
            .any(|m| matches!(m.provided, application::Provided::Reused { .. }));
        if !fits || reuses {
            continue;
        }
        draft.consents.store_for_reuse = false;
        let pages = (0..2)
            .map(|_| {
                let mut page = vec![0u8; PAGE_BYTES];
                fastrand::fill(&mut page);
                Zeroizing::new(page)
            })
            .collect();
        let material = captured[0].material.clone();
        store
            .submit(
                &catalogue,
                draft,
                vec![CapturedMaterial { material, pages }],
                now,
            )
            .unwrap();
        made += 1;
    }
}

/// Flushes the disk before a timed run, so that neither side pays for writing back the
/// gigabytes the one before it (or the queue filling) left dirty.
fn settle() {
    let status = std::process::Command::new("sync").status().unwrap();
    assert!(status.success(), "sync");
}

fn client(pki: &Path) -> reqwest::Client {
    let tls = sync_protocol::tls::client_config(
        &pki.join("ca.pem"),
        &pki.join(format!("{TERMINAL}.pem")),
        &pki.join(format!("{TERMINAL}.key")),
    )
    .unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
}

type Prepared = (String, Vec<u8>, Vec<(String, Vec<u8>)>);

/// The exact bytes the agent sends, built the agent's way before the clock starts.
fn prepared(kiosk: &Path) -> Vec<Prepared> {
    let numbers = rusqlite_numbers(kiosk);
    let store = Store::open(
        Config::new(kiosk, TERMINAL),
        &KeyFile(kiosk.join("store.key")),
    )
    .unwrap();
    numbers
        .into_iter()
        .map(|n| {
            let number = application::ApplicationNumber::parse(&n).unwrap();
            let application = store.application(&number).unwrap();
            let images = store.pages(&application).unwrap();
            let (body, pages) = sync_agent::agent::submission(application, images).unwrap();
            let pages = pages
                .into_iter()
                .map(|(sha, p)| (sha, p.to_vec()))
                .collect();
            (n, body, pages)
        })
        .collect()
}

fn rusqlite_numbers(kiosk: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(kiosk.join("kiosk.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT application FROM outbox ORDER BY created_ms")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

async fn plain_loop(url: String, http: reqwest::Client, work: Vec<Prepared>) {
    let work = Arc::new(std::sync::Mutex::new(work));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (url, http, work) = (url.clone(), http.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((number, body, pages)) = work.lock().unwrap().pop() else {
                    return;
                };
                for (sha, bytes) in pages {
                    let r = http
                        .put(format!("{url}/v1/pages/{sha}"))
                        .body(bytes)
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success());
                }
                let r = http
                    .post(format!("{url}/v1/applications"))
                    .header(IDEMPOTENCY_KEY, number)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir_in(
        std::env::var("BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").into()),
    )
    .unwrap();
    let pki = dir.path().join("pki");
    Pki::new(&pki).init().unwrap();
    Pki::new(&pki).issue(TERMINAL, Validity::default()).unwrap();
    let kiosk = dir.path().join("kiosk");
    let t = Instant::now();
    fill(&kiosk, n);
    println!(
        "queued {n} applications of two {} KB pages in {:.1} s",
        PAGE_BYTES / 1024,
        t.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let work = prepared(&kiosk);
    settle();
    let plain_addr = backend(&rt, &dir.path().join("central-plain"), &pki);
    let t = Instant::now();
    rt.block_on(plain_loop(
        format!("https://{plain_addr}"),
        client(&pki),
        work,
    ));
    let plain = t.elapsed().as_secs_f64();

    let agent_addr = backend(&rt, &dir.path().join("central-agent"), &pki);
    let mut settings = sync_agent::Settings::new(
        &kiosk,
        &format!("https://{agent_addr}"),
        &pki.join("ca.pem"),
        &pki.join(format!("{TERMINAL}.pem")),
        &pki.join(format!("{TERMINAL}.key")),
    );
    settings.concurrency = CONCURRENCY as u32;
    let agent = sync_agent::Agent::start(settings).unwrap();
    settle();
    let t = Instant::now();
    let delivered = rt.block_on(agent.drain_loop(true)).unwrap();
    let ours = t.elapsed().as_secs_f64();
    assert_eq!(delivered as usize, n, "every application delivered");
    let received = SqliteStorage::open_read_only(&dir.path().join("central-agent"))
        .unwrap()
        .applications()
        .unwrap()
        .len();
    assert_eq!(received, n, "the backend has each once");

    let (plain_rate, ours_rate) = (n as f64 / plain, n as f64 / ours);
    println!("plain loop (no bookkeeping): {plain_rate:8.1} applications/s ({plain:.1} s)");
    println!(
        "sync agent (lease, decrypt, hash, durable commit): {ours_rate:8.1} applications/s ({ours:.1} s)"
    );
    println!(
        "ratio agent/plain: {:.2} (goal: at least 0.7)",
        ours_rate / plain_rate
    );
}
