//! The agent's STUN codec (`agent::discovery::stun`) on any datagram, as the
//! server (or anyone who can send to the agent's port) may send it: no panic;
//! an answer it accepts carries an address that the codec's own encoder turns
//! back into an answer giving the same address; what it takes for a Binding
//! request has the request's type and the transaction id it reports. And the
//! relay's reader (`media::stun::read`, anyone who can reach a relay port): a
//! Binding request it would answer is one the agent's codec reads too, and
//! the answer written to it reads back with the requester's address.

use agent::discovery::stun::{HEADER_LEN, TransactionId, binding_success, parse_binding_request, parse_binding_response};

/// Runs one input: the datagram. It is checked against its own transaction id
/// (so answers can match) and against another one (which must never match).
pub fn run(datagram: &[u8]) {
    relay(datagram);
    let own: TransactionId = datagram.get(8..HEADER_LEN).and_then(|t| t.try_into().ok()).unwrap_or_default();
    let mut other = own;
    if let Some(first) = other.first_mut() {
        *first ^= 0x5a;
    }
    if let Ok(addr) = parse_binding_response(datagram, &own) {
        let again = parse_binding_response(&binding_success(&own, addr), &own);
        assert_eq!(again, Ok(addr), "our own encoding of {addr} does not read back");
    }
    if datagram.len() >= HEADER_LEN {
        assert!(parse_binding_response(datagram, &other).is_err(), "an answer matched another transaction");
    }
    if let Some(txid) = parse_binding_request(datagram) {
        assert_eq!(txid, own, "a request's transaction id is not its bytes 8..20");
        assert_eq!(datagram.get(..2), Some(&[0u8, 1][..]), "not a Binding request type");
    }
}

/// The relay's side: what `media::stun::read` takes for an answerable Binding
/// request, and the answer it writes, to an IPv4 and an IPv6 requester.
pub fn relay(datagram: &[u8]) {
    let Some(media::stun::Message::BindingRequest { txid, fingerprint }) = media::stun::read(datagram) else {
        return;
    };
    assert_eq!(parse_binding_request(datagram), Some(txid), "the relay answers what the agent would not read as a request");
    for mapped in ["198.51.100.7:40000", "[2001:db8::7]:40000"] {
        let mapped: std::net::SocketAddr = mapped.parse().unwrap_or_else(|e| panic!("{e}"));
        let mut out = [0u8; media::stun::MAX_ANSWER];
        let n = media::stun::write_binding_success(&txid, mapped, fingerprint, &mut out);
        let answer = out.get(..n).unwrap_or_else(|| panic!("answer length {n} past its buffer"));
        assert_eq!(parse_binding_response(answer, &txid), Ok(mapped), "our answer does not read back");
    }
}
