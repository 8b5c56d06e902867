//! The sample catalogue, signed with the development key, and the trust store that accepts it:
//! what the kiosk runs on in simulated mode and what the tests use. Only public data is here;
//! the development secret key stays a file of this crate's `sample/` directory.

/// The sample catalogue's JSON text (`sample/catalogue.json`).
pub const CATALOGUE: &str = include_str!("../sample/catalogue.json");

/// The sample catalogue signed with the development key (`sample/catalogue.signed.json`).
pub const SIGNED: &str = include_str!("../sample/catalogue.signed.json");

/// The trust store holding the development key (`sample/trusted-keys.json`).
pub const TRUSTED_KEYS: &str = include_str!("../sample/trusted-keys.json");

/// The sample catalogue's terminals: hall terminals offer every item, a bank-lobby one fewer.
pub const HALL_TERMINAL: &str = "10001";

/// A bank-lobby terminal of the sample authorisations.
pub const LOBBY_TERMINAL: &str = "20001";

/// The development trust store.
pub fn trust() -> crate::TrustStore {
    serde_json::from_str(TRUSTED_KEYS).unwrap_or_default()
}

/// The sample catalogue, parsed.
pub fn catalogue() -> Result<crate::Catalogue, crate::CatalogueError> {
    crate::signed::parse(CATALOGUE)
}
