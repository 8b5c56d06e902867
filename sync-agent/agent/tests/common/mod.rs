//! A whole loop on one machine: a kiosk data directory with applications, the reference backend
//! (in this process, restartable), a fault-injecting TCP proxy between them, and the real
//! `sync-agent` binary as a child process.
#![allow(dead_code)]

use central_backend::pki::{Pki, Validity};
use central_backend::{Faults, SqliteStorage, Storage};
use kiosk_store::{Config, KeyFile, Store};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const TERMINAL: &str = "10001";

/// What the proxy does to new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward faithfully.
    Pass,
    /// Forward, then reset both sides once this many bytes went towards the server.
    ResetAfter(u64),
    /// Accept, and forward nothing.
    Stall,
    /// Forward each chunk after this many milliseconds.
    Delay(u64),
    /// Reset at once.
    Refuse,
}

/// A TCP proxy written for the tests; the fault applies to connections opened after it is set.
pub struct Proxy {
    pub addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    /// Bumped by every change: open connections are cut, as when a network changes.
    generation: tokio::sync::watch::Sender<u64>,
    target: Arc<Mutex<SocketAddr>>,
    runtime: tokio::runtime::Runtime,
}

impl Proxy {
    pub fn start(target: SocketAddr) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let target = Arc::new(Mutex::new(target));
        let (f, t) = (fault.clone(), target.clone());
        let (generation, watch) = tokio::sync::watch::channel(0u64);
        runtime.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let fault = *f.lock().unwrap();
                let target = *t.lock().unwrap();
                let mut watch = watch.clone();
                watch.mark_unchanged();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = relay(client, target, fault) => {}
                        _ = watch.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            fault,
            generation,
            target,
            runtime,
        }
    }

    /// Sets the fault for new connections and cuts the open ones.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn retarget(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

/// With a zero linger, closing the socket sends a reset rather than a FIN.
#[allow(deprecated)]
fn reset(stream: &TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
}

async fn relay(client: TcpStream, target: SocketAddr, fault: Fault) {
    match fault {
        Fault::Refuse => return reset(&client),
        Fault::Stall => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            return;
        }
        _ => {}
    }
    let Ok(server) = TcpStream::connect(target).await else {
        return reset(&client);
    };
    if let Fault::ResetAfter(_) = fault {
        reset(&client);
        reset(&server);
    }
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let delay = match fault {
        Fault::Delay(ms) => ms,
        _ => 0,
    };
    let limit = match fault {
        Fault::ResetAfter(n) => n,
        _ => u64::MAX,
    };
    let upstream = async {
        let mut sent = 0u64;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let allowed = (limit - sent).min(n as u64) as usize;
            if sw.write_all(&buf[..allowed]).await.is_err() {
                break;
            }
            sent += allowed as u64;
            if sent >= limit {
                return true;
            }
        }
        let _ = sw.shutdown().await;
        false
    };
    let downstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = cw.shutdown().await;
    };
    tokio::pin!(downstream);
    tokio::select! {
        cut = upstream => {
            if !cut {
                (&mut downstream).await;
            }
            // On a cut, returning drops both sockets, which resets them.
        }
        _ = &mut downstream => {}
    }
}

/// The reference backend, in this process on its own runtime: dropping it is a crash.
pub struct Backend {
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Backend {
    pub fn start(data: &Path, pki: &Path, faults: Faults) -> Backend {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let addr = central_backend::server::spawn_local(&runtime, data, pki, faults).unwrap();
        Backend {
            addr,
            runtime: Some(runtime),
        }
    }

    pub fn stop(mut self) {
        if let Some(r) = self.runtime.take() {
            r.shutdown_background();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(r) = self.runtime.take() {
            r.shutdown_background();
        }
    }
}

/// A kiosk data directory, a PKI and a backend data directory.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        let w = World::without_pki();
        Pki::new(&w.pki()).init().unwrap();
        Pki::new(&w.pki())
            .issue(TERMINAL, Validity::default())
            .unwrap();
        w
    }

    /// A kiosk data directory only; the caller makes the PKI in [`World::pki`].
    pub fn without_pki() -> World {
        let dir = tempfile::tempdir().unwrap();
        let w = World { dir };
        let kiosk = w.kiosk();
        std::fs::create_dir_all(&kiosk).unwrap();
        KeyFile::create(&kiosk.join("store.key")).unwrap();
        Store::create(
            Config::new(&kiosk, TERMINAL),
            &KeyFile(kiosk.join("store.key")),
        )
        .unwrap();
        catalogue::Installed::open(&kiosk.join("catalogue.json"), catalogue::sample::trust())
            .unwrap()
            .install(catalogue::sample::SIGNED.as_bytes())
            .unwrap();
        w
    }

    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }
    pub fn kiosk(&self) -> PathBuf {
        self.dir.path().join("kiosk")
    }
    pub fn central(&self) -> PathBuf {
        self.dir.path().join("central")
    }

    pub fn backend(&self, faults: Faults) -> Backend {
        Backend::start(&self.central(), &self.pki(), faults)
    }

    pub fn store(&self) -> Store {
        Store::open(
            Config::new(&self.kiosk(), TERMINAL),
            &KeyFile(self.kiosk().join("store.key")),
        )
        .unwrap()
    }

    /// Saves `count` applications (each with its own distinct pages); returns their numbers.
    pub fn submit(&self, count: usize, seed: u64) -> Vec<String> {
        let mut store = self.store();
        let catalogue = catalogue::sample::catalogue().unwrap();
        let mut rng = demo_data::Rng::new(seed);
        let mut numbers = Vec::new();
        for i in 0..count {
            // Distinct pages per application, so that content addressing cannot hide a loss.
            let pages: Vec<Vec<u8>> = demo_data::page_images()
                .into_iter()
                .map(|mut p| {
                    p.extend_from_slice(format!("{seed}/{i}").as_bytes());
                    p
                })
                .collect();
            let now = application::time::now_ms();
            let (draft, captured) =
                demo_data::application(&catalogue, TERMINAL, &store, &mut rng, &pages, now)
                    .unwrap();
            numbers.push(
                store
                    .submit(&catalogue, draft, captured, now)
                    .unwrap()
                    .number
                    .to_string(),
            );
        }
        numbers
    }

    pub fn counts(&self) -> kiosk_store::sync::QueueCounts {
        kiosk_store::sync::queue_counts(&self.kiosk(), application::time::now_ms()).unwrap()
    }

    /// Starts the real agent against `server`.
    pub fn agent(&self, server: &str, env: &[(&str, &str)]) -> Agent {
        self.agent_with(server, env, &[])
    }

    pub fn agent_with(&self, server: &str, env: &[(&str, &str)], extra: &[&str]) -> Agent {
        let pki = self.pki();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sync-agent"));
        cmd.arg("--data-dir")
            .arg(self.kiosk())
            .args(["--server", server])
            .arg("--ca")
            .arg(pki.join("ca.pem"))
            .arg("--cert")
            .arg(pki.join(format!("{TERMINAL}.pem")))
            .arg("--key")
            .arg(pki.join(format!("{TERMINAL}.key")))
            .args([
                "--retry-base-ms",
                "50",
                "--retry-cap-ms",
                "400",
                "--request-timeout-s",
                "2",
                "--heartbeat-s",
                "1",
                "--poll-s",
                "1",
            ])
            .args(extra)
            .env(
                "SYNC_AGENT_LOG",
                std::env::var("TEST_AGENT_LOG").unwrap_or_else(|_| "error".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Agent(cmd.spawn().unwrap())
    }

    /// The backend's applications, read beside the running server.
    pub fn received(&self) -> Vec<central_backend::storage::Listed> {
        match SqliteStorage::open_read_only(&self.central()) {
            Ok(s) => s.applications().unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Every submitted application is at the backend exactly once, each page intact and equal
    /// to the kiosk's.
    pub fn assert_exactly_once(&self, numbers: &[String]) {
        let received = self.received();
        let mut got: Vec<&str> = received.iter().map(|a| a.number.as_str()).collect();
        got.sort();
        let mut want: Vec<&str> = numbers.iter().map(String::as_str).collect();
        want.sort();
        assert_eq!(got, want, "each application exactly once");
        let store = self.store();
        for a in &received {
            let app = store
                .application(&application::ApplicationNumber::parse(&a.number).unwrap())
                .unwrap();
            let kiosk_pages: Vec<String> = store
                .pages(&app)
                .unwrap()
                .iter()
                .map(|(_, p)| sync_protocol::sha256_hex(p))
                .collect();
            assert_eq!(
                a.pages, kiosk_pages,
                "{}: the pages the kiosk took",
                a.number
            );
            for sha in &a.pages {
                let bytes = std::fs::read(self.central().join("pages").join(sha)).unwrap();
                assert_eq!(&sync_protocol::sha256_hex(&bytes), sha, "page intact");
            }
        }
    }
}

pub struct Agent(pub Child);

impl Agent {
    pub fn kill9(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `cond` holds, up to `secs`.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}
