//! The agent's settings: command-line flags, or the same keys in a TOML file
//! (`/etc/kiosk/sync-agent.toml` on a kiosk); a flag given wins over the file.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything the agent needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The kiosk's data directory (shared with the kiosk).
    pub data_dir: PathBuf,
    /// The central backend, `https://host:port`.
    pub server: String,
    /// The CA the server's certificate must chain to.
    pub ca: PathBuf,
    /// This kiosk's certificate; reloaded when the file changes.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The store's key file (default: DATA_DIR/store.key).
    #[serde(default)]
    pub store_key: Option<PathBuf>,
    /// Keys trusted for the catalogue and configuration (default: the development key).
    #[serde(default)]
    pub trust: Option<PathBuf>,
    /// Applications sent at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// First retry delay, ms; doubled each attempt, with full jitter.
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
    /// Longest retry delay, ms.
    #[serde(default = "default_retry_cap_ms")]
    pub retry_cap_ms: u64,
    /// One request's time limit, seconds.
    #[serde(default = "default_request_timeout_s")]
    pub request_timeout_s: u64,
    /// Seconds between heartbeats.
    #[serde(default = "default_heartbeat_s")]
    pub heartbeat_s: u64,
    /// Seconds between catalogue and configuration checks.
    #[serde(default = "default_poll_s")]
    pub poll_s: u64,
    /// How long a results long poll waits, seconds.
    #[serde(default = "default_results_wait_s")]
    pub results_wait_s: u64,
}

fn default_concurrency() -> u32 {
    4
}
fn default_retry_base_ms() -> u64 {
    1_000
}
fn default_retry_cap_ms() -> u64 {
    300_000
}
fn default_request_timeout_s() -> u64 {
    60
}
fn default_heartbeat_s() -> u64 {
    60
}
fn default_poll_s() -> u64 {
    300
}
fn default_results_wait_s() -> u64 {
    25
}

impl Settings {
    /// Settings with defaults for everything but the required five.
    pub fn new(data_dir: &Path, server: &str, ca: &Path, cert: &Path, key: &Path) -> Self {
        Settings {
            data_dir: data_dir.to_owned(),
            server: server.to_owned(),
            ca: ca.to_owned(),
            cert: cert.to_owned(),
            key: key.to_owned(),
            store_key: None,
            trust: None,
            concurrency: default_concurrency(),
            retry_base_ms: default_retry_base_ms(),
            retry_cap_ms: default_retry_cap_ms(),
            request_timeout_s: default_request_timeout_s(),
            heartbeat_s: default_heartbeat_s(),
            poll_s: default_poll_s(),
            results_wait_s: default_results_wait_s(),
        }
    }

    /// Reads a TOML file of settings.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let settings: Settings =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        settings.check()?;
        Ok(settings)
    }

    /// Refuses settings that cannot work, with the reason.
    pub fn check(&self) -> Result<(), String> {
        if !self.server.starts_with("https://") {
            return Err(format!("server `{}` must be an https:// URL", self.server));
        }
        if self.concurrency == 0 || self.concurrency > 64 {
            return Err("concurrency must be 1 to 64".into());
        }
        if self.retry_base_ms == 0 || self.retry_cap_ms < self.retry_base_ms {
            return Err(
                "retry_cap_ms must be at least retry_base_ms, which must be above 0".into(),
            );
        }
        Ok(())
    }

    /// The store's key file.
    pub fn store_key(&self) -> PathBuf {
        self.store_key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("store.key"))
    }

    /// One request's time limit.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_s.max(1))
    }

    /// The URL of a path on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.trim_end_matches('/'))
    }
}

/// The delay before attempt `attempts + 1`: full jitter over a capped exponential
/// (uniform in `[0, min(cap, base·2^attempts)]`), so that a fleet coming back from an outage
/// does not retry in step. Never below `floor_ms` (a server's `Retry-After`).
pub fn backoff_ms(settings: &Settings, attempts: u32, floor_ms: u64) -> u64 {
    let ceiling = settings
        .retry_base_ms
        .saturating_mul(1u64 << attempts.min(30))
        .min(settings.retry_cap_ms);
    fastrand::u64(0..=ceiling).max(floor_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_is_jittered() {
        let mut s = Settings::new(
            Path::new("/d"),
            "https://x",
            Path::new("a"),
            Path::new("b"),
            Path::new("c"),
        );
        s.retry_base_ms = 100;
        s.retry_cap_ms = 1_000;
        for attempts in 0..40 {
            let ceiling = (100u64 << attempts.min(30)).min(1_000);
            let samples: Vec<u64> = (0..200).map(|_| backoff_ms(&s, attempts, 0)).collect();
            assert!(samples.iter().all(|&d| d <= ceiling), "attempt {attempts}");
            let distinct: std::collections::HashSet<_> = samples.iter().collect();
            assert!(distinct.len() > 10, "jittered");
        }
        assert!(backoff_ms(&s, 0, 5_000) >= 5_000, "Retry-After is a floor");
    }

    #[test]
    fn a_settings_file_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(
            &path,
            "data_dir = '/var/lib/kiosk'\nserver = 'http://central'\nca = 'ca.pem'\ncert = 'c.pem'\nkey = 'c.key'\n",
        )
        .unwrap();
        let err = Settings::load(&path).unwrap_err();
        assert!(err.contains("https://"), "{err}");
        std::fs::write(
            &path,
            "data_dir = '/d'\nserver = 'https://c'\nca = 'a'\ncert = 'b'\nkey = 'c'\nretries = 3\n",
        )
        .unwrap();
        let err = Settings::load(&path).unwrap_err();
        assert!(err.contains("retries"), "unknown keys are named: {err}");
    }
}
