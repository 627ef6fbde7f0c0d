//! Bytes in, bytes out: one DNS message as read from a socket to the answer
//! to write back, the way hickory-server's UDP loop handled one (too short
//! for a header: nothing; a header but no message: FORMERR; a response:
//! nothing), with the answer cut to the client's size and TC set when it does
//! not fit. Our UDP and TCP loops use it, and the `dns` fuzz target runs it on raw bytes.

use super::answer::Responder;
use super::message::{fresh_queries, respond};
use hickory_proto::op::{Header, Message, MessageType, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use hickory_server::zone_handler::MessageResponseBuilder;
use std::net::SocketAddr;
use std::time::Instant;

/// The answer to `bytes` from `src` over `protocol` at `now`, if one is due;
/// counted by its RCODE for `/metrics`.
pub fn answer(responder: &Responder, bytes: &[u8], src: SocketAddr, protocol: Protocol, now: Instant) -> Option<Vec<u8>> {
    let out = reply(responder, bytes, src, protocol, now);
    if let Some(out) = &out {
        metrics::counter!("switch_dns_queries_total", "rcode" => rcode_name(out)).increment(1);
    }
    out
}

/// The RCODE of an encoded answer (the low 4 bits of header byte 3), named as
/// RFC 1035 and RFC 2136 do; no allocation on the query path.
fn rcode_name(answer: &[u8]) -> &'static str {
    match answer.get(3).map(|b| b & 0x0f) {
        Some(0) => "NOERROR",
        Some(1) => "FORMERR",
        Some(2) => "SERVFAIL",
        Some(3) => "NXDOMAIN",
        Some(4) => "NOTIMP",
        Some(5) => "REFUSED",
        _ => "other",
    }
}

fn reply(responder: &Responder, bytes: &[u8], src: SocketAddr, protocol: Protocol, now: Instant) -> Option<Vec<u8>> {
    let request = match Request::from_bytes(bytes.to_vec(), src, protocol) {
        Ok(r) => r,
        Err(_) => {
            let header = Header::read(&mut BinDecoder::new(bytes)).ok()?;
            if header.metadata.message_type == MessageType::Response {
                return None;
            }
            return Message::error_msg(header.metadata.id, header.metadata.op_code, ResponseCode::FormErr).to_vec().ok();
        }
    };
    let response = respond(responder, &request, src.ip(), now)?;
    let max = match protocol {
        Protocol::Udp => response.edns.as_ref().map_or(512, |e| e.max_payload()),
        _ => u16::MAX,
    };
    let Some(queries) = fresh_queries(&request) else {
        return Message::error_msg(request.metadata.id, request.metadata.op_code, ResponseCode::FormErr).to_vec().ok();
    };
    let mut builder = MessageResponseBuilder::new(&queries, None);
    if let Some(edns) = &response.edns {
        builder.edns(edns);
    }
    let message = builder.build(response.metadata, response.answers.iter(), response.authority.iter(), [], []);
    let mut out = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut out);
    encoder.set_max_size(max);
    match message.destructive_emit(&mut encoder) {
        Ok(_) => Some(out),
        // Nothing we publish comes near 64 KiB; should it, say so rather than send half. An error
        // answer (FORMERR for a question it cannot echo, found by fuzzing) keeps its own RCODE when it
        // fits the header: the client must learn what was wrong, not that the server failed.
        Err(_) => {
            let code = response.metadata.response_code;
            let keep = code != ResponseCode::NoError && u16::from(code) < 16 && response.answers.is_empty();
            let code = if keep { code } else { ResponseCode::ServFail };
            Message::error_msg(request.metadata.id, request.metadata.op_code, code).to_vec().ok()
        }
    }
}
