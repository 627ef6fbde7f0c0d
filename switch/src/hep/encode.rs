//! HEP v3 packets (sipcapture's HEP3 network protocol): the header `HEP3` and
//! its total length, then chunks of vendor id, type id, length (the 6-byte
//! chunk header included) and value, all big-endian. Sans-IO: one captured
//! message in, one datagram out.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Vendor 0: the generic chunks every collector knows.
const GENERIC: u16 = 0x0000;

const IP_FAMILY: u16 = 0x0001;
const IP_PROTOCOL: u16 = 0x0002;
const IPV4_SRC: u16 = 0x0003;
const IPV4_DST: u16 = 0x0004;
const IPV6_SRC: u16 = 0x0005;
const IPV6_DST: u16 = 0x0006;
const SRC_PORT: u16 = 0x0007;
const DST_PORT: u16 = 0x0008;
const TIME_SECS: u16 = 0x0009;
const TIME_MICROS: u16 = 0x000a;
const PROTOCOL_TYPE: u16 = 0x000b;
const CAPTURE_ID: u16 = 0x000c;
const AUTH_KEY: u16 = 0x000e;
const PAYLOAD: u16 = 0x000f;
const CORRELATION_ID: u16 = 0x0011;

/// The address families as the spec numbers them (Linux's `AF_INET`, `AF_INET6`).
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// Payload type 1: SIP.
const SIP: u8 = 1;

/// The IP protocol a message travelled over, as chunk 0x0002 carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Udp,
    Tcp,
    /// TCP too on the wire, but a collector that is told only "TCP" cannot
    /// tell the decrypted TLS flows apart: 22 (`IPPROTO_IDP`) is what
    /// sofia-sip and reSIProcate send for TLS, and what Homer shows as TLS.
    Tls,
}

impl Protocol {
    fn id(self) -> u8 {
        match self {
            Protocol::Udp => 17,
            Protocol::Tcp => 6,
            Protocol::Tls => 22,
        }
    }
}

/// One captured SIP message and how to file it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub protocol: Protocol,
    /// Wall-clock time since the Unix epoch.
    pub time: Duration,
    /// The capture agent id (`[hep] id`).
    pub capture_id: u32,
    /// The collector's password (`[hep] password`), if it wants one.
    pub auth_key: Option<&'a str>,
    /// The Call-ID, so the collector groups a call's messages.
    pub correlation: Option<&'a str>,
    /// The SIP message as it was on the wire.
    pub payload: &'a [u8],
}

/// The datagram for `packet`; `None` if it does not fit HEP's 16-bit total
/// length (a message near the 64 KiB framing limit).
pub fn encode(packet: &Packet<'_>) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(128 + packet.payload.len());
    out.extend_from_slice(b"HEP3");
    out.extend_from_slice(&[0, 0]); // the total length, set last
    let (src, dst) = same_family(packet.src.ip(), packet.dst.ip());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            chunk(&mut out, IP_FAMILY, &[AF_INET]);
            chunk(&mut out, IP_PROTOCOL, &[packet.protocol.id()]);
            chunk(&mut out, IPV4_SRC, &s.octets());
            chunk(&mut out, IPV4_DST, &d.octets());
        }
        (s, d) => {
            chunk(&mut out, IP_FAMILY, &[AF_INET6]);
            chunk(&mut out, IP_PROTOCOL, &[packet.protocol.id()]);
            chunk(&mut out, IPV6_SRC, &v6(s).octets());
            chunk(&mut out, IPV6_DST, &v6(d).octets());
        }
    }
    chunk(&mut out, SRC_PORT, &packet.src.port().to_be_bytes());
    chunk(&mut out, DST_PORT, &packet.dst.port().to_be_bytes());
    // u32 seconds: good until 2106, as the spec has it.
    let secs = u32::try_from(packet.time.as_secs()).unwrap_or(u32::MAX);
    chunk(&mut out, TIME_SECS, &secs.to_be_bytes());
    chunk(&mut out, TIME_MICROS, &packet.time.subsec_micros().to_be_bytes());
    chunk(&mut out, PROTOCOL_TYPE, &[SIP]);
    chunk(&mut out, CAPTURE_ID, &packet.capture_id.to_be_bytes());
    if let Some(key) = packet.auth_key {
        chunk(&mut out, AUTH_KEY, key.as_bytes());
    }
    if let Some(id) = packet.correlation {
        chunk(&mut out, CORRELATION_ID, id.as_bytes());
    }
    chunk(&mut out, PAYLOAD, packet.payload);
    let total = u16::try_from(out.len()).ok()?;
    out.get_mut(4..6)?.copy_from_slice(&total.to_be_bytes());
    Some(out)
}

/// Both addresses in one family: a v4 address beside a v6 one (a dual-stack
/// socket) is written as its v4-mapped v6 form.
fn same_family(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    match (a, b) {
        (IpAddr::V4(_), IpAddr::V4(_)) => (a, b),
        _ => (IpAddr::V6(v6(a)), IpAddr::V6(v6(b))),
    }
}

fn v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Appends one chunk. A value longer than a chunk can say makes the packet
/// too long as a whole, which [`encode`] refuses; the length written here
/// then does not matter.
fn chunk(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(6 + value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&GENERIC.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn packet(src: &str, dst: &str, payload: &'static [u8]) -> Packet<'static> {
        Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: Protocol::Udp,
            time: Duration::new(1_765_080_000, 123_456_789),
            capture_id: 2001,
            auth_key: None,
            correlation: Some("abc@h"),
            payload,
        }
    }

    /// The chunks of a packet as (type, value), checking every length.
    fn chunks(bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
        assert_eq!(&bytes[..4], b"HEP3");
        assert_eq!(u16::from_be_bytes([bytes[4], bytes[5]]) as usize, bytes.len());
        let mut rest = &bytes[6..];
        let mut out = Vec::new();
        while !rest.is_empty() {
            assert_eq!(u16::from_be_bytes([rest[0], rest[1]]), 0, "vendor 0");
            let kind = u16::from_be_bytes([rest[2], rest[3]]);
            let len = u16::from_be_bytes([rest[4], rest[5]]) as usize;
            out.push((kind, rest[6..len].to_vec()));
            rest = &rest[len..];
        }
        out
    }

    #[test]
    fn an_ipv4_udp_message_is_every_chunk_in_order() {
        let bytes = encode(&packet("192.0.2.1:5062", "198.51.100.7:5060", b"OPTIONS sip:x SIP/2.0\r\n\r\n")).unwrap();
        let expected: Vec<(u16, Vec<u8>)> = vec![
            (IP_FAMILY, vec![2]),
            (IP_PROTOCOL, vec![17]),
            (IPV4_SRC, vec![192, 0, 2, 1]),
            (IPV4_DST, vec![198, 51, 100, 7]),
            (SRC_PORT, 5062u16.to_be_bytes().to_vec()),
            (DST_PORT, 5060u16.to_be_bytes().to_vec()),
            (TIME_SECS, 1_765_080_000u32.to_be_bytes().to_vec()),
            (TIME_MICROS, 123_456u32.to_be_bytes().to_vec()),
            (PROTOCOL_TYPE, vec![1]),
            (CAPTURE_ID, 2001u32.to_be_bytes().to_vec()),
            (CORRELATION_ID, b"abc@h".to_vec()),
            (PAYLOAD, b"OPTIONS sip:x SIP/2.0\r\n\r\n".to_vec()),
        ];
        assert_eq!(chunks(&bytes), expected);
    }

    #[test]
    fn ipv6_and_mixed_families_use_the_v6_chunks() {
        let bytes = encode(&packet("[2001:db8::1]:5061", "[2001:db8::2]:40000", b"x")).unwrap();
        let c = chunks(&bytes);
        assert_eq!(c[0], (IP_FAMILY, vec![10]));
        assert_eq!(c[2].0, IPV6_SRC);
        assert_eq!(c[2].1, "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        let mixed = chunks(&encode(&packet("192.0.2.1:5060", "[2001:db8::2]:5060", b"x")).unwrap());
        assert_eq!(mixed[2].1, "::ffff:192.0.2.1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    }

    #[test]
    fn the_auth_key_and_transport_are_carried_and_no_correlation_means_no_chunk() {
        let p =
            Packet { auth_key: Some("s3cret"), correlation: None, protocol: Protocol::Tls, ..packet("192.0.2.1:1", "192.0.2.2:2", b"x") };
        let c = chunks(&encode(&p).unwrap());
        assert!(c.contains(&(AUTH_KEY, b"s3cret".to_vec())));
        assert!(c.contains(&(IP_PROTOCOL, vec![22])));
        assert!(!c.iter().any(|(k, _)| *k == CORRELATION_ID));
    }

    #[test]
    fn a_message_too_large_for_a_packet_is_refused() {
        let big = vec![b'x'; 65_535];
        let p = Packet { payload: &big, ..packet("192.0.2.1:1", "192.0.2.2:2", b"") };
        assert!(encode(&p).is_none());
        let fits = vec![b'x'; 65_535 - 200];
        assert!(encode(&Packet { payload: &fits, ..p }).is_some());
    }
}
