//! Shared by the integration tests: the torture corpus on disk.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

pub mod strategy;

use sipcore::headers::Contact;
use sipcore::{HeaderName, Message};
use std::path::{Path, PathBuf};

/// `tests/corpus/<kind>`.
pub fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(kind)
}

/// Every `*.sip` file of `kind` ("valid" or "invalid") as (stem, bytes), sorted by name.
pub fn corpus(kind: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir(kind))
        .expect("corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// One corpus file.
pub fn file(kind: &str, stem: &str) -> Vec<u8> {
    std::fs::read(dir(kind).join(format!("{stem}.sip"))).unwrap_or_else(|e| panic!("{kind}/{stem}.sip: {e}"))
}

/// Every typed accessor, on whatever parsed: none may panic.
pub fn exercise_accessors(m: &Message) {
    let h = m.headers();
    let _ = (h.top_via(), h.from_addr(), h.to_addr(), h.call_id(), h.cseq(), h.expires(), h.min_expires());
    let _ = (h.max_forwards(), h.content_length(), h.content_type(), h.flow_timer(), h.x_mac(), h.x_private_ip());
    let _ = (h.x_public_ip(), h.x_bearer_port(), h.x_bearer_address());
    for v in h.vias().flatten() {
        let _ = (v.branch(), v.rport(), v.received(), v.keep(), v.sent_by(), v.is_rfc3261_branch());
    }
    for c in h.contacts().flatten() {
        if let Contact::Binding(b) = c {
            let _ = (b.display_name(), b.tag(), b.expires(), b.instance(), b.reg_id(), b.ob(), b.uri.transport());
        }
    }
    for name in [HeaderName::Route, HeaderName::RecordRoute, HeaderName::Path] {
        let _ = h.name_addrs(&name).count();
    }
    let _ = h.has_option(&HeaderName::Require, "outbound");
    if let Message::Request(r) = m {
        let _ = r.uri().map(|u| (u.is_secure(), u.transport(), u.params.iter().count()));
    }
}
