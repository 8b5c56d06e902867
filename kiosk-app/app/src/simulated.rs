//! The whole kiosk on one machine: every device simulator on its pseudo-terminal (the camera
//! as a frame source), the local reference backend with a development PKI, the network relay
//! between them, the sync agent, a store and the sample catalogue. A directory used before is
//! used again as it is, so a kiosk killed mid-journey restarts on the same data.

use crate::config::{
    A4Printer, Backend, Config, Devices, Maintenance, ReceiptPrinter, SerialDevice, Terminal, Ui,
};
use crate::net::Network;
use crate::world::World;
use central_backend::pki::{Pki, Validity};
use central_backend::{Faults, SqliteStorage, Storage, TlsFiles};
use doc_camera::FrameSource;
use kiosk_store::{KeyFile, Store};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The simulated kiosk's terminal number: the sample catalogue's service-hall kiosk.
pub const TERMINAL: &str = catalogue::sample::HALL_TERMINAL;

/// The simulated A4 printer's queue.
pub const A4_QUEUE: &str = "kiosk-a4";

/// The simulated kiosk's technician PIN (development only).
pub const TECHNICIAN_PIN: &str = "246810";
/// The demo citizen whose card is the simulated technician's card.
pub const TECHNICIAN_CARD: u64 = 9_999;

/// A running simulated world, and the kiosk's configuration pointing at it.
pub struct Simulation {
    /// The kiosk's configuration: devices on the simulators' links.
    pub config: Config,
    /// The world's controls.
    pub world: Arc<World>,
    /// The camera, for the kiosk's driver.
    pub camera: Option<Box<dyn FrameSource>>,
    /// Where receipts come out (PNG and text).
    pub receipts: PathBuf,
}

/// The simulated kiosk's data directory in the world's directory `dir`.
pub fn data_dir(dir: &Path) -> PathBuf {
    dir.join("kiosk")
}

/// Sets up (or takes up again) the simulated world in `dir` and starts it on the current tokio
/// runtime.
pub async fn start(dir: &Path) -> Result<Simulation, String> {
    let e = |what: &'static str| move |e: String| format!("{what}: {e}");
    let data = data_dir(dir);
    let central = dir.join("central");
    let dev = dir.join("dev");
    let receipts = dir.join("receipts");
    // The USB drive a technician plugs in for diagnostics.
    let usb = dir.join("usb");
    for d in [&data, &central, &dev, &usb] {
        durable_fs::create_dir_all(d).map_err(|x| format!("{}: {x}", d.display()))?;
    }

    let pki = Pki::new(&dir.join("pki"));
    if !pki.ca_cert().exists() {
        pki.init().map_err(|x| e("pki")(x.to_string()))?;
    }
    let (cert, key) = (
        dir.join("pki").join(format!("{TERMINAL}.pem")),
        dir.join("pki").join(format!("{TERMINAL}.key")),
    );
    if !cert.exists() {
        pki.issue(TERMINAL, Validity::default())
            .map_err(|x| e("pki")(x.to_string()))?;
    }

    let key_file = data.join("store.key");
    if !key_file.exists() {
        KeyFile::create(&key_file).map_err(|x| e("store key")(x.to_string()))?;
        Store::create(
            kiosk_store::Config::new(&data, TERMINAL),
            &KeyFile(key_file.clone()),
        )
        .map_err(|x| e("store")(x.to_string()))?;
    }
    // The development key, trusted only here.
    let trust = dir.join("trusted-keys.json");
    durable_fs::write_atomic(&trust, catalogue::sample::TRUSTED_KEYS.as_bytes())
        .map_err(|x| format!("{}: {x}", trust.display()))?;
    let installed =
        catalogue::Installed::open(&data.join("catalogue.json"), catalogue::sample::trust())
            .map_err(|x| e("catalogue")(x.to_string()))?;
    if installed.current().is_none() {
        installed
            .install(catalogue::sample::SIGNED.as_bytes())
            .map_err(|x| e("catalogue")(x.to_string()))?;
    }

    let storage = Arc::new(
        SqliteStorage::open_for_server(&central).map_err(|x| e("backend")(x.to_string()))?,
    );
    if storage
        .published("catalogue")
        .map_err(|x| e("backend")(x.to_string()))?
        .is_none()
    {
        storage
            .publish(
                "catalogue",
                catalogue::sample::SIGNED.as_bytes(),
                application::time::now_ms(),
            )
            .map_err(|x| e("backend")(x.to_string()))?;
    }
    let backend = serve(storage.clone(), TlsFiles::from_pki(&pki)).await?;
    let network = Network::start(backend)
        .await
        .map_err(|x| e("network")(x.to_string()))?;

    let url = format!("https://localhost:{}", network.addr().port());
    let mut settings = sync_agent::Settings::new(&data, &url, &pki.ca_cert(), &cert, &key);
    // A lively loop for a demonstration: heartbeats, results and retries within seconds.
    settings.heartbeat_s = 2;
    settings.poll_s = 10;
    settings.results_wait_s = 2;
    settings.retry_base_ms = 300;
    settings.retry_cap_ms = 3_000;
    settings.request_timeout_s = 10;
    let agent = sync_agent::Agent::start(settings).map_err(|x| e("sync agent")(x.to_string()))?;
    tokio::spawn(async move {
        if let Err(x) = agent.run().await {
            tracing::error!(error = %x, "sync agent stopped");
        }
    });

    let sim = |what: &'static str| move |x: std::io::Error| format!("{what} simulator: {x}");
    let idcard = idcard::sim::IdCardSimulator::start(&dev.join("idcard"), 115_200)
        .map_err(sim("ID card reader"))?;
    let fonts = receipt_printer::raster::FontRasterizer::noto_cjk()
        .map_err(|x| format!("no CJK font (Debian package fonts-noto-cjk): {x}"))?;
    let printer = receipt_printer::sim::PrinterSimulator::start(
        &dev.join("printer"),
        115_200,
        &receipts,
        Arc::new(fonts),
    )
    .map_err(sim("receipt printer"))?;
    let dispenser = dispenser::sim::DispenserSimulator::start(
        &dev.join("dispenser"),
        dispenser::sim::SimConfig {
            cards: 20,
            ..Default::default()
        },
    )
    .map_err(sim("dispenser"))?;
    let (camera, camera_control) = doc_camera::sim::SimCamera::new(7, true);
    // The A4 printer: a private CUPS whose queue prints to a file. Without CUPS installed the
    // kiosk runs without an A4 printer, as one without the device would.
    let a4 = match a4_printer::sim::CupsSimulator::start(&dir.join("cups")) {
        Ok(cups) => {
            cups.add_queue(A4_QUEUE, &cups.out("kiosk-a4.pdf"), &[])
                .map_err(|x| format!("A4 printer simulator: {x}"))?;
            Some(cups)
        }
        Err(x) => {
            tracing::warn!(error = %x, "no A4 printer simulator");
            None
        }
    };

    let config = Config {
        data_dir: data,
        store_key: None,
        trust,
        terminal: Terminal {
            id: TERMINAL.into(),
            office: "模拟政务服务中心 (simulated service centre)".into(),
            hotline: "12345".into(),
            progress_url: "https://zwfw.example.gov.cn/p/".into(),
        },
        devices: Devices {
            id_reader: Some(SerialDevice {
                port: dev.join("idcard"),
                baud: None,
            }),
            receipt_printer: Some(ReceiptPrinter {
                port: dev.join("printer"),
                baud: Some(115_200),
                profile: "custom-kiosk".into(),
            }),
            dispenser: Some(SerialDevice {
                port: dev.join("dispenser"),
                baud: None,
            }),
            camera: None,
            a4_printer: a4.as_ref().map(|cups| A4Printer {
                server: cups.server(),
                queue: A4_QUEUE.into(),
            }),
            speaker: None,
        },
        backend: Some(Backend {
            url,
            ca: pki.ca_cert(),
            cert: cert.clone(),
            key: key.clone(),
        }),
        timeouts: session::Timeouts::default(),
        ui: Ui::default(),
        maintenance: Maintenance {
            pin_hash: Some(
                session::maintenance::hash_pin(TECHNICIAN_PIN).map_err(e("maintenance"))?,
            ),
            technician_cards: vec![
                session::maintenance::card_key(&demo_data::applicant(TECHNICIAN_CARD).id_number)
                    .map_err(e("maintenance"))?,
            ],
            export_dir: usb,
            ..Maintenance::default()
        },
    };
    Ok(Simulation {
        config,
        world: Arc::new(World {
            idcard,
            printer,
            dispenser,
            camera: camera_control,
            a4,
            network,
            backend: storage,
            terminal: TERMINAL.into(),
        }),
        camera: Some(Box::new(camera)),
        receipts,
    })
}

/// Serves the backend on a free loopback port; returns it once connections are accepted.
async fn serve(storage: Arc<SqliteStorage>, tls: TlsFiles) -> Result<SocketAddr, String> {
    let (ready, bound) = tokio::sync::oneshot::channel();
    let storage: Arc<dyn Storage> = storage;
    tokio::spawn(async move {
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        if let Err(e) =
            central_backend::server::serve(listen, tls, storage, Faults::default(), |a| {
                let _ = ready.send(a);
            })
            .await
        {
            tracing::error!(error = %e, "local backend stopped");
        }
    });
    tokio::time::timeout(Duration::from_secs(10), bound)
        .await
        .map_err(|_| "the local backend did not start".to_owned())?
        .map_err(|_| "the local backend did not start".to_owned())
}
