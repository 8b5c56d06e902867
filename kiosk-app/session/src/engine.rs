//! The state machine. [`Engine::handle`] takes one input (an intent, a world event or the
//! clock) and returns the effects to carry out; [`Engine::view`] is what the screen shows.
//!
//! Rules it keeps whatever the order of inputs:
//! - nothing is promised before the store says `Saved`; a failed save says nothing was saved;
//! - when a session ends (done, cancelled, idle) everything of the citizen is dropped and wiped,
//!   and the next view shows nothing of them;
//! - a device that fails disables only what needs it; the kiosk goes out of service only when it
//!   cannot serve at all (no ID reader, no store) or is told to, and never in the middle of a
//!   session: a remote command waits until the session is over.

use crate::effect::{Effect, ReceiptInfo, ReceiptKind, Submission, Supplement};
use crate::filing::{Filing, Provision, deadline};
use crate::input::{
    Command, Device, Event, Intent, Language, PageProblem, Record, Records, SaveFailure,
};
use crate::maintenance::{Action, Outcome, Report, Request};
use crate::view::*;
use application::{Applicant, ApplicationNumber, FormValue, Signature, Status, time};
use catalogue::{Catalogue, Delivery, Plan, Text};
use kiosk_store::{AuditEvent, CapturedMaterial};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use zeroize::Zeroizing;

/// Idle limits, seconds: per kind of screen, and per screen where one needs its own. Form-like
/// screens get longer: an elderly citizen reading or typing is not idle.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Menus, lists, review.
    pub screen_s: u64,
    /// The form, capture, signature and corrections.
    pub form_s: u64,
    /// The goodbye screen, before the kiosk is ready for the next citizen.
    pub goodbye_s: u64,
    /// How long before a reset the countdown is shown and spoken.
    pub warning_s: u64,
    /// A screen's own limit, by its name in the headless protocol (`review = 180`), instead of
    /// its kind's.
    pub screens: BTreeMap<String, u64>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            screen_s: 90,
            form_s: 300,
            goodbye_s: 20,
            warning_s: 20,
            screens: BTreeMap::new(),
        }
    }
}

/// The screens a citizen can be idle on, which may have a limit of their own, each with the
/// longest limit its kind allows (menus 10 minutes, form-like screens 30, goodbye 2): a screen
/// showing someone's data must not stay up for long after they have gone.
pub const IDLE_SCREENS: [(&str, u64); 21] = [
    ("identify", 600),
    ("home", 600),
    ("choose", 600),
    ("optional", 600),
    ("question", 600),
    ("form", 1800),
    ("materials", 600),
    ("capture", 1800),
    ("review", 600),
    ("consent", 600),
    ("sign", 1800),
    ("not_saved", 600),
    ("receipt", 600),
    ("rate", 600),
    ("goodbye", 120),
    ("progress", 600),
    ("supplement", 1800),
    ("pickup", 600),
    ("collecting", 600),
    ("maintenance_login", 600),
    ("maintenance", 1800),
];

/// What the engine needs to know of the kiosk.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This terminal's number.
    pub terminal: String,
    /// Idle limits.
    pub timeouts: Timeouts,
    /// The progress page the receipt's QR code points to; the number is appended.
    pub progress_url: String,
    /// Who may enter maintenance mode.
    pub maintenance: crate::maintenance::Access,
    /// How each session starts: the languages offered (the first at the start), large text,
    /// high contrast and voice guidance.
    pub display: Display,
    /// The devices this kiosk does not have. Nothing that needs one is offered, and citizens
    /// are not told it is out of order: it never worked here.
    pub not_fitted: BTreeSet<Device>,
}

/// How each citizen's session starts; each may change it for themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Display {
    /// The languages offered, the first the one each session starts in.
    pub languages: Vec<Language>,
    /// Large text.
    pub large_text: bool,
    /// High contrast.
    pub high_contrast: bool,
    /// Voice guidance.
    pub voice: bool,
}

impl Default for Display {
    fn default() -> Self {
        Display {
            languages: vec![Language::Zh, Language::En],
            large_text: false,
            high_contrast: false,
            voice: true,
        }
    }
}

/// Seconds before a reset when the spoken countdown says how long is left once more.
const LAST_CALL_S: u64 = 10;

/// Where a capture's pages go when it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaptureFor {
    Filing,
    Supplement,
}

enum State {
    Attract,
    Identify {
        unreadable: bool,
    },
    Home,
    Choose {
        search: String,
    },
    Optional,
    Question {
        problem: bool,
    },
    Form,
    Materials,
    Capture {
        material: String,
        pages: Vec<Zeroizing<Vec<u8>>>,
        target: CaptureFor,
        /// Why the camera did not take the last page laid down, until it takes one.
        problem: Option<PageProblem>,
    },
    Review,
    Consent,
    Sign,
    Saving {
        receipt: ReceiptInfo,
    },
    NotSaved(SaveFailure),
    Receipt {
        receipt: ReceiptInfo,
        printing: Printing,
    },
    Rate {
        number: Option<String>,
    },
    Goodbye,
    Progress,
    Supplement,
    Pickup,
    Collecting {
        number: ApplicationNumber,
        delivery: Delivery,
        stage: Collect,
    },
    OutOfService,
    MaintenanceLogin,
    Maintenance {
        report: Option<Box<Report>>,
        last: Option<Outcome>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collect {
    /// Waiting for the card to be read again.
    Verify,
    HandingOut,
    Done(bool),
}

/// Corrections being supplied.
struct SupplementDraft {
    number: ApplicationNumber,
    corrections: Vec<application::Correction>,
    values: BTreeMap<String, FormValue>,
    pages: BTreeMap<String, Vec<Zeroizing<Vec<u8>>>>,
    signature: Signature,
}

/// Everything of one citizen; dropped (and so wiped) when the session ends.
struct Session {
    applicant: Applicant,
    serial: u64,
    records: Option<Records>,
    started_ms: i64,
    filing: Option<Filing>,
    supplement: Option<SupplementDraft>,
}

/// The session engine of one kiosk.
pub struct Engine {
    catalogue: Arc<Catalogue>,
    settings: Settings,
    state: State,
    session: Option<Session>,
    language: Language,
    large_text: bool,
    high_contrast: bool,
    voice: bool,
    speech: Option<String>,
    now_ms: i64,
    last_activity_ms: i64,
    /// The countdown (seconds left) last spoken, since the last activity.
    warned: Option<u64>,
    card_on_reader: bool,
    receipt_in_presenter: bool,
    unusable: BTreeMap<Device, String>,
    /// Out of service by the technician's switch.
    technician_off: Option<String>,
    /// Wrong maintenance PINs in a row.
    pin_failures: u32,
    /// The maintenance PIN is locked until then.
    pin_locked_until_ms: Option<i64>,
    /// Out of service by a remote command.
    remote_off: Option<String>,
    /// Numbers each session, so a late answer for one is never applied to the next.
    serial: u64,
    /// Remote commands waiting for the session to end.
    commands: Vec<(u64, Command)>,
    /// The reason last reported, to report only changes.
    reported: Option<String>,
}

/// The pinyin initials of a Chinese name (无犯罪记录证明 → `wfzjlzm`), for the search that
/// elderly citizens used to phone keypads know (拼音首字母检索).
fn initials(zh: &str) -> String {
    use pinyin::ToPinyin;
    zh.to_pinyin().flatten().map(|p| p.first_letter()).collect()
}

impl Engine {
    /// An engine on the attract screen, with every fitted device usable.
    pub fn new(catalogue: Arc<Catalogue>, settings: Settings, now_ms: i64) -> Engine {
        let display = settings.display.clone();
        let unusable = (settings.not_fitted.iter())
            .map(|&d| (d, "not fitted".to_owned()))
            .collect();
        Engine {
            catalogue,
            settings,
            state: State::Attract,
            session: None,
            language: display.languages.first().copied().unwrap_or_default(),
            large_text: display.large_text,
            high_contrast: display.high_contrast,
            voice: display.voice,
            speech: None,
            now_ms,
            last_activity_ms: now_ms,
            warned: None,
            card_on_reader: false,
            receipt_in_presenter: false,
            unusable,
            technician_off: None,
            pin_failures: 0,
            pin_locked_until_ms: None,
            remote_off: None,
            serial: 0,
            commands: Vec::new(),
            reported: None,
        }
    }

    /// Installs a new catalogue; a filing in progress keeps the one it was planned with until
    /// the store refuses it, so this is applied only between sessions by the runtime.
    pub fn set_catalogue(&mut self, catalogue: Arc<Catalogue>) {
        self.catalogue = catalogue;
    }

    /// Takes up the maintenance PIN's lockout where the audit left it (at start).
    pub fn restore_pin_guard(&mut self, events: &[AuditEvent]) {
        let (failures, locked_until_ms) = crate::maintenance::guard_from_audit(events);
        self.pin_failures = failures;
        self.pin_locked_until_ms = locked_until_ms;
    }

    /// Whether a citizen's session is under way (remote commands wait for its end).
    pub fn in_session(&self) -> bool {
        self.session.is_some()
    }

    /// The number of the session under way, if any: a new number is a new citizen.
    pub fn session_serial(&self) -> Option<u64> {
        self.session.as_ref().map(|s| s.serial)
    }

    /// The screen's name, as in the headless protocol.
    pub fn screen_name(&self) -> &'static str {
        match &self.state {
            State::Attract => "attract",
            State::Identify { .. } => "identify",
            State::Home => "home",
            State::Choose { .. } => "choose",
            State::Optional => "optional",
            State::Question { .. } => "question",
            State::Form => "form",
            State::Materials => "materials",
            State::Capture { .. } => "capture",
            State::Review => "review",
            State::Consent => "consent",
            State::Sign => "sign",
            State::Saving { .. } => "saving",
            State::NotSaved(_) => "not_saved",
            State::Receipt { .. } => "receipt",
            State::Rate { .. } => "rate",
            State::Goodbye => "goodbye",
            State::Progress => "progress",
            State::Supplement => "supplement",
            State::Pickup => "pickup",
            State::Collecting { .. } => "collecting",
            State::OutOfService => "out_of_service",
            State::MaintenanceLogin => "maintenance_login",
            State::Maintenance { .. } => "maintenance",
        }
    }

    fn tr(&self, text: &Text) -> String {
        match self.language {
            Language::Zh => text.zh.clone(),
            Language::En => text.en.clone(),
        }
    }

    fn say(&self, zh: &str, en: &str) -> String {
        match self.language {
            Language::Zh => zh.to_owned(),
            Language::En => en.to_owned(),
        }
    }

    /// Voice guidance says `text` (if it is on), and it is shown as a caption.
    fn speak(&mut self, text: String, fx: &mut Vec<Effect>) {
        if self.voice {
            fx.push(Effect::Speak {
                text: text.clone(),
                language: self.language,
            });
        }
        self.speech = Some(text);
    }

    /// Takes one input at `now_ms` and returns what to do.
    pub fn intent(&mut self, now_ms: i64, intent: Intent) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.now_ms = now_ms;
        self.note_activity();
        let before = self.screen_name();
        self.on_intent(intent, &mut fx);
        self.after(before, &mut fx);
        fx
    }

    /// Takes one event from the world at `now_ms`.
    pub fn event(&mut self, now_ms: i64, event: Event) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.now_ms = now_ms;
        let before = self.screen_name();
        self.on_event(event, &mut fx);
        self.after(before, &mut fx);
        fx
    }

    /// The clock: idle warnings and resets.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.now_ms = now_ms;
        let before = self.screen_name();
        if let Some(limit) = self.idle_limit_s() {
            let idle_s = (now_ms - self.last_activity_ms).max(0) as u64 / 1000;
            if idle_s >= limit {
                if matches!(self.state, State::Goodbye) {
                    self.ready_for_next(&mut fx);
                } else if self.in_maintenance() {
                    self.leave_maintenance("timed_out", &mut fx);
                } else {
                    self.end_session("timed_out", &mut fx);
                }
            } else if let Some(left) = self.countdown_s() {
                // Said when the warning shows, and once more near the end.
                let due = match self.warned {
                    None => true,
                    Some(said) => said > LAST_CALL_S && left <= LAST_CALL_S,
                };
                if due {
                    let again = self.warned.replace(left).is_some();
                    let text = if again {
                        self.say(&format!("还有{left}秒。"), &format!("{left} seconds left."))
                    } else {
                        self.say(
                            &format!("您还在吗？如需继续办理，请触摸屏幕。{left}秒后将回到首页。"),
                            &format!(
                                "Are you still there? Touch the screen to continue. The kiosk returns to the start in {left} seconds."
                            ),
                        )
                    };
                    self.speak(text, &mut fx);
                }
            }
        }
        self.after(before, &mut fx);
        fx
    }

    fn idle_limit_s(&self) -> Option<u64> {
        let t = &self.settings.timeouts;
        let kind = match &self.state {
            State::Attract | State::OutOfService | State::Saving { .. } => None,
            State::Collecting {
                stage: Collect::HandingOut,
                ..
            } => None,
            State::Form
            | State::Capture { .. }
            | State::Sign
            | State::Supplement
            | State::Maintenance { .. } => Some(t.form_s),
            State::Goodbye => Some(t.goodbye_s),
            _ => Some(t.screen_s),
        };
        // A screen's own limit, where one is set (never where there is none: a save or a
        // hand-out under way is not cut short).
        kind.map(|k| t.screens.get(self.screen_name()).copied().unwrap_or(k))
    }

    /// Seconds before the reset, once the warning shows.
    fn countdown_s(&self) -> Option<u64> {
        // The goodbye screen is itself the short wait before the next citizen: no warning.
        if matches!(self.state, State::Goodbye) {
            return None;
        }
        let limit = self.idle_limit_s()?;
        let idle_s = (self.now_ms - self.last_activity_ms).max(0) as u64 / 1000;
        (idle_s + self.settings.timeouts.warning_s >= limit).then(|| limit.saturating_sub(idle_s))
    }

    /// After every input: audit a screen change, speak its prompt, and, with no session,
    /// carry out waiting commands and settle in or out of service.
    fn after(&mut self, before: &'static str, fx: &mut Vec<Effect>) {
        if self.session.is_none()
            && matches!(
                self.state,
                State::Attract | State::OutOfService | State::Identify { .. }
            )
        {
            self.between_sessions(fx);
        }
        let now = self.screen_name();
        if now != before {
            self.note_activity();
            // Back to waiting for a citizen: whatever the last one chose (set on the attract
            // screen itself, it stays for the one who chose it).
            if matches!(now, "attract" | "out_of_service") {
                self.reset_display();
            }
            if self.session.is_some() {
                fx.push(Effect::Audit(AuditEvent::Step {
                    screen: now.to_owned(),
                }));
            }
            self.say_prompt(fx);
        }
    }

    /// With no session: carry out waiting commands (acknowledged before a reboot, so that it
    /// is not sent again), settle in or out of service, and start the next citizen afresh.
    fn between_sessions(&mut self, fx: &mut Vec<Effect>) {
        for (id, command) in std::mem::take(&mut self.commands) {
            fx.push(Effect::CommandDone { id });
            match command {
                Command::OutOfService => {
                    self.remote_off =
                        Some("the central office took the kiosk out of service".into())
                }
                Command::InService => self.remote_off = None,
                Command::Reboot => fx.push(Effect::Reboot),
                Command::CollectLogs => fx.push(Effect::CollectLogs),
            }
        }
        let reason = self.out_of_service_reason();
        if reason != self.reported {
            self.reported = reason.clone();
            fx.push(Effect::OutOfService {
                reason: reason.clone(),
            });
            fx.push(Effect::Audit(AuditEvent::ServiceChanged {
                reason: reason.clone(),
            }));
        }
        self.state = match (reason, &self.state) {
            (Some(_), _) => State::OutOfService,
            (None, State::OutOfService) => State::Attract,
            (None, _) => std::mem::replace(&mut self.state, State::Attract),
        };
    }

    /// Back to the kiosk's display defaults, for whoever comes next.
    fn reset_display(&mut self) {
        let display = &self.settings.display;
        self.language = display.languages.first().copied().unwrap_or_default();
        self.large_text = display.large_text;
        self.high_contrast = display.high_contrast;
        self.voice = display.voice;
        self.speech = None;
    }

    /// Someone is there: the idle time and the countdown start again.
    fn note_activity(&mut self) {
        self.last_activity_ms = self.now_ms;
        self.warned = None;
    }

    /// Why the kiosk cannot take anyone now.
    fn out_of_service_reason(&self) -> Option<String> {
        if let Some(r) = self.technician_off.as_ref().or(self.remote_off.as_ref()) {
            return Some(r.clone());
        }
        for d in [Device::IdReader, Device::Store] {
            if let Some(r) = self.unusable.get(&d) {
                return Some(format!("{d:?}: {r}"));
            }
        }
        None
    }

    /// What voice guidance says on entering a screen.
    fn prompt(&self) -> Option<String> {
        Some(match &self.state {
            State::Identify { .. } => self.say(
                "请将身份证放在感应区。",
                "Please place your ID card on the reader.",
            ),
            State::Home => self.say("请选择要办理的业务。", "What would you like to do?"),
            State::Receipt { .. } => self.say(
                "申请已保存，请取走回执。",
                "Your application is saved. Please take the receipt.",
            ),
            State::NotSaved(_) => self.say(
                "很抱歉，申请未能保存，请到服务大厅办理。",
                "Sorry, the application could not be saved. Please go to the service hall.",
            ),
            State::Goodbye => {
                let mut t = self.say("办理结束。", "Thank you.");
                if self.card_on_reader {
                    t += &self.say("请取走您的身份证。", " Please take your ID card.");
                }
                if self.receipt_in_presenter {
                    t += &self.say("请取走回执。", " Please take your receipt.");
                }
                t
            }
            _ => return None,
        })
    }

    /// Says the current screen's guidance (if it has any).
    fn say_prompt(&mut self, fx: &mut Vec<Effect>) {
        if let Some(text) = self.prompt() {
            self.speak(text, fx);
        }
    }

    /// Ends the citizen's session: their data is dropped and wiped, the camera stopped, and the
    /// kiosk waits for the card and receipt to be taken, or returns to the attract screen.
    fn end_session(&mut self, outcome: &str, fx: &mut Vec<Effect>) {
        if matches!(self.state, State::Capture { .. }) {
            fx.push(Effect::StopCapture);
        }
        if let Some(session) = self.session.take() {
            fx.push(Effect::Audit(AuditEvent::SessionEnded {
                outcome: outcome.to_owned(),
                screen: self.screen_name().to_owned(),
                duration_ms: self.now_ms - session.started_ms,
            }));
            fx.push(Effect::EndSession);
        }
        self.state = State::Goodbye;
        if !self.card_on_reader && !self.receipt_in_presenter {
            self.state = State::Attract;
        }
    }

    fn ready_for_next(&mut self, fx: &mut Vec<Effect>) {
        if self.session.is_some() {
            self.end_session("completed", fx);
        }
        self.state = State::Attract;
    }

    fn start_session(&mut self, applicant: Applicant, fx: &mut Vec<Effect>) {
        self.serial += 1;
        fx.push(Effect::Lookup {
            session: self.serial,
            id_number: Zeroizing::new(applicant.id_number.clone()),
        });
        fx.push(Effect::Audit(AuditEvent::SessionStarted));
        self.session = Some(Session {
            applicant,
            serial: self.serial,
            records: None,
            started_ms: self.now_ms,
            filing: None,
            supplement: None,
        });
        self.state = State::Home;
    }

    fn in_maintenance(&self) -> bool {
        matches!(
            self.state,
            State::MaintenanceLogin | State::Maintenance { .. }
        )
    }

    /// Seconds the maintenance PIN stays locked, if it is.
    fn pin_locked_s(&self) -> Option<u64> {
        self.pin_locked_until_ms
            .filter(|until| *until > self.now_ms)
            .map(|until| ((until - self.now_ms) as u64).div_ceil(1000))
    }

    /// A PIN typed on the login screen: right, it enters; wrong, it counts towards the lockout;
    /// while locked, even the right PIN is refused.
    fn try_pin(&mut self, pin: &str, fx: &mut Vec<Effect>) {
        if self.pin_locked_s().is_some() {
            fx.push(Effect::Audit(AuditEvent::MaintenanceRefused {
                how: "locked".into(),
            }));
            return;
        }
        if self.settings.maintenance.pin_matches(pin) {
            self.pin_failures = 0;
            return self.enter_maintenance("pin", fx);
        }
        self.pin_failures += 1;
        fx.push(Effect::Audit(AuditEvent::MaintenanceRefused {
            how: "pin".into(),
        }));
        if self.pin_failures >= self.settings.maintenance.max_failures {
            let until_ms = self.now_ms + self.settings.maintenance.lockout_s as i64 * 1000;
            self.pin_failures = 0;
            self.pin_locked_until_ms = Some(until_ms);
            tracing::warn!(until_ms, "maintenance PIN locked after repeated failures");
            fx.push(Effect::Audit(AuditEvent::MaintenanceLockedOut { until_ms }));
        }
    }

    fn enter_maintenance(&mut self, how: &str, fx: &mut Vec<Effect>) {
        tracing::info!(how, "maintenance mode entered");
        fx.push(Effect::Audit(AuditEvent::MaintenanceEntered {
            how: how.into(),
        }));
        self.state = State::Maintenance {
            report: None,
            last: None,
        };
        fx.push(Effect::Maintenance(Request::Report));
    }

    /// Back to the attract screen; the out-of-service switch and waiting commands are applied
    /// there (between sessions).
    fn leave_maintenance(&mut self, outcome: &str, fx: &mut Vec<Effect>) {
        if matches!(self.state, State::Maintenance { .. }) {
            fx.push(Effect::Audit(AuditEvent::MaintenanceLeft {
                outcome: outcome.into(),
            }));
        }
        self.state = State::Attract;
    }

    fn maintain(&mut self, action: Action, fx: &mut Vec<Effect>) {
        let subject = match &action {
            Action::SelfTest { device } => Some(format!("{device:?}")),
            Action::Refilled { supply } => Some(supply.clone()),
            Action::OutOfService { on } => Some(on.to_string()),
            _ => None,
        };
        fx.push(Effect::Audit(AuditEvent::MaintenanceAction {
            action: action.name().into(),
            subject,
        }));
        let request = match action {
            Action::Leave => return self.leave_maintenance("left", fx),
            Action::OutOfService { on } => {
                self.technician_off = on.then(|| "switched off by a technician".to_owned());
                None
            }
            Action::Refresh => Some(Request::Report),
            Action::SelfTest { device } => Some(Request::SelfTest(device)),
            Action::Refilled { supply } => Some(Request::Refilled(supply)),
            Action::ExportDiagnostics => Some(Request::ExportDiagnostics),
            Action::SyncNow => Some(Request::SyncNow),
        };
        if let (Some(request), State::Maintenance { last, .. }) = (request, &mut self.state) {
            if request != Request::Report {
                *last = None;
            }
            fx.push(Effect::Maintenance(request));
        }
    }

    fn usable(&self, device: Device) -> bool {
        !self.unusable.contains_key(&device)
    }

    fn on_event(&mut self, event: Event, fx: &mut Vec<Effect>) {
        match event {
            Event::CardRead(applicant) => {
                self.card_on_reader = true;
                self.note_activity();
                self.card_read(*applicant, fx);
            }
            Event::CardUnreadable { reason } => {
                self.card_on_reader = true;
                tracing::warn!(reason, "card could not be read");
                if let State::Identify { .. } | State::Attract = self.state {
                    self.state = State::Identify { unreadable: true };
                }
            }
            Event::CardRemoved => {
                self.card_on_reader = false;
                if matches!(self.state, State::Goodbye) && !self.receipt_in_presenter {
                    self.state = State::Attract;
                }
            }
            Event::Records { session, records } => {
                if let Some(s) = self.session.as_mut().filter(|s| s.serial == session) {
                    s.records = Some(*records);
                }
            }
            Event::PageCaptured { material, image } => {
                if let State::Capture {
                    material: m,
                    pages,
                    problem,
                    ..
                } = &mut self.state
                {
                    let max = self
                        .catalogue
                        .material(m)
                        .map_or(0, |m| m.capture.max_pages as usize);
                    if *m == material && pages.len() < max {
                        pages.push(image);
                        *problem = None;
                        // Someone is there (`note_activity`, field by field: the state is
                        // borrowed).
                        self.last_activity_ms = self.now_ms;
                        self.warned = None;
                    }
                }
            }
            Event::PageRejected {
                material,
                problem: found,
            } => {
                if let State::Capture {
                    material: m,
                    problem,
                    ..
                } = &mut self.state
                    && *m == material
                {
                    self.last_activity_ms = self.now_ms;
                    self.warned = None;
                    // Said once for each new problem, not for every frame that shows it.
                    if *problem != Some(found) {
                        *problem = Some(found);
                        let text = match found {
                            PageProblem::Blurred => self.say(
                                "照片不清晰，请把材料放平，手离开后保持不动。",
                                "The picture is blurred. Lay the page flat and keep still once your hand is away.",
                            ),
                            PageProblem::Glare => self.say(
                                "材料反光，请调整角度或去掉塑料封套。",
                                "The page reflects the light. Tilt it or take it out of its plastic cover.",
                            ),
                            PageProblem::CutOff => self.say(
                                "材料没有全部放在拍摄区内，请移到框线中间。",
                                "Part of the page is outside the frame. Move it to the middle.",
                            ),
                        };
                        self.speak(text, fx);
                    }
                }
            }
            Event::CaptureFailed { reason } => {
                self.device_changed(Device::Camera, false, Some(reason), fx);
            }
            Event::Saved { number } => self.saved(number, fx),
            Event::SaveFailed { failure, reason } => {
                tracing::error!(?failure, reason, "the application was not saved");
                if let State::Saving { .. } = self.state {
                    self.state = State::NotSaved(failure);
                }
                if failure != SaveFailure::Refused {
                    self.device_changed(Device::Store, false, Some(reason), fx);
                }
            }
            Event::ReceiptPrinted => {
                self.receipt_in_presenter = true;
                if let State::Receipt { printing, .. } = &mut self.state {
                    *printing = Printing::Printed;
                }
            }
            Event::ReceiptFailed { reason } => {
                if let State::Receipt { printing, .. } = &mut self.state {
                    *printing = Printing::ShownAsQr;
                }
                self.device_changed(Device::ReceiptPrinter, false, Some(reason), fx);
            }
            Event::ReceiptTaken => {
                self.receipt_in_presenter = false;
                if matches!(self.state, State::Goodbye) && !self.card_on_reader {
                    self.state = State::Attract;
                }
            }
            Event::ResultHandedOut => self.handed_out(true, fx),
            Event::ResultFailed { reason } => {
                if let State::Collecting { delivery, .. } = self.state {
                    let device = match delivery {
                        Delivery::Dispenser => Device::Dispenser,
                        _ => Device::A4Printer,
                    };
                    self.device_changed(device, false, Some(reason), fx);
                }
                self.handed_out(false, fx);
            }
            Event::Device {
                device,
                usable,
                reason,
            } => self.device_changed(device, usable, reason, fx),
            Event::Command { id, command } => self.commands.push((id, command)),
            Event::OutOfServiceSwitch { on } => {
                self.technician_off = on.then(|| "switched off by a technician".to_owned());
            }
            Event::MaintenanceReport(new) => {
                if let State::Maintenance { report, .. } = &mut self.state {
                    *report = Some(new);
                }
            }
            Event::MaintenanceDone(outcome) => {
                if let State::Maintenance { last, .. } = &mut self.state {
                    *last = Some(outcome);
                    fx.push(Effect::Maintenance(Request::Report));
                }
            }
        }
    }

    fn device_changed(
        &mut self,
        device: Device,
        usable: bool,
        reason: Option<String>,
        fx: &mut Vec<Effect>,
    ) {
        if usable == self.usable(device) || self.settings.not_fitted.contains(&device) {
            return;
        }
        if usable {
            self.unusable.remove(&device);
        } else {
            self.unusable
                .insert(device, reason.clone().unwrap_or_else(|| "failed".into()));
        }
        fx.push(Effect::Audit(AuditEvent::DeviceChanged {
            device: format!("{device:?}"),
            usable,
            reason,
        }));
        if device == Device::Camera
            && !usable
            && let State::Capture { .. } = self.state
        {
            fx.push(Effect::StopCapture);
            self.state = match self.capture_target() {
                Some(CaptureFor::Supplement) => State::Supplement,
                _ => State::Materials,
            };
        }
    }

    fn capture_target(&self) -> Option<CaptureFor> {
        match &self.state {
            State::Capture { target, .. } => Some(*target),
            _ => None,
        }
    }

    fn card_read(&mut self, applicant: Applicant, fx: &mut Vec<Effect>) {
        match &self.state {
            State::MaintenanceLogin => {
                // Nothing of the card is kept: it is dropped (and wiped) here.
                if self
                    .settings
                    .maintenance
                    .is_technician(&applicant.id_number)
                {
                    self.enter_maintenance("card", fx);
                } else {
                    fx.push(Effect::Audit(AuditEvent::MaintenanceRefused {
                        how: "card".into(),
                    }));
                }
            }
            State::Maintenance { .. } => {}
            State::Attract | State::Identify { .. } => self.start_session(applicant, fx),
            State::Goodbye => {
                self.state = State::Attract;
                self.between_sessions(fx);
                if matches!(self.state, State::Attract) {
                    self.start_session(applicant, fx);
                }
            }
            State::Collecting {
                stage: Collect::Verify,
                number,
                delivery,
            } => {
                let same = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.applicant.id_number == applicant.id_number);
                if same {
                    fx.push(Effect::HandOut {
                        number: number.clone(),
                        delivery: *delivery,
                    });
                    self.state = State::Collecting {
                        number: number.clone(),
                        delivery: *delivery,
                        stage: Collect::HandingOut,
                    };
                } else {
                    // Another person's card: nothing of the first may show to them.
                    self.end_session("card_changed", fx);
                }
            }
            _ => {
                let other = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.applicant.id_number != applicant.id_number);
                if other && !matches!(self.state, State::Saving { .. }) {
                    self.end_session("card_changed", fx);
                }
            }
        }
    }

    fn saved(&mut self, number: ApplicationNumber, fx: &mut Vec<Effect>) {
        let State::Saving { receipt } = &self.state else {
            return;
        };
        let mut receipt = receipt.clone();
        receipt.qr = format!("{}{}", self.settings.progress_url, number.as_str());
        receipt.number = number.to_string();
        if let Some(s) = self.session.as_mut() {
            // Nothing of the filing is needed any more: wipe it now.
            s.filing = None;
            s.supplement = None;
        }
        let printing = if self.usable(Device::ReceiptPrinter) {
            fx.push(Effect::PrintReceipt(Box::new(receipt.clone())));
            Printing::Printing
        } else {
            Printing::ShownAsQr
        };
        self.state = State::Receipt { receipt, printing };
    }

    fn handed_out(&mut self, ok: bool, fx: &mut Vec<Effect>) {
        if let State::Collecting {
            number,
            delivery,
            stage: stage @ Collect::HandingOut,
        } = &mut self.state
        {
            *stage = Collect::Done(ok);
            if ok {
                fx.push(Effect::Audit(AuditEvent::ResultCollected {
                    number: number.to_string(),
                    delivery: serde_json::to_value(delivery)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                }));
            }
        }
    }

    fn on_intent(&mut self, intent: Intent, fx: &mut Vec<Effect>) {
        match intent {
            // A new language, or the voice turned on: what this screen asks is said again, so
            // that the citizen hears it in words they follow.
            Intent::Language { language } => {
                if language != self.language && self.settings.display.languages.contains(&language)
                {
                    self.language = language;
                    self.say_prompt(fx);
                }
                return;
            }
            Intent::LargeText { on } => return self.large_text = on,
            Intent::HighContrast { on } => return self.high_contrast = on,
            Intent::Voice { on } => {
                let turned_on = on && !self.voice;
                self.voice = on;
                if turned_on {
                    self.say_prompt(fx);
                }
                return;
            }
            Intent::Touch => {
                if let State::Attract = self.state {
                    self.state = State::Identify { unreadable: false };
                }
                return;
            }
            Intent::MaintenanceGesture => {
                let idle = matches!(
                    self.state,
                    State::Attract | State::Identify { .. } | State::OutOfService
                );
                if idle && self.session.is_none() {
                    self.state = State::MaintenanceLogin;
                }
                return;
            }
            Intent::MaintenancePin { pin } => {
                if matches!(self.state, State::MaintenanceLogin) {
                    self.try_pin(&pin, fx);
                }
                return;
            }
            Intent::Maintain { action } => {
                if matches!(self.state, State::Maintenance { .. }) {
                    self.maintain(action, fx);
                }
                return;
            }
            Intent::Cancel if self.in_maintenance() => {
                return self.leave_maintenance("left", fx);
            }
            Intent::Cancel => {
                if !matches!(
                    self.state,
                    State::Saving { .. }
                        | State::Collecting {
                            stage: Collect::HandingOut,
                            ..
                        }
                ) {
                    if self.session.is_some() {
                        self.end_session("cancelled", fx);
                    } else {
                        self.state = State::Attract;
                    }
                }
                return;
            }
            _ => {}
        }
        if self.session.is_none() {
            return;
        }
        let state = std::mem::replace(&mut self.state, State::Attract);
        self.state = self.step(state, intent, fx);
    }

    /// The journey's transitions: from a state and an intent to the next state.
    fn step(&mut self, state: State, intent: Intent, fx: &mut Vec<Effect>) -> State {
        match (state, intent) {
            (State::Home, Intent::NewApplication) if self.usable(Device::Store) => State::Choose {
                search: String::new(),
            },
            (State::Home, Intent::Progress) if self.records().is_some() => State::Progress,
            (State::Home, Intent::Pickup) if self.records().is_some() => State::Pickup,
            (State::Choose { .. }, Intent::Search { text }) => State::Choose { search: text },
            (State::Choose { .. }, Intent::ChooseItem { code })
                if self.catalogue.authorised(&self.settings.terminal, &code) =>
            {
                self.begin_filing(Filing::item(&code), fx)
            }
            (State::Choose { .. }, Intent::ChooseBundle { id })
                if self.catalogue.bundle(&id).is_some() =>
            {
                let optional = self
                    .catalogue
                    .bundle(&id)
                    .is_some_and(|b| !b.optional.is_empty());
                match self.begin_filing(Filing::bundle(&id), fx) {
                    State::Choose { search } => State::Choose { search },
                    _ if optional => State::Optional,
                    next => next,
                }
            }
            (State::Optional, Intent::ToggleOptional { code }) => {
                if let Some(f) = self.filing_mut() {
                    if let Some(i) = f.chosen.iter().position(|c| *c == code) {
                        f.chosen.remove(i);
                    } else {
                        f.chosen.push(code);
                    }
                }
                State::Optional
            }
            (State::Optional, Intent::Continue) => {
                if self.plan().is_ok() {
                    self.items_chosen(fx);
                    self.after_answers()
                } else {
                    State::Optional
                }
            }
            (State::Optional, Intent::Back) => self.back_to_choose(),
            (State::Question { .. }, Intent::Answer { question, value }) => {
                let asked = self.plan().ok().and_then(|p| {
                    let answers = &self.filing()?.answers;
                    p.next_question(answers).map(|q| q.id.clone())
                });
                if asked.as_deref() != Some(question.as_str()) {
                    return State::Question { problem: false };
                }
                if let Some(f) = self.filing_mut() {
                    f.answers.insert(question.clone(), value);
                    f.answered.push(question.clone());
                }
                if self.plan().is_err() {
                    // The answer brings in an item not offered here, or is not an option.
                    if let Some(f) = self.filing_mut() {
                        f.answers.remove(&question);
                        f.answered.pop();
                    }
                    return State::Question { problem: true };
                }
                self.after_answers()
            }
            (State::Question { .. }, Intent::Back) => self.back_from_questions(),
            (State::Form, Intent::SetField { field, value }) => {
                let asked = self
                    .plan()
                    .is_ok_and(|p| p.fields.iter().any(|f| f.id == field));
                if let Some(f) = self.filing_mut()
                    && asked
                    && !f.locked.contains(&field)
                {
                    f.from_earlier.remove(&field);
                    f.checked.insert(field.clone());
                    f.values.insert(field.clone(), FormValue { field, value });
                }
                State::Form
            }
            (State::Form, Intent::Continue) => {
                let errors = self.form_errors();
                if errors.values().all(Option::is_none) {
                    State::Materials
                } else {
                    if let Some(f) = self.filing_mut() {
                        f.checked.extend(errors.into_keys());
                    }
                    State::Form
                }
            }
            (State::Form, Intent::Back) => self.back_from_questions(),
            (State::Materials, Intent::Reuse { material }) => {
                let stored = self
                    .records()
                    .and_then(|r| r.reusable.iter().find(|s| s.material == material).cloned());
                let reusable = self
                    .catalogue
                    .material(&material)
                    .is_some_and(|m| m.reusable);
                if let (Some(stored), true) = (stored, self.planned(&material) && reusable)
                    && let Some(f) = self.filing_mut()
                {
                    f.materials.insert(material, Provision::Reused(stored));
                }
                State::Materials
            }
            (State::Materials, Intent::SupplyLater { material }) => {
                if let Some(days) = self.rongque_days(&material) {
                    let by = deadline(self.now_ms, days);
                    if let Some(f) = self.filing_mut() {
                        f.materials.insert(material, Provision::Later(by));
                    }
                }
                State::Materials
            }
            (State::Materials, Intent::Clear { material }) => {
                if let Some(f) = self.filing_mut() {
                    f.materials.remove(&material);
                }
                State::Materials
            }
            (State::Materials, Intent::Capture { material })
                if self.planned(&material) && self.usable(Device::Camera) =>
            {
                self.start_capture(material, CaptureFor::Filing, fx)
            }
            (State::Materials, Intent::Continue) => {
                let complete = self
                    .plan()
                    .ok()
                    .zip(self.filing())
                    .is_some_and(|(p, f)| f.materials_complete(&p));
                if complete {
                    State::Review
                } else {
                    State::Materials
                }
            }
            (State::Materials, Intent::Back) => State::Form,
            (
                State::Capture {
                    material,
                    pages,
                    target,
                    ..
                },
                Intent::CaptureDone,
            ) => {
                fx.push(Effect::StopCapture);
                self.keep_pages(material, pages, target);
                match target {
                    CaptureFor::Filing => State::Materials,
                    CaptureFor::Supplement => State::Supplement,
                }
            }
            (State::Capture { target, .. }, Intent::Back) => {
                fx.push(Effect::StopCapture);
                match target {
                    CaptureFor::Filing => State::Materials,
                    CaptureFor::Supplement => State::Supplement,
                }
            }
            (State::Review, Intent::Delivery { delivery }) => {
                let offered = self
                    .plan()
                    .is_ok_and(|p| Filing::deliveries(&p).contains(&delivery));
                if let Some(f) = self.filing_mut()
                    && offered
                {
                    f.delivery = Some(delivery);
                }
                State::Review
            }
            (State::Review, Intent::Continue) => State::Consent,
            (State::Review, Intent::Back) => State::Materials,
            (
                State::Consent,
                Intent::Consent {
                    processing,
                    store_for_reuse,
                },
            ) => {
                if let Some(f) = self.filing_mut() {
                    f.consents.processing = processing;
                    f.consents.store_for_reuse = store_for_reuse;
                }
                State::Consent
            }
            (State::Consent, Intent::Continue)
                if self.filing().is_some_and(|f| f.consents.processing) =>
            {
                State::Sign
            }
            (State::Consent, Intent::Back) => State::Review,
            (state @ (State::Sign | State::Supplement), Intent::Sign { strokes }) => {
                if let Some(sig) = self.signature_mut(&state) {
                    sig.strokes
                        .extend(strokes.into_iter().filter(|s| !s.is_empty()));
                }
                state
            }
            (state @ (State::Sign | State::Supplement), Intent::ClearSignature) => {
                if let Some(sig) = self.signature_mut(&state) {
                    sig.strokes.clear();
                }
                state
            }
            // What was signed may change: sign again.
            (State::Sign, Intent::Back) => {
                if let Some(f) = self.filing_mut() {
                    f.signature.strokes.clear();
                }
                State::Consent
            }
            (State::Sign, Intent::Submit) => self.submit(fx),
            (State::NotSaved(_), Intent::Continue) => {
                self.end_session("completed", fx);
                std::mem::replace(&mut self.state, State::Attract)
            }
            // Not while printing: if it fails, the QR code is the citizen's only copy.
            (State::Receipt { receipt, printing }, Intent::Continue)
                if printing != Printing::Printing =>
            {
                State::Rate {
                    number: Some(receipt.number),
                }
            }
            (State::Rate { number }, Intent::Rate { stars }) if (1..=5).contains(&stars) => {
                fx.push(Effect::Audit(AuditEvent::Rated { number, stars }));
                self.end_session("completed", fx);
                std::mem::replace(&mut self.state, State::Attract)
            }
            (State::Rate { .. }, Intent::Continue) => {
                self.end_session("completed", fx);
                std::mem::replace(&mut self.state, State::Attract)
            }
            (State::Progress, Intent::Supplement { number }) => {
                match self.record(&number).filter(|r| self.can_supplement(r)) {
                    Some(r) => {
                        let corrections = match &r.status {
                            Status::CorrectionsNeeded { corrections } => corrections.clone(),
                            _ => Vec::new(),
                        };
                        let number = r.number.clone();
                        if let Some(s) = self.session.as_mut() {
                            s.supplement = Some(SupplementDraft {
                                number,
                                corrections,
                                values: BTreeMap::new(),
                                pages: BTreeMap::new(),
                                signature: Signature {
                                    strokes: Vec::new(),
                                },
                            });
                        }
                        State::Supplement
                    }
                    None => State::Progress,
                }
            }
            (State::Progress, Intent::Back) | (State::Pickup, Intent::Back) => State::Home,
            (State::Supplement, Intent::SetField { field, value }) => {
                if let Some(d) = self.supplement_mut()
                    && d.corrections.iter().any(|c| c.target == field)
                {
                    d.values.insert(field.clone(), FormValue { field, value });
                }
                State::Supplement
            }
            (State::Supplement, Intent::Capture { material })
                if self.usable(Device::Camera)
                    && self
                        .supplement()
                        .is_some_and(|d| d.corrections.iter().any(|c| c.target == material)) =>
            {
                self.start_capture(material, CaptureFor::Supplement, fx)
            }
            (State::Supplement, Intent::Submit) => self.submit_supplement(fx),
            (State::Supplement, Intent::Back) => {
                if let Some(s) = self.session.as_mut() {
                    s.supplement = None;
                }
                State::Progress
            }
            (State::Pickup, Intent::Collect { number }) => {
                let row = self.pickup_rows().into_iter().find(|r| r.number == number);
                match (row, ApplicationNumber::parse(&number)) {
                    (Some(row), Ok(number)) if row.available => State::Collecting {
                        number,
                        delivery: row.delivery,
                        stage: Collect::Verify,
                    },
                    _ => State::Pickup,
                }
            }
            (
                State::Collecting {
                    number,
                    stage: Collect::Done(true),
                    ..
                },
                Intent::Continue,
            ) => State::Rate {
                number: Some(number.to_string()),
            },
            (
                State::Collecting {
                    stage: Collect::Done(false) | Collect::Verify,
                    ..
                },
                Intent::Continue | Intent::Back,
            ) => State::Pickup,
            (State::Choose { .. }, Intent::Back) => State::Home,
            (state, _) => state,
        }
    }

    fn records(&self) -> Option<&Records> {
        self.session.as_ref()?.records.as_ref()
    }

    fn record(&self, number: &str) -> Option<&Record> {
        self.records()?
            .applications
            .iter()
            .find(|r| r.number.as_str() == number)
    }

    fn filing(&self) -> Option<&Filing> {
        self.session.as_ref()?.filing.as_ref()
    }

    fn filing_mut(&mut self) -> Option<&mut Filing> {
        self.session.as_mut()?.filing.as_mut()
    }

    /// The signature being drawn: the filing's on the sign screen, the corrections' on theirs.
    fn signature_mut(&mut self, state: &State) -> Option<&mut Signature> {
        match state {
            State::Supplement => self.supplement_mut().map(|d| &mut d.signature),
            _ => self.filing_mut().map(|f| &mut f.signature),
        }
    }

    fn supplement(&self) -> Option<&SupplementDraft> {
        self.session.as_ref()?.supplement.as_ref()
    }

    fn supplement_mut(&mut self) -> Option<&mut SupplementDraft> {
        self.session.as_mut()?.supplement.as_mut()
    }

    fn plan(&self) -> Result<Plan<'_>, ()> {
        let f = self.filing().ok_or(())?;
        f.plan(&self.catalogue, &self.settings.terminal)
            .map_err(|_| ())
    }

    fn planned(&self, material: &str) -> bool {
        self.plan()
            .is_ok_and(|p| p.materials.iter().any(|m| m.material.id == material))
    }

    fn rongque_days(&self, material: &str) -> Option<u32> {
        self.plan().ok().and_then(|p| {
            p.materials
                .iter()
                .find(|m| m.material.id == material)
                .and_then(|m| m.rongque_deadline())
        })
    }

    fn begin_filing(&mut self, filing: Filing, fx: &mut Vec<Effect>) -> State {
        if let Some(s) = self.session.as_mut() {
            s.filing = Some(filing);
        }
        if self.plan().is_err() {
            if let Some(s) = self.session.as_mut() {
                s.filing = None;
            }
            return State::Choose {
                search: String::new(),
            };
        }
        let optional = self
            .filing()
            .and_then(|f| f.bundle.as_ref())
            .and_then(|b| self.catalogue.bundle(b))
            .is_some_and(|b| !b.optional.is_empty());
        if !optional {
            self.items_chosen(fx);
        }
        self.after_answers()
    }

    fn items_chosen(&self, fx: &mut Vec<Effect>) {
        if let (Ok(plan), Some(f)) = (self.plan(), self.filing()) {
            fx.push(Effect::Audit(AuditEvent::ItemsChosen {
                bundle: f.bundle.clone(),
                items: plan.items.iter().map(|i| i.code.clone()).collect(),
            }));
        }
    }

    fn back_to_choose(&mut self) -> State {
        if let Some(s) = self.session.as_mut() {
            s.filing = None;
        }
        State::Choose {
            search: String::new(),
        }
    }

    /// The next question, or the form (pre-filled) when every question is answered.
    fn after_answers(&mut self) -> State {
        let next = self.plan().ok().and_then(|p| {
            p.next_question(&self.filing()?.answers)
                .map(|q| q.id.clone())
        });
        if next.is_some() {
            return State::Question { problem: false };
        }
        let catalogue = self.catalogue.clone();
        let terminal = self.settings.terminal.clone();
        if let Some(s) = self.session.as_mut()
            && let Some(f) = s.filing.as_mut()
            && let Ok(plan) = f.plan(&catalogue, &terminal)
        {
            let earlier = s.records.as_ref().map_or(&[][..], |r| &r.earlier[..]);
            f.prefill(&plan, &s.applicant, earlier);
        }
        State::Form
    }

    fn back_from_questions(&mut self) -> State {
        let undone = self.filing_mut().and_then(|f| {
            let q = f.answered.pop()?;
            f.answers.remove(&q);
            Some(())
        });
        match undone {
            Some(()) => State::Question { problem: false },
            None => {
                let optional = self
                    .filing()
                    .and_then(|f| f.bundle.as_ref())
                    .and_then(|b| self.catalogue.bundle(b))
                    .is_some_and(|b| !b.optional.is_empty());
                if optional {
                    State::Optional
                } else {
                    self.back_to_choose()
                }
            }
        }
    }

    fn form_errors(&self) -> BTreeMap<String, Option<String>> {
        let (Ok(plan), Some(f)) = (self.plan(), self.filing()) else {
            return BTreeMap::new();
        };
        plan.fields
            .iter()
            .map(|field| {
                (
                    field.id.clone(),
                    field.check(f.value(&field.id)).err().map(|e| e.to_string()),
                )
            })
            .collect()
    }

    fn start_capture(
        &mut self,
        material: String,
        target: CaptureFor,
        fx: &mut Vec<Effect>,
    ) -> State {
        let colour = self
            .catalogue
            .material(&material)
            .map_or(catalogue::Colour::Colour, |m| m.capture.colour);
        fx.push(Effect::StartCapture {
            material: material.clone(),
            colour,
        });
        State::Capture {
            material,
            pages: Vec::new(),
            target,
            problem: None,
        }
    }

    fn keep_pages(&mut self, material: String, pages: Vec<Zeroizing<Vec<u8>>>, target: CaptureFor) {
        if pages.is_empty() {
            return;
        }
        match target {
            CaptureFor::Filing => {
                if let Some(f) = self.filing_mut() {
                    f.materials.insert(material, Provision::Captured(pages));
                }
            }
            CaptureFor::Supplement => {
                if let Some(d) = self.supplement_mut() {
                    d.pages.insert(material, pages);
                }
            }
        }
    }

    fn submit(&mut self, fx: &mut Vec<Effect>) -> State {
        let ready = self
            .filing()
            .is_some_and(|f| f.consents.processing && !f.signature.strokes.is_empty());
        if !ready || !self.usable(Device::Store) {
            return State::Sign;
        }
        let catalogue = self.catalogue.clone();
        let terminal = self.settings.terminal.clone();
        let Some(s) = self.session.as_mut() else {
            return State::Sign;
        };
        let Some(f) = s.filing.as_mut() else {
            return State::Sign;
        };
        let Ok(plan) = f.plan(&catalogue, &terminal) else {
            return State::Sign;
        };
        let (missing_zh, missing_en) = (f.missing(&plan, true), f.missing(&plan, false));
        let receipt = ReceiptInfo {
            number: String::new(),
            kind: ReceiptKind::Application,
            items: plan.items.iter().map(|i| i.name.zh.clone()).collect(),
            items_en: plan.items.iter().map(|i| i.name.en.clone()).collect(),
            time_limit_days: plan.time_limit_days,
            delivery: Some(f.delivery_in(&Filing::deliveries(&plan))),
            missing: missing_zh
                .into_iter()
                .zip(missing_en)
                .map(|((zh, deadline), (en, _))| (zh, en, deadline))
                .collect(),
            qr: String::new(),
        };
        let (draft, captured) = f.take_submission(&plan, &catalogue, &s.applicant);
        fx.push(Effect::Save(Box::new(Submission { draft, captured })));
        State::Saving { receipt }
    }

    fn supplement_complete(&self) -> bool {
        let Some(d) = self.supplement() else {
            return false;
        };
        d.corrections.iter().all(|c| {
            if let Some(field) = self.catalogue.field(&c.target) {
                d.values
                    .get(&c.target)
                    .is_some_and(|v| !v.value.trim().is_empty() && field.check(&v.value).is_ok())
            } else {
                d.pages.get(&c.target).is_some_and(|p| !p.is_empty())
            }
        })
    }

    fn submit_supplement(&mut self, fx: &mut Vec<Effect>) -> State {
        if !self.supplement_complete()
            || !self.usable(Device::Store)
            || self
                .supplement()
                .is_none_or(|d| d.signature.strokes.is_empty())
        {
            return State::Supplement;
        }
        let codes = self
            .supplement()
            .and_then(|d| self.record(d.number.as_str()))
            .map(|r| r.items.clone())
            .unwrap_or_default();
        let name = |code: &String, en: bool| {
            self.catalogue.item(code).map_or_else(
                || code.clone(),
                |i| {
                    if en {
                        i.name.en.clone()
                    } else {
                        i.name.zh.clone()
                    }
                },
            )
        };
        let items: Vec<String> = codes.iter().map(|c| name(c, false)).collect();
        let items_en: Vec<String> = codes.iter().map(|c| name(c, true)).collect();
        let Some(d) = self.session.as_mut().and_then(|s| s.supplement.take()) else {
            return State::Supplement;
        };
        let receipt = ReceiptInfo {
            number: String::new(),
            kind: ReceiptKind::Supplement,
            items,
            items_en,
            time_limit_days: 0,
            delivery: None,
            missing: Vec::new(),
            qr: String::new(),
        };
        let SupplementDraft {
            number,
            values,
            pages,
            signature,
            ..
        } = d;
        fx.push(Effect::SaveSupplement(Box::new(Supplement {
            number,
            form: values.into_values().collect(),
            captured: pages
                .into_iter()
                .map(|(material, pages)| CapturedMaterial { material, pages })
                .collect(),
            signature,
        })));
        State::Saving { receipt }
    }

    fn item_names(&self, codes: &[String]) -> Vec<String> {
        codes
            .iter()
            .map(|c| {
                self.catalogue
                    .item(c)
                    .map_or_else(|| c.clone(), |i| self.tr(&i.name))
            })
            .collect()
    }

    fn can_supplement(&self, r: &Record) -> bool {
        match &r.status {
            Status::CorrectionsNeeded { corrections } => {
                self.usable(Device::Store)
                    && corrections.iter().all(|c| {
                        self.catalogue.field(&c.target).is_some()
                            || (self.catalogue.material(&c.target).is_some()
                                && self.usable(Device::Camera))
                    })
            }
            _ => false,
        }
    }

    fn pickup_rows(&self) -> Vec<PickupRow> {
        let Some(records) = self.records() else {
            return Vec::new();
        };
        records
            .applications
            .iter()
            .filter_map(|r| match &r.status {
                Status::ResultReady { delivery }
                    if matches!(delivery, Delivery::KioskPrint | Delivery::Dispenser) =>
                {
                    let device = match delivery {
                        Delivery::Dispenser => Device::Dispenser,
                        _ => Device::A4Printer,
                    };
                    Some(PickupRow {
                        number: r.number.to_string(),
                        items: self.item_names(&r.items),
                        delivery: *delivery,
                        available: self.usable(device),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// What the screen shows now.
    pub fn view(&self) -> View {
        View {
            screen: self.screen(),
            language: self.language,
            languages: self.settings.display.languages.clone(),
            large_text: self.large_text,
            high_contrast: self.high_contrast,
            voice: self.voice,
            speech: self.speech.clone(),
            countdown_s: self.countdown_s(),
            notices: self.notices(),
        }
    }

    fn notices(&self) -> Vec<Notice> {
        self.unusable
            .keys()
            .filter(|d| !self.settings.not_fitted.contains(d))
            .filter_map(|d| {
                let text = match d {
                    Device::ReceiptPrinter => self.say(
                        "回执打印机暂停使用：受理回执将以二维码显示，请用手机拍照保存。",
                        "The receipt printer is out of order: your receipt will be shown as a QR code to photograph.",
                    ),
                    Device::Camera => self.say(
                        "高拍仪暂停使用：可使用已存材料，或按容缺受理以后补交。",
                        "The document camera is out of order: you can reuse stored materials or supply them later where allowed.",
                    ),
                    Device::A4Printer => self.say(
                        "打印机暂停使用：需打印的结果暂不能在本机领取。",
                        "The printer is out of order: printed results cannot be collected here now.",
                    ),
                    Device::Dispenser => self.say(
                        "发卡机暂停使用：证卡暂不能在本机领取。",
                        "The card dispenser is out of order: cards cannot be collected here now.",
                    ),
                    Device::IdReader | Device::Store => return None,
                };
                Some(Notice { device: *d, text })
            })
            .collect()
    }

    fn screen(&self) -> Screen {
        match &self.state {
            State::Attract => Screen::Attract {
                offers: vec![Journey::NewApplication, Journey::Progress, Journey::Pickup],
            },
            State::Identify { unreadable } => Screen::Identify {
                unreadable: *unreadable,
            },
            State::Home => self.home(),
            State::Choose { search } => self.choose(search),
            State::Optional => self.optional(),
            State::Question { problem } => self.question(*problem),
            State::Form => self.form(),
            State::Materials => self.materials(),
            State::Capture {
                material,
                pages,
                problem,
                ..
            } => {
                let m = self.catalogue.material(material);
                Screen::Capture {
                    material: material.clone(),
                    name: m.map(|m| self.tr(&m.name)).unwrap_or_default(),
                    pages: pages.len(),
                    max_pages: m.map_or(0, |m| m.capture.max_pages),
                    problem: *problem,
                }
            }
            State::Review => self.review(),
            State::Consent => {
                let f = self.filing();
                Screen::Consent {
                    processing: f.is_some_and(|f| f.consents.processing),
                    store_for_reuse: f.is_some_and(|f| f.consents.store_for_reuse),
                    reuse_offered: f.is_some_and(|f| {
                        f.materials.iter().any(|(id, p)| {
                            matches!(p, Provision::Captured(_))
                                && self.catalogue.material(id).is_some_and(|m| m.reusable)
                        })
                    }),
                }
            }
            State::Sign => {
                let f = self.filing();
                let promise = match (self.plan(), f) {
                    (Ok(p), Some(f)) => f.missing(&p, self.language == Language::Zh),
                    _ => Vec::new(),
                };
                let strokes = f.map_or(0, |f| f.signature.strokes.len());
                Screen::Sign {
                    strokes,
                    can_submit: strokes > 0 && self.usable(Device::Store),
                    promise,
                }
            }
            State::Saving { .. } => Screen::Saving,
            State::NotSaved(failure) => Screen::NotSaved { failure: *failure },
            State::Receipt { receipt, printing } => Screen::Receipt {
                receipt: receipt.clone(),
                printing: *printing,
            },
            State::Rate { .. } => Screen::Rate,
            State::Goodbye => Screen::Goodbye {
                take_card: self.card_on_reader,
                take_receipt: self.receipt_in_presenter,
            },
            State::Progress => self.progress(),
            State::Supplement => self.supplement_view(),
            State::Pickup => Screen::Pickup {
                results: self.pickup_rows(),
            },
            State::Collecting {
                number,
                delivery,
                stage,
            } => Screen::Collecting {
                number: number.to_string(),
                delivery: *delivery,
                verifying: *stage == Collect::Verify,
                done: match stage {
                    Collect::Done(ok) => Some(*ok),
                    _ => None,
                },
            },
            State::MaintenanceLogin => Screen::MaintenanceLogin {
                failures: self.pin_failures,
                locked_s: self.pin_locked_s(),
            },
            State::Maintenance { report, last } => Screen::Maintenance {
                report: report.clone(),
                last: last.clone(),
                out_of_service: self.technician_off.is_some(),
            },
            State::OutOfService => Screen::OutOfService {
                reason: self.say(
                    "本机暂停服务，请到服务大厅或其他自助终端办理。",
                    "This kiosk is out of service. Please use another kiosk or the service hall.",
                ),
            },
        }
    }

    fn home(&self) -> Screen {
        let Some(s) = &self.session else {
            return Screen::Attract { offers: Vec::new() };
        };
        let records = s.records.is_some();
        Screen::Home {
            name: s.applicant.name.clone(),
            id_number: idcard::mask::id_number(&s.applicant.id_number),
            journeys: vec![
                JourneyOffer {
                    journey: Journey::NewApplication,
                    available: self.usable(Device::Store),
                },
                JourneyOffer {
                    journey: Journey::Progress,
                    available: records,
                },
                JourneyOffer {
                    journey: Journey::Pickup,
                    available: self.pickup_rows().iter().any(|r| r.available),
                },
            ],
        }
    }

    fn choose(&self, search: &str) -> Screen {
        let terminal = &self.settings.terminal;
        let needle = search.trim().to_lowercase();
        let hit = |t: &Text| {
            needle.is_empty()
                || t.zh.contains(&needle)
                || t.en.to_lowercase().contains(&needle)
                || initials(&t.zh).contains(&needle)
        };
        Screen::Choose {
            search: search.to_owned(),
            bundles: self
                .catalogue
                .bundles_for(terminal)
                .filter(|b| hit(&b.name))
                .map(|b| Offer {
                    id: b.id.clone(),
                    label: self.tr(&b.name),
                })
                .collect(),
            items: self
                .catalogue
                .items_for(terminal)
                .filter(|i| hit(&i.name))
                .map(|i| Offer {
                    id: i.code.clone(),
                    label: self.tr(&i.name),
                })
                .collect(),
        }
    }

    fn optional(&self) -> Screen {
        let Some(f) = self.filing() else {
            return Screen::Saving;
        };
        let bundle = f.bundle.as_ref().and_then(|b| self.catalogue.bundle(b));
        Screen::Optional {
            bundle: bundle.map(|b| self.tr(&b.name)).unwrap_or_default(),
            items: bundle
                .map(|b| {
                    b.optional
                        .iter()
                        .map(|code| Toggle {
                            code: code.clone(),
                            label: self
                                .catalogue
                                .item(code)
                                .map(|i| self.tr(&i.name))
                                .unwrap_or_default(),
                            on: f.chosen.contains(code),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn question(&self, problem: bool) -> Screen {
        let q = self.plan().ok().and_then(|p| {
            let f = self.filing()?;
            p.next_question(&f.answers)
        });
        let answered = self.filing().map_or(0, |f| f.answered.len());
        match q {
            Some(q) => Screen::Question {
                id: q.id.clone(),
                text: self.tr(&q.text),
                options: q
                    .options
                    .iter()
                    .map(|o| Offer {
                        id: o.value.clone(),
                        label: self.tr(&o.label),
                    })
                    .collect(),
                answered,
                problem: problem.then(|| {
                    self.say(
                        "您的情形需要办理本机暂不提供的事项，请到服务大厅办理，或选择其他答案。",
                        "Your situation needs an item this kiosk does not offer: please go to the service hall, or choose another answer.",
                    )
                }),
            },
            None => Screen::Saving,
        }
    }

    fn form(&self) -> Screen {
        let (Ok(plan), Some(f)) = (self.plan(), self.filing()) else {
            return Screen::Saving;
        };
        let fields: Vec<FieldView> = plan
            .fields
            .iter()
            .map(|field| {
                let value = f.value(&field.id);
                let locked = f.locked.contains(&field.id);
                FieldView {
                    id: field.id.clone(),
                    label: self.tr(&field.label),
                    value: if self
                        .session
                        .as_ref()
                        .is_some_and(|s| s.applicant.id_number == value.trim())
                    {
                        idcard::mask::id_number(value)
                    } else {
                        value.to_owned()
                    },
                    required: field.required,
                    locked,
                    from_earlier: f.from_earlier.contains(&field.id),
                    error: f
                        .checked
                        .contains(&field.id)
                        .then(|| field.check(value).err().map(|e| e.to_string()))
                        .flatten(),
                }
            })
            .collect();
        let complete = plan.fields.iter().all(|x| x.check(f.value(&x.id)).is_ok());
        Screen::Form { fields, complete }
    }

    fn materials(&self) -> Screen {
        let (Ok(plan), Some(f)) = (self.plan(), self.filing()) else {
            return Screen::Saving;
        };
        let stored = self.records().map_or(&[][..], |r| &r.reusable[..]);
        Screen::Materials {
            materials: plan
                .materials
                .iter()
                .map(|m| MaterialView {
                    id: m.material.id.clone(),
                    name: self.tr(&m.material.name),
                    required: m.required,
                    state: match f.materials.get(&m.material.id) {
                        None => MaterialState::None,
                        Some(Provision::Captured(p)) => MaterialState::Captured { pages: p.len() },
                        Some(Provision::Reused(_)) => MaterialState::Reused,
                        Some(Provision::Later(d)) => MaterialState::Later {
                            deadline: d.clone(),
                        },
                    },
                    reusable: stored
                        .iter()
                        .find(|s| s.material == m.material.id)
                        .map(|s| (time::iso(time::local_date(s.captured_at_ms)), s.trust)),
                    can_capture: self.usable(Device::Camera),
                    can_defer: m.rongque_deadline().map(|d| deadline(self.now_ms, d)),
                })
                .collect(),
            complete: f.materials_complete(&plan),
        }
    }

    fn review(&self) -> Screen {
        let (Ok(plan), Some(f)) = (self.plan(), self.filing()) else {
            return Screen::Saving;
        };
        let deliveries = Filing::deliveries(&plan);
        Screen::Review {
            items: plan.items.iter().map(|i| self.tr(&i.name)).collect(),
            time_limit_days: plan.time_limit_days,
            delivery: f.delivery_in(&deliveries),
            deliveries,
            missing: f.missing(&plan, self.language == Language::Zh),
        }
    }

    fn progress(&self) -> Screen {
        let rows = self.records().map_or_else(Vec::new, |r| {
            r.applications
                .iter()
                .map(|a| {
                    let (status, corrections, reason) = match &a.status {
                        Status::Saved => ("saved", Vec::new(), None),
                        Status::Delivered => ("delivered", Vec::new(), None),
                        Status::Accepted => ("accepted", Vec::new(), None),
                        Status::CorrectionsNeeded { corrections } => (
                            "corrections_needed",
                            corrections.iter().map(|c| c.note.clone()).collect(),
                            None,
                        ),
                        Status::Supplied => ("supplied", Vec::new(), None),
                        Status::Rejected { reason } => {
                            ("rejected", Vec::new(), Some(reason.clone()))
                        }
                        Status::ResultReady { .. } => ("result_ready", Vec::new(), None),
                        Status::Collected => ("collected", Vec::new(), None),
                    };
                    ProgressRow {
                        number: a.number.to_string(),
                        items: self.item_names(&a.items),
                        saved_on: time::iso(time::local_date(a.saved_at_ms)),
                        status: status.to_owned(),
                        corrections,
                        reason,
                        can_supplement: self.can_supplement(a),
                        can_collect: self
                            .pickup_rows()
                            .iter()
                            .any(|p| p.number == a.number.as_str() && p.available),
                    }
                })
                .collect()
        });
        Screen::Progress { applications: rows }
    }

    fn supplement_view(&self) -> Screen {
        let Some(d) = self.supplement() else {
            return Screen::Saving;
        };
        Screen::Supplement {
            number: d.number.to_string(),
            corrections: d
                .corrections
                .iter()
                .map(|c| {
                    let field = self.catalogue.field(&c.target);
                    let value = d.values.get(&c.target).map(|v| v.value.clone());
                    CorrectionView {
                        target: c.target.clone(),
                        label: field.map(|f| self.tr(&f.label)).unwrap_or_else(|| {
                            self.catalogue
                                .material(&c.target)
                                .map(|m| self.tr(&m.name))
                                .unwrap_or_default()
                        }),
                        note: c.note.clone(),
                        kind: if field.is_some() {
                            CorrectionKind::Field
                        } else {
                            CorrectionKind::Material
                        },
                        error: field
                            .zip(value.as_ref())
                            .and_then(|(f, v)| f.check(v).err().map(|e| e.to_string())),
                        value,
                        pages: d.pages.get(&c.target).map_or(0, Vec::len),
                    }
                })
                .collect(),
            complete: self.supplement_complete(),
            strokes: d.signature.strokes.len(),
        }
    }
}
