//! The card photo is a 1024-byte WLT image (a proprietary wavelet format). Only the vendors'
//! licensed libraries decode it (`WltRS.dll`, `libwltdecode`, a Linux `.so`), and none is bundled:
//! the kiosk keeps the bytes, and a deployment that has a vendor library implements this trait
//! around it.

/// Width of a decoded card photo.
pub const PHOTO_WIDTH: u32 = 102;
/// Height of a decoded card photo.
pub const PHOTO_HEIGHT: u32 = 126;

/// Turns the card's WLT photo into pixels.
pub trait PhotoDecoder: Send + Sync {
    /// Decodes `wlt` into 102×126 pixels, 8-bit RGB, row by row from the top.
    fn decode(&self, wlt: &[u8]) -> Result<Vec<u8>, PhotoDecodeError>;
}

/// Why a photo could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("photo could not be decoded: {0}")]
pub struct PhotoDecodeError(pub String);
