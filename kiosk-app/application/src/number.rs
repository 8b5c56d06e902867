//! Application numbers a person can read out over the phone and that are unique across the
//! fleet: `TTTTT-YYMMDD-NNNN-C`.
//!
//! `TTTTT` is the terminal's number, unique in the fleet and assigned by the central office;
//! `NNNN` is the terminal's own counter, which never goes back (it is kept in the store and
//! advanced in the transaction that saves the application), so the pair is unique even if the
//! clock is wrong; `YYMMDD` is the saving date, for people; `C` is a Damm check digit, which
//! catches every single wrong digit and every swap of two neighbouring digits.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An application number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApplicationNumber(String);

/// Why a text is not an application number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Not the `TTTTT-YYMMDD-NNNN-C` form.
    #[error("an application number looks like 10001-261122-0007-4")]
    Form,
    /// The check digit does not match: a digit was misread or two were swapped.
    #[error("the check digit does not match: a digit is wrong")]
    Check,
}

impl ApplicationNumber {
    /// The number of the `counter`th application of `terminal` (five digits), saved on `date`
    /// (`YYMMDD`).
    pub fn new(terminal: &str, date: &str, counter: u64) -> Result<Self, NumberError> {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(terminal, 5) || !digits(date, 6) {
            return Err(NumberError::Form);
        }
        let body = format!("{terminal}{date}{counter:04}");
        Ok(ApplicationNumber(format!(
            "{terminal}-{date}-{counter:04}-{}",
            damm(&body)
        )))
    }

    /// Parses a number as read out or typed: spaces and dashes anywhere are ignored.
    pub fn parse(text: &str) -> Result<Self, NumberError> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() < 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NumberError::Form);
        }
        let (body, check) = digits.split_at(digits.len() - 1);
        if damm(body).to_string() != check {
            return Err(NumberError::Check);
        }
        let counter = &body[11..];
        Ok(ApplicationNumber(format!(
            "{}-{}-{counter}-{check}",
            &body[..5],
            &body[5..11]
        )))
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The terminal part.
    pub fn terminal(&self) -> &str {
        &self.0[..5]
    }
}

impl fmt::Display for ApplicationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ApplicationNumber {
    type Error = NumberError;
    fn try_from(s: String) -> Result<Self, NumberError> {
        ApplicationNumber::parse(&s)
    }
}

impl From<ApplicationNumber> for String {
    fn from(n: ApplicationNumber) -> String {
        n.0
    }
}

/// The Damm check digit of a string of ASCII digits.
fn damm(digits: &str) -> u8 {
    const TABLE: [[u8; 10]; 10] = [
        [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
        [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
        [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
        [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
        [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
        [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
        [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
        [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
        [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
        [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
    ];
    digits
        .bytes()
        .fold(0, |interim, d| TABLE[interim as usize][(d - b'0') as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_through_reading_out() {
        let n = ApplicationNumber::new("10001", "261122", 7).unwrap();
        assert_eq!(n.as_str().len(), "10001-261122-0007-".len() + 1);
        assert_eq!(
            ApplicationNumber::parse(&n.as_str().replace('-', " ")),
            Ok(n.clone())
        );
        assert_eq!(n.terminal(), "10001");
        let big = ApplicationNumber::new("10001", "261122", 123_456).unwrap();
        assert_eq!(ApplicationNumber::parse(big.as_str()), Ok(big));
    }

    #[test]
    fn every_single_digit_error_and_neighbour_swap_is_caught() {
        let n = ApplicationNumber::new("35021", "261122", 4821).unwrap();
        let digits: Vec<u8> = n.as_str().bytes().filter(u8::is_ascii_digit).collect();
        for i in 0..digits.len() {
            for d in b'0'..=b'9' {
                if d == digits[i] {
                    continue;
                }
                let mut wrong = digits.clone();
                wrong[i] = d;
                let text = String::from_utf8(wrong).unwrap();
                assert_eq!(
                    ApplicationNumber::parse(&text),
                    Err(NumberError::Check),
                    "{text}"
                );
            }
            if i + 1 < digits.len() && digits[i] != digits[i + 1] {
                let mut swapped = digits.clone();
                swapped.swap(i, i + 1);
                let text = String::from_utf8(swapped).unwrap();
                assert_eq!(
                    ApplicationNumber::parse(&text),
                    Err(NumberError::Check),
                    "{text}"
                );
            }
        }
    }
}
