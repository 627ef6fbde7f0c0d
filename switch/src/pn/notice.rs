//! The JSON body the switch POSTs to the operator's push gateway: who is
//! called, the phone's push parameters, and the call's Call-ID and caller, so
//! the gateway can put them in the notification the phone's app shows.

use super::PushParams;
use serde::Serialize;

/// One notification: "wake the phone of `number`, a call is waiting".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// The called number.
    pub number: String,
    #[serde(rename = "pn-provider")]
    pub provider: String,
    #[serde(rename = "pn-prid")]
    pub prid: String,
    /// `null` when the phone sent none.
    #[serde(rename = "pn-param")]
    pub param: Option<String>,
    /// The caller's Call-ID (the call the phone will be offered).
    #[serde(rename = "call-id")]
    pub call_id: String,
    /// The caller's number (the From user part), possibly empty.
    pub from: String,
}

impl Notice {
    pub fn new(number: &str, push: PushParams, call_id: &str, from: &str) -> Notice {
        Notice {
            number: number.to_owned(),
            provider: push.provider,
            prid: push.prid,
            param: push.param,
            call_id: call_id.to_owned(),
            from: from.to_owned(),
        }
    }

    /// The request body.
    pub fn to_json(&self) -> String {
        // A struct of strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_body_names_the_rfc_8599_parameters() {
        let push = PushParams { provider: "apns".into(), prid: "tok\"en".into(), param: None };
        let n = Notice::new("1001", push, "abc@host", "1002");
        let v: serde_json::Value = serde_json::from_str(&n.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"number": "1001", "pn-provider": "apns", "pn-prid": "tok\"en", "pn-param": null, "call-id": "abc@host", "from": "1002"})
        );
    }
}
