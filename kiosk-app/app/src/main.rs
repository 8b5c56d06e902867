//! `kiosk-app`: the kiosk. `--simulate` runs it against simulated devices, a local backend and
//! sync agent; `--headless` drives it with JSON lines (`docs/headless-protocol.md`).

use clap::Parser;
use kiosk_app::devices::Devices;
use kiosk_app::{Config, Exit, Runtime, drive, simulated};
use kiosk_store::{KeyFile, Store};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status asking the service manager for a restart (a remote `reboot`).
const EXIT_REBOOT: u8 = 3;

#[derive(Parser)]
#[command(
    name = "kiosk-app",
    version,
    about = "The government self-service kiosk"
)]
struct Cli {
    /// The configuration file (see packaging/kiosk.example.toml).
    #[arg(long, default_value = "/etc/kiosk/kiosk.toml")]
    config: PathBuf,
    /// Simulate every device, the central backend and the network; no configuration file.
    #[arg(long)]
    simulate: bool,
    /// The simulated world's directory, taken up again if it exists (default: a new one
    /// under the temporary directory).
    #[arg(long, requires = "simulate")]
    dir: Option<PathBuf>,
    /// No screen: intents and world events as JSON lines on standard input, every new view as
    /// one JSON line on standard output.
    #[arg(long)]
    headless: bool,
    /// Idle limits of the simulated kiosk, shorter than a real kiosk's for demonstrations and
    /// tests: `screen_s=8,form_s=10,goodbye_s=4,warning_s=4` (any of them).
    #[arg(long, requires = "simulate", value_parser = parse_timeouts)]
    timeouts: Option<session::Timeouts>,
    /// Voice guidance from this machine's speakers, as from a kiosk's: through espeak-ng, or
    /// through PROGRAM, which is given `-v VOICE -s RATE TEXT`.
    #[arg(
        long,
        requires = "simulate",
        num_args = 0..=1,
        value_name = "PROGRAM",
        default_missing_value = "/usr/bin/espeak-ng"
    )]
    voice: Option<PathBuf>,
    /// The control socket for intents and world events (default with --simulate:
    /// DIR/control.sock).
    #[arg(long)]
    control: Option<PathBuf>,
    /// Check the configuration file, print what is wrong, and exit.
    #[arg(long, conflicts_with = "simulate")]
    check: bool,
    /// Read a technician PIN on standard input and print its hash for `maintenance.pin_hash`.
    #[arg(long, conflicts_with_all = ["simulate", "check"])]
    hash_pin: bool,
    /// Read a technician's ID number on standard input and print its key for
    /// `maintenance.technician_cards`.
    #[arg(long, conflicts_with_all = ["simulate", "check", "hash_pin"])]
    card_key: bool,
}

/// Logs to standard error (the journal: `RUST_LOG`, default warnings) and, at `info` and
/// above, to the kiosk's own log files in `data_dir` (for the diagnostics export and the
/// central office's `collect_logs`).
fn init_logging(data_dir: &std::path::Path) -> Result<(), String> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let file = kiosk_app::logs::LogFile::open(data_dir, kiosk_app::logs::LOG_BYTES)
        .map_err(|e| format!("log file in {}: {e}", data_dir.display()))?;
    let journal = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(journal),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(file)
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
        )
        .try_init()
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.hash_pin || cli.card_key {
        let mut line = zeroize::Zeroizing::new(String::new());
        if let Err(e) = std::io::stdin().read_line(&mut line) {
            return fail(&e.to_string());
        }
        let line = line.trim();
        if line.is_empty() {
            return fail("nothing on standard input");
        }
        let hashed = if cli.hash_pin {
            session::maintenance::hash_pin(line)
        } else {
            session::maintenance::card_key(line)
        };
        let out = match hashed {
            Ok(h) => h,
            Err(e) => return fail(&e),
        };
        println!("{out}");
        return ExitCode::SUCCESS;
    }
    if cli.check {
        return match Config::load(&cli.config) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => fail(&e.to_string()),
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    let result = runtime.block_on(run(cli));
    // The standard-input reader is a blocking read that never ends on its own: do not wait
    // for it (everything that matters is on disk before `run` returns).
    runtime.shutdown_background();
    match result {
        Ok(Exit::Closed) => ExitCode::SUCCESS,
        Ok(Exit::Reboot) => ExitCode::from(EXIT_REBOOT),
        Err(e) => fail(&e),
    }
}

/// `screen_s=8,form_s=10,goodbye_s=4,warning_s=4`, each at least 2 s, the warning shorter
/// than the screen limits.
fn parse_timeouts(text: &str) -> Result<session::Timeouts, String> {
    let mut t = session::Timeouts::default();
    for pair in text.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair}: not key=seconds"))?;
        let value: u64 = value
            .parse()
            .map_err(|_| format!("{key}: not a number of seconds"))?;
        if value < 2 {
            return Err(format!("{key}: at least 2 seconds"));
        }
        match key {
            "screen_s" => t.screen_s = value,
            "form_s" => t.form_s = value,
            "goodbye_s" => t.goodbye_s = value,
            "warning_s" => t.warning_s = value,
            _ => {
                return Err(format!(
                    "{key}: one of screen_s, form_s, goodbye_s, warning_s"
                ));
            }
        }
    }
    if t.warning_s >= t.screen_s.min(t.form_s) {
        return Err("warning_s: shorter than the screen limits".into());
    }
    Ok(t)
}

fn fail(message: &str) -> ExitCode {
    eprintln!("kiosk-app: {message}");
    ExitCode::from(2)
}

async fn run(cli: Cli) -> Result<Exit, String> {
    let (config, camera, world, control) = if cli.simulate {
        let dir = cli.dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("kiosk-sim-{}", std::process::id()))
        });
        init_logging(&simulated::data_dir(&dir))?;
        let mut sim = simulated::start(&dir).await?;
        if let Some(timeouts) = cli.timeouts.clone() {
            sim.config.timeouts = timeouts;
        }
        if let Some(program) = cli.voice.clone() {
            sim.config.devices.speaker = Some(kiosk_app::config::Speaker {
                program,
                ..Default::default()
            });
        }
        let control = cli
            .control
            .clone()
            .unwrap_or_else(|| dir.join("control.sock"));
        eprintln!(
            "kiosk-app: simulated kiosk in {}; world control at {}; receipts in {}",
            dir.display(),
            control.display(),
            sim.receipts.display()
        );
        (sim.config, sim.camera, Some(sim.world), Some(control))
    } else {
        let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
        init_logging(&config.data_dir)?;
        let camera = config.devices.camera.as_ref().and_then(|c| {
            match doc_camera::v4l2::V4l2Camera::at(&c.device) {
                Ok(cam) => Some(Box::new(cam) as Box<dyn doc_camera::FrameSource>),
                Err(e) => {
                    tracing::error!(error = %e, "document camera not available");
                    None
                }
            }
        });
        (config, camera, None, cli.control.clone())
    };
    let store = Store::open(
        kiosk_store::Config::new(&config.data_dir, &config.terminal.id),
        &KeyFile(config.store_key()),
    )
    .map_err(|e| format!("store: {e}"))?;
    let trust = catalogue::TrustStore::load(&config.trust).map_err(|e| format!("trust: {e}"))?;
    let (inputs, rx) = tokio::sync::mpsc::unbounded_channel();
    let devices = Devices::open(&config, camera, &inputs).map_err(|e| e.to_string())?;
    let kiosk =
        Runtime::new(config, store, trust, devices, inputs.clone()).map_err(|e| e.to_string())?;
    if let Some(path) = &control {
        drive::serve_control(path, inputs.clone(), world.clone())
            .map_err(|e| format!("control socket {}: {e}", path.display()))?;
    }
    if !cli.headless {
        eprintln!(
            "kiosk-app: no screen yet (the touchscreen UI is a later issue); running headless"
        );
    }
    let world_for_exit = world.clone();
    tokio::spawn(drive::read_stdin(inputs, world));
    let exit = tokio::select! {
        exit = kiosk.run(rx, |view| {
            let mut out = std::io::stdout().lock();
            if let Ok(line) = serde_json::to_string(view) {
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }) => exit,
        _ = tokio::signal::ctrl_c() => Exit::Closed,
    };
    if let Some(world) = world_for_exit {
        world.shutdown();
    }
    Ok(exit)
}
