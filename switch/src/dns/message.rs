//! One parsed request → the response: the opcode, the question count and
//! EDNS (RFC 1035 §4.1.1, RFC 6891) are checked here, the question answered by
//! [`Responder::answer`]. Sans-IO, so the fuzz target runs it on raw bytes.

use super::answer::{Reply, Responder};
use hickory_proto::op::{Edns, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{Name, Record};
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, BinEncoder, NameEncoding};
use hickory_server::zone_handler::{MessageRequest, Queries};
use std::net::IpAddr;
use std::time::Instant;

/// The largest UDP answer we send (the DNS flag day 2020 figure: no fragments).
pub const UDP_PAYLOAD: u16 = 1232;

/// A response to send: header, sections and the OPT record, if any.
#[derive(Debug, Clone)]
pub struct Response {
    pub metadata: Metadata,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    /// Present when the request carried EDNS; its payload size bounds a UDP answer.
    pub edns: Option<Edns>,
}

/// The response to `request` from `src` at `now`; `None` for a message that
/// is itself a response (never answer those: reflection loops).
pub fn respond(responder: &Responder, request: &MessageRequest, src: IpAddr, now: Instant) -> Option<Response> {
    let meta = &request.metadata;
    if meta.message_type == hickory_proto::op::MessageType::Response {
        return None;
    }
    let edns = request.edns.as_ref().map(|req| {
        let mut edns = Edns::new();
        edns.set_max_payload(req.max_payload().clamp(512, UDP_PAYLOAD));
        edns.set_version(0);
        edns
    });
    let reply = if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
        error(ResponseCode::BADVERS)
    } else if meta.op_code != OpCode::Query {
        error(ResponseCode::NotImp)
    } else {
        match request.queries.queries() {
            [q] => responder.answer(&Name::from(q.name()), q.query_type(), q.query_class(), src, now),
            _ => error(ResponseCode::FormErr),
        }
    };
    let mut metadata = Metadata::response_from_request(meta);
    metadata.response_code = reply.rcode;
    metadata.authoritative = reply.authoritative;
    metadata.recursion_available = false;
    Some(Response { metadata, answers: reply.answers, authority: reply.authority, edns })
}

fn error(rcode: ResponseCode) -> Reply {
    Reply { rcode, authoritative: false, answers: Vec::new(), authority: Vec::new() }
}

/// The question section as we write it: the client's own bytes may hold a
/// compression pointer, which points into the request, not into our answer
/// (hickory-server echoes those bytes as they came). Uncompressed, case kept.
pub fn fresh_queries(request: &MessageRequest) -> Option<Queries> {
    let mut bytes = Vec::new();
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    for q in request.queries.queries() {
        q.original().emit(&mut encoder).ok()?;
    }
    Queries::read(&mut BinDecoder::new(&bytes), request.queries.len()).ok()
}
