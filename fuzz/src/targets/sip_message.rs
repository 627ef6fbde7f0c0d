//! `sipcore::parse` on any bytes (a UDP datagram, or what the framer cut from a
//! stream): it never panics; on whatever parses, every typed accessor runs, and
//! printing then parsing gives the same message, whose printing is a fixed point.

use bytes::Bytes;
use sipcore::headers::Contact;
use sipcore::{HeaderName, Message};

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(msg) = sipcore::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    accessors(&msg);
    let printed = msg.to_bytes();
    let again = match sipcore::parse(printed.clone()) {
        Ok(m) => m,
        Err(e) => panic!("the printed message does not parse: {e}"),
    };
    assert_eq!(again, msg, "print/parse changed the message");
    assert_eq!(again.to_bytes(), printed, "printing is not a fixed point");
}

/// Reads every typed value the switch and the agent read from a message.
fn accessors(m: &Message) {
    let h = m.headers();
    let _ = (h.top_via(), h.from_addr(), h.to_addr(), h.call_id(), h.cseq(), h.expires(), h.min_expires());
    let _ = (h.max_forwards(), h.content_length(), h.content_type(), h.flow_timer(), h.x_mac(), h.x_private_ip());
    let _ = (h.x_public_ip(), h.x_bearer_port(), h.x_bearer_address());
    for v in h.vias().flatten() {
        let _ = (v.branch(), v.rport(), v.received(), v.keep(), v.sent_by(), v.is_rfc3261_branch());
        let _ = v.params.iter().count();
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
    if let Message::Request(r) = m {
        if let Ok(u) = r.uri() {
            let _ = (u.transport(), u.is_secure(), u.params.iter().count(), u.to_string());
        }
    }
    let _ = (sipcore::dialog::tag_of(h, &HeaderName::From), sipcore::dialog::tag_of(h, &HeaderName::To), sipcore::dialog::contact_uri(h));
}
