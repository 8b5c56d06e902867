//! `kiosk-app --check`: the technician's way to check a configuration file before a restart.

use std::process::Command;

const EXAMPLE: &str = include_str!("../../../packaging/kiosk.example.toml");

/// Checks `text`, with the files it names under `/etc/kiosk/` made in a temporary directory.
fn check(text: &str) -> (Option<i32>, String) {
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
fn the_example_passes_and_a_broken_file_fails_naming_each_key() {
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
