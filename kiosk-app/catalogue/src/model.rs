//! The catalogue as the central office publishes it: departments, service items, materials, form
//! fields, situation questions, bundles (一件事) and which terminals may offer what.
//!
//! Everything is referenced by id so that a bundle's items share one field or one material: the
//! form asks a shared field once and the list names a shared material once. The JSON form is the
//! serde form of these types, with unknown keys refused so that a typo is an error, not a silently
//! missing rule.

use serde::{Deserialize, Serialize};

/// The catalogue format this build reads; a catalogue of another format is refused.
pub const FORMAT: u32 = 1;

/// The longest time limit or 容缺 deadline a catalogue may set, in working days (about a year).
pub const MAX_DAYS: u32 = 260;

/// A text in the kiosk's two languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Simplified Chinese (zh-CN).
    pub zh: String,
    /// English.
    pub en: String,
}

/// The whole published catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The format, [`FORMAT`].
    pub format: u32,
    /// Increases with each publication; a kiosk never installs an older one.
    pub version: u64,
    /// Publication date, `YYYY-MM-DD`.
    pub published: String,
    /// Who publishes it.
    pub publisher: Text,
    /// The departments whose items are offered.
    pub departments: Vec<Department>,
    /// Form fields, shared by every item that asks them.
    pub fields: Vec<Field>,
    /// Materials, shared by every item that needs them.
    pub materials: Vec<Material>,
    /// Situation questions (情形引导).
    pub questions: Vec<Question>,
    /// Service items.
    pub items: Vec<Item>,
    /// Life-event bundles (一件事一次办).
    pub bundles: Vec<Bundle>,
    /// Which terminals may offer which items.
    pub authorisations: Vec<Authorisation>,
}

/// A department that handles items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// Short stable id, e.g. `police`.
    pub id: String,
    /// Its name.
    pub name: Text,
}

/// Who an item is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A citizen (自然人).
    Natural,
    /// A company or organisation (法人).
    Legal,
}

/// The life stage an item belongs to, for browsing by life event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifeStage {
    /// 出生
    Birth,
    /// 教育
    Education,
    /// 就业
    Employment,
    /// 婚育
    Family,
    /// 居住
    Housing,
    /// 出行
    Travel,
    /// 医疗与社保
    HealthAndInsurance,
    /// 证件
    Identity,
    /// 养老与退休
    Retirement,
    /// 救助与帮扶
    Assistance,
    /// 身后事
    Death,
    /// 企业开办 (legal persons)
    Starting,
    /// 企业经营 (legal persons)
    Operating,
    /// 企业注销 (legal persons)
    Closing,
}

/// How the result of an item reaches the applicant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Printed on the kiosk's A4 printer.
    KioskPrint,
    /// A card or certificate from the kiosk's dispenser.
    Dispenser,
    /// Collected at the service hall.
    HallPickup,
    /// Mailed (物流交付).
    Mail,
}

/// A service item (政务服务事项).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// The national item code (GB/T 39554.1); unique.
    pub code: String,
    /// Its name.
    pub name: Text,
    /// The department that handles it.
    pub department: String,
    /// Who may apply.
    pub subjects: Vec<Subject>,
    /// For browsing by life event.
    pub life_stage: LifeStage,
    /// The promised time limit in working days; 0 means done on the spot (即办).
    pub time_limit_days: u32,
    /// The fee in fen (分); 0 is free.
    #[serde(default)]
    pub fee_fen: u64,
    /// How the result may be delivered; the applicant picks one.
    pub delivery: Vec<Delivery>,
    /// The form fields it asks, by id.
    pub fields: Vec<String>,
    /// The materials it needs.
    pub materials: Vec<MaterialUse>,
    /// Situation questions that shape it, by id.
    #[serde(default)]
    pub questions: Vec<String>,
}

/// A material an item asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialUse {
    /// The material's id.
    pub material: String,
    /// Whether the application needs it (otherwise it is welcome but not needed).
    pub required: bool,
}

/// Trust level of a material (材料可信级别, 国办函〔2016〕108号).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TrustLevel {
    /// Issued electronically by the authority and verifiable (电子证照): used as it is.
    A,
    /// A copy checked against the issuing authority's data.
    B,
    /// A scan confirmed by a clerk at acceptance.
    C,
    /// The applicant's own declaration or an unchecked scan.
    D,
}

/// Colour handling of a captured material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    /// Kept in colour (photos, ID copies, seals).
    Colour,
    /// Grey (text pages).
    Grey,
}

/// How a material is captured by the document camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// Colour or grey.
    pub colour: Colour,
    /// The most pages it can have.
    pub max_pages: u32,
}

/// 容缺受理: the material may be missing at submission if supplied within the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rongque {
    /// Working days to supply it; never longer than the item's time limit.
    pub deadline_days: u32,
}

/// A material (申请材料).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    /// Short stable id.
    pub id: String,
    /// Its name.
    pub name: Text,
    /// Whether it may be kept and offered again to the same applicant (材料复用).
    pub reusable: bool,
    /// Its trust level.
    pub trust: TrustLevel,
    /// How long a stored copy stays valid, in days; `None` is without limit.
    #[serde(default)]
    pub validity_days: Option<u32>,
    /// Set when it may be missing at submission.
    #[serde(default)]
    pub rongque: Option<Rongque>,
    /// How it is captured.
    pub capture: Capture,
}

/// Where a field's value can come from before the applicant types anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Autofill {
    /// The name on the ID card.
    CardName,
    /// The sex on the ID card.
    CardSex,
    /// The ethnic group on the ID card.
    CardNation,
    /// The birth date on the ID card.
    CardBirthDate,
    /// The address on the ID card.
    CardAddress,
    /// The ID number on the card.
    CardIdNumber,
    /// The value the applicant gave in an earlier application.
    Earlier,
}

/// The type of a field and the checks its value must pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldKind {
    /// Free text of at most `max_len` characters.
    Text {
        /// Longest allowed, in characters.
        max_len: u32,
    },
    /// A resident ID number (GB 11643, with its check digit).
    IdNumber,
    /// A mainland mobile number.
    Phone,
    /// A date, `YYYY-MM-DD`.
    Date,
    /// A whole number.
    Number {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// One of the options.
    Choice {
        /// The options.
        options: Vec<ChoiceOption>,
    },
    /// A postal address.
    Address,
    /// A unified social credit code (GB 32100, with its check character).
    CreditCode,
    /// A six-digit postcode.
    Postcode,
    /// A bank account number (Luhn).
    BankAccount,
}

/// One option of a choice field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    /// The stored value.
    pub value: String,
    /// What is shown.
    pub label: Text,
}

/// A form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Stable id, e.g. `applicant.phone`; shared by every item that asks it.
    pub id: String,
    /// Its label.
    pub label: Text,
    /// Its type, e.g. `{"type": "text", "max_len": 40}`.
    pub kind: FieldKind,
    /// Whether it must be filled.
    pub required: bool,
    /// Where its value comes from before anything is typed.
    #[serde(default)]
    pub autofill: Option<Autofill>,
}

/// A situation question (情形引导).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Stable id.
    pub id: String,
    /// The question.
    pub text: Text,
    /// Asked only when an earlier question got this answer (递进式问卷).
    #[serde(default)]
    pub when: Option<Condition>,
    /// The possible answers and what each changes.
    pub options: Vec<AnswerOption>,
}

/// Asks a question only after an earlier answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The earlier question.
    pub question: String,
    /// The answer it must have had.
    pub equals: String,
}

/// One answer to a situation question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerOption {
    /// The stored value.
    pub value: String,
    /// What is shown.
    pub label: Text,
    /// What choosing it changes.
    #[serde(default)]
    pub effects: Vec<Effect>,
}

/// What an answer changes in the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Effect {
    /// Adds an item.
    AddItem(String),
    /// Removes an item.
    RemoveItem(String),
    /// Adds a material (required or not).
    AddMaterial(MaterialUse),
    /// Removes a material.
    RemoveMaterial(String),
    /// Adds a field.
    AddField(String),
}

/// A life-event bundle (一件事一次办): items filed together with one form and one material list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Stable id.
    pub id: String,
    /// Its name.
    pub name: Text,
    /// A sentence on what it covers.
    pub summary: Text,
    /// Who it is for.
    pub subjects: Vec<Subject>,
    /// For browsing by life event.
    pub life_stage: LifeStage,
    /// Items always filed.
    pub mandatory: Vec<String>,
    /// Items the applicant may add.
    #[serde(default)]
    pub optional: Vec<String>,
    /// Questions asked first, before those of the items.
    #[serde(default)]
    pub questions: Vec<String>,
}

/// Terminals and what they may offer; `*` stands for all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorisation {
    /// Terminal ids, or `*`.
    pub terminals: Vec<String>,
    /// Every item of these departments (or `*`).
    #[serde(default)]
    pub departments: Vec<String>,
    /// These items.
    #[serde(default)]
    pub items: Vec<String>,
}

impl Catalogue {
    /// The item with this code.
    pub fn item(&self, code: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.code == code)
    }

    /// The bundle with this id.
    pub fn bundle(&self, id: &str) -> Option<&Bundle> {
        self.bundles.iter().find(|b| b.id == id)
    }

    /// The field with this id.
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// The material with this id.
    pub fn material(&self, id: &str) -> Option<&Material> {
        self.materials.iter().find(|m| m.id == id)
    }

    /// The question with this id.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// The department with this id.
    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }

    /// Whether `terminal` may offer the item `code`.
    pub fn authorised(&self, terminal: &str, code: &str) -> bool {
        let Some(item) = self.item(code) else {
            return false;
        };
        self.authorisations.iter().any(|a| {
            a.terminals.iter().any(|t| t == "*" || t == terminal)
                && (a.items.iter().any(|i| i == "*" || *i == item.code)
                    || a.departments
                        .iter()
                        .any(|d| d == "*" || *d == item.department))
        })
    }

    /// The items `terminal` may offer, in catalogue order.
    pub fn items_for(&self, terminal: &str) -> impl Iterator<Item = &Item> {
        self.items
            .iter()
            .filter(move |i| self.authorised(terminal, &i.code))
    }

    /// The bundles `terminal` may offer: those whose mandatory items it may all offer.
    pub fn bundles_for(&self, terminal: &str) -> impl Iterator<Item = &Bundle> {
        self.bundles
            .iter()
            .filter(move |b| b.mandatory.iter().all(|c| self.authorised(terminal, c)))
    }
}
