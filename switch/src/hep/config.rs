//! `[hep]`: where SIP traces go (a Homer collector, or anything that speaks HEP v3).

use crate::Error;
use crate::listen::ListenSpec;
use serde::Deserialize;
use sipcore::transport::TransportKind;
use std::net::SocketAddr;

/// SIP tracing: off unless `collector` names one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HepSettings {
    /// `udp:IP:PORT`; unset (the default): no tracing.
    pub collector: Option<String>,
    /// The capture agent id every packet carries (chunk 0x000c), so a
    /// collector fed by several switches tells them apart.
    pub id: u32,
    /// The collector's password (HEP's auth key, chunk 0x000e), if it wants one.
    pub password: Option<String>,
}

impl HepSettings {
    /// The collector's address, checked: UDP to a real address and port.
    pub fn collector(&self) -> crate::Result<Option<SocketAddr>> {
        let Some(spec) = &self.collector else {
            if self.password.is_some() {
                return Err(Error::Config("hep.password without hep.collector".into()));
            }
            return Ok(None);
        };
        let bad = |why: &str| Error::Config(format!("hep.collector {spec:?}: {why}"));
        match spec.parse::<ListenSpec>().map_err(|e| bad(&e.to_string()))? {
            ListenSpec { transport: TransportKind::Udp, addr } if addr.ip().is_unspecified() || addr.port() == 0 => {
                Err(bad("the collector needs an address and a port, e.g. udp:192.0.2.10:9060"))
            }
            ListenSpec { transport: TransportKind::Udp, addr } => Ok(Some(addr)),
            _ => Err(bad("HEP is sent over udp:IP:PORT only")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn collector(spec: &str) -> crate::Result<Option<SocketAddr>> {
        HepSettings { collector: Some(spec.into()), ..HepSettings::default() }.collector()
    }

    #[test]
    fn tracing_is_off_by_default_and_a_collector_is_udp_ip_port() {
        assert_eq!(HepSettings::default().collector().unwrap(), None);
        assert_eq!(collector("udp:192.0.2.10:9060").unwrap(), Some("192.0.2.10:9060".parse().unwrap()));
        assert_eq!(collector("udp:[2001:db8::10]:9060").unwrap(), Some("[2001:db8::10]:9060".parse().unwrap()));
        for bad in ["tcp:192.0.2.10:9060", "udp:0.0.0.0:9060", "udp:192.0.2.10:0", "udp:homer:9060", "192.0.2.10:9060"] {
            let err = collector(bad).unwrap_err().to_string();
            assert!(err.contains("hep.collector"), "{bad}: {err}");
        }
        let orphan = HepSettings { password: Some("x".into()), ..HepSettings::default() };
        assert!(orphan.collector().unwrap_err().to_string().contains("without hep.collector"));
    }
}
