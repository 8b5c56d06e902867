//! The HTTPS server: rustls with client certificates required (and the revocation list checked)
//! in front of an axum router. The client certificate's common name is the caller's identity:
//! a five-digit terminal number is a kiosk, `reviewer-…` a reviewer.

// Handlers return `Result<_, Response>` to short-circuit with an error answer; boxing it
// would only add noise.
#![allow(clippy::result_large_err)]

use crate::storage::{Begin, Storage, StorageError};
use application::Status;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use sync_protocol::{
    CommandAck, ErrorBody, Heartbeat, HeartbeatReply, IDEMPOTENCY_KEY, MAX_BODY_BYTES,
    MAX_PAGE_BYTES, MAX_WAIT_S, REPLAYED, Receipt, Results, Submission, SupplementSubmission,
};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_service::Service as _;

/// Who is calling, from the client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A kiosk: its terminal number.
    Device(String),
    /// A reviewer.
    Reviewer(String),
}

impl Identity {
    /// The identity a certificate's common name stands for; `None` for anything else.
    pub fn from_common_name(cn: &str) -> Option<Identity> {
        if cn.len() == 5 && cn.bytes().all(|b| b.is_ascii_digit()) {
            Some(Identity::Device(cn.to_owned()))
        } else {
            cn.strip_prefix("reviewer-")
                .filter(|n| !n.is_empty())
                .map(|n| Identity::Reviewer(n.to_owned()))
        }
    }
}

/// Faults a test asks the server to show: slowness and 503s.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// One request in N, spread pseudo-randomly, is answered 503 *after* it was processed
    /// (0: never).
    pub unavailable_every: u64,
    /// Each request waits this long first.
    pub delay_ms: u64,
}

/// Where the server's certificates are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA client certificates must chain to.
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The revocation list (may be absent).
    pub crl: PathBuf,
}

impl TlsFiles {
    /// The server's files in a PKI directory (`central-backend pki init`).
    pub fn from_pki(pki: &crate::pki::Pki) -> Self {
        TlsFiles {
            ca: pki.ca_cert(),
            cert: pki.server_cert(),
            key: pki.server_key(),
            crl: pki.crl(),
        }
    }
}

struct App {
    storage: Arc<dyn Storage>,
    decided: tokio::sync::Notify,
    faults: Faults,
    requests: AtomicU64,
}

type Shared = Arc<App>;

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            code: code.to_owned(),
            message: message.into(),
        }),
    )
        .into_response()
}

/// Adds `Retry-After: 1` to an answer that a retry will resolve.
fn retry_soon(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn internal(e: StorageError) -> Response {
    tracing::error!(error = %e, "storage failed");
    retry_soon(error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "storage",
        "storage failed; try again",
    ))
}

fn device(identity: &Identity) -> Result<&str, Response> {
    match identity {
        Identity::Device(d) => Ok(d),
        Identity::Reviewer(_) => Err(error(
            StatusCode::FORBIDDEN,
            "not_a_kiosk",
            "this endpoint is for kiosks",
        )),
    }
}

fn reviewer(identity: &Identity) -> Result<&str, Response> {
    match identity {
        Identity::Reviewer(r) => Ok(r),
        Identity::Device(_) => Err(error(
            StatusCode::FORBIDDEN,
            "not_a_reviewer",
            "this endpoint is for reviewers",
        )),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(StorageError::NotFound(n))) => Err(error(
            StatusCode::NOT_FOUND,
            "no_application",
            format!("no application {n}"),
        )),
        Ok(Err(e)) => Err(internal(e)),
        Err(_) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "panic",
            "the request failed",
        )),
    }
}

fn now_ms() -> i64 {
    application::time::now_ms()
}

async fn put_page(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    UrlPath(sha): UrlPath<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = device(&identity) {
        return r;
    }
    if !sync_protocol::is_sha256_hex(&sha) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_address",
            "not a SHA-256 address",
        );
    }
    let storage = app.storage.clone();
    let result = blocking(move || {
        if sync_protocol::sha256_hex(&body) != sha {
            return Ok(false);
        }
        storage.put_page(&sha, &body)?;
        Ok(true)
    })
    .await;
    match result {
        Ok(true) => StatusCode::CREATED.into_response(),
        Ok(false) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "digest_mismatch",
            "the page's SHA-256 is not its address",
        ),
        Err(r) => r,
    }
}

async fn head_page(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    UrlPath(sha): UrlPath<String>,
) -> Response {
    if let Err(r) = device(&identity) {
        return r;
    }
    if !sync_protocol::is_sha256_hex(&sha) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let storage = app.storage.clone();
    match blocking(move || storage.has_page(&sha)).await {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => StatusCode::NOT_FOUND.into_response(),
        Err(r) => r,
    }
}

async fn post_application(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let device = match device(&identity) {
        Ok(d) => d.to_owned(),
        Err(r) => return r,
    };
    let Some(key) = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "no_idempotency_key",
            "Idempotency-Key is required",
        );
    };
    let submission: Submission = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("not a submission: {e}"),
            );
        }
    };
    if submission.application.number.as_str() != key {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "key_mismatch",
            "Idempotency-Key must be the application's number",
        );
    }
    let prefix_ok = submission
        .application
        .number
        .as_str()
        .strip_prefix(device.as_str())
        .is_some_and(|rest| rest.starts_with('-'));
    if submission.application.terminal != device || !prefix_ok {
        return error(
            StatusCode::FORBIDDEN,
            "wrong_terminal",
            "the application was taken by another terminal",
        );
    }
    let named = submission.application.page_files().map(|p| p.file.as_str());
    let pages = match page_addresses(named, &submission.pages) {
        Ok(p) => p,
        Err(r) => return r,
    };
    idempotent(
        &app,
        device,
        key,
        body,
        pages,
        move |storage, device, key, body| {
            storage.complete(device, key, &submission, body, now_ms())
        },
    )
    .await
}

/// Corrections supplied at a kiosk for an application it took.
async fn post_supplement(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    UrlPath(number): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let device = match device(&identity) {
        Ok(d) => d.to_owned(),
        Err(r) => return r,
    };
    let supplement: SupplementSubmission = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("not a supplement: {e}"),
            );
        }
    };
    let key = sync_protocol::supplement_key(&number, supplement.supplement.n);
    if supplement.number != number
        || headers.get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()) != Some(key.as_str())
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "key_mismatch",
            "Idempotency-Key must be NUMBER/N of the supplement, for the application in the path",
        );
    }
    let named = supplement.supplement.page_files().map(|p| p.file.as_str());
    let pages = match page_addresses(named, &supplement.pages) {
        Ok(p) => p,
        Err(r) => return r,
    };
    idempotent(
        &app,
        device,
        key,
        body,
        pages,
        move |storage, device, key, body| {
            storage.complete_supplement(device, key, &supplement, body, now_ms())
        },
    )
    .await
}

/// The addresses of the listed pages, if the list names exactly the record's page files, in
/// order, by valid digests; else `422 pages_mismatch`.
fn page_addresses<'a>(
    named: impl Iterator<Item = &'a str>,
    pages: &[sync_protocol::PageEntry],
) -> Result<Vec<String>, Response> {
    let named: Vec<&str> = named.collect();
    let listed = named.len() == pages.len()
        && named.iter().zip(pages).all(|(n, p)| *n == p.file)
        && pages
            .iter()
            .all(|p| sync_protocol::is_sha256_hex(&p.sha256));
    if !listed {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "pages_mismatch",
            "the pages list does not match the record's pages",
        ));
    }
    Ok(pages.iter().map(|p| p.sha256.clone()).collect())
}

/// The idempotent part of a submission: a key seen before is answered from what was stored
/// (or refused when its payload changed, or asked to wait while it is processed); a new one
/// needs all its pages uploaded, then `complete` stores it durably before the answer.
async fn idempotent(
    app: &Shared,
    device: String,
    key: String,
    body: Bytes,
    pages: Vec<String>,
    complete: impl FnOnce(&dyn Storage, &str, &str, &[u8]) -> Result<Receipt, StorageError>
    + Send
    + 'static,
) -> Response {
    let storage = app.storage.clone();
    let outcome = blocking(move || {
        let payload_sha = sync_protocol::sha256_hex(&body);
        match storage.begin(&device, &key, &payload_sha)? {
            Begin::New => {}
            other => return Ok(Err(other)),
        }
        let missing: Vec<String> = pages
            .into_iter()
            .filter(|sha| !storage.has_page(sha).unwrap_or(false))
            .collect();
        if !missing.is_empty() {
            storage.abandon(&device, &key)?;
            return Ok(Ok(Err(missing)));
        }
        match complete(storage.as_ref(), &device, &key, &body) {
            Ok(receipt) => Ok(Ok(Ok(receipt))),
            Err(e) => {
                let _ = storage.abandon(&device, &key);
                Err(e)
            }
        }
    })
    .await;
    match outcome {
        Ok(Ok(Ok(receipt))) => {
            tracing::info!(number = %receipt.number, case = %receipt.case, "submission received");
            (StatusCode::CREATED, Json(receipt)).into_response()
        }
        Ok(Ok(Err(missing))) => retry_soon(error(
            StatusCode::CONFLICT,
            "pages_missing",
            format!("upload these pages first: {}", missing.join(" ")),
        )),
        Ok(Err(Begin::Replay(receipt))) => {
            let mut r = (StatusCode::CREATED, Json(receipt)).into_response();
            r.headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            r
        }
        Ok(Err(Begin::Changed)) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload_changed",
            "this Idempotency-Key was used with another payload",
        ),
        Ok(Err(_)) => retry_soon(error(
            StatusCode::CONFLICT,
            "in_progress",
            "a request with this Idempotency-Key is being processed",
        )),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct ResultsQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    wait_s: u64,
}

async fn get_results(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    Query(q): Query<ResultsQuery>,
) -> Response {
    let device = match device(&identity) {
        Ok(d) => d.to_owned(),
        Err(r) => return r,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(q.wait_s.min(MAX_WAIT_S));
    loop {
        let storage = app.storage.clone();
        let d = device.clone();
        let results = match blocking(move || storage.results_after(&d, q.after, 100)).await {
            Ok(r) => r,
            Err(r) => return r,
        };
        if !results.is_empty() || tokio::time::Instant::now() >= deadline {
            let cursor = results.last().map_or(q.after, |r| r.seq);
            return Json(Results { results, cursor }).into_response();
        }
        // Decisions made through this server wake the poll at once; those made by the command
        // line in another process are seen within the tick.
        let _ = tokio::time::timeout(Duration::from_millis(250), app.decided.notified()).await;
    }
}

async fn published(app: Shared, name: &'static str, headers: HeaderMap) -> Response {
    let storage = app.storage.clone();
    let doc = match blocking(move || storage.published(name)).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some((etag, body)) = doc else {
        return error(
            StatusCode::NOT_FOUND,
            "not_published",
            format!("no {name} is published"),
        );
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (header::ETAG, etag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn get_catalogue(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = device(&identity) {
        return r;
    }
    published(app, "catalogue", headers).await
}

async fn get_config(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = device(&identity) {
        return r;
    }
    published(app, "config", headers).await
}

async fn post_heartbeat(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    Json(heartbeat): Json<Heartbeat>,
) -> Response {
    let device = match device(&identity) {
        Ok(d) => d.to_owned(),
        Err(r) => return r,
    };
    let storage = app.storage.clone();
    match blocking(move || storage.heartbeat(&device, &heartbeat, now_ms())).await {
        Ok(commands) => Json(HeartbeatReply { commands }).into_response(),
        Err(r) => r,
    }
}

async fn post_ack(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    UrlPath(id): UrlPath<u64>,
    Json(ack): Json<CommandAck>,
) -> Response {
    let device = match device(&identity) {
        Ok(d) => d.to_owned(),
        Err(r) => return r,
    };
    let storage = app.storage.clone();
    match blocking(move || storage.ack_command(&device, id, ack.state)).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, "no_command", "no such command"),
        Err(r) => r,
    }
}

async fn put_logs(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    UrlPath(name): UrlPath<String>,
    body: Bytes,
) -> Response {
    let device = match device(&identity) {
        Ok(d) => d.to_owned(),
        Err(r) => return r,
    };
    if !sync_protocol::is_log_name(&name) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_name",
            "not a log bundle's name",
        );
    }
    let storage = app.storage.clone();
    match blocking(move || storage.put_logs(&device, &name, &body, now_ms())).await {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(r) => r,
    }
}

async fn review_list(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
) -> Response {
    if let Err(r) = reviewer(&identity) {
        return r;
    }
    let storage = app.storage.clone();
    match blocking(move || storage.applications()).await {
        Ok(list) => Json(list).into_response(),
        Err(r) => r,
    }
}

async fn review_show(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    UrlPath(number): UrlPath<String>,
) -> Response {
    if let Err(r) = reviewer(&identity) {
        return r;
    }
    let storage = app.storage.clone();
    match blocking(move || storage.application(&number)).await {
        Ok(body) => Json(body).into_response(),
        Err(r) => r,
    }
}

async fn review_decide(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
    UrlPath(number): UrlPath<String>,
    Json(status): Json<Status>,
) -> Response {
    let who = match reviewer(&identity) {
        Ok(r) => r.to_owned(),
        Err(r) => return r,
    };
    if matches!(status, Status::Saved | Status::Delivered | Status::Supplied) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_decision",
            "a reviewer decides accepted, corrections_needed, rejected, result_ready or collected",
        );
    }
    let storage = app.storage.clone();
    match blocking(move || storage.decide(&number, &status, now_ms())).await {
        Ok(result) => {
            tracing::info!(number = %result.number, reviewer = %who, "decision recorded");
            app.decided.notify_waiters();
            Json(result).into_response()
        }
        Err(r) => r,
    }
}

async fn review_fleet(
    State(app): State<Shared>,
    Extension(identity): Extension<Identity>,
) -> Response {
    if let Err(r) = reviewer(&identity) {
        return r;
    }
    let storage = app.storage.clone();
    match blocking(move || storage.fleet()).await {
        Ok(fleet) => Json(fleet).into_response(),
        Err(r) => r,
    }
}

async fn inject_faults(
    State(app): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if app.faults.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(app.faults.delay_ms)).await;
    }
    let n = app.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let response = next.run(request).await;
    let every = app.faults.unavailable_every;
    if every > 0 && (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % every == 0 {
        return retry_soon(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "injected fault: the answer was lost",
        ));
    }
    response
}

/// The router, for a given storage.
pub fn router(storage: Arc<dyn Storage>, faults: Faults) -> Router {
    let app = Arc::new(App {
        storage,
        decided: tokio::sync::Notify::new(),
        faults,
        requests: AtomicU64::new(0),
    });
    Router::new()
        .route(
            "/v1/pages/{sha256}",
            put(put_page)
                .head(head_page)
                .layer(DefaultBodyLimit::max(MAX_PAGE_BYTES)),
        )
        .route(
            "/v1/applications",
            post(post_application).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route(
            "/v1/applications/{number}/supplements",
            post(post_supplement).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/v1/results", get(get_results))
        .route("/v1/catalogue", get(get_catalogue))
        .route("/v1/config", get(get_config))
        .route("/v1/heartbeat", post(post_heartbeat))
        .route("/v1/commands/{id}/ack", post(post_ack))
        .route(
            "/v1/logs/{name}",
            put(put_logs).layer(DefaultBodyLimit::max(sync_protocol::MAX_LOG_BYTES)),
        )
        .route("/v1/review/applications", get(review_list))
        .route("/v1/review/applications/{number}", get(review_show))
        .route(
            "/v1/review/applications/{number}/decision",
            post(review_decide),
        )
        .route("/v1/review/fleet", get(review_fleet))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            inject_faults,
        ))
        .with_state(app)
}

/// The TLS configuration, rebuilt when the revocation list or the server's certificate changes
/// on disk, so a revocation takes effect for the next connection without a restart.
struct TlsSource {
    files: TlsFiles,
    stamp: Option<(Option<SystemTime>, Option<SystemTime>)>,
    acceptor: Option<TlsAcceptor>,
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl TlsSource {
    fn acceptor(&mut self) -> Result<TlsAcceptor, sync_protocol::tls::TlsError> {
        let stamp = (modified(&self.files.crl), modified(&self.files.cert));
        if let (Some(a), true) = (&self.acceptor, self.stamp == Some(stamp)) {
            return Ok(a.clone());
        }
        let f = &self.files;
        let config = sync_protocol::tls::server_config(
            &f.ca,
            &f.cert,
            &f.key,
            sync_protocol::tls::crls(&f.crl)?,
        )?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        tracing::info!("TLS configuration loaded");
        self.stamp = Some(stamp);
        self.acceptor = Some(acceptor.clone());
        Ok(acceptor)
    }
}

fn peer_identity(conn: &rustls::ServerConnection) -> Option<Identity> {
    let cert = conn.peer_certificates()?.first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    let cn = parsed.subject().iter_common_name().next()?.as_str().ok()?;
    Identity::from_common_name(cn)
}

/// Binds `listen`, then serves until the process ends. `on_ready` gets the bound address once
/// connections are accepted.
pub async fn serve(
    listen: SocketAddr,
    tls: TlsFiles,
    storage: Arc<dyn Storage>,
    faults: Faults,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let mut source = TlsSource {
        files: tls,
        stamp: None,
        acceptor: None,
    };
    source
        .acceptor()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let listener = TcpListener::bind(listen).await?;
    on_ready(listener.local_addr()?);
    let router = router(storage, faults);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = match source.acceptor() {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "TLS configuration unusable; connection refused");
                continue;
            }
        };
        let router = router.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let tls =
                match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::warn!(peer = %peer, error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!(peer = %peer, "TLS handshake timed out");
                        return;
                    }
                };
            let Some(identity) = peer_identity(tls.get_ref().1) else {
                tracing::warn!(peer = %peer, "client certificate names no kiosk or reviewer");
                return;
            };
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(identity.clone());
                    router.clone().call(request)
                },
            );
            if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(peer = %peer, error = %e, "connection ended");
            }
        });
    }
}

/// Starts a server on `runtime` on a free loopback port, for tests and benchmarks; returns its
/// address once it accepts connections.
pub fn spawn_local(
    runtime: &tokio::runtime::Runtime,
    data_dir: &std::path::Path,
    pki_dir: &std::path::Path,
    faults: Faults,
) -> Result<SocketAddr, String> {
    let storage: Arc<dyn Storage> =
        Arc::new(crate::SqliteStorage::open_for_server(data_dir).map_err(|e| e.to_string())?);
    let tls = TlsFiles::from_pki(&crate::pki::Pki::new(pki_dir));
    let (tx, rx) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        if let Err(e) = serve(listen, tls, storage, faults, |a| {
            let _ = tx.send(a);
        })
        .await
        {
            tracing::error!(error = %e, "server stopped");
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .map_err(|_| "the server did not start".to_owned())
}
