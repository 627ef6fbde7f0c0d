//! TLS configuration with rustls and the `ring` provider, from PEM files or bytes.

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

/// A client config trusting the given PEM CA certificates.
pub fn client_config_from_pem(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.map_err(material)?)?;
    }
    if roots.is_empty() {
        return Err(material("no CA certificate in PEM"));
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name a TLS client checks the server certificate against.
pub fn server_name(name: &str) -> Result<ServerName<'static>, TransportError> {
    ServerName::try_from(name.to_owned()).map_err(material)
}
