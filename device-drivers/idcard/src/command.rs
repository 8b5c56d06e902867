//! The reader's commands (devices.md §1.3) and the layouts of their replies (§1.5).

use crate::frame::{Frame, Request};
use crate::sw3::Sw3;
use thiserror::Error;
use zeroize::Zeroize;

/// Every command of the SAM_V protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// `10 FF`: reset the SAM module.
    ResetSam,
    /// `11 FF`: SAM self-test status.
    SamStatus,
    /// `12 FF`: read the SAM's 16-byte identity (管理信息).
    SamId,
    /// `20 01`: look for a card in the field (寻卡).
    FindCard,
    /// `20 02`: select the card found (选卡); answers its 8-byte serial number.
    SelectCard,
    /// `30 01`: read the text block and photo.
    ReadTextPhoto,
    /// `30 03`: read the newest address appended by the police station (最新住址).
    ReadNewestAddress,
    /// `30 10`: read text, photo and fingerprint templates.
    ReadTextPhotoFingerprint,
    /// `60 nn`: change the UART speed.
    SetBaud(Baud),
}

impl Command {
    /// The `(CMD, PARA)` bytes.
    pub fn code(self) -> (u8, u8) {
        match self {
            Command::ResetSam => (0x10, 0xFF),
            Command::SamStatus => (0x11, 0xFF),
            Command::SamId => (0x12, 0xFF),
            Command::FindCard => (0x20, 0x01),
            Command::SelectCard => (0x20, 0x02),
            Command::ReadTextPhoto => (0x30, 0x01),
            Command::ReadNewestAddress => (0x30, 0x03),
            Command::ReadTextPhotoFingerprint => (0x30, 0x10),
            Command::SetBaud(b) => (0x60, b as u8),
        }
    }

    /// The command with these bytes, if there is one.
    pub fn from_code(cmd: u8, para: u8) -> Option<Self> {
        Some(match (cmd, para) {
            (0x10, 0xFF) => Command::ResetSam,
            (0x11, 0xFF) => Command::SamStatus,
            (0x12, 0xFF) => Command::SamId,
            (0x20, 0x01) => Command::FindCard,
            (0x20, 0x02) => Command::SelectCard,
            (0x30, 0x01) => Command::ReadTextPhoto,
            (0x30, 0x03) => Command::ReadNewestAddress,
            (0x30, 0x10) => Command::ReadTextPhotoFingerprint,
            (0x60, p) => Command::SetBaud(Baud::from_code(p)?),
            _ => return None,
        })
    }

    /// The request frame.
    pub fn request(self) -> Request {
        let (cmd, para) = self.code();
        Request {
            cmd,
            para,
            data: Vec::new(),
        }
    }

    /// The request on the wire.
    pub fn encode(self) -> Vec<u8> {
        self.request().encode()
    }

    /// The size of the longest success reply on the wire, to budget its wire time.
    pub fn max_reply_bytes(self) -> usize {
        crate::frame::HEADER_LEN
            + match self {
                Command::ReadTextPhoto => 4 + 4 + TEXT_LEN + PHOTO_LEN,
                Command::ReadTextPhotoFingerprint => usize::from(crate::frame::MAX_REPLY_LEN),
                Command::ReadNewestAddress => 4 + ADDRESS_LEN,
                Command::SamId => 4 + 16,
                Command::SelectCard => 4 + 8,
                Command::FindCard => 4 + 4,
                _ => 4,
            }
    }

    /// Whether a reply with this result code and this much data can answer this command. One that
    /// cannot is stale (the late answer to an earlier command) and is ignored.
    pub fn fits(self, sw3: Sw3, data_len: usize) -> bool {
        const READ: usize = 4 + TEXT_LEN + PHOTO_LEN;
        match (self, sw3) {
            (Command::FindCard, Sw3::CardFound) => data_len == 4,
            (_, Sw3::CardFound) | (Command::FindCard, Sw3::Success) => false,
            (Command::SelectCard, Sw3::Success) => data_len == 8,
            (Command::SamId, Sw3::Success) => data_len == 16,
            (Command::ReadNewestAddress, Sw3::Success) => data_len == ADDRESS_LEN,
            (Command::ReadTextPhoto, Sw3::Success) => data_len == READ,
            (Command::ReadTextPhotoFingerprint, Sw3::Success) => {
                (0..=2).any(|n| data_len == READ + 2 + n * FINGERPRINT_TEMPLATE_LEN)
            }
            // Reset, status, baud, and every error: no data.
            _ => data_len == 0,
        }
    }

    /// A short name for logs and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Command::ResetSam => "reset SAM",
            Command::SamStatus => "SAM status",
            Command::SamId => "read SAM ID",
            Command::FindCard => "find card",
            Command::SelectCard => "select card",
            Command::ReadTextPhoto => "read text and photo",
            Command::ReadNewestAddress => "read newest address",
            Command::ReadTextPhotoFingerprint => "read text, photo and fingerprints",
            Command::SetBaud(_) => "set baud rate",
        }
    }
}

/// The UART speeds the reader can be switched to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Baud {
    /// 115200 bit/s, the power-on default.
    B115200 = 0,
    /// 57600 bit/s.
    B57600 = 1,
    /// 38400 bit/s.
    B38400 = 2,
    /// 19200 bit/s.
    B19200 = 3,
    /// 9600 bit/s.
    B9600 = 4,
}

impl Baud {
    /// Every speed, the power-on default first.
    pub const ALL: [Baud; 5] = [
        Baud::B115200,
        Baud::B57600,
        Baud::B38400,
        Baud::B19200,
        Baud::B9600,
    ];

    /// Bits per second.
    pub fn bps(self) -> u32 {
        match self {
            Baud::B115200 => 115_200,
            Baud::B57600 => 57_600,
            Baud::B38400 => 38_400,
            Baud::B19200 => 19_200,
            Baud::B9600 => 9600,
        }
    }

    /// The speed of this many bits per second, if the reader supports it.
    pub fn from_bps(bps: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.bps() == bps)
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|b| *b as u8 == code)
    }
}

/// Size of the text block.
pub const TEXT_LEN: usize = 256;
/// Size of the WLT photo.
pub const PHOTO_LEN: usize = 1024;
/// Size of one fingerprint template.
pub const FINGERPRINT_TEMPLATE_LEN: usize = 512;
/// Size of the newest-address field (35 UCS-2 characters).
pub const ADDRESS_LEN: usize = 70;

/// A reply that does not have the layout its command's reply must have.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("malformed reply to {command}: {problem}")]
pub struct MalformedReply {
    /// The command answered.
    pub command: &'static str,
    /// What is wrong.
    pub problem: String,
}

/// A [`MalformedReply`] to `command`.
pub(crate) fn malformed(command: Command, problem: impl Into<String>) -> MalformedReply {
    MalformedReply {
        command: command.name(),
        problem: problem.into(),
    }
}

/// The raw blocks of a card, as read by `30 01` or `30 10`. Wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct CardBlocks {
    /// The 256-byte text block.
    pub text: [u8; TEXT_LEN],
    /// The 1024-byte WLT photo.
    pub photo: Vec<u8>,
    /// Fingerprint templates (0, 512 or 1024 bytes), when read with `30 10`.
    pub fingerprint: Option<Vec<u8>>,
}

impl Drop for CardBlocks {
    fn drop(&mut self) {
        self.text.zeroize();
        self.photo.zeroize();
        self.fingerprint.zeroize();
    }
}

impl CardBlocks {
    /// Parses the data of a successful `30 01` (`with_fingerprint` false) or `30 10` reply.
    pub fn parse(data: &[u8], with_fingerprint: bool) -> Result<Self, MalformedReply> {
        let command = if with_fingerprint {
            Command::ReadTextPhotoFingerprint
        } else {
            Command::ReadTextPhoto
        };
        let header = if with_fingerprint { 6 } else { 4 };
        let field = |i: usize| {
            data.get(i..i + 2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        };
        let (Some(text_len), Some(photo_len)) = (field(0), field(2)) else {
            return Err(malformed(command, "shorter than its length fields"));
        };
        let fp_len = if with_fingerprint {
            field(4).ok_or_else(|| malformed(command, "shorter than its length fields"))?
        } else {
            0
        };
        if text_len != TEXT_LEN || photo_len != PHOTO_LEN {
            return Err(malformed(
                command,
                format!("text/photo lengths {text_len}/{photo_len}, expected 256/1024"),
            ));
        }
        if fp_len % FINGERPRINT_TEMPLATE_LEN != 0 || fp_len > 2 * FINGERPRINT_TEMPLATE_LEN {
            return Err(malformed(command, format!("fingerprint length {fp_len}")));
        }
        if data.len() != header + text_len + photo_len + fp_len {
            return Err(malformed(
                command,
                format!("{} data bytes for the lengths it declares", data.len()),
            ));
        }
        let mut text = [0u8; TEXT_LEN];
        text.copy_from_slice(&data[header..header + TEXT_LEN]);
        let photo_at = header + TEXT_LEN;
        Ok(CardBlocks {
            text,
            photo: data[photo_at..photo_at + PHOTO_LEN].to_vec(),
            fingerprint: with_fingerprint.then(|| data[photo_at + PHOTO_LEN..].to_vec()),
        })
    }

    /// The reply data that carries these blocks (the simulator's side).
    pub fn encode(&self) -> Vec<u8> {
        let be = |n: usize| u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes();
        let mut out = Vec::with_capacity(6 + TEXT_LEN + self.photo.len() + 1024);
        out.extend_from_slice(&be(TEXT_LEN));
        out.extend_from_slice(&be(self.photo.len()));
        if let Some(fp) = &self.fingerprint {
            out.extend_from_slice(&be(fp.len()));
        }
        out.extend_from_slice(&self.text);
        out.extend_from_slice(&self.photo);
        if let Some(fp) = &self.fingerprint {
            out.extend_from_slice(fp);
        }
        out
    }
}

/// The SAM's identity (12 FF), shown in the maintenance menu and sent with the heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SamId(pub [u8; 16]);

impl SamId {
    /// Parses the data of a successful `12 FF` reply.
    pub fn parse(data: &[u8]) -> Result<Self, MalformedReply> {
        <[u8; 16]>::try_from(data).map(SamId).map_err(|_| {
            malformed(
                Command::SamId,
                format!("{} data bytes, expected 16", data.len()),
            )
        })
    }
}

impl std::fmt::Display for SamId {
    /// The vendor SDKs' string form (devices.md §1.5): `05.01-20120712-0000123456-0004567890`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.0;
        let le = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        write!(
            f,
            "{:02X}.{:02X}-{}-{:010}-{:010}",
            b[0],
            b[2],
            le(4),
            le(8),
            le(12)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::PREAMBLE;

    #[test]
    fn golden_requests_from_the_reference() {
        // devices.md §1.3, every command with its checksum.
        let cases = [
            (Command::ResetSam, [0x10, 0xFF, 0xEC]),
            (Command::SamStatus, [0x11, 0xFF, 0xED]),
            (Command::SamId, [0x12, 0xFF, 0xEE]),
            (Command::FindCard, [0x20, 0x01, 0x22]),
            (Command::SelectCard, [0x20, 0x02, 0x21]),
            (Command::ReadTextPhoto, [0x30, 0x01, 0x32]),
            (Command::ReadNewestAddress, [0x30, 0x03, 0x30]),
            (Command::ReadTextPhotoFingerprint, [0x30, 0x10, 0x23]),
            (Command::SetBaud(Baud::B115200), [0x60, 0x00, 0x63]),
        ];
        for (command, tail) in cases {
            let wire = [&PREAMBLE[..], &[0x00, 0x03], &tail[..]].concat();
            assert_eq!(command.encode(), wire, "{}", command.name());
            let (cmd, para) = command.code();
            assert_eq!(Command::from_code(cmd, para), Some(command));
        }
        for baud in Baud::ALL {
            assert_eq!(Baud::from_bps(baud.bps()), Some(baud));
            assert_eq!(
                Command::from_code(0x60, baud as u8),
                Some(Command::SetBaud(baud))
            );
        }
        assert_eq!(Command::from_code(0x60, 5), None);
        assert_eq!(Command::from_code(0x30, 0x02), None);
    }

    #[test]
    fn only_replies_of_the_right_shape_answer_a_command() {
        assert!(Command::FindCard.fits(Sw3::CardFound, 4));
        assert!(Command::FindCard.fits(Sw3::NoCard, 0));
        assert!(
            !Command::FindCard.fits(Sw3::Success, 0),
            "a late reply to a reset"
        );
        assert!(
            !Command::SamStatus.fits(Sw3::CardFound, 4),
            "a late reply to a find"
        );
        assert!(
            !Command::ReadNewestAddress.fits(Sw3::Success, 1284),
            "a late card read"
        );
        assert!(Command::ReadTextPhoto.fits(Sw3::Success, 1284));
        for fp in [0, 512, 1024] {
            assert!(Command::ReadTextPhotoFingerprint.fits(Sw3::Success, 1286 + fp));
        }
        assert!(!Command::ReadTextPhotoFingerprint.fits(Sw3::Success, 1286 + 100));
        assert!(!Command::ReadTextPhotoFingerprint.fits(Sw3::Success, 1284));
        assert!(Command::SelectCard.fits(Sw3::Success, 8));
        assert!(!Command::SelectCard.fits(Sw3::Success, 0));
        assert!(Command::ReadTextPhoto.fits(Sw3::ReadFailed, 0));
    }

    #[test]
    fn reply_sizes_match_the_reference() {
        // 30 01 → 1295 bytes, 30 10 with two templates → 2321 bytes (devices.md §1.3).
        assert_eq!(Command::ReadTextPhoto.max_reply_bytes(), 1295);
        assert_eq!(Command::ReadTextPhotoFingerprint.max_reply_bytes(), 2321);
    }

    #[test]
    fn card_blocks_round_trip_and_reject_bad_lengths() {
        for fp in [None, Some(vec![]), Some(vec![3; 512]), Some(vec![4; 1024])] {
            let blocks = CardBlocks {
                text: [0x20; TEXT_LEN],
                photo: vec![9; PHOTO_LEN],
                fingerprint: fp.clone(),
            };
            let data = blocks.encode();
            let parsed = CardBlocks::parse(&data, fp.is_some()).unwrap();
            assert!(parsed == blocks);
            assert!(CardBlocks::parse(&data[..data.len() - 1], fp.is_some()).is_err());
        }
        let mut bad = CardBlocks {
            text: [0; TEXT_LEN],
            photo: vec![0; PHOTO_LEN],
            fingerprint: Some(vec![0; 100]),
        }
        .encode();
        assert!(
            CardBlocks::parse(&bad, true).is_err(),
            "fingerprint length not a template multiple"
        );
        bad.truncate(3);
        assert!(CardBlocks::parse(&bad, false).is_err());
    }

    #[test]
    fn sam_id_formats_like_the_vendor_sdk() {
        let mut raw = [0u8; 16];
        raw[0] = 0x05;
        raw[2] = 0x01;
        raw[4..8].copy_from_slice(&20_120_712u32.to_le_bytes());
        raw[8..12].copy_from_slice(&123_456u32.to_le_bytes());
        raw[12..16].copy_from_slice(&4_567_890u32.to_le_bytes());
        assert_eq!(
            SamId::parse(&raw).unwrap().to_string(),
            "05.01-20120712-0000123456-0004567890"
        );
        assert!(SamId::parse(&raw[..15]).is_err());
    }
}
