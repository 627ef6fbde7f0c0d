//! One question → the rcode and the sections of the answer. Sans-IO: the
//! source address and the time are arguments.

use super::DnsConfig;
use super::enum_name::digits_of;
use super::number::{naptrs_for, rl_for};
use super::view::{LocationView, Published};
use super::zone::{Apex, Zones};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use std::net::IpAddr;
use std::time::Instant;

/// What to answer one question with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub rcode: ResponseCode,
    /// AA: set on every answer from one of our zones.
    pub authoritative: bool,
    pub answers: Vec<Record>,
    /// The SOA of a negative answer.
    pub authority: Vec<Record>,
}

impl Reply {
    fn refused() -> Reply {
        Reply { rcode: ResponseCode::Refused, authoritative: false, answers: Vec::new(), authority: Vec::new() }
    }
}

/// Everything a question is answered from.
#[derive(Debug, Clone)]
pub struct Responder {
    pub cfg: DnsConfig,
    pub zones: Zones,
    pub view: LocationView,
}

impl Responder {
    pub fn new(cfg: DnsConfig, view: LocationView) -> Responder {
        Responder { zones: Zones::new(&cfg), cfg, view }
    }

    /// The answer to `name`/`rtype`/`class` asked by `src` at `now`.
    pub fn answer(&self, name: &Name, rtype: RecordType, class: DNSClass, src: IpAddr, now: Instant) -> Reply {
        let name = name.to_lowercase();
        let Some(apex) = self.zones.apex_of(&name) else { return Reply::refused() };
        // Only IN data here; zone transfers are not offered (they would
        // hand out every RL record at once).
        if class != DNSClass::IN || matches!(rtype, RecordType::AXFR | RecordType::IXFR) {
            return Reply::refused();
        }
        let (answers, exists) = match apex {
            Apex::Enum => match self.enum_answer(&name, rtype, now) {
                Some(found) => found,
                None => self.enum_own_or_ent(&name, rtype),
            },
            Apex::Zone => match self.rl_label(&name) {
                // Every `X._rl.ZONE`, a number or not: nothing to learn from the rcode.
                Some(_) if !self.cfg.rl_allowed(src) => return Reply::refused(),
                Some(label) => match std::str::from_utf8(label) {
                    Ok(number) => self.rl_answer(number, rtype, now),
                    Err(_) => (Vec::new(), false),
                },
                None => self.own_or_ent(&name, rtype),
            },
        };
        let rcode = if exists { ResponseCode::NoError } else { ResponseCode::NXDomain };
        let authority = if answers.is_empty() { vec![self.zones.soa(apex).clone()] } else { Vec::new() };
        Reply { rcode, authoritative: true, answers, authority }
    }

    /// A provisioned number's NAPTRs, when `name` is its ENUM name.
    fn enum_answer(&self, name: &Name, rtype: RecordType, now: Instant) -> Option<(Vec<Record>, bool)> {
        let (number, published) = digits_of(name, &self.cfg.enum_suffix).and_then(|d| self.provisioned_enum(&d))?;
        let (_, naptr) = naptrs_for(&self.cfg, &number, &published, now);
        Some((wanted(naptr, rtype, RecordType::NAPTR), true))
    }

    /// The provisioned number an ENUM name's digits stand for: as written, or with `+`.
    fn provisioned_enum(&self, digits: &str) -> Option<(String, Published)> {
        let found = |n: String| self.view.get(&n).map(|p| (n, p));
        // Most numbers are written as asked: the `+` form is built only when not.
        found(digits.to_owned()).or_else(|| found(format!("+{digits}")))
    }

    /// `NUMBER._rl.ZONE` → NUMBER's label.
    fn rl_label<'n>(&self, name: &'n Name) -> Option<&'n [u8]> {
        if usize::from(name.num_labels()) != usize::from(self.cfg.zone.num_labels()) + 2 {
            return None;
        }
        let mut labels = name.iter();
        let number = labels.next()?;
        (labels.next()? == b"_rl").then_some(number)
    }

    fn rl_answer(&self, number: &str, rtype: RecordType, now: Instant) -> (Vec<Record>, bool) {
        let Some(published) = self.view.get(number) else { return (Vec::new(), false) };
        let (_, rl) = rl_for(&self.cfg, number, &published, now);
        (wanted(rl.into_iter().collect(), rtype, RecordType::TXT), true)
    }

    /// The zone's own records at `name`; an empty non-terminal above them
    /// (`_tcp.ZONE`) or above the RL records (`_rl.ZONE`) exists with no data.
    fn own_or_ent(&self, name: &Name, rtype: RecordType) -> (Vec<Record>, bool) {
        let (found, exists) = self.zones.lookup(name, rtype);
        (found, exists || self.zones.has_below(name) || self.is_rl_parent(name))
    }

    /// `_rl.ZONE`, while some number is provisioned (and so has `NUMBER._rl.ZONE`).
    fn is_rl_parent(&self, name: &Name) -> bool {
        let under_zone = usize::from(name.num_labels()) == usize::from(self.cfg.zone.num_labels()) + 1;
        under_zone && name.iter().next() == Some(b"_rl".as_slice()) && !self.view.is_empty()
    }

    /// The ENUM zone's own records at `name`; a name whose digits a
    /// provisioned number extends (`0.0.1.e164.arpa.` above 1001's
    /// `1.0.0.1.e164.arpa.`) is an empty non-terminal: NODATA, not NXDOMAIN
    /// (RFC 8020, RFC 4592 §2.2.2).
    fn enum_own_or_ent(&self, name: &Name, rtype: RecordType) -> (Vec<Record>, bool) {
        let (found, exists) = self.zones.lookup(name, rtype);
        (found, exists || digits_of(name, &self.cfg.enum_suffix).is_some_and(|d| self.view.extends(&d)))
    }
}

/// The records of `rtype` (or all for ANY) from an RRset of `kind`.
fn wanted(records: Vec<Record>, rtype: RecordType, kind: RecordType) -> Vec<Record> {
    if rtype == kind || rtype == RecordType::ANY { records } else { Vec::new() }
}
