//! What the DNS answers are computed from besides the live view.

use crate::listen::ListenSpec;
use hickory_proto::rr::Name;
use ipnet::IpNet;
use std::net::IpAddr;

/// The DNS server's settings, resolved (names parsed, SIP listeners bound).
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// The SIP domain: live NAPTRs point at `sip:NUMBER@DOMAIN`.
    pub domain: String,
    /// The zone of the switch's own records and of `NUMBER._rl.ZONE`, lower case, FQDN.
    pub zone: Name,
    /// Where ENUM names live (`e164.arpa.`), lower case, FQDN.
    pub enum_suffix: Name,
    /// The cap on every TTL, seconds.
    pub max_ttl: u32,
    /// Who may read RL records.
    pub rl_allow: Vec<IpNet>,
    /// `node=` in RL records.
    pub node: String,
    /// The bound SIP listeners (for NAPTR/SRV).
    pub sip: Vec<ListenSpec>,
    /// The addresses of `sip.ZONE` (A/AAAA): the relay address and every
    /// listener address that is not a wildcard.
    pub host_ips: Vec<IpAddr>,
    /// The SOA serial (the start time, so a restart bumps it).
    pub serial: u32,
}

impl DnsConfig {
    /// The host name the SRV and NS records name.
    pub fn host(&self) -> Name {
        Name::from_labels([b"sip".as_slice()]).and_then(|n| n.append_domain(&self.zone)).unwrap_or_else(|_| self.zone.clone())
    }

    /// May `ip` read RL records?
    pub fn rl_allowed(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.rl_allow.iter().any(|net| net.contains(&ip))
    }
}
