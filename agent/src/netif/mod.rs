//! The host's interfaces: which MAC belongs to the interface holding an
//! address (the phone's identity in the patent's step 222; Linux, the
//! `linux` feature), and the set of local addresses (any Unix), watched to
//! notice DHCP handing out a new one.

#[cfg(linux_kernel)]
mod netlink;
pub(crate) mod watch;

#[cfg(unix)]
use nix::ifaddrs::getifaddrs;
#[cfg(unix)]
use nix::sys::socket::SockaddrStorage;
use sipcore::headers::MacAddr;
use std::collections::BTreeSet;
use std::net::IpAddr;

#[cfg(unix)]
fn ip_of(s: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

/// The MAC of the interface that holds `ip`, if one does and has a MAC
/// (loopback and tunnels have none worth sending: all-zero is `None`).
#[cfg(linux_kernel)]
pub(crate) fn mac_for_ip(ip: IpAddr) -> Option<MacAddr> {
    let addrs: Vec<_> = getifaddrs().ok()?.collect();
    let name = addrs.iter().find(|a| a.address.as_ref().and_then(ip_of) == Some(ip))?.interface_name.clone();
    let from_link = addrs.iter().filter(|a| a.interface_name == name).find_map(|a| a.address.as_ref()?.as_link_addr()?.addr());
    let mac = match from_link {
        Some(bytes) => MacAddr(bytes),
        // Some kernels list no AF_PACKET entry for an interface; sysfs has it.
        None => std::fs::read_to_string(format!("/sys/class/net/{name}/address")).ok()?.trim().parse().ok()?,
    };
    usable_mac(mac)
}

/// A MAC that names nothing (loopback's all-zero) cannot tell devices apart.
#[cfg(linux_kernel)]
fn usable_mac(mac: MacAddr) -> Option<MacAddr> {
    (mac.0 != [0; 6]).then_some(mac)
}

/// Without the kernel's interfaces, the MAC is only what is configured.
#[cfg(not(linux_kernel))]
pub(crate) fn mac_for_ip(_: IpAddr) -> Option<MacAddr> {
    None
}

/// Every address on an interface that is up.
#[cfg(unix)]
pub(crate) fn local_addresses() -> BTreeSet<IpAddr> {
    let Ok(addrs) = getifaddrs() else { return BTreeSet::new() };
    addrs.filter(|a| a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP)).filter_map(|a| a.address.as_ref().and_then(ip_of)).collect()
}

/// Elsewhere no address is known, so none is seen to go away: a dead flow
/// is found by its keep-alives instead.
#[cfg(not(unix))]
pub(crate) fn local_addresses() -> BTreeSet<IpAddr> {
    BTreeSet::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn loopback_is_listed_and_has_no_usable_mac() {
        let local = local_addresses();
        assert!(local.contains(&IpAddr::from([127, 0, 0, 1])), "{local:?}");
        assert_eq!(mac_for_ip(IpAddr::from([127, 0, 0, 1])), None);
        assert_eq!(mac_for_ip(IpAddr::from([192, 0, 2, 123])), None, "an address no interface holds");
    }

    #[cfg(linux_kernel)]
    #[test]
    fn an_all_zero_mac_names_no_device() {
        assert_eq!(usable_mac(MacAddr([0; 6])), None);
        assert!(usable_mac(MacAddr([2, 0x42, 0xac, 0x11, 0, 2])).is_some());
    }

    /// Every address of an interface with a real MAC maps to that MAC, as
    /// sysfs tells it (no traffic: only the host's own tables are read).
    #[cfg(linux_kernel)]
    #[test]
    fn addresses_map_to_their_interface_mac() {
        let Ok(addrs) = getifaddrs() else { return };
        for a in addrs {
            let Some(ip) = a.address.as_ref().and_then(ip_of) else { continue };
            let sys = std::fs::read_to_string(format!("/sys/class/net/{}/address", a.interface_name))
                .ok()
                .and_then(|s| s.trim().parse::<MacAddr>().ok());
            let want = sys.and_then(usable_mac);
            assert_eq!(mac_for_ip(ip), want, "{} on {}", ip, a.interface_name);
        }
    }
}
