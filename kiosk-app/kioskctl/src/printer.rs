//! `kioskctl printer …` and `kioskctl sim printer`: the receipt printer's status and a test
//! print, and its simulator.

use device_model::Device;
use receipt_printer::interp::Mechanics;
use receipt_printer::raster::FontRasterizer;
use receipt_printer::status::Paper;
use receipt_printer::template::ApplicationReceipt;
use receipt_printer::{EscPosPrinter, PrinterConfig, Profile, ReceiptPrinter};
use serial_link::host::Attachment;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How to reach a receipt printer.
#[derive(clap::Args)]
pub struct PrinterPort {
    /// The printer's port: a serial port, or with `--usb` a USB printer-class device
    /// (`/dev/usb/lp0`).
    #[arg(long)]
    port: PathBuf,
    /// The port is a USB printer-class device, not a serial line.
    #[arg(long)]
    usb: bool,
    /// Line speed of a serial printer.
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// The printer model's profile.
    #[arg(long, default_value = "epson-generic",
          value_parser = Profile::ALL.map(|p| p.name))]
    profile: String,
}

#[derive(clap::Subcommand)]
pub enum PrinterCommand {
    /// Ask the printer for its status.
    Status {
        #[command(flatten)]
        port: PrinterPort,
        /// Print one JSON object instead of a line of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a specimen application receipt (Chinese and English, QR code) and cut it.
    Test {
        #[command(flatten)]
        port: PrinterPort,
        /// How long a kiosk printer's presented receipt waits before it is retracted.
        #[arg(long, default_value_t = 30)]
        take_timeout_s: u64,
    },
}

fn fonts() -> Result<Arc<FontRasterizer>, String> {
    FontRasterizer::noto_cjk()
        .map(Arc::new)
        .map_err(|e| format!("no CJK font (Debian package fonts-noto-cjk): {e}"))
}

fn open(
    port: PrinterPort,
    tweak: impl FnOnce(&mut PrinterConfig),
) -> Result<EscPosPrinter, String> {
    let attachment = if port.usb {
        Attachment::CharDevice
    } else {
        Attachment::Serial { baud: port.baud }
    };
    let profile = Profile::by_name(&port.profile)
        .ok_or_else(|| format!("no printer profile {}", port.profile))?;
    let mut config = PrinterConfig::new(port.port, attachment, profile, fonts()?);
    tweak(&mut config);
    EscPosPrinter::open(config).map_err(|e| format!("cannot start driver: {e}"))
}

/// Runs a printer command.
pub async fn run(command: PrinterCommand) -> Result<(), String> {
    match command {
        PrinterCommand::Status { port, json } => {
            let printer = open(port, |_| {})?;
            let condition = printer
                .query(CancellationToken::new())
                .await
                .map_err(|e| e.to_string())?;
            let state = serde_json::to_value(printer.status().borrow().device)
                .map_err(|e| e.to_string())?;
            let paper = serde_json::to_value(condition.paper).map_err(|e| e.to_string())?;
            if json {
                let value = serde_json::json!({
                    "state": state,
                    "paper": paper,
                    "cover_open": condition.cover_open,
                    "cutter_error": condition.cutter_error,
                });
                println!("{value}");
            } else {
                println!(
                    "state {}, paper {}, cover {}, cutter {}",
                    state.as_str().unwrap_or("?"),
                    paper.as_str().unwrap_or("?"),
                    if condition.cover_open {
                        "open"
                    } else {
                        "closed"
                    },
                    if condition.cutter_error {
                        "error"
                    } else {
                        "ok"
                    },
                );
            }
            Ok(())
        }
        PrinterCommand::Test {
            port,
            take_timeout_s,
        } => {
            let printer = open(port, |c| {
                c.take_timeout = Duration::from_secs(take_timeout_s)
            })?;
            let receipt = ApplicationReceipt::specimen().layout(48);
            let outcome = printer
                .print(receipt, CancellationToken::new())
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::json!({ "outcome": outcome }));
            Ok(())
        }
    }
}

/// `kioskctl sim printer`.
#[derive(clap::Args)]
pub struct SimArgs {
    /// Where to put the symlink to the simulator's PTY.
    #[arg(long)]
    link: PathBuf,
    /// Where receipts are filed.
    #[arg(long)]
    out: PathBuf,
    /// Paper supply.
    #[arg(long, default_value = "ok", value_parser = ["ok", "low", "out"])]
    paper: String,
    /// The roll runs out after this many dot rows (8 per mm): paper out mid-receipt.
    #[arg(long)]
    paper_left_dots: Option<u32>,
    /// The cover is open.
    #[arg(long)]
    cover_open: bool,
    /// The cutter is broken.
    #[arg(long)]
    cutter_error: bool,
    /// The citizen takes each receipt this long after it is cut (default: only on SIGUSR1).
    #[arg(long)]
    take_after_ms: Option<u64>,
    /// Line speed.
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
}

/// Runs the printer simulator until SIGTERM or SIGINT; SIGUSR1: the citizen takes the receipt.
pub async fn simulate(args: SimArgs) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut usr1 = signal(SignalKind::user_defined1()).map_err(|e| e.to_string())?;
    let sim =
        receipt_printer::sim::PrinterSimulator::start(&args.link, args.baud, &args.out, fonts()?)
            .map_err(|e| format!("cannot create {}: {e}", args.link.display()))?;
    let paper = match args.paper.as_str() {
        "low" => Paper::Low,
        "out" => Paper::Out,
        _ => Paper::Ok,
    };
    sim.set_mechanics(Mechanics {
        paper,
        cover_open: args.cover_open,
        cutter_error: args.cutter_error,
        paper_left: args.paper_left_dots,
    });
    sim.set_take_after(args.take_after_ms.map(Duration::from_millis));
    tracing::info!(link = %args.link.display(), out = %args.out.display(), "printer simulator serving; SIGUSR1: the citizen takes the receipt");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr1.recv() => {
                sim.take_receipt();
                tracing::info!("receipt taken");
            }
        }
    }
    drop(sim);
    Ok(())
}
