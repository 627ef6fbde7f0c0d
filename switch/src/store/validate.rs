//! Input checks shared by the store's write paths.

use super::error::{Result, StoreError};
use crate::cdr::Cdr;
use sipcore::{Scheme, Uri};

/// The longest number accepted.
pub const MAX_NUMBER_LEN: usize = 32;

/// A number is 1–32 characters of digits, `+`, `*`, `#` or `[A-Za-z0-9._-]`:
/// dialable digits and plain SIP user names, nothing that needs escaping.
pub fn number(number: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '*' | '#' | '.' | '_' | '-');
    if number.is_empty() || number.len() > MAX_NUMBER_LEN || !number.chars().all(ok_char) {
        return Err(StoreError::Invalid(format!(
            "bad number {number:?}: 1-{MAX_NUMBER_LEN} characters of digits, '+', '*', '#', letters, '.', '_' or '-'"
        )));
    }
    Ok(())
}

/// A realm goes inside a quoted-string in challenges: printable, no quote or backslash.
pub fn realm(realm: &str) -> Result<()> {
    let ok_char = |c: char| !c.is_control() && c != '"' && c != '\\';
    if realm.is_empty() || realm.len() > 255 || !realm.chars().all(ok_char) {
        return Err(StoreError::Invalid(format!("bad realm {realm:?}: 1-255 printable characters without '\"' or '\\'")));
    }
    Ok(())
}

/// A password must not be empty; anything else is the subscriber's business.
pub fn password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(StoreError::Invalid("the password is empty".into()));
    }
    Ok(())
}

/// The home location must be a sip:, sips: or tel: URI.
pub fn home(home: &str) -> Result<()> {
    match Uri::parse(home) {
        Ok(uri) if matches!(uri.scheme, Scheme::Sip | Scheme::Sips | Scheme::Tel) => Ok(()),
        Ok(_) => Err(StoreError::Invalid(format!("bad home URI {home:?}: not a sip:, sips: or tel: URI"))),
        Err(e) => Err(StoreError::Invalid(format!("bad home URI {home:?}: {e}"))),
    }
}

/// The longest node id accepted.
pub const MAX_NODE_LEN: usize = 64;

/// A node id (`--node-id`) names one switch of a cluster in every binding and
/// call record it writes, and inside Redis key names: 1-64 letters, digits,
/// '.', '_' or '-' (a host name fits; braces, which would break the hash tag
/// of a key, do not).
pub fn node(node: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if node.is_empty() || node.len() > MAX_NODE_LEN || !node.chars().all(ok_char) {
        return Err(StoreError::Invalid(format!("bad node id {node:?}: 1-{MAX_NODE_LEN} letters, digits, '.', '_' or '-'")));
    }
    Ok(())
}

/// A call record's route is `flow`, `home` or `none` and its final status a
/// SIP one (SQLite's schema checks the same; Redis has no schema).
pub fn cdr(c: &Cdr) -> Result<()> {
    if !matches!(c.route.as_str(), "flow" | "home" | "none") {
        return Err(StoreError::Invalid(format!("call {}: bad route {:?}", c.call_id, c.route)));
    }
    if c.status.is_some_and(|s| !(100..=699).contains(&s)) {
        return Err(StoreError::Invalid(format!("call {}: bad status {:?}", c.call_id, c.status)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for good in ["1", "+15550100", "*98#", "alice", "a.b_c-D", &"9".repeat(32)] {
            assert!(number(good).is_ok(), "{good:?}");
        }
        for bad in ["", &"9".repeat(33), "1 2", "a@b", "a:b", "a;b", "a/b", "é", "%41", "a\0"] {
            assert!(number(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn homes_are_sip_sips_or_tel() {
        for good in ["sip:1001@example.com", "SIP:h.example:5070;transport=tcp", "sips:[2001:db8::1]", "tel:+1-555-0100"] {
            assert!(home(good).is_ok(), "{good:?}");
        }
        for bad in ["", "example.com", "http://example.com", "sip:", "sip:a b", "sip:h:0x", "urn:x:y"] {
            assert!(home(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn node_ids_fit_in_a_key_name() {
        for good in ["sw1", "node-a", "host.example.net", &"n".repeat(64)] {
            assert!(node(good).is_ok(), "{good:?}");
        }
        for bad in ["", &"n".repeat(65), "a{b}", "a b", "a:b", "é"] {
            assert!(node(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn call_records_have_a_known_route_and_a_sip_status() {
        let ok = Cdr { call_id: "c".into(), route: "flow".into(), status: Some(486), ..Cdr::default() };
        assert!(cdr(&ok).is_ok());
        assert!(cdr(&Cdr { route: "sideways".into(), ..ok.clone() }).is_err());
        assert!(cdr(&Cdr { status: Some(99), ..ok.clone() }).is_err());
        assert!(cdr(&Cdr { status: Some(700), ..ok }).is_err());
    }

    #[test]
    fn realms_and_passwords() {
        assert!(realm("switch.local").is_ok() && realm("Example Realm").is_ok());
        assert!(realm("").is_err() && realm("a\"b").is_err() && realm("a\\b").is_err() && realm("a\tb").is_err());
        assert!(password("x").is_ok() && password("").is_err());
    }
}
