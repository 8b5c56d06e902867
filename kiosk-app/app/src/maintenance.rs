//! The runtime's side of maintenance mode: the menu's report, device self-tests, supply
//! counters and the diagnostics export to a USB drive. Nothing here reads citizen data: the
//! report is built from device status files, the outbox's counts, the certificate, the
//! counters and the store's own check (counts only).

use crate::config::Config;
use session::maintenance::{DeviceLine, NetworkLine, QueueLine, Report, SupplyLine};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The supplies counted since their last refill.
pub const SUPPLIES: [&str; 3] = ["receipt_paper", "cards", "a4_paper"];

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
    let contact: serde_json::Value =
        std::fs::read(config.data_dir.join(sync_agent::agent::SYNC_STATUS))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
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
        last_contact_s: contact["last_contact_ms"]
            .as_i64()
            .map(|ms| (now_ms - ms).div_euclid(1000)),
        last_error: contact["last_error"].as_str().map(str::to_owned),
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
        configuration: configuration(config),
    }
}

/// The configuration as `key: value` lines, leaving out what is secret or personal (the
/// store key's and the TLS key's paths are shown; the PIN and card hashes are not).
fn configuration(config: &Config) -> Vec<String> {
    let d = &config.devices;
    let port = |p: &Path| p.display().to_string();
    let mut lines = vec![
        format!("data_dir: {}", config.data_dir.display()),
        format!("trust: {}", config.trust.display()),
        format!(
            "terminal: {} {}",
            config.terminal.id, config.terminal.office
        ),
        format!("progress_url: {}", config.terminal.progress_url),
    ];
    let fitted: [(&str, Option<String>); 6] = [
        ("id_reader", d.id_reader.as_ref().map(|s| port(&s.port))),
        (
            "receipt_printer",
            d.receipt_printer
                .as_ref()
                .map(|p| format!("{} ({})", port(&p.port), p.profile)),
        ),
        ("dispenser", d.dispenser.as_ref().map(|s| port(&s.port))),
        ("camera", d.camera.as_ref().map(|c| port(&c.device))),
        (
            "a4_printer",
            d.a4_printer
                .as_ref()
                .map(|a| format!("{} on {}", a.queue, a.server)),
        ),
        (
            "speaker",
            d.speaker
                .as_ref()
                .map(|s| format!("{} at {} wpm", port(&s.program), s.rate)),
        ),
    ];
    for (device, at) in fitted {
        lines.push(format!(
            "devices.{device}: {}",
            at.unwrap_or_else(|| "not fitted".into())
        ));
    }
    let t = &config.timeouts;
    lines.push(format!(
        "timeouts: screen {} s, form {} s, goodbye {} s, warning {} s",
        t.screen_s, t.form_s, t.goodbye_s, t.warning_s
    ));
    let ui = &config.ui;
    lines.push(format!(
        "ui: languages {:?}, large text {}, theme {}, voice {}",
        ui.languages, ui.large_text, ui.theme, ui.voice
    ));
    lines.push(format!(
        "maintenance: PIN {}, {} technician cards, lockout after {} for {} s",
        if config.maintenance.pin_hash.is_some() {
            "set"
        } else {
            "not set"
        },
        config.maintenance.technician_cards.len(),
        config.maintenance.max_failures,
        config.maintenance.lockout_s
    ));
    lines
}

/// Writes diagnostics to the USB drive: the report, each device's status file, the store's
/// check (counts and the audit chain's state) and the log files. Returns the folder written.
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
    for (name, body) in status_files(&config.data_dir) {
        write(&format!("status/{name}"), body).map_err(io)?;
    }
    durable_fs::create_dir_all(&folder.join("logs")).map_err(io)?;
    for file in crate::logs::files(&config.data_dir) {
        if let (Some(name), Ok(body)) = (file.file_name(), std::fs::read(&file)) {
            write(&format!("logs/{}", name.to_string_lossy()), body).map_err(io)?;
        }
    }
    Ok(folder)
}

/// Each device's status file: its name and bytes.
fn status_files(data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(data_dir.join("status"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let body = std::fs::read(entry.path()).ok()?;
                    name.ends_with(".json").then_some((name, body))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// How much of the logs a bundle for the central office carries.
const BUNDLE_LOG_BYTES: usize = 2 << 20;

/// Leaves a log bundle for the central office (`collect_logs`) in `DATA_DIR/uploads/`, where
/// the sync agent sends it from: the report, each device's status and the end of the logs.
/// Returns its path.
pub fn log_bundle(config: &Config, report: &Report, now_ms: i64) -> Result<PathBuf, String> {
    let status: serde_json::Map<String, serde_json::Value> = status_files(&config.data_dir)
        .into_iter()
        .filter_map(|(name, body)| Some((name, serde_json::from_slice(&body).ok()?)))
        .collect();
    let bundle = serde_json::json!({
        "terminal": config.terminal.id,
        "created_ms": now_ms,
        "report": report,
        "status": status,
        "logs": crate::logs::tail(&config.data_dir, BUNDLE_LOG_BYTES),
    });
    let dir = config.data_dir.join(sync_agent::agent::UPLOADS);
    let path = dir.join(format!("logs-{now_ms}.json"));
    durable_fs::create_dir_all(&dir)
        .and_then(|()| durable_fs::write_atomic(&path, &pretty(&bundle)))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // Asked again and again while the network is down: only the newest few wait, so they
    // cannot fill the disk.
    keep_newest(&dir, BUNDLES_KEPT);
    Ok(path)
}

/// Removes all but the `n` last files of `dir` by name (bundles are named by their time).
fn keep_newest(dir: &Path, n: usize) {
    let mut waiting: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    waiting.sort();
    for old in waiting.iter().rev().skip(n) {
        if let Err(e) = std::fs::remove_file(old) {
            tracing::warn!(path = %old.display(), error = %e, "old log bundle not removed");
        }
    }
}

/// Log bundles kept waiting for the sync agent at the most.
const BUNDLES_KEPT: usize = 3;

fn pretty<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_log_bundles_wait() {
        let dir = tempfile::tempdir().unwrap();
        for ms in [
            1_765_000_000_003_u64,
            1_765_000_000_001,
            1_765_000_000_004,
            1_765_000_000_002,
        ] {
            std::fs::write(dir.path().join(format!("logs-{ms}.json")), "{}").unwrap();
        }
        keep_newest(dir.path(), BUNDLES_KEPT);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "logs-1765000000002.json",
                "logs-1765000000003.json",
                "logs-1765000000004.json"
            ]
        );
    }
}
