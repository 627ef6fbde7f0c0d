//! The digest header parsers (`sipcore::auth`) on any text, as a
//! `WWW-Authenticate`/`Proxy-Authenticate` (the agent reads the switch's) or an
//! `Authorization`/`Proxy-Authorization` (the switch reads every phone's, and
//! every attacker's): they never panic, error offsets stay inside the input,
//! and whatever parses prints to text that parses to the same thing.

use sipcore::auth::{AuthError, parse_challenge, parse_credentials};

/// Runs one input (not UTF-8: nothing to do, header values reach the parsers as `&str`).
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    round_trip(text, "challenge", |s| parse_challenge(s).map(|c| c.to_string()));
    round_trip(text, "credentials", |s| {
        parse_credentials(s).map(|c| {
            let _ = c.effective_algorithm();
            c.to_string()
        })
    });
}

/// `parse` (which prints what it parsed) on `text`: what parses prints to text that
/// parses and prints the same; what fails says where inside `text`.
fn round_trip(text: &str, what: &str, parse: impl Fn(&str) -> Result<String, AuthError>) {
    match parse(text) {
        Ok(printed) => match parse(&printed) {
            Ok(again) => assert_eq!(again, printed, "{what} print/parse is not a fixed point"),
            Err(e) => panic!("the printed {what} {printed:?} does not parse: {e}"),
        },
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
