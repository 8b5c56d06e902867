//! A reader driver wired to a simulated reader over a real PTY, and what a user of the driver
//! sees: its events and its status.

#![allow(dead_code, missing_docs)] // each test binary uses part of it
use device_model::{Device, DeviceState, Status};
use idcard::command::Command;
use idcard::sim::IdCardSimulator;
use idcard::{IdCard, IdCardEvent, IdReaderStatus, ReaderConfig, SerialIdCardReader};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// How long a test waits for something that must happen before calling it missing. Generous,
/// since CI machines are shared; nothing is asserted about how fast it happens.
pub const PATIENCE: Duration = Duration::from_secs(10);
/// Poll interval in tests: shorter than the kiosk's 300 ms, to keep the suite quick.
pub const POLL: Duration = Duration::from_millis(40);

pub fn card(name: &str) -> IdCard {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/cards/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub const CARD_FILES: [&str; 4] = [
    "resident",
    "hmt_residence_permit",
    "foreign_permanent_2017",
    "foreign_permanent_2023",
];

pub struct Rig {
    _dir: tempfile::TempDir,
    pub link: PathBuf,
    pub sim: IdCardSimulator,
    pub reader: SerialIdCardReader,
    pub events: broadcast::Receiver<IdCardEvent>,
    pub status: watch::Receiver<Status<IdReaderStatus>>,
}

impl Rig {
    /// A simulator at `sim_baud` and a driver configured by `tweak`, presence loop off.
    pub fn new(sim_baud: u32, tweak: impl FnOnce(&mut ReaderConfig)) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("idcard");
        let sim = IdCardSimulator::start(&link, sim_baud).unwrap();
        let mut config = ReaderConfig::new(&link);
        config.poll_interval = POLL;
        config.reconnect_interval = Duration::from_millis(50);
        // Generous: a loaded CI machine must not turn a slow reply into a lost one.
        config.command_timeout = Duration::from_millis(500);
        config.read_timeout = Duration::from_millis(2000);
        tweak(&mut config);
        let reader = SerialIdCardReader::open(config).unwrap();
        let events = reader.events();
        let status = reader.status();
        Rig {
            _dir: dir,
            link,
            sim,
            reader,
            events,
            status,
        }
    }

    pub fn standard() -> Rig {
        Rig::new(115_200, |_| {})
    }

    /// The next event, or a panic naming what was awaited.
    pub async fn next_event(&mut self, awaiting: &str) -> IdCardEvent {
        match tokio::time::timeout(PATIENCE, self.events.recv()).await {
            Ok(Ok(event)) => event,
            other => panic!("no event while awaiting {awaiting}: {other:?}"),
        }
    }

    pub async fn expect_inserted_then_read(&mut self) -> std::sync::Arc<IdCard> {
        assert!(matches!(
            self.next_event("insert").await,
            IdCardEvent::CardInserted
        ));
        match self.next_event("read").await {
            IdCardEvent::CardRead(card) => card,
            other => panic!("expected CardRead, got {other:?}"),
        }
    }

    /// Asserts that nothing is reported while the driver polls `polls` more times (counted at
    /// the simulator, so a slow machine only makes it take longer).
    pub async fn expect_quiet(&mut self, polls: usize) {
        let seen = self.finds();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.finds() < seen + polls {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the driver stopped polling"
            );
            tokio::time::sleep(POLL / 4).await;
        }
        self.expect_no_event();
    }

    /// Asserts that nothing is reported during `time` (when the reader cannot be polled).
    pub async fn expect_quiet_for(&mut self, time: Duration) {
        tokio::time::sleep(time).await;
        self.expect_no_event();
    }

    fn expect_no_event(&mut self) {
        match self.events.try_recv() {
            Err(broadcast::error::TryRecvError::Empty) => {}
            other => panic!("expected no event, got {other:?}"),
        }
    }

    /// How many times the simulator was asked to find a card.
    pub fn finds(&self) -> usize {
        self.sim
            .commands()
            .iter()
            .filter(|c| **c == Command::FindCard)
            .count()
    }

    /// How many times the simulator was asked to read a card.
    pub fn reads(&self) -> usize {
        self.sim
            .commands()
            .iter()
            .filter(|c| **c == Command::ReadTextPhoto)
            .count()
    }

    /// Waits until the status satisfies `want`, and returns it.
    pub async fn wait_status(
        &mut self,
        what: &str,
        want: impl Fn(&Status<IdReaderStatus>) -> bool,
    ) -> Status<IdReaderStatus> {
        device_model::wait_for_status(&mut self.status, PATIENCE, want)
            .await
            .unwrap_or_else(|last| panic!("status never became {what}: last {last:?}"))
    }

    pub async fn wait_state(&mut self, state: DeviceState) -> Status<IdReaderStatus> {
        self.wait_status(&format!("{state:?}"), |s| s.device == state)
            .await
    }
}
