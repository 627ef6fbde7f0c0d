//! The switch's own records (RFC 3263): SOA and NS of the zone and of the
//! ENUM suffix, NAPTRs naming the SRVs of what it listens on, SRVs naming
//! `sip.ZONE`, and that name's addresses. Fixed once the listeners are bound.

use super::DnsConfig;
use hickory_proto::rr::rdata::{A, AAAA, NAPTR, NS, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use sipcore::transport::TransportKind;
use std::net::IpAddr;

/// The TTL of the switch's own records: they change only with its config.
const OWN_TTL: u32 = 3600;

/// The records of both zones the switch is authoritative for.
#[derive(Debug, Clone)]
pub struct Zones {
    records: Vec<Record>,
    zone_soa: Record,
    enum_soa: Record,
    zone: Name,
    enum_suffix: Name,
}

/// Which of the two zones a name falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apex {
    Zone,
    Enum,
}

impl Zones {
    pub fn new(cfg: &DnsConfig) -> Zones {
        let host = cfg.host();
        let soa = |apex: &Name| {
            let rname =
                Name::from_labels([b"hostmaster".as_slice()]).and_then(|n| n.append_domain(&cfg.zone)).unwrap_or_else(|_| cfg.zone.clone());
            // minimum = max_ttl: a negative answer is cached no longer than a positive one.
            let rdata = SOA::new(host.clone(), rname, cfg.serial, 3600, 600, 86_400, cfg.max_ttl);
            Record::from_rdata(apex.clone(), cfg.max_ttl, RData::SOA(rdata))
        };
        let (zone_soa, enum_soa) = (soa(&cfg.zone), soa(&cfg.enum_suffix));
        let mut records = vec![zone_soa.clone(), enum_soa.clone()];
        for apex in [&cfg.zone, &cfg.enum_suffix] {
            records.push(Record::from_rdata(apex.clone(), OWN_TTL, RData::NS(NS(host.clone()))));
        }
        for (order, kind, service, srv) in [
            (10, TransportKind::Tls, "SIPS+D2T", ["_sips", "_tcp"]),
            (20, TransportKind::Tcp, "SIP+D2T", ["_sip", "_tcp"]),
            (30, TransportKind::Udp, "SIP+D2U", ["_sip", "_udp"]),
        ] {
            let mut ports: Vec<u16> = cfg.sip.iter().filter(|l| l.transport == kind).map(|l| l.addr.port()).collect();
            ports.sort_unstable();
            ports.dedup();
            let Ok(srv_name) = Name::from_labels(srv.map(str::as_bytes)).and_then(|n| n.append_domain(&cfg.zone)) else { continue };
            if ports.is_empty() {
                continue;
            }
            let naptr = NAPTR::new(order, 10, b"s".to_vec().into(), service.as_bytes().into(), Box::default(), srv_name.clone());
            records.push(Record::from_rdata(cfg.zone.clone(), OWN_TTL, RData::NAPTR(naptr)));
            for port in ports {
                records.push(Record::from_rdata(srv_name.clone(), OWN_TTL, RData::SRV(SRV::new(0, 0, port, host.clone()))));
            }
        }
        for ip in &cfg.host_ips {
            let rdata = match ip {
                IpAddr::V4(v4) => RData::A(A(*v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
            };
            records.push(Record::from_rdata(host.clone(), OWN_TTL, rdata));
        }
        Zones { records, zone_soa, enum_soa, zone: cfg.zone.clone(), enum_suffix: cfg.enum_suffix.clone() }
    }

    /// The zone `name` (lower case) falls in, the deeper one if both.
    pub fn apex_of(&self, name: &Name) -> Option<Apex> {
        let depth = |apex: &Name| apex.zone_of(name).then_some(apex.num_labels());
        match (depth(&self.zone), depth(&self.enum_suffix)) {
            (Some(z), Some(e)) if e > z => Some(Apex::Enum),
            (Some(_), _) => Some(Apex::Zone),
            (None, Some(_)) => Some(Apex::Enum),
            (None, None) => None,
        }
    }

    /// The zone's SOA, for the authority section of a negative answer.
    pub fn soa(&self, apex: Apex) -> &Record {
        match apex {
            Apex::Zone => &self.zone_soa,
            Apex::Enum => &self.enum_soa,
        }
    }

    /// Does one of the switch's own records lie below `name` (`_tcp.ZONE`
    /// above `_sip._tcp.ZONE`)? Then `name` is an empty non-terminal.
    pub fn has_below(&self, name: &Name) -> bool {
        self.records.iter().any(|r| r.name.num_labels() > name.num_labels() && name.zone_of(&r.name))
    }

    /// The switch's own records at `name` of `rtype` (`ANY`: all of them),
    /// and whether the name exists at all.
    pub fn lookup(&self, name: &Name, rtype: RecordType) -> (Vec<Record>, bool) {
        let at: Vec<&Record> = self.records.iter().filter(|r| &r.name == name).collect();
        let exists = !at.is_empty();
        let found = at.into_iter().filter(|r| rtype == RecordType::ANY || r.record_type() == rtype).cloned().collect();
        (found, exists)
    }
}
