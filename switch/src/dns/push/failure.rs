//! Why an UPDATE did not succeed: the reason a failing link is logged with.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::tsig::TsigError;
use std::fmt;
use std::time::Duration;

/// An UPDATE that did not succeed. Equal failures are one state of the link
/// (logged once); the text is the log line's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer in time.
    Timeout(Duration),
    /// The socket failed (connection refused, network unreachable, …).
    Io(String),
    /// The server answered with an error RCODE, and a TSIG error if it gave one.
    Rcode { rcode: u16, tsig: Option<u16> },
    /// The answer cannot be trusted or read (a MAC that does not verify, unsigned, malformed).
    BadAnswer(String),
    /// Our own message could not be built or signed.
    Build(String),
}

impl Failure {
    pub fn rcode(rcode: ResponseCode, tsig: Option<&TsigError>) -> Self {
        Failure::Rcode { rcode: u16::from(rcode), tsig: tsig.map(|e| u16::from(*e)) }
    }
}

/// The RFC 1035/2136 mnemonic of an RCODE.
fn rcode_name(rcode: u16) -> String {
    let name = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        other => return format!("RCODE {other}"),
    };
    name.into()
}

/// The RFC 8945 mnemonic of a TSIG error.
fn tsig_name(error: u16) -> String {
    match error {
        16 => "BADSIG".into(),
        17 => "BADKEY".into(),
        18 => "BADTIME".into(),
        22 => "BADTRUNC".into(),
        other => format!("error {other}"),
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout(after) => write!(f, "failing: no answer within {} ms", after.as_millis()),
            Failure::Io(e) => write!(f, "failing: {e}"),
            Failure::Rcode { rcode, tsig } => {
                let rcode_text = rcode_name(*rcode);
                let tsig_text = tsig.map(|t| format!(" (TSIG {})", tsig_name(t))).unwrap_or_default();
                match rcode {
                    9 => write!(f, "refused: {rcode_text}{tsig_text} — check [dns.update.tsig_key]"),
                    5 => write!(f, "refused: {rcode_text}{tsig_text} — check the server's update ACL for this key and zone"),
                    10 => write!(f, "refused: {rcode_text}{tsig_text} — check [dns.update] zone"),
                    _ => write!(f, "failing: {rcode_text}{tsig_text}"),
                }
            }
            Failure::BadAnswer(why) => write!(f, "failing: {why}"),
            Failure::Build(why) => write!(f, "failing: cannot build the UPDATE: {why}"),
        }
    }
}
