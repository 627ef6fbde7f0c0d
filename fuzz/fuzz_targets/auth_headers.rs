//! Any text as a WWW-Authenticate/Proxy-Authenticate or (Proxy-)Authorization
//! value: the parsers never panic, error offsets stay inside the input, and
//! whatever parses prints to text that parses to the same value.
//!
//! Run with `cargo +nightly fuzz run auth_headers` from the workspace root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipcore::auth::{AuthError, parse_challenge, parse_credentials};

fn offset_ok(e: &AuthError, len: usize) {
    if let AuthError::Syntax { offset, .. } | AuthError::NotDigest { offset } = e {
        assert!(*offset <= len, "error offset {offset} past the input ({len})");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_challenge(text) {
        Ok(c) => {
            let printed = c.to_string();
            let again = parse_challenge(&printed).expect("a printed challenge parses");
            assert_eq!(again.to_string(), printed, "challenge print/parse is not a fixed point");
        }
        Err(e) => offset_ok(&e, text.len()),
    }
    match parse_credentials(text) {
        Ok(c) => {
            let printed = c.to_string();
            let again = parse_credentials(&printed).expect("printed credentials parse");
            assert_eq!(again.to_string(), printed, "credentials print/parse is not a fixed point");
        }
        Err(e) => offset_ok(&e, text.len()),
    }
});
