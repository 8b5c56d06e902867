//! `central-backend`: the server, the review command line, publishing, the fleet view and the
//! development PKI. The command names and flags are fixed: operations scripts use them.

use application::{Correction, Status};
use catalogue::Delivery;
use central_backend::pki::{Pki, Validity};
use central_backend::{Faults, SqliteStorage, Storage, TlsFiles};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use sync_protocol::CommandKind;

#[derive(Parser)]
#[command(
    name = "central-backend",
    version,
    about = "The reference central review backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Development certificates.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Serve kiosks and reviewers over mutual TLS; prints a line with `ready` once connections
    /// are accepted.
    Serve {
        /// The data directory (`central.db`, `pages/`).
        #[arg(long)]
        data_dir: PathBuf,
        /// Address to listen on (port 0: any free port, printed in the ready line).
        #[arg(long)]
        listen: SocketAddr,
        /// The PKI directory: `ca.pem`, `server.pem`, `server.key`, `crl.pem`.
        #[arg(long)]
        pki: PathBuf,
        /// Testing: answer one request in N 503 after processing it.
        #[arg(long, default_value_t = 0, hide = true)]
        unavailable_every: u64,
        /// Testing: delay every request this many milliseconds.
        #[arg(long, default_value_t = 0, hide = true)]
        delay_ms: u64,
    },
    /// Received applications.
    Applications {
        #[command(subcommand)]
        command: ApplicationsCommand,
    },
    /// Review decisions, sent back to the kiosk that took the application.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// Publish the signed catalogue kiosks pull.
    Catalogue {
        #[command(subcommand)]
        command: PublishCommand,
    },
    /// Publish the signed terminal configuration kiosks pull.
    Config {
        #[command(subcommand)]
        command: PublishCommand,
    },
    /// Remote commands to kiosks.
    Commands {
        #[command(subcommand)]
        command: CommandsCommand,
    },
    /// Every kiosk's last heartbeat.
    Fleet {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Log bundles kiosks sent when asked to (`commands send --kind collect_logs`).
    Logs {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Write this kiosk's bundle `NAME` to standard output instead of listing them.
        #[arg(long, requires = "name")]
        device: Option<String>,
        /// The bundle.
        #[arg(long, requires = "device")]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Create a development CA and a server certificate for 127.0.0.1 and localhost.
    Init {
        /// The PKI directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Issue a kiosk certificate (`DIR/ID.pem`, `DIR/ID.key`) or a reviewer's.
    Issue {
        /// The PKI directory.
        #[arg(long)]
        dir: PathBuf,
        /// The kiosk's terminal number.
        #[arg(
            long,
            required_unless_present = "reviewer",
            conflicts_with = "reviewer"
        )]
        device: Option<String>,
        /// A reviewer's name (the certificate is `reviewer-NAME`).
        #[arg(long)]
        reviewer: Option<String>,
        /// Days valid.
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// Start the validity this many days ago (tests: an expired certificate).
        #[arg(long, default_value_t = 0)]
        backdate_days: i64,
    },
    /// Revoke a certificate: it is refused on new connections.
    Revoke {
        /// The PKI directory.
        #[arg(long)]
        dir: PathBuf,
        /// The certificate to revoke.
        #[arg(long)]
        cert: PathBuf,
    },
}

#[derive(Subcommand)]
enum ApplicationsCommand {
    /// One line (or one JSON object) per application: id, number, device, pages.
    List {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// One application's submission as received.
    Show {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Its number.
        number: String,
    },
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// Record a decision on an application.
    Decide {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The application's number.
        number: String,
        /// Accept it for processing (受理).
        #[arg(long, group = "decision")]
        accept: bool,
        /// Corrections needed, all at once: TARGET=NOTE, repeated.
        #[arg(long = "correction", group = "decision")]
        corrections: Vec<String>,
        /// Reject it, with the reason.
        #[arg(long, group = "decision")]
        reject: Option<String>,
        /// The result is ready: kiosk_print, dispenser, hall_pickup or mail.
        #[arg(long, group = "decision")]
        result_ready: Option<String>,
        /// The result was collected.
        #[arg(long, group = "decision")]
        collected: bool,
    },
}

#[derive(Subcommand)]
enum PublishCommand {
    /// Publish a signed envelope; kiosks pick it up on their next poll.
    Publish {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The signed file.
        file: PathBuf,
        /// Trusted keys to check it against first (default: the development key).
        #[arg(long)]
        trust: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CommandsCommand {
    /// Queue a command for a kiosk; it is carried out between sessions.
    Send {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The kiosk.
        #[arg(long)]
        device: String,
        /// out_of_service, in_service, reboot or collect_logs.
        kind: String,
    },
    /// Every command and how far it got.
    List {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CENTRAL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("central-backend: {message}");
            ExitCode::FAILURE
        }
    }
}

fn storage(dir: &std::path::Path) -> Result<SqliteStorage, String> {
    SqliteStorage::open(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// For reading only: a mistyped directory is an error, not a new empty store.
fn storage_read(dir: &std::path::Path) -> Result<SqliteStorage, String> {
    SqliteStorage::open_read_only(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| e.to_string())
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Pki { command } => pki(command),
        Command::Serve {
            data_dir,
            listen,
            pki,
            unavailable_every,
            delay_ms,
        } => {
            let storage: Arc<dyn Storage> = Arc::new(
                SqliteStorage::open_for_server(&data_dir)
                    .map_err(|e| format!("{}: {e}", data_dir.display()))?,
            );
            let tls = TlsFiles::from_pki(&Pki::new(&pki));
            let faults = Faults {
                unavailable_every,
                delay_ms,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(async move {
                    tokio::select! {
                        r = central_backend::server::serve(listen, tls, storage, faults, |addr| {
                            println!("central-backend ready on https://{addr}");
                            let _ = std::io::stdout().flush();
                        }) => r,
                        _ = tokio::signal::ctrl_c() => Ok(()),
                    }
                })
                .map_err(|e| e.to_string())
        }
        Command::Applications { command } => match command {
            ApplicationsCommand::List { data_dir, json } => {
                let list = storage_read(&data_dir)?
                    .applications()
                    .map_err(|e| e.to_string())?;
                if json {
                    print_json(&list)
                } else {
                    for a in list {
                        println!(
                            "{} {} {} {} pages",
                            a.number,
                            a.device,
                            a.status,
                            a.pages.len()
                        );
                    }
                    Ok(())
                }
            }
            ApplicationsCommand::Show { data_dir, number } => print_json(
                &storage(&data_dir)?
                    .application(&number)
                    .map_err(|e| e.to_string())?,
            ),
        },
        Command::Review {
            command:
                ReviewCommand::Decide {
                    data_dir,
                    number,
                    accept,
                    corrections,
                    reject,
                    result_ready,
                    collected,
                },
        } => {
            let status = if accept {
                Status::Accepted
            } else if !corrections.is_empty() {
                let corrections = corrections
                    .iter()
                    .map(|c| {
                        c.split_once('=')
                            .map(|(target, note)| Correction {
                                target: target.to_owned(),
                                note: note.to_owned(),
                            })
                            .ok_or_else(|| format!("`{c}` is not TARGET=NOTE"))
                    })
                    .collect::<Result<_, _>>()?;
                Status::CorrectionsNeeded { corrections }
            } else if let Some(reason) = reject {
                Status::Rejected { reason }
            } else if let Some(delivery) = result_ready {
                let delivery: Delivery =
                    serde_json::from_value(serde_json::Value::String(delivery.clone()))
                        .map_err(|_| format!("`{delivery}` is not a delivery"))?;
                Status::ResultReady { delivery }
            } else if collected {
                Status::Collected
            } else {
                return Err("say what the decision is (--accept, --correction, --reject, --result-ready or --collected)".into());
            };
            let result = storage(&data_dir)?
                .decide(&number, &status, application::time::now_ms())
                .map_err(|e| e.to_string())?;
            print_json(&result)
        }
        Command::Catalogue {
            command:
                PublishCommand::Publish {
                    data_dir,
                    file,
                    trust,
                },
        } => publish(&data_dir, "catalogue", &file, trust, |bytes, trust| {
            catalogue::signed::open(bytes, trust).map(|c| c.version)
        }),
        Command::Config {
            command:
                PublishCommand::Publish {
                    data_dir,
                    file,
                    trust,
                },
        } => publish(&data_dir, "config", &file, trust, |bytes, trust| {
            catalogue::signed::open_config(bytes, trust).map(|c| c.version)
        }),
        Command::Commands { command } => match command {
            CommandsCommand::Send {
                data_dir,
                device,
                kind,
            } => {
                let kind: CommandKind =
                    serde_json::from_value(serde_json::Value::String(kind.clone()))
                        .map_err(|_| format!("`{kind}` is not a command"))?;
                let id = storage(&data_dir)?
                    .add_command(&device, kind, application::time::now_ms())
                    .map_err(|e| e.to_string())?;
                print_json(&serde_json::json!({"id": id}))
            }
            CommandsCommand::List { data_dir } => {
                let list: Vec<_> = storage_read(&data_dir)?
                    .commands()
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .map(|(id, device, kind, state)| {
                        serde_json::json!({"id": id, "device": device, "kind": kind, "state": state})
                    })
                    .collect();
                print_json(&list)
            }
        },
        Command::Logs {
            data_dir,
            device,
            name,
        } => {
            let storage = storage_read(&data_dir)?;
            match device.zip(name) {
                Some((device, name)) => {
                    let bytes = storage
                        .log(&device, &name)
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("no log bundle {name} from {device}"))?;
                    std::io::Write::write_all(&mut std::io::stdout(), &bytes)
                        .map_err(|e| e.to_string())
                }
                None => print_json(&storage.logs().map_err(|e| e.to_string())?),
            }
        }
        Command::Fleet { data_dir, json } => {
            let fleet = storage_read(&data_dir)?
                .fleet()
                .map_err(|e| e.to_string())?;
            if json {
                print_json(&fleet)
            } else {
                for k in fleet {
                    let q = &k.heartbeat["queue"];
                    println!(
                        "{} seen {} pending {} dead {}",
                        k.device, k.seen_at_ms, q["pending"], q["dead"]
                    );
                }
                Ok(())
            }
        }
    }
}

/// Publishes a signed document once it opens with the trusted keys (`open` gives its version).
fn publish(
    data_dir: &std::path::Path,
    name: &str,
    file: &std::path::Path,
    trust: Option<PathBuf>,
    open: impl Fn(&[u8], &catalogue::TrustStore) -> Result<u64, catalogue::CatalogueError>,
) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let trust = match trust {
        Some(t) => catalogue::TrustStore::load(&t).map_err(|e| e.to_string())?,
        None => catalogue::sample::trust(),
    };
    let version = open(&bytes, &trust).map_err(|e| format!("not published: {e}"))?;
    let etag = storage(data_dir)?
        .publish(name, &bytes, application::time::now_ms())
        .map_err(|e| e.to_string())?;
    print_json(&serde_json::json!({"version": version, "etag": etag}))
}

fn pki(command: PkiCommand) -> Result<(), String> {
    match command {
        PkiCommand::Init { dir } => {
            let p = Pki::new(&dir);
            p.init().map_err(|e| e.to_string())?;
            print_json(&serde_json::json!({
                "ca": p.ca_cert(), "server_cert": p.server_cert(), "server_key": p.server_key()
            }))
        }
        PkiCommand::Issue {
            dir,
            device,
            reviewer,
            days,
            backdate_days,
        } => {
            let name = match (device, reviewer) {
                (Some(d), _) => d,
                (None, Some(r)) => format!("reviewer-{r}"),
                (None, None) => return Err("--device or --reviewer".into()),
            };
            let (cert, key) = Pki::new(&dir)
                .issue(
                    &name,
                    Validity {
                        days,
                        backdate_days,
                    },
                )
                .map_err(|e| e.to_string())?;
            print_json(&serde_json::json!({"cert": cert, "key": key}))
        }
        PkiCommand::Revoke { dir, cert } => {
            let serial = Pki::new(&dir).revoke(&cert).map_err(|e| e.to_string())?;
            print_json(&serde_json::json!({"revoked": serial}))
        }
    }
}
