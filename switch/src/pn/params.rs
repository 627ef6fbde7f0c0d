//! The RFC 8599 push parameters a phone puts on its REGISTER's Contact URI
//! (`pn-provider`, `pn-prid`, `pn-param`), read back from the Contact the
//! binding stores — so they are kept, in both stores, exactly as long as the
//! binding is, and survive a restart with it.

use serde::Serialize;

/// Longest value taken for one parameter: an APNs token is 64 hex digits, an
/// FCM registration token about 160 characters; a Contact with more is not a
/// phone asking for push.
pub const MAX_VALUE: usize = 1024;

/// Where and how the operator's gateway reaches the phone. Data, never a URL:
/// the switch only copies them into the notice it sends to its own gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushParams {
    /// `pn-provider`: the push service (`apns`, `fcm`, `webpush`…).
    pub provider: String,
    /// `pn-prid`: the device's token at that service.
    pub prid: String,
    /// `pn-param`: what else the service needs (APNs: `TEAMID.bundle.voip`).
    pub param: Option<String>,
}

impl PushParams {
    /// The push parameters of a Contact URI, if it asks for push: both
    /// `pn-provider` and `pn-prid` with values (RFC 8599 §4.1.1 requires
    /// `pn-prid` whenever `pn-provider` names a service). Values are
    /// percent-decoded as SIP URI parameters are (RFC 3261 §25.1 `escaped`).
    pub fn of_contact(contact: &str) -> Option<PushParams> {
        let uri = sipcore::Uri::parse(contact).ok()?;
        let value = |name: &str| uri.params.get(name).flatten().and_then(decode).filter(|v| !v.is_empty() && v.len() <= MAX_VALUE);
        Some(PushParams { provider: value("pn-provider")?, prid: value("pn-prid")?, param: value("pn-param") })
    }
}

/// `%XX` escapes decoded; `None` for a bad escape or bytes that are not UTF-8
/// (a token is ASCII: such a value is no token).
fn decode(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_linphone_contact_asks_for_push() {
        let c = "sip:1001@10.0.0.2:50000;transport=tls;ob;pn-provider=apns.dev;pn-prid=00fc13adff78;pn-param=ABCD1234.org.example.voip";
        let p = PushParams::of_contact(c).unwrap();
        assert_eq!(p.provider, "apns.dev");
        assert_eq!(p.prid, "00fc13adff78");
        assert_eq!(p.param.as_deref(), Some("ABCD1234.org.example.voip"));
    }

    #[test]
    fn values_are_unescaped_and_param_is_optional() {
        let p = PushParams::of_contact("sip:1001@10.0.0.2;PN-Provider=fcm;pn-prid=abc%3Adef").unwrap();
        assert_eq!((p.provider.as_str(), p.prid.as_str(), p.param), ("fcm", "abc:def", None));
    }

    #[test]
    fn no_push_without_provider_and_prid() {
        for c in [
            "sip:1001@10.0.0.2;transport=tcp;ob",
            "sip:1001@10.0.0.2;pn-provider=apns",
            "sip:1001@10.0.0.2;pn-prid=abc",
            "sip:1001@10.0.0.2;pn-provider;pn-prid=abc",
            "sip:1001@10.0.0.2;pn-provider=apns;pn-prid=%zz",
            "sip:1001@10.0.0.2;pn-provider=apns;pn-prid=%ff",
            "not a uri",
        ] {
            assert_eq!(PushParams::of_contact(c), None, "{c}");
        }
        let long = format!("sip:1001@10.0.0.2;pn-provider=fcm;pn-prid={}", "a".repeat(MAX_VALUE + 1));
        assert_eq!(PushParams::of_contact(&long), None);
    }
}
