//! The reader's result codes (SW3, devices.md §1.4), each mapped to what it means for the kiosk.

use device_model::{ActionHint, ErrorCode};

/// A reader/SAM result code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sw3 {
    /// 90 操作成功.
    Success,
    /// 91 证/卡中此项无内容: the item is not on the card (no appended address, no fingerprint).
    NoContent,
    /// 9F 寻找证/卡成功.
    CardFound,
    /// 10 接收业务终端数据的校验和错: the reader got our frame with a bad checksum.
    HostChecksumError,
    /// 11 接收业务终端数据的长度错: the reader got our frame with a bad length.
    HostLengthError,
    /// 21 命令错误.
    BadCommand,
    /// 23 越权操作.
    NotPermitted,
    /// 24 无法识别的错误.
    UnknownError,
    /// 31 证/卡认证SAM失败.
    CardAuthenticatingSamFailed,
    /// 32 SAM认证证/卡失败.
    SamAuthenticatingCardFailed,
    /// 33 信息验证错误.
    VerificationFailed,
    /// 40 无法识别的卡类型.
    UnknownCardType,
    /// 41 读证/卡操作失败.
    ReadFailed,
    /// 47 取随机数失败.
    ChallengeFailed,
    /// 60 SAM自检失败，不能接收命令.
    SelfTestFailed,
    /// 66 SAM未经授权.
    NotAuthorised,
    /// 80 寻找证/卡失败: no card in the field.
    NoCard,
    /// 81 选取证/卡失败.
    SelectFailed,
    /// A code the protocol does not define.
    Undefined(u8),
}

impl From<u8> for Sw3 {
    fn from(code: u8) -> Self {
        match code {
            0x90 => Sw3::Success,
            0x91 => Sw3::NoContent,
            0x9F => Sw3::CardFound,
            0x10 => Sw3::HostChecksumError,
            0x11 => Sw3::HostLengthError,
            0x21 => Sw3::BadCommand,
            0x23 => Sw3::NotPermitted,
            0x24 => Sw3::UnknownError,
            0x31 => Sw3::CardAuthenticatingSamFailed,
            0x32 => Sw3::SamAuthenticatingCardFailed,
            0x33 => Sw3::VerificationFailed,
            0x40 => Sw3::UnknownCardType,
            0x41 => Sw3::ReadFailed,
            0x47 => Sw3::ChallengeFailed,
            0x60 => Sw3::SelfTestFailed,
            0x66 => Sw3::NotAuthorised,
            0x80 => Sw3::NoCard,
            0x81 => Sw3::SelectFailed,
            other => Sw3::Undefined(other),
        }
    }
}

impl Sw3 {
    /// Every code the protocol defines.
    pub const DEFINED: [Sw3; 18] = [
        Sw3::Success,
        Sw3::NoContent,
        Sw3::CardFound,
        Sw3::HostChecksumError,
        Sw3::HostLengthError,
        Sw3::BadCommand,
        Sw3::NotPermitted,
        Sw3::UnknownError,
        Sw3::CardAuthenticatingSamFailed,
        Sw3::SamAuthenticatingCardFailed,
        Sw3::VerificationFailed,
        Sw3::UnknownCardType,
        Sw3::ReadFailed,
        Sw3::ChallengeFailed,
        Sw3::SelfTestFailed,
        Sw3::NotAuthorised,
        Sw3::NoCard,
        Sw3::SelectFailed,
    ];

    /// The byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Sw3::Success => 0x90,
            Sw3::NoContent => 0x91,
            Sw3::CardFound => 0x9F,
            Sw3::HostChecksumError => 0x10,
            Sw3::HostLengthError => 0x11,
            Sw3::BadCommand => 0x21,
            Sw3::NotPermitted => 0x23,
            Sw3::UnknownError => 0x24,
            Sw3::CardAuthenticatingSamFailed => 0x31,
            Sw3::SamAuthenticatingCardFailed => 0x32,
            Sw3::VerificationFailed => 0x33,
            Sw3::UnknownCardType => 0x40,
            Sw3::ReadFailed => 0x41,
            Sw3::ChallengeFailed => 0x47,
            Sw3::SelfTestFailed => 0x60,
            Sw3::NotAuthorised => 0x66,
            Sw3::NoCard => 0x80,
            Sw3::SelectFailed => 0x81,
            Sw3::Undefined(code) => code,
        }
    }

    /// The meaning, for a technician.
    pub fn meaning(self) -> &'static str {
        match self {
            Sw3::Success => "success (操作成功)",
            Sw3::NoContent => "item not on the card (此项无内容)",
            Sw3::CardFound => "card found (寻找证/卡成功)",
            Sw3::HostChecksumError => "reader received a bad checksum (校验和错)",
            Sw3::HostLengthError => "reader received a bad length (长度错)",
            Sw3::BadCommand => "bad command (命令错误)",
            Sw3::NotPermitted => "operation not permitted (越权操作)",
            Sw3::UnknownError => "unrecognised error (无法识别的错误)",
            Sw3::CardAuthenticatingSamFailed => {
                "card failed to authenticate the SAM (证/卡认证SAM失败)"
            }
            Sw3::SamAuthenticatingCardFailed => {
                "SAM failed to authenticate the card (SAM认证证/卡失败)"
            }
            Sw3::VerificationFailed => "card data failed verification (信息验证错误)",
            Sw3::UnknownCardType => "unrecognised card type (无法识别的卡类型)",
            Sw3::ReadFailed => "reading the card failed (读证/卡操作失败)",
            Sw3::ChallengeFailed => "get-challenge failed (取随机数失败)",
            Sw3::SelfTestFailed => "SAM self-test failed (SAM自检失败)",
            Sw3::NotAuthorised => "SAM not authorised (SAM未经授权)",
            Sw3::NoCard => "no card found (寻找证/卡失败)",
            Sw3::SelectFailed => "selecting the card failed (选取证/卡失败)",
            Sw3::Undefined(_) => "code not defined by the protocol",
        }
    }

    /// How a command ending with this code completes, and who must act.
    ///
    /// Card-side failures are the citizen's to retry (re-place the card) unless the card itself
    /// cannot be trusted, which needs staff; SAM failures need a reset or an engineer; protocol
    /// errors are the driver's own (an engineer must look).
    pub fn classify(self) -> Option<(ErrorCode, ActionHint)> {
        use ActionHint::*;
        use ErrorCode::*;
        Some(match self {
            Sw3::Success | Sw3::CardFound | Sw3::NoContent => return None,
            Sw3::NoCard | Sw3::SelectFailed | Sw3::ReadFailed | Sw3::ChallengeFailed => {
                (UserError, Retry)
            }
            Sw3::UnknownCardType => (UserError, Retry),
            Sw3::CardAuthenticatingSamFailed
            | Sw3::SamAuthenticatingCardFailed
            | Sw3::VerificationFailed => (InvalidData, Staff),
            Sw3::HostChecksumError => (InvalidData, Retry),
            Sw3::HostLengthError | Sw3::BadCommand => (InvalidCommand, Engineer),
            Sw3::NotPermitted => (SequenceError, Reset),
            Sw3::UnknownError => (HardwareError, Reset),
            Sw3::SelfTestFailed => (HardwareError, Reset),
            Sw3::NotAuthorised => (HardwareError, Engineer),
            Sw3::Undefined(_) => (HardwareError, Engineer),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_is_classified() {
        for sw3 in Sw3::DEFINED {
            assert_eq!(Sw3::from(sw3.code()), sw3);
            assert_ne!(sw3.meaning(), Sw3::Undefined(0).meaning());
            let ok = matches!(sw3, Sw3::Success | Sw3::CardFound | Sw3::NoContent);
            assert_eq!(sw3.classify().is_none(), ok, "{sw3:?}");
        }
        let defined: Vec<u8> = Sw3::DEFINED.iter().map(|s| s.code()).collect();
        for code in 0..=255u8 {
            let sw3 = Sw3::from(code);
            assert_eq!(sw3.code(), code);
            assert_eq!(matches!(sw3, Sw3::Undefined(_)), !defined.contains(&code));
        }
    }

    #[test]
    fn sam_faults_need_a_reset_or_an_engineer_and_card_faults_the_citizen() {
        assert_eq!(
            Sw3::SelfTestFailed.classify(),
            Some((ErrorCode::HardwareError, ActionHint::Reset))
        );
        assert_eq!(
            Sw3::NotAuthorised.classify(),
            Some((ErrorCode::HardwareError, ActionHint::Engineer))
        );
        assert_eq!(
            Sw3::ReadFailed.classify(),
            Some((ErrorCode::UserError, ActionHint::Retry))
        );
        assert_eq!(
            Sw3::SamAuthenticatingCardFailed.classify(),
            Some((ErrorCode::InvalidData, ActionHint::Staff))
        );
    }
}
