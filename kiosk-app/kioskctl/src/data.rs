//! `kioskctl db …` and `kioskctl catalog …`: the offline store and the signed catalogue.

use catalogue::{Algorithm, Installed, SigningKey, TrustStore};
use clap::Subcommand;
use demo_data as demo;
use kiosk_store::{Cipher, Config, KeyFile, Store};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a data directory is and how it is opened.
#[derive(clap::Args)]
pub struct DataDir {
    /// The data directory (database, page files, installed catalogue).
    #[arg(long)]
    data_dir: PathBuf,
    /// The store's key file, 32 bytes, mode 600 (default: DATA_DIR/store.key; production
    /// kiosks keep it at /etc/kiosk/store.key or unseal it from the TPM).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Trusted catalogue keys, a JSON array (default: the development key).
    #[arg(long)]
    trust: Option<PathBuf>,
}

/// The sealing cipher.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CipherArg {
    /// AES-256-GCM.
    Aes256Gcm,
    /// SM4-GCM.
    Sm4Gcm,
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Create the data directory, its key and database, and install a catalogue.
    Init {
        #[command(flatten)]
        dir: DataDir,
        /// This terminal's five-digit number.
        #[arg(long, default_value = catalogue::sample::HALL_TERMINAL)]
        terminal: String,
        /// A signed catalogue to install (default: the signed sample catalogue).
        #[arg(long)]
        catalogue: Option<PathBuf>,
        /// The cipher for new records.
        #[arg(long, value_enum, default_value = "aes256-gcm")]
        cipher: CipherArg,
    },
    /// Save N realistic applications with pages; print each number once it is durable.
    SubmitDemo {
        #[command(flatten)]
        dir: DataDir,
        /// How many.
        #[arg(long, default_value_t = 1)]
        count: u64,
        /// Seed of the generator (default: from the clock).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Check the database, the applications, the outbox and the audit chain. Exit 0 when all is
    /// well, 1 when something is wrong (the JSON says what), 2 when the check cannot run.
    Verify {
        #[command(flatten)]
        dir: DataDir,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Erase delivered applications older than the retention time and expired stored materials.
    Purge {
        #[command(flatten)]
        dir: DataDir,
        /// Days a delivered application is kept.
        #[arg(long, default_value_t = 180)]
        retention_days: u32,
    },
}

#[derive(Subcommand)]
pub enum SyncCommand {
    /// The outbox: pending, in flight, delivered, dead, and the oldest pending age. Reads the
    /// database without its key, beside a running kiosk and agent.
    Status {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn sync(command: SyncCommand) -> Result<i32, String> {
    match command {
        SyncCommand::Status { data_dir, json } => {
            let counts = kiosk_store::sync::queue_counts(&data_dir, application::time::now_ms())
                .map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&counts).map_err(|e| e.to_string())?
                );
            } else {
                println!(
                    "{} pending, {} in flight, {} delivered, {} refused (dead letters){}",
                    counts.pending,
                    counts.in_flight,
                    counts.delivered,
                    counts.dead,
                    counts
                        .oldest_pending_age_s
                        .map(|s| format!(", oldest waiting {s:.0} s"))
                        .unwrap_or_default()
                );
            }
            Ok(0)
        }
    }
}

#[derive(Subcommand)]
pub enum CatalogCommand {
    /// Check a catalogue (plain JSON, or signed: then its signature too).
    Validate {
        /// The file.
        file: PathBuf,
        /// Trusted keys for a signed catalogue (default: the development key).
        #[arg(long)]
        trust: Option<PathBuf>,
    },
    /// Sign a catalogue with a central-office key.
    Sign {
        /// The catalogue JSON.
        file: PathBuf,
        /// The secret key file.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signed catalogue.
        #[arg(long)]
        output: PathBuf,
        /// The file is a terminal configuration (`{"version": N, …}`), not a catalogue.
        #[arg(long)]
        config: bool,
    },
    /// Make a signing key: the secret to KEY (mode 600), the public key on stdout.
    Keygen {
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
        /// The key's id, named in each signed catalogue.
        #[arg(long)]
        key_id: String,
        /// Ed25519, or SM2 for 商用密码 deployments.
        #[arg(long, value_enum, default_value = "ed25519")]
        algorithm: AlgorithmArg,
    },
    /// Install a signed catalogue into a data directory; the old one stays if it fails.
    Install {
        /// The signed catalogue.
        file: PathBuf,
        #[command(flatten)]
        dir: DataDir,
    },
}

/// A signature algorithm.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AlgorithmArg {
    /// Ed25519.
    Ed25519,
    /// SM2 with SM3.
    Sm2,
}

const CATALOGUE_FILE: &str = "catalogue.json";

impl DataDir {
    fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("store.key"))
    }

    fn trust(&self) -> Result<TrustStore, String> {
        load_trust(self.trust.as_deref())
    }

    fn catalogue(&self) -> Result<Installed, String> {
        Installed::open(&self.data_dir.join(CATALOGUE_FILE), self.trust()?)
            .map_err(|e| format!("installed catalogue: {e}"))
    }

    fn open(&self) -> Result<Store, String> {
        let terminal = terminal_of(&self.data_dir)?;
        Store::open(
            Config::new(&self.data_dir, &terminal),
            &KeyFile(self.key_file()),
        )
        .map_err(|e| e.to_string())
    }
}

fn load_trust(path: Option<&Path>) -> Result<TrustStore, String> {
    match path {
        Some(p) => TrustStore::load(p).map_err(|e| e.to_string()),
        None => Ok(catalogue::sample::trust()),
    }
}

/// The terminal number is kept beside the database so that every command finds it.
fn terminal_of(data_dir: &Path) -> Result<String, String> {
    std::fs::read_to_string(data_dir.join("terminal"))
        .map(|t| t.trim().to_owned())
        .map_err(|e| {
            format!(
                "{}: not an initialised data directory ({e})",
                data_dir.display()
            )
        })
}

pub fn db(command: DbCommand) -> Result<i32, String> {
    match command {
        DbCommand::Init {
            dir,
            terminal,
            catalogue,
            cipher,
        } => {
            durable_fs::create_dir_all(&dir.data_dir).map_err(|e| e.to_string())?;
            let key = dir.key_file();
            if !key.exists() {
                KeyFile::create(&key).map_err(|e| e.to_string())?;
            }
            let mut config = Config::new(&dir.data_dir, &terminal);
            config.cipher = match cipher {
                CipherArg::Aes256Gcm => Cipher::Aes256Gcm,
                CipherArg::Sm4Gcm => Cipher::Sm4Gcm,
            };
            Store::create(config, &KeyFile(key)).map_err(|e| e.to_string())?;
            durable_fs::write_atomic(&dir.data_dir.join("terminal"), terminal.as_bytes())
                .map_err(|e| e.to_string())?;
            let installed = dir.catalogue()?;
            let signed = match &catalogue {
                Some(path) => {
                    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?
                }
                None => catalogue::sample::SIGNED.as_bytes().to_vec(),
            };
            let version = match installed.current() {
                Some(c) => c.version,
                None => {
                    installed
                        .install(&signed)
                        .map_err(|e| e.to_string())?
                        .version
                }
            };
            println!(
                "{}",
                serde_json::json!({
                    "data_dir": dir.data_dir,
                    "terminal": terminal,
                    "schema": kiosk_store::schema::LATEST,
                    "catalogue_version": version,
                })
            );
            Ok(0)
        }
        DbCommand::SubmitDemo { dir, count, seed } => {
            let mut store = dir.open()?;
            let terminal = terminal_of(&dir.data_dir)?;
            let catalogue = dir
                .catalogue()?
                .current()
                .ok_or("no catalogue is installed")?;
            let seed = seed.unwrap_or_else(|| application::time::now_ms() as u64);
            let mut rng = demo::Rng::new(seed);
            let pages = demo::page_images();
            let mut stdout = std::io::stdout().lock();
            for _ in 0..count {
                let now = application::time::now_ms();
                let (draft, captured) =
                    demo::application(&catalogue, &terminal, &store, &mut rng, &pages, now)
                        .map_err(|e| e.to_string())?;
                let saved = store
                    .submit(&catalogue, draft, captured, now)
                    .map_err(|e| e.to_string())?;
                // The number is printed only now that its commit is on disk.
                writeln!(stdout, "{}", saved.number).map_err(|e| e.to_string())?;
                stdout.flush().map_err(|e| e.to_string())?;
            }
            Ok(0)
        }
        DbCommand::Verify { dir, json } => {
            let store = dir.open()?;
            let report = store.verify().map_err(|e| e.to_string())?;
            let healthy = report.integrity == "ok"
                && report.audit_chain == "ok"
                && report.outbox_matches
                && report.incomplete.is_empty();
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&report).map_err(|e| e.to_string())?
                );
            } else {
                println!(
                    "integrity {}, {} applications, {} waiting to be sent, audit chain {}{}",
                    report.integrity,
                    report.applications,
                    report.outbox_pending,
                    report.audit_chain,
                    if report.incomplete.is_empty() {
                        String::new()
                    } else {
                        format!(", incomplete: {}", report.incomplete.join(" "))
                    }
                );
            }
            Ok(if healthy { 0 } else { 1 })
        }
        DbCommand::Purge {
            dir,
            retention_days,
        } => {
            let mut store = dir.open()?;
            let report = store
                .purge(
                    application::time::now_ms(),
                    i64::from(retention_days) * 86_400_000,
                )
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::json!({
                    "applications": report.applications,
                    "materials": report.materials,
                    "files": report.files,
                })
            );
            Ok(0)
        }
    }
}

pub fn catalog(command: CatalogCommand) -> Result<i32, String> {
    match command {
        CatalogCommand::Validate { file, trust } => {
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let signed = serde_json::from_slice::<catalogue::Envelope>(&bytes).is_ok();
            let catalogue = if signed {
                catalogue::signed::open(&bytes, &load_trust(trust.as_deref())?)
            } else {
                let text =
                    String::from_utf8(bytes).map_err(|e| format!("{}: {e}", file.display()))?;
                catalogue::signed::parse(&text)
            }
            .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::json!({
                    "valid": true,
                    "signed": signed,
                    "version": catalogue.version,
                    "departments": catalogue.departments.len(),
                    "items": catalogue.items.len(),
                    "bundles": catalogue.bundles.len(),
                    "materials": catalogue.materials.len(),
                    "questions": catalogue.questions.len(),
                })
            );
            Ok(0)
        }
        CatalogCommand::Sign {
            file,
            key,
            output,
            config,
        } => {
            let key = SigningKey::load(&key).map_err(|e| e.to_string())?;
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let envelope = if config {
                serde_json::from_str::<catalogue::RemoteConfig>(&text)
                    .map_err(|e| format!("not signed: not a configuration: {e}"))?;
                key.sign_config(&text)
            } else {
                catalogue::signed::parse(&text).map_err(|e| format!("not signed: {e}"))?;
                key.sign(&text)
            }
            .map_err(|e| e.to_string())?;
            let mut json = serde_json::to_vec_pretty(&envelope).map_err(|e| e.to_string())?;
            json.push(b'\n');
            durable_fs::write_atomic(&output, &json).map_err(|e| e.to_string())?;
            Ok(0)
        }
        CatalogCommand::Keygen {
            out,
            key_id,
            algorithm,
        } => {
            let algorithm = match algorithm {
                AlgorithmArg::Ed25519 => Algorithm::Ed25519,
                AlgorithmArg::Sm2 => Algorithm::Sm2,
            };
            let key = SigningKey::generate(algorithm, &key_id).map_err(|e| e.to_string())?;
            let secret = serde_json::to_vec_pretty(&key.to_file()).map_err(|e| e.to_string())?;
            write_private(&out, &secret)?;
            let public = key.public().map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::to_string_pretty(&public).map_err(|e| e.to_string())?
            );
            Ok(0)
        }
        CatalogCommand::Install { file, dir } => {
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let installed = dir.catalogue()?;
            let catalogue = installed.install(&bytes).map_err(|e| e.to_string())?;
            println!("{}", serde_json::json!({ "installed": catalogue.version }));
            Ok(0)
        }
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}
