//! The runtime: the one place where the session engine meets the world. It feeds the engine
//! what fingers, devices, the store and the clock do, carries out the effects the engine asks
//! for (store work on blocking threads, device commands as tasks) and hands every new view to
//! whoever shows it (the screen, or the headless driver's standard output).

use crate::config::Config;
use crate::devices::Devices;
use application::ApplicationNumber;
use application::time::{local_minute, now_ms};
use catalogue::{Catalogue, Delivery, Installed, TrustStore};
use dispenser::{CardDispenser, Outcome};
use idcard::{IdCardError, IdCardReader, ReadOptions, SamHealth, SerialIdCardReader};
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
    /// Cancels the hand-out under way when the session ends.
    handing_out: Option<CancellationToken>,
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
                display: config.ui.display(),
                not_fitted: devices.not_fitted(&config),
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
            handing_out: None,
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
                        let card = match &event {
                            Event::CardRead(who) => Some(Holder {
                                name: Zeroizing::new(who.name.clone()),
                                id_number: Zeroizing::new(who.id_number.clone()),
                            }),
                            _ => None,
                        };
                        let before = self.engine.session_serial();
                        let effects = self.engine.event(now, event);
                        // The card's holder is kept (for the receipt) only when this card
                        // started a citizen's session: not a technician's card, not another
                        // person's card laid down while someone's application is saving.
                        let after = self.engine.session_serial();
                        if card.is_some() && after.is_some() && after != before {
                            self.holder = card;
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
            Effect::HandOut { number, delivery } => self.hand_out(number, delivery),
            Effect::Speak { text, language } => {
                tracing::info!(text = %text, ?language, "voice guidance");
                if let Some(voice) = &self.devices.voice {
                    voice.say(&text, language);
                }
            }
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
                // A card or document not yet out is not handed to whoever stands here next.
                if let Some(hand_out) = self.handing_out.take() {
                    hand_out.cancel();
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
                let (config, store) = (self.config.clone(), self.store.clone());
                let version = self.catalogue.version;
                self.blocking(move || {
                    let free = lock(&store).free_bytes().unwrap_or(0);
                    let report = crate::maintenance::report(&config, version, free, now_ms());
                    match crate::maintenance::log_bundle(&config, &report, now_ms()) {
                        Ok(path) => tracing::info!(
                            path = %path.display(),
                            "log bundle left for the sync agent"
                        ),
                        Err(error) => tracing::error!(%error, "log bundle not written"),
                    }
                    Vec::new()
                });
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

    /// Hands out a result: the card from the dispenser, or the result notice on the A4
    /// printer. Canceled when the session ends first.
    fn hand_out(&mut self, number: ApplicationNumber, delivery: Delivery) {
        let cancel = CancellationToken::new();
        self.handing_out = Some(cancel.clone());
        let inputs = self.inputs.clone();
        let data_dir = self.config.data_dir.clone();
        match (
            delivery,
            self.devices.dispenser.clone(),
            self.devices.a4.clone(),
        ) {
            (Delivery::Dispenser, Some(dispenser), _) => {
                tokio::spawn(async move {
                    let dispensed = dispenser.dispense(TAKE_CARD_TIMEOUT, cancel).await;
                    if dispensed.is_ok() {
                        count_used(&data_dir, "cards");
                    }
                    let event = match dispensed {
                        Ok(Outcome::Taken) => {
                            tracing::info!(number = %number, "result card taken");
                            Event::ResultHandedOut
                        }
                        Ok(Outcome::Retained) => Event::ResultFailed {
                            reason: "the card was not taken in time and was kept safe inside"
                                .into(),
                        },
                        Err(e) => Event::ResultFailed {
                            reason: e.to_string(),
                        },
                    };
                    let _ = inputs.send(Input::Event(event));
                });
            }
            (Delivery::KioskPrint, _, Some(a4)) => {
                let document = match self.result_notice(&number) {
                    Ok(d) => d,
                    Err(reason) => return self.answer(Event::ResultFailed { reason }),
                };
                tokio::spawn(async move {
                    let printed = a4.print(&document, cancel).await;
                    if printed.is_ok() {
                        count_used(&data_dir, "a4_paper");
                    }
                    let event = match printed {
                        Ok(job) => {
                            tracing::info!(number = %number, job, "result notice printed");
                            Event::ResultHandedOut
                        }
                        Err(e) => Event::ResultFailed {
                            reason: e.to_string(),
                        },
                    };
                    let _ = inputs.send(Input::Event(event));
                });
            }
            _ => self.answer(Event::ResultFailed {
                reason: format!("this kiosk cannot hand out {delivery:?} results"),
            }),
        }
    }

    /// The result notice printed on A4 for application `number`: what was applied for, when,
    /// and its result, with the holder's name and ID number masked as on the receipt (a sheet
    /// left behind gives nothing away).
    fn result_notice(&self, number: &ApplicationNumber) -> Result<a4_printer::Document, String> {
        use a4_printer::{Block, Document};
        let application = self
            .store()
            .application(number)
            .map_err(|e| e.to_string())?;
        let (name, id_number) = self.holder.as_ref().map_or_else(Default::default, |h| {
            (
                idcard::mask::name(&h.name),
                idcard::mask::id_number(&h.id_number),
            )
        });
        let items: Vec<String> = application
            .items
            .iter()
            .map(|code| {
                self.catalogue
                    .item(code)
                    .map_or_else(|| code.clone(), |i| i.name.zh.clone())
            })
            .collect();
        let field = |label: &str, value: String| Block::Field {
            label: label.into(),
            value,
        };
        Ok(Document::new(format!("办理结果通知书 {number}"))
            .push(Block::Title("办理结果通知书 Result Notice".into()))
            .push(field("申请编号 Application No.", number.to_string()))
            .push(field("申请人 Applicant", name))
            .push(field("证件号码 ID No.", id_number))
            .push(field("办理事项 Services", items.join("、")))
            .push(field("受理时间 Submitted", local_minute(application.saved_at_ms)))
            .push(field("办理结果 Result", "已办结 Completed".into()))
            .push(field("打印时间 Printed", local_minute(now_ms())))
            .push(field(
                "打印终端 Kiosk",
                format!("{} {}", self.config.terminal.id, self.config.terminal.office),
            ))
            .push(Block::Rule)
            .push(Block::Paragraph(format!(
                "本通知书由政务服务自助终端打印，可凭申请编号在 {} 查询真伪。This notice was printed at a self-service kiosk; check it with the application number at {}.",
                self.config.terminal.progress_url, self.config.terminal.progress_url
            ))))
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
            Request::SelfTest(Device::IdReader) => {
                let Some(reader) = self.devices.id_reader.clone() else {
                    return self.answer(done("self_test", Err("no ID card reader".into())));
                };
                let inputs = self.inputs.clone();
                tokio::spawn(async move {
                    let result = id_reader_test(&reader).await;
                    let _ = inputs.send(Input::Event(done("self_test", result)));
                });
            }
            Request::SelfTest(Device::Camera) => {
                let Some(camera) = self.devices.camera.clone() else {
                    return self.answer(done("self_test", Err("no document camera".into())));
                };
                self.blocking(move || vec![done("self_test", camera.self_test())]);
            }
            Request::SelfTest(Device::Dispenser) => {
                let Some(dispenser) = self.devices.dispenser.clone() else {
                    return self.answer(done("self_test", Err("no card dispenser".into())));
                };
                let inputs = self.inputs.clone();
                tokio::spawn(async move {
                    let dispensed = dispenser
                        .dispense(TAKE_CARD_TIMEOUT, CancellationToken::new())
                        .await;
                    if dispensed.is_ok() {
                        count_used(&config.data_dir, "cards");
                    }
                    let result = match dispensed {
                        Ok(Outcome::Taken) => Ok("a test card went out and was taken".into()),
                        Ok(Outcome::Retained) => Ok(
                            "a test card went out; not taken, it was kept in the reject bin".into(),
                        ),
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = inputs.send(Input::Event(done("self_test", result)));
                });
            }
            Request::SelfTest(Device::A4Printer) => {
                let Some(a4) = self.devices.a4.clone() else {
                    return self.answer(done("self_test", Err("no A4 printer".into())));
                };
                let page = a4_printer::Document::new("自检 SELF-TEST")
                    .push(a4_printer::Block::Title("自检页 Test page".into()))
                    .push(a4_printer::Block::Field {
                        label: "终端 Kiosk".into(),
                        value: format!("{} {}", config.terminal.id, local_minute(now_ms())),
                    })
                    .push(a4_printer::Block::Paragraph(
                        "中文、English 和数字 0123456789 都应清晰可读。".into(),
                    ));
                let inputs = self.inputs.clone();
                tokio::spawn(async move {
                    let result = a4
                        .print(&page, CancellationToken::new())
                        .await
                        .map(|job| {
                            count_used(&config.data_dir, "a4_paper");
                            format!("test page printed (job {job})")
                        })
                        .map_err(|e| e.to_string());
                    let _ = inputs.send(Input::Event(done("self_test", result)));
                });
            }
        }
    }
}

/// The ID card reader's self-test: the SAM module's own check, then a test card on the reader
/// read through (what it says is dropped at once: only that it was read is reported).
async fn id_reader_test(reader: &SerialIdCardReader) -> Result<String, String> {
    let within = |s: u64| {
        let cancel = CancellationToken::new();
        let guard = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(s)).await;
            guard.cancel();
        });
        cancel
    };
    let health = reader
        .sam_status(within(5))
        .await
        .map_err(|e| format!("SAM module: {e}"))?;
    if health != SamHealth::Ok {
        return Err(format!("SAM module: {health:?}"));
    }
    // The technician lays the test card down after asking for the test.
    let deadline = tokio::time::Instant::now() + TEST_CARD_PATIENCE;
    loop {
        match reader.read_card(ReadOptions::default(), within(10)).await {
            Ok(card) => return Ok(format!("SAM ok; test card read ({:?})", card.card_type)),
            Err(IdCardError::NoCard) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => return Err(format!("SAM ok; no test card read: {e}")),
        }
    }
}

/// How long the reader's self-test waits for a test card.
const TEST_CARD_PATIENCE: Duration = Duration::from_secs(20);

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
