//! TLS by default: a `tls:` listener with no certificate configured serves the
//! switch's own, generated into the data dir once (key file 0600) and reused
//! on restart, its SHA-256 fingerprint in the log; a configured certificate
//! is served as it is; no `tls:` listener, no certificate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, LogEvent, Switch, lab};
use sipcore::transport::tls::{self, Fingerprint};
use sipcore::transport::{Transport, TransportConfig};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// This run's "TLS certificate" event.
fn certificate_event(sw: &Switch) -> LogEvent {
    sw.wait_for_event("TLS certificate", &[], Duration::from_secs(5))
}

/// A TLS handshake with the switch's TLS listener, pinned to `pinned`: it
/// succeeds only if that is the certificate served.
fn handshake(sw: &Switch, pinned: Fingerprint) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (client, _events) = Transport::new(TransportConfig::default());
        let config = tls::client_config_pinned(pinned, None).unwrap();
        let opened = client.connect_tls(sw.listener("tls"), config, "switch.local").await.map(drop).map_err(|e| e.to_string());
        client.shutdown().await;
        opened
    })
}

fn fingerprint_of_file(path: &Path) -> Fingerprint {
    tls::fingerprint_of_pem(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_tls_listener_without_a_certificate_serves_the_switch_s_own_across_restarts() {
    let lab = lab();
    let mut sw = lab.start(&Config::default().listen(&["tcp:127.0.0.1:0", "tls:127.0.0.1:0"]));
    let (cert, key) = (lab.data.join("tls-cert.pem"), lab.data.join("tls-key.pem"));
    let generated = sw.wait_for_event("generated a self-signed TLS certificate", &[], Duration::from_secs(5));
    assert_eq!(generated.text("certificate"), cert.display().to_string());
    let logged = certificate_event(&sw);
    assert!(logged.is("TLS certificate", &[("self_signed", "true"), ("created", "true")]), "{logged}");
    assert_eq!(logged.text("certificate"), cert.display().to_string());
    let fingerprint = fingerprint_of_file(&cert);
    assert_eq!(logged.text("fingerprint"), fingerprint.to_string(), "the log says AB:CD:... of the file");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "the key is the owner's alone");
    handshake(&sw, fingerprint).unwrap();
    let other = Fingerprint::of(b"another certificate");
    let refused = handshake(&sw, other).unwrap_err();
    assert!(refused.contains(&format!("not the pinned {other}")), "{refused}");

    assert!(sw.terminate().success());
    sw.restart();
    let again = certificate_event(&sw);
    assert!(again.is("TLS certificate", &[("created", "false"), ("fingerprint", &fingerprint.to_string())]), "{again}");
    assert!(sw.events_where(|e| e.message() == "generated a self-signed TLS certificate").is_empty(), "made once");
    handshake(&sw, fingerprint).unwrap();
}

#[test]
fn a_configured_certificate_is_served_and_nothing_is_generated() {
    let lab = lab();
    let made = rcgen::generate_simple_self_signed(vec!["voip.example.net".to_owned()]).unwrap();
    let (cert, key) = (lab.file("cert.pem"), lab.file("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let sw = lab.start(&Config::default().tls(&cert, &key));
    let logged = certificate_event(&sw);
    let fingerprint = Fingerprint::of(made.cert.der());
    assert!(logged.is("TLS certificate", &[("self_signed", "false"), ("fingerprint", &fingerprint.to_string())]), "{logged}");
    handshake(&sw, fingerprint).unwrap();
    assert!(!lab.data.join("tls-cert.pem").exists() && !lab.data.join("tls-key.pem").exists());
}

#[test]
fn without_a_tls_listener_no_certificate_is_made() {
    let lab = lab();
    let sw = lab.start(&Config::default());
    assert!(sw.events_where(|e| e.message() == "TLS certificate").is_empty());
    assert!(!lab.data.join("tls-cert.pem").exists());
}
