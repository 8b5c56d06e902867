//! The runtime's side of maintenance mode: the menu's report, device self-tests, supply
//! counters and the diagnostics export to a USB drive. Nothing here reads citizen data: the
//! report is built from device status files, the outbox's counts, the certificate, the
//! counters and the store's own check (counts only).

use crate::config::Config;
use session::maintenance::{DeviceLine, NetworkLine, QueueLine, Report, SupplyLine};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The supplies counted since their last refill.
pub const SUPPLIES: [&str; 2] = ["receipt_paper", "cards"];

fn supplies_file(data_dir: &Path) -> PathBuf {
    data_dir.join("supplies.json")
}

/// Used since the last refill, by supply.
pub fn supplies(data_dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read(supplies_file(data_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Counts one more of `supply` used (`None` resets it: refilled).
pub fn count(data_dir: &Path, supply: &str, one_more: bool) -> std::io::Result<()> {
    let mut all = supplies(data_dir);
    let n = all.entry(supply.to_owned()).or_default();
    *n = if one_more { *n + 1 } else { 0 };
    let body = serde_json::to_vec(&all).map_err(std::io::Error::other)?;
    durable_fs::write_atomic(&supplies_file(data_dir), &body)
}

/// Gathers the menu's report.
pub fn report(
    config: &Config,
    catalogue_version: u64,
    disk_free_bytes: u64,
    now_ms: i64,
) -> Report {
    let devices = sync_agent::agent::device_reports(&config.data_dir)
        .into_iter()
        .map(|d| DeviceLine {
            device: d.device,
            state: d.state,
            detail: d
                .detail
                .get("class")
                .map_or_else(String::new, |c| c.to_string()),
        })
        .collect();
    let queue = kiosk_store::sync::queue_counts(&config.data_dir, now_ms)
        .map(|q| QueueLine {
            pending: q.pending,
            in_flight: q.in_flight,
            delivered: q.delivered,
            dead: q.dead,
            oldest_pending_age_s: q.oldest_pending_age_s,
        })
        .unwrap_or_default();
    let until = config
        .backend
        .as_ref()
        .and_then(|b| sync_protocol::tls::not_after_s(&b.cert).ok());
    let network = NetworkLine {
        backend: config
            .backend
            .as_ref()
            .map_or_else(|| "none configured".to_owned(), |b| b.url.clone()),
        certificate_until: until
            .map(|s| application::time::iso(application::time::local_date(s * 1000))),
        certificate_days_left: until.map(|s| (s * 1000 - now_ms).div_euclid(86_400_000)),
    };
    let used = supplies(&config.data_dir);
    Report {
        terminal: config.terminal.id.clone(),
        office: config.terminal.office.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        catalogue_version,
        devices,
        queue,
        network,
        supplies: SUPPLIES
            .iter()
            .map(|s| SupplyLine {
                supply: (*s).to_owned(),
                used: used.get(*s).copied().unwrap_or(0),
            })
            .collect(),
        disk_free_bytes,
    }
}

/// Writes diagnostics to the USB drive: the report, each device's status file and the store's
/// check (counts and the audit chain's state). Returns the folder written.
pub fn export(
    config: &Config,
    report: &Report,
    store_check: &kiosk_store::Report,
    now_ms: i64,
) -> Result<PathBuf, String> {
    let usb = &config.maintenance.export_dir;
    if !usb.is_dir() {
        return Err(format!("no USB drive at {}", usb.display()));
    }
    let stamp = application::time::local_minute(now_ms)
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    let folder = usb.join(format!("kiosk-{}-{stamp}", config.terminal.id));
    let io = |e: std::io::Error| format!("{}: {e}", folder.display());
    durable_fs::create_dir_all(&folder.join("status")).map_err(io)?;
    let write = |name: &str, body: Vec<u8>| durable_fs::write_atomic(&folder.join(name), &body);
    write("report.json", pretty(report)).map_err(io)?;
    // Counts only: the numbers of incomplete applications stay on the kiosk.
    let check = serde_json::json!({
        "integrity": store_check.integrity,
        "applications": store_check.applications,
        "outbox_pending": store_check.outbox_pending,
        "outbox_matches": store_check.outbox_matches,
        "audit_chain": store_check.audit_chain,
        "incomplete": store_check.incomplete.len(),
    });
    write("store-check.json", pretty(&check)).map_err(io)?;
    if let Ok(dir) = std::fs::read_dir(config.data_dir.join("status")) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json")
                && let Ok(body) = std::fs::read(entry.path())
            {
                write(&format!("status/{name}"), body).map_err(io)?;
            }
        }
    }
    Ok(folder)
}

fn pretty<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}
