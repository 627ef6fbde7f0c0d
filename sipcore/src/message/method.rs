//! SIP methods. An unknown method is an extension method (RFC 3261 §25.1
//! `extension-method = token`), never an error.

use bytestring::ByteString;
use std::fmt;

/// A request method; `Extension` keeps the token as sent (methods are case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Prack,
    Update,
    Subscribe,
    Notify,
    Publish,
    Refer,
    Message,
    Extension(ByteString),
}

impl Method {
    /// Reads a method token. Case-sensitive, as RFC 3261 §7.1 says.
    pub fn from_token(s: &str) -> Option<Self> {
        Self::known(s).or_else(|| crate::text::is_token(s).then(|| Self::Extension(ByteString::from(s))))
    }

    /// Like [`Method::from_token`] for a method that lies inside `buf`: an
    /// extension method shares the buffer instead of being copied.
    pub(crate) fn from_buf(buf: &ByteString, s: &str) -> Option<Self> {
        Self::known(s).or_else(|| crate::text::is_token(s).then(|| Self::Extension(buf.slice_ref(s))))
    }

    fn known(s: &str) -> Option<Self> {
        Some(match s {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "REGISTER" => Self::Register,
            "OPTIONS" => Self::Options,
            "INFO" => Self::Info,
            "PRACK" => Self::Prack,
            "UPDATE" => Self::Update,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "PUBLISH" => Self::Publish,
            "REFER" => Self::Refer,
            "MESSAGE" => Self::Message,
            _ => return None,
        })
    }

    /// The method token.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Register => "REGISTER",
            Self::Options => "OPTIONS",
            Self::Info => "INFO",
            Self::Prack => "PRACK",
            Self::Update => "UPDATE",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Publish => "PUBLISH",
            Self::Refer => "REFER",
            Self::Message => "MESSAGE",
            Self::Extension(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
