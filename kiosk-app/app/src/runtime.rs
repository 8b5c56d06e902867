//! The runtime: the one place where the session engine meets the world. It feeds the engine
//! what fingers, devices, the store and the clock do, carries out the effects the engine asks
//! for (store work on blocking threads, device commands as tasks) and hands every new view to
//! whoever shows it (the screen, or the headless driver's standard output).

use crate::config::Config;
use crate::devices::Devices;
use application::time::{local_minute, now_ms};
use catalogue::{Catalogue, Delivery, Installed, TrustStore};
use dispenser::{CardDispenser, Outcome};
use kiosk_store::{Store, StoreError};
use receipt_printer::template::{ApplicationReceipt, MissingMaterial};
use receipt_printer::{ReceiptOutcome, ReceiptPrinter};
use session::maintenance::{self as m, Request};
use session::{
    Command, Device, Effect, Engine, Event, Intent, ReceiptInfo, SaveFailure, Settings, View,
};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

/// How long a certificate card waits at the dispenser's gate.
const TAKE_CARD_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything that drives the engine.
#[derive(Debug)]
pub enum Input {
    /// What a finger did.
    Intent(Intent),
    /// What a device, the store or the central office reported.
    Event(Event),
}

/// Why the runtime stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Nothing more will come (the input closed).
    Closed,
    /// A remote command asked for a restart; it is already recorded as done.
    Reboot,
}

/// The name and ID number on the card of the citizen being served: printed masked on the
/// receipt, wiped when the session ends.
struct Holder {
    name: Zeroizing<String>,
    id_number: Zeroizing<String>,
}

/// The kiosk at work.
pub struct Runtime {
    engine: Engine,
    store: Arc<Mutex<Store>>,
    catalogue: Arc<Catalogue>,
    trust: TrustStore,
    catalogue_stamp: Option<SystemTime>,
    devices: Devices,
    config: Config,
    inputs: UnboundedSender<Input>,
    holder: Option<Holder>,
    commands_seen: BTreeSet<u64>,
}

/// Why the runtime cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No catalogue is installed, or it does not open.
    #[error("catalogue: {0}")]
    Catalogue(String),
}

impl Runtime {
    /// The runtime over an open store and devices; `inputs` is the sending side of the
    /// channel [`Runtime::run`] reads.
    pub fn new(
        config: Config,
        store: Store,
        trust: TrustStore,
        devices: Devices,
        inputs: UnboundedSender<Input>,
    ) -> Result<Runtime, StartError> {
        let file = catalogue_file(&config);
        let installed = Installed::open(&file, trust.clone())
            .map_err(|e| StartError::Catalogue(e.to_string()))?;
        let catalogue = installed.current().ok_or_else(|| {
            StartError::Catalogue(format!("none installed at {}", file.display()))
        })?;
        let mut engine = Engine::new(
            catalogue.clone(),
            Settings {
                terminal: config.terminal.id.clone(),
                timeouts: config.timeouts.clone(),
                progress_url: config.terminal.progress_url.clone(),
                maintenance: config.maintenance.access(),
            },
            now_ms(),
        );
        // A restart must not give a PIN guesser a fresh set of tries.
        match store.audit_since(now_ms() - 86_400_000) {
            Ok(events) => {
                let events: Vec<_> = events.into_iter().map(|(_, e)| e).collect();
                engine.restore_pin_guard(&events);
            }
            Err(e) => tracing::warn!(error = %e, "maintenance PIN lockout not restored"),
        }
        Ok(Runtime {
            engine,
            store: Arc::new(Mutex::new(store)),
            catalogue,
            catalogue_stamp: modified(&file),
            trust,
            devices,
            config,
            inputs,
            holder: None,
            commands_seen: BTreeSet::new(),
        })
    }

    /// Runs until the input closes or a reboot is asked for, handing each new view to
    /// `on_view` (the first at once).
    pub async fn run(
        mut self,
        mut inputs: UnboundedReceiver<Input>,
        mut on_view: impl FnMut(&View),
    ) -> Exit {
        let mut shown = self.engine.view();
        on_view(&shown);
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        let mut chores = tokio::time::interval(Duration::from_secs(2));
        loop {
            let now = now_ms();
            let effects = tokio::select! {
                input = inputs.recv() => match input {
                    Some(Input::Intent(intent)) => self.engine.intent(now, intent),
                    Some(Input::Event(event)) => {
                        let read = matches!(event, Event::CardRead(_));
                        if let Event::CardRead(who) = &event {
                            self.holder = Some(Holder {
                                name: Zeroizing::new(who.name.clone()),
                                id_number: Zeroizing::new(who.id_number.clone()),
                            });
                        }
                        let effects = self.engine.event(now, event);
                        // A card read outside a session (a technician's at the maintenance
                        // login, or any card there) is not kept.
                        if read && !self.engine.in_session() {
                            self.holder = None;
                        }
                        effects
                    }
                    None => return Exit::Closed,
                },
                _ = clock.tick() => self.engine.tick(now),
                _ = chores.tick() => self.chores(now),
            };
            let mut exit = None;
            for effect in effects {
                exit = exit.or(self.carry_out(effect, now));
            }
            let view = self.engine.view();
            if view != shown {
                on_view(&view);
                shown = view;
            }
            if let Some(exit) = exit {
                return exit;
            }
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Commands from the central office (recorded by the sync agent) and a newer catalogue
    /// (installed by it), both looked for every few seconds.
    fn chores(&mut self, now: i64) -> Vec<Effect> {
        let mut effects = Vec::new();
        let to_do = self.store().commands_to_do();
        match to_do {
            Ok(commands) => {
                for (id, kind) in commands {
                    if !self.commands_seen.insert(id) {
                        continue;
                    }
                    match serde_json::from_value::<Command>(serde_json::Value::String(kind.clone()))
                    {
                        Ok(command) => {
                            effects.extend(self.engine.event(now, Event::Command { id, command }))
                        }
                        Err(_) => {
                            tracing::warn!(id, kind = %kind, "unknown remote command ignored")
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "remote commands unreadable"),
        }
        let file = catalogue_file(&self.config);
        let stamp = modified(&file);
        if stamp != self.catalogue_stamp {
            self.catalogue_stamp = stamp;
            match Installed::open(&file, self.trust.clone()).map(|i| i.current()) {
                Ok(Some(c)) if c.version != self.catalogue.version => {
                    tracing::info!(version = c.version, "catalogue changed");
                    self.catalogue = c.clone();
                    self.engine.set_catalogue(c);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "installed catalogue unreadable; the one in use stays")
                }
            }
        }
        effects
    }

    /// Carries out one effect; the outcome comes back later as an input.
    fn carry_out(&mut self, effect: Effect, now: i64) -> Option<Exit> {
        match effect {
            Effect::Lookup { session, id_number } => {
                let (store, catalogue) = (self.store.clone(), self.catalogue.clone());
                self.blocking(move || {
                    let found = session::lookup(&lock(&store), &catalogue, &id_number, now);
                    match found {
                        Ok(records) => vec![Event::Records {
                            session,
                            records: Box::new(records),
                        }],
                        Err(e) => {
                            tracing::error!(error = %e, "the store cannot be read");
                            vec![Event::Device {
                                device: session::Device::Store,
                                usable: false,
                                reason: Some(e.to_string()),
                            }]
                        }
                    }
                });
            }
            Effect::StartCapture { material, colour } => match &self.devices.camera {
                Some(camera) => camera.start(material, colour),
                None => self.answer(Event::CaptureFailed {
                    reason: "no document camera".into(),
                }),
            },
            Effect::StopCapture => {
                if let Some(camera) = &self.devices.camera {
                    camera.stop();
                }
            }
            Effect::Save(submission) => {
                let (store, catalogue) = (self.store.clone(), self.catalogue.clone());
                self.blocking(move || {
                    let submission = *submission;
                    let saved = lock(&store).submit(
                        &catalogue,
                        submission.draft,
                        submission.captured,
                        now_ms(),
                    );
                    vec![match saved {
                        Ok(saved) => Event::Saved {
                            number: saved.number,
                        },
                        Err(e) => save_failed(&e),
                    }]
                });
            }
            Effect::SaveSupplement(supplement) => {
                let (store, catalogue) = (self.store.clone(), self.catalogue.clone());
                self.blocking(move || {
                    let s = *supplement;
                    let saved = lock(&store).supplement(
                        &catalogue,
                        &s.number,
                        s.form,
                        s.captured,
                        s.signature,
                        now_ms(),
                    );
                    vec![match saved {
                        Ok(_) => Event::Saved { number: s.number },
                        Err(e) => save_failed(&e),
                    }]
                });
            }
            Effect::PrintReceipt(info) => self.print_receipt(*info, now),
            Effect::HandOut { number, delivery } => self.hand_out(number.to_string(), delivery),
            Effect::Speak { text } => tracing::info!(text = %text, "voice guidance"),
            Effect::Audit(event) => {
                if let Err(e) = self.store().audit(&event) {
                    tracing::error!(error = %e, "audit event not recorded");
                }
            }
            Effect::EndSession => {
                self.holder = None;
                if let Some(camera) = &self.devices.camera {
                    camera.stop();
                }
            }
            Effect::OutOfService { reason } => {
                let file = self.config.data_dir.join("out-of-service");
                let done = match &reason {
                    Some(r) => durable_fs::write_atomic(&file, r.as_bytes()),
                    None => match std::fs::remove_file(&file) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                        _ => Ok(()),
                    },
                };
                if let Err(e) = done {
                    tracing::error!(error = %e, "out-of-service flag not written");
                }
                tracing::warn!(reason = ?reason, "service changed");
            }
            Effect::CommandDone { id } => {
                if let Err(e) = self.store().command_done(id, now) {
                    tracing::error!(id, error = %e, "command not recorded as done");
                }
            }
            Effect::Reboot => return Some(Exit::Reboot),
            Effect::Maintenance(request) => self.maintenance(request),
            Effect::CollectLogs => {
                tracing::warn!(
                    "log collection asked for: logs are in the journal (journalctl -u kiosk-app)"
                )
            }
        }
        None
    }

    fn answer(&self, event: Event) {
        let _ = self.inputs.send(Input::Event(event));
    }

    /// Runs `work` on a blocking thread and feeds its events back.
    fn blocking(&self, work: impl FnOnce() -> Vec<Event> + Send + 'static) {
        let inputs = self.inputs.clone();
        tokio::task::spawn_blocking(move || {
            for event in work() {
                let _ = inputs.send(Input::Event(event));
            }
        });
    }

    fn print_receipt(&self, info: ReceiptInfo, now: i64) {
        let Some(printer) = self.devices.printer.clone() else {
            return self.answer(Event::ReceiptFailed {
                reason: "no receipt printer".into(),
            });
        };
        let (name, id_number) = self.holder.as_ref().map_or_else(Default::default, |h| {
            (h.name.as_str().to_owned(), h.id_number.as_str().to_owned())
        });
        let (delivery_zh, delivery_en) = info.delivery.map_or(("", ""), delivery_words);
        let receipt = ApplicationReceipt {
            office: self.config.terminal.office.clone(),
            number: info.number,
            item_zh: info.items.join("、"),
            item_en: info.items_en.join("; "),
            applicant: name,
            id_number,
            submitted: local_minute(now),
            time_limit_days: info.time_limit_days,
            delivery_zh: delivery_zh.into(),
            delivery_en: delivery_en.into(),
            missing: info
                .missing
                .into_iter()
                .map(|(name_zh, name_en, deadline)| MissingMaterial {
                    name_zh,
                    name_en,
                    deadline,
                })
                .collect(),
            progress_url: info.qr,
            hotline: self.config.terminal.hotline.clone(),
            kiosk: self.config.terminal.id.clone(),
        };
        let inputs = self.inputs.clone();
        let data_dir = self.config.data_dir.clone();
        tokio::spawn(async move {
            let layout = receipt.layout(48);
            drop(receipt);
            let printed = printer.print(layout, CancellationToken::new()).await;
            if printed.is_ok() {
                count_used(&data_dir, "receipt_paper");
            }
            let event = match printed {
                Ok(ReceiptOutcome::Printed) => Event::ReceiptPrinted,
                // Taken, or pulled back in after nobody took it: either way the presenter is
                // empty now.
                Ok(ReceiptOutcome::Taken | ReceiptOutcome::Retracted) => Event::ReceiptTaken,
                Err(e) => Event::ReceiptFailed {
                    reason: e.to_string(),
                },
            };
            let _ = inputs.send(Input::Event(event));
        });
    }

    fn hand_out(&self, number: String, delivery: Delivery) {
        let dispenser = match delivery {
            Delivery::Dispenser => self.devices.dispenser.clone(),
            _ => None,
        };
        let Some(dispenser) = dispenser else {
            return self.answer(Event::ResultFailed {
                reason: format!("this kiosk cannot hand out {delivery:?} results"),
            });
        };
        let inputs = self.inputs.clone();
        let data_dir = self.config.data_dir.clone();
        tokio::spawn(async move {
            let dispensed = dispenser
                .dispense(TAKE_CARD_TIMEOUT, CancellationToken::new())
                .await;
            if dispensed.is_ok() {
                count_used(&data_dir, "cards");
            }
            let event = match dispensed {
                Ok(Outcome::Taken) => {
                    tracing::info!(number = %number, "result card taken");
                    Event::ResultHandedOut
                }
                Ok(Outcome::Retained) => Event::ResultFailed {
                    reason: "the card was not taken in time and was kept safe inside".into(),
                },
                Err(e) => Event::ResultFailed {
                    reason: e.to_string(),
                },
            };
            let _ = inputs.send(Input::Event(event));
        });
    }

    /// Maintenance menu work: each answers with a report or an outcome.
    fn maintenance(&self, request: Request) {
        let (config, store) = (self.config.clone(), self.store.clone());
        let version = self.catalogue.version;
        let done = |action: &str, result: Result<String, String>| {
            let (ok, detail) = match result {
                Ok(d) => (true, d),
                Err(d) => (false, d),
            };
            Event::MaintenanceDone(m::Outcome {
                action: action.into(),
                ok,
                detail,
            })
        };
        match request {
            Request::Report => self.blocking(move || {
                let free = lock(&store).free_bytes().unwrap_or(0);
                let report = crate::maintenance::report(&config, version, free, now_ms());
                vec![Event::MaintenanceReport(Box::new(report))]
            }),
            Request::Refilled(supply) => {
                let result = if crate::maintenance::SUPPLIES.contains(&supply.as_str()) {
                    crate::maintenance::count(&config.data_dir, &supply, false)
                        .map(|()| format!("{supply}: counter reset"))
                        .map_err(|e| e.to_string())
                } else {
                    Err(format!("no supply {supply}"))
                };
                self.answer(done("refilled", result));
            }
            Request::SyncNow => self.blocking(move || {
                let result = lock(&store)
                    .sync_now(now_ms())
                    .map(|n| format!("{n} waiting, sent now"))
                    .map_err(|e| e.to_string());
                vec![done("sync_now", result)]
            }),
            Request::ExportDiagnostics => self.blocking(move || {
                let (free, check) = {
                    let store = lock(&store);
                    (store.free_bytes().unwrap_or(0), store.verify())
                };
                let result = check.map_err(|e| e.to_string()).and_then(|check| {
                    let report = crate::maintenance::report(&config, version, free, now_ms());
                    crate::maintenance::export(&config, &report, &check, now_ms())
                        .map(|p| format!("written to {}", p.display()))
                });
                vec![done("export_diagnostics", result)]
            }),
            Request::SelfTest(Device::ReceiptPrinter) => {
                let Some(printer) = self.devices.printer.clone() else {
                    return self.answer(done("self_test", Err("no receipt printer".into())));
                };
                let slip = receipt_printer::doc::Receipt::new()
                    .text("自检 SELF-TEST", receipt_printer::doc::Style::default())
                    .text(
                        format!("{} {}", config.terminal.id, local_minute(now_ms())),
                        receipt_printer::doc::Style::default(),
                    )
                    .push(receipt_printer::doc::Block::Cut { partial: true });
                let inputs = self.inputs.clone();
                tokio::spawn(async move {
                    let result = printer
                        .print(slip, CancellationToken::new())
                        .await
                        .map(|_| {
                            count_used(&config.data_dir, "receipt_paper");
                            "test slip printed".to_owned()
                        })
                        .map_err(|e| e.to_string());
                    let _ = inputs.send(Input::Event(done("self_test", result)));
                });
            }
            Request::SelfTest(Device::Store) => self.blocking(move || {
                let result = match lock(&store).verify() {
                    Ok(r)
                        if r.integrity == "ok"
                            && r.audit_chain == "ok"
                            && r.incomplete.is_empty() =>
                    {
                        Ok(format!("store: ok, {} applications", r.applications))
                    }
                    Ok(r) => Err(format!(
                        "store: integrity {}, audit chain {}, {} incomplete",
                        r.integrity,
                        r.audit_chain,
                        r.incomplete.len()
                    )),
                    Err(e) => Err(format!("store: {e}")),
                };
                vec![done("self_test", result)]
            }),
            Request::SelfTest(device) => {
                let name = match device {
                    Device::IdReader => "idcard",
                    Device::Camera => "doc-camera",
                    Device::Dispenser => "dispenser",
                    Device::A4Printer => "a4-printer",
                    Device::ReceiptPrinter | Device::Store => "receipt-printer",
                };
                let state = sync_agent::agent::device_reports(&config.data_dir)
                    .into_iter()
                    .find(|d| d.device == name)
                    .map(|d| d.state);
                let result = match state.as_deref() {
                    Some("online") => Ok(format!("{name}: online")),
                    Some(other) => Err(format!("{name}: {other}")),
                    None => Err(format!("{name}: not fitted")),
                };
                self.answer(done("self_test", result));
            }
        }
    }
}

/// Counts a supply used; a counter that cannot be written is logged, never in the way.
fn count_used(data_dir: &std::path::Path, supply: &str) {
    if let Err(e) = crate::maintenance::count(data_dir, supply, true) {
        tracing::warn!(supply, error = %e, "supply counter not written");
    }
}

fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

fn catalogue_file(config: &Config) -> PathBuf {
    config.data_dir.join("catalogue.json")
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn save_failed(e: &StoreError) -> Event {
    let failure = match e {
        StoreError::DiskFull { .. } => SaveFailure::DiskFull,
        // Corrections for an application no longer kept (purged in between): nothing to do
        // with the store's health.
        StoreError::Refused(_) | StoreError::NotFound(_) => SaveFailure::Refused,
        _ => SaveFailure::StoreFailed,
    };
    tracing::error!(error = %e, "application not saved");
    Event::SaveFailed {
        failure,
        reason: e.to_string(),
    }
}

/// How a result is delivered, as the receipt says it.
fn delivery_words(d: Delivery) -> (&'static str, &'static str) {
    match d {
        Delivery::KioskPrint => ("本机打印", "printed at this kiosk"),
        Delivery::Dispenser => ("本机发放", "issued by this kiosk"),
        Delivery::HallPickup => ("大厅窗口领取", "collect at the service hall"),
        Delivery::Mail => ("邮寄送达", "sent by post"),
    }
}
