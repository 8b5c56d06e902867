//! The engine with its effects carried out against a real store in a temporary directory, as
//! the runtime carries them out; devices are answered here. Shared by the journey tests and the
//! soak benchmark.
#![allow(dead_code)] // Each user takes what it needs.

use application::{Applicant, time};
use catalogue::Catalogue;
use kiosk_store::{Config, KeyFile, Store, StoreError};
use serde_json::Value;
use session::maintenance::{Access, card_key, hash_pin};
use session::{
    Device, Display, Effect, Engine, Event, Intent, ReceiptInfo, SaveFailure, Screen, Settings,
    Timeouts,
};
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use zeroize::Zeroizing;

pub const TERMINAL: &str = catalogue::sample::HALL_TERMINAL;
pub const HOTEL: &str = "open_hotel";
/// 无犯罪记录证明开具: one item, no questions, one material.
pub const CERTIFICATE: &str = "11440600MB2C0417XA9000164000000";

pub struct Kiosk {
    pub engine: Engine,
    pub store: Store,
    pub catalogue: Arc<Catalogue>,
    pub now: i64,
    pub paper: bool,
    pub disk_full: bool,
    pub printed: Vec<ReceiptInfo>,
    pub effects: Vec<String>,
    /// Saves, prints and hand-outs are held unanswered (the disk or device is still busy)
    /// until [`Kiosk::release`].
    pub hold: bool,
    held: Vec<Effect>,
    /// Values typed into forms, to check they never reach the next citizen.
    pub typed: Vec<String>,
    /// Time spent in the store's lookups and durable saves.
    pub store_time: std::time::Duration,
    pub rng: demo_data::Rng,
    _dir: tempfile::TempDir,
}

impl Kiosk {
    pub fn new() -> Kiosk {
        Kiosk::with_timeouts(Timeouts::default())
    }

    pub fn with_timeouts(timeouts: Timeouts) -> Kiosk {
        Kiosk::with(timeouts, BTreeSet::new())
    }

    /// A kiosk without the devices `not_fitted`.
    pub fn without(not_fitted: &[Device]) -> Kiosk {
        Kiosk::with(Timeouts::default(), not_fitted.iter().copied().collect())
    }

    fn with(timeouts: Timeouts, not_fitted: BTreeSet<Device>) -> Kiosk {
        let dir = tempfile::tempdir().unwrap();
        KeyFile::create(&dir.path().join("store.key")).unwrap();
        let store = Store::create(
            Config::new(dir.path(), TERMINAL),
            &KeyFile(dir.path().join("store.key")),
        )
        .unwrap();
        let catalogue = Arc::new(catalogue::sample::catalogue().unwrap());
        let now = time::now_ms();
        let engine = Engine::new(
            catalogue.clone(),
            Settings {
                terminal: TERMINAL.into(),
                timeouts,
                progress_url: "https://zwfw.example.gov.cn/p/".into(),
                maintenance: maintenance_access(),
                display: Display::default(),
                not_fitted,
            },
            now,
        );
        Kiosk {
            engine,
            store,
            catalogue,
            now,
            paper: true,
            disk_full: false,
            printed: Vec::new(),
            effects: Vec::new(),
            hold: false,
            held: Vec::new(),
            typed: Vec::new(),
            store_time: std::time::Duration::ZERO,
            rng: demo_data::Rng::new(3),
            _dir: dir,
        }
    }

    pub fn intent(&mut self, intent: Intent) {
        let fx = self.engine.intent(self.now, intent);
        self.carry_out(fx);
    }

    pub fn event(&mut self, event: Event) {
        let fx = self.engine.event(self.now, event);
        self.carry_out(fx);
    }

    pub fn wait(&mut self, seconds: i64) {
        self.now += seconds * 1000;
        let fx = self.engine.tick(self.now);
        self.carry_out(fx);
    }

    /// Does what the runtime does for each effect, feeding the outcomes back.
    fn carry_out(&mut self, fx: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = fx.into();
        while let Some(effect) = queue.pop_front() {
            self.effects.push(format!("{effect:?}"));
            let holdable = matches!(
                effect,
                Effect::Save(_)
                    | Effect::SaveSupplement(_)
                    | Effect::PrintReceipt(_)
                    | Effect::HandOut { .. }
            );
            if self.hold && holdable {
                self.held.push(effect);
                continue;
            }
            if let Some(event) = self.answer(effect, false) {
                queue.extend(self.engine.event(self.now, event));
            }
        }
    }

    /// Answers every held save, print and hand-out, in order (what they lead to is held in
    /// turn while `hold` is on).
    pub fn release(&mut self) {
        for effect in std::mem::take(&mut self.held) {
            if let Some(event) = self.answer(effect, true) {
                let fx = self.engine.event(self.now, event);
                self.carry_out(fx);
            }
        }
    }

    /// The world's answer to one effect. A hand-out finishes (the card is taken) only when
    /// `released`: otherwise it stays under way, as a slow dispenser's does.
    fn answer(&mut self, effect: Effect, released: bool) -> Option<Event> {
        let began = std::time::Instant::now();
        let answer = match effect {
            Effect::HandOut { .. } if released => Some(Event::ResultHandedOut),
            Effect::Lookup { session, id_number } => Some(Event::Records {
                session,
                records: Box::new(
                    session::lookup(&self.store, &self.catalogue, &id_number, self.now).unwrap(),
                ),
            }),
            Effect::Save(s) if self.disk_full => {
                drop(s);
                Some(Event::SaveFailed {
                    failure: SaveFailure::DiskFull,
                    reason: "simulated".into(),
                })
            }
            Effect::Save(s) => {
                let s = *s;
                match self
                    .store
                    .submit(&self.catalogue, s.draft, s.captured, self.now)
                {
                    Ok(saved) => Some(Event::Saved {
                        number: saved.number,
                    }),
                    Err(StoreError::Refused(r)) => panic!("refused: {r}"),
                    Err(e) => panic!("store: {e}"),
                }
            }
            Effect::SaveSupplement(s) => {
                let s = *s;
                let saved = self.store.supplement(
                    &self.catalogue,
                    &s.number,
                    s.form,
                    s.captured,
                    s.signature,
                    self.now,
                );
                match saved {
                    Ok(_) => Some(Event::Saved { number: s.number }),
                    Err(e) => panic!("store: {e}"),
                }
            }
            Effect::PrintReceipt(r) if self.paper => {
                self.printed.push(*r);
                Some(Event::ReceiptPrinted)
            }
            Effect::PrintReceipt(_) => Some(Event::ReceiptFailed {
                reason: "paper out".into(),
            }),
            // Every step goes into the audit chain, as the runtime records it.
            Effect::Audit(event) => {
                self.store.audit(&event).unwrap();
                None
            }
            _ => None,
        };
        self.store_time += began.elapsed();
        answer
    }

    pub fn view(&self) -> Value {
        serde_json::to_value(self.engine.view()).unwrap()
    }

    pub fn screen(&self) -> String {
        self.view()["screen"].as_str().unwrap().to_owned()
    }

    pub fn place_card(&mut self, who: &Applicant) {
        self.event(Event::CardRead(Box::new(who.clone())));
    }

    /// Answers every question with `pick` (or the first option), until the form shows.
    pub fn answer_all(&mut self, pick: &dyn Fn(&str) -> Option<&'static str>) {
        while let Screen::Question { id, options, .. } = self.engine.view().screen {
            let value = pick(&id).unwrap_or(&options[0].id).to_owned();
            self.intent(Intent::Answer {
                question: id,
                value,
            });
        }
    }

    /// Fills every field that is empty or wrong with a valid value, and goes on.
    pub fn fill_form(&mut self, who: &Applicant) {
        let Screen::Form { fields, .. } = self.engine.view().screen else {
            panic!("not on the form: {}", self.screen());
        };
        for f in fields {
            if f.locked || (!f.value.is_empty() && f.error.is_none() && f.from_earlier) {
                continue;
            }
            let field = self.catalogue.field(&f.id).unwrap().clone();
            let value = demo_data::field_value(&field, who, &mut self.rng, self.now);
            self.typed.push(value.clone());
            self.intent(Intent::SetField {
                field: f.id.clone(),
                value,
            });
        }
        self.intent(Intent::Continue);
        assert_eq!(self.screen(), "materials", "{}", self.view());
    }

    /// Captures a material: the camera takes `pages` pages.
    pub fn capture(&mut self, material: &str, pages: usize) {
        self.intent(Intent::Capture {
            material: material.into(),
        });
        assert_eq!(self.screen(), "capture");
        for i in 0..pages {
            self.event(Event::PageCaptured {
                material: material.into(),
                image: Zeroizing::new(format!("page {i} of {material}").into_bytes()),
            });
        }
        self.intent(Intent::CaptureDone);
    }

    /// Provides every required material: reuse where offered and `reuse`, else later where
    /// allowed and `later`, else capture.
    pub fn provide_materials(&mut self, reuse: bool, later: bool) {
        let Screen::Materials { materials, .. } = self.engine.view().screen else {
            panic!("not on materials: {}", self.screen());
        };
        for m in materials.iter().filter(|m| m.required) {
            if reuse && m.reusable.is_some() {
                self.intent(Intent::Reuse {
                    material: m.id.clone(),
                });
            } else if later && m.can_defer.is_some() {
                self.intent(Intent::SupplyLater {
                    material: m.id.clone(),
                });
            } else {
                self.capture(&m.id, 1);
            }
        }
        self.intent(Intent::Continue);
        assert_eq!(self.screen(), "review", "{}", self.view());
    }

    pub fn consent_sign_submit(&mut self, keep: bool) {
        self.intent(Intent::Continue);
        assert_eq!(self.screen(), "consent");
        self.intent(Intent::Continue);
        assert_eq!(
            self.screen(),
            "consent",
            "no processing consent, no going on"
        );
        self.intent(Intent::Consent {
            processing: true,
            store_for_reuse: keep,
        });
        self.intent(Intent::Continue);
        assert_eq!(self.screen(), "sign");
        self.intent(Intent::Submit);
        assert_eq!(self.screen(), "sign", "no signature, no submission");
        self.intent(Intent::Sign {
            strokes: vec![vec![(100, 200), (300, 220), (500, 180)]],
        });
        self.intent(Intent::Submit);
    }

    /// Identifies `who` and chooses the item `code`, answering every question with its first
    /// option.
    pub fn start_item(&mut self, who: &Applicant, code: &str) {
        self.place_card(who);
        self.intent(Intent::NewApplication);
        self.intent(Intent::ChooseItem { code: code.into() });
        self.answer_all(&|_| None);
    }

    /// Identifies `who` and fills the 开旅店 form with no optional items and every answer "no".
    pub fn start_hotel(&mut self, who: &Applicant) {
        self.place_card(who);
        self.intent(Intent::NewApplication);
        self.intent(Intent::ChooseBundle { id: HOTEL.into() });
        self.intent(Intent::Continue);
        self.answer_all(&|_| Some("no"));
        self.fill_form(who);
    }

    /// Files the item `code` for `who`, capturing every required material.
    pub fn file(&mut self, who: &Applicant, code: &str) {
        self.start_item(who, code);
        self.fill_form(who);
        self.provide_materials(false, false);
        self.consent_sign_submit(false);
    }

    /// The citizen leaves, taking card and receipt.
    pub fn leave(&mut self) {
        self.intent(Intent::Cancel);
        self.event(Event::CardRemoved);
        self.event(Event::ReceiptTaken);
    }

    pub fn applications_of(&self, who: &Applicant) -> Vec<application::Application> {
        self.store
            .applications_of(&who.id_number)
            .unwrap()
            .into_iter()
            .map(|(n, _)| self.store.application(&n).unwrap())
            .collect()
    }
}

/// Nothing of `who` anywhere in what the screen shows.
pub fn assert_nothing_of(view: &Value, who: &Applicant) {
    let text = view.to_string();
    for secret in [&who.name[..], &who.id_number[..], &who.id_number[14..]] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

/// None of the values `typed` (long enough to be someone's own: a phone number, an address)
/// anywhere in what the screen shows.
pub fn assert_none_typed(view: &Value, typed: &[String]) {
    let text = view.to_string();
    for value in typed.iter().filter(|v| v.chars().count() >= 8) {
        assert!(!text.contains(value.as_str()), "{value} leaked: {text}");
    }
}

/// The technician PIN of these tests.
pub const PIN: &str = "246810";

/// The technician's card of these tests.
pub fn technician() -> Applicant {
    demo_data::applicant(9_999)
}

/// The PIN and the technician's card; the hash is made once (Argon2 is slow on purpose).
fn maintenance_access() -> Access {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static CARD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    Access {
        pin_hash: Some(HASH.get_or_init(|| hash_pin(PIN).unwrap()).clone()),
        technician_cards: vec![
            CARD.get_or_init(|| card_key(&technician().id_number).unwrap())
                .clone(),
        ],
        ..Access::default()
    }
}

pub fn citizen(n: u64) -> Applicant {
    demo_data::applicant(n)
}
