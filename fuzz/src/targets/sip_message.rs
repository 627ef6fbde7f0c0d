//! `sipcore::parse` on any bytes (a UDP datagram, or what the framer cut from a
//! stream): it never panics; on whatever parses, every typed accessor runs, and
//! printing then parsing gives the same message, whose printing is a fixed point.

use bytes::Bytes;

// The accessors sipcore's property tests run, from the one file both use.
#[allow(unreachable_pub)]
#[path = "../../../sipcore/tests/common/accessors.rs"]
mod accessors;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(msg) = sipcore::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    accessors::exercise_accessors(&msg);
    let printed = msg.to_bytes();
    let again = match sipcore::parse(printed.clone()) {
        Ok(m) => m,
        Err(e) => panic!("the printed message does not parse: {e}"),
    };
    assert_eq!(again, msg, "print/parse changed the message");
    assert_eq!(again.to_bytes(), printed, "printing is not a fixed point");
}
