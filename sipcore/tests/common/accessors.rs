//! Every typed accessor the switch and the agent read from a message, run on
//! whatever parsed: none may panic. Shared with the fuzz target `sip_message`
//! (`fuzz/src/targets/sip_message.rs` includes this file), so the property
//! tests and the fuzzer exercise the same reads.

use sipcore::headers::Contact;
use sipcore::{HeaderName, Message};

/// Runs every accessor on `m`.
pub fn exercise_accessors(m: &Message) {
    let h = m.headers();
    let _ = (h.top_via(), h.from_addr(), h.to_addr(), h.call_id(), h.cseq(), h.expires(), h.min_expires());
    let _ = (h.max_forwards(), h.content_length(), h.content_type(), h.flow_timer(), h.x_mac(), h.x_private_ip());
    let _ = (h.x_public_ip(), h.x_bearer_port(), h.x_bearer_address());
    for v in h.vias().flatten() {
        let _ = (v.branch(), v.rport(), v.received(), v.keep(), v.sent_by(), v.is_rfc3261_branch(), v.params.iter().count());
    }
    for c in h.contacts().flatten() {
        if let Contact::Binding(b) = c {
            let _ = (b.display_name(), b.tag(), b.expires(), b.instance(), b.reg_id(), b.ob(), b.uri.transport());
        }
    }
    for name in [HeaderName::Route, HeaderName::RecordRoute, HeaderName::Path] {
        for a in h.name_addrs(&name).flatten() {
            let _ = (a.display_name(), a.uri.params.iter().count(), a.uri.is_secure());
        }
    }
    for name in [HeaderName::Require, HeaderName::Supported, HeaderName::Allow] {
        let _ = h.has_option(&name, "outbound");
    }
    let _ = (sipcore::dialog::tag_of(h, &HeaderName::From), sipcore::dialog::tag_of(h, &HeaderName::To), sipcore::dialog::contact_uri(h));
    if let Message::Request(r) = m {
        let _ = r.uri().map(|u| (u.is_secure(), u.transport(), u.params.iter().count(), u.to_string()));
    }
}
