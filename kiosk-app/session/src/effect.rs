//! What the engine asks the world to do. The runtime carries each effect out and reports the
//! outcome as an [`crate::Event`]; the engine itself does no I/O.

use application::{ApplicationNumber, Draft, FormValue, Signature};
use catalogue::{Colour, Delivery};
use kiosk_store::{AuditEvent, CapturedMaterial};
use serde::Serialize;
use zeroize::Zeroizing;

/// One thing to do.
#[derive(Debug)]
pub enum Effect {
    /// Find what the store knows of this citizen; answered by [`crate::Event::Records`].
    Lookup {
        /// The session asking; the answer names it.
        session: u64,
        /// The ID number read from the card.
        id_number: Zeroizing<String>,
    },
    /// Start the camera's live view and automatic capture for a material.
    StartCapture {
        /// The material.
        material: String,
        /// Colour or grey.
        colour: Colour,
    },
    /// Stop the camera.
    StopCapture,
    /// Save the application durably; answered by `Saved` or `SaveFailed`.
    Save(Box<Submission>),
    /// Save corrections supplied for an application; answered like `Save`.
    SaveSupplement(Box<Supplement>),
    /// Print the receipt; answered by `ReceiptPrinted` or `ReceiptFailed`.
    PrintReceipt(Box<ReceiptInfo>),
    /// Hand out a result (dispense the card, print the A4 document); answered by
    /// `ResultHandedOut` or `ResultFailed`.
    HandOut {
        /// The application.
        number: ApplicationNumber,
        /// How.
        delivery: Delivery,
    },
    /// Say this aloud (voice guidance).
    Speak {
        /// The sentence.
        text: String,
        /// Its language, for the voice.
        language: crate::Language,
    },
    /// Record an audit event.
    Audit(AuditEvent),
    /// The citizen's session is over: remove temporary files, stop the camera.
    EndSession,
    /// Out of service with this reason (reported in the heartbeat), or back in service.
    OutOfService {
        /// Why, or `None` when back in service.
        reason: Option<String>,
    },
    /// A remote command was carried out.
    CommandDone {
        /// Its id.
        id: u64,
    },
    /// Restart the kiosk (between sessions only).
    Reboot,
    /// Gather the logs for the central office.
    CollectLogs,
    /// Something for the maintenance menu.
    Maintenance(crate::maintenance::Request),
}

/// An application ready to be saved.
#[derive(Debug)]
pub struct Submission {
    /// The application.
    pub draft: Draft,
    /// Pages captured now.
    pub captured: Vec<CapturedMaterial>,
}

/// Corrections supplied at the kiosk for an application.
#[derive(Debug)]
pub struct Supplement {
    /// The application corrected.
    pub number: ApplicationNumber,
    /// Corrected form values.
    pub form: Vec<FormValue>,
    /// Materials captured again.
    pub captured: Vec<CapturedMaterial>,
    /// The applicant's signature.
    pub signature: Signature,
}

/// What the receipt says, in Chinese and English as the printed receipt does, whatever the
/// session's language. Nothing personal beyond what the applicant needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptInfo {
    /// The application number.
    pub number: String,
    /// What the receipt is for.
    pub kind: ReceiptKind,
    /// The items filed, by Chinese name.
    pub items: Vec<String>,
    /// The same, by English name.
    pub items_en: Vec<String>,
    /// The promised time limit in working days.
    pub time_limit_days: u32,
    /// How the result reaches the applicant (none for corrections).
    pub delivery: Option<Delivery>,
    /// Materials to supply later (容缺): Chinese name, English name, deadline.
    pub missing: Vec<(String, String, String)>,
    /// The progress QR code's text.
    pub qr: String,
}

/// What a receipt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// A new application.
    Application,
    /// Corrections supplied.
    Supplement,
}
