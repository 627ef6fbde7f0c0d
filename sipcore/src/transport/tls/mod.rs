//! TLS configuration with rustls and the `ring` provider, from PEM files or
//! bytes; a client trusts CA certificates, or pins the server's certificate
//! by its SHA-256 fingerprint ([`client_config_pinned`]), or both.

mod fingerprint;
mod pin;

pub use fingerprint::Fingerprint;
pub use pin::NotPinned;

use super::TransportError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn material(e: impl std::fmt::Display) -> TransportError {
    TransportError::TlsMaterial(e.to_string())
}

/// A server config from a PEM certificate chain and private key.
pub fn server_config_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<rustls::ServerConfig>, TransportError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem).collect::<Result<Vec<_>, _>>().map_err(material)?;
    if certs.is_empty() {
        return Err(material("no certificate in PEM"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(material)?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// A server config from PEM files.
pub fn server_config_from_files(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TransportError> {
    server_config_from_pem(&std::fs::read(cert)?, &std::fs::read(key)?)
}

/// The SHA-256 fingerprint of the first certificate in a PEM chain: the one
/// a server presents, and a client pins.
pub fn fingerprint_of_pem(cert_pem: &[u8]) -> Result<Fingerprint, TransportError> {
    let first = CertificateDer::pem_slice_iter(cert_pem).next().ok_or_else(|| material("no certificate in PEM"))?;
    Ok(Fingerprint::of(&first.map_err(material)?))
}

fn roots(ca_pem: &[u8]) -> Result<Arc<rustls::RootCertStore>, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.map_err(material)?)?;
    }
    if roots.is_empty() {
        return Err(material("no CA certificate in PEM"));
    }
    Ok(Arc::new(roots))
}

/// A client config trusting the given PEM CA certificates.
pub fn client_config_from_pem(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca_pem)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client config that accepts exactly the server certificate whose SHA-256
/// fingerprint is `pinned` (self-signed or not; the server's name is not
/// checked) and refuses any other with [`NotPinned`]. With `ca_pem` the
/// certificate must also chain to one of those CAs and name the server.
pub fn client_config_pinned(pinned: Fingerprint, ca_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let chain = match ca_pem {
        Some(pem) => Some(rustls::client::WebPkiServerVerifier::builder_with_provider(roots(pem)?, provider()).build().map_err(material)?),
        None => None,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(pin::PinnedVerifier::new(pinned, chain)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// What a failed client handshake says: the certificate that was not the
/// pinned one, rustls' own word, or the socket's error.
pub(super) fn handshake_error(e: std::io::Error) -> TransportError {
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) else {
        return e.into();
    };
    if let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) = tls
        && let Some(not_pinned) = other.0.downcast_ref::<NotPinned>()
    {
        return TransportError::NotPinned(not_pinned.clone());
    }
    TransportError::Tls(tls.clone())
}

/// The name a TLS client checks the server certificate against.
pub fn server_name(name: &str) -> Result<ServerName<'static>, TransportError> {
    ServerName::try_from(name.to_owned()).map_err(material)
}
