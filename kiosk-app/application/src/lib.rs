//! A citizen's application as the kiosk saves it and the central office receives it.
//!
//! Everything personal (the applicant, form values, the signature) is wiped from memory when
//! dropped. The store seals the whole record before it touches the disk; page images travel
//! beside it as files named in [`MaterialEntry`].
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod number;
pub mod time;

pub use number::{ApplicationNumber, NumberError};

use catalogue::{Delivery, TrustLevel};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The applicant, as read from the ID card. `Debug` shows nothing personal, so that no log line
/// can carry it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Applicant {
    /// Name.
    pub name: String,
    /// ID number (or permit number).
    pub id_number: String,
    /// `男` or `女` as on the card.
    pub sex: String,
    /// Ethnic group, if the card has one.
    pub nation: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// The address on the card.
    pub address: Option<String>,
}

/// One form value. `Debug` shows the field, not the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct FormValue {
    /// The field's id in the catalogue.
    pub field: String,
    /// What was entered or filled in.
    pub value: String,
}

impl Applicant {
    /// The value the card gives for `field`, if the field is filled from the card. A choice
    /// field gets the option whose value or Chinese label is what the card says (`男`, `汉`).
    pub fn card_value(&self, field: &catalogue::Field) -> Option<String> {
        use catalogue::Autofill;
        let said = match field.autofill? {
            Autofill::CardName => self.name.clone(),
            Autofill::CardIdNumber => self.id_number.clone(),
            Autofill::CardBirthDate => self.birth_date.clone(),
            Autofill::CardAddress => self.address.clone()?,
            Autofill::CardSex => self.sex.clone(),
            Autofill::CardNation => self.nation.clone()?,
            Autofill::Earlier => return None,
        };
        match &field.kind {
            catalogue::FieldKind::Choice { options } => options
                .iter()
                .find(|o| o.value == said || o.label.zh == said)
                .map(|o| o.value.clone()),
            _ => Some(said),
        }
    }
}

impl std::fmt::Debug for Applicant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Applicant { .. }")
    }
}

impl std::fmt::Debug for FormValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FormValue {{ field: {:?}, .. }}", self.field)
    }
}

/// One answer to a situation question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The question's id.
    pub question: String,
    /// The option chosen.
    pub value: String,
}

/// One captured page, stored as a file beside the database. Its integrity on the kiosk is the
/// AEAD tag of the sealed file, which is bound to the file name; a content digest for delivery
/// is computed when the page is sent, off the citizen's path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRef {
    /// The file name in the store's page directory.
    pub file: String,
    /// Size of the page image in bytes.
    pub bytes: u64,
}

/// How a material is provided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Provided {
    /// Captured now by the document camera.
    Captured {
        /// The pages, in order.
        pages: Vec<PageRef>,
    },
    /// A copy the applicant gave before, reused with consent.
    Reused {
        /// The stored material's id.
        stored: String,
        /// When it was captured, ms since the epoch.
        captured_at_ms: i64,
        /// Its trust level.
        trust: TrustLevel,
        /// Its pages.
        pages: Vec<PageRef>,
    },
    /// Missing under 容缺, with the applicant's signed promise to supply it.
    Missing {
        /// The date by which it must be supplied, `YYYY-MM-DD`.
        deadline: String,
    },
}

/// A material of the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialEntry {
    /// The material's id in the catalogue.
    pub material: String,
    /// How it is provided.
    pub provided: Provided,
}

/// The applicant's consents, each given separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Consents {
    /// To the processing of the application (required to submit).
    pub processing: bool,
    /// To keeping the captured materials for reuse in later applications.
    pub store_for_reuse: bool,
}

/// The handwritten signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Signature {
    /// The strokes as drawn: each a list of `(x, y)` points on a 1000×400 pad.
    pub strokes: Vec<Vec<(u16, u16)>>,
}

/// Where an application stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Durably saved on the kiosk; a receipt was printed.
    Saved,
    /// Received by the central office.
    Delivered,
    /// Accepted for processing (受理).
    Accepted,
    /// Corrections needed, all of them at once (一次性告知).
    CorrectionsNeeded {
        /// Every correction, in full.
        corrections: Vec<Correction>,
    },
    /// The corrections asked for were supplied at the kiosk (补正已提交); back in review.
    Supplied,
    /// Rejected (不予受理), with the reason.
    Rejected {
        /// Why.
        reason: String,
    },
    /// The result is ready.
    ResultReady {
        /// How it is collected.
        delivery: Delivery,
    },
    /// The result was collected or delivered.
    Collected,
}

/// One thing the reviewer asks to be corrected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    /// The field or material concerned, by catalogue id.
    pub target: String,
    /// What must be done.
    pub note: String,
}

/// One step of the status history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The new status.
    #[serde(flatten)]
    pub status: Status,
    /// When, ms since the epoch.
    pub at_ms: i64,
}

/// An application before it is saved: what the session engine hands to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The catalogue version it was planned with.
    pub catalogue_version: u64,
    /// The bundle chosen, if any.
    pub bundle: Option<String>,
    /// With a bundle, the optional items added; without, the one item chosen.
    pub chosen: Vec<String>,
    /// The applicant.
    pub applicant: Applicant,
    /// Situation answers.
    pub answers: Vec<Answer>,
    /// The merged form's values.
    pub form: Vec<FormValue>,
    /// Materials reused or declared missing (captured ones come with their page images).
    pub materials: Vec<MaterialEntry>,
    /// How the applicant prefers results delivered: each item whose result can go that way
    /// goes that way, the others their own first way.
    pub delivery: Delivery,
    /// Consents.
    pub consents: Consents,
    /// The signature.
    pub signature: Signature,
}

/// A saved application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Its number.
    pub number: ApplicationNumber,
    /// The terminal it was filed on.
    pub terminal: String,
    /// When it was saved, ms since the epoch.
    pub saved_at_ms: i64,
    /// The item codes filed, as the situation answers decided them.
    pub items: Vec<String>,
    /// What was filed.
    #[serde(flatten)]
    pub draft: Draft,
    /// Status history, oldest first.
    pub history: Vec<StatusChange>,
    /// Corrections supplied at the kiosk, first first; each is delivered on its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supplements: Vec<Supplement>,
}

/// Corrections supplied for an application (补正), answering the latest `CorrectionsNeeded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplement {
    /// Its position among the application's supplements, from 1.
    pub n: u32,
    /// When it was saved, ms since the epoch.
    pub saved_at_ms: i64,
    /// The corrections it answers.
    pub corrections: Vec<Correction>,
    /// Corrected form values.
    pub form: Vec<FormValue>,
    /// Materials captured again (always `Captured`).
    pub materials: Vec<MaterialEntry>,
    /// The applicant's signature under the corrections.
    pub signature: Signature,
}

impl Supplement {
    /// Every page file the supplement names.
    pub fn page_files(&self) -> impl Iterator<Item = &PageRef> {
        pages_of(&self.materials)
    }
}

impl Draft {
    /// The catalogue choice this draft was planned from.
    pub fn choice(&self) -> catalogue::Choice {
        match &self.bundle {
            Some(id) => catalogue::Choice::Bundle {
                id: id.clone(),
                optional: self.chosen.clone(),
            },
            None => catalogue::Choice::Item(self.chosen.first().cloned().unwrap_or_default()),
        }
    }

    /// The situation answers as the planner takes them.
    pub fn answers(&self) -> catalogue::Answers {
        self.answers
            .iter()
            .map(|a| (a.question.clone(), a.value.clone()))
            .collect()
    }

    /// The value entered for a field.
    pub fn value(&self, field: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|v| v.field == field)
            .map(|v| v.value.as_str())
    }
}

impl Application {
    /// The current status.
    pub fn status(&self) -> Option<&Status> {
        self.history.last().map(|c| &c.status)
    }

    /// Every page file the application names (as filed; supplements name their own).
    pub fn page_files(&self) -> impl Iterator<Item = &PageRef> {
        pages_of(&self.draft.materials)
    }

    /// The supplement numbered `n`.
    pub fn supplement(&self, n: u32) -> Option<&Supplement> {
        self.supplements.iter().find(|s| s.n == n)
    }
}

fn pages_of(materials: &[MaterialEntry]) -> impl Iterator<Item = &PageRef> {
    materials.iter().flat_map(|m| match &m.provided {
        Provided::Captured { pages } | Provided::Reused { pages, .. } => pages.as_slice(),
        Provided::Missing { .. } => &[],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_carries_nothing_personal() {
        let who = Applicant {
            name: "𠮷英".into(),
            id_number: "11010519491231002X".into(),
            sex: "女".into(),
            nation: Some("汉".into()),
            birth_date: "1949-12-31".into(),
            address: Some("北京市朝阳区建国路1号".into()),
        };
        let value = FormValue {
            field: "applicant.phone".into(),
            value: "13800138000".into(),
        };
        let printed = format!("{who:?} {value:?}");
        for secret in [
            "𠮷英",
            "11010519491231002X",
            "1949",
            "建国路",
            "13800138000",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("applicant.phone"));
    }
}
