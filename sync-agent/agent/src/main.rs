//! `sync-agent`: delivers the kiosk's outbox to the central backend and brings results back.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use sync_agent::{Agent, Settings};

#[derive(Parser)]
#[command(name = "sync-agent", version, about = "The kiosk's sync agent")]
struct Cli {
    /// A TOML file with the settings below (flags given on the command line win).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The kiosk's data directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The central backend, https://host:port.
    #[arg(long)]
    server: Option<String>,
    /// The CA the server's certificate must chain to.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// This kiosk's certificate (reloaded when renewed).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Its key.
    #[arg(long)]
    key: Option<PathBuf>,
    /// The store's key file (default: DATA_DIR/store.key).
    #[arg(long)]
    store_key: Option<PathBuf>,
    /// Applications sent at once.
    #[arg(long)]
    concurrency: Option<u32>,
    /// First retry delay, ms.
    #[arg(long)]
    retry_base_ms: Option<u64>,
    /// Longest retry delay, ms.
    #[arg(long)]
    retry_cap_ms: Option<u64>,
    /// One request's time limit, seconds.
    #[arg(long)]
    request_timeout_s: Option<u64>,
    /// Seconds between heartbeats.
    #[arg(long)]
    heartbeat_s: Option<u64>,
    /// Seconds between catalogue and configuration checks.
    #[arg(long)]
    poll_s: Option<u64>,
    /// Deliver what is queued, then exit (0 when nothing is left pending).
    #[arg(long)]
    drain: bool,
}

fn settings(cli: &Cli) -> Result<Settings, String> {
    let mut s = match &cli.config {
        Some(path) => Settings::load(path)?,
        None => {
            let need = |v: &Option<PathBuf>, flag: &str| {
                v.clone()
                    .ok_or_else(|| format!("--{flag} is required (or --config)"))
            };
            Settings::new(
                &need(&cli.data_dir, "data-dir")?,
                cli.server
                    .as_deref()
                    .ok_or("--server is required (or --config)")?,
                &need(&cli.ca, "ca")?,
                &need(&cli.cert, "cert")?,
                &need(&cli.key, "key")?,
            )
        }
    };
    if let Some(v) = &cli.data_dir {
        s.data_dir = v.clone();
    }
    if let Some(v) = &cli.server {
        s.server = v.clone();
    }
    if let Some(v) = &cli.ca {
        s.ca = v.clone();
    }
    if let Some(v) = &cli.cert {
        s.cert = v.clone();
    }
    if let Some(v) = &cli.key {
        s.key = v.clone();
    }
    if cli.store_key.is_some() {
        s.store_key = cli.store_key.clone();
    }
    s.concurrency = cli.concurrency.unwrap_or(s.concurrency);
    s.retry_base_ms = cli.retry_base_ms.unwrap_or(s.retry_base_ms);
    s.retry_cap_ms = cli.retry_cap_ms.unwrap_or(s.retry_cap_ms);
    s.request_timeout_s = cli.request_timeout_s.unwrap_or(s.request_timeout_s);
    s.heartbeat_s = cli.heartbeat_s.unwrap_or(s.heartbeat_s);
    s.poll_s = cli.poll_s.unwrap_or(s.poll_s);
    s.check()?;
    Ok(s)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SYNC_AGENT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let settings = match settings(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sync-agent: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sync-agent: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let agent = Agent::start(settings).map_err(|e| e.to_string())?;
        if cli.drain {
            let delivered = agent.drain_loop(true).await.map_err(|e| e.to_string())?;
            tracing::info!(delivered, "drained");
            return Ok(());
        }
        tokio::select! {
            r = agent.run() => r.map_err(|e| e.to_string()),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sync-agent: {e}");
            ExitCode::FAILURE
        }
    }
}
