//! The UPDATE messages (RFC 2136) and their answers, sans-IO: the records
//! of a batch of numbers in, signed bytes out (RFC 8945 TSIG, hickory's
//! `TSigner`); the answer's bytes in, success or the [`Failure`] out.

use super::failure::Failure;
use crate::dns::{DnsConfig, NumberRecords, Published, records_for};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType, TSigVerifier, TSigner};
use std::time::Instant;

/// The records pushed for `number` (`None`: not provisioned, so none): what
/// the embedded server would answer now, with every TTL at `max_ttl`, since
/// a record in a static zone cannot count down.
pub fn pushed(cfg: &DnsConfig, number: &str, published: Option<&Published>, now: Instant) -> NumberRecords {
    let mut records = records_for(cfg, number, published.unwrap_or(&Published::default()), now);
    for r in records.naptr.iter_mut().chain(records.rl.as_mut()) {
        r.ttl = cfg.max_ttl;
    }
    records
}

/// One UPDATE to `zone` that leaves each number's NAPTR RRset (at its ENUM
/// name) and TXT RRset (at its RL name) holding exactly `numbers`' records:
/// delete the RRset, then add (RFC 2136 §2.5), all or nothing. Names outside
/// the zone are left out (the configuration refuses them at start).
pub fn update(id: u16, zone: &Name, numbers: &[NumberRecords]) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Update);
    m.add_zone(Query::query(zone.clone(), RecordType::SOA));
    for n in numbers {
        let rrsets = [(&n.enum_name, RecordType::NAPTR, n.naptr.as_slice()), (&n.rl_name, RecordType::TXT, n.rl.as_slice())];
        for (name, rtype, records) in rrsets {
            let Some(name) = name.as_ref().filter(|name| zone.zone_of(name)) else { continue };
            m.add_update(delete_rrset(name, rtype));
            for r in records {
                m.add_update(r.clone());
            }
        }
    }
    m
}

/// `records` cut into runs whose UPDATE is at most `max` bytes before
/// signing (halving; one number's records go whole, however big).
pub fn chunks<'a>(zone: &Name, records: &'a [NumberRecords], max: usize) -> Result<Vec<&'a [NumberRecords]>, Failure> {
    let size = update(0, zone, records).to_vec().map_err(|e| Failure::Build(e.to_string()))?.len();
    if size <= max || records.len() < 2 {
        return Ok(vec![records]);
    }
    let (a, b) = records.split_at(records.len() / 2);
    Ok([chunks(zone, a, max)?, chunks(zone, b, max)?].concat())
}

/// RFC 2136 §2.5.2: "Delete an RRset": class ANY, TTL 0, no RDATA.
fn delete_rrset(name: &Name, rtype: RecordType) -> Record {
    let mut r = Record::update0(name.clone(), 0, rtype);
    r.dns_class = DNSClass::ANY;
    r
}

/// `m` signed with `key` at `unix_secs`: the bytes to send and the verifier of the answer.
pub fn sign(mut m: Message, key: &TSigner, unix_secs: u64) -> Result<(Vec<u8>, TSigVerifier), Failure> {
    let verifier =
        m.finalize(key, unix_secs).map_err(|e| Failure::Build(e.to_string()))?.ok_or_else(|| Failure::Build("no TSIG verifier".into()))?;
    let bytes = m.to_vec().map_err(|e| Failure::Build(e.to_string()))?;
    Ok((bytes, verifier))
}

/// What a datagram that came back says.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Not an answer to `id` (a stray or late datagram): keep waiting.
    NotOurs,
    /// Truncated: ask again over TCP.
    Truncated,
    /// Applied, and signed by the key.
    Done,
}

/// Reads the answer to UPDATE `id`. Success needs NOERROR and a TSIG that
/// verifies (RFC 8945 §5.3); an error answer the server could not sign
/// (BADKEY, BADSIG: RFC 8945 §5.3.2) is reported with its TSIG error.
pub fn read_answer(bytes: &[u8], id: u16, verifier: &mut TSigVerifier) -> Result<Answer, Failure> {
    let m = Message::from_vec(bytes).map_err(|e| Failure::BadAnswer(format!("unreadable answer: {e}")))?;
    if m.id != id || m.message_type != MessageType::Response {
        return Ok(Answer::NotOurs);
    }
    if m.truncation {
        return Ok(Answer::Truncated);
    }
    let tsig_error = m.signature().and_then(|s| s.data.error);
    if let Some(e @ (TsigError::BadKey | TsigError::BadSig | TsigError::BadTime | TsigError::BadTrunc)) = &tsig_error {
        return Err(Failure::rcode(m.response_code, Some(e)));
    }
    if m.signature().is_none() {
        return Err(match m.response_code {
            ResponseCode::NoError => Failure::BadAnswer("an unsigned answer to a signed UPDATE".into()),
            rcode => Failure::rcode(rcode, None),
        });
    }
    verifier.verify(bytes).map_err(|e| Failure::BadAnswer(format!("the answer's TSIG does not verify: {e}")))?;
    match m.response_code {
        ResponseCode::NoError => Ok(Answer::Done),
        rcode => Err(Failure::rcode(rcode, tsig_error.as_ref())),
    }
}
