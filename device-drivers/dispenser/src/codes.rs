//! The dispenser's commands, status bytes and error codes (devices.md §3.2–3.3).

use device_model::{ActionHint, ErrorCode};
use serde::{Deserialize, Serialize};

/// A position a card can be moved to (`32 PM`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// 30: the holding position inside.
    Hold,
    /// 32: the RF (contactless) read/write position. A card is fed from the stacker if the channel
    /// is empty.
    Rf,
    /// 33: captured into the reject (error) bin.
    RejectBin,
    /// 39: ejected to the gate, presented to the citizen.
    Gate,
}

impl Position {
    fn pm(self) -> u8 {
        match self {
            Position::Hold => 0x30,
            Position::Rf => 0x32,
            Position::RejectBin => 0x33,
            Position::Gate => 0x39,
        }
    }
}

/// The commands the driver uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `30 31`: initialise, capturing any card in the channel to the reject bin.
    InitialiseCapture,
    /// `30 33`: initialise without moving a card.
    InitialiseNoMove,
    /// `31 30`: status st0 st1 st2.
    Status,
    /// `32 PM`: move a card.
    Move(Position),
}

impl Command {
    /// `(CM, PM)`.
    pub fn code(self) -> (u8, u8) {
        match self {
            Command::InitialiseCapture => (0x30, 0x31),
            Command::InitialiseNoMove => (0x30, 0x33),
            Command::Status => (0x31, 0x30),
            Command::Move(p) => (0x32, p.pm()),
        }
    }

    /// The command with these codes, if the driver knows it.
    pub fn from_code(cm: u8, pm: u8) -> Option<Self> {
        Some(match (cm, pm) {
            (0x30, 0x31) => Command::InitialiseCapture,
            (0x30, 0x33) => Command::InitialiseNoMove,
            (0x31, 0x30) => Command::Status,
            (0x32, 0x30) => Command::Move(Position::Hold),
            (0x32, 0x32) => Command::Move(Position::Rf),
            (0x32, 0x33) => Command::Move(Position::RejectBin),
            (0x32, 0x39) => Command::Move(Position::Gate),
            _ => return None,
        })
    }

    /// A short name for logs and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Command::InitialiseCapture => "initialise (capture)",
            Command::InitialiseNoMove => "initialise",
            Command::Status => "status",
            Command::Move(Position::Hold) => "move to holding position",
            Command::Move(Position::Rf) => "move to RF position",
            Command::Move(Position::RejectBin) => "capture to reject bin",
            Command::Move(Position::Gate) => "present at the gate",
        }
    }
}

/// Where the card in the channel is (st0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// '0': no card in the channel.
    Empty,
    /// '1': a card waits at the gate.
    AtGate,
    /// '2': a card is at the read (RF/IC) position.
    InReader,
}

/// Cards left in the stacker (st1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stacker {
    /// '2': enough cards.
    Ok,
    /// '1': few cards left: refill soon.
    Low,
    /// '0': no cards.
    Empty,
}

/// The three status bytes, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sensors {
    /// st0.
    pub channel: Channel,
    /// st1.
    pub stacker: Stacker,
    /// st2: the reject bin is full.
    pub reject_bin_full: bool,
}

impl Sensors {
    /// Decodes st0 st1 st2; `None` if a byte is not one the device sends.
    pub fn parse(status: [u8; 3]) -> Option<Self> {
        Some(Sensors {
            channel: match status[0] {
                b'0' => Channel::Empty,
                b'1' => Channel::AtGate,
                b'2' => Channel::InReader,
                _ => return None,
            },
            stacker: match status[1] {
                b'0' => Stacker::Empty,
                b'1' => Stacker::Low,
                b'2' => Stacker::Ok,
                _ => return None,
            },
            reject_bin_full: match status[2] {
                b'0' => false,
                b'1' => true,
                _ => return None,
            },
        })
    }

    /// The three status bytes (the simulator's side).
    pub fn encode(self) -> [u8; 3] {
        [
            match self.channel {
                Channel::Empty => b'0',
                Channel::AtGate => b'1',
                Channel::InReader => b'2',
            },
            match self.stacker {
                Stacker::Empty => b'0',
                Stacker::Low => b'1',
                Stacker::Ok => b'2',
            },
            if self.reject_bin_full { b'1' } else { b'0' },
        ]
    }
}

/// The error codes of a negative reply (e1 e0), with their meanings and who must act.
const ERRORS: [(&[u8; 2], &str, ErrorCode, ActionHint); 27] = {
    use ActionHint::*;
    use ErrorCode::*;
    [
        (b"00", "undefined command", InvalidCommand, Engineer),
        (b"01", "parameter error", InvalidCommand, Engineer),
        (b"02", "command sequence error", SequenceError, Reset),
        (
            b"03",
            "not supported by the hardware",
            UnsupportedCommand,
            Engineer,
        ),
        (b"04", "data error", InvalidData, Engineer),
        (b"05", "IC contact not released", HardwareError, Reset),
        (b"10", "card jam", HardwareError, Staff),
        (b"12", "sensor error", HardwareError, Engineer),
        (b"13", "card too long", HardwareError, Staff),
        (b"14", "card too short", HardwareError, Staff),
        (
            b"40",
            "card pulled back / recycling disabled",
            UserError,
            Retry,
        ),
        (
            b"41",
            "magnetic head or rail error",
            HardwareError,
            Engineer,
        ),
        (b"43", "cannot move to position", HardwareError, Staff),
        (b"45", "card moved manually", UserError, Retry),
        (b"50", "counter overflow", HardwareError, Engineer),
        (b"51", "motor error", HardwareError, Engineer),
        (b"60", "IC supply short circuit", HardwareError, Engineer),
        (b"61", "card activation failed", HardwareError, Retry),
        (
            b"62",
            "command not supported by the card",
            UnsupportedCommand,
            Retry,
        ),
        (b"65", "card not activated", SequenceError, Retry),
        (b"66", "not supported now", SequenceError, Retry),
        (b"67", "IC transmission error", HardwareError, Retry),
        (b"68", "IC timeout", Timeout, Retry),
        (b"69", "CPU/SAM card not EMV compliant", InvalidData, Staff),
        (b"A0", "stacker empty", HardwareError, Staff),
        (b"A1", "reject bin full", HardwareError, Staff),
        (b"B0", "not initialised", SequenceError, Reset),
    ]
};

/// A negative reply's error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceErrorCode(pub [u8; 2]);

impl DeviceErrorCode {
    /// Card jam.
    pub const JAM: Self = Self(*b"10");
    /// Stacker empty.
    pub const STACKER_EMPTY: Self = Self(*b"A0");
    /// Reject bin full.
    pub const REJECT_BIN_FULL: Self = Self(*b"A1");

    fn entry(self) -> Option<&'static (&'static [u8; 2], &'static str, ErrorCode, ActionHint)> {
        ERRORS.iter().find(|e| *e.0 == self.0)
    }

    /// The meaning, for a technician.
    pub fn meaning(self) -> &'static str {
        self.entry()
            .map_or("error code not in the protocol", |e| e.1)
    }

    /// How the command completes, and who must act.
    pub fn classify(self) -> (ErrorCode, ActionHint) {
        self.entry()
            .map_or((ErrorCode::HardwareError, ActionHint::Engineer), |e| {
                (e.2, e.3)
            })
    }
}

impl std::fmt::Display for DeviceErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", String::from_utf8_lossy(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_byte_decodes_and_round_trips() {
        for s0 in *b"012" {
            for s1 in *b"012" {
                for s2 in *b"01" {
                    let sensors = Sensors::parse([s0, s1, s2]).unwrap();
                    assert_eq!(sensors.encode(), [s0, s1, s2]);
                }
            }
        }
        let s = Sensors::parse(*b"101").unwrap();
        assert_eq!(
            (s.channel, s.stacker, s.reject_bin_full),
            (Channel::AtGate, Stacker::Empty, true)
        );
        assert_eq!(Sensors::parse(*b"301"), None);
        assert_eq!(Sensors::parse(*b"031"), None);
        assert_eq!(Sensors::parse(*b"002"), None);
    }

    #[test]
    fn every_error_code_has_a_meaning_and_an_action() {
        for (code, meaning, _, _) in ERRORS {
            assert_eq!(DeviceErrorCode(*code).meaning(), meaning);
        }
        assert_eq!(
            DeviceErrorCode::JAM.classify(),
            (ErrorCode::HardwareError, ActionHint::Staff)
        );
        assert_eq!(
            DeviceErrorCode::STACKER_EMPTY.classify().1,
            ActionHint::Staff
        );
        assert_eq!(DeviceErrorCode(*b"51").classify().1, ActionHint::Engineer);
        assert_eq!(
            DeviceErrorCode(*b"ZZ").meaning(),
            "error code not in the protocol"
        );
    }

    #[test]
    fn commands_round_trip() {
        for c in [
            Command::InitialiseCapture,
            Command::InitialiseNoMove,
            Command::Status,
            Command::Move(Position::Hold),
            Command::Move(Position::Rf),
            Command::Move(Position::RejectBin),
            Command::Move(Position::Gate),
        ] {
            let (cm, pm) = c.code();
            assert_eq!(Command::from_code(cm, pm), Some(c));
        }
    }
}
