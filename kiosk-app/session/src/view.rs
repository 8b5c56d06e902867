//! The view model: everything a screen shows, as data. The Slint UI displays it; the headless
//! driver prints it as one JSON line per change. Nothing in it is personal beyond what the
//! citizen on the card must see (the name, a masked ID number, the values they entered), and
//! between sessions it holds nothing of anyone.

use crate::effect::ReceiptInfo;
use crate::input::{Device, Language, SaveFailure};
use catalogue::{Delivery, TrustLevel};
use serde::Serialize;

/// What the screen shows now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    /// The screen and its content.
    #[serde(flatten)]
    pub screen: Screen,
    /// The language texts are in.
    pub language: Language,
    /// The languages offered, the first the one each session starts in.
    pub languages: Vec<Language>,
    /// Large text on?
    pub large_text: bool,
    /// High contrast on?
    pub high_contrast: bool,
    /// Voice guidance on?
    pub voice: bool,
    /// The last thing voice guidance said, shown as a caption (for those who cannot hear it).
    pub speech: Option<String>,
    /// Seconds left before the session resets for lack of activity, once the warning shows.
    pub countdown_s: Option<u64>,
    /// Plain-language notices: what does not work now and what to do instead.
    pub notices: Vec<Notice>,
}

/// A notice about a device that does not work, with the alternative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// The device.
    pub device: Device,
    /// What the citizen is told.
    pub text: String,
}

/// Every screen, tagged by `screen` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "screen", rename_all = "snake_case")]
pub enum Screen {
    /// Waiting for a citizen.
    Attract {
        /// The journeys this kiosk offers now.
        offers: Vec<Journey>,
    },
    /// Asking for the ID card.
    Identify {
        /// The card could not be read: try again.
        unreadable: bool,
    },
    /// What would you like to do?
    Home {
        /// The name on the card.
        name: String,
        /// The ID number, masked.
        id_number: String,
        /// Journeys, each available or not.
        journeys: Vec<JourneyOffer>,
    },
    /// Choose a bundle or an item.
    Choose {
        /// The search text.
        search: String,
        /// Bundles matching.
        bundles: Vec<Offer>,
        /// Items matching.
        items: Vec<Offer>,
    },
    /// The optional items of a bundle.
    Optional {
        /// The bundle's name.
        bundle: String,
        /// Each optional item, chosen or not.
        items: Vec<Toggle>,
    },
    /// One situation question.
    Question {
        /// Its id.
        id: String,
        /// The question.
        text: String,
        /// The answers.
        options: Vec<Offer>,
        /// Questions answered so far.
        answered: usize,
        /// The last answer could not be taken: why, and what to do.
        problem: Option<String>,
    },
    /// The one merged form.
    Form {
        /// Its fields, in order.
        fields: Vec<FieldView>,
        /// Every field passes.
        complete: bool,
    },
    /// The merged list of materials.
    Materials {
        /// Each material.
        materials: Vec<MaterialView>,
        /// Every required material is provided or deferred.
        complete: bool,
    },
    /// Capturing a material's pages.
    Capture {
        /// The material's id.
        material: String,
        /// Its name.
        name: String,
        /// Pages taken.
        pages: usize,
        /// The most it may have.
        max_pages: u32,
        /// Why the last page laid down was not taken (until one is): what to fix.
        problem: Option<crate::input::PageProblem>,
    },
    /// Everything, before consent and signature.
    Review {
        /// The items, by name.
        items: Vec<String>,
        /// The promised time limit, working days.
        time_limit_days: u32,
        /// Ways the result may reach the applicant.
        deliveries: Vec<Delivery>,
        /// The way chosen.
        delivery: Delivery,
        /// Materials to supply later, with deadlines.
        missing: Vec<(String, String)>,
    },
    /// Consents, each separately.
    Consent {
        /// To processing (needed to submit).
        processing: bool,
        /// To keeping materials for reuse (optional).
        store_for_reuse: bool,
        /// Whether any material can be kept for reuse.
        reuse_offered: bool,
    },
    /// Sign on the screen.
    Sign {
        /// Strokes drawn so far.
        strokes: usize,
        /// Ready to submit.
        can_submit: bool,
        /// A promise to supply materials later is part of what is signed.
        promise: Vec<(String, String)>,
    },
    /// Saving: nothing is promised until it is on disk.
    Saving,
    /// Could not be saved: nothing was saved, and what to do.
    NotSaved {
        /// Why.
        failure: SaveFailure,
    },
    /// Saved: the receipt.
    Receipt {
        /// What it says.
        receipt: ReceiptInfo,
        /// Printing, printed, or shown as a QR code to photograph.
        printing: Printing,
    },
    /// Rate the service.
    Rate,
    /// Take your card (and receipt).
    Goodbye {
        /// The card is still on the reader.
        take_card: bool,
        /// The receipt is still in the presenter.
        take_receipt: bool,
    },
    /// The citizen's applications.
    Progress {
        /// Each, oldest first.
        applications: Vec<ProgressRow>,
    },
    /// Supplying corrections asked for an application.
    Supplement {
        /// The application.
        number: String,
        /// Each correction asked.
        corrections: Vec<CorrectionView>,
        /// Everything asked is supplied.
        complete: bool,
        /// Signature strokes drawn.
        strokes: usize,
    },
    /// Results waiting here to be collected.
    Pickup {
        /// Each result.
        results: Vec<PickupRow>,
    },
    /// Handing out a result.
    Collecting {
        /// The application.
        number: String,
        /// How.
        delivery: Delivery,
        /// Waiting for the card to be placed again, to confirm the holder.
        verifying: bool,
        /// Done? `None` while in progress.
        done: Option<bool>,
    },
    /// The kiosk cannot serve at all.
    OutOfService {
        /// Why, in plain language.
        reason: String,
    },
    /// Maintenance login: the technician PIN, or a technician's card on the reader.
    MaintenanceLogin {
        /// Wrong PINs in a row so far.
        failures: u32,
        /// Seconds the PIN stays locked, when it is.
        locked_s: Option<u64>,
    },
    /// The maintenance menu. Nothing of any citizen, by construction.
    Maintenance {
        /// What the runtime reported; `None` until it has.
        report: Option<Box<crate::maintenance::Report>>,
        /// The last action's outcome; `None` while one is under way or none was done.
        last: Option<crate::maintenance::Outcome>,
        /// The out-of-service switch (applied on leaving).
        out_of_service: bool,
    },
}

/// A journey of the home screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Journey {
    /// File a new application.
    NewApplication,
    /// Progress and corrections.
    Progress,
    /// Collect a result.
    Pickup,
}

/// A journey offered or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JourneyOffer {
    /// The journey.
    pub journey: Journey,
    /// Can it be done now?
    pub available: bool,
}

/// Something to choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// Its id or code or value.
    pub id: String,
    /// What is shown.
    pub label: String,
}

/// An optional item, chosen or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Toggle {
    /// The item's code.
    pub code: String,
    /// Its name.
    pub label: String,
    /// Chosen?
    pub on: bool,
}

/// A form field on screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldView {
    /// Its id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// The value (masked for ID numbers of the applicant).
    pub value: String,
    /// Must be filled.
    pub required: bool,
    /// From the card: not editable.
    pub locked: bool,
    /// Filled from an earlier application: check it.
    pub from_earlier: bool,
    /// What is wrong with it, in plain words, once entered.
    pub error: Option<String>,
}

/// A material on screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaterialView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Needed to submit.
    pub required: bool,
    /// How it is provided so far.
    pub state: MaterialState,
    /// A stored copy can be reused: its capture date and trust level.
    pub reusable: Option<(String, TrustLevel)>,
    /// It can be captured now (the camera works).
    pub can_capture: bool,
    /// It may be supplied later, by this date (容缺).
    pub can_defer: Option<String>,
}

/// How a material is provided so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum MaterialState {
    /// Not yet.
    None,
    /// Captured now.
    Captured {
        /// Pages.
        pages: usize,
    },
    /// The stored copy, reused.
    Reused,
    /// To be supplied later.
    Later {
        /// By this date.
        deadline: String,
    },
}

/// How the receipt is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Printing {
    /// Being printed.
    Printing,
    /// Printed and presented.
    Printed,
    /// No printer: shown as a QR code to photograph.
    ShownAsQr,
}

/// One application on the progress screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgressRow {
    /// Its number.
    pub number: String,
    /// The items, by name.
    pub items: Vec<String>,
    /// Saved on, `YYYY-MM-DD`.
    pub saved_on: String,
    /// Where it stands: `saved`, `delivered`, `accepted`, `corrections_needed`, `rejected`,
    /// `result_ready`, `collected`.
    pub status: String,
    /// Corrections asked for, in full.
    pub corrections: Vec<String>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// Corrections can be supplied here now.
    pub can_supplement: bool,
    /// The result can be collected here now.
    pub can_collect: bool,
}

/// One correction asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorrectionView {
    /// The field or material concerned.
    pub target: String,
    /// Its label or name.
    pub label: String,
    /// What the reviewer asks.
    pub note: String,
    /// A field (a value to enter) or a material (pages to capture).
    pub kind: CorrectionKind,
    /// The value entered (fields).
    pub value: Option<String>,
    /// What is wrong with the value.
    pub error: Option<String>,
    /// Pages captured (materials).
    pub pages: usize,
}

/// What a correction concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionKind {
    /// A form field.
    Field,
    /// A material.
    Material,
}

/// A result waiting here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PickupRow {
    /// The application.
    pub number: String,
    /// The items, by name.
    pub items: Vec<String>,
    /// How it is handed out here.
    pub delivery: Delivery,
    /// The device for it works now.
    pub available: bool,
}
