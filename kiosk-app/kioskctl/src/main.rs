//! `kioskctl`, the technician's command-line tool: talk to the kiosk's devices and run their
//! simulators.
//!
//! Device commands print one JSON object on stdout and exit 0, or print one line naming the cause
//! on stderr and exit 2, so scripts and the maintenance menu can rely on both.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod data;
mod printer;
mod scan;

use clap::{Parser, Subcommand};
use idcard::sim::{IdCardSimulator, SimFault, When};
use idcard::{IdCard, IdCardReader, ReadOptions, ReaderConfig, SerialIdCardReader};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "kioskctl",
    version,
    about = "Kiosk technician's tool: devices and simulators"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The second-generation ID card reader.
    Idcard {
        #[command(subcommand)]
        command: IdcardCommand,
    },
    /// The receipt printer.
    Printer {
        #[command(subcommand)]
        command: printer::PrinterCommand,
    },
    /// The certificate card dispenser.
    Dispenser {
        #[command(subcommand)]
        command: DispenserCommand,
    },
    /// The offline store: applications, outbox, audit trail.
    Db {
        #[command(subcommand)]
        command: data::DbCommand,
    },
    /// The signed service catalogue.
    Catalog {
        #[command(subcommand)]
        command: data::CatalogCommand,
    },
    /// The document camera: process a frame, capture a page, join pages into a PDF.
    Scan {
        #[command(subcommand)]
        command: scan::ScanCommand,
    },
    /// The outbox and the sync agent.
    Sync {
        #[command(subcommand)]
        command: data::SyncCommand,
    },
    /// Simulated devices on pseudo-terminals.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
}

#[derive(Subcommand)]
enum IdcardCommand {
    /// Find, select and read the card on the reader; print it as JSON.
    Read {
        /// The reader's serial port.
        #[arg(long)]
        port: PathBuf,
        /// Line speed.
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// How long the reader may take for each command, on top of the reply's wire time
        /// (default: 500 ms for control commands, 2000 ms for the read).
        #[arg(long)]
        timeout_ms: Option<u64>,
        /// Also read the fingerprint templates.
        #[arg(long)]
        fingerprint: bool,
        /// Also read the newest address appended by the police station.
        #[arg(long)]
        newest_address: bool,
    },
}

/// How to reach a dispenser.
#[derive(clap::Args)]
struct DispenserPort {
    /// The dispenser's serial port.
    #[arg(long)]
    port: PathBuf,
    /// Line speed.
    #[arg(long, default_value_t = 9600)]
    baud: u32,
    /// Device address (DIP switches).
    #[arg(long, default_value_t = 0)]
    address: u8,
    /// Send ENQ after each acknowledged command (for dispensers that wait for it).
    #[arg(long)]
    enq: bool,
}

#[derive(Subcommand)]
enum DispenserCommand {
    /// Read the sensors.
    Status {
        #[command(flatten)]
        port: DispenserPort,
        /// Print one JSON object instead of a line of text.
        #[arg(long)]
        json: bool,
    },
    /// Hand out one card; take it back if it is not taken in time.
    Dispense {
        #[command(flatten)]
        port: DispenserPort,
        /// How long the card waits at the gate.
        #[arg(long, default_value_t = 30)]
        take_timeout_s: u64,
        /// Where the dispensed/retained counts are kept.
        #[arg(long)]
        counts: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SimCommand {
    /// Simulate an ID card reader with a card on it until killed. SIGUSR1 takes the card away
    /// or puts it back.
    Idcard {
        /// Where to put the symlink to the simulator's PTY (the path a driver opens).
        #[arg(long)]
        link: PathBuf,
        /// The card, as JSON in the form `kioskctl idcard read` prints.
        #[arg(long)]
        card: PathBuf,
        /// Line speed the simulated reader talks at.
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// A fault the reader shows at every command, for tests and training.
        #[arg(long, value_enum)]
        fault: Option<FaultArg>,
    },
    /// Simulate an 80 mm receipt printer until killed: every cut receipt is filed in OUT as a
    /// PNG (576 dots, 203 dpi) and a text transcript. SIGUSR1: the citizen takes the receipt.
    Printer(printer::SimArgs),
    /// Write generated document-camera scenes with their true page corners (JSON beside each).
    Camera(scan::SimCameraArgs),
    /// Act as the world around a simulated kiosk, or as a finger on its screen: send each LINE
    /// (a world event or an intent, docs/headless-protocol.md) to its control socket.
    Control {
        /// The control socket (`DIR/control.sock` of `kiosk-app --simulate`).
        #[arg(long)]
        socket: PathBuf,
        /// JSON lines, e.g. '{"world":"insert_card","citizen":1}'.
        #[arg(required = true)]
        lines: Vec<String>,
    },
    /// Simulate a card dispenser until killed. SIGUSR1: the citizen takes the card at the gate.
    Dispenser {
        /// Where to put the symlink to the simulator's PTY.
        #[arg(long)]
        link: PathBuf,
        /// Cards in the stacker.
        #[arg(long, default_value_t = 100)]
        cards: u32,
        /// Line speed.
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// The citizen takes each card this long after it reaches the gate.
        #[arg(long)]
        take_after_ms: Option<u64>,
        /// Cards the reject bin holds.
        #[arg(long, default_value_t = 20)]
        reject_capacity: u32,
        /// Answer only after the host's ENQ.
        #[arg(long)]
        require_enq: bool,
        /// Marker of negative replies.
        #[arg(long, default_value = "E", value_parser = ["E", "N"])]
        negative_marker: String,
        /// Every card move fails with "card jam".
        #[arg(long)]
        jammed: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FaultArg {
    /// Every reply has a wrong checksum.
    BadChecksum,
    /// Line noise before every reply.
    Garbage,
    /// No reply at all.
    Silence,
    /// The SAM fails its self-test (SW3 60).
    SamSelfTestFailed,
}

/// Sends each line to a kiosk's control socket and prints its answer; the first refused line
/// stops with its reason.
fn control(socket: &std::path::Path, lines: &[String]) -> Result<(), String> {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).map_err(|e| {
        format!(
            "{}: {e} (is kiosk-app --simulate running?)",
            socket.display()
        )
    })?;
    let mut replies = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    for line in lines {
        writeln!(stream, "{}", line.trim()).map_err(|e| e.to_string())?;
        let mut reply = String::new();
        replies.read_line(&mut reply).map_err(|e| e.to_string())?;
        let value: serde_json::Value =
            serde_json::from_str(&reply).map_err(|_| format!("no answer to {line}"))?;
        if let Some(e) = value["error"].as_str() {
            return Err(format!("{line}: {e}"));
        }
        println!("{}", reply.trim_end());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Device commands keep stderr for their one error line unless logs are asked for;
    // simulators log what they do.
    let default_log = match cli.command {
        Command::Sim { .. } => "info",
        Command::Idcard { .. }
        | Command::Dispenser { .. }
        | Command::Printer { .. }
        | Command::Db { .. }
        | Command::Scan { .. }
        | Command::Sync { .. }
        | Command::Catalog { .. } => "off",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_log.into()),
        )
        .init();
    // The store and catalogue commands are synchronous: no runtime.
    let command = match cli.command {
        Command::Db { command } => return exit(data::db(command)),
        Command::Catalog { command } => return exit(data::catalog(command)),
        Command::Scan { command } => return exit(scan::scan(command)),
        Command::Sync { command } => return exit(data::sync(command)),
        Command::Sim {
            command: SimCommand::Camera(args),
        } => return exit(scan::sim_camera(args)),
        Command::Sim {
            command: SimCommand::Control { socket, lines },
        } => return exit(control(&socket, &lines).map(|()| 0)),
        other => other,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start: {e}")),
    };
    let result = runtime.block_on(async {
        match command {
            Command::Idcard {
                command:
                    IdcardCommand::Read {
                        port,
                        baud,
                        timeout_ms,
                        fingerprint,
                        newest_address,
                    },
            } => {
                let mut config = ReaderConfig::new(port);
                config.baud = baud;
                if let Some(ms) = timeout_ms {
                    config.command_timeout = Duration::from_millis(ms);
                    config.read_timeout = Duration::from_millis(ms);
                }
                let options = ReadOptions {
                    fingerprint,
                    newest_address,
                };
                idcard_read(config, options).await
            }
            Command::Dispenser { command } => dispenser_command(command).await,
            Command::Printer { command } => printer::run(command).await,
            Command::Sim {
                command: SimCommand::Printer(args),
            } => printer::simulate(args).await,
            Command::Sim {
                command:
                    SimCommand::Dispenser {
                        link,
                        cards,
                        baud,
                        take_after_ms,
                        reject_capacity,
                        require_enq,
                        negative_marker,
                        jammed,
                    },
            } => {
                let config = dispenser::sim::SimConfig {
                    baud,
                    cards,
                    reject_capacity,
                    require_enq,
                    negative_marker: negative_marker.as_bytes().first().copied().unwrap_or(b'E'),
                    ..Default::default()
                };
                sim_dispenser(
                    link,
                    config,
                    take_after_ms.map(Duration::from_millis),
                    jammed,
                )
                .await
            }
            Command::Sim {
                command:
                    SimCommand::Idcard {
                        link,
                        card,
                        baud,
                        fault,
                    },
            } => sim_idcard(link, card, baud, fault).await,
            Command::Db { .. }
            | Command::Catalog { .. }
            | Command::Scan { .. }
            | Command::Sync { .. }
            | Command::Sim {
                command: SimCommand::Camera(_) | SimCommand::Control { .. },
            } => Err("handled without a runtime".into()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn exit(result: Result<i32, String>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(message) => fail(message),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("kioskctl: {message}");
    ExitCode::from(2)
}

async fn idcard_read(config: ReaderConfig, options: ReadOptions) -> Result<(), String> {
    let reader =
        SerialIdCardReader::open(config).map_err(|e| format!("cannot start driver: {e}"))?;
    let card = reader
        .read_card(options, CancellationToken::new())
        .await
        .map_err(|e| e.to_string())?;
    let json = serde_json::to_string(&card).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

async fn sim_idcard(
    link: PathBuf,
    card_path: PathBuf,
    baud: u32,
    fault: Option<FaultArg>,
) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};

    let text = std::fs::read_to_string(&card_path)
        .map_err(|e| format!("cannot read {}: {e}", card_path.display()))?;
    let card: IdCard = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a card: {e}", card_path.display()))?;
    // Handlers first: whoever sees the link may signal at once.
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut usr1 = signal(SignalKind::user_defined1()).map_err(|e| e.to_string())?;
    let sim = IdCardSimulator::start(&link, baud)
        .map_err(|e| format!("cannot create {}: {e}", link.display()))?;
    sim.insert(&card)
        .map_err(|e| format!("{} cannot be put on a card: {e}", card_path.display()))?;
    match fault {
        Some(FaultArg::BadChecksum) => sim.inject(SimFault::BadChecksum, When::Always),
        Some(FaultArg::Garbage) => sim.inject(SimFault::Garbage, When::Always),
        Some(FaultArg::Silence) => sim.inject(SimFault::Silence, When::Always),
        Some(FaultArg::SamSelfTestFailed) => sim.set_sam_failed(true),
        None => {}
    }
    tracing::info!(
        link = %link.display(),
        baud,
        card_type = ?card.card_type,
        "idcard simulator serving; SIGUSR1 takes the card away or puts it back"
    );
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr1.recv() => {
                if sim.has_card() {
                    sim.remove();
                    tracing::info!("card taken away");
                } else {
                    sim.insert(&card).map_err(|e| e.to_string())?;
                    tracing::info!("card put back");
                }
            }
        }
    }
    // Dropping the simulator removes its link.
    drop(sim);
    Ok(())
}

fn dispenser_config(port: DispenserPort) -> dispenser::DispenserConfig {
    let mut config = dispenser::DispenserConfig::new(port.port);
    config.baud = port.baud;
    config.address = port.address;
    config.send_enq = port.enq;
    config
}

async fn dispenser_command(command: DispenserCommand) -> Result<(), String> {
    use device_model::Device;
    use dispenser::{CardDispenser, SerialCardDispenser, Stacker};

    match command {
        DispenserCommand::Status { port, json } => {
            let dispenser = SerialCardDispenser::open(dispenser_config(port))
                .map_err(|e| format!("cannot start driver: {e}"))?;
            let sensors = dispenser
                .sensors(CancellationToken::new())
                .await
                .map_err(|e| e.to_string())?;
            let state = dispenser.status().borrow().device;
            let stacker = match sensors.stacker {
                Stacker::Ok => "ok",
                Stacker::Low => "low",
                Stacker::Empty => "empty",
            };
            let at_gate = sensors.channel == dispenser::Channel::AtGate;
            if json {
                let value = serde_json::json!({
                    "state": state,
                    "stacker": stacker,
                    "reject_bin_full": sensors.reject_bin_full,
                    "card_at_gate": at_gate,
                });
                println!("{value}");
            } else {
                let state = serde_json::to_value(state).map_err(|e| e.to_string())?;
                println!(
                    "state {}, stacker {stacker}, reject bin {}, {}",
                    state.as_str().unwrap_or("?"),
                    if sensors.reject_bin_full {
                        "full"
                    } else {
                        "not full"
                    },
                    if at_gate {
                        "a card at the gate"
                    } else {
                        "no card at the gate"
                    }
                );
            }
            Ok(())
        }
        DispenserCommand::Dispense {
            port,
            take_timeout_s,
            counts,
        } => {
            let mut config = dispenser_config(port);
            config.counts_file = counts;
            let dispenser = SerialCardDispenser::open(config)
                .map_err(|e| format!("cannot start driver: {e}"))?;
            let outcome = dispenser
                .dispense(
                    Duration::from_secs(take_timeout_s),
                    CancellationToken::new(),
                )
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::json!({ "outcome": outcome }));
            Ok(())
        }
    }
}

async fn sim_dispenser(
    link: PathBuf,
    config: dispenser::sim::SimConfig,
    take_after: Option<Duration>,
    jammed: bool,
) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};

    // Handlers first: whoever sees the link may signal at once.
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut usr1 = signal(SignalKind::user_defined1()).map_err(|e| e.to_string())?;
    let cards = config.cards;
    let sim = dispenser::sim::DispenserSimulator::start(&link, config)
        .map_err(|e| format!("cannot create {}: {e}", link.display()))?;
    sim.set_take_after(take_after);
    sim.set_jammed(jammed);
    tracing::info!(link = %link.display(), cards, "dispenser simulator serving; SIGUSR1: the citizen takes the card");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr1.recv() => {
                sim.take_card();
                tracing::info!("card taken from the gate");
            }
        }
    }
    drop(sim);
    Ok(())
}
