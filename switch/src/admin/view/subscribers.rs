//! Subscribers as provisioning shows and takes them: one piece for
//! `switch subscriber …` and `/api/subscribers`. The store checks every field
//! (`store::validate`); what is left to say here is how a MAC is read, what a
//! listing shows (never the HA1s) and the warning for a realm the switch does
//! not serve.

use crate::record::Subscriber;
use crate::store::StoreError;
use serde::Serialize;
use sipcore::headers::MacAddr;

/// What listings show of a subscriber: never its credentials.
#[derive(Debug, Serialize)]
pub struct SubscriberView<'a> {
    pub number: &'a str,
    pub realm: &'a str,
    pub mac: Option<String>,
    pub home: Option<&'a str>,
}

impl<'a> SubscriberView<'a> {
    pub fn new(s: &'a Subscriber) -> Self {
        SubscriberView { number: &s.number, realm: &s.realm, mac: s.mac.map(|m| m.to_string()), home: s.home.as_deref() }
    }
}

/// A MAC as an operator writes it.
pub fn parse_mac(s: &str) -> Result<MacAddr, StoreError> {
    s.parse().map_err(|_| StoreError::Invalid(format!("bad MAC {s:?}: expected six hex octets like 02:42:ac:11:00:02")))
}

/// The warning for provisioning `realm` on a switch serving `domain` (learnt
/// from `from`): its phones would get 403 on every attempt. Provisioning goes
/// ahead all the same (the switch may be about to move).
pub fn realm_warning(realm: &str, domain: &str, from: &str) -> Option<String> {
    (realm != domain).then(|| {
        format!(
            "realm {realm} is not the domain the switch serves ({domain}, from {from}): its phones will get 403 until provisioned for {domain}"
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_mac_is_invalid_input_and_says_what_is_expected() {
        assert_eq!(parse_mac("02:42:AC:11:00:02").unwrap().to_string(), "02:42:ac:11:00:02");
        assert!(matches!(parse_mac("02:42"), Err(StoreError::Invalid(m)) if m.contains("six hex octets")));
    }

    #[test]
    fn only_a_realm_other_than_the_domain_is_warned_about() {
        assert!(realm_warning("voip.example.net", "voip.example.net", "cfg").is_none());
        assert!(realm_warning("switch.local", "voip.example.net", "cfg").unwrap().contains("403"));
    }
}
