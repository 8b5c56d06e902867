//! Checks of one field's value, run on the spot as the applicant fills the form, and again when
//! the application is saved.

use crate::model::{Field, FieldKind};
use idcard::Date;
use idcard::card::id_number_check_ok;

/// Why a value is not accepted, in terms the screen can turn into a plain sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A required field is empty.
    #[error("this field is required")]
    Missing,
    /// Longer than allowed.
    #[error("at most {0} characters")]
    TooLong(u32),
    /// An ID number whose form or check digit is wrong.
    #[error("not a valid ID number")]
    IdNumber,
    /// Not a mainland mobile number.
    #[error("not a valid mobile number")]
    Phone,
    /// Not a calendar date.
    #[error("not a valid date (YYYY-MM-DD)")]
    Date,
    /// Not a whole number in range.
    #[error("a whole number from {min} to {max}")]
    Number {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// Not one of the options.
    #[error("not one of the options")]
    Choice,
    /// Not a unified social credit code.
    #[error("not a valid unified social credit code")]
    CreditCode,
    /// Not a six-digit postcode.
    #[error("not a valid postcode")]
    Postcode,
    /// Not a bank account number.
    #[error("not a valid bank account number")]
    BankAccount,
}

/// The longest address the forms accept, in characters.
const ADDRESS_MAX: usize = 100;

impl Field {
    /// Checks `value` (already trimmed by the caller or not: surrounding spaces are ignored).
    pub fn check(&self, value: &str) -> Result<(), FieldError> {
        let value = value.trim();
        if value.is_empty() {
            return if self.required {
                Err(FieldError::Missing)
            } else {
                Ok(())
            };
        }
        let ok = match &self.kind {
            FieldKind::Text { max_len } => {
                return if value.chars().count() <= *max_len as usize {
                    Ok(())
                } else {
                    Err(FieldError::TooLong(*max_len))
                };
            }
            FieldKind::Address => {
                return if value.chars().count() <= ADDRESS_MAX {
                    Ok(())
                } else {
                    Err(FieldError::TooLong(ADDRESS_MAX as u32))
                };
            }
            FieldKind::IdNumber => id_number_check_ok(value),
            FieldKind::Phone => {
                let b = value.as_bytes();
                b.len() == 11
                    && b[0] == b'1'
                    && (b'3'..=b'9').contains(&b[1])
                    && b.iter().all(u8::is_ascii_digit)
            }
            FieldKind::Date => Date::from_iso(value).is_some(),
            FieldKind::Number { min, max } => {
                return match value.parse::<i64>() {
                    Ok(n) if (*min..=*max).contains(&n) => Ok(()),
                    _ => Err(FieldError::Number {
                        min: *min,
                        max: *max,
                    }),
                };
            }
            FieldKind::Choice { options } => options.iter().any(|o| o.value == value),
            FieldKind::CreditCode => credit_code_ok(value),
            FieldKind::Postcode => value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()),
            FieldKind::BankAccount => luhn_ok(value),
        };
        if ok {
            Ok(())
        } else {
            Err(match self.kind {
                FieldKind::IdNumber => FieldError::IdNumber,
                FieldKind::Phone => FieldError::Phone,
                FieldKind::Date => FieldError::Date,
                FieldKind::Choice { .. } => FieldError::Choice,
                FieldKind::CreditCode => FieldError::CreditCode,
                FieldKind::Postcode => FieldError::Postcode,
                _ => FieldError::BankAccount,
            })
        }
    }
}

/// GB 32100-2015: 18 characters of `0-9A-Z` without I, O, S, V, Z, the last a MOD 31 check.
pub fn credit_code_ok(code: &str) -> bool {
    const CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let values: Option<Vec<u32>> = code
        .bytes()
        .map(|b| CHARS.iter().position(|c| *c == b).map(|p| p as u32))
        .collect();
    let Some(values) = values.filter(|v| v.len() == 18) else {
        return false;
    };
    let sum: u32 = values[..17].iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    (31 - sum % 31) % 31 == values[17]
}

/// A bank card or account number: 12 to 19 digits with a Luhn check digit.
pub fn luhn_ok(number: &str) -> bool {
    let b = number.as_bytes();
    if !(12..=19).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Text;

    fn field(kind: FieldKind, required: bool) -> Field {
        Field {
            id: "f".into(),
            label: Text {
                zh: "字段".into(),
                en: "Field".into(),
            },
            kind,
            required,
            autofill: None,
        }
    }

    #[test]
    fn each_kind_accepts_a_good_value_and_names_what_is_wrong_with_a_bad_one() {
        let cases = [
            (
                FieldKind::IdNumber,
                "11010519491231002X",
                "110105194912310021",
                FieldError::IdNumber,
            ),
            (
                FieldKind::Phone,
                "13800138000",
                "12800138000",
                FieldError::Phone,
            ),
            (
                FieldKind::Date,
                "2024-02-29",
                "2023-02-29",
                FieldError::Date,
            ),
            (
                FieldKind::CreditCode,
                "91350100M000100Y43",
                "91350100M000100Y44",
                FieldError::CreditCode,
            ),
            (FieldKind::Postcode, "362000", "36200", FieldError::Postcode),
            (
                FieldKind::BankAccount,
                "6222021234567890128",
                "6222021234567890127",
                FieldError::BankAccount,
            ),
            (
                FieldKind::Number { min: 1, max: 5 },
                "5",
                "6",
                FieldError::Number { min: 1, max: 5 },
            ),
            (
                FieldKind::Text { max_len: 2 },
                "𠮷英",
                "张三丰",
                FieldError::TooLong(2),
            ),
        ];
        for (kind, good, bad, why) in cases {
            let f = field(kind.clone(), true);
            assert_eq!(f.check(good), Ok(()), "{kind:?} {good}");
            assert_eq!(f.check(bad), Err(why), "{kind:?} {bad}");
        }
    }

    #[test]
    fn empty_is_refused_only_when_required() {
        assert_eq!(
            field(FieldKind::Phone, true).check("  "),
            Err(FieldError::Missing)
        );
        assert_eq!(field(FieldKind::Phone, false).check(""), Ok(()));
    }
}
