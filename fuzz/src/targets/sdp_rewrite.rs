//! The switch's SDP handling (`media::sdp`) on any body a phone sends: `inspect`
//! never panics, and on a body it accepts, `rewrite` toward the relay either
//! refuses for the one documented reason (a section to move with no address)
//! or gives a body that
//! - is inspected again with the relay's address and ports in the sections it
//!   moved, and every section it left alone still where it was (same port, same
//!   address: rewriting the session `c=` must not drag it along);
//! - has the new `o=` version, the same m-lines, and at most one line more per
//!   media section (the copied session `c=`), each line grown by a bounded amount;
//! - is a fixed point: rewriting it again with the same values changes nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use media::sdp::{MAX_SDP, Rewrite, SdpError, inspect, rewrite};

/// Longest line a rewrite writes in place of one it read: `c=IN IP6 ` and an
/// IPv6 address, or an `a=rtcp:` with port and address, with room to spare.
const LINE_GROWTH: usize = 64;

/// Runs one input: `[choices, body...]`. `choices` picks the relay's address
/// family and which sections to leave alone.
pub fn run(data: &[u8]) {
    let [choices, body @ ..] = data else { return };
    let Ok(info) = inspect(body) else { return };
    let address = if choices & 1 == 0 {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))
    } else {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0xabcd, 0x1234))
    };
    // Leave a section alone when it is rejected (port 0) or the choices say so.
    let ports: Vec<Option<u16>> = info
        .media
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let skip = m.port == 0 || (choices >> 1) & (1 << (i % 7)) != 0;
            (!skip).then(|| 40_000u16.wrapping_add(u16::try_from(i % 1000).unwrap_or(0) * 2))
        })
        .collect();
    let rw = Rewrite { address, ports: ports.clone(), origin_version: info.origin_version.unwrap_or(0).wrapping_add(1) };
    let out = match rewrite(body, &rw) {
        Ok(out) => out,
        Err(SdpError::NoConnection(n)) => {
            let m = info.media.get(n.wrapping_sub(1));
            assert!(m.is_some_and(|m| m.connection.is_none()), "NoConnection({n}) for a section that has an address");
            return;
        }
        Err(e) => panic!("rewrite refused a body inspect accepted: {e}"),
    };
    let lines_in = count_lines(body);
    let lines_out = count_lines(&out);
    assert!(lines_out <= lines_in + info.media.len(), "{lines_in} lines became {lines_out}");
    assert!(
        out.len() <= body.len() + LINE_GROWTH * (lines_in + info.media.len()),
        "the body grew from {} to {} bytes",
        body.len(),
        out.len()
    );
    if out.len() > MAX_SDP {
        // Too big to read back: the switch would refuse to read it too; nothing more to check.
        return;
    }
    let after = match inspect(&out) {
        Ok(after) => after,
        Err(e) => panic!("the rewritten body does not inspect: {e}"),
    };
    assert_eq!(after.media.len(), info.media.len(), "the rewrite changed the number of m-lines");
    if info.origin_version.is_some() {
        assert_eq!(after.origin_version, Some(rw.origin_version), "o= version not written");
    }
    for (i, ((before, now), port)) in info.media.iter().zip(&after.media).zip(&ports).enumerate() {
        assert_eq!((&now.kind, &now.proto, &now.payload_types), (&before.kind, &before.proto, &before.payload_types), "m-line {i}");
        assert_eq!((now.direction, &now.setup, now.rtcp_mux), (before.direction, &before.setup, before.rtcp_mux), "m-line {i}");
        match port {
            Some(port) => {
                assert_eq!(now.port, *port, "m-line {i}: port not written");
                assert_eq!(now.connection, Some(address), "m-line {i}: address not written");
            }
            None => {
                assert_eq!(now.port, before.port, "m-line {i} was left alone but its port moved");
                assert_eq!(now.connection, before.connection, "m-line {i} was left alone but its address moved");
                assert_eq!(now.rtcp_port, before.rtcp_port, "m-line {i} was left alone but its a=rtcp moved");
            }
        }
    }
    match rewrite(&out, &rw) {
        Ok(twice) => assert_eq!(twice, out, "rewriting a rewritten body changed it"),
        Err(e) => panic!("the rewritten body cannot be rewritten again: {e}"),
    }
}

fn count_lines(body: &[u8]) -> usize {
    body.split(|&b| b == b'\n').filter(|l| !l.is_empty() && *l != b"\r").count()
}
