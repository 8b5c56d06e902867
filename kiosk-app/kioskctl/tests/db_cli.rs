//! `kioskctl db` and `kioskctl catalog` as a technician and the crash test use them.

mod common;

use application::ApplicationNumber;
use common::{failure, json};
use kiosk_store::{Config, KeyFile, Store};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const KIOSKCTL: &str = env!("CARGO_BIN_EXE_kioskctl");

fn run(args: &[&str]) -> Output {
    Command::new(KIOSKCTL).args(args).output().unwrap()
}

struct DataDir {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    key: PathBuf,
}

impl DataDir {
    /// An initialised data directory, its key kept outside it as on a production kiosk.
    fn init() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let key = tmp.path().join("store.key");
        let d = DataDir {
            data,
            key,
            _tmp: tmp,
        };
        let out = json(&d.run(&["db", "init"]));
        assert_eq!(out["catalogue_version"], 1);
        assert_eq!(out["terminal"], "10001");
        d
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = args.to_vec();
        v.extend([
            "--data-dir",
            self.data.to_str().unwrap(),
            "--key-file",
            self.key.to_str().unwrap(),
        ]);
        v
    }

    fn run(&self, args: &[&str]) -> Output {
        run(&self.args(args))
    }

    fn open(&self) -> Store {
        Store::open(Config::new(&self.data, "10001"), &KeyFile(self.key.clone())).unwrap()
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn submitted_demo_applications_are_numbered_verified_and_a_broken_audit_chain_is_reported() {
    let d = DataDir::init();
    let out = d.run(&["db", "submit-demo", "--count", "5", "--seed", "1"]);
    assert!(out.status.success(), "{out:?}");
    let numbers: Vec<ApplicationNumber> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| ApplicationNumber::parse(l).unwrap())
        .collect();
    assert_eq!(numbers.len(), 5);
    assert_eq!(numbers.iter().collect::<HashSet<_>>().len(), 5);
    let report = json(&d.run(&["db", "verify", "--json"]));
    assert_eq!(report["integrity"], "ok");
    assert_eq!(report["applications"], 5);
    assert_eq!(report["outbox_pending"], 5);
    assert_eq!(report["audit_chain"], "ok");
    let data = d.data.to_str().unwrap();
    let sync = json(&run(&["sync", "status", "--data-dir", data, "--json"]));
    assert_eq!(
        (
            &sync["pending"],
            &sync["in_flight"],
            &sync["delivered"],
            &sync["dead"]
        ),
        (&5.into(), &0.into(), &0.into(), &0.into()),
        "{sync}"
    );
    assert!(sync["oldest_pending_age_s"].as_f64().unwrap() >= 0.0);

    rusqlite::Connection::open(d.data.join("kiosk.db"))
        .unwrap()
        .execute("UPDATE audit SET at_ms = at_ms + 1 WHERE seq = 2", [])
        .unwrap();
    let out = d.run(&["db", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(1), "problems found: exit 1");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["audit_chain"], "entry 2 was altered");

    let missing = run(&["db", "verify", "--data-dir", "/nonexistent/kiosk"]);
    assert!(failure(&missing).contains("not an initialised data directory"));
}

#[test]
fn no_citizen_name_or_id_number_is_in_clear_in_any_file_of_the_data_directory() {
    let d = DataDir::init();
    let out = d.run(&["db", "submit-demo", "--count", "40", "--seed", "2"]);
    assert!(out.status.success(), "{out:?}");
    let store = d.open();
    let mut secrets = HashSet::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let app = store
            .application(&ApplicationNumber::parse(line).unwrap())
            .unwrap();
        let who = &app.draft.applicant;
        secrets.insert(who.name.clone());
        secrets.insert(who.id_number.clone());
        secrets.extend(who.address.clone());
        for v in app
            .draft
            .form
            .iter()
            .filter(|v| v.field.ends_with("phone") || v.field.ends_with("id_number"))
        {
            secrets.insert(v.value.clone());
        }
    }
    drop(store);
    assert!(secrets.len() > 40, "{} distinct values", secrets.len());
    let files = files_under(&d.data);
    assert!(files.iter().any(|f| f.ends_with("kiosk.db")));
    assert!(
        files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "page"))
            .count()
            > 40
    );
    let needles: Vec<(String, Vec<u8>)> = secrets
        .iter()
        .flat_map(|s| {
            let utf16: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            [(s.clone(), s.as_bytes().to_vec()), (s.clone(), utf16)]
        })
        .collect();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for (s, needle) in &needles {
            assert!(
                memchr::memmem::find(&bytes, needle).is_none(),
                "{s} is in clear in {}",
                file.display()
            );
        }
    }
}

#[test]
fn catalogues_are_signed_validated_and_installed_only_when_newer_and_intact() {
    let d = DataDir::init();
    let tmp = d._tmp.path();
    let key = tmp.join("central.key");
    let public = json(&run(&[
        "catalog",
        "keygen",
        "--out",
        key.to_str().unwrap(),
        "--key-id",
        "central-sm2",
        "--algorithm",
        "sm2",
    ]));
    assert_eq!(public["algorithm"], "sm2");
    let trust = tmp.join("trusted.json");
    std::fs::write(&trust, serde_json::to_vec(&[public]).unwrap()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../catalogue/sample/catalogue.json");
    let text = std::fs::read_to_string(&sample).unwrap();
    let v2 = tmp.join("v2.json");
    std::fs::write(&v2, text.replacen("\"version\": 1,", "\"version\": 2,", 1)).unwrap();
    let signed = tmp.join("v2.signed.json");
    let out = run(&[
        "catalog",
        "sign",
        v2.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--output",
        signed.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let ok = json(&run(&[
        "catalog",
        "validate",
        signed.to_str().unwrap(),
        "--trust",
        trust.to_str().unwrap(),
    ]));
    assert_eq!(
        (
            ok["valid"].as_bool(),
            ok["signed"].as_bool(),
            ok["version"].as_u64()
        ),
        (Some(true), Some(true), Some(2))
    );
    assert!(ok["items"].as_u64().unwrap() >= 40);
    // Not trusted by the kiosk's default (development) trust store.
    assert!(
        failure(&run(&["catalog", "validate", signed.to_str().unwrap()]))
            .contains("does not trust")
    );

    let broken = tmp.join("broken.json");
    std::fs::write(
        &broken,
        text.replacen("\"department\": \"", "\"department\": \"x-", 1),
    )
    .unwrap();
    let why = failure(&run(&["catalog", "validate", broken.to_str().unwrap()]));
    assert!(why.contains("which is not defined"), "{why}");
    let refused = run(&[
        "catalog",
        "sign",
        broken.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--output",
        tmp.join("x").to_str().unwrap(),
    ]);
    assert!(
        failure(&refused).contains("not signed"),
        "an invalid catalogue is not signed"
    );

    let mut install = d.args(&["catalog", "install", signed.to_str().unwrap()]);
    install.extend(["--trust", trust.to_str().unwrap()]);
    // The data directory's catalogue was signed with the development key: trust both.
    let both = tmp.join("both.json");
    let mut keys: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&trust).unwrap()).unwrap();
    keys.extend(
        serde_json::from_str::<Vec<serde_json::Value>>(catalogue::sample::TRUSTED_KEYS).unwrap(),
    );
    std::fs::write(&both, serde_json::to_vec(&keys).unwrap()).unwrap();
    *install.last_mut().unwrap() = both.to_str().unwrap();
    assert_eq!(json(&run(&install))["installed"], 2);
    let again = failure(&run(&install));
    assert!(again.contains("not newer"), "{again}");
}

/// The crash test. A child `kioskctl db submit-demo` is killed with SIGKILL at a random moment,
/// hundreds of times over one data directory. After each kill the store must open (recovering
/// the WAL), pass `integrity_check`, keep every application whose number the child printed with
/// every page, keep one outbox entry per application, keep the audit chain whole, and hold no
/// page file that no application names. `KIOSK_CRASH_ITERATIONS` sets the count (default 300).
#[test]
fn every_printed_application_survives_sigkill_at_any_point() {
    let iterations: u64 = std::env::var("KIOSK_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let d = DataDir::init();
    let mut printed: Vec<ApplicationNumber> = Vec::new();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut killed_mid_run = 0;
    for i in 0..iterations {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = Duration::from_micros(state % 150_000);
        let mut child = Command::new(KIOSKCTL)
            .args(d.args(&[
                "db",
                "submit-demo",
                "--count",
                "1000000",
                "--seed",
                &i.to_string(),
            ]))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        std::thread::sleep(delay);
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed_mid_run += 1;
        }
        let lines = reader.join().unwrap();
        let fresh: Vec<ApplicationNumber> = lines
            .iter()
            .map(|l| ApplicationNumber::parse(l).unwrap())
            .collect();

        let store = d.open();
        let report = store.verify().unwrap();
        assert_eq!(report.integrity, "ok", "after kill {i}");
        assert_eq!(report.audit_chain, "ok", "after kill {i}");
        assert!(report.outbox_matches, "after kill {i}");
        assert!(
            report.incomplete.is_empty(),
            "after kill {i}: {:?}",
            report.incomplete
        );
        for number in &fresh {
            let app = store
                .application(number)
                .unwrap_or_else(|e| panic!("{number} printed but lost: {e}"));
            let pages = store.pages(&app).unwrap();
            assert_eq!(pages.len(), app.page_files().count(), "{number}");
        }
        printed.extend(fresh);
        assert!(
            report.applications as usize >= printed.len(),
            "after kill {i}"
        );
        if i % 25 == 0 || i + 1 == iterations {
            // Everything printed so far is still there, and no page file is an orphan.
            let mut named = HashSet::new();
            for number in &printed {
                named.extend(
                    store
                        .application(number)
                        .unwrap()
                        .page_files()
                        .map(|p| p.file.clone()),
                );
            }
            let on_disk: HashSet<String> = std::fs::read_dir(d.data.join("pages"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            let unprinted_files = on_disk.difference(&named).count();
            let unprinted_apps = report.applications as usize - printed.len();
            assert!(
                unprinted_files == 0 || unprinted_apps > 0,
                "after kill {i}: {unprinted_files} page files no application names"
            );
        }
    }
    eprintln!(
        "{iterations} kills, {killed_mid_run} by SIGKILL mid-run, {} applications printed and all present",
        printed.len()
    );
    assert!(
        killed_mid_run as u64 > iterations * 9 / 10,
        "the child was killed while working"
    );
    assert!(
        printed.len() as u64 > iterations,
        "the kills fell between and within submissions"
    );
}

#[test]
fn a_store_sealed_with_sm4_gcm_works_the_same_and_purge_reports_what_it_erased() {
    let tmp = tempfile::tempdir().unwrap();
    let d = DataDir {
        data: tmp.path().join("data"),
        key: tmp.path().join("store.key"),
        _tmp: tmp,
    };
    json(&d.run(&["db", "init", "--cipher", "sm4-gcm"]));
    let sealed_with: String = rusqlite::Connection::open(d.data.join("kiosk.db"))
        .unwrap()
        .query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        sealed_with.starts_with("0102"),
        "format 1, cipher 2 (SM4-GCM): {sealed_with}"
    );
    let out = d.run(&["db", "submit-demo", "--count", "3", "--seed", "5"]);
    assert!(out.status.success(), "{out:?}");
    let report = json(&d.run(&["db", "verify", "--json"]));
    assert_eq!(
        (
            report["applications"].as_u64(),
            report["audit_chain"].as_str()
        ),
        (Some(3), Some("ok"))
    );
    let purged = json(&d.run(&["db", "purge", "--retention-days", "0"]));
    assert_eq!(
        purged["applications"],
        serde_json::json!([]),
        "nothing delivered, nothing erased"
    );
}
