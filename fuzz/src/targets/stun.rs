//! The agent's STUN codec (`agent::discovery::stun`) on any datagram, as the
//! server (or anyone who can send to the agent's port) may send it: no panic;
//! an answer it accepts carries an address that the codec's own encoder turns
//! back into an answer giving the same address; what it takes for a Binding
//! request has the request's type and the transaction id it reports.

use agent::discovery::stun::{HEADER_LEN, TransactionId, binding_success, parse_binding_request, parse_binding_response};

/// Runs one input: the datagram. It is checked against its own transaction id
/// (so answers can match) and against another one (which must never match).
pub fn run(datagram: &[u8]) {
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
