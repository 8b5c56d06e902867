//! A citizen's card as the kiosk uses it, and as `kioskctl idcard read` prints it.
//!
//! The same JSON describes the cards the simulator serves, so a card read from the simulator is the
//! card that was put in it. Fields the kiosk derives (`nation`, `id_number_valid`) are ignored on
//! input and computed when the text block is parsed.

mod codes;
mod layout;

pub use codes::{id_number_check_ok, nation_name};
pub use layout::{CardDataError, encode_text, parse_text};
pub(crate) use layout::{decode_ucs2_trimmed, encode_ucs2};

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

/// The four layouts of the 256-byte text block, told apart by the marker at offset 248.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CardType {
    /// 居民身份证 (marker: space).
    #[serde(rename = "resident")]
    Resident,
    /// 港澳台居民居住证 (marker `J`).
    #[serde(rename = "hmt_residence_permit")]
    HmtResidencePermit,
    /// 外国人永久居留身份证, 2017 version (marker `I`).
    #[serde(rename = "foreign_permanent_2017")]
    ForeignPermanent2017,
    /// 外国人永久居留身份证, 2023 version (marker `Y`).
    #[serde(rename = "foreign_permanent_2023")]
    ForeignPermanent2023,
}

/// Sex by GB/T 2261.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// 0 未知的性别.
    Unknown,
    /// 1 男.
    Male,
    /// 2 女.
    Female,
    /// 9 未说明的性别.
    Unspecified,
}

impl Sex {
    /// The code character on the card.
    pub fn code(self) -> char {
        match self {
            Sex::Unknown => '0',
            Sex::Male => '1',
            Sex::Female => '2',
            Sex::Unspecified => '9',
        }
    }

    /// The sex with this code character.
    pub fn from_code(c: &str) -> Option<Self> {
        Some(match c {
            "0" => Sex::Unknown,
            "1" => Sex::Male,
            "2" => Sex::Female,
            "9" => Sex::Unspecified,
            _ => return None,
        })
    }
}

/// A calendar date, checked for its month's length (leap years included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month.
    pub day: u8,
}

impl Date {
    /// The date, if it exists.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let leap =
            year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (year >= 1 && (1..=days).contains(&day)).then_some(Date { year, month, day })
    }

    /// Parses the card's `YYYYMMDD`.
    pub fn from_compact(s: &str) -> Option<Self> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Date::new(
            s[..4].parse().ok()?,
            s[4..6].parse().ok()?,
            s[6..].parse().ok()?,
        )
    }

    /// The card's `YYYYMMDD`.
    pub fn to_compact(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn from_iso(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Date::from_compact(&[&s[..4], &s[5..7], &s[8..]].concat())
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::from_iso(&s).ok_or_else(|| serde::de::Error::custom("expected a date as YYYY-MM-DD"))
    }
}

/// The end of a card's validity: a date, or 长期 (long-term, no end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValidTo {
    /// Valid until this date.
    Date(Date),
    /// 长期.
    LongTerm,
}

impl Serialize for ValidTo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ValidTo::Date(d) => d.serialize(s),
            ValidTo::LongTerm => s.serialize_str("long_term"),
        }
    }
}

impl<'de> Deserialize<'de> for ValidTo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "long_term" {
            return Ok(ValidTo::LongTerm);
        }
        Date::from_iso(&s)
            .map(ValidTo::Date)
            .ok_or_else(|| serde::de::Error::custom("expected YYYY-MM-DD or long_term"))
    }
}

/// A card's contents. Every field the layout does not have is `None`. Wiped from memory on drop;
/// its `Debug` form shows no personal data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdCard {
    /// Which layout the card has.
    pub card_type: CardType,
    /// Name in Chinese characters (may be empty on a foreign card).
    pub name: String,
    /// Name in Latin letters (foreign cards).
    #[serde(default)]
    pub name_en: Option<String>,
    /// Sex.
    pub sex: Sex,
    /// Two-digit nation code (resident cards).
    #[serde(default)]
    pub nation_code: Option<String>,
    /// The nation's name, derived from the code.
    #[serde(default)]
    pub nation: Option<String>,
    /// Three-letter nationality code (foreign cards).
    #[serde(default)]
    pub nationality: Option<String>,
    /// Date of birth.
    pub birth_date: Date,
    /// Address on the card (resident cards and permits).
    #[serde(default)]
    pub address: Option<String>,
    /// The ID number (permanent residence number on foreign cards).
    pub id_number: String,
    /// Whether the ID number passes its check (derived).
    #[serde(default)]
    pub id_number_valid: bool,
    /// Issuing authority (resident cards and permits).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Start of validity.
    pub valid_from: Date,
    /// End of validity.
    pub valid_to: ValidTo,
    /// Mainland travel permit number (HK/Macau/Taiwan residence permits).
    #[serde(default)]
    pub pass_number: Option<String>,
    /// How many times the permit was issued (HK/Macau/Taiwan residence permits).
    #[serde(default)]
    pub issue_count: Option<u32>,
    /// How many times the card was renewed (foreign card 2023).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_count: Option<u32>,
    /// Card version (foreign card 2017).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_version: Option<String>,
    /// Issuing authority code (foreign card 2017).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_code: Option<String>,
    /// Link to the previous card's number (foreign card 2023).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_number_link: Option<String>,
    /// The 1024-byte WLT photo, undecoded (see [`crate::PhotoDecoder`]).
    #[serde(rename = "photo_wlt_base64", with = "base64_bytes")]
    pub photo_wlt: Vec<u8>,
    /// Fingerprint templates, when read with fingerprints (0, 512 or 1024 bytes).
    #[serde(
        rename = "fingerprint_base64",
        default,
        skip_serializing_if = "Option::is_none",
        with = "base64_opt"
    )]
    pub fingerprint: Option<Vec<u8>>,
    /// The newest address appended by the police station, when read and present (最新住址).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_address: Option<String>,
}

impl std::fmt::Debug for IdCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdCard")
            .field("card_type", &self.card_type)
            .field("id_number_valid", &self.id_number_valid)
            .finish_non_exhaustive()
    }
}

impl Drop for IdCard {
    fn drop(&mut self) {
        self.name.zeroize();
        self.name_en.zeroize();
        self.sex = Sex::Unknown;
        self.nation_code.zeroize();
        self.nation.zeroize();
        self.nationality.zeroize();
        self.birth_date = Date::default();
        self.address.zeroize();
        self.id_number.zeroize();
        self.issuer.zeroize();
        self.valid_from = Date::default();
        self.valid_to = ValidTo::LongTerm;
        self.pass_number.zeroize();
        self.issue_count.zeroize();
        self.renewal_count.zeroize();
        self.card_version.zeroize();
        self.authority_code.zeroize();
        self.previous_number_link.zeroize();
        self.photo_wlt.zeroize();
        self.fingerprint.zeroize();
        self.newest_address.zeroize();
    }
}

mod base64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

mod base64_opt {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => base64_bytes::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        base64_bytes::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked_for_their_month() {
        assert!(
            Date::from_compact("20000229").is_some(),
            "2000 is a leap year"
        );
        assert!(Date::from_compact("19000229").is_none(), "1900 is not");
        assert!(Date::from_compact("20240229").is_some());
        assert!(Date::from_compact("20230229").is_none());
        assert!(Date::from_compact("20230431").is_none());
        assert!(Date::from_compact("20231301").is_none());
        assert!(Date::from_compact("20230100").is_none());
        assert!(Date::from_compact("2023010").is_none());
        assert!(Date::from_compact("2023-1-1").is_none());
        assert!(Date::from_compact("００００0101").is_none());
        let d = Date::from_iso("1949-12-31").unwrap();
        assert_eq!(
            (d.to_compact(), d.to_string()),
            ("19491231".into(), "1949-12-31".into())
        );
        assert!(Date::from_iso("1949/12/31").is_none());
    }

    #[test]
    fn valid_to_serialises_as_a_date_or_long_term() {
        let long: ValidTo = serde_json::from_str("\"long_term\"").unwrap();
        assert_eq!(long, ValidTo::LongTerm);
        let date: ValidTo = serde_json::from_str("\"2030-01-02\"").unwrap();
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2030-01-02\"");
        assert!(serde_json::from_str::<ValidTo>("\"forever\"").is_err());
    }
}
