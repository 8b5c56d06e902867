//! The agent's work: drain the outbox, pull review results, check the catalogue and the
//! configuration, send heartbeats. Each runs as its own task; the drain loop is the one that
//! tells systemd it is alive (`WATCHDOG=1`), because it is the one that must not stall.

use crate::client::Client;
use crate::config::{Settings, backoff_ms};
use application::time::now_ms;
use catalogue::TrustStore;
use kiosk_store::sync::{Job, Payloads, SyncDb};
use kiosk_store::{KeyFile, StoreError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sync_protocol::{
    CommandAck, CommandState, DeadLetter, DeviceReport, Heartbeat, HeartbeatReply, IDEMPOTENCY_KEY,
    PageEntry, QueueReport, Results, Submission, SupplementSubmission, SyncStats,
};
use tokio::task::{JoinHandle, JoinSet};
use zeroize::Zeroizing;

/// A failpoint for crash tests: `SYNC_AGENT_FAILPOINT=after_ack` aborts the process after the
/// server's 2xx and before the delivery is committed, the window exactly-once must survive.
const FAILPOINT: &str = "SYNC_AGENT_FAILPOINT";

/// The agent's shared state.
pub struct Agent {
    settings: Settings,
    db: Mutex<SyncDb>,
    payloads: Payloads,
    client: Mutex<Client>,
    stats: Mutex<SyncStats>,
    trust: TrustStore,
    wake: tokio::sync::Notify,
    failpoint: Option<String>,
    /// Deliveries the server acknowledged, waiting for the next group commit.
    acknowledged: Mutex<Vec<Job>>,
}

/// How one delivery attempt ended.
#[derive(Debug)]
enum Outcome {
    /// The server has it.
    Delivered,
    /// Try again later, not before `floor_ms`.
    Transient { error: String, floor_ms: u64 },
    /// The server refused it for good.
    Permanent(String),
}

/// Waits for a background commit, if one was started, and passes on its failure.
async fn finish(commit: Option<JoinHandle<Result<(), StoreError>>>) -> Result<(), StoreError> {
    match commit {
        Some(c) => c
            .await
            .map_err(|e| StoreError::Config(format!("commit task failed: {e}")))?,
        None => Ok(()),
    }
}

/// Where the kiosk leaves log bundles for the central office (`collect_logs`).
pub const UPLOADS: &str = "uploads";

/// The agent's record of its last contact with the central office.
pub const SYNC_STATUS: &str = "sync-status.json";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why the agent cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store cannot be opened.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The certificates or settings are unusable.
    #[error("{0}")]
    Setup(String),
}

impl Agent {
    /// Opens the store and loads the certificates.
    pub fn start(settings: Settings) -> Result<Arc<Agent>, StartError> {
        settings.check().map_err(StartError::Setup)?;
        let db = SyncDb::open(&settings.data_dir, &KeyFile(settings.store_key()))?;
        let client = Client::new(&settings).map_err(StartError::Setup)?;
        let trust = match &settings.trust {
            Some(p) => TrustStore::load(p).map_err(|e| StartError::Setup(e.to_string()))?,
            None => catalogue::sample::trust(),
        };
        Ok(Arc::new(Agent {
            payloads: db.payloads()?,
            failpoint: std::env::var(FAILPOINT).ok(),
            settings,
            db: Mutex::new(db),
            client: Mutex::new(client),
            stats: Mutex::new(SyncStats::default()),
            trust,
            wake: tokio::sync::Notify::new(),
            acknowledged: Mutex::new(Vec::new()),
        }))
    }

    async fn db<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut SyncDb) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let agent = self.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&agent.db)))
            .await
            .map_err(|e| StoreError::Config(format!("store task failed: {e}")))?
    }

    fn http(&self) -> reqwest::Client {
        lock(&self.client).current()
    }

    /// Runs every task until the process is stopped. Returns only on a store failure that makes
    /// delivery impossible.
    pub async fn run(self: Arc<Self>) -> Result<(), StoreError> {
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        tracing::info!(server = %self.settings.server, "sync agent started");
        tokio::spawn(self.clone().results_loop());
        tokio::spawn(self.clone().heartbeat_loop());
        tokio::spawn(self.clone().publish_loop());
        self.drain_loop(false).await.map(|_| ())
    }

    /// Delivers forever, or with `stop_when_idle` until nothing is pending or in flight.
    /// Returns the number delivered. Used by `run`, and alone by `--drain` and the benchmark.
    ///
    /// Neither the store's writes nor its fsyncs hold up the senders: leases are taken ahead
    /// (up to one spare per slot), and acknowledged deliveries are committed by a background
    /// task, all that arrived while the previous commit ran going into the next one.
    pub async fn drain_loop(self: Arc<Self>, stop_when_idle: bool) -> Result<u64, StoreError> {
        let mut running: JoinSet<()> = JoinSet::new();
        let mut leased: VecDeque<Job> = VecDeque::new();
        let mut commit: Option<JoinHandle<Result<(), StoreError>>> = None;
        let concurrency = self.settings.concurrency as usize;
        let lease_ms = (self.settings.request_timeout_s as i64 * 4).max(60) * 1000;
        let start = lock(&self.stats).delivered;
        loop {
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            if leased.len() < concurrency {
                let room = (2 * concurrency - running.len() - leased.len()) as u32;
                leased.extend(self.db(move |db| db.take(now_ms(), lease_ms, room)).await?);
            }
            while running.len() < concurrency
                && let Some(job) = leased.pop_front()
            {
                running.spawn(self.clone().attempt(job));
            }
            if commit.as_ref().is_none_or(|c| c.is_finished()) {
                finish(commit.take()).await?;
                if !lock(&self.acknowledged).is_empty() {
                    commit = Some(tokio::spawn(self.clone().commit_acknowledged()));
                }
            }
            if running.is_empty() {
                finish(commit.take()).await?;
                self.clone().commit_acknowledged().await?;
                if stop_when_idle {
                    let counts = self.db(|db| db.counts(now_ms())).await?;
                    if counts.pending == 0 && counts.in_flight == 0 {
                        return Ok(lock(&self.stats).delivered - start);
                    }
                }
                // Nothing due: wait for the next due entry, a new application, or a tick.
                let _ =
                    tokio::time::timeout(Duration::from_millis(250), self.wake.notified()).await;
            } else {
                let _ = tokio::time::timeout(Duration::from_secs(1), running.join_next()).await;
            }
        }
    }

    /// Commits every acknowledged delivery in one transaction.
    async fn commit_acknowledged(self: Arc<Self>) -> Result<(), StoreError> {
        let jobs = std::mem::take(&mut *lock(&self.acknowledged));
        if jobs.is_empty() {
            return Ok(());
        }
        let count = jobs.len() as u64;
        match self.db(move |db| db.delivered(&jobs, now_ms())).await {
            Ok(()) => {
                lock(&self.stats).delivered += count;
                Ok(())
            }
            Err(e) => {
                // The leases stay; the entries are sent again when they run out or the agent
                // restarts, and the server answers from its stored reply.
                tracing::error!(error = %e, "could not record deliveries");
                Err(e)
            }
        }
    }

    /// One attempt at one application, and its durable outcome.
    async fn attempt(self: Arc<Self>, job: Job) {
        let outcome = self.deliver(&job).await;
        let attempts = job.attempts;
        let number = job.number.to_string();
        let settings = self.settings.clone();
        let recorded = match outcome {
            Outcome::Delivered => {
                if self.failpoint.as_deref() == Some("after_ack") {
                    tracing::error!(number, "failpoint after_ack: aborting before the commit");
                    std::process::abort();
                }
                tracing::info!(number, "delivered");
                lock(&self.acknowledged).push(job);
                Ok(())
            }
            Outcome::Transient { error, floor_ms } => {
                let delay = backoff_ms(&settings, attempts, floor_ms);
                tracing::warn!(
                    number,
                    attempts = attempts + 1,
                    delay_ms = delay,
                    error,
                    "delivery failed; will retry"
                );
                lock(&self.stats).retries += 1;
                self.db(move |db| db.retry_later(&job, now_ms(), delay as i64, &error))
                    .await
            }
            Outcome::Permanent(reason) => self.db(move |db| db.dead(&job, now_ms(), &reason)).await,
        };
        if let Err(e) = recorded {
            // The lease stays; the entry is taken again when it runs out or the agent restarts.
            tracing::error!(number, error = %e, "could not record the outcome");
        }
        self.wake.notify_one();
    }

    async fn deliver(self: &Arc<Self>, job: &Job) -> Outcome {
        let (number, part) = (job.number.clone(), job.part);
        let agent = self.clone();
        // Through the reader's own connection, not the store's: a group commit in progress
        // does not hold up the next delivery's preparation.
        let prepared = tokio::task::spawn_blocking(move || {
            let (application, pages) = agent.payloads.read(&number, part)?;
            match part {
                0 => submission(application, pages),
                n => supplement_submission(application, n, pages),
            }
        })
        .await
        .unwrap_or_else(|e| Err(StoreError::Config(format!("store task failed: {e}"))));
        let (body, pages) = match prepared {
            Ok(p) => p,
            // The record or a page does not open: no retry will fix it.
            Err(e @ (StoreError::Sealed(_) | StoreError::NotFound(_))) => {
                return Outcome::Permanent(format!("kiosk: {e}"));
            }
            Err(e) => {
                return Outcome::Transient {
                    error: format!("kiosk store: {e}"),
                    floor_ms: 0,
                };
            }
        };
        let http = self.http();
        for (sha, image) in pages {
            let url = self.settings.url(&format!("/v1/pages/{sha}"));
            // A retry asks first: pages that got through before need not be sent again over a
            // slow link. A first attempt sends straight away (the server has none of them).
            if job.attempts > 0
                && http
                    .head(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
            {
                continue;
            }
            let response = http.put(url).body(image.to_vec()).send().await;
            drop(image);
            match classify(response).await {
                Ok(_) => lock(&self.stats).pages += 1,
                Err(outcome) => return outcome,
            }
        }
        let (path, key) = match job.part {
            0 => ("/v1/applications".to_owned(), job.number.to_string()),
            n => (
                format!("/v1/applications/{}/supplements", job.number),
                sync_protocol::supplement_key(job.number.as_str(), n),
            ),
        };
        let response = http
            .post(self.settings.url(&path))
            .header(IDEMPOTENCY_KEY, key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        match classify(response).await {
            Ok(_) => Outcome::Delivered,
            Err(outcome) => outcome,
        }
    }

    /// Pulls review results with a long poll and applies each batch with its cursor.
    async fn results_loop(self: Arc<Self>) {
        let mut failures = 0u32;
        loop {
            match self.pull_results().await {
                Ok(_) => failures = 0,
                Err(e) => {
                    let delay = backoff_ms(&self.settings, failures, 0);
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, delay_ms = delay, "results poll failed");
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
            }
        }
    }

    /// One long poll; returns how many results were applied.
    pub async fn pull_results(self: &Arc<Self>) -> Result<usize, String> {
        let cursor = self
            .db(|db| db.results_cursor())
            .await
            .map_err(|e| e.to_string())?;
        let wait = self.settings.results_wait_s;
        let response = self
            .http()
            .get(
                self.settings
                    .url(&format!("/v1/results?after={cursor}&wait_s={wait}")),
            )
            .timeout(Duration::from_secs(wait + 15))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("results: HTTP {}", response.status()));
        }
        let results: Results = response.json().await.map_err(|e| format!("results: {e}"))?;
        if results.cursor < cursor || results.results.iter().any(|r| r.seq <= cursor) {
            return Err("results: the server sent a cursor behind ours".into());
        }
        let mut parsed = Vec::with_capacity(results.results.len());
        for r in results.results {
            match application::ApplicationNumber::parse(&r.number) {
                Ok(n) => parsed.push((n, r.status, r.at_ms)),
                Err(e) => {
                    tracing::warn!(number = %r.number, error = %e, "result for an unreadable number skipped")
                }
            }
        }
        if parsed.is_empty() && results.cursor == cursor {
            return Ok(0);
        }
        let next = results.cursor;
        let applied = self
            .db(move |db| db.apply_results(&parsed, next))
            .await
            .map_err(|e| e.to_string())?;
        lock(&self.stats).results += applied as u64;
        tracing::info!(applied, cursor = next, "review results applied");
        Ok(applied)
    }

    async fn heartbeat_loop(self: Arc<Self>) {
        loop {
            let result = self.heartbeat().await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, "heartbeat failed");
            }
            let reached = result.is_ok();
            self.record_contact(result.err());
            if reached && let Err(e) = self.upload_logs().await {
                tracing::warn!(error = %e, "log bundle not sent yet");
            }
            tokio::time::sleep(Duration::from_secs(self.settings.heartbeat_s.max(1))).await;
        }
    }

    /// Keeps `DATA_DIR/sync-status.json` (the last contact with the central office and the
    /// last error since) for the maintenance menu's network status.
    fn record_contact(&self, error: Option<String>) {
        let path = self.settings.data_dir.join(SYNC_STATUS);
        let mut status: serde_json::Value = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        match error {
            None => {
                status["last_contact_ms"] = now_ms().into();
                status["last_error"] = serde_json::Value::Null;
            }
            Some(e) => {
                status["last_error"] = e.into();
                status["last_error_ms"] = now_ms().into();
            }
        }
        if let Err(e) = durable_fs::write_atomic(&path, status.to_string().as_bytes()) {
            tracing::warn!(error = %e, "sync status not written");
        }
    }

    /// Sends every log bundle waiting in `DATA_DIR/uploads/` and removes each once stored.
    pub async fn upload_logs(self: &Arc<Self>) -> Result<(), String> {
        let dir = self.settings.data_dir.join(UPLOADS);
        let mut names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| sync_protocol::is_log_name(n) && n.ends_with(".json"))
                .collect(),
            Err(_) => return Ok(()),
        };
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let sent = self
                .http()
                .put(self.settings.url(&format!("/v1/logs/{name}")))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = sent.status();
            if !status.is_success() && sync_protocol::is_transient(status.as_u16()) {
                return Err(format!("{name}: {status}"));
            }
            // Stored, or refused for good (too large, a backend without the endpoint): either
            // way it is not sent again and does not hold up the ones after it.
            if status.is_success() {
                tracing::info!(name = %name, "log bundle sent");
            } else {
                tracing::error!(name = %name, %status, "log bundle refused; dropped");
            }
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// Sends one heartbeat, records the commands it brings back and acknowledges them.
    pub async fn heartbeat(self: &Arc<Self>) -> Result<(), String> {
        let (queue, dead, audit) = self
            .db(|db| {
                let now = now_ms();
                Ok((
                    db.counts(now)?,
                    db.dead_letters()?,
                    db.audit_since(now - crate::statistics::WINDOW_MS)?,
                ))
            })
            .await
            .map_err(|e| e.to_string())?;
        let heartbeat = Heartbeat {
            at_ms: now_ms(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            queue: QueueReport {
                pending: queue.pending,
                in_flight: queue.in_flight,
                delivered: queue.delivered,
                dead: queue.dead,
                oldest_pending_age_s: queue.oldest_pending_age_s,
            },
            dead_letters: dead
                .into_iter()
                .map(|(number, reason)| DeadLetter { number, reason })
                .collect(),
            devices: device_reports(&self.settings.data_dir),
            stats: lock(&self.stats).clone(),
            out_of_service: std::fs::read_to_string(self.settings.data_dir.join("out-of-service"))
                .ok()
                .map(|s| s.trim().to_owned()),
            statistics: crate::statistics::from_audit(&audit, crate::statistics::WINDOW_MS),
        };
        let http = self.http();
        let reply: HeartbeatReply = http
            .post(self.settings.url("/v1/heartbeat"))
            .json(&heartbeat)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let commands: Vec<(u64, String)> = reply
            .commands
            .iter()
            .map(|c| {
                let kind = serde_json::to_value(c.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                (c.id, kind)
            })
            .collect();
        self.db(move |db| db.record_commands(&commands, now_ms()).map(|_| ()))
            .await
            .map_err(|e| e.to_string())?;
        let unacked = self
            .db(|db| db.unacknowledged_commands())
            .await
            .map_err(|e| e.to_string())?;
        for command in unacked {
            let state = if command.done {
                CommandState::Done
            } else {
                CommandState::Received
            };
            let acked = http
                .post(
                    self.settings
                        .url(&format!("/v1/commands/{}/ack", command.id)),
                )
                .json(&CommandAck { state })
                .send()
                .await
                .and_then(|r| r.error_for_status());
            match acked {
                Ok(_) => {
                    let (id, done) = (command.id, command.done);
                    self.db(move |db| db.command_acknowledged(id, done))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                // The server no longer knows it (withdrawn): nothing more to tell.
                Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => {
                    let id = command.id;
                    self.db(move |db| db.command_acknowledged(id, true))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Err(e) => {
                    tracing::warn!(id = command.id, error = %e, "command not acknowledged yet")
                }
            }
        }
        Ok(())
    }

    async fn publish_loop(self: Arc<Self>) {
        loop {
            for name in ["catalogue", "config"] {
                if let Err(e) = self.check_published(name).await {
                    tracing::warn!(document = name, error = %e, "update check failed");
                }
            }
            tokio::time::sleep(Duration::from_secs(self.settings.poll_s.max(1))).await;
        }
    }

    /// Fetches the catalogue or the configuration if it changed, and installs it if its
    /// signature verifies and it is newer; otherwise the installed one stays. The installed
    /// file's SHA-256 is the ETag sent, so file and ETag cannot disagree. Returns whether
    /// something new was installed.
    pub async fn check_published(self: &Arc<Self>, name: &str) -> Result<bool, String> {
        let file = self.settings.data_dir.join(match name {
            "catalogue" => "catalogue.json",
            _ => "terminal-config.json",
        });
        let installed = std::fs::read(&file).ok();
        let mut request = self.http().get(self.settings.url(&format!("/v1/{name}")));
        if let Some(bytes) = &installed {
            request = request.header(
                reqwest::header::IF_NONE_MATCH,
                sync_protocol::etag_of(bytes),
            );
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        match response.status().as_u16() {
            304 | 404 => return Ok(false),
            200 => {}
            s => return Err(format!("HTTP {s}")),
        }
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        let trust = self.trust.clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || install(&name, &file, &bytes, trust))
            .await
            .map_err(|e| e.to_string())?
    }
}

fn install(
    name: &str,
    file: &std::path::Path,
    bytes: &[u8],
    trust: TrustStore,
) -> Result<bool, String> {
    if name == "catalogue" {
        let installed =
            catalogue::Installed::open(file, trust.clone()).map_err(|e| e.to_string())?;
        return match installed.install(bytes) {
            Ok(c) => Ok({
                tracing::info!(version = c.version, "new catalogue installed");
                true
            }),
            Err(e) => {
                tracing::error!(error = %e, "published catalogue refused; the installed one stays");
                Err(format!("catalogue refused: {e}"))
            }
        };
    }
    let offered = catalogue::signed::open_config(bytes, &trust).map_err(|e| {
        tracing::error!(error = %e, "published configuration refused; the installed one stays");
        format!("configuration refused: {e}")
    })?;
    if let Ok(current) = std::fs::read(file)
        && let Ok(current) = catalogue::signed::open_config(&current, &trust)
        && current.version >= offered.version
    {
        return Err(format!(
            "configuration {} is not newer than the installed {}",
            offered.version, current.version
        ));
    }
    durable_fs::write_atomic(file, bytes).map_err(|e| e.to_string())?;
    tracing::info!(version = offered.version, "new configuration installed");
    Ok(true)
}

/// Reads each device's last published status from `DATA_DIR/status/*.json` (written by the
/// drivers through the common status model).
/// Each device's last published status (`DATA_DIR/status/NAME.json`), by name.
pub fn device_reports(data_dir: &std::path::Path) -> Vec<DeviceReport> {
    let Ok(dir) = std::fs::read_dir(data_dir.join("status")) else {
        return Vec::new();
    };
    let mut out: Vec<DeviceReport> = dir
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let device = path.file_stem()?.to_str()?.to_owned();
            if path.extension()? != "json" {
                return None;
            }
            let detail: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
            let state = detail
                .get("state")
                .and_then(|s| s.as_str())
                .unwrap_or("unknown")
                .to_owned();
            Some(DeviceReport {
                device,
                state,
                detail,
            })
        })
        .collect();
    out.sort_by(|a, b| a.device.cmp(&b.device));
    out
}

/// Pages by address: (SHA-256, image), in the order they are sent.
pub type AddressedPages = Vec<(String, Zeroizing<Vec<u8>>)>;

/// A submission body and its pages.
pub type Prepared = (Vec<u8>, AddressedPages);

/// Builds the exact bytes sent for an application: the application as it was saved (statuses
/// recorded since, such as a review result applied before a retry, must not change what a
/// retry sends) and the content address of each page.
pub fn submission(
    mut application: application::Application,
    pages: Vec<kiosk_store::PageImage>,
) -> Result<Prepared, StoreError> {
    application.history.truncate(1);
    application.supplements.clear();
    let files: Vec<String> = application.page_files().map(|p| p.file.clone()).collect();
    let (entries, bodies) = addressed(files, pages);
    let body = serde_json::to_vec(&Submission {
        application,
        pages: entries,
    })
    .map_err(|e| StoreError::Sealed(e.to_string()))?;
    Ok((body, bodies))
}

/// Builds the exact bytes sent for an application's `n`th supplement, and its pages.
pub fn supplement_submission(
    application: application::Application,
    n: u32,
    pages: Vec<kiosk_store::PageImage>,
) -> Result<Prepared, StoreError> {
    let number = application.number.to_string();
    let supplement = application
        .supplements
        .into_iter()
        .find(|s| s.n == n)
        .ok_or_else(|| StoreError::NotFound(format!("{number} supplement {n}")))?;
    let files: Vec<String> = supplement.page_files().map(|p| p.file.clone()).collect();
    let (entries, bodies) = addressed(files, pages);
    let body = serde_json::to_vec(&SupplementSubmission {
        number,
        supplement,
        pages: entries,
    })
    .map_err(|e| StoreError::Sealed(e.to_string()))?;
    Ok((body, bodies))
}

/// Each page's entry (file, material, SHA-256, size) and its image under its address.
fn addressed(
    files: Vec<String>,
    pages: Vec<kiosk_store::PageImage>,
) -> (Vec<PageEntry>, AddressedPages) {
    let mut entries = Vec::with_capacity(pages.len());
    let mut bodies = Vec::with_capacity(pages.len());
    for (file, (material, image)) in files.into_iter().zip(pages) {
        let sha256 = sync_protocol::sha256_hex(&image);
        entries.push(PageEntry {
            file,
            material,
            sha256: sha256.clone(),
            bytes: image.len() as u64,
        });
        bodies.push((sha256, image));
    }
    (entries, bodies)
}

/// Sorts a response into success or a retry decision.
async fn classify(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, Outcome> {
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            return Err(Outcome::Transient {
                error: format!("network: {e}"),
                floor_ms: 0,
            });
        }
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let floor_ms = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(0, |s| s.min(3600) * 1000);
    let body = response.text().await.unwrap_or_default();
    let reason = match serde_json::from_str::<sync_protocol::ErrorBody>(&body) {
        Ok(e) => format!("HTTP {} {}: {}", status.as_u16(), e.code, e.message),
        Err(_) => format!("HTTP {}", status.as_u16()),
    };
    if sync_protocol::is_transient(status.as_u16()) {
        Err(Outcome::Transient {
            error: reason,
            floor_ms,
        })
    } else {
        Err(Outcome::Permanent(reason))
    }
}
