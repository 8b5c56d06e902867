//! Mutual TLS for both ends, on rustls with the *ring* provider: TLS 1.3 and 1.2, the
//! development CA (or the province's) as the only root, a client certificate required.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// Why TLS cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing or unreadable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the set-up.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built.
    #[error("client verifier: {0}")]
    Verifier(String),
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The certificates in a PEM file (a chain: leaf first).
pub fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(path, e))?;
    if certs.is_empty() {
        return Err(bad(path, "no certificate in the file"));
    }
    Ok(certs)
}

/// When the first certificate in a PEM file stops being valid, seconds since the epoch (for
/// the maintenance menu and the heartbeat: a certificate about to expire is a call-out).
pub fn not_after_s(path: &Path) -> Result<i64, TlsError> {
    let first = certs(path)?
        .into_iter()
        .next()
        .ok_or_else(|| bad(path, "no certificate"))?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(first.as_ref()).map_err(|e| bad(path, e))?;
    Ok(cert.validity().not_after.timestamp())
}

/// The private key in a PEM file.
pub fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| bad(path, e))
}

/// The revocation lists in a PEM file; a missing file is an empty list.
pub fn crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    CertificateRevocationListDer::pem_file_iter(path)
        .map_err(|e| bad(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(path, e))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(ca)? {
        roots.add(cert)?;
    }
    Ok(roots)
}

/// The kiosk's side: trusts only `ca`, presents `cert` with `key`.
pub fn client_config(ca: &Path, cert: &Path, key_path: &Path) -> Result<ClientConfig, TlsError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca)?)
        .with_client_auth_cert(certs(cert)?, key(key_path)?)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The server's side: requires a client certificate issued by `ca` and not in `crls`.
pub fn server_config(
    ca: &Path,
    cert: &Path,
    key_path: &Path,
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<ServerConfig, TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
        .with_crls(crls)
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(cert)?, key(key_path)?)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
