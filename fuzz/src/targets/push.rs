//! Mobile push (`switch::pn`): the two things read from others. Byte 0 picks:
//! - even: the rest as a phone's Contact URI, through `PushParams::of_contact`
//!   (percent-decoding included), then into the JSON notice;
//! - odd: the rest as the push gateway's answer, through `http::status`.
//!
//! Beyond "no panic": push parameters are found only with both `pn-provider`
//! and `pn-prid`, each non-empty and at most `MAX_VALUE` bytes; the notice is
//! JSON that reads back to the same values; a status is a 3-digit code in
//! 100..=599 behind `HTTP/1.`.

use switch::pn::{MAX_VALUE, Notice, PushParams, http};

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 1 {
        if let Some(code) = http::status(rest) {
            assert!((100..=599).contains(&code), "status {code}");
            assert!(rest.starts_with(b"HTTP/1."), "a status from {rest:?}");
        }
        return;
    }
    let Ok(contact) = std::str::from_utf8(rest) else { return };
    let Some(push) = PushParams::of_contact(contact) else { return };
    for v in [Some(&push.provider), Some(&push.prid), push.param.as_ref()].into_iter().flatten() {
        assert!(!v.is_empty() && v.len() <= MAX_VALUE, "value {v:?}");
    }
    let notice = Notice::new("1001", push.clone(), "c1@host", "1002");
    let back: serde_json::Value = serde_json::from_str(&notice.to_json()).unwrap_or_else(|e| panic!("{e}"));
    let field = |name: &str| back.get(name).and_then(serde_json::Value::as_str);
    assert_eq!(field("pn-provider"), Some(push.provider.as_str()));
    assert_eq!(field("pn-prid"), Some(push.prid.as_str()));
    assert_eq!(field("pn-param"), push.param.as_deref());
}
