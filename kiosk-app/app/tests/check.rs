//! The kiosk's configuration file: what `Config::load` accepts and refuses, and
//! `kiosk-app --check`, the technician's way to check a file before a restart.

use std::path::{Path, PathBuf};
use std::process::Command;

use kiosk_app::Config;
use kiosk_app::config::ConfigError;
use tempfile::TempDir;

const EXAMPLE: &str = include_str!("../../../packaging/kiosk.example.toml");

/// `text` written as `kiosk.toml` in a temporary directory, with the files it names under
/// `/etc/kiosk/` (keys, certificates) made there instead.
fn in_temp_dir(text: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let text = text.replace("/etc/kiosk/", &format!("{}/", dir.path().display()));
    for file in [
        "pki/ca.pem",
        "pki/kiosk.pem",
        "pki/kiosk.key",
        "trusted-keys.json",
    ] {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
    }
    let path = dir.path().join("kiosk.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn load(text: &str) -> Result<Config, ConfigError> {
    let (_dir, path) = in_temp_dir(text);
    Config::load(&path)
}

/// Runs `kiosk-app --check` on `text`: its exit status and what it wrote to standard error.
fn check(text: &str) -> (Option<i32>, String) {
    let (_dir, path) = in_temp_dir(text);
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk-app"))
        .arg("--check")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_packaged_example_is_valid() {
    let c = load(EXAMPLE).unwrap();
    assert!(c.devices.id_reader.is_some() && c.backend.is_some());
    assert!(c.devices.a4_printer.is_some() && c.devices.speaker.is_some());
    assert!(c.store_key().ends_with("store.key"));
}

#[test]
fn an_unknown_key_names_its_line() {
    let text = EXAMPLE.replace("[timeouts]", "[timeouts]\nscreen_seconds = 90");
    let e = load(&text).unwrap_err().to_string();
    assert!(e.contains("screen_seconds") && e.contains("line"), "{e}");
}

#[test]
fn every_bad_value_is_reported_at_once() {
    let text = EXAMPLE
        .replace("progress_url = \"https://", "progress_url = \"http://")
        .replace("profile = \"custom-kiosk\"", "profile = \"laser\"")
        .replace("screen_s = 90", "screen_s = 5")
        .replace("baud = 115200", "baud = 1234")
        .replace(
            "# pin_hash = \"$argon2id$v=19$...\"",
            "pin_hash = \"246810\"",
        )
        .replace(
            "technician_cards = []",
            "technician_cards = [\"11010519491231002X\"]",
        )
        .replace("pki/kiosk.key", "pki/missing.key")
        .replace("review = 180", "review = 180\nreceipts = 60")
        .replace("rate = 140", "rate = 20");
    let Err(ConfigError::Invalid { problems, .. }) = load(&text) else {
        panic!("accepted");
    };
    let keys: Vec<&str> = problems
        .iter()
        .map(|p| p.split(':').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "terminal.progress_url",
            "devices.id_reader.baud",
            "devices.receipt_printer.profile",
            "devices.speaker.rate",
            "backend.key",
            "timeouts.screen_s",
            "timeouts.screens.receipts",
            "timeouts.warning_s",
            "maintenance.pin_hash",
            "maintenance.technician_cards"
        ],
        "{problems:?}"
    );
}

#[test]
fn a_missing_file_says_which() {
    let e = Config::load(Path::new("/nonexistent/kiosk.toml")).unwrap_err();
    assert!(
        e.to_string().starts_with("/nonexistent/kiosk.toml: "),
        "{e}"
    );
}

#[test]
fn check_passes_the_example_and_fails_a_broken_file_naming_each_key() {
    assert_eq!(check(EXAMPLE), (Some(0), String::new()));
    let broken = EXAMPLE
        .replace("theme = \"day\"", "theme = \"pink\"")
        .replace("goodbye_s = 20", "goodbye_s = 1");
    let (code, stderr) = check(&broken);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("timeouts.goodbye_s") && stderr.contains("ui.theme"),
        "{stderr}"
    );
}
