//! The 256-byte text block (devices.md §1.5): UCS-2 little-endian, space padded, four layouts
//! told apart by the marker at offset 248.

use super::codes::{foreign_2017_number_ok, id_number_check_ok, nation_name};
use super::{CardType, Date, IdCard, Sex, ValidTo};
use crate::command::TEXT_LEN;
use std::ops::Range;
use thiserror::Error;
use zeroize::Zeroize;

/// Text that cannot be a card's, or a card that cannot be written as text. Messages name the
/// field, never its value (it is a citizen's data).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CardDataError {
    /// The marker at offset 248 is not one of the four layouts.
    #[error("unknown card type marker {0:#06x}")]
    UnknownCardType(u16),
    /// A text field holds an unpaired UTF-16 surrogate.
    #[error("field {0}: not valid UCS-2 text")]
    BadText(&'static str),
    /// A date field is not a real `YYYYMMDD` date.
    #[error("field {0}: not a valid date")]
    BadDate(&'static str),
    /// A numeric or coded field holds something else.
    #[error("field {0}: not a valid code")]
    BadCode(&'static str),
    /// A value is longer than its field on the card.
    #[error("field {field}: longer than the {max} characters the card holds")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its capacity in UTF-16 units.
        max: usize,
    },
    /// A block of the card has the wrong size.
    #[error("field {field}: must be {expected}")]
    WrongSize {
        /// The field.
        field: &'static str,
        /// The sizes it can have.
        expected: &'static str,
    },
    /// A field this layout requires is missing.
    #[error("field {0} is required for this card type")]
    Missing(&'static str),
}

const MARKER: Range<usize> = 248..250;
// Shared by resident cards and HMT permits.
const NAME: Range<usize> = 0..30;
const SEX: Range<usize> = 30..32;
const NATION: Range<usize> = 32..36;
const BIRTH: Range<usize> = 36..52;
const ADDRESS: Range<usize> = 52..122;
const ID_NUMBER: Range<usize> = 122..158;
const ISSUER: Range<usize> = 158..188;
const VALID_FROM: Range<usize> = 188..204;
const VALID_TO: Range<usize> = 204..220;
// HMT permit.
const PASS_NUMBER: Range<usize> = 220..238;
const ISSUE_COUNT: Range<usize> = 238..242;
// Foreign 2017 ('I').
const I_NAME_EN: Range<usize> = 0..120;
const I_SEX: Range<usize> = 120..122;
const I_NUMBER: Range<usize> = 122..152;
const I_NATIONALITY: Range<usize> = 152..158;
const I_NAME: Range<usize> = 158..188;
const I_BIRTH: Range<usize> = 220..236;
const I_VERSION: Range<usize> = 236..240;
const I_AUTHORITY: Range<usize> = 240..248;
// Foreign 2023 ('Y'): the English name is split in two places.
const Y_RENEWALS: Range<usize> = 32..36;
const Y_NAME_EN_1: Range<usize> = 52..122;
const Y_NAME_EN_2: Range<usize> = 220..242;
const Y_NATIONALITY: Range<usize> = 242..248;
const Y_PREVIOUS: Range<usize> = 250..256;

/// 长期 as the end of validity.
const LONG_TERM: &str = "长期";

/// Reads the text block. The photo and fingerprint are the caller's to add.
pub fn parse_text(text: &[u8; TEXT_LEN]) -> Result<IdCard, CardDataError> {
    let r = Reader(text);
    let marker = u16::from_le_bytes([text[MARKER.start], text[MARKER.start + 1]]);
    let card_type = match marker {
        0x0020 | 0x0000 => CardType::Resident,
        0x004A => CardType::HmtResidencePermit,
        0x0049 => CardType::ForeignPermanent2017,
        0x0059 => CardType::ForeignPermanent2023,
        other => return Err(CardDataError::UnknownCardType(other)),
    };
    let mut card = IdCard {
        card_type,
        name: String::new(),
        name_en: None,
        sex: Sex::Unknown,
        nation_code: None,
        nation: None,
        nationality: None,
        birth_date: Date::default(),
        address: None,
        id_number: String::new(),
        id_number_valid: false,
        issuer: None,
        valid_from: r.date(VALID_FROM, "valid_from")?,
        valid_to: r.valid_to()?,
        pass_number: None,
        issue_count: None,
        renewal_count: None,
        card_version: None,
        authority_code: None,
        previous_number_link: None,
        photo_wlt: Vec::new(),
        fingerprint: None,
        newest_address: None,
    };
    match card_type {
        CardType::Resident | CardType::HmtResidencePermit => {
            card.name = r.text(NAME, "name")?;
            card.sex = r.sex(SEX)?;
            card.birth_date = r.date(BIRTH, "birth_date")?;
            card.address = Some(r.text(ADDRESS, "address")?);
            card.id_number = r.text(ID_NUMBER, "id_number")?;
            card.issuer = Some(r.text(ISSUER, "issuer")?);
            if card_type == CardType::Resident {
                let code = r.text(NATION, "nation_code")?;
                let name = nation_name(&code).ok_or(CardDataError::BadCode("nation_code"))?;
                card.nation = Some(name.to_owned());
                card.nation_code = Some(code);
            } else {
                card.pass_number = Some(r.text(PASS_NUMBER, "pass_number")?);
                card.issue_count = Some(r.number(ISSUE_COUNT, "issue_count")?);
            }
            card.id_number_valid = id_number_check_ok(&card.id_number);
        }
        CardType::ForeignPermanent2017 => {
            card.name_en = Some(r.text(I_NAME_EN, "name_en")?);
            card.sex = r.sex(I_SEX)?;
            card.id_number = r.text(I_NUMBER, "id_number")?;
            let nationality = r.text(I_NATIONALITY, "nationality")?;
            card.name = r.text(I_NAME, "name")?;
            card.birth_date = r.date(I_BIRTH, "birth_date")?;
            card.card_version = non_empty(r.text(I_VERSION, "card_version")?);
            card.authority_code = non_empty(r.text(I_AUTHORITY, "authority_code")?);
            card.id_number_valid = foreign_2017_number_ok(&card.id_number, &nationality);
            card.nationality = Some(nationality);
        }
        CardType::ForeignPermanent2023 => {
            card.name = r.text(NAME, "name")?;
            card.sex = r.sex(SEX)?;
            card.renewal_count = Some(r.number(Y_RENEWALS, "renewal_count")?);
            card.birth_date = r.date(BIRTH, "birth_date")?;
            // The second part continues the first, which is full whenever the second is used.
            let mut en = r.raw(Y_NAME_EN_1, "name_en")?;
            en.push_str(&r.raw(Y_NAME_EN_2, "name_en")?);
            card.name_en = Some(trim(&en).to_owned());
            en.zeroize();
            card.id_number = r.text(ID_NUMBER, "id_number")?;
            card.nationality = Some(r.text(Y_NATIONALITY, "nationality")?);
            card.previous_number_link = non_empty(r.text(Y_PREVIOUS, "previous_number_link")?);
            card.id_number_valid = id_number_check_ok(&card.id_number);
        }
    }
    Ok(card)
}

/// Writes a card's text block (the simulator's side). Derived fields are ignored.
pub fn encode_text(card: &IdCard) -> Result<[u8; TEXT_LEN], CardDataError> {
    let mut w = Writer([0u8; TEXT_LEN]);
    w.put(0..TEXT_LEN, "", "")?;
    w.put(VALID_FROM, "valid_from", &card.valid_from.to_compact())?;
    let valid_to = match card.valid_to {
        ValidTo::Date(d) => d.to_compact(),
        ValidTo::LongTerm => LONG_TERM.to_owned(),
    };
    w.put(VALID_TO, "valid_to", &valid_to)?;
    let sex = card.sex.code().to_string();
    let birth = card.birth_date.to_compact();
    let req = |v: &Option<String>, field| v.clone().ok_or(CardDataError::Missing(field));
    match card.card_type {
        CardType::Resident | CardType::HmtResidencePermit => {
            w.put(NAME, "name", &card.name)?;
            w.put(SEX, "sex", &sex)?;
            w.put(BIRTH, "birth_date", &birth)?;
            w.put(ADDRESS, "address", card.address.as_deref().unwrap_or(""))?;
            w.put(ID_NUMBER, "id_number", &card.id_number)?;
            w.put(ISSUER, "issuer", card.issuer.as_deref().unwrap_or(""))?;
            if card.card_type == CardType::Resident {
                w.put(
                    NATION,
                    "nation_code",
                    &req(&card.nation_code, "nation_code")?,
                )?;
            } else {
                w.put(
                    PASS_NUMBER,
                    "pass_number",
                    &req(&card.pass_number, "pass_number")?,
                )?;
                let count = card
                    .issue_count
                    .ok_or(CardDataError::Missing("issue_count"))?;
                w.put(ISSUE_COUNT, "issue_count", &format!("{count:02}"))?;
                w.put(MARKER, "card_type", "J")?;
            }
        }
        CardType::ForeignPermanent2017 => {
            w.put(I_NAME_EN, "name_en", card.name_en.as_deref().unwrap_or(""))?;
            w.put(I_SEX, "sex", &sex)?;
            w.put(I_NUMBER, "id_number", &card.id_number)?;
            w.put(
                I_NATIONALITY,
                "nationality",
                &req(&card.nationality, "nationality")?,
            )?;
            w.put(I_NAME, "name", &card.name)?;
            w.put(I_BIRTH, "birth_date", &birth)?;
            w.put(
                I_VERSION,
                "card_version",
                card.card_version.as_deref().unwrap_or(""),
            )?;
            w.put(
                I_AUTHORITY,
                "authority_code",
                card.authority_code.as_deref().unwrap_or(""),
            )?;
            w.put(MARKER, "card_type", "I")?;
        }
        CardType::ForeignPermanent2023 => {
            w.put(NAME, "name", &card.name)?;
            w.put(SEX, "sex", &sex)?;
            let renewals = card.renewal_count.unwrap_or(0);
            w.put(Y_RENEWALS, "renewal_count", &format!("{renewals:02}"))?;
            w.put(BIRTH, "birth_date", &birth)?;
            let en: Vec<u16> = card
                .name_en
                .as_deref()
                .unwrap_or("")
                .encode_utf16()
                .collect();
            let split = en.len().min(Y_NAME_EN_1.len() / 2);
            let part = |units: &[u16]| {
                String::from_utf16(units).map_err(|_| CardDataError::BadText("name_en"))
            };
            w.put(Y_NAME_EN_1, "name_en", &part(&en[..split])?)?;
            w.put(Y_NAME_EN_2, "name_en", &part(&en[split..])?)?;
            w.put(ID_NUMBER, "id_number", &card.id_number)?;
            w.put(
                Y_NATIONALITY,
                "nationality",
                &req(&card.nationality, "nationality")?,
            )?;
            w.put(MARKER, "card_type", "Y")?;
            w.put(
                Y_PREVIOUS,
                "previous_number_link",
                card.previous_number_link.as_deref().unwrap_or(""),
            )?;
        }
    }
    Ok(w.0)
}

struct Reader<'a>(&'a [u8; TEXT_LEN]);

impl Reader<'_> {
    /// The field as text, padding included.
    fn raw(&self, range: Range<usize>, field: &'static str) -> Result<String, CardDataError> {
        decode_ucs2(&self.0[range], field)
    }

    /// The field as text without its padding.
    fn text(&self, range: Range<usize>, field: &'static str) -> Result<String, CardDataError> {
        decode_ucs2_trimmed(&self.0[range], field)
    }

    fn date(&self, range: Range<usize>, field: &'static str) -> Result<Date, CardDataError> {
        Date::from_compact(&self.text(range, field)?).ok_or(CardDataError::BadDate(field))
    }

    fn valid_to(&self) -> Result<ValidTo, CardDataError> {
        let text = self.text(VALID_TO, "valid_to")?;
        if text == LONG_TERM {
            return Ok(ValidTo::LongTerm);
        }
        Date::from_compact(&text)
            .map(ValidTo::Date)
            .ok_or(CardDataError::BadDate("valid_to"))
    }

    fn sex(&self, range: Range<usize>) -> Result<Sex, CardDataError> {
        Sex::from_code(&self.text(range, "sex")?).ok_or(CardDataError::BadCode("sex"))
    }

    fn number(&self, range: Range<usize>, field: &'static str) -> Result<u32, CardDataError> {
        let text = self.text(range, field)?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardDataError::BadCode(field));
        }
        text.parse().map_err(|_| CardDataError::BadCode(field))
    }
}

/// Layout-specific extras that a card may leave blank are absent rather than empty.
fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Cards pad with spaces; some readers leave NULs.
fn trim(s: &str) -> &str {
    s.trim_end_matches([' ', '\0'])
}

/// UCS-2 (UTF-16) little-endian text, padding included.
fn decode_ucs2(bytes: &[u8], field: &'static str) -> Result<String, CardDataError> {
    // Allocated once at its largest (3 UTF-8 bytes a UTF-16 unit), so that growing it leaves no
    // stray copies of the text on the heap.
    let mut text = String::with_capacity(bytes.len() / 2 * 3);
    let units = bytes
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]));
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => text.push(c),
            Err(_) => {
                text.zeroize();
                return Err(CardDataError::BadText(field));
            }
        }
    }
    Ok(text)
}

/// A UCS-2 field of the card without its padding.
pub(crate) fn decode_ucs2_trimmed(
    bytes: &[u8],
    field: &'static str,
) -> Result<String, CardDataError> {
    let mut raw = decode_ucs2(bytes, field)?;
    let text = trim(&raw).to_owned();
    raw.zeroize();
    Ok(text)
}

/// Writes `value` as space-padded UCS-2 into `slot`.
pub(crate) fn encode_ucs2(
    slot: &mut [u8],
    field: &'static str,
    value: &str,
) -> Result<(), CardDataError> {
    let max = slot.len() / 2;
    let units: Vec<u16> = value.encode_utf16().collect();
    if units.len() > max {
        return Err(CardDataError::TooLong { field, max });
    }
    let padded = units.into_iter().chain(std::iter::repeat(0x0020)).take(max);
    for (pair, unit) in slot.chunks_exact_mut(2).zip(padded) {
        pair.copy_from_slice(&unit.to_le_bytes());
    }
    Ok(())
}

struct Writer([u8; TEXT_LEN]);

impl Writer {
    /// Writes `value` space-padded into `range`.
    fn put(
        &mut self,
        range: Range<usize>,
        field: &'static str,
        value: &str,
    ) -> Result<(), CardDataError> {
        encode_ucs2(&mut self.0[range], field, value)
    }
}
