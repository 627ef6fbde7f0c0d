//! The digest header parsers (`sipcore::auth`) on any text, as a
//! `WWW-Authenticate`/`Proxy-Authenticate` (the agent reads the switch's) or an
//! `Authorization`/`Proxy-Authorization` (the switch reads every phone's, and
//! every attacker's): they never panic, error offsets stay inside the input,
//! and whatever parses prints to text that parses to the same thing.

use sipcore::auth::{AuthError, parse_challenge, parse_credentials};

/// Runs one input (not UTF-8: nothing to do, header values reach the parsers as `&str`).
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_challenge(text) {
        Ok(c) => {
            let printed = c.to_string();
            let again = match parse_challenge(&printed) {
                Ok(again) => again,
                Err(e) => panic!("the printed challenge {printed:?} does not parse: {e}"),
            };
            assert_eq!(again.to_string(), printed, "challenge print/parse is not a fixed point");
        }
        Err(e) => offset_inside(&e, text.len()),
    }
    match parse_credentials(text) {
        Ok(c) => {
            let printed = c.to_string();
            let again = match parse_credentials(&printed) {
                Ok(again) => again,
                Err(e) => panic!("the printed credentials {printed:?} do not parse: {e}"),
            };
            assert_eq!(again.to_string(), printed, "credentials print/parse is not a fixed point");
            let _ = (c.effective_algorithm(), again.effective_algorithm());
        }
        Err(e) => offset_inside(&e, text.len()),
    }
}

fn offset_inside(e: &AuthError, len: usize) {
    if let AuthError::Syntax { offset, .. }
    | AuthError::NotDigest { offset }
    | AuthError::DuplicateParam { offset, .. }
    | AuthError::InvalidParam { offset, .. } = e
    {
        assert!(*offset <= len, "error offset {offset} past the input ({len} bytes)");
    }
}
