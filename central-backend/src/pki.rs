//! A small PKI for development and tests: a CA, the server's certificate, kiosk and reviewer
//! certificates, and a revocation list. Production fleets use the province's CA; the backend
//! only needs `ca.pem`, its own pair, and `crl.pem`.
//!
//! A kiosk certificate's common name is its five-digit terminal number, which is the device's
//! identity on every request; a reviewer's is `reviewer-NAME`.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SerialNumber,
};
use rustls::pki_types::pem::PemObject as _;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// Why a PKI step failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Generating or signing failed.
    #[error("certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The request makes no sense.
    #[error("{0}")]
    Invalid(String),
}

/// The PKI directory's files.
pub struct Pki {
    dir: PathBuf,
}

/// How long certificates are valid, and from when (tests backdate to make expired ones).
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    /// Days valid.
    pub days: i64,
    /// Days before today the validity starts.
    pub backdate_days: i64,
}

impl Default for Validity {
    fn default() -> Self {
        Validity {
            days: 365,
            backdate_days: 0,
        }
    }
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), PkiError> {
    durable_fs::write_atomic(path, text.as_bytes()).map_err(|source| PkiError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    // Only fails when the kernel has no entropy source at all; a zero serial is still unique
    // enough for a development CA, and the time is mixed in below.
    let _ = getrandom::fill(&mut bytes);
    bytes[..8]
        .iter_mut()
        .zip((OffsetDateTime::now_utc().unix_timestamp_nanos() as u64).to_be_bytes())
        .for_each(|(b, t)| *b ^= t);
    bytes[0] &= 0x7f; // a positive serial
    SerialNumber::from_slice(&bytes)
}

fn params(
    common_name: &str,
    sans: Vec<String>,
    validity: Validity,
) -> Result<CertificateParams, PkiError> {
    let mut p = CertificateParams::new(sans)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "政务服务自助终端 (development)");
    p.distinguished_name = dn;
    let start = OffsetDateTime::now_utc() - Duration::days(validity.backdate_days);
    p.not_before = start;
    p.not_after = start + Duration::days(validity.days);
    p.serial_number = Some(random_serial());
    Ok(p)
}

impl Pki {
    /// The PKI in `dir`.
    pub fn new(dir: &Path) -> Self {
        Pki {
            dir: dir.to_owned(),
        }
    }

    /// `ca.pem`.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }
    /// `server.pem`.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    /// `server.key`.
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    /// `crl.pem`: the revocation list (absent until something is revoked).
    pub fn crl(&self) -> PathBuf {
        self.dir.join("crl.pem")
    }
    fn revoked(&self) -> PathBuf {
        self.dir.join("revoked.json")
    }

    /// Creates the CA and a server certificate for 127.0.0.1 and localhost. An existing CA is
    /// never replaced: every kiosk certificate hangs on it.
    pub fn init(&self) -> Result<(), PkiError> {
        durable_fs::create_dir_all(&self.dir).map_err(|source| PkiError::Io {
            path: self.dir.display().to_string(),
            source,
        })?;
        if self.ca_cert().exists() {
            return Err(PkiError::Invalid(format!(
                "{} already holds a CA; it is never replaced",
                self.dir.display()
            )));
        }
        let key = KeyPair::generate()?;
        let mut p = params(
            "Kiosk development CA",
            Vec::new(),
            Validity {
                days: 3650,
                backdate_days: 0,
            },
        )?;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = p.self_signed(&key)?;
        write(&self.ca_key(), &key.serialize_pem())?;
        restrict(&self.ca_key())?;
        write(&self.ca_cert(), &cert.pem())?;
        let (cert, key) = self.leaf(
            "localhost",
            vec!["127.0.0.1".into(), "localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
            Validity::default(),
        )?;
        write(&self.server_cert(), &cert)?;
        write(&self.server_key(), &key)?;
        restrict(&self.server_key())?;
        Ok(())
    }

    /// Issues a client certificate with this common name, as `NAME.pem` and `NAME.key`.
    pub fn issue(&self, name: &str, validity: Validity) -> Result<(PathBuf, PathBuf), PkiError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(PkiError::Invalid(format!(
                "`{name}` is not a device id (letters, digits, - and _)"
            )));
        }
        let (cert, key) = self.leaf(
            name,
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
            validity,
        )?;
        let cert_path = self.dir.join(format!("{name}.pem"));
        let key_path = self.dir.join(format!("{name}.key"));
        // The key first: a reader that sees the new certificate finds its key already there.
        write(&key_path, &key)?;
        restrict(&key_path)?;
        write(&cert_path, &cert)?;
        Ok((cert_path, key_path))
    }

    fn leaf(
        &self,
        common_name: &str,
        sans: Vec<String>,
        usage: ExtendedKeyUsagePurpose,
        validity: Validity,
    ) -> Result<(String, String), PkiError> {
        let ca_key = KeyPair::from_pem(&read(&self.ca_key())?)?;
        let issuer = Issuer::from_ca_cert_pem(&read(&self.ca_cert())?, ca_key)?;
        let key = KeyPair::generate()?;
        let mut p = params(common_name, sans, validity)?;
        p.extended_key_usages = vec![usage];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.use_authority_key_identifier_extension = true;
        let cert = p.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Revokes the certificate in `cert` and rewrites `crl.pem` (the server reloads it for new
    /// connections).
    pub fn revoke(&self, cert: &Path) -> Result<String, PkiError> {
        let pem = read(cert)?;
        let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| PkiError::Invalid(format!("{}: {e}", cert.display())))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| PkiError::Invalid(format!("{}: {e}", cert.display())))?;
        let serial = hex::encode(parsed.raw_serial());
        let mut revoked: Vec<String> = match std::fs::read(self.revoked()) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| PkiError::Invalid(format!("revoked.json: {e}")))?,
            Err(_) => Vec::new(),
        };
        if !revoked.contains(&serial) {
            revoked.push(serial.clone());
        }
        let now = OffsetDateTime::now_utc();
        let crl = CertificateRevocationListParams {
            this_update: now - Duration::minutes(5),
            next_update: now + Duration::days(7),
            crl_number: SerialNumber::from_slice(&(now.unix_timestamp() as u64).to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .filter_map(|s| hex::decode(s).ok())
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&s),
                    revocation_time: now - Duration::minutes(5),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let ca_key = KeyPair::from_pem(&read(&self.ca_key())?)?;
        let issuer = Issuer::from_ca_cert_pem(&read(&self.ca_cert())?, ca_key)?;
        let crl = crl.signed_by(&issuer)?;
        write(
            &self.revoked(),
            &serde_json::to_string(&revoked).unwrap_or_default(),
        )?;
        write(&self.crl(), &crl.pem()?)?;
        Ok(serial)
    }
}

fn restrict(path: &Path) -> Result<(), PkiError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        PkiError::Io {
            path: path.display().to_string(),
            source,
        }
    })
}
