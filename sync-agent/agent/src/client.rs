//! The HTTPS client, rebuilt when the kiosk's certificate or key file changes (renewal), so a
//! renewed certificate is used without a restart. A half-written pair (the key renewed, the
//! certificate not yet) fails to load and the previous client is kept until the pair matches.

use crate::config::Settings;
use std::path::Path;
use std::time::SystemTime;

type Stamp = (
    Option<SystemTime>,
    Option<SystemTime>,
    Option<u64>,
    Option<u64>,
);

/// The current client and the files it was built from.
pub struct Client {
    settings: Settings,
    stamp: Stamp,
    client: reqwest::Client,
}

fn stamp_of(cert: &Path, key: &Path) -> Stamp {
    let meta = |p: &Path| std::fs::metadata(p).ok();
    let (c, k) = (meta(cert), meta(key));
    (
        c.as_ref().and_then(|m| m.modified().ok()),
        k.as_ref().and_then(|m| m.modified().ok()),
        c.map(|m| m.len()),
        k.map(|m| m.len()),
    )
}

fn build(settings: &Settings) -> Result<reqwest::Client, String> {
    let tls = sync_protocol::tls::client_config(&settings.ca, &settings.cert, &settings.key)
        .map_err(|e| e.to_string())?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(settings.request_timeout())
        .pool_idle_timeout(std::time::Duration::from_secs(50))
        .tcp_keepalive(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

impl Client {
    /// A client for these settings; fails when the certificates cannot be loaded.
    pub fn new(settings: &Settings) -> Result<Self, String> {
        let stamp = stamp_of(&settings.cert, &settings.key);
        Ok(Client {
            client: build(settings)?,
            settings: settings.clone(),
            stamp,
        })
    }

    /// The client to use now, reloading the certificate first if its files changed.
    pub fn current(&mut self) -> reqwest::Client {
        let stamp = stamp_of(&self.settings.cert, &self.settings.key);
        if stamp != self.stamp {
            match build(&self.settings) {
                Ok(client) => {
                    tracing::info!(cert = %self.settings.cert.display(), "client certificate reloaded");
                    self.client = client;
                    self.stamp = stamp;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "renewed certificate not usable yet; keeping the current one")
                }
            }
        }
        self.client.clone()
    }
}
