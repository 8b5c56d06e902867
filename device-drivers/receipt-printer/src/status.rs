//! Printer status (devices.md §2.6–2.7), with no I/O: real-time status replies to DLE EOT n and
//! Automatic Status Back (ASB), decoded from the byte stream and assessed for the device model.
//!
//! Every DLE EOT reply matches `0xx1xx10`; the first ASB byte matches `0xx1xx00` and the three that
//! follow `0xx0xxxx`; XON (0x11) and XOFF (0x13) match neither, so the three can share a line.

use device_model::{ActionHint, DeviceState, ErrorCode, Fault};
use serde::{Deserialize, Serialize};

/// The DLE EOT request for status `n` (1 printer, 2 offline cause, 3 error cause, 4 paper).
pub fn dle_eot(n: u8) -> [u8; 3] {
    [0x10, 0x04, n]
}

/// The request for a Custom kiosk printer's full status (devices.md §2.8).
pub const FULL_STATUS: [u8; 3] = [0x10, 0x04, 0x14];

/// What a Custom kiosk printer's full status says about the presenter: whether a receipt waits
/// in the output for the citizen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PresenterStatus {
    /// A cut receipt is in the output (paper byte bit 5).
    pub ticket_in_output: bool,
    /// No paper (paper byte bit 0).
    pub no_paper: bool,
    /// Paper near end (paper byte bit 2).
    pub near_end: bool,
    /// Cover open (user byte bit 1).
    pub cover_open: bool,
}

impl PresenterStatus {
    /// Finds a full-status reply, `10 0F` and four bytes, in `bytes`; `None` until one is whole.
    pub fn find(bytes: &[u8]) -> Option<Self> {
        let start = bytes.windows(2).position(|w| w == [0x10, 0x0F])?;
        let [paper, user, ..] = *bytes.get(start + 2..start + 6)? else {
            return None;
        };
        Some(Self {
            ticket_in_output: paper & 0x20 != 0,
            no_paper: paper & 0x01 != 0,
            near_end: paper & 0x04 != 0,
            cover_open: user & 0x02 != 0,
        })
    }

    /// The six bytes a printer in this state sends.
    pub fn encode(&self) -> [u8; 6] {
        let bit = |on: bool, b: u8| if on { 1u8 << b } else { 0 };
        [
            0x10,
            0x0F,
            bit(self.no_paper, 0) | bit(self.near_end, 2) | bit(self.ticket_in_output, 5),
            bit(self.cover_open, 1),
            0,
            0,
        ]
    }
}

/// Paper supply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Paper {
    /// Enough paper.
    #[default]
    Ok,
    /// Near end: refill soon.
    Low,
    /// No paper.
    Out,
}

/// What the printer reports, from DLE EOT 1–4 or from ASB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrinterCondition {
    /// Offline (n=1 bit 3).
    pub offline: bool,
    /// Cover open (n=2 bit 2).
    pub cover_open: bool,
    /// Printing stopped by paper end (n=2 bit 5).
    pub stopped_by_paper_end: bool,
    /// An error occurred (n=2 bit 6).
    pub error: bool,
    /// Mechanical error (n=3 bit 2).
    pub mechanical_error: bool,
    /// Auto-cutter error (n=3 bit 3).
    pub cutter_error: bool,
    /// Unrecoverable error (n=3 bit 5).
    pub unrecoverable_error: bool,
    /// Auto-recoverable error, e.g. head over-temperature (n=3 bit 6).
    pub auto_recoverable_error: bool,
    /// Paper supply (n=4).
    pub paper: Paper,
}

/// A status byte that is not one the protocol defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("status byte {byte:#04x} for DLE EOT {n} does not match 0xx1xx10")]
pub struct BadStatusByte {
    /// Which status was asked for.
    pub n: u8,
    /// The byte received.
    pub byte: u8,
}

impl PrinterCondition {
    /// Takes the reply `byte` to DLE EOT `n` into account.
    pub fn apply_realtime(&mut self, n: u8, byte: u8) -> Result<(), BadStatusByte> {
        if byte & 0x93 != 0x12 || !(1..=4).contains(&n) {
            return Err(BadStatusByte { n, byte });
        }
        let bit = |b: u8| byte & (1 << b) != 0;
        match n {
            1 => self.offline = bit(3),
            2 => {
                self.cover_open = bit(2);
                self.stopped_by_paper_end = bit(5);
                self.error = bit(6);
            }
            3 => {
                self.mechanical_error = bit(2);
                self.cutter_error = bit(3);
                self.unrecoverable_error = bit(5);
                self.auto_recoverable_error = bit(6);
            }
            _ => {
                self.paper = if byte & 0x60 != 0 {
                    Paper::Out
                } else if byte & 0x0C != 0 {
                    Paper::Low
                } else {
                    Paper::Ok
                }
            }
        }
        Ok(())
    }

    /// The condition an Automatic Status Back block reports.
    pub fn from_asb(asb: [u8; 4]) -> Self {
        let bit = |byte: u8, b: u8| asb[usize::from(byte)] & (1 << b) != 0;
        PrinterCondition {
            offline: bit(0, 3),
            cover_open: bit(0, 5),
            stopped_by_paper_end: bit(2, 2) || bit(2, 3),
            error: bit(1, 2) || bit(1, 3) || bit(1, 5) || bit(1, 6),
            mechanical_error: bit(1, 2),
            cutter_error: bit(1, 3),
            unrecoverable_error: bit(1, 5),
            auto_recoverable_error: bit(1, 6),
            paper: if asb[2] & 0x0C != 0 {
                Paper::Out
            } else if asb[2] & 0x03 != 0 {
                Paper::Low
            } else {
                Paper::Ok
            },
        }
    }

    /// Whether a receipt can be printed now.
    pub fn can_print(&self) -> bool {
        self.assess().0 == DeviceState::Online
    }

    /// The device state this condition means, and the fault with who must act. Paper running
    /// low keeps the printer online (the class status tells staff to refill).
    pub fn assess(&self) -> (DeviceState, Option<Fault>) {
        let fault = |code, action, message: &str| {
            Some(Fault {
                code,
                action,
                message: message.to_owned(),
            })
        };
        use ActionHint::*;
        use ErrorCode::*;
        if self.cutter_error {
            (
                DeviceState::HardwareError,
                fault(HardwareError, Engineer, "auto-cutter error"),
            )
        } else if self.unrecoverable_error || self.mechanical_error {
            (
                DeviceState::HardwareError,
                fault(HardwareError, Engineer, "printer mechanism error"),
            )
        } else if self.paper == Paper::Out || self.stopped_by_paper_end {
            (
                DeviceState::HardwareError,
                fault(HardwareError, Staff, "paper out: refill the receipt paper"),
            )
        } else if self.cover_open {
            (
                DeviceState::UserError,
                fault(UserError, Staff, "printer cover open"),
            )
        } else if self.auto_recoverable_error {
            (
                DeviceState::Busy,
                fault(
                    HardwareError,
                    Retry,
                    "recovering by itself (head temperature)",
                ),
            )
        } else if self.offline || self.error {
            (
                DeviceState::Offline,
                fault(HardwareError, Reset, "printer offline"),
            )
        } else {
            (DeviceState::Online, None)
        }
    }
}

/// What the printer sent back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A reply to a DLE EOT request.
    Realtime(u8),
    /// An Automatic Status Back block.
    Asb([u8; 4]),
    /// XON: the printer can take data again.
    Xon,
    /// XOFF: the printer's buffer is nearly full.
    Xoff,
    /// A byte that fits nothing.
    Unknown(u8),
}

/// Sorts the printer's byte stream into status replies, ASB blocks and flow control, in any
/// chunking. Never panics.
#[derive(Debug, Default)]
pub struct StatusDecoder {
    asb: Vec<u8>,
}

impl StatusDecoder {
    /// Feeds bytes; calls `out` for each thing recognised.
    pub fn push(&mut self, bytes: &[u8], mut out: impl FnMut(Incoming)) {
        for &b in bytes {
            if !self.asb.is_empty() {
                if b & 0x90 == 0 {
                    self.asb.push(b);
                    if let Ok(block) = <[u8; 4]>::try_from(self.asb.as_slice()) {
                        out(Incoming::Asb(block));
                        self.asb.clear();
                    }
                    continue;
                }
                // A torn ASB block: drop it and look at this byte afresh.
                self.asb.iter().for_each(|&x| out(Incoming::Unknown(x)));
                self.asb.clear();
            }
            match b {
                0x11 => out(Incoming::Xon),
                0x13 => out(Incoming::Xoff),
                _ if b & 0x93 == 0x12 => out(Incoming::Realtime(b)),
                _ if b & 0x93 == 0x10 => self.asb.push(b),
                _ => out(Incoming::Unknown(b)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(replies: [u8; 4]) -> PrinterCondition {
        let mut c = PrinterCondition::default();
        for (i, byte) in replies.into_iter().enumerate() {
            c.apply_realtime(i as u8 + 1, byte).unwrap();
        }
        c
    }

    #[test]
    fn every_realtime_status_bit_is_decoded() {
        assert_eq!(condition([0x12; 4]), PrinterCondition::default());
        assert!(condition([0x1A, 0x12, 0x12, 0x12]).offline);
        let c = condition([0x12, 0x12 | 0x04 | 0x20 | 0x40, 0x12, 0x12]);
        assert!(c.cover_open && c.stopped_by_paper_end && c.error);
        let c = condition([0x12, 0x12, 0x12 | 0x04 | 0x08 | 0x20 | 0x40, 0x12]);
        assert!(
            c.mechanical_error
                && c.cutter_error
                && c.unrecoverable_error
                && c.auto_recoverable_error
        );
        assert_eq!(condition([0x12, 0x12, 0x12, 0x12 | 0x0C]).paper, Paper::Low);
        assert_eq!(condition([0x12, 0x12, 0x12, 0x12 | 0x60]).paper, Paper::Out);
        assert_eq!(condition([0x12, 0x12, 0x12, 0x12 | 0x6C]).paper, Paper::Out);
    }

    #[test]
    fn bytes_that_break_the_fixed_bits_are_refused() {
        let mut c = PrinterCondition::default();
        for bad in [0x00, 0x10, 0x13, 0x92, 0x16 | 0x01] {
            assert_eq!(
                c.apply_realtime(1, bad),
                Err(BadStatusByte { n: 1, byte: bad })
            );
        }
        assert!(c.apply_realtime(5, 0x12).is_err());
    }

    #[test]
    fn asb_blocks_are_decoded() {
        let c = PrinterCondition::from_asb([0x10 | 0x08 | 0x20, 0x08, 0x0C, 0]);
        assert!(c.offline && c.cover_open && c.cutter_error && c.error);
        assert_eq!(c.paper, Paper::Out);
        assert_eq!(
            PrinterCondition::from_asb([0x10, 0, 0x03, 0]).paper,
            Paper::Low
        );
        assert_eq!(
            PrinterCondition::from_asb([0x10, 0, 0, 0]),
            PrinterCondition::default()
        );
    }

    #[test]
    fn each_condition_names_who_must_act() {
        let with = |f: fn(&mut PrinterCondition)| {
            let mut c = PrinterCondition::default();
            f(&mut c);
            let (state, fault) = c.assess();
            (state, fault.map(|f| f.action))
        };
        assert_eq!(with(|_| {}), (DeviceState::Online, None));
        assert_eq!(with(|c| c.paper = Paper::Low), (DeviceState::Online, None));
        assert_eq!(
            with(|c| c.paper = Paper::Out),
            (DeviceState::HardwareError, Some(ActionHint::Staff))
        );
        assert_eq!(
            with(|c| c.cover_open = true),
            (DeviceState::UserError, Some(ActionHint::Staff))
        );
        assert_eq!(
            with(|c| c.cutter_error = true),
            (DeviceState::HardwareError, Some(ActionHint::Engineer))
        );
        assert_eq!(
            with(|c| c.auto_recoverable_error = true),
            (DeviceState::Busy, Some(ActionHint::Retry))
        );
        assert_eq!(
            with(|c| c.offline = true),
            (DeviceState::Offline, Some(ActionHint::Reset))
        );
    }

    #[test]
    fn full_status_is_found_after_noise_and_only_when_whole() {
        let status = PresenterStatus {
            ticket_in_output: true,
            near_end: true,
            ..PresenterStatus::default()
        };
        let mut bytes = vec![0x12, 0x00];
        bytes.extend(status.encode());
        assert_eq!(bytes[4], 0x24);
        assert_eq!(PresenterStatus::find(&bytes), Some(status));
        assert_eq!(PresenterStatus::find(&bytes[..bytes.len() - 1]), None);
        let out = PresenterStatus::find(&[0x10, 0x0F, 0x01, 0x02, 0, 0]).unwrap();
        assert!(out.no_paper && out.cover_open && !out.ticket_in_output);
    }

    #[test]
    fn the_stream_is_sorted_in_any_chunking() {
        let stream = [0x12, 0x11, 0x18, 0x00, 0x0C, 0x00, 0x13, 0x80, 0x16];
        let expected = vec![
            Incoming::Realtime(0x12),
            Incoming::Xon,
            Incoming::Asb([0x18, 0x00, 0x0C, 0x00]),
            Incoming::Xoff,
            Incoming::Unknown(0x80),
            Incoming::Realtime(0x16),
        ];
        for cut in 0..=stream.len() {
            let mut dec = StatusDecoder::default();
            let mut got = Vec::new();
            dec.push(&stream[..cut], |i| got.push(i));
            dec.push(&stream[cut..], |i| got.push(i));
            assert_eq!(got, expected, "cut at {cut}");
        }
    }
}
