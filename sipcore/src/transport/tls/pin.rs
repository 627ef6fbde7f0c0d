//! A client that accepts exactly one server certificate, named by its SHA-256
//! fingerprint: a self-signed certificate (the switch's generated one) is as
//! good as any, the server's name is not checked (the fingerprint names the
//! certificate itself), and every other certificate is refused, with the
//! fingerprint it had. The handshake's signatures are still verified against
//! the certificate's key, so presenting the pinned certificate without its
//! private key fails. With a CA as well, the certificate must also chain to it
//! and name the server.

use super::{Fingerprint, provider};
use rustls::DigitallySignedStruct;
use rustls::SignatureScheme;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;

/// The server presented another certificate than the pinned one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server's certificate has SHA-256 fingerprint {presented}, not the pinned {pinned}")]
pub struct NotPinned {
    /// The fingerprint asked for.
    pub pinned: Fingerprint,
    /// The fingerprint of what the server presented.
    pub presented: Fingerprint,
}

#[derive(Debug)]
pub(super) struct PinnedVerifier {
    pub(super) pinned: Fingerprint,
    /// A CA the certificate must chain to as well.
    pub(super) chain: Option<Arc<WebPkiServerVerifier>>,
    pub(super) algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedVerifier {
    pub(super) fn new(pinned: Fingerprint, chain: Option<Arc<WebPkiServerVerifier>>) -> Self {
        Self { pinned, chain, algorithms: provider().signature_verification_algorithms }
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = Fingerprint::of(end_entity);
        if presented != self.pinned {
            let why = NotPinned { pinned: self.pinned, presented };
            return Err(rustls::CertificateError::Other(rustls::OtherError(Arc::new(why))).into());
        }
        match &self.chain {
            Some(chain) => chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
