//! The agent's own SDP offers and answers (RFC 3264), built and validated with
//! `webrtc-sdp`: PCMU (0), PCMA (8), telephone-event/8000 (101), ptime 20.
//!
//! Three things `webrtc-sdp` does not know are handled here at line level:
//! the `TCP/RTP/AVP` protocol of RFC 4571 (the m= token is mapped to `RTP/AVP`
//! before parsing and back when printing, and remembered per section), the
//! `a=connection:new` attribute of RFC 4145 (appended to the printed section),
//! and SDES-SRTP (RFC 4568): `RTP/SAVP` (and `TCP/RTP/SAVP`) sections carry
//! `a=crypto` lines, read and written by [`crate::srtp::CryptoAttribute`].
//! Non-audio sections (video, T.38 `image`…) are kept out of the parser and
//! rejected with port 0 in our answers, in the offer's order.
//!
//! SRTP: with a key in [`LocalMedia::srtp`] our offers are `RTP/SAVP` with one
//! `a=crypto:1 AES_CM_128_HMAC_SHA1_80` line, and an `RTP/SAVP` offer is
//! answered with the first of its crypto lines we can honour (same tag and
//! suite, our own key). An `RTP/AVP` offer is answered in plain RTP, crypto
//! lines or not (no "best-effort" SDES). Whether a plain answer to our
//! `RTP/SAVP` offer is acceptable is the caller's policy: [`negotiated`] says
//! what the answer agreed to ([`Negotiated::srtp`]).

use std::net::{IpAddr, SocketAddr};

use webrtc_sdp::address::ExplicitlyTypedAddress;
use webrtc_sdp::attribute_type::{SdpAttribute, SdpAttributeRtpmap, SdpAttributeSetup, parse_attribute};
use webrtc_sdp::media_type::{SdpFormatList, SdpMedia, SdpMediaLine, SdpMediaValue, SdpProtocolValue};
use webrtc_sdp::{SdpConnection, SdpOrigin, SdpSession, SdpTiming, SdpType, parse_sdp};

use crate::endpoint::error::EndpointError;
use crate::srtp::{CryptoAttribute, MasterKey, SrtpKeys, SrtpSuite};
use crate::{BearerTransport, Direction, g711};

/// Payload type we offer for RFC 4733 telephone-events.
pub const DTMF_PT: u8 = 101;
/// Packetisation time we offer and send, in milliseconds.
pub const PTIME_MS: u64 = 20;
/// Largest SDP body we parse.
pub const MAX_SDP_BYTES: usize = 64 * 1024;
/// The tag of the one `a=crypto` line our offers carry.
const OFFER_CRYPTO_TAG: u32 = 1;
/// The suite our offers propose.
const OFFER_SUITE: SrtpSuite = SrtpSuite::AesCm128HmacSha1_80;

/// The G.711 codecs the agent speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec of a static payload type, if it is one of ours.
    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// Encodes one linear sample.
    pub fn encode(self, s: i16) -> u8 {
        match self {
            Codec::Pcmu => g711::ulaw_encode(s),
            Codec::Pcma => g711::alaw_encode(s),
        }
    }

    /// Decodes one byte to a linear sample.
    pub fn decode(self, b: u8) -> i16 {
        match self {
            Codec::Pcmu => g711::ulaw_decode(b),
            Codec::Pcma => g711::alaw_decode(b),
        }
    }
}

/// What the agent puts in its SDP: where its bearer listens/sends from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// c= and o= address (the agent's private IP).
    pub address: IpAddr,
    /// m= port: the agent's bearer port.
    pub port: u16,
    /// UDP (`RTP/AVP`) or RFC 4571 TCP (`TCP/RTP/AVP`, we always connect: `a=setup:active`).
    pub transport: BearerTransport,
    /// o= session id.
    pub session_id: u64,
    /// o= version: bump it for each new offer/answer in the dialog (re-INVITE).
    pub version: u64,
    /// Our SRTP master key: with one, our offers are `RTP/SAVP` (SDES) and
    /// `RTP/SAVP` offers can be answered; without, both are plain RTP only.
    pub srtp: Option<MasterKey>,
}

/// The outcome of an offer/answer exchange, from the agent's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Where to send RTP (the peer's c= and m= port); for TCP, where to connect.
    pub remote: SocketAddr,
    /// The codec to send and expect.
    pub codec: Codec,
    /// The peer's telephone-event payload type, when it takes RFC 4733.
    pub dtmf_pt: Option<u8>,
    /// The bearer transport of the accepted stream.
    pub transport: BearerTransport,
    /// The direction the PEER's SDP declares, from its own point of view:
    /// `SendOnly` or `Inactive` means it holds us (we must not send audio),
    /// `RecvOnly` means it will not send to us. An offer with c=0.0.0.0
    /// (RFC 2543 hold) reads as `Inactive`.
    pub direction: Direction,
    /// The stream is SRTP (`RTP/SAVP`): the suite, our key and the peer's. None: plain RTP.
    pub srtp: Option<SrtpKeys>,
}

/// The answerer's direction for an offered one (RFC 3264 §6.1).
pub fn mirror(d: Direction) -> Direction {
    match d {
        Direction::SendOnly => Direction::RecvOnly,
        Direction::RecvOnly => Direction::SendOnly,
        d => d,
    }
}

fn sdp_err(why: impl std::fmt::Display) -> EndpointError {
    EndpointError::Sdp(why.to_string())
}

fn direction_attr(d: Direction) -> SdpAttribute {
    match d {
        Direction::SendRecv => SdpAttribute::Sendrecv,
        Direction::SendOnly => SdpAttribute::Sendonly,
        Direction::RecvOnly => SdpAttribute::Recvonly,
        Direction::Inactive => SdpAttribute::Inactive,
    }
}

fn session(local: &LocalMedia) -> SdpSession {
    let origin = SdpOrigin {
        username: "-".into(),
        session_id: local.session_id,
        session_version: local.version,
        unicast_addr: ExplicitlyTypedAddress::Ip(local.address),
    };
    let mut s = SdpSession::new(0, origin, "-".into());
    s.set_connection(SdpConnection { address: ExplicitlyTypedAddress::Ip(local.address), ttl: None, amount: None });
    s.set_timing(SdpTiming { start: 0, stop: 0 });
    s
}

/// Prints our audio section for `codecs` (+ telephone-event at `dtmf_pt`), SRTP with `crypto`.
fn audio_section(
    local: &LocalMedia,
    codecs: &[Codec],
    dtmf_pt: Option<u8>,
    direction: Direction,
    crypto: Option<&CryptoAttribute>,
) -> String {
    let mut m = SdpMedia::new(SdpMediaLine {
        media: SdpMediaValue::Audio,
        port: u32::from(local.port),
        port_count: 0,
        proto: if crypto.is_some() { SdpProtocolValue::RtpSavp } else { SdpProtocolValue::RtpAvp },
        formats: SdpFormatList::Integers(Vec::new()),
    });
    // `add_codec`/`add_attribute` refuse only attributes that are not allowed at
    // media level; every one added here is, so their results carry nothing.
    for c in codecs {
        let _ = m.add_codec(SdpAttributeRtpmap::new(c.payload_type(), c.name().into(), 8000));
    }
    if let Some(pt) = dtmf_pt {
        let _ = m.add_codec(SdpAttributeRtpmap::new(pt, "telephone-event".into(), 8000));
        if let Ok(SdpType::Attribute(fmtp)) = parse_attribute(&format!("fmtp:{pt} 0-16")) {
            let _ = m.add_attribute(fmtp);
        }
    }
    let _ = m.add_attribute(SdpAttribute::Ptime(PTIME_MS));
    let _ = m.add_attribute(direction_attr(direction));
    if local.transport == BearerTransport::Tcp {
        // The agent never listens: it always opens the TCP bearer (RFC 4145).
        let _ = m.add_attribute(SdpAttribute::Setup(SdpAttributeSetup::Active));
    }
    let mut text = m.to_string();
    if local.transport == BearerTransport::Tcp {
        // The first " RTP/AVP " (" RTP/SAVP ") is the m= line's protocol token.
        text = text.replacen(" RTP/", " TCP/RTP/", 1);
        text.push_str("a=connection:new\r\n");
    }
    if let Some(crypto) = crypto {
        text.push_str(&format!("a=crypto:{}\r\n", crypto.value()));
    }
    text
}

/// Our offer: PCMU, PCMA, telephone-event/8000 at 101, ptime 20, sendrecv;
/// for TCP `TCP/RTP/AVP` with `a=setup:active` and `a=connection:new`; with an
/// SRTP key `RTP/SAVP` (`TCP/RTP/SAVP`) and `a=crypto:1 AES_CM_128_HMAC_SHA1_80`.
pub fn build_offer(local: &LocalMedia) -> String {
    build_offer_with_direction(local, Direction::SendRecv)
}

/// [`build_offer`] with another direction, e.g. `SendOnly` to put the peer on hold.
pub fn build_offer_with_direction(local: &LocalMedia, direction: Direction) -> String {
    let mut text = session(local).to_string();
    let crypto = local.srtp.clone().map(|key| CryptoAttribute { tag: OFFER_CRYPTO_TAG, suite: OFFER_SUITE, key });
    text.push_str(&audio_section(local, &[Codec::Pcmu, Codec::Pcma], Some(DTMF_PT), direction, crypto.as_ref()));
    text
}

/// One m= line of a received SDP, as written.
struct Section {
    media: String,
    proto: String,
    formats: String,
    tcp: bool,
    /// `RTP/SAVP`: SRTP, keyed by the section's `a=crypto` lines.
    secure: bool,
    /// The values of its `a=crypto:` lines, in order.
    crypto: Vec<String>,
    /// Index into the parsed session's media, for the audio sections we parsed.
    parsed: Option<usize>,
}

/// The RTP protocols we can use: (over TCP, SRTP) for each.
fn rtp_profile(proto: &str) -> Option<(bool, bool)> {
    let is = |p: &str| proto.eq_ignore_ascii_case(p);
    match () {
        () if is("RTP/AVP") || is("RTP/AVPF") => Some((false, false)),
        () if is("RTP/SAVP") || is("RTP/SAVPF") => Some((false, true)),
        () if is("TCP/RTP/AVP") => Some((true, false)),
        () if is("TCP/RTP/SAVP") => Some((true, true)),
        () => None,
    }
}

/// Parses a peer's SDP: audio sections with an RTP protocol we speak go through
/// webrtc-sdp (as RTP/AVP, their `a=crypto` lines kept aside), every m= line is
/// listed in order.
fn parse(text: &str) -> Result<(SdpSession, Vec<Section>), EndpointError> {
    if text.len() > MAX_SDP_BYTES {
        return Err(sdp_err(format!("SDP body over {MAX_SDP_BYTES} bytes")));
    }
    let mut feed = String::with_capacity(text.len());
    let mut sections = Vec::new();
    let mut keep = true;
    let mut parsed = 0usize;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(value) = line.strip_prefix("m=") {
            let mut tok = value.split_whitespace();
            let (media, port, proto) = (tok.next().unwrap_or(""), tok.next().unwrap_or(""), tok.next().unwrap_or(""));
            let formats = tok.collect::<Vec<_>>().join(" ");
            let profile = rtp_profile(proto).filter(|_| media.eq_ignore_ascii_case("audio"));
            keep = profile.is_some();
            let (tcp, secure) = profile.unwrap_or_default();
            sections.push(Section {
                media: media.into(),
                proto: proto.into(),
                formats: formats.clone(),
                tcp,
                secure,
                crypto: Vec::new(),
                parsed: keep.then_some(parsed),
            });
            if keep {
                parsed += 1;
                feed.push_str(&format!("m={media} {port} RTP/AVP {formats}\r\n"));
            }
            continue;
        }
        if let (Some(value), Some(section)) = (line.strip_prefix("a=crypto:"), sections.last_mut()) {
            section.crypto.push(value.to_owned());
            continue;
        }
        if keep {
            feed.push_str(line);
            feed.push_str("\r\n");
        }
    }
    let session = parse_sdp(&feed, false).map_err(sdp_err)?;
    if session.media.len() != parsed {
        return Err(sdp_err("malformed media section"));
    }
    Ok((session, sections))
}

fn direction_of(attrs: &[SdpAttribute]) -> Option<Direction> {
    attrs.iter().find_map(|a| match a {
        SdpAttribute::Sendrecv => Some(Direction::SendRecv),
        SdpAttribute::Sendonly => Some(Direction::SendOnly),
        SdpAttribute::Recvonly => Some(Direction::RecvOnly),
        SdpAttribute::Inactive => Some(Direction::Inactive),
        _ => None,
    })
}

/// What a usable audio section of the peer says.
struct Remote {
    addr: SocketAddr,
    codecs: Vec<Codec>,
    dtmf_pt: Option<u8>,
    direction: Direction,
}

fn remote_of(session: &SdpSession, m: &SdpMedia) -> Result<Remote, EndpointError> {
    let conn = m.get_connection().as_ref().or(session.get_connection().as_ref()).ok_or_else(|| sdp_err("no c= line"))?;
    let ip = match &conn.address {
        ExplicitlyTypedAddress::Ip(ip) => *ip,
        ExplicitlyTypedAddress::Fqdn { domain, .. } => return Err(sdp_err(format!("c= names a host ({domain}), not an address"))),
    };
    let port = u16::try_from(m.get_port()).map_err(|_| sdp_err("m= port out of range"))?;
    let formats: Vec<u32> = match m.get_formats() {
        SdpFormatList::Integers(v) => v.clone(),
        _ => Vec::new(),
    };
    let codecs = formats.iter().filter_map(|&f| u8::try_from(f).ok().and_then(Codec::from_payload_type)).collect();
    let dtmf_pt = m.get_attributes().iter().find_map(|a| match a {
        SdpAttribute::Rtpmap(r)
            if r.codec_name.eq_ignore_ascii_case("telephone-event")
                && r.frequency == 8000
                && formats.contains(&u32::from(r.payload_type)) =>
        {
            Some(r.payload_type)
        }
        _ => None,
    });
    let mut direction = direction_of(m.get_attributes()).or_else(|| direction_of(&session.attribute)).unwrap_or_default();
    if ip.is_unspecified() {
        direction = Direction::Inactive;
    }
    Ok(Remote { addr: SocketAddr::new(ip, port), codecs, dtmf_pt, direction })
}

/// Answers a peer's offer: accepts the first audio stream we can use, with
/// the first of its codecs we speak (in the offer's order), telephone-event if
/// offered, and the mirrored direction (their `sendonly` hold gets `recvonly`,
/// `inactive` stays). An `RTP/SAVP` stream is usable with an SRTP key of ours
/// and a crypto line we can honour (the first, in the offer's order: answered
/// with its tag and suite and our key). Other m= lines are rejected with port 0.
/// Errors map to 488 (the [`sipcore::ToStatus`] of [`EndpointError`]):
/// [`EndpointError::NoCommonCodec`] when no audio stream has PCMU/PCMA,
/// [`EndpointError::Sdp`] for unusable SDP (SRTP offered that we cannot do included).
pub fn answer(offer: &str, local: &LocalMedia) -> Result<(String, Negotiated), EndpointError> {
    let (session, sections) = parse(offer)?;
    let mut chosen = None;
    let (mut saw_audio, mut refused_srtp) = (false, false);
    for (i, s) in sections.iter().enumerate() {
        let Some(m) = s.parsed.and_then(|p| session.media.get(p)) else { continue };
        if m.get_port() == 0 {
            continue;
        }
        let crypto = match (s.secure, &local.srtp) {
            (false, _) => None,
            (true, Some(key)) => match s.crypto.iter().find_map(|line| CryptoAttribute::parse(line)) {
                Some(theirs) => Some((CryptoAttribute { key: key.clone(), ..theirs.clone() }, theirs)),
                None => {
                    refused_srtp = true;
                    continue;
                }
            },
            (true, None) => {
                refused_srtp = true;
                continue;
            }
        };
        saw_audio = true;
        let r = remote_of(&session, m)?;
        // A TCP offer's a=setup is not checked: the agent never listens, so it
        // always answers `active`, and the switch's relay always listens on the
        // leg port. The offer it forwards is the far caller's SDP rewritten at
        // line level, so its a=setup is the caller's (often `active`), not the relay's.
        if let Some(&codec) = r.codecs.first() {
            chosen = Some((i, codec, r, crypto));
            break;
        }
    }
    let Some((index, codec, remote, crypto)) = chosen else {
        return Err(match (saw_audio, refused_srtp) {
            (true, _) => EndpointError::NoCommonCodec,
            (false, true) => sdp_err("SRTP (RTP/SAVP) offered without an a=crypto line we can use, or SRTP is off here"),
            (false, false) => sdp_err("no usable audio stream"),
        });
    };
    let tcp = sections.get(index).is_some_and(|s| s.tcp);
    let ours = LocalMedia { transport: if tcp { BearerTransport::Tcp } else { BearerTransport::Udp }, ..local.clone() };
    let mut text = session_text(&ours);
    for (i, s) in sections.iter().enumerate() {
        if i == index {
            let ours_crypto = crypto.as_ref().map(|(ours, _)| ours);
            text.push_str(&audio_section(&ours, &[codec], remote.dtmf_pt, mirror(remote.direction), ours_crypto));
        } else {
            text.push_str(&format!("m={} 0 {} {}\r\n", s.media, s.proto, s.formats));
        }
    }
    let srtp = crypto.map(|(ours, theirs)| SrtpKeys { suite: ours.suite, local: ours.key, remote: theirs.key });
    let neg =
        Negotiated { remote: remote.addr, codec, dtmf_pt: remote.dtmf_pt, transport: ours.transport, direction: remote.direction, srtp };
    Ok((text, neg))
}

fn session_text(local: &LocalMedia) -> String {
    session(local).to_string()
}

/// Reads the peer's answer to our offer: the first accepted (port ≠ 0) audio
/// stream, its first PCMU/PCMA payload type, telephone-event, transport and
/// direction. A rejected stream or no G.711 is [`EndpointError::NoCommonCodec`].
/// `offered` is the SRTP key our offer carried: an `RTP/SAVP` answer must hold
/// the crypto line that accepts ours (same tag and suite) and gives its key;
/// a plain answer to an SRTP offer reads as plain ([`Negotiated::srtp`] None:
/// the caller's policy decides); an `RTP/SAVP` answer to a plain offer is an error.
pub fn negotiated(answer: &str, offered: Option<&MasterKey>) -> Result<Negotiated, EndpointError> {
    let (session, sections) = parse(answer)?;
    for s in &sections {
        let Some(m) = s.parsed.and_then(|p| session.media.get(p)) else { continue };
        if m.get_port() == 0 {
            continue;
        }
        let r = remote_of(&session, m)?;
        let codec = *r.codecs.first().ok_or(EndpointError::NoCommonCodec)?;
        let transport = if s.tcp { BearerTransport::Tcp } else { BearerTransport::Udp };
        let srtp = match (s.secure, offered) {
            (false, _) => None,
            (true, None) => return Err(sdp_err("an RTP/SAVP answer to an offer without SRTP")),
            (true, Some(ours)) => {
                let theirs = s
                    .crypto
                    .iter()
                    .filter_map(|line| CryptoAttribute::parse(line))
                    .find(|c| c.tag == OFFER_CRYPTO_TAG && c.suite == OFFER_SUITE)
                    .ok_or_else(|| sdp_err("the answer's a=crypto does not accept the one offered"))?;
                Some(SrtpKeys { suite: theirs.suite, local: ours.clone(), remote: theirs.key })
            }
        };
        return Ok(Negotiated { remote: r.addr, codec, dtmf_pt: r.dtmf_pt, transport, direction: r.direction, srtp });
    }
    Err(EndpointError::NoCommonCodec)
}

#[cfg(test)]
#[path = "offer_tests.rs"]
mod tests;
