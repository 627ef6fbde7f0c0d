//! The host's interfaces: which MAC belongs to the interface holding an
//! address (the phone's identity in the patent's step 222), and the set of
//! local addresses, watched to notice DHCP handing out a new one.

pub(crate) mod watch;

use nix::ifaddrs::getifaddrs;
use nix::sys::socket::SockaddrStorage;
use sipcore::headers::MacAddr;
use std::collections::BTreeSet;
use std::net::IpAddr;

fn ip_of(s: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

/// The MAC of the interface that holds `ip`, if one does and has a MAC
/// (loopback and tunnels have none worth sending: all-zero is `None`).
pub(crate) fn mac_for_ip(ip: IpAddr) -> Option<MacAddr> {
    let addrs: Vec<_> = getifaddrs().ok()?.collect();
    let name = addrs.iter().find(|a| a.address.as_ref().and_then(ip_of) == Some(ip))?.interface_name.clone();
    let from_link = addrs.iter().filter(|a| a.interface_name == name).find_map(|a| a.address.as_ref()?.as_link_addr()?.addr());
    let mac = match from_link {
        Some(bytes) => MacAddr(bytes),
        // Some kernels list no AF_PACKET entry for an interface; sysfs has it.
        None => std::fs::read_to_string(format!("/sys/class/net/{name}/address")).ok()?.trim().parse().ok()?,
    };
    crate::identity::usable_mac(mac)
}

/// Every address on an interface that is up.
pub(crate) fn local_addresses() -> BTreeSet<IpAddr> {
    let Ok(addrs) = getifaddrs() else { return BTreeSet::new() };
    addrs.filter(|a| a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP)).filter_map(|a| a.address.as_ref().and_then(ip_of)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed_and_has_no_usable_mac() {
        let local = local_addresses();
        assert!(local.contains(&IpAddr::from([127, 0, 0, 1])), "{local:?}");
        assert_eq!(mac_for_ip(IpAddr::from([127, 0, 0, 1])), None);
        assert_eq!(mac_for_ip(IpAddr::from([192, 0, 2, 123])), None, "an address no interface holds");
    }

    /// Every address of an interface with a real MAC maps to that MAC, as
    /// sysfs tells it (no traffic: only the host's own tables are read).
    #[test]
    fn addresses_map_to_their_interface_mac() {
        let Ok(addrs) = getifaddrs() else { return };
        for a in addrs {
            let Some(ip) = a.address.as_ref().and_then(ip_of) else { continue };
            let sys = std::fs::read_to_string(format!("/sys/class/net/{}/address", a.interface_name))
                .ok()
                .and_then(|s| s.trim().parse::<MacAddr>().ok());
            let want = sys.and_then(crate::identity::usable_mac);
            assert_eq!(mac_for_ip(ip), want, "{} on {}", ip, a.interface_name);
        }
    }
}
