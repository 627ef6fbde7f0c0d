//! The STUN codec (`sipcore::stun`) on any datagram. Its client side, as the
//! agent's discovery reads what a server (or anyone who can send to the
//! agent's port) sends: no panic; an answer it accepts carries an address that
//! the codec's own encoder turns back into an answer giving the same address;
//! what it takes for a Binding request has the request's type and the
//! transaction id it reports. And its server side, as the switch's SIP UDP
//! ports, `--stun` listeners and relay ports read what anyone sends them: a
//! Binding request it would answer is one the client side reads too, the
//! answer reads back with the requester's address, and it is never more than
//! `MAX_GROWTH` bytes longer than the request (no amplification).

use sipcore::stun::{self, HEADER_LEN, TransactionId, binding_success, parse_binding_request, parse_binding_response};

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

/// The answering side: what `stun::read` takes for an answerable Binding
/// request, and the answer `stun::answer` writes, to an IPv4 and an IPv6
/// requester; what it does not answer, it does not take for one.
pub fn relay(datagram: &[u8]) {
    let read = stun::read(datagram);
    for mapped in ["198.51.100.7:40000", "[2001:db8::7]:40000"] {
        let mapped: std::net::SocketAddr = mapped.parse().unwrap_or_else(|e| panic!("{e}"));
        let mut out = [0u8; stun::MAX_ANSWER];
        let answered = stun::answer(datagram, mapped, &mut out);
        let Some(stun::Message::BindingRequest { txid, .. }) = read else {
            assert!(answered.is_err(), "answered what it does not read as a Binding request");
            continue;
        };
        assert_eq!(parse_binding_request(datagram), Some(txid), "answers what the client side would not read as a request");
        let n = answered.unwrap_or_else(|e| panic!("a Binding request it reads is not answered: {e}"));
        assert!(n <= datagram.len() + stun::MAX_GROWTH, "a {n}-byte answer to a {}-byte request", datagram.len());
        let answer = out.get(..n).unwrap_or_else(|| panic!("answer length {n} past its buffer"));
        assert_eq!(parse_binding_response(answer, &txid), Ok(mapped), "our answer does not read back");
    }
}
