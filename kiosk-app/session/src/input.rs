//! What drives the engine: the citizen's intents (what a finger does) and events from the
//! devices, the store and the central office (what the world does).

use application::{Applicant, ApplicationNumber, Status};
use catalogue::Delivery;
use kiosk_store::StoredMaterial;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// What the citizen does on the screen. Every intent counts as activity for the idle timer.
/// An intent that does not apply to the current screen is ignored (a stale tap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "intent", rename_all = "snake_case")]
pub enum Intent {
    /// A touch anywhere: wakes the attract screen, keeps a session alive.
    Touch,
    /// Leave the journey; asks the applicant to take the card.
    Cancel,
    /// One step back.
    Back,
    /// Home: file a new application.
    NewApplication,
    /// Home: see how my applications stand.
    Progress,
    /// Home: collect a result.
    Pickup,
    /// Choose: filter by characters or pinyin initials.
    Search {
        /// What was typed; empty shows everything.
        text: String,
    },
    /// Choose: one item.
    ChooseItem {
        /// Its code.
        code: String,
    },
    /// Choose: a life-event bundle.
    ChooseBundle {
        /// Its id.
        id: String,
    },
    /// Optional items of a bundle: add or remove one.
    ToggleOptional {
        /// The item's code.
        code: String,
    },
    /// Go on to the next step.
    Continue,
    /// Answer the situation question on screen.
    Answer {
        /// The question.
        question: String,
        /// The option chosen.
        value: String,
    },
    /// Enter a form value.
    SetField {
        /// The field.
        field: String,
        /// The value.
        value: String,
    },
    /// Reuse the stored copy of a material.
    Reuse {
        /// The material.
        material: String,
    },
    /// Capture a material with the document camera.
    Capture {
        /// The material.
        material: String,
    },
    /// Supply the material later (容缺), with a signed promise.
    SupplyLater {
        /// The material.
        material: String,
    },
    /// Undo the choice made for a material.
    Clear {
        /// The material.
        material: String,
    },
    /// Capture: the pages are all taken.
    CaptureDone,
    /// Review: how the result is to reach me.
    Delivery {
        /// The way.
        delivery: Delivery,
    },
    /// Consents, each separately.
    Consent {
        /// To the processing of the application.
        processing: bool,
        /// To keeping the materials for reuse.
        store_for_reuse: bool,
    },
    /// The signature as drawn (points on a 1000×400 pad).
    Sign {
        /// The strokes.
        strokes: Vec<Vec<(u16, u16)>>,
    },
    /// Erase the signature.
    ClearSignature,
    /// Submit the application (or the corrections).
    Submit,
    /// Rate the service, 1 to 5.
    Rate {
        /// Stars.
        stars: u8,
    },
    /// Progress: supply the corrections asked for an application.
    Supplement {
        /// The application.
        number: String,
    },
    /// Pickup: collect this application's result.
    Collect {
        /// The application.
        number: String,
    },
    /// Show texts in this language (`zh` or `en`).
    Language {
        /// The language.
        language: Language,
    },
    /// Large text on or off.
    LargeText {
        /// On?
        on: bool,
    },
    /// High contrast on or off.
    HighContrast {
        /// On?
        on: bool,
    },
    /// Voice guidance on or off (what is said is shown as a caption either way).
    Voice {
        /// On?
        on: bool,
    },
    /// The hidden gesture that asks for maintenance mode (the UI recognises it; only with no
    /// citizen's session).
    MaintenanceGesture,
    /// The technician PIN, typed on the maintenance login screen. Never logged.
    MaintenancePin {
        /// The PIN.
        pin: String,
    },
    /// An action in the maintenance menu.
    Maintain {
        /// What to do.
        #[serde(flatten)]
        action: crate::maintenance::Action,
    },
}

/// The languages of the catalogue's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Simplified Chinese.
    #[default]
    Zh,
    /// English.
    En,
}

/// The kiosk's devices, as far as journeys depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// The ID card reader: nobody can be identified without it.
    IdReader,
    /// The receipt printer.
    ReceiptPrinter,
    /// The document camera.
    Camera,
    /// The A4 printer.
    A4Printer,
    /// The card and certificate dispenser.
    Dispenser,
    /// The store (database and disk): no application can be taken without it.
    Store,
}

/// A remote command from the central office, obeyed only between sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Stop taking citizens.
    OutOfService,
    /// Take citizens again.
    InService,
    /// Restart the kiosk.
    Reboot,
    /// Gather the logs for the central office.
    CollectLogs,
}

/// One of the citizen's applications, as the progress and pickup screens need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its number.
    pub number: ApplicationNumber,
    /// Item codes filed.
    pub items: Vec<String>,
    /// When it was saved.
    pub saved_at_ms: i64,
    /// Where it stands (`Supplied` once corrections were given for the latest request).
    pub status: Status,
}

/// What the store knows of the citizen on the card: the answer to [`crate::Effect::Lookup`].
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Values of earlier applications for fields filled from them.
    pub earlier: Vec<application::FormValue>,
    /// Stored materials that may be reused now.
    pub reusable: Vec<StoredMaterial>,
    /// The citizen's applications, oldest first.
    pub applications: Vec<Record>,
}

/// Why saving failed; nothing was saved in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaveFailure {
    /// The disk is too full: the kiosk takes no more applications.
    DiskFull,
    /// The store is broken: the kiosk takes no more applications.
    StoreFailed,
    /// The application breaks a rule (a catalogue change in between, say).
    Refused,
}

/// Why the camera did not take a page: what the citizen must fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageProblem {
    /// Not sharp: the page or the hand moved, or it is not flat.
    Blurred,
    /// A reflection hides part of it.
    Glare,
    /// Part of it is outside the camera's view.
    CutOff,
}

/// What the world reports to the engine.
#[derive(Debug, Clone)]
pub enum Event {
    /// A card was read.
    CardRead(Box<Applicant>),
    /// A card is on the reader but could not be read.
    CardUnreadable {
        /// Why, for the log (the screen says it plainly).
        reason: String,
    },
    /// The card was taken off the reader.
    CardRemoved,
    /// The answer to a lookup.
    Records {
        /// The session the lookup was for, as in [`crate::Effect::Lookup`].
        session: u64,
        /// What was found.
        records: Box<Records>,
    },
    /// The camera took a page of the material being captured.
    PageCaptured {
        /// The material.
        material: String,
        /// The page (JPEG); wiped when dropped.
        image: Zeroizing<Vec<u8>>,
    },
    /// The camera failed during a capture.
    CaptureFailed {
        /// Why.
        reason: String,
    },
    /// The application is durably saved.
    Saved {
        /// Its number.
        number: ApplicationNumber,
    },
    /// Saving failed.
    SaveFailed {
        /// How.
        failure: SaveFailure,
        /// Why, for the log.
        reason: String,
    },
    /// The receipt was printed and presented.
    ReceiptPrinted,
    /// The receipt could not be printed.
    ReceiptFailed {
        /// Why.
        reason: String,
    },
    /// The receipt was taken from the presenter.
    ReceiptTaken,
    /// A result was handed out (dispensed or printed).
    ResultHandedOut,
    /// A result could not be handed out.
    ResultFailed {
        /// Why.
        reason: String,
    },
    /// A device became usable or unusable.
    Device {
        /// Which.
        device: Device,
        /// Usable now?
        usable: bool,
        /// Why not, for the notice and the heartbeat.
        reason: Option<String>,
    },
    /// A remote command arrived.
    Command {
        /// Its id, to report it done.
        id: u64,
        /// What it asks.
        command: Command,
    },
    /// The technician switched the kiosk out of service or back.
    OutOfServiceSwitch {
        /// Out of service?
        on: bool,
    },
    /// The camera saw a page but did not take it.
    PageRejected {
        /// The material being captured.
        material: String,
        /// What is wrong.
        problem: PageProblem,
    },
    /// The maintenance menu's content, answering [`crate::Effect::Maintenance`].
    MaintenanceReport(Box<crate::maintenance::Report>),
    /// How a maintenance action went.
    MaintenanceDone(crate::maintenance::Outcome),
}
