//! The switch's DNS server on any datagram or TCP message (anyone who can
//! reach a `[dns] listen` address): hickory-server's request reader
//! (`Request::from_bytes`, the same parse its UDP and TCP loops do) and then
//! ours, `switch::dns::message::respond`, over a fixed view (a live number, a
//! home-only one, one with nothing to say, one with `+`, one not all digits).
//!
//! Input layout: byte 0 picks the source (bit 0: inside `rl_allow` or not),
//! the transport (bit 1: UDP or TCP) and the query time (bits 2..: 5 s steps
//! after the registrations); the rest is the DNS message.
//!
//! Beyond "no panic": a response answers the request's id and never a
//! response; an RL name asked from outside `rl_allow` is refused with nothing
//! in it; every answer record is at the question's name; the bytes
//! `switch::dns::wire::answer` writes (what our TCP loop sends) fit the
//! transport (512 bytes over UDP without EDNS, the EDNS size with it) and read
//! back with the same id and rcode, and with every answer unless TC is set.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::BinDecodable;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use switch::dns::answer::Responder;
use switch::dns::message::respond;
use switch::dns::wire;

/// The responder and the instant the live number registered.
fn responder() -> &'static (Responder, Instant) {
    static R: OnceLock<(Responder, Instant)> = OnceLock::new();
    R.get_or_init(switch::dns::fixture::responder)
}

/// Runs one input (see the module docs).
pub fn run(input: &[u8]) {
    let Some((&pick, message)) = input.split_first() else { return };
    let (responder, t0) = responder();
    let src: SocketAddr = if pick & 1 == 0 { ([127, 0, 0, 1], 5353).into() } else { ([192, 0, 2, 77], 5353).into() };
    let now = *t0 + Duration::from_secs(u64::from(pick >> 2) * 5);
    let Ok(request) = Request::from_bytes(message.to_vec(), src, Protocol::Udp) else {
        // What hickory cannot read gets FORMERR, if it has a query's header, or nothing.
        if let Some(bytes) = wire::answer(responder, message, src, Protocol::Udp, now) {
            let back = Message::from_bytes(&bytes).unwrap_or_else(|e| panic!("our FORMERR does not read back: {e}"));
            assert_eq!(back.metadata.response_code, ResponseCode::FormErr);
        }
        return;
    };
    let Some(response) = respond(responder, &request, src.ip(), now) else {
        assert_eq!(request.metadata.message_type, MessageType::Response, "only a response goes unanswered");
        return;
    };
    assert_eq!(response.metadata.id, request.metadata.id);
    assert_eq!(response.metadata.message_type, MessageType::Response);
    let question = request.queries.queries().first().map(|q| Name::from(q.name()).to_lowercase());
    if let Some(q) = &question {
        // `X._rl.ZONE` exactly: a deeper name with `_rl` second (`1001._rl.a.ZONE`) is no number's
        // record, and its NXDOMAIN says nothing about any number.
        let rl = q.iter().nth(1) == Some(b"_rl".as_slice()) && q.base_name().base_name() == responder.cfg.zone;
        if rl && !responder.cfg.rl_allowed(src.ip()) && response.metadata.response_code != ResponseCode::FormErr {
            assert!(
                matches!(response.metadata.response_code, ResponseCode::Refused | ResponseCode::NotImp | ResponseCode::BADVERS),
                "an RL name answered outside rl_allow: {}",
                response.metadata.response_code
            );
            assert!(response.answers.is_empty() && response.authority.is_empty());
        }
        for r in &response.answers {
            assert_eq!(&r.name.to_lowercase(), q, "an answer at another name");
        }
    }
    // The bytes a socket gets back (our TCP loop's path; UDP cut to the client's size): they read back.
    let protocol = if pick & 2 == 0 { Protocol::Udp } else { Protocol::Tcp };
    let Some(bytes) = wire::answer(responder, message, src, protocol, now) else {
        panic!("a request with a response got no bytes");
    };
    let limit = match protocol {
        Protocol::Udp => response.edns.as_ref().map_or(512, |e| usize::from(e.max_payload())),
        _ => usize::from(u16::MAX),
    };
    assert!(bytes.len() <= limit, "{} bytes over {protocol:?}, the limit is {limit}", bytes.len());
    let back = Message::from_bytes(&bytes).unwrap_or_else(|e| panic!("our answer does not read back: {e}"));
    // Compared as numbers: BADVERS and BADSIG are both 16 on the wire (RFC 6891, RFC 8945).
    let code = |c: ResponseCode| u16::from(c);
    assert_eq!((back.metadata.id, code(back.metadata.response_code)), (response.metadata.id, code(response.metadata.response_code)));
    if !back.metadata.truncation {
        assert_eq!(back.answers.len(), response.answers.len(), "answers lost without TC");
    }
}
