//! The store as the kiosk uses it: what is saved reads back whole, nothing personal is on the
//! disk in clear, the 容缺 and reuse rules hold, purges erase, and every kind of damage is
//! reported instead of being silently reset.

use application::{Draft, MaterialEntry, Provided, Status, time};
use catalogue::Delivery;
use catalogue::{Catalogue, sample};
use kiosk_store::{CapturedMaterial, Config, KeyFile, Refusal, Store, StoreError};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// 2026-11-22 00:30 in Beijing.
const NOW: i64 = 1_795_278_600_000;
const DAY: i64 = 86_400_000;

struct Kiosk {
    _dir: tempfile::TempDir,
    data: PathBuf,
    key: PathBuf,
    catalogue: Catalogue,
}

impl Kiosk {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let key = dir.path().join("store.key");
        KeyFile::create(&key).unwrap();
        Kiosk {
            data,
            key,
            catalogue: sample::catalogue().unwrap(),
            _dir: dir,
        }
    }

    fn config(&self) -> Config {
        Config::new(&self.data, sample::LOBBY_TERMINAL)
    }

    fn open(&self) -> Store {
        Store::create(self.config(), &KeyFile(self.key.clone())).unwrap()
    }

    /// A complete demo application from `seed`, accepted by the catalogue's rules.
    fn draft(&self, store: &Store, seed: u64) -> (Draft, Vec<CapturedMaterial>) {
        let mut rng = demo_data::Rng::new(seed);
        demo_data::application(
            &self.catalogue,
            sample::LOBBY_TERMINAL,
            store,
            &mut rng,
            &pages(),
            NOW,
        )
        .unwrap()
    }
}

fn pages() -> Vec<Vec<u8>> {
    (0..3u8).map(|n| vec![n; 2000 + usize::from(n)]).collect()
}

fn page_files(data: &Path) -> usize {
    std::fs::read_dir(data.join("pages")).unwrap().count()
}

#[test]
fn a_saved_application_reads_back_whole_with_its_pages_and_outbox_entry() {
    let k = Kiosk::new();
    let mut store = k.open();
    for seed in 0..6 {
        let (draft, captured) = k.draft(&store, seed);
        let images: Vec<Vec<u8>> = captured
            .iter()
            .flat_map(|c| c.pages.iter().map(|p| p.to_vec()))
            .collect();
        let (name, id_number, form) = (
            draft.applicant.name.clone(),
            draft.applicant.id_number.clone(),
            draft.form.clone(),
        );
        let saved = store.submit(&k.catalogue, draft, captured, NOW).unwrap();
        assert_eq!(saved.number.terminal(), sample::LOBBY_TERMINAL);
        let app = store.application(&saved.number).unwrap();
        assert_eq!(
            (app.draft.applicant.name.as_str(), app.draft.form.clone()),
            (name.as_str(), form)
        );
        assert_eq!(app.status(), Some(&Status::Saved));
        assert_eq!(app.items, saved.items);
        let read: Vec<Vec<u8>> = store
            .pages(&app)
            .unwrap()
            .into_iter()
            .filter(|(m, _)| {
                app.draft
                    .materials
                    .iter()
                    .any(|e| &e.material == m && matches!(e.provided, Provided::Captured { .. }))
            })
            .map(|(_, p)| p.to_vec())
            .collect();
        assert_eq!(read, images);
        assert!(
            store
                .applications_of(&id_number)
                .unwrap()
                .iter()
                .any(|(n, _)| *n == saved.number)
        );
    }
    let report = store.verify().unwrap();
    assert_eq!(
        (report.integrity.as_str(), report.audit_chain.as_str()),
        ("ok", "ok")
    );
    assert_eq!(
        (
            report.applications,
            report.outbox_pending,
            report.outbox_matches
        ),
        (6, 6, true)
    );
    assert!(report.incomplete.is_empty());
    drop(store);
    assert_eq!(
        k.open().verify().unwrap().applications,
        6,
        "all there after reopening"
    );
}

/// A draft whose plan has a material matching `want`, with every material removed.
fn draft_with(
    k: &Kiosk,
    store: &Store,
    want: impl Fn(&catalogue::PlannedMaterial) -> bool,
) -> (Draft, String) {
    for seed in 0..500 {
        let (mut draft, _) = k.draft(store, seed);
        let plan = k
            .catalogue
            .plan(sample::LOBBY_TERMINAL, &draft.choice(), &draft.answers())
            .unwrap();
        if let Some(m) = plan.materials.iter().find(|m| want(m)) {
            draft.materials.clear();
            return (draft, m.material.id.clone());
        }
    }
    panic!("no demo application has such a material");
}

/// Provides every material of the draft's plan except `except`: captured (one page).
fn capture_all_but(k: &Kiosk, draft: &Draft, except: &str) -> Vec<CapturedMaterial> {
    let plan = k
        .catalogue
        .plan(sample::LOBBY_TERMINAL, &draft.choice(), &draft.answers())
        .unwrap();
    plan.materials
        .iter()
        .filter(|m| {
            m.material.id != except && !draft.materials.iter().any(|e| e.material == m.material.id)
        })
        .map(|m| CapturedMaterial {
            material: m.material.id.clone(),
            pages: vec![Zeroizing::new(vec![1; 500])],
        })
        .collect()
}

fn refusal(result: Result<application::ApplicationNumber, StoreError>) -> Refusal {
    match result {
        Err(StoreError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn rongque_lets_a_material_be_missing_only_where_allowed_and_within_the_deadline() {
    let k = Kiosk::new();
    let mut store = k.open();
    let today = time::local_date(NOW);
    let submit = |store: &mut Store, draft: Draft, captured| {
        store
            .submit(&k.catalogue, draft, captured, NOW)
            .map(|s| s.number)
    };

    let (mut draft, id) = draft_with(&k, &store, |m| m.required && m.rongque_deadline().is_none());
    let captured = capture_all_but(&k, &draft, &id);
    assert_eq!(
        refusal(submit(
            &mut store,
            draft.clone(),
            capture_all_but(&k, &draft, &id)
        )),
        Refusal::MaterialMissing(id.clone())
    );
    draft.materials.push(MaterialEntry {
        material: id.clone(),
        provided: Provided::Missing {
            deadline: time::iso(today),
        },
    });
    assert_eq!(
        refusal(submit(&mut store, draft, captured)),
        Refusal::NoRongque(id)
    );

    let (mut draft, id) = draft_with(&k, &store, |m| m.required && m.rongque_deadline().is_some());
    let days = k
        .catalogue
        .material(&id)
        .unwrap()
        .rongque
        .unwrap()
        .deadline_days;
    let allowed = time::iso(time::add_working_days(today, days));
    let late = time::iso(time::add_working_days(today, days + 1));
    draft.materials.push(MaterialEntry {
        material: id.clone(),
        provided: Provided::Missing {
            deadline: late.clone(),
        },
    });
    assert_eq!(
        refusal(submit(
            &mut store,
            draft.clone(),
            capture_all_but(&k, &draft, &id)
        )),
        Refusal::DeadlineTooLate {
            material: id.clone(),
            deadline: late,
            allowed: allowed.clone()
        }
    );
    draft.materials[0].provided = Provided::Missing {
        deadline: time::iso(today),
    };
    assert!(
        matches!(
            refusal(submit(
                &mut store,
                draft.clone(),
                capture_all_but(&k, &draft, &id)
            )),
            Refusal::DeadlineTooLate { .. }
        ),
        "a promise must give at least until tomorrow"
    );
    draft.materials[0].provided = Provided::Missing {
        deadline: allowed.clone(),
    };
    let mut no_consent = draft.clone();
    no_consent.consents.processing = false;
    assert_eq!(
        refusal(submit(&mut store, no_consent, vec![])),
        Refusal::NoConsent
    );
    let captured = capture_all_but(&k, &draft, &id);
    let number = submit(&mut store, draft, captured).unwrap();
    let app = store.application(&number).unwrap();
    let missing = app
        .draft
        .materials
        .iter()
        .find(|m| m.material == id)
        .unwrap();
    assert_eq!(missing.provided, Provided::Missing { deadline: allowed });
    assert_eq!(
        store.verify().unwrap().applications,
        1,
        "the refusals saved nothing"
    );
    assert_eq!(
        page_files(&k.data),
        app.page_files().count(),
        "nor left page files"
    );
}

#[test]
fn a_stored_material_is_offered_again_only_with_consent_within_validity_and_to_its_owner() {
    let k = Kiosk::new();
    let mut store = k.open();
    let (mut draft, id) = draft_with(&k, &store, |m| {
        m.material.reusable && m.material.validity_days.is_some()
    });
    let validity = i64::from(k.catalogue.material(&id).unwrap().validity_days.unwrap());
    let owner = draft.applicant.id_number.clone();
    let stranger = demo_data::applicant(999_999);

    draft.consents.store_for_reuse = false;
    let captured = capture_all_but(&k, &draft, "");
    store
        .submit(&k.catalogue, draft.clone(), captured, NOW)
        .unwrap();
    assert!(
        store.reusable_materials(&owner, NOW).unwrap().is_empty(),
        "no consent, nothing kept"
    );

    draft.consents.store_for_reuse = true;
    let captured = capture_all_but(&k, &draft, "");
    store
        .submit(&k.catalogue, draft.clone(), captured, NOW)
        .unwrap();
    let offered = store.reusable_materials(&owner, NOW + DAY).unwrap();
    let copy = offered
        .iter()
        .find(|m| m.material == id)
        .expect("offered again")
        .clone();
    assert!(
        store
            .reusable_materials(&stranger.id_number, NOW)
            .unwrap()
            .is_empty()
    );

    let reuse = |d: &Draft| {
        let mut d = d.clone();
        d.materials.push(MaterialEntry {
            material: id.clone(),
            provided: Provided::Reused {
                stored: copy.id.clone(),
                captured_at_ms: 0,
                trust: copy.trust,
                pages: vec![],
            },
        });
        d
    };
    let reused = reuse(&draft);
    let captured = capture_all_but(&k, &reused, &id);
    let number = store
        .submit(&k.catalogue, reused, captured, NOW + DAY)
        .unwrap()
        .number;
    let app = store.application(&number).unwrap();
    let entry = app
        .draft
        .materials
        .iter()
        .find(|m| m.material == id)
        .unwrap();
    assert!(
        matches!(&entry.provided, Provided::Reused { pages, captured_at_ms, .. } if *pages == copy.pages && *captured_at_ms == NOW)
    );
    assert!(
        store.pages(&app).unwrap().iter().any(|(m, _)| *m == id),
        "the reused pages open"
    );

    let expired = NOW + (validity + 1) * DAY;
    assert!(
        store
            .reusable_materials(&owner, expired)
            .unwrap()
            .iter()
            .all(|m| m.material != id)
    );
    let late = reuse(&draft);
    let captured = capture_all_but(&k, &late, &id);
    assert_eq!(
        refusal(
            store
                .submit(&k.catalogue, late, captured, expired)
                .map(|s| s.number)
        ),
        Refusal::ReuseInvalid(copy.id.clone())
    );
    let mut theirs = reuse(&draft);
    theirs.applicant = stranger;
    let captured = capture_all_but(&k, &theirs, &id);
    assert_eq!(
        refusal(
            store
                .submit(&k.catalogue, theirs, captured, NOW)
                .map(|s| s.number)
        ),
        Refusal::ReuseInvalid(copy.id.clone())
    );
}

#[test]
fn delivered_applications_past_retention_are_erased_with_their_pages() {
    let k = Kiosk::new();
    let mut store = k.open();
    let mut numbers = Vec::new();
    for seed in 0..4 {
        let (mut draft, captured) = k.draft(&store, seed);
        draft.consents.store_for_reuse = false;
        numbers.push(
            store
                .submit(&k.catalogue, draft, captured, NOW)
                .unwrap()
                .number,
        );
    }
    let files_before = page_files(&k.data);
    let first = store.application(&numbers[0]).unwrap();
    store
        .record_status(&numbers[0], Status::Delivered, NOW + DAY)
        .unwrap();
    let report = store.purge(NOW + 20 * DAY, 30 * DAY).unwrap();
    assert!(report.applications.is_empty(), "not yet past retention");
    let report = store.purge(NOW + 40 * DAY, 30 * DAY).unwrap();
    assert_eq!(report.applications, [numbers[0].to_string()]);
    assert_eq!(report.files as usize, first.page_files().count());
    assert_eq!(
        page_files(&k.data),
        files_before - first.page_files().count()
    );
    assert!(matches!(
        store.application(&numbers[0]),
        Err(StoreError::NotFound(_))
    ));
    let report = store.verify().unwrap();
    assert_eq!(
        (
            report.applications,
            report.outbox_pending,
            report.outbox_matches
        ),
        (3, 3, true)
    );
    assert_eq!(report.audit_chain, "ok");
}

#[test]
fn an_altered_removed_or_cut_off_audit_entry_breaks_the_chain() {
    let k = Kiosk::new();
    {
        let mut store = k.open();
        for seed in 0..3 {
            let (draft, captured) = k.draft(&store, seed);
            store.submit(&k.catalogue, draft, captured, NOW).unwrap();
        }
        assert_eq!(store.verify().unwrap().audit_chain, "ok");
    }
    let db = k.data.join("kiosk.db");
    let tamper = |sql: &str| {
        let copy = k._dir.path().join("copy");
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::create_dir_all(copy.join("pages")).unwrap();
        {
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.execute(
                &format!("VACUUM INTO '{}'", copy.join("kiosk.db").display()),
                [],
            )
            .unwrap();
        }
        rusqlite::Connection::open(copy.join("kiosk.db"))
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        let store = Store::open(
            Config::new(&copy, sample::LOBBY_TERMINAL),
            &KeyFile(k.key.clone()),
        )
        .unwrap();
        // Opening appends its own entry after the damage; the break is still found.
        store.verify().unwrap().audit_chain
    };
    let altered = tamper(
        "UPDATE audit SET event = replace(event, '\"pages\":', '\"pages\":1') WHERE seq = 2",
    );
    assert_eq!(altered, "entry 2 was altered");
    assert_eq!(
        tamper("DELETE FROM audit WHERE seq = 3"),
        "entry 3 is missing"
    );
    // Cutting off the last entry: the head kept in `meta` still names it, so the entry the
    // reopened store appends next leaves a visible gap.
    let cut = tamper("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)");
    assert_eq!(
        cut, "entry 4 is missing",
        "3 applications and one opening were logged"
    );
}

#[test]
fn a_damaged_database_is_reported_and_left_as_it_is() {
    let k = Kiosk::new();
    {
        let mut store = k.open();
        for seed in 0..20 {
            let (draft, captured) = k.draft(&store, seed);
            store.submit(&k.catalogue, draft, captured, NOW).unwrap();
        }
    }
    let db = k.data.join("kiosk.db");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192, "checkpointed on close");
    let page = 4096;
    for b in &mut bytes[page * 2..page * 2 + 600] {
        *b = 0x5A;
    }
    std::fs::write(&db, &bytes).unwrap();
    match Store::open(k.config(), &KeyFile(k.key.clone())) {
        Err(StoreError::Corrupt(why)) => assert!(!why.is_empty()),
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("a damaged database was opened"),
    }
    assert_eq!(
        std::fs::read(&db).unwrap(),
        bytes,
        "never reset or repaired behind the engineer's back"
    );
}

#[test]
fn a_wrong_or_exposed_key_and_a_newer_schema_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let k = Kiosk::new();
    drop(k.open());
    let other = k._dir.path().join("other.key");
    KeyFile::create(&other).unwrap();
    let err = Store::open(k.config(), &KeyFile(other)).err().unwrap();
    assert!(
        matches!(&err, StoreError::Key(m) if m.contains("does not open")),
        "{err}"
    );
    std::fs::set_permissions(&k.key, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(matches!(
        Store::open(k.config(), &KeyFile(k.key.clone())),
        Err(StoreError::Key(_))
    ));
    std::fs::set_permissions(&k.key, std::fs::Permissions::from_mode(0o600)).unwrap();
    rusqlite::Connection::open(k.data.join("kiosk.db"))
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    assert!(matches!(
        Store::open(k.config(), &KeyFile(k.key.clone())),
        Err(StoreError::NewerSchema { found: 99, .. })
    ));
    let mut elsewhere = k.config();
    elsewhere.terminal = "10002".into();
    assert!(matches!(
        Store::open(elsewhere, &KeyFile(k.key.clone())),
        Err(StoreError::NewerSchema { .. } | StoreError::Config(_))
    ));
}

#[test]
fn a_nearly_full_disk_refuses_new_applications_before_writing_anything() {
    let k = Kiosk::new();
    let mut config = k.config();
    config.reserve_bytes = u64::MAX / 4;
    let mut store = Store::create(config, &KeyFile(k.key.clone())).unwrap();
    let (draft, captured) = k.draft(&store, 1);
    assert!(matches!(
        store.ensure_space(0),
        Err(StoreError::DiskFull { .. })
    ));
    assert!(matches!(
        store.submit(&k.catalogue, draft, captured, NOW),
        Err(StoreError::DiskFull { .. })
    ));
    assert_eq!(store.verify().unwrap().applications, 0);
    assert_eq!(page_files(&k.data), 0);
}

/// A real `ENOSPC`, on a 4 MiB tmpfs (needs root, as CI runs): the submission fails as a whole
/// with `DiskFull`, leaves no page file, and the store keeps working once space is back.
#[test]
fn running_out_of_space_mid_submission_saves_nothing_and_the_store_goes_on() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let k = Kiosk::new();
    std::fs::create_dir_all(&k.data).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&k.data)
        .status()
        .unwrap();
    assert!(status.success(), "mount tmpfs");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(k.data.clone());
    let mut config = k.config();
    config.reserve_bytes = 0;
    let mut store = Store::create(config, &KeyFile(k.key.clone())).unwrap();
    let (draft, mut captured) = k.draft(&store, 3);
    assert!(!captured.is_empty());
    captured[0].pages = vec![
        Zeroizing::new(vec![7; 3 << 20]),
        Zeroizing::new(vec![8; 3 << 20]),
    ];
    let max = k
        .catalogue
        .material(&captured[0].material)
        .unwrap()
        .capture
        .max_pages as usize;
    captured[0].pages.truncate(max);
    if captured[0].pages.len() == 1 {
        captured[0].pages[0] = Zeroizing::new(vec![7; 5 << 20]);
    }
    let before = store.verify().unwrap();
    match store.submit(&k.catalogue, draft.clone(), captured, NOW) {
        Err(StoreError::DiskFull { .. }) => {}
        other => panic!("expected DiskFull, got {other:?}"),
    }
    assert_eq!(page_files(&k.data), 0, "no half-written page is left");
    assert_eq!(store.verify().unwrap().applications, before.applications);
    let (draft, captured) = k.draft(&store, 3);
    let small: Vec<CapturedMaterial> = captured
        .into_iter()
        .map(|c| CapturedMaterial {
            material: c.material,
            pages: vec![Zeroizing::new(vec![1; 1000])],
        })
        .collect();
    store.submit(&k.catalogue, draft, small, NOW).unwrap();
    assert_eq!(store.verify().unwrap().integrity, "ok");
}

#[test]
fn a_draft_that_skips_a_question_repeats_a_value_or_is_unsigned_is_refused() {
    let k = Kiosk::new();
    let mut store = k.open();
    let submit = |store: &mut Store, draft: Draft, captured| {
        store
            .submit(&k.catalogue, draft, captured, NOW)
            .map(|s| s.number)
    };
    let (draft, captured) = (0..200)
        .map(|seed| k.draft(&store, seed))
        .find(|(d, _)| !d.answers.is_empty())
        .unwrap();
    let mut skipped = draft.clone();
    let question = skipped.answers.remove(0).question;
    let clone = |c: &Vec<CapturedMaterial>| -> Vec<CapturedMaterial> {
        c.iter()
            .map(|m| CapturedMaterial {
                material: m.material.clone(),
                pages: m.pages.clone(),
            })
            .collect()
    };
    assert_eq!(
        refusal(submit(&mut store, skipped, clone(&captured))),
        Refusal::Unanswered(question)
    );

    let mut repeated = draft.clone();
    let mut twice = repeated.form[0].clone();
    twice.value = "x".repeat(500);
    let field = twice.field.clone();
    repeated.form.push(twice);
    assert_eq!(
        refusal(submit(&mut store, repeated, clone(&captured))),
        Refusal::Repeated(field)
    );

    let mut unsigned = draft.clone();
    unsigned.signature.strokes.clear();
    assert_eq!(
        refusal(submit(&mut store, unsigned, clone(&captured))),
        Refusal::NotSigned
    );

    let plan = k
        .catalogue
        .plan(sample::LOBBY_TERMINAL, &draft.choice(), &draft.answers())
        .unwrap();
    let all = [
        Delivery::KioskPrint,
        Delivery::Dispenser,
        Delivery::HallPickup,
        Delivery::Mail,
    ];
    let other = all
        .into_iter()
        .find(|d| !plan.items.iter().any(|i| i.delivery.contains(d)))
        .expect("a way of delivery no item of this application offers");
    let mut elsewhere = draft.clone();
    elsewhere.delivery = other;
    assert!(matches!(
        refusal(submit(&mut store, elsewhere, clone(&captured))),
        Refusal::Delivery(_)
    ));
    submit(&mut store, draft, captured).unwrap();
    assert_eq!(store.verify().unwrap().applications, 1);
}

#[test]
fn a_missing_or_emptied_database_is_reported_and_a_second_writer_is_refused() {
    let k = Kiosk::new();
    assert!(matches!(
        Store::open(k.config(), &KeyFile(k.key.clone())),
        Err(StoreError::NotInitialised(_))
    ));
    let mut store = k.open();
    let (draft, captured) = k.draft(&store, 1);
    store.submit(&k.catalogue, draft, captured, NOW).unwrap();
    assert!(matches!(
        Store::open(k.config(), &KeyFile(k.key.clone())),
        Err(StoreError::Busy)
    ));
    drop(store);
    let pages = page_files(&k.data);
    assert!(pages > 0);
    for name in ["kiosk.db-wal", "kiosk.db-shm"] {
        let _ = std::fs::remove_file(k.data.join(name));
    }
    std::fs::write(k.data.join("kiosk.db"), b"").unwrap();
    match Store::open(k.config(), &KeyFile(k.key.clone())) {
        Err(StoreError::Corrupt(why)) => assert!(why.contains("empty"), "{why}"),
        other => panic!("expected Corrupt, got {:?}", other.err()),
    }
    assert_eq!(
        page_files(&k.data),
        pages,
        "the pages are kept for recovery"
    );
}

#[test]
fn a_row_moved_to_another_citizen_shows_them_nothing() {
    let k = Kiosk::new();
    let mut store = k.open();
    let (mut draft, id) = draft_with(&k, &store, |m| m.material.reusable);
    draft.consents.store_for_reuse = true;
    let owner = draft.applicant.id_number.clone();
    let captured = capture_all_but(&k, &draft, "");
    let number = store
        .submit(&k.catalogue, draft, captured, NOW)
        .unwrap()
        .number;
    assert!(
        store
            .reusable_materials(&owner, NOW)
            .unwrap()
            .iter()
            .any(|m| m.material == id)
    );
    let stranger = demo_data::applicant(424_242);
    let (mut theirs, captured) = k.draft(&store, 77);
    theirs.applicant = stranger.clone();
    theirs.consents.store_for_reuse = false;
    let their_number = store
        .submit(&k.catalogue, theirs, captured, NOW)
        .unwrap()
        .number;
    drop(store);

    // Someone with the database file, but not the key, gives the owner's rows to the stranger.
    let conn = rusqlite::Connection::open(k.data.join("kiosk.db")).unwrap();
    let key_of = |n: &application::ApplicationNumber| -> Vec<u8> {
        conn.query_row(
            "SELECT applicant_key FROM applications WHERE number = ?1",
            [n.as_str()],
            |r| r.get(0),
        )
        .unwrap()
    };
    let stranger_key = key_of(&their_number);
    assert_ne!(stranger_key, key_of(&number));
    conn.execute(
        "UPDATE stored_materials SET applicant_key = ?1",
        [&stranger_key],
    )
    .unwrap();
    conn.execute(
        "UPDATE applications SET applicant_key = ?1 WHERE number = ?2",
        rusqlite::params![&stranger_key, number.as_str()],
    )
    .unwrap();
    drop(conn);

    let store = k.open();
    assert!(
        store
            .reusable_materials(&stranger.id_number, NOW)
            .unwrap()
            .is_empty(),
        "the moved copy is not offered"
    );
    assert!(
        matches!(store.application(&number), Err(StoreError::Sealed(_))),
        "the moved record does not open"
    );
    let report = store.verify().unwrap();
    assert_eq!(
        report.incomplete,
        [number.to_string()],
        "and verify names it"
    );
}

#[test]
fn corrections_answer_exactly_what_was_asked_and_go_out_as_their_own_delivery() {
    use application::{Correction, FormValue, Signature};
    use kiosk_store::sync::SyncDb;
    let k = Kiosk::new();
    let mut store = k.open();
    let (draft, captured) = k.draft(&store, 3);
    let field = draft.form[0].field.clone();
    let good_value = draft.form[0].value.clone();
    let material = captured[0].material.clone();
    let number = store
        .submit(&k.catalogue, draft, captured, NOW)
        .unwrap()
        .number;
    let signature = || Signature {
        strokes: vec![vec![(1, 1), (9, 9)]],
    };
    let page = || CapturedMaterial {
        material: material.clone(),
        pages: vec![Zeroizing::new(vec![7; 900])],
    };
    let value = |v: &str| FormValue {
        field: field.clone(),
        value: v.to_owned(),
    };
    let supply = |store: &mut Store, form: Vec<FormValue>, captured: Vec<CapturedMaterial>| {
        store.supplement(
            &k.catalogue,
            &number,
            form,
            captured,
            signature(),
            NOW + DAY,
        )
    };
    let refused = |r: Result<u32, StoreError>| match r {
        Err(StoreError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    };

    assert_eq!(
        refused(supply(&mut store, vec![value(&good_value)], vec![page()])),
        Refusal::NothingToCorrect(number.to_string()),
        "nothing was asked yet"
    );
    let asked = vec![
        Correction {
            target: field.clone(),
            note: "请核对".into(),
        },
        Correction {
            target: material.clone(),
            note: "请重新拍摄".into(),
        },
    ];
    store
        .record_status(
            &number,
            Status::CorrectionsNeeded {
                corrections: asked.clone(),
            },
            NOW + DAY,
        )
        .unwrap();
    let files_before = page_files(&k.data);
    assert_eq!(
        refused(supply(&mut store, vec![value(&good_value)], Vec::new())),
        Refusal::CorrectionMissing(material.clone())
    );
    let other = CapturedMaterial {
        material: "not-asked".into(),
        pages: vec![Zeroizing::new(vec![1; 10])],
    };
    assert_eq!(
        refused(supply(
            &mut store,
            vec![value(&good_value)],
            vec![page(), other]
        )),
        Refusal::NotAsked("not-asked".into())
    );
    assert!(matches!(
        refused(supply(&mut store, vec![value("")], vec![page()])),
        Refusal::Field { .. }
    ));
    assert_eq!(page_files(&k.data), files_before, "refusals write nothing");

    let n = supply(&mut store, vec![value(&good_value)], vec![page()]).unwrap();
    assert_eq!(n, 1);
    let app = store.application(&number).unwrap();
    assert_eq!(app.status(), Some(&Status::Supplied));
    let supplement = app.supplement(1).unwrap();
    assert_eq!(supplement.corrections, asked);
    assert_eq!(supplement.page_files().count(), 1);
    assert_eq!(page_files(&k.data), files_before + 1);
    assert_eq!(
        refused(supply(&mut store, vec![value(&good_value)], vec![page()])),
        Refusal::NothingToCorrect(number.to_string()),
        "supplied once: nothing is asked any more"
    );
    drop(store);

    // The agent sends the application, then the supplement with only its own page.
    let mut sync = SyncDb::open(&k.data, &KeyFile(k.key.clone())).unwrap();
    let jobs = sync.take(NOW + DAY, 60_000, 10).unwrap();
    let parts: Vec<u32> = jobs.iter().map(|j| j.part).collect();
    assert_eq!(parts, [0, 1]);
    let payloads = sync.payloads().unwrap();
    let (_, pages) = payloads.read(&number, 1).unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(
        (pages[0].0.as_str(), pages[0].1.to_vec()),
        (material.as_str(), vec![7; 900])
    );
    sync.delivered(&jobs[1..], NOW + DAY).unwrap();
    drop(sync);
    let mut store = k.open();
    assert_eq!(
        store.application(&number).unwrap().status(),
        Some(&Status::Supplied),
        "the supplement's delivery leaves the history as it is"
    );
    // Not purged while any part of it is undelivered.
    assert!(
        store
            .purge(NOW + 90 * DAY, 30 * DAY)
            .unwrap()
            .applications
            .is_empty()
    );
    assert_eq!(store.verify().unwrap().audit_chain, "ok");
}

#[test]
fn sync_now_makes_an_entry_backed_off_by_failures_due_at_once() {
    use kiosk_store::sync::SyncDb;
    let k = Kiosk::new();
    let mut store = k.open();
    let (draft, captured) = k.draft(&store, 4);
    store.submit(&k.catalogue, draft, captured, NOW).unwrap();
    drop(store);
    let mut sync = SyncDb::open(&k.data, &KeyFile(k.key.clone())).unwrap();
    let job = sync.take(NOW, 60_000, 1).unwrap().remove(0);
    sync.retry_later(&job, NOW, 3_600_000, "network: unreachable")
        .unwrap();
    assert!(
        sync.take(NOW + 1_000, 60_000, 1).unwrap().is_empty(),
        "backed off an hour"
    );
    drop(sync);
    let mut store = k.open();
    assert_eq!(store.sync_now(NOW + 1_000).unwrap(), 1);
    drop(store);
    let mut sync = SyncDb::open(&k.data, &KeyFile(k.key.clone())).unwrap();
    assert_eq!(
        sync.take(NOW + 1_000, 60_000, 1).unwrap().len(),
        1,
        "due now"
    );
}
