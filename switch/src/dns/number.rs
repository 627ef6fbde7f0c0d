//! "The records for number N now": the ENUM NAPTRs and the RL TXT of one
//! provisioned number, from what the view publishes and the time. The one
//! function both the embedded server and a push to an external DNS server use.

use super::DnsConfig;
use super::enum_name::enum_name;
use super::view::{Facts, Published};
use crate::record::transport_name;
use hickory_proto::rr::rdata::{NAPTR, TXT};
use hickory_proto::rr::{Name, RData, Record};
use std::time::Instant;

/// The NAPTR order of the live flow (tried first) and of the home location.
const ORDER_FLOW: u16 = 10;
const ORDER_HOME: u16 = 20;

/// One number's records at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRecords {
    /// Its ENUM name; `None` when the number is not all digits.
    pub enum_name: Option<Name>,
    /// At `enum_name`: the live flow's NAPTR, then the home's; either may be
    /// absent, both may be (NODATA).
    pub naptr: Vec<Record>,
    /// `NUMBER._rl.ZONE`, when the number is a valid DNS label.
    pub rl_name: Option<Name>,
    /// The RL TXT, while the number has a record.
    pub rl: Option<Record>,
}

/// The records of `number` (provisioned, publishing `published`) at `now`.
/// The TTL of live data is its seconds left, capped by `max_ttl`; the rest
/// (home only) carries `max_ttl`.
pub fn records_for(cfg: &DnsConfig, number: &str, published: &Published, now: Instant) -> NumberRecords {
    let (enum_name, naptr) = naptrs_for(cfg, number, published, now);
    let (rl_name, rl) = rl_for(cfg, number, published, now);
    NumberRecords { enum_name, naptr, rl_name, rl }
}

/// The ENUM half of [`records_for`]: the name and its NAPTRs. Apart, so an
/// ENUM query does not format the RL record it will not send.
pub fn naptrs_for(cfg: &DnsConfig, number: &str, published: &Published, now: Instant) -> (Option<Name>, Vec<Record>) {
    let record = current(published, now);
    let live = record.is_some_and(|f| f.live(now));
    let enum_name = enum_name(number, &cfg.enum_suffix);
    let mut naptr = Vec::new();
    if let Some(name) = &enum_name {
        // One RRset, one TTL (RFC 2181 §5.2): the flow's seconds left while it
        // is live, else nothing is due to change before max_ttl.
        let naptr_ttl = match record {
            Some(f) if live => ttl_left(f, cfg.max_ttl, now),
            _ => cfg.max_ttl,
        };
        if live {
            naptr.push(Record::from_rdata(name.clone(), naptr_ttl, e2u_sip(ORDER_FLOW, &format!("sip:{number}@{}", cfg.domain))));
        }
        if let Some(home) = &published.home {
            naptr.push(Record::from_rdata(name.clone(), naptr_ttl, e2u_sip(ORDER_HOME, home)));
        }
    }
    (enum_name, naptr)
}

/// The RL half of [`records_for`]: `NUMBER._rl.ZONE` and its TXT while the
/// number has a record.
pub fn rl_for(cfg: &DnsConfig, number: &str, published: &Published, now: Instant) -> (Option<Name>, Option<Record>) {
    let record = current(published, now);
    let rl_name = rl_name(number, &cfg.zone);
    let rl = rl_name
        .as_ref()
        .zip(record)
        .map(|(name, f)| Record::from_rdata(name.clone(), ttl_left(f, cfg.max_ttl, now), RData::TXT(rl_txt(cfg, f, now))));
    (rl_name, rl)
}

/// The number's record, unless it has expired at `now`.
fn current(published: &Published, now: Instant) -> Option<&Facts> {
    published.record.as_ref().filter(|f| f.expires_at > now)
}

/// `NUMBER._rl.ZONE`.
pub fn rl_name(number: &str, zone: &Name) -> Option<Name> {
    Name::from_labels([number.as_bytes(), b"_rl"]).ok()?.append_domain(zone).ok()
}

/// Whole seconds until `f` expires, capped.
fn ttl_left(f: &Facts, max_ttl: u32, now: Instant) -> u32 {
    let left = f.expires_at.saturating_duration_since(now).as_secs();
    u32::try_from(left).unwrap_or(u32::MAX).min(max_ttl)
}

/// `NAPTR ORDER 10 "u" "E2U+sip" "!^.*$!URI!" .`, with `\\` and the
/// delimiter `!` escaped in the URI (RFC 3402 §3.2: `!` is legal in a SIP URI).
fn e2u_sip(order: u16, uri: &str) -> RData {
    let uri = uri.replace('\\', "\\\\").replace('!', "\\!");
    let regexp = format!("!^.*$!{uri}!");
    RData::NAPTR(NAPTR::new(order, 10, b"u".to_vec().into(), b"E2U+sip".to_vec().into(), regexp.into_bytes().into(), Name::root()))
}

/// One `key=value` string per fact the record has.
fn rl_txt(cfg: &DnsConfig, f: &Facts, now: Instant) -> TXT {
    let mut facts = vec![format!("state={}", f.state.as_str())];
    if let Some(mac) = f.mac {
        facts.push(format!("mac={mac}"));
    }
    if let Some(ip) = f.private_ip {
        facts.push(format!("private_ip={ip}"));
    }
    if let Some(ip) = f.public_ip {
        facts.push(format!("public_ip={ip}"));
    }
    facts.push(format!("observed={}", f.observed));
    facts.push(format!("nat={}", u8::from(f.nat)));
    if let Some(port) = f.bearer_port {
        facts.push(format!("bearer_port={port}"));
    }
    facts.push(format!("transport={}", transport_name(f.transport)));
    facts.push(format!("expires_in={}", f.expires_at.saturating_duration_since(now).as_secs()));
    facts.push(format!("node={}", cfg.node));
    TXT::new(facts)
}
