//! Encryption at rest.
//!
//! One 32-byte master key comes from a [`KeySource`]: a root-only key file by default, or a TPM
//! or other hardware that unseals it (implement the trait). Three keys are derived from it with
//! HKDF-SHA256, one per purpose: sealing records and pages (AES-256-GCM, or SM4-GCM where 商用密码
//! is required), the keyed hash that lets the store find a citizen's applications by ID number
//! without keeping the number, and the MAC of the audit chain. Every key is wiped when dropped.
//!
//! A sealed blob is `version (1) ‖ cipher (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`, bound by its
//! associated data to where it belongs (an application number, a page's file name), so that a
//! blob copied into another row does not open.

use crate::StoreError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{AesGcm, Nonce};
use hmac::Mac;
use ring::aead;
use sha2::Sha256;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

type Sm4Gcm = AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>;
type HmacSha256 = hmac::Hmac<Sha256>;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Version, cipher and nonce.
const HEADER_LEN: usize = 2 + NONCE_LEN;

/// The AEAD used for new blobs; either one is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cipher {
    /// AES-256-GCM.
    #[default]
    Aes256Gcm,
    /// SM4-GCM (GB/T 32907 in GCM mode), for 商用密码 deployments.
    Sm4Gcm,
}

impl Cipher {
    /// Its one-byte id, as written in each sealed blob and in the store's settings.
    pub fn id(self) -> u8 {
        match self {
            Cipher::Aes256Gcm => 1,
            Cipher::Sm4Gcm => 2,
        }
    }

    /// The cipher with this id.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Cipher::Aes256Gcm),
            2 => Some(Cipher::Sm4Gcm),
            _ => None,
        }
    }
}

/// The store's master key.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(Zeroizing::new(bytes))
    }
}

/// Where the master key comes from.
pub trait KeySource {
    /// The master key.
    fn master_key(&self) -> Result<MasterKey, StoreError>;
}

/// A key file readable by its owner only: 32 raw bytes, mode 0600 or 0400, owned by the user the
/// kiosk runs as (root in production, where the file is `/etc/kiosk/store.key`).
pub struct KeyFile(pub PathBuf);

impl KeyFile {
    /// Creates a new random key file; refuses to overwrite one, since that would make every
    /// sealed record unreadable.
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|e| StoreError::Io(e.into()))?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(key.as_ref())?;
        file.sync_all()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            durable_fs::sync_dir(dir)?;
        }
        Ok(KeyFile(path.to_owned()))
    }
}

impl KeySource for KeyFile {
    fn master_key(&self) -> Result<MasterKey, StoreError> {
        let bad = |reason: &str| StoreError::Key(format!("{}: {reason}", self.0.display()));
        let meta = std::fs::metadata(&self.0).map_err(|e| bad(&e.to_string()))?;
        if meta.mode() & 0o077 != 0 {
            return Err(bad(&format!(
                "mode {:o} lets others read it; it must be 600 or 400",
                meta.mode() & 0o777
            )));
        }
        if meta.uid() != nix::unistd::geteuid().as_raw() {
            return Err(bad("it belongs to another user"));
        }
        let bytes = Zeroizing::new(std::fs::read(&self.0)?);
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad("it is not a 32-byte key"))?;
        Ok(MasterKey::from_bytes(key))
    }
}

/// The keys derived from the master key.
pub struct Keys {
    cipher: Cipher,
    seal: Zeroizing<[u8; 32]>,
    lookup: Zeroizing<[u8; 32]>,
    audit: Zeroizing<[u8; 32]>,
    rows: Zeroizing<[u8; 32]>,
}

impl Keys {
    /// Derives the purpose keys; new blobs are sealed with `cipher`.
    pub fn derive(master: &MasterKey, cipher: Cipher) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"kiosk-store/1"), master.0.as_ref());
        let derive = |info: &[u8]| {
            let mut k = Zeroizing::new([0u8; 32]);
            // 32 bytes is far below HKDF-SHA256's limit of 8160, so expand cannot fail.
            let _ = hk.expand(info, k.as_mut());
            k
        };
        Keys {
            cipher,
            seal: derive(b"seal"),
            lookup: derive(b"lookup"),
            audit: derive(b"audit"),
            rows: derive(b"rows"),
        }
    }

    /// Seals `plain`, bound to `context`.
    pub fn seal(&self, plain: &[u8], context: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| StoreError::Io(e.into()))?;
        let failed = || StoreError::Sealed("encryption failed".into());
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
        out.extend([VERSION, self.cipher.id()]);
        out.extend(nonce);
        match self.cipher {
            Cipher::Aes256Gcm => {
                // Sealed in place: the plain text is copied once, and wiped if sealing fails.
                out.extend_from_slice(plain);
                let sealed = self.aes().seal_in_place_separate_tag(
                    aead::Nonce::assume_unique_for_key(nonce),
                    aead::Aad::from(context),
                    &mut out[HEADER_LEN..],
                );
                match sealed {
                    Ok(tag) => out.extend_from_slice(tag.as_ref()),
                    Err(_) => {
                        zeroize::Zeroize::zeroize(&mut out);
                        return Err(failed());
                    }
                }
            }
            Cipher::Sm4Gcm => {
                let payload = Payload {
                    msg: plain,
                    aad: context,
                };
                out.extend(
                    self.sm4()
                        .encrypt(&Nonce::from(nonce), payload)
                        .map_err(|_| failed())?,
                );
            }
        }
        Ok(out)
    }

    /// Opens a blob sealed by [`Keys::seal`] with the same `context`.
    pub fn open(&self, blob: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let bad = || {
            StoreError::Sealed(format!(
                "{} does not open: altered, misplaced or sealed with another key",
                String::from_utf8_lossy(context)
            ))
        };
        if blob.len() < HEADER_LEN + TAG_LEN || blob[0] != VERSION {
            return Err(bad());
        }
        let cipher = Cipher::from_id(blob[1]).ok_or_else(bad)?;
        let nonce: [u8; NONCE_LEN] = blob[2..HEADER_LEN].try_into().map_err(|_| bad())?;
        match cipher {
            Cipher::Aes256Gcm => {
                let mut plain = Zeroizing::new(blob[HEADER_LEN..].to_vec());
                let len = self
                    .aes()
                    .open_in_place(
                        aead::Nonce::assume_unique_for_key(nonce),
                        aead::Aad::from(context),
                        &mut plain,
                    )
                    .map_err(|_| bad())?
                    .len();
                plain.truncate(len);
                Ok(plain)
            }
            Cipher::Sm4Gcm => {
                let payload = Payload {
                    msg: &blob[HEADER_LEN..],
                    aad: context,
                };
                let plain = self
                    .sm4()
                    .decrypt(&Nonce::from(nonce), payload)
                    .map_err(|_| bad())?;
                Ok(Zeroizing::new(plain))
            }
        }
    }

    /// The keyed hash of an ID number: finds a citizen's records without storing the number.
    pub fn lookup_key(&self, id_number: &str) -> Vec<u8> {
        let normalised = id_number.trim().to_ascii_uppercase();
        self.mac(&self.lookup, &[normalised.as_bytes()])
    }

    /// The audit chain's MAC of one entry.
    pub fn audit_mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        self.mac(&self.audit, parts)
    }

    /// The MAC that binds a row's plain columns together (see the stored materials).
    pub fn row_mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        self.mac(&self.rows, parts)
    }

    fn mac(&self, key: &[u8; 32], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// AES-256-GCM from `ring`, which uses AES-NI, carry-less multiply and AVX where the CPU
    /// has them: several times faster than a portable implementation on a 15 MB submit.
    fn aes(&self) -> aead::LessSafeKey {
        let key = aead::UnboundKey::new(&aead::AES_256_GCM, &*self.seal)
            .unwrap_or_else(|_| unreachable!("AES-256 takes a 32-byte key"));
        aead::LessSafeKey::new(key)
    }

    fn sm4(&self) -> Sm4Gcm {
        // SM4 takes 128 bits: the first half of the sealing key.
        let mut k = Zeroizing::new([0u8; 16]);
        k.copy_from_slice(&self.seal[..16]);
        Sm4Gcm::new(&(*k).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_open_only_in_their_place_and_either_cipher_reads_both() {
        let master = MasterKey::from_bytes([7; 32]);
        for cipher in [Cipher::Aes256Gcm, Cipher::Sm4Gcm] {
            let keys = Keys::derive(&master, cipher);
            let blob = keys.seal(b"\xe5\xbc\xa0\xe4\xb8\x89", b"app:1").unwrap();
            assert_eq!(&**keys.open(&blob, b"app:1").unwrap(), "张三".as_bytes());
            assert!(keys.open(&blob, b"app:2").is_err(), "bound to its context");
            let other = Keys::derive(&master, Cipher::Aes256Gcm);
            assert_eq!(&**other.open(&blob, b"app:1").unwrap(), "张三".as_bytes());
            let mut flipped = blob.clone();
            *flipped.last_mut().unwrap() ^= 1;
            assert!(keys.open(&flipped, b"app:1").is_err());
        }
        let wrong = Keys::derive(&MasterKey::from_bytes([8; 32]), Cipher::Aes256Gcm);
        let blob = Keys::derive(&master, Cipher::Aes256Gcm)
            .seal(b"x", b"c")
            .unwrap();
        assert!(wrong.open(&blob, b"c").is_err());
    }

    /// Blobs sealed before the store used `ring` open, and the other way round: both are
    /// AES-256-GCM with a 12-byte nonce and the tag at the end.
    #[test]
    fn aes_blobs_are_standard_aes_256_gcm() {
        let keys = Keys::derive(&MasterKey::from_bytes([7; 32]), Cipher::Aes256Gcm);
        let portable = aes_gcm::Aes256Gcm::new(&(*keys.seal).into());
        let plain: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let blob = keys.seal(&plain, b"page").unwrap();
        let nonce = Nonce::from(<[u8; NONCE_LEN]>::try_from(&blob[2..HEADER_LEN]).unwrap());
        let opened = portable
            .decrypt(
                &nonce,
                Payload {
                    msg: &blob[HEADER_LEN..],
                    aad: b"page",
                },
            )
            .unwrap();
        assert_eq!(opened, plain);
        let sealed = portable
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: b"page",
                },
            )
            .unwrap();
        let old = [&blob[..HEADER_LEN], &sealed].concat();
        assert_eq!(old, blob);
        assert_eq!(&**keys.open(&old, b"page").unwrap(), &plain[..]);
        assert!(
            keys.open(&old[..HEADER_LEN + TAG_LEN - 1], b"page")
                .is_err()
        );
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.key");
        let file = KeyFile::create(&path).unwrap();
        assert!(file.master_key().is_ok());
        assert!(KeyFile::create(&path).is_err(), "never overwritten");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = file.master_key().err().unwrap().to_string();
        assert!(err.contains("mode 644"), "{err}");
    }
}
