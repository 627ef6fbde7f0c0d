//! The switch's DNS server on any datagram or TCP message (anyone who can
//! reach a `[dns] listen` address): hickory-server's request reader
//! (`Request::from_bytes`, the same parse its UDP and TCP loops do) and then
//! ours, `switch::dns::message::respond`, over a fixed view (a live number, a
//! home-only one, one with nothing to say, one with `+`, one not all digits).
//!
//! Input layout: byte 0 picks the source (bit 0: inside `rl_allow` or not) and
//! the query time (bits 1..: seconds after the registrations); the rest is the
//! DNS message.
//!
//! Beyond "no panic": a response answers the request's id and never a
//! response; an RL name asked from outside `rl_allow` is refused with nothing
//! in it; every answer record is at the question's name; the response encodes
//! (as the server does, 512 bytes without EDNS) and reads back with the same
//! id and rcode.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinDecodable, BinEncodable, BinEncoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use switch::dns::answer::Responder;
use switch::dns::message::respond;

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
    let now = *t0 + Duration::from_secs(u64::from(pick >> 1) * 5);
    let Ok(request) = Request::from_bytes(message.to_vec(), src, Protocol::Udp) else { return };
    let Some(response) = respond(responder, &request, src.ip(), now) else {
        assert_eq!(request.metadata.message_type, MessageType::Response, "only a response goes unanswered");
        return;
    };
    assert_eq!(response.metadata.id, request.metadata.id);
    assert_eq!(response.metadata.message_type, MessageType::Response);
    let question = request.queries.queries().first().map(|q| Name::from(q.name()).to_lowercase());
    if let Some(q) = &question {
        let rl = q.iter().nth(1) == Some(b"_rl".as_slice());
        if rl
            && !responder.cfg.rl_allowed(src.ip())
            && responder.zones.apex_of(q).is_some()
            && response.metadata.response_code != ResponseCode::FormErr
        {
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
    // Encode as the server does and read it back.
    let mut out = Message::new(response.metadata.id, MessageType::Response, request.metadata.op_code);
    out.metadata = response.metadata;
    out.add_queries(request.queries.queries().iter().map(|q| q.original().clone()));
    out.add_answers(response.answers.iter().cloned());
    out.add_authorities(response.authority.iter().cloned());
    let max = response.edns.as_ref().map_or(512, |e| e.max_payload());
    if let Some(edns) = response.edns {
        out.set_edns(edns);
    }
    let mut bytes = Vec::new();
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max);
    if out.emit(&mut encoder).is_err() {
        // Too big for the client's buffer: the server sends it truncated (TC).
        return;
    }
    let back = Message::from_bytes(&bytes).unwrap_or_else(|e| panic!("our answer does not read back: {e}"));
    // Compared as numbers: BADVERS and BADSIG are both 16 on the wire (RFC 6891, RFC 8945).
    let code = |c: ResponseCode| u16::from(c);
    assert_eq!((back.metadata.id, code(back.metadata.response_code)), (response.metadata.id, code(response.metadata.response_code)));
}
