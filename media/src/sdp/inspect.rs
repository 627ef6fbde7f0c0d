//! Reading the facts the B2BUA needs from an SDP body: origin version,
//! connection addresses, and per m-line kind, port, proto, RTCP, setup,
//! direction and payload types.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::SdpError;
use super::lines::{Line, Lines, fields, split};
use crate::direction::Direction;

/// What [`inspect`] found in an SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpInfo {
    /// The `o=` line's sess-version (None when the body has no `o=` line).
    pub origin_version: Option<u64>,
    /// The session-level `c=` address.
    pub session_connection: Option<IpAddr>,
    /// One entry per `m=` line, in order.
    pub media: Vec<MediaInfo>,
}

/// One media description (`m=` line and the lines up to the next one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    /// The media type: "audio", "video", "image"…
    pub kind: String,
    /// The `m=` port; 0 means the stream is rejected/disabled (RFC 3264 §6).
    pub port: u16,
    /// The transport protocol: "RTP/AVP", "RTP/SAVP", "TCP/RTP/AVP", "udptl"…
    pub proto: String,
    /// The media-level `c=` address, else the session-level one.
    pub connection: Option<IpAddr>,
    /// `a=rtcp-mux` (RFC 5761): RTCP shares the RTP port.
    pub rtcp_mux: bool,
    /// `a=rtcp:PORT` (RFC 3605).
    pub rtcp_port: Option<u16>,
    /// `a=setup:` value (RFC 4145), from the media section else the session level.
    pub setup: Option<String>,
    /// The media direction, from the media section else the session level; sendrecv by default.
    pub direction: Direction,
    /// The numeric formats (RTP payload types) of the `m=` line.
    pub payload_types: Vec<u8>,
}

/// Where the rewrite has to look: line indices found while inspecting.
#[derive(Debug)]
pub(super) struct Layout {
    /// Index of the session-level `c=` line.
    pub(super) session_c: Option<usize>,
    /// Per m-line: the line range of its section and whether it has its own `c=`.
    pub(super) media: Vec<Section>,
}

/// One media section's line range `[start, end)`; `start` is the `m=` line.
#[derive(Debug)]
pub(super) struct Section {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) has_c: bool,
}

/// Reads `body` (at most [`super::MAX_SDP`] bytes) and reports what the relay needs.
///
/// Checks the line grammar and every field it reads (`v=0` first, `o=`, `c=` with an
/// IP literal matching its address type, `m=`, `a=rtcp:`); lines it does not read
/// only need to be `<letter>=<value>`.
pub fn inspect(body: &[u8]) -> Result<SdpInfo, SdpError> {
    parse(body).map(|(_, info, _)| info)
}

/// Inspects and also returns the split lines and their layout, for [`super::rewrite`].
pub(super) fn parse(body: &[u8]) -> Result<(Lines<'_>, SdpInfo, Layout), SdpError> {
    let lines = split(body)?;
    match lines.lines.first() {
        Some(first) if first.kind == b'v' && first.value == b"0" => {}
        Some(first) => return Err(first.err("first line is not v=0")),
        None => return Err(SdpError::line(1, "empty SDP body")),
    }
    let mut info = SdpInfo { origin_version: None, session_connection: None, media: Vec::new() };
    let mut layout = Layout { session_c: None, media: Vec::new() };
    let mut session_direction = Direction::SendRecv;
    let mut session_setup: Option<String> = None;
    let mut own_connection: Vec<Option<IpAddr>> = Vec::new();
    let mut saw_origin = false;
    for (index, line) in lines.lines.iter().enumerate().skip(1) {
        let in_media = !info.media.is_empty();
        match line.kind {
            b'v' => return Err(line.err("second v= line")),
            b'o' if in_media || saw_origin => return Err(line.err("o= line out of place")),
            b'o' => {
                saw_origin = true;
                info.origin_version = Some(origin_version(line)?);
            }
            b'c' => {
                let address = connection(line)?;
                match (own_connection.last_mut(), layout.media.last_mut()) {
                    (Some(own), Some(section)) => {
                        // Several c= lines are legal for layered multicast; the first one is the address.
                        own.get_or_insert(address);
                        section.has_c = true;
                    }
                    _ if layout.session_c.is_some() => return Err(line.err("second session-level c= line")),
                    _ => {
                        layout.session_c = Some(index);
                        info.session_connection = Some(address);
                    }
                }
            }
            b'm' => {
                if let Some(section) = layout.media.last_mut() {
                    section.end = index;
                }
                let mut media = media_line(line)?;
                media.direction = session_direction;
                media.setup.clone_from(&session_setup);
                info.media.push(media);
                own_connection.push(None);
                layout.media.push(Section { start: index, end: lines.lines.len(), has_c: false });
            }
            b'a' => {
                let attribute = attribute(line)?;
                match (info.media.last_mut(), attribute) {
                    (Some(media), Attribute::Direction(d)) => media.direction = d,
                    (None, Attribute::Direction(d)) => session_direction = d,
                    (Some(media), Attribute::Setup(s)) => media.setup = Some(s),
                    (None, Attribute::Setup(s)) => session_setup = Some(s),
                    (Some(media), Attribute::RtcpMux) => media.rtcp_mux = true,
                    (Some(media), Attribute::Rtcp(port)) => media.rtcp_port = Some(port),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    for (media, own) in info.media.iter_mut().zip(own_connection) {
        media.connection = own.or(info.session_connection);
    }
    Ok((lines, info, layout))
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`: the version.
fn origin_version(line: &Line<'_>) -> Result<u64, SdpError> {
    let value = line.text()?;
    let parts: Vec<&str> = value.split(' ').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        [_, _, version, _, _, _] => version.parse().map_err(|_| line.err("o= session version is not a number")),
        _ => Err(line.err("o= line needs six fields")),
    }
}

/// `c=IN IP4|IP6 <address>[/ttl[/count]]`: the address, which must be an IP literal of that type.
pub(super) fn connection(line: &Line<'_>) -> Result<IpAddr, SdpError> {
    let value = line.text()?;
    let mut parts = value.split(' ').filter(|s| !s.is_empty());
    let (Some(net), Some(kind), Some(address), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(line.err("c= line needs three fields"));
    };
    if net != "IN" {
        return Err(line.err("c= network type is not IN"));
    }
    let mut parts = address.split('/');
    let address = parts.next().unwrap_or(address);
    // RFC 4566 §5.7: IP4 multicast takes `/ttl[/count]`, IP6 `/count`; nothing else may follow,
    // so a copy of this line (see `rewrite`) is as short as an address and two numbers.
    let suffix: Vec<&str> = parts.collect();
    let numeric = |s: &&str| s.len() <= 5 && s.parse::<u16>().is_ok();
    let (parsed, max_suffix) = match kind {
        "IP4" => (address.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| line.err("c= address is not an IPv4 literal"))?, 2),
        "IP6" => (address.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| line.err("c= address is not an IPv6 literal"))?, 1),
        _ => return Err(line.err("c= address type is not IP4 or IP6")),
    };
    if suffix.len() > max_suffix || !suffix.iter().all(numeric) {
        return Err(line.err("c= address suffix is not /ttl[/count] (IP4) or /count (IP6)"));
    }
    Ok(parsed)
}

/// `m=<media> <port>[/<count>] <proto> <fmt> ...`.
fn media_line(line: &Line<'_>) -> Result<MediaInfo, SdpError> {
    let value = line.text()?;
    let mut parts = value.split(' ').filter(|s| !s.is_empty());
    let (Some(kind), Some(port), Some(proto)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(line.err("m= line needs media, port, proto and formats"));
    };
    let mut port_parts = port.splitn(2, '/');
    let port: u16 = port_parts.next().unwrap_or(port).parse().map_err(|_| line.err("m= port is not a number"))?;
    if let Some(count) = port_parts.next() {
        count.parse::<u16>().map_err(|_| line.err("m= port count is not a number"))?;
    }
    // RTP profiles (RTP/AVP, RTP/SAVPF, TCP/RTP/AVP, UDP/TLS/RTP/SAVP…) list payload types;
    // other protos (udptl t38, TCP/MSRP *) list formats the relay does not need to read.
    let rtp = proto.to_ascii_uppercase().contains("RTP");
    let mut payload_types = Vec::new();
    let mut formats = 0usize;
    for fmt in parts {
        formats += 1;
        match fmt.parse::<u8>() {
            Ok(pt) if pt <= 127 => payload_types.push(pt),
            _ if rtp => return Err(line.err("m= RTP format is not a payload type 0-127")),
            _ => {}
        }
    }
    if formats == 0 {
        return Err(line.err("m= line has no formats"));
    }
    Ok(MediaInfo {
        kind: kind.to_owned(),
        port,
        proto: proto.to_owned(),
        connection: None,
        rtcp_mux: false,
        rtcp_port: None,
        setup: None,
        direction: Direction::SendRecv,
        payload_types,
    })
}

/// The attributes the relay reads; every other one is `Other`.
enum Attribute {
    Direction(Direction),
    Setup(String),
    RtcpMux,
    Rtcp(u16),
    Other,
}

fn attribute(line: &Line<'_>) -> Result<Attribute, SdpError> {
    let (name, value) = match line.value.iter().position(|&b| b == b':') {
        Some(i) => (line.value.get(..i).unwrap_or_default(), line.value.get(i + 1..)),
        None => (line.value, None),
    };
    let text = |v: &[u8]| std::str::from_utf8(v).map(str::to_owned).map_err(|_| line.err("attribute value is not UTF-8"));
    Ok(match (name, value) {
        (b"sendrecv", None) => Attribute::Direction(Direction::SendRecv),
        (b"sendonly", None) => Attribute::Direction(Direction::SendOnly),
        (b"recvonly", None) => Attribute::Direction(Direction::RecvOnly),
        (b"inactive", None) => Attribute::Direction(Direction::Inactive),
        (b"rtcp-mux", None) => Attribute::RtcpMux,
        (b"setup", Some(v)) => Attribute::Setup(text(v)?.trim().to_owned()),
        (b"rtcp", Some(v)) => {
            let port = fields(v).next().map(|(_, f)| f).unwrap_or_default();
            let port = std::str::from_utf8(port).ok().and_then(|p| p.parse().ok()).ok_or(line.err("a=rtcp port is not a number"))?;
            Attribute::Rtcp(port)
        }
        _ => Attribute::Other,
    })
}
