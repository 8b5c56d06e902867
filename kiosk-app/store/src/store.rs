//! The store itself; see the crate documentation for what it promises.

use crate::StoreError;
use crate::audit::{self, AuditEvent, ChainCheck};
use crate::crypto::{Cipher, KeySource, Keys};
use crate::rules::{self, Refusal};
use application::{
    Application, ApplicationNumber, Draft, FormValue, MaterialEntry, PageRef, Provided, Signature,
    Status, StatusChange, Supplement,
};
use catalogue::{Autofill, Catalogue, TrustLevel};
use nix::fcntl::{Flock, FlockArg};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Where and how the store keeps its data.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory: `kiosk.db` and `pages/`.
    pub data_dir: PathBuf,
    /// This terminal's five-digit number, unique in the fleet.
    pub terminal: String,
    /// The AEAD for new records.
    pub cipher: Cipher,
    /// Free space kept in reserve: below it no new application is taken.
    pub reserve_bytes: u64,
}

impl Config {
    /// The defaults: AES-256-GCM and 256 MiB in reserve.
    pub fn new(data_dir: &Path, terminal: &str) -> Self {
        Config {
            data_dir: data_dir.to_owned(),
            terminal: terminal.to_owned(),
            cipher: Cipher::default(),
            reserve_bytes: 256 << 20,
        }
    }
}

/// Pages captured now for one material.
pub struct CapturedMaterial {
    /// The material's id.
    pub material: String,
    /// Page images (JPEG), in order; wiped when dropped.
    pub pages: Vec<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for CapturedMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapturedMaterial")
            .field("material", &self.material)
            .field("pages", &self.pages.len())
            .finish()
    }
}

/// A durably saved application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// Its number, for the receipt.
    pub number: ApplicationNumber,
    /// The items filed.
    pub items: Vec<String>,
}

/// A material kept for reuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMaterial {
    /// Its id, named by a draft that reuses it.
    pub id: String,
    /// The catalogue material.
    pub material: String,
    /// Its trust level.
    pub trust: TrustLevel,
    /// When it was captured, ms since the epoch.
    pub captured_at_ms: i64,
    /// Until when it may be reused; `None` is without limit.
    pub valid_until_ms: Option<i64>,
    /// Its pages.
    pub pages: Vec<PageRef>,
}

/// The state of the store, for `kioskctl db verify` and the maintenance menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `ok`, or what SQLite's `integrity_check` found.
    pub integrity: String,
    /// Applications kept.
    pub applications: u64,
    /// Outbox entries not yet delivered.
    pub outbox_pending: u64,
    /// `ok`, or where the audit chain breaks.
    pub audit_chain: String,
    /// Whether every application has exactly one outbox entry and every entry its application.
    pub outbox_matches: bool,
    /// Applications whose record or a page file does not open.
    pub incomplete: Vec<String>,
}

/// What a purge erased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Application numbers erased.
    pub applications: Vec<String>,
    /// Stored materials erased.
    pub materials: u32,
    /// Page files removed.
    pub files: u32,
}

/// A page image with the id of the material it belongs to; wiped when dropped.
pub type PageImage = (String, Zeroizing<Vec<u8>>);

/// The kiosk's offline store. One per data directory, owned by one task.
pub struct Store {
    conn: Connection,
    keys: Keys,
    config: Config,
    pages_dir: PathBuf,
    _lock: Flock<File>,
}

pub(crate) const DB_FILE: &str = "kiosk.db";
pub(crate) const PAGES_DIR: &str = "pages";
const PAGE_SUFFIX: &str = ".page";
/// Sealed with the key when the store is created: a wrong key is found at start, not later.
const KEY_CHECK: &str = "key_check";
/// The cipher new records are sealed with, chosen when the store is created.
const CIPHER: &str = "cipher";

impl Store {
    /// Creates the store in `config.data_dir` (or opens it if it already exists). Only
    /// installation (`kioskctl db init`) creates: the kiosk itself uses [`Store::open`], so that a
    /// missing or emptied database is reported rather than silently started afresh.
    pub fn create(config: Config, key: &dyn KeySource) -> Result<Store, StoreError> {
        durable_fs::create_dir_all(&config.data_dir.join(PAGES_DIR))?;
        Store::start(config, key, true)
    }

    /// Opens the store in `config.data_dir`, which [`Store::create`] made. Holds an exclusive
    /// lock on the directory until dropped: a second process gets [`StoreError::Busy`].
    pub fn open(config: Config, key: &dyn KeySource) -> Result<Store, StoreError> {
        Store::start(config, key, false)
    }

    fn start(config: Config, key: &dyn KeySource, creating: bool) -> Result<Store, StoreError> {
        let terminal_ok =
            config.terminal.len() == 5 && config.terminal.bytes().all(|b| b.is_ascii_digit());
        if !terminal_ok {
            return Err(StoreError::Config(format!(
                "terminal number `{}` is not five digits",
                config.terminal
            )));
        }
        let pages_dir = config.data_dir.join(PAGES_DIR);
        let db = config.data_dir.join(DB_FILE);
        let present = db.is_file() && pages_dir.is_dir();
        if !present && !creating {
            return Err(StoreError::NotInitialised(
                config.data_dir.display().to_string(),
            ));
        }
        let lock = lock_file(&config.data_dir, "lock")?;
        let master = key.master_key()?;
        let flags = if creating {
            OpenFlags::default()
        } else {
            OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE
        };
        let mut conn = Connection::open_with_flags(&db, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        quick_check(&conn)?;
        if !creating && crate::schema::version(&conn)? == 0 {
            return Err(StoreError::Corrupt(
                "the database is empty: truncated, replaced, or never initialised".into(),
            ));
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.pragma_update(None, "journal_size_limit", 64 << 20)?;
        let schema = crate::schema::migrate(&mut conn)?;
        // The cipher is chosen once, when the store is created; later opens follow the store.
        let keys = Keys::derive(&master, stored_cipher(&conn)?.unwrap_or(config.cipher));
        let mut store = Store {
            conn,
            keys,
            config,
            pages_dir,
            _lock: lock,
        };
        store.claim(creating)?;
        let leftovers = store.remove_unreferenced_pages()?;
        store.audit(&AuditEvent::StoreOpened { schema, leftovers })?;
        Ok(store)
    }

    /// Binds a new store to this terminal and key, or checks that an existing one is ours.
    fn claim(&mut self, creating: bool) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let terminal = meta(&tx, "terminal")?;
        match terminal {
            Some(t) if t != self.config.terminal => {
                return Err(StoreError::Config(format!(
                    "this data belongs to terminal {t}, not {}",
                    self.config.terminal
                )));
            }
            Some(_) => {}
            None if creating => {
                set_meta(&tx, "terminal", &self.config.terminal)?;
                set_meta(&tx, CIPHER, &self.config.cipher.id().to_string())?;
            }
            None => return Err(StoreError::Corrupt("the store names no terminal".into())),
        }
        match meta(&tx, KEY_CHECK)? {
            Some(check) => {
                let blob = hex::decode(check)
                    .map_err(|_| StoreError::Corrupt("the key check is garbled".into()))?;
                self.keys.open(&blob, KEY_CHECK.as_bytes()).map_err(|_| {
                    StoreError::Key("this key does not open the store's data".into())
                })?;
            }
            None if creating => {
                let blob = self.keys.seal(b"kiosk-store", KEY_CHECK.as_bytes())?;
                set_meta(&tx, KEY_CHECK, &hex::encode(blob))?;
            }
            None => return Err(StoreError::Corrupt("the store has no key check".into())),
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes page files no row names: those of a submission a crash interrupted.
    fn remove_unreferenced_pages(&self) -> Result<usize, StoreError> {
        let mut removed = durable_fs::remove_leftovers(&self.pages_dir)?;
        let mut stmt = self.conn.prepare("SELECT DISTINCT file FROM page_refs")?;
        let known: HashSet<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for entry in std::fs::read_dir(&self.pages_dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(PAGE_SUFFIX) && !known.contains(&name) {
                std::fs::remove_file(self.pages_dir.join(&name))?;
                removed += 1;
            }
        }
        if removed > 0 {
            durable_fs::sync_dir(&self.pages_dir)?;
            tracing::warn!(removed, "removed page files of an interrupted submission");
        }
        Ok(removed)
    }

    /// Free bytes on the data directory's file system.
    pub fn free_bytes(&self) -> Result<u64, StoreError> {
        let st = nix::sys::statvfs::statvfs(&self.config.data_dir).map_err(std::io::Error::from)?;
        Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
    }

    /// Whether an application of `bytes` can be taken now; a nearly full disk is refused before
    /// the citizen starts, with the same error [`Store::submit`] would give. Returns the free
    /// bytes.
    pub fn ensure_space(&self, bytes: u64) -> Result<u64, StoreError> {
        let free_bytes = self.free_bytes()?;
        let needed_bytes = self.config.reserve_bytes.saturating_add(bytes);
        if free_bytes < needed_bytes {
            tracing::error!(
                free_bytes,
                needed_bytes,
                "disk nearly full: applications stopped"
            );
            // Recording it may itself fail for want of space; the refusal stands either way.
            let _ = self.audit(&AuditEvent::DiskFull {
                free_bytes,
                reserve_bytes: self.config.reserve_bytes,
            });
            return Err(StoreError::DiskFull {
                free_bytes,
                needed_bytes,
            });
        }
        Ok(free_bytes)
    }

    /// Saves an application durably and queues it for delivery. When this returns `Ok`, the
    /// application, its pages and its outbox entry are on disk; on any error nothing is saved.
    pub fn submit(
        &mut self,
        catalogue: &Catalogue,
        draft: Draft,
        captured: Vec<CapturedMaterial>,
        now_ms: i64,
    ) -> Result<Saved, StoreError> {
        let counts: Vec<(&str, usize)> = captured
            .iter()
            .map(|c| (c.material.as_str(), c.pages.len()))
            .collect();
        let plan = rules::check(catalogue, &self.config.terminal, &draft, &counts, now_ms)?;
        let items: Vec<String> = plan.items.iter().map(|i| i.code.clone()).collect();
        let applicant_key = self.keys.lookup_key(&draft.applicant.id_number);

        let mut entries = Vec::new();
        for entry in &draft.materials {
            match &entry.provided {
                Provided::Reused { stored, .. } => {
                    let m = self
                        .stored_material(stored, &applicant_key, now_ms)?
                        .filter(|m| m.material == entry.material)
                        .ok_or_else(|| Refusal::ReuseInvalid(stored.clone()))?;
                    entries.push(MaterialEntry {
                        material: entry.material.clone(),
                        provided: Provided::Reused {
                            stored: m.id,
                            captured_at_ms: m.captured_at_ms,
                            trust: m.trust,
                            pages: m.pages,
                        },
                    });
                }
                Provided::Missing { .. } => entries.push(entry.clone()),
                Provided::Captured { .. } => {
                    return Err(Refusal::UnknownMaterial(entry.material.clone()).into());
                }
            }
        }

        let reusable_consented = draft.consents.store_for_reuse;
        self.with_pages(captured, |store, materials, pages, committing| {
            let mut new_stored = Vec::new();
            for (material, pages) in materials.iter().zip(pages) {
                let reusable = catalogue.material(material).filter(|m| m.reusable);
                if let Some(m) = reusable.filter(|_| reusable_consented) {
                    new_stored.push(StoredMaterial {
                        id: uuid::Uuid::now_v7().to_string(),
                        material: m.id.clone(),
                        trust: m.trust,
                        captured_at_ms: now_ms,
                        valid_until_ms: m.validity_days.map(|d| now_ms + i64::from(d) * 86_400_000),
                        pages: pages.clone(),
                    });
                }
                entries.push(MaterialEntry {
                    material: material.clone(),
                    provided: Provided::Captured { pages },
                });
            }
            let draft = Draft {
                materials: entries,
                ..draft
            };
            store.commit_application(items, draft, applicant_key, new_stored, now_ms, committing)
        })
    }

    /// Saves corrections supplied for an application that asks for them, and queues them for
    /// delivery: the supplement joins the sealed record, the history says `Supplied`, and the
    /// outbox gets an entry of its own, all in one durable transaction. Every correction asked
    /// for must be answered, and nothing else. Returns the supplement's position.
    pub fn supplement(
        &mut self,
        catalogue: &Catalogue,
        number: &ApplicationNumber,
        form: Vec<FormValue>,
        captured: Vec<CapturedMaterial>,
        signature: Signature,
        now_ms: i64,
    ) -> Result<u32, StoreError> {
        let Some(Status::CorrectionsNeeded { corrections }) =
            self.application(number)?.status().cloned()
        else {
            return Err(Refusal::NothingToCorrect(number.to_string()).into());
        };
        let counts: Vec<(&str, usize)> = captured
            .iter()
            .map(|c| (c.material.as_str(), c.pages.len()))
            .collect();
        rules::check_supplement(catalogue, &corrections, &form, &counts, &signature)?;
        self.with_pages(captured, |store, materials, pages, committing| {
            let materials = materials
                .iter()
                .zip(pages)
                .map(|(material, pages)| MaterialEntry {
                    material: material.clone(),
                    provided: Provided::Captured { pages },
                })
                .collect();
            let supplement = Supplement {
                n: 0,
                saved_at_ms: now_ms,
                corrections,
                form,
                materials,
                signature,
            };
            store.commit_supplement(number, supplement, now_ms, committing)
        })
    }

    /// Writes the captured pages, then runs `commit` with their references. The images are
    /// wiped once written. On an error nothing is left: the pages written are removed, unless
    /// the commit had begun (a failed COMMIT may still have reached the WAL, so the start-up
    /// sweep, which removes only files no row names, sees to them).
    fn with_pages<T>(
        &mut self,
        captured: Vec<CapturedMaterial>,
        commit: impl FnOnce(&mut Self, &[String], Vec<Vec<PageRef>>, &mut bool) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let bytes: u64 = captured
            .iter()
            .flat_map(|c| c.pages.iter())
            .map(|p| p.len() as u64 + 64)
            .sum();
        let free = self.ensure_space(bytes + (1 << 20))?;
        let pages = self
            .write_pages(&captured)
            .map_err(|e| e.or_disk_full(free))?;
        let written: Vec<String> = pages.iter().flatten().map(|p| p.file.clone()).collect();
        let materials: Vec<String> = captured.into_iter().map(|c| c.material).collect();
        let mut committing = false;
        let done =
            commit(self, &materials, pages, &mut committing).map_err(|e| e.or_disk_full(free));
        if done.is_err() && !committing {
            for file in &written {
                let _ = std::fs::remove_file(self.pages_dir.join(file));
            }
        }
        done
    }

    /// Seals the pages on worker threads (one per core) while this thread writes and
    /// fsyncs them, so the encryption hides behind the disk; publishes them all with one
    /// directory fsync. Returns each material's page references, in order. On an error nothing
    /// is left on disk.
    fn write_pages(&self, captured: &[CapturedMaterial]) -> Result<Vec<Vec<PageRef>>, StoreError> {
        type Sealed = ((usize, usize), PageRef, Vec<u8>);
        let all: Vec<(usize, usize, &Zeroizing<Vec<u8>>)> = captured
            .iter()
            .enumerate()
            .flat_map(|(m, c)| {
                c.pages
                    .iter()
                    .enumerate()
                    .map(move |(p, page)| (m, p, page))
            })
            .collect();
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(all.len().max(1));
        let keys = &self.keys;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Sealed, StoreError>>(workers);
            for w in 0..workers {
                let tx = tx.clone();
                let mine = all.iter().skip(w).step_by(workers);
                scope.spawn(move || {
                    for &(m, p, page) in mine {
                        let file = format!("{}{PAGE_SUFFIX}", uuid::Uuid::now_v7());
                        let sealed = keys.seal(page, file.as_bytes()).map(|sealed| {
                            let reference = PageRef {
                                file,
                                bytes: page.len() as u64,
                            };
                            ((m, p), reference, sealed)
                        });
                        // The writer stopped on an error: nothing more to do.
                        if tx.send(sealed).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            let mut batch = durable_fs::Batch::new(&self.pages_dir);
            let mut pages: Vec<Vec<Option<PageRef>>> =
                captured.iter().map(|c| vec![None; c.pages.len()]).collect();
            for sealed in rx {
                let ((m, p), reference, bytes) = sealed?;
                batch.add(&reference.file, &bytes)?;
                pages[m][p] = Some(reference);
            }
            batch.publish()?;
            Ok(pages
                .into_iter()
                .map(|m| m.into_iter().flatten().collect())
                .collect())
        })
    }

    fn commit_application(
        &mut self,
        items: Vec<String>,
        draft: Draft,
        applicant_key: Vec<u8>,
        stored: Vec<StoredMaterial>,
        now_ms: i64,
        committing: &mut bool,
    ) -> Result<Saved, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let counter: u64 = match meta(&tx, "counter")? {
            None => 1,
            Some(c) => {
                c.parse::<u64>()
                    .map_err(|_| StoreError::Corrupt("the application counter is garbled".into()))?
                    + 1
            }
        };
        let number = ApplicationNumber::new(
            &self.config.terminal,
            &application::time::yymmdd(now_ms),
            counter,
        )
        .map_err(|e| StoreError::Config(e.to_string()))?;
        let application = Application {
            number: number.clone(),
            terminal: self.config.terminal.clone(),
            saved_at_ms: now_ms,
            items: items.clone(),
            draft,
            history: vec![StatusChange {
                status: Status::Saved,
                at_ms: now_ms,
            }],
            supplements: Vec::new(),
        };
        let json = Zeroizing::new(
            serde_json::to_vec(&application).map_err(|e| StoreError::Sealed(e.to_string()))?,
        );
        let sealed = self
            .keys
            .seal(&json, record_context(&number, &applicant_key).as_bytes())?;
        tx.execute(
            "INSERT INTO applications (number, saved_at_ms, status, status_at_ms, applicant_key, items, sealed)
             VALUES (?1, ?2, 'saved', ?2, ?3, ?4, ?5)",
            params![
                number.as_str(),
                now_ms,
                applicant_key,
                serde_json::to_string(&items).unwrap_or_default(),
                sealed
            ],
        )?;
        let owner = format!("app:{number}");
        for page in application.page_files() {
            tx.execute(
                "INSERT OR IGNORE INTO page_refs (file, owner) VALUES (?1, ?2)",
                params![page.file, owner],
            )?;
        }
        for m in &stored {
            let pages = serde_json::to_string(&m.pages).unwrap_or_default();
            let mac = stored_mac(
                &self.keys,
                &m.id,
                &applicant_key,
                &m.material,
                trust_name(m.trust),
                m.captured_at_ms,
                m.valid_until_ms,
                &pages,
            );
            tx.execute(
                "INSERT INTO stored_materials (id, applicant_key, material, trust, captured_at_ms,
                     valid_until_ms, consent_at_ms, source_application, pages, mac)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, ?7, ?8, ?9)",
                params![
                    m.id,
                    applicant_key,
                    m.material,
                    trust_name(m.trust),
                    m.captured_at_ms,
                    m.valid_until_ms,
                    number.as_str(),
                    pages,
                    mac
                ],
            )?;
            for page in &m.pages {
                tx.execute(
                    "INSERT OR IGNORE INTO page_refs (file, owner) VALUES (?1, ?2)",
                    params![page.file, format!("mat:{}", m.id)],
                )?;
            }
        }
        tx.execute(
            "INSERT INTO outbox (id, application, state, next_attempt_ms, created_ms)
             VALUES (?1, ?2, 'pending', ?3, ?3)",
            params![uuid::Uuid::now_v7().to_string(), number.as_str(), now_ms],
        )?;
        set_meta(&tx, "counter", &counter.to_string())?;
        let provided = |f: fn(&Provided) -> bool| {
            application
                .draft
                .materials
                .iter()
                .filter(|m| f(&m.provided))
                .map(|m| m.material.clone())
                .collect::<Vec<_>>()
        };
        audit::append(
            &tx,
            &self.keys,
            now_ms,
            &AuditEvent::ApplicationSaved {
                number: number.to_string(),
                items: items.clone(),
                pages: application.page_files().count() as u32,
                reused: provided(|p| matches!(p, Provided::Reused { .. })),
                missing: provided(|p| matches!(p, Provided::Missing { .. })),
            },
        )?;
        *committing = true;
        tx.commit()?;
        tracing::info!(number = %number, items = items.len(), "application saved");
        Ok(Saved { number, items })
    }

    fn commit_supplement(
        &mut self,
        number: &ApplicationNumber,
        mut supplement: Supplement,
        now_ms: i64,
        committing: &mut bool,
    ) -> Result<u32, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read again under the write lock: a review result may have arrived since the check.
        let mut application = load_application(&tx, &self.keys, number)?;
        let asked = Status::CorrectionsNeeded {
            corrections: supplement.corrections.clone(),
        };
        if application.status() != Some(&asked) {
            return Err(Refusal::NothingToCorrect(number.to_string()).into());
        }
        let n = application.supplements.len() as u32 + 1;
        supplement.n = n;
        let owner = format!("app:{number}");
        for page in supplement.page_files() {
            tx.execute(
                "INSERT OR IGNORE INTO page_refs (file, owner) VALUES (?1, ?2)",
                params![page.file, owner],
            )?;
        }
        let event = AuditEvent::SupplementSaved {
            number: number.to_string(),
            n,
            fields: supplement.form.iter().map(|v| v.field.clone()).collect(),
            pages: supplement.page_files().count() as u32,
        };
        application.supplements.push(supplement);
        application.history.push(StatusChange {
            status: Status::Supplied,
            at_ms: now_ms,
        });
        reseal(&tx, &self.keys, &application, now_ms)?;
        tx.execute(
            "INSERT INTO outbox (id, application, part, state, next_attempt_ms, created_ms)
             VALUES (?1, ?2, ?3, 'pending', ?4, ?4)",
            params![uuid::Uuid::now_v7().to_string(), number.as_str(), n, now_ms],
        )?;
        audit::append(&tx, &self.keys, now_ms, &event)?;
        *committing = true;
        tx.commit()?;
        tracing::info!(number = %number, n, "corrections saved");
        Ok(n)
    }

    /// The application with this number.
    pub fn application(&self, number: &ApplicationNumber) -> Result<Application, StoreError> {
        load_application(&self.conn, &self.keys, number)
    }

    /// The page images of an application, in order; each opens only if it is the page sealed
    /// under its name.
    pub fn pages(&self, application: &Application) -> Result<Vec<PageImage>, StoreError> {
        read_pages(&self.keys, &self.pages_dir, &application.draft.materials)
    }

    /// The numbers and statuses of a citizen's applications, found by ID number through the
    /// keyed hash.
    pub fn applications_of(
        &self,
        id_number: &str,
    ) -> Result<Vec<(ApplicationNumber, String)>, StoreError> {
        let key = self.keys.lookup_key(id_number);
        let mut stmt = self.conn.prepare(
            "SELECT number, status FROM applications WHERE applicant_key = ?1 ORDER BY saved_at_ms",
        )?;
        let rows = stmt
            .query_map([key], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(n, s)| {
                ApplicationNumber::parse(&n)
                    .map(|n| (n, s))
                    .map_err(|e| StoreError::Corrupt(format!("application number {n}: {e}")))
            })
            .collect()
    }

    /// Values of the citizen's latest application for the fields the catalogue fills from
    /// earlier applications (`autofill: earlier`).
    pub fn earlier_values(
        &self,
        catalogue: &Catalogue,
        id_number: &str,
    ) -> Result<Vec<FormValue>, StoreError> {
        let Some((number, _)) = self.applications_of(id_number)?.pop() else {
            return Ok(Vec::new());
        };
        let application = self.application(&number)?;
        Ok(application
            .draft
            .form
            .iter()
            .filter(|v| {
                catalogue
                    .field(&v.field)
                    .is_some_and(|f| f.autofill == Some(Autofill::Earlier))
            })
            .cloned()
            .collect())
    }

    /// The citizen's stored materials that may be offered for reuse now: consented and still
    /// valid.
    pub fn reusable_materials(
        &self,
        id_number: &str,
        now_ms: i64,
    ) -> Result<Vec<StoredMaterial>, StoreError> {
        let key = self.keys.lookup_key(id_number);
        let mut stmt = self.conn.prepare(
            "SELECT id FROM stored_materials WHERE applicant_key = ?1
             AND (valid_until_ms IS NULL OR valid_until_ms > ?2) ORDER BY captured_at_ms DESC",
        )?;
        let ids: Vec<String> = stmt
            .query_map(params![key, now_ms], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.stored_material(&id, &key, now_ms)?);
        }
        Ok(out)
    }

    fn stored_material(
        &self,
        id: &str,
        applicant_key: &[u8],
        now_ms: i64,
    ) -> Result<Option<StoredMaterial>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT material, trust, captured_at_ms, valid_until_ms, pages, mac FROM stored_materials
                 WHERE id = ?1 AND applicant_key = ?2 AND (valid_until_ms IS NULL OR valid_until_ms > ?3)",
                params![id, applicant_key, now_ms],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<Vec<u8>>>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((material, trust, captured_at_ms, valid_until_ms, pages, mac)) = row else {
            return Ok(None);
        };
        let want = stored_mac(
            &self.keys,
            id,
            applicant_key,
            &material,
            &trust,
            captured_at_ms,
            valid_until_ms,
            &pages,
        );
        if mac.as_deref() != Some(want.as_slice()) {
            tracing::error!(id, "stored material fails its check: not offered");
            return Ok(None);
        }
        let corrupt = |what: &str| StoreError::Corrupt(format!("stored material {id}: {what}"));
        Ok(Some(StoredMaterial {
            id: id.to_owned(),
            material,
            trust: serde_json::from_value(serde_json::Value::String(trust))
                .map_err(|_| corrupt("trust level"))?,
            captured_at_ms,
            valid_until_ms,
            pages: serde_json::from_str(&pages).map_err(|_| corrupt("pages"))?,
        }))
    }

    /// The audit events recorded since `since_ms`, oldest first, with their times.
    pub fn audit_since(&self, since_ms: i64) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        audit::since(&self.conn, since_ms)
    }

    /// "Sync now": every waiting outbox entry is due at once, whatever its back-off (the
    /// technician has fixed the network). Returns how many were waiting.
    pub fn sync_now(&mut self, now_ms: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE outbox SET next_attempt_ms = ?1 WHERE state = 'pending' AND next_attempt_ms > ?1",
            [now_ms],
        )?)
    }

    /// Records a new status in the application's history.
    pub fn record_status(
        &mut self,
        number: &ApplicationNumber,
        status: Status,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        apply_status(&tx, &self.keys, number, status, at_ms)?;
        tx.commit()?;
        Ok(())
    }

    /// Erases delivered applications older than `retention_ms`, and stored materials past their
    /// validity, with their page files. A tombstone of each erased number remains.
    pub fn purge(&mut self, now_ms: i64, retention_ms: i64) -> Result<PurgeReport, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let numbers: Vec<String> = tx
            .prepare(
                "SELECT application FROM outbox GROUP BY application
                 HAVING MIN(state = 'delivered') = 1 AND MAX(delivered_ms) < ?1",
            )?
            .query_map([now_ms - retention_ms], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut owners: Vec<String> = numbers.iter().map(|n| format!("app:{n}")).collect();
        let expired: Vec<String> = tx
            .prepare("SELECT id FROM stored_materials WHERE valid_until_ms <= ?1")?
            .query_map([now_ms], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        owners.extend(expired.iter().map(|id| format!("mat:{id}")));
        let mut candidates = Vec::new();
        for owner in &owners {
            let files: Vec<String> = tx
                .prepare("SELECT file FROM page_refs WHERE owner = ?1")?
                .query_map([owner], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            tx.execute("DELETE FROM page_refs WHERE owner = ?1", [owner])?;
            candidates.extend(files);
        }
        for n in &numbers {
            tx.execute("DELETE FROM applications WHERE number = ?1", [n])?;
            tx.execute(
                "INSERT OR IGNORE INTO purged (number, purged_at_ms) VALUES (?1, ?2)",
                params![n, now_ms],
            )?;
        }
        for id in &expired {
            tx.execute("DELETE FROM stored_materials WHERE id = ?1", [id])?;
        }
        let mut orphaned = Vec::new();
        for file in candidates {
            let still: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM page_refs WHERE file = ?1)",
                [&file],
                |r| r.get(0),
            )?;
            if !still && !orphaned.contains(&file) {
                orphaned.push(file);
            }
        }
        let report = PurgeReport {
            applications: numbers,
            materials: expired.len() as u32,
            files: orphaned.len() as u32,
        };
        if !report.applications.is_empty() || report.materials > 0 {
            audit::append(
                &tx,
                &self.keys,
                now_ms,
                &AuditEvent::Purged {
                    applications: report.applications.clone(),
                    materials: report.materials,
                },
            )?;
        }
        tx.commit()?;
        // Files go after the rows: a crash here leaves unreferenced files the next start removes.
        for file in &orphaned {
            match std::fs::remove_file(self.pages_dir.join(file)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        if !orphaned.is_empty() {
            durable_fs::sync_dir(&self.pages_dir)?;
        }
        Ok(report)
    }

    /// Checks everything: SQLite's full integrity check, every application's record and page
    /// files, the outbox against the applications, and the audit chain.
    pub fn verify(&self) -> Result<Report, StoreError> {
        let problems: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let integrity = if problems == ["ok"] {
            "ok".to_owned()
        } else {
            problems.join("; ")
        };
        let count = |sql: &str| -> Result<u64, StoreError> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        let applications = count("SELECT COUNT(*) FROM applications")?;
        let outbox_pending = count("SELECT COUNT(*) FROM outbox WHERE state != 'delivered'")?;
        let unmatched = count(
            "SELECT (SELECT COUNT(*) FROM applications a WHERE NOT EXISTS
                        (SELECT 1 FROM outbox o WHERE o.application = a.number))
                  + (SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS
                        (SELECT 1 FROM applications a WHERE a.number = o.application))",
        )?;
        let mut incomplete = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT number, applicant_key, sealed FROM applications")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        for row in rows {
            let (number, applicant_key, sealed) = row?;
            let whole = ApplicationNumber::parse(&number)
                .ok()
                .and_then(|n| unseal_application(&self.keys, &n, &applicant_key, &sealed).ok())
                .is_some_and(|a| {
                    a.page_files()
                        .chain(a.supplements.iter().flat_map(Supplement::page_files))
                        .all(|p| self.pages_dir.join(&p.file).is_file())
                });
            if !whole {
                incomplete.push(number);
            }
        }
        let audit_chain = match audit::verify(&self.conn, &self.keys)? {
            ChainCheck::Ok { .. } => "ok".to_owned(),
            ChainCheck::Broken { reason, .. } => reason,
        };
        Ok(Report {
            integrity,
            applications,
            outbox_pending,
            audit_chain,
            outbox_matches: unmatched == 0,
            incomplete,
        })
    }

    /// Remote commands received and not yet carried out, oldest first: id and kind.
    pub fn commands_to_do(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, kind FROM commands WHERE done_ms IS NULL ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks a remote command carried out, with its audit event, before the sync agent tells
    /// the central office (and before a reboot, so it is not carried out twice).
    pub fn command_done(&mut self, id: u64, now_ms: i64) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE commands SET done_ms = ?2 WHERE id = ?1 AND done_ms IS NULL",
            params![id as i64, now_ms],
        )?;
        if changed > 0 {
            audit::append(&tx, &self.keys, now_ms, &AuditEvent::CommandDone { id })?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records an event in the audit trail in its own transaction.
    pub fn audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        audit::append(&tx, &self.keys, application::time::now_ms(), event)?;
        tx.commit()?;
        Ok(())
    }
}

/// The cipher the store was created with, if it has been.
pub(crate) fn stored_cipher(conn: &Connection) -> Result<Option<Cipher>, StoreError> {
    meta(conn, CIPHER)?
        .map(|id| {
            id.parse()
                .ok()
                .and_then(Cipher::from_id)
                .ok_or_else(|| StoreError::Corrupt("the cipher setting is garbled".into()))
        })
        .transpose()
}

/// The application with this number, opened.
pub(crate) fn load_application(
    conn: &Connection,
    keys: &Keys,
    number: &ApplicationNumber,
) -> Result<Application, StoreError> {
    let (applicant_key, sealed): (Vec<u8>, Vec<u8>) = conn
        .query_row(
            "SELECT applicant_key, sealed FROM applications WHERE number = ?1",
            [number.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(number.to_string()))?;
    unseal_application(keys, number, &applicant_key, &sealed)
}

/// Opens a sealed record. Its associated data names the number and the applicant's keyed hash,
/// so a record moved to another row, or a row moved to another citizen, does not open.
fn unseal_application(
    keys: &Keys,
    number: &ApplicationNumber,
    applicant_key: &[u8],
    sealed: &[u8],
) -> Result<Application, StoreError> {
    let json = keys.open(sealed, record_context(number, applicant_key).as_bytes())?;
    // Not the parser's message: it may quote a value of the record.
    serde_json::from_slice(&json)
        .map_err(|_| StoreError::Sealed(format!("the record of {number} does not parse")))
}

/// The page images of materials (an application's or a supplement's), in order, each opened
/// against its file name.
pub(crate) fn read_pages(
    keys: &Keys,
    pages_dir: &Path,
    materials: &[MaterialEntry],
) -> Result<Vec<PageImage>, StoreError> {
    let mut out = Vec::new();
    for m in materials {
        let pages = match &m.provided {
            Provided::Captured { pages } | Provided::Reused { pages, .. } => pages,
            Provided::Missing { .. } => continue,
        };
        for page in pages {
            let sealed = std::fs::read(pages_dir.join(&page.file))?;
            let image = keys.open(&sealed, page.file.as_bytes())?;
            out.push((m.material.clone(), image));
        }
    }
    Ok(out)
}

/// Appends a status to an application's sealed history inside `tx`; `Delivered` also closes
/// its outbox entry. Audited in the same transaction.
pub(crate) fn apply_status(
    tx: &rusqlite::Transaction<'_>,
    keys: &Keys,
    number: &ApplicationNumber,
    status: Status,
    at_ms: i64,
) -> Result<(), StoreError> {
    let mut application = load_application(tx, keys, number)?;
    let name = status_name(&status);
    application.history.push(StatusChange { status, at_ms });
    reseal(tx, keys, &application, at_ms)?;
    if matches!(application.status(), Some(Status::Delivered)) {
        tx.execute(
            "UPDATE outbox SET state = 'delivered', delivered_ms = ?2, lease_until_ms = NULL
             WHERE application = ?1 AND part = 0",
            params![number.as_str(), at_ms],
        )?;
    }
    audit::append(
        tx,
        keys,
        at_ms,
        &AuditEvent::StatusChanged {
            number: number.to_string(),
            status: name.to_owned(),
        },
    )?;
    Ok(())
}

/// Seals the application again and stores it with its current status.
fn reseal(
    tx: &rusqlite::Transaction<'_>,
    keys: &Keys,
    application: &Application,
    at_ms: i64,
) -> Result<(), StoreError> {
    let json = Zeroizing::new(
        serde_json::to_vec(application).map_err(|e| StoreError::Sealed(e.to_string()))?,
    );
    let number = &application.number;
    let applicant_key = keys.lookup_key(&application.draft.applicant.id_number);
    let sealed = keys.seal(&json, record_context(number, &applicant_key).as_bytes())?;
    let status = application.status().map_or("saved", status_name);
    tx.execute(
        "UPDATE applications SET status = ?2, status_at_ms = ?3, sealed = ?4 WHERE number = ?1",
        params![number.as_str(), status, at_ms, sealed],
    )?;
    Ok(())
}

/// An exclusive lock on a file in the data directory, across processes: `lock` for the store
/// (one writer of applications), `sync.lock` for the sync agent (one deliverer).
pub(crate) fn lock_file(data_dir: &Path, name: &str) -> Result<Flock<File>, StoreError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join(name))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == nix::errno::Errno::EWOULDBLOCK {
            StoreError::Busy
        } else {
            StoreError::Io(errno.into())
        }
    })
}

pub(crate) fn quick_check(conn: &Connection) -> Result<(), StoreError> {
    let result: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
    match result {
        Ok(rows) if rows == ["ok"] => Ok(()),
        Ok(rows) => Err(StoreError::Corrupt(rows.join("; "))),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

pub(crate) fn meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// The MAC binding a stored material's row to its citizen and content.
#[allow(clippy::too_many_arguments)]
fn stored_mac(
    keys: &Keys,
    id: &str,
    applicant_key: &[u8],
    material: &str,
    trust: &str,
    captured_at_ms: i64,
    valid_until_ms: Option<i64>,
    pages: &str,
) -> Vec<u8> {
    keys.row_mac(&[
        id.as_bytes(),
        applicant_key,
        material.as_bytes(),
        trust.as_bytes(),
        &captured_at_ms.to_be_bytes(),
        &valid_until_ms.unwrap_or(-1).to_be_bytes(),
        pages.as_bytes(),
    ])
}

fn record_context(number: &ApplicationNumber, applicant_key: &[u8]) -> String {
    format!("application:{number}:{}", hex::encode(applicant_key))
}

fn trust_name(trust: TrustLevel) -> &'static str {
    match trust {
        TrustLevel::A => "A",
        TrustLevel::B => "B",
        TrustLevel::C => "C",
        TrustLevel::D => "D",
    }
}

fn status_name(status: &Status) -> &'static str {
    match status {
        Status::Saved => "saved",
        Status::Delivered => "delivered",
        Status::Accepted => "accepted",
        Status::CorrectionsNeeded { .. } => "corrections_needed",
        Status::Supplied => "supplied",
        Status::Rejected { .. } => "rejected",
        Status::ResultReady { .. } => "result_ready",
        Status::Collected => "collected",
    }
}
