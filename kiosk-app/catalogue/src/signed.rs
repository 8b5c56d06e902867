//! The signed catalogue as it travels from the central office: an envelope holding the exact
//! catalogue text and a signature over it, so that what is verified is byte for byte what is
//! parsed. Ed25519 by default; SM2 (GB/T 32918, with the default distinguishing id) for
//! deployments that must use 商用密码.

use crate::model::Catalogue;
use crate::validate::Problems;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::path::Path;
use zeroize::Zeroizing;

/// The envelope format written and read.
pub const ENVELOPE: &str = "kiosk-catalogue/1";

/// Signatures are over this prefix and the catalogue text, so a catalogue signature is never
/// taken for anything else.
const DOMAIN: &[u8] = b"kiosk-catalogue/1\0";

/// The envelope of a signed terminal configuration.
pub const CONFIG_ENVELOPE: &str = "kiosk-config/1";

/// The configuration's signing prefix: a catalogue signature does not verify as a configuration.
const CONFIG_DOMAIN: &[u8] = b"kiosk-config/1\0";

/// A terminal configuration published by the central office: a version (newer replaces older)
/// and settings the kiosk reads by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteConfig {
    /// Its version.
    pub version: u64,
    /// Every other setting.
    #[serde(flatten)]
    pub settings: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The SM2 distinguishing id (GB/T 35276 default).
const SM2_ID: &str = "1234567812345678";

/// A signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Ed25519 (RFC 8032).
    Ed25519,
    /// SM2 with SM3 (GB/T 32918).
    Sm2,
}

/// A signed catalogue as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// [`ENVELOPE`].
    pub envelope: String,
    /// How it is signed.
    pub algorithm: Algorithm,
    /// Which key signed it.
    pub key_id: String,
    /// The signature, base64.
    pub signature: String,
    /// The catalogue's JSON text (a configuration's, in a [`CONFIG_ENVELOPE`]), exactly as
    /// signed.
    pub catalogue: String,
}

/// Why a catalogue is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The envelope is not one.
    #[error("not a signed catalogue: {0}")]
    Envelope(String),
    /// Signed by a key this kiosk does not trust.
    #[error("signed by key `{0}`, which this kiosk does not trust")]
    UnknownKey(String),
    /// The signature does not match the text.
    #[error("the signature does not match the catalogue: it was altered or signed by another key")]
    BadSignature,
    /// The text is not a catalogue.
    #[error("the catalogue cannot be read: {0}")]
    Malformed(String),
    /// The catalogue is not whole.
    #[error("the catalogue is invalid: {0}")]
    Invalid(Problems),
    /// Not newer than the installed one.
    #[error("version {offered} is not newer than the installed version {installed}")]
    NotNewer {
        /// Installed version.
        installed: u64,
        /// Offered version.
        offered: u64,
    },
    /// A key file is unusable.
    #[error("key file {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A key that signs catalogues, held by the central office.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyFile {
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// Its id, named in each envelope.
    pub key_id: String,
    /// The 32-byte secret, base64.
    pub secret: String,
}

/// A key a kiosk trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// Its id.
    pub key_id: String,
    /// The public key, base64 (32 bytes for Ed25519, 65 uncompressed for SM2).
    pub public: String,
}

/// The keys a kiosk accepts catalogues from (a JSON array of [`PublicKey`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrustStore(pub Vec<PublicKey>);

impl TrustStore {
    /// Reads a trust store file.
    pub fn load(path: &Path) -> Result<Self, CatalogueError> {
        let bytes = std::fs::read(path)?;
        serde_json::from_slice(&bytes).map_err(|e| CatalogueError::Key {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }
}

/// A signing key in memory; its secret is wiped when dropped.
pub struct SigningKey {
    algorithm: Algorithm,
    key_id: String,
    secret: Zeroizing<[u8; 32]>,
}

impl SigningKey {
    /// A new random key.
    pub fn generate(algorithm: Algorithm, key_id: &str) -> Result<Self, CatalogueError> {
        loop {
            let mut secret = Zeroizing::new([0u8; 32]);
            getrandom::fill(secret.as_mut()).map_err(|e| CatalogueError::Io(e.into()))?;
            let key = SigningKey {
                algorithm,
                key_id: key_id.to_owned(),
                secret,
            };
            // An SM2 secret must be below the group order; retry in the rare case it is not.
            if key.public().is_ok() {
                return Ok(key);
            }
        }
    }

    /// Reads a secret key file.
    pub fn load(path: &Path) -> Result<Self, CatalogueError> {
        let bad = |reason: String| CatalogueError::Key {
            path: path.display().to_string(),
            reason,
        };
        let text = Zeroizing::new(std::fs::read(path)?);
        let file: SecretKeyFile = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        let bytes = Zeroizing::new(B64.decode(&file.secret).map_err(|e| bad(e.to_string()))?);
        let secret: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad("the secret is not 32 bytes".into()))?;
        let key = SigningKey {
            algorithm: file.algorithm,
            key_id: file.key_id,
            secret: Zeroizing::new(secret),
        };
        key.public()
            .map_err(|_| bad("not a valid secret key".into()))?;
        Ok(key)
    }

    /// The file form of this key.
    pub fn to_file(&self) -> SecretKeyFile {
        SecretKeyFile {
            algorithm: self.algorithm,
            key_id: self.key_id.clone(),
            secret: B64.encode(self.secret.as_ref()),
        }
    }

    /// The public half, for the kiosks' trust store.
    pub fn public(&self) -> Result<PublicKey, CatalogueError> {
        let public = match self.algorithm {
            Algorithm::Ed25519 => ed25519_dalek::SigningKey::from_bytes(&self.secret)
                .verifying_key()
                .to_bytes()
                .to_vec(),
            Algorithm::Sm2 => sm2_signing_key(&self.secret)?
                .verifying_key()
                .to_sec1_bytes()
                .to_vec(),
        };
        Ok(PublicKey {
            algorithm: self.algorithm,
            key_id: self.key_id.clone(),
            public: B64.encode(public),
        })
    }

    /// Signs a catalogue's JSON text.
    pub fn sign(&self, catalogue_json: &str) -> Result<Envelope, CatalogueError> {
        self.sign_as(ENVELOPE, DOMAIN, catalogue_json)
    }

    /// Signs a terminal configuration's JSON text.
    pub fn sign_config(&self, config_json: &str) -> Result<Envelope, CatalogueError> {
        self.sign_as(CONFIG_ENVELOPE, CONFIG_DOMAIN, config_json)
    }

    fn sign_as(&self, kind: &str, domain: &[u8], text: &str) -> Result<Envelope, CatalogueError> {
        let message = [domain, text.as_bytes()].concat();
        let signature = match self.algorithm {
            Algorithm::Ed25519 => {
                use ed25519_dalek::Signer as _;
                let key = ed25519_dalek::SigningKey::from_bytes(&self.secret);
                key.sign(&message).to_bytes().to_vec()
            }
            Algorithm::Sm2 => {
                use sm2::dsa::signature::Signer as _;
                let sig: sm2::dsa::Signature = sm2_signing_key(&self.secret)?.sign(&message);
                sig.to_bytes().to_vec()
            }
        };
        Ok(Envelope {
            envelope: kind.to_owned(),
            algorithm: self.algorithm,
            key_id: self.key_id.clone(),
            signature: B64.encode(signature),
            catalogue: text.to_owned(),
        })
    }
}

fn sm2_signing_key(secret: &[u8; 32]) -> Result<sm2::dsa::SigningKey, CatalogueError> {
    let secret = sm2::SecretKey::from_slice(secret).map_err(|_| CatalogueError::BadSignature)?;
    sm2::dsa::SigningKey::new(SM2_ID, &secret).map_err(|_| CatalogueError::BadSignature)
}

/// Opens a signed catalogue: checks the envelope and signature against `trust`, parses the
/// catalogue and validates it. Nothing unverified is parsed as a catalogue.
pub fn open(bytes: &[u8], trust: &TrustStore) -> Result<Catalogue, CatalogueError> {
    parse(&verify(bytes, trust, ENVELOPE, DOMAIN)?)
}

/// Opens a signed terminal configuration the same way.
pub fn open_config(bytes: &[u8], trust: &TrustStore) -> Result<RemoteConfig, CatalogueError> {
    let text = verify(bytes, trust, CONFIG_ENVELOPE, CONFIG_DOMAIN)?;
    serde_json::from_str(&text).map_err(|e| CatalogueError::Malformed(e.to_string()))
}

/// Checks an envelope of `kind` and its signature; returns the signed text.
fn verify(
    bytes: &[u8],
    trust: &TrustStore,
    kind: &str,
    domain: &[u8],
) -> Result<String, CatalogueError> {
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|e| CatalogueError::Envelope(e.to_string()))?;
    if envelope.envelope != kind {
        return Err(CatalogueError::Envelope(format!(
            "envelope `{}` is not `{kind}`",
            envelope.envelope
        )));
    }
    let key = trust
        .0
        .iter()
        .find(|k| k.key_id == envelope.key_id && k.algorithm == envelope.algorithm)
        .ok_or_else(|| CatalogueError::UnknownKey(envelope.key_id.clone()))?;
    let public = B64
        .decode(&key.public)
        .map_err(|_| CatalogueError::UnknownKey(key.key_id.clone()))?;
    let signature = B64
        .decode(&envelope.signature)
        .map_err(|_| CatalogueError::BadSignature)?;
    let message = [domain, envelope.catalogue.as_bytes()].concat();
    let verified = match envelope.algorithm {
        Algorithm::Ed25519 => {
            let public: [u8; 32] = public
                .as_slice()
                .try_into()
                .map_err(|_| CatalogueError::UnknownKey(key.key_id.clone()))?;
            let signature = ed25519_dalek::Signature::from_slice(&signature)
                .map_err(|_| CatalogueError::BadSignature)?;
            ed25519_dalek::VerifyingKey::from_bytes(&public)
                .map_err(|_| CatalogueError::UnknownKey(key.key_id.clone()))?
                .verify_strict(&message, &signature)
                .is_ok()
        }
        Algorithm::Sm2 => {
            use sm2::dsa::signature::Verifier as _;
            let public = sm2::PublicKey::from_sec1_bytes(&public)
                .map_err(|_| CatalogueError::UnknownKey(key.key_id.clone()))?;
            let signature = sm2::dsa::Signature::from_slice(&signature)
                .map_err(|_| CatalogueError::BadSignature)?;
            sm2::dsa::VerifyingKey::new(SM2_ID, public)
                .map_err(|_| CatalogueError::BadSignature)?
                .verify(&message, &signature)
                .is_ok()
        }
    };
    if !verified {
        return Err(CatalogueError::BadSignature);
    }
    Ok(envelope.catalogue)
}

/// Parses and validates a catalogue's JSON text (unsigned: for `kioskctl catalog validate`).
pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
    let catalogue: Catalogue =
        serde_json::from_str(text).map_err(|e| CatalogueError::Malformed(e.to_string()))?;
    catalogue.validate().map_err(CatalogueError::Invalid)?;
    Ok(catalogue)
}
