//! Splicing the relay's address and ports into an SDP body, byte-exact elsewhere.

use std::io::Write as _;
use std::net::IpAddr;

use bytes::Bytes;

use super::SdpError;
use super::inspect::{Section, parse};
use super::lines::{Line, fields};

/// What to write into a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// The relay address written into every `c=` line that is rewritten.
    pub address: IpAddr,
    /// One entry per m-line, in order: `Some(p)` writes `p` into that `m=` line (and `p + 1`
    /// into its `a=rtcp:`), `None` leaves that media section exactly as it is. A rejected
    /// stream (port 0) should stay `None`: a port written there would revive it.
    pub ports: Vec<Option<u16>>,
    /// The new `o=` sess-version (RFC 3264 §8: one more than the last one this side sent).
    pub origin_version: u64,
}

/// Rewrites `body` for the relay:
///
/// - the session-level `c=` and every `c=` in a rewritten media section become
///   `c=IN IP4|IP6 <address>` (a multicast `/ttl` suffix goes away);
/// - a rewritten `m=` line gets the new port (a `/count` suffix goes away: the relay has one pair);
/// - its `a=rtcp:` gets port + 1 (or the port itself when the section muxes RTCP and
///   `a=rtcp` named the RTP port), and the relay address when it named an address;
/// - the `o=` line gets `origin_version`;
/// - every other line, line ending and trailing blank line is copied byte for byte.
///
/// A section left alone (`None`) that relied on the session-level `c=` gets a copy
/// of the original session `c=` (its fields single-spaced) right after its `m=` (and `i=`) line, so that
/// rewriting the session address does not silently move it.
pub fn rewrite(body: &[u8], rw: &Rewrite) -> Result<Bytes, SdpError> {
    let (lines, info, layout) = parse(body)?;
    if rw.ports.len() != info.media.len() {
        return Err(SdpError::PortCount { given: rw.ports.len(), found: info.media.len() });
    }
    let session_c = layout.session_c.and_then(|i| lines.lines.get(i));
    for (n, (port, section)) in rw.ports.iter().zip(&layout.media).enumerate() {
        if port.is_some() && !section.has_c && session_c.is_none() {
            return Err(SdpError::NoConnection(n + 1));
        }
    }
    let mut out = Vec::with_capacity(body.len() + 64);
    let session_end = layout.media.first().map_or(lines.lines.len(), |s| s.start);
    for line in lines.lines.iter().take(session_end) {
        match line.kind {
            b'o' => origin(&mut out, line, rw.origin_version),
            b'c' => connection(&mut out, line, rw.address),
            _ => out.extend_from_slice(line.raw),
        }
    }
    for ((port, section), media) in rw.ports.iter().zip(&layout.media).zip(&info.media) {
        let section_lines = lines.lines.get(section.start..section.end).unwrap_or_default();
        match port {
            Some(port) => {
                // RFC 5761 §5.1.3: with rtcp-mux, a=rtcp may name the RTP port itself.
                let rtcp_port = if media.rtcp_mux && media.rtcp_port == Some(media.port) { *port } else { port.saturating_add(1) };
                for (i, line) in section_lines.iter().enumerate() {
                    match line.kind {
                        b'm' if i == 0 => replace_field(&mut out, line, 1, port),
                        b'c' => connection(&mut out, line, rw.address),
                        b'a' if line.value.starts_with(b"rtcp:") => rtcp(&mut out, line, rtcp_port, rw.address),
                        _ => out.extend_from_slice(line.raw),
                    }
                }
            }
            None => untouched(&mut out, section, section_lines, session_c),
        }
    }
    out.extend_from_slice(lines.tail);
    Ok(Bytes::from(out))
}

/// Copies a media section as is, adding the original session `c=` when it relied on it.
fn untouched(out: &mut Vec<u8>, section: &Section, lines: &[Line<'_>], session_c: Option<&Line<'_>>) {
    let mut pending = session_c.filter(|_| !section.has_c);
    let mut previous: Option<&Line<'_>> = None;
    for line in lines {
        // RFC 4566 order inside a media section: m=, i=, c=, b=, k=, a=.
        if let Some(c) = pending.filter(|_| previous.is_some() && line.kind != b'i') {
            connection_copy(out, c, c.ending);
            pending = None;
        }
        out.extend_from_slice(line.raw);
        previous = Some(line);
    }
    if let Some(c) = pending {
        if previous.is_some_and(|p| p.ending.is_empty()) {
            // The section ended the body without a line ending: end it, and leave the copy without one.
            out.extend_from_slice(c.ending);
            connection_copy(out, c, b"");
        } else {
            connection_copy(out, c, c.ending);
        }
    }
}

/// The session `c=` written again with single spaces between its fields: a line
/// padded with spaces must not be copied into every section (a small offer would
/// otherwise grow by its padding once per section).
fn connection_copy(out: &mut Vec<u8>, c: &Line<'_>, ending: &[u8]) {
    out.extend_from_slice(b"c=");
    for (i, (_, field)) in fields(c.value).enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(field);
    }
    out.extend_from_slice(ending);
}

fn connection(out: &mut Vec<u8>, line: &Line<'_>, address: IpAddr) {
    let kind = if address.is_ipv4() { "IP4" } else { "IP6" };
    // Writing into a Vec cannot fail.
    let _ = write!(out, "c=IN {kind} {address}");
    out.extend_from_slice(line.ending);
}

fn origin(out: &mut Vec<u8>, line: &Line<'_>, version: u64) {
    replace_field(out, line, 2, version);
}

/// Writes `line` with its `index`-th space-separated field replaced by `new`.
fn replace_field(out: &mut Vec<u8>, line: &Line<'_>, index: usize, new: impl std::fmt::Display) {
    let Some((start, field)) = fields(line.value).nth(index) else {
        out.extend_from_slice(line.raw);
        return;
    };
    let (before, after) = (line.value.get(..start).unwrap_or_default(), line.value.get(start + field.len()..).unwrap_or_default());
    out.push(line.kind);
    out.push(b'=');
    out.extend_from_slice(before);
    let _ = write!(out, "{new}");
    out.extend_from_slice(after);
    out.extend_from_slice(line.ending);
}

/// `a=rtcp:<port> [IN IP4|IP6 <address>]` (RFC 3605) with the new port and, when present, address.
fn rtcp(out: &mut Vec<u8>, line: &Line<'_>, port: u16, address: IpAddr) {
    let rest = line.value.get(b"rtcp:".len()..).unwrap_or_default();
    let mut parts = fields(rest);
    let port_end = parts.next().map_or(0, |(start, f)| start + f.len());
    let _ = write!(out, "a=rtcp:{port}");
    if parts.next().is_some() {
        let kind = if address.is_ipv4() { "IP4" } else { "IP6" };
        let _ = write!(out, " IN {kind} {address}");
    } else {
        out.extend_from_slice(rest.get(port_end..).unwrap_or_default());
    }
    out.extend_from_slice(line.ending);
}
