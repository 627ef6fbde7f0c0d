//! The certificate `tls:` listeners serve: the configured one (`tls_cert` and
//! `tls_key`), or else the switch's own, self-signed and generated into the
//! data dir on the first start that needs it, then reused, so a phone that
//! pinned its fingerprint keeps trusting it across restarts.
//!
//! The generated certificate names the domain (subject CN and
//! subjectAltName), has an ECDSA P-256 key and is valid from 1975 to 4096:
//! nothing reads the clock, and a pinned certificate never expires under a
//! phone that cannot be reconfigured. Phones trust it by its SHA-256
//! fingerprint (logged at every start), or by its file as their CA when they
//! reach the switch by the domain. The key file is written with mode 0600, and
//! the certificate file last: a start that died in between finds no
//! certificate and generates both again (nothing can have pinned it yet).

use crate::Error;
use sipcore::transport::tls::{self, Fingerprint};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The generated certificate, in the data dir.
pub const CERT_FILE: &str = "tls-cert.pem";
/// Its private key, in the data dir (mode 0600).
pub const KEY_FILE: &str = "tls-key.pem";

/// What `tls:` listeners serve.
#[derive(Debug, Clone)]
pub struct ServerCert {
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the (leaf) certificate, as phones pin it.
    pub fingerprint: Fingerprint,
    /// The certificate's file.
    pub cert: PathBuf,
    /// Its key's.
    pub key: PathBuf,
    /// The switch's own, self-signed certificate (not one configured).
    pub self_signed: bool,
    /// Made on this start.
    pub created: bool,
}

/// The configured certificate and key when both are given, else the switch's
/// own in `data_dir`, generated for `domain` if it is not there yet.
pub fn server_cert(configured: Option<(&Path, &Path)>, data_dir: &Path, domain: &str) -> crate::Result<ServerCert> {
    let (cert, key, self_signed, created) = match configured {
        Some((cert, key)) => (cert.to_path_buf(), key.to_path_buf(), false, false),
        None => {
            let (cert, key) = (data_dir.join(CERT_FILE), data_dir.join(KEY_FILE));
            let created = !cert.exists();
            if created {
                generate(&cert, &key, domain)?;
            }
            (cert, key, true, created)
        }
    };
    let read = |path: &Path| std::fs::read(path).map_err(|e| Error::Config(format!("reading {}: {e}", path.display())));
    let (cert_pem, key_pem) = (read(&cert)?, read(&key)?);
    let material = |e: sipcore::transport::TransportError| Error::Config(format!("TLS certificate {}: {e}", cert.display()));
    Ok(ServerCert {
        config: tls::server_config_from_pem(&cert_pem, &key_pem).map_err(material)?,
        fingerprint: tls::fingerprint_of_pem(&cert_pem).map_err(material)?,
        cert,
        key,
        self_signed,
        created,
    })
}

/// Is the key file readable by anyone but its owner?
pub fn key_exposed(key: &Path) -> bool {
    std::fs::metadata(key).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

/// A self-signed certificate for `domain`: the key first, the certificate
/// last (its presence says both are whole).
fn generate(cert: &Path, key: &Path, domain: &str) -> crate::Result<()> {
    let bad = |e: rcgen::Error| Error::Config(format!("generating a TLS certificate for {domain:?}: {e}"));
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()]).map_err(bad)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, domain);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key_pair = rcgen::KeyPair::generate().map_err(bad)?;
    let certificate = params.self_signed(&key_pair).map_err(bad)?;
    write_new(key, key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert, certificate.pem().as_bytes(), 0o644)
}

/// Writes `path` whole, with `mode` from its creation on: into a temporary
/// file beside it, synced, then renamed into place.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> crate::Result<()> {
    let io = |source| Error::Io { what: "writing the generated TLS certificate", source };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused_with_a_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = server_cert(None, dir.path(), "switch.local").unwrap();
        assert!(first.self_signed && first.created);
        assert_eq!(first.cert, dir.path().join(CERT_FILE));
        let key = dir.path().join(KEY_FILE);
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!key_exposed(&key));
        let pem = std::fs::read(&first.cert).unwrap();
        assert_eq!(tls::fingerprint_of_pem(&pem).unwrap(), first.fingerprint);

        let again = server_cert(None, dir.path(), "other.domain").unwrap();
        assert!(again.self_signed && !again.created);
        assert_eq!(again.fingerprint, first.fingerprint, "reused, not regenerated");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");

        // A start that died between the key and the certificate: made again.
        std::fs::remove_file(&first.cert).unwrap();
        let redone = server_cert(None, dir.path(), "switch.local").unwrap();
        assert!(redone.created);
        assert_ne!(redone.fingerprint, first.fingerprint);
        // A certificate whose key is gone is an error, not a new identity.
        std::fs::remove_file(&key).unwrap();
        let err = server_cert(None, dir.path(), "switch.local").unwrap_err().to_string();
        assert!(err.contains(KEY_FILE), "{err}");
        std::fs::set_permissions(&redone.cert, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&key, "x").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(key_exposed(&key));
    }

    #[test]
    fn a_configured_certificate_is_served_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["voip.example.net".to_owned()]).unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
        let data = dir.path().join("data");
        let served = server_cert(Some((&cert, &key)), &data, "switch.local").unwrap();
        assert!(!served.self_signed && !served.created);
        assert_eq!(served.fingerprint, Fingerprint::of(made.cert.der()));
        assert!(!data.join(CERT_FILE).exists(), "nothing generated");
    }
}
