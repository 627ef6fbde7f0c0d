//! Transaction matching keys (RFC 3261 §17.1.3 and §17.2.3).
//!
//! Branches and sent-by values are tokens and host names, which RFC 3261
//! §7.3.1 compares case-insensitively, so keys hold them lower-cased.
//!
//! A key is cloned into every event and transmit of its transaction (about a
//! dozen times per request), so its text is shared (`Arc<str>`), not copied.

use super::error::TransactionError;
use crate::headers::Via;
use crate::message::{HeaderName, Headers, Method, Request, Response};
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// Identifies one transaction. Client and server keys never compare equal, so
/// one map can hold both kinds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransactionKey {
    /// §17.1.3: a response matches a client transaction by the top Via branch
    /// and the CSeq method.
    Client { branch: Arc<str>, method: Method },
    /// §17.2.3, RFC 3261 requests (branch with the `z9hG4bK` cookie): branch,
    /// sent-by and method, where an ACK carries the method INVITE so that it
    /// finds the INVITE transaction.
    Server { branch: Arc<str>, sent_by: Arc<str>, method: Method },
    /// §17.2.3, requests from pre-RFC 3261 elements (no cookie): Request-URI,
    /// To tag, From tag, Call-ID, CSeq and top Via, again with ACK as INVITE.
    Legacy(Arc<LegacyKey>),
}

/// The fields of a pre-RFC 3261 (RFC 2543) server transaction key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LegacyKey {
    pub request_uri: String,
    pub to_tag: Option<String>,
    pub from_tag: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    pub method: Method,
    /// The top Via element, lower-cased.
    pub via: String,
}

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

fn top_via(headers: &Headers) -> Result<Via<'_>, TransactionError> {
    Ok(headers.top_via()?)
}

fn sent_by(via: &Via<'_>) -> Arc<str> {
    let mut sent_by = String::with_capacity(48);
    // Writing into a String cannot fail.
    let _ = write!(sent_by, "{}", via.host);
    sent_by.make_ascii_lowercase();
    if let Some(p) = via.port {
        let _ = write!(sent_by, ":{p}");
    }
    sent_by.into()
}

fn lower(token: &str) -> Arc<str> {
    token.to_ascii_lowercase().into()
}

/// ACK is matched to the INVITE that created the transaction (§17.2.3).
fn server_method(m: &Method) -> Method {
    match m {
        Method::Ack => Method::Invite,
        other => other.clone(),
    }
}

impl TransactionKey {
    /// The key of the client transaction that sends `request` (§17.1.3).
    pub fn client(request: &Request) -> Result<Self, TransactionError> {
        let via = top_via(&request.headers)?;
        let branch = via.branch().ok_or(TransactionError::MissingBranch)?;
        Ok(Self::Client { branch: lower(branch), method: request.method.clone() })
    }

    /// The key of the client transaction `response` belongs to (§17.1.3):
    /// top Via branch and CSeq method.
    pub fn for_response(response: &Response) -> Result<Self, TransactionError> {
        let via = top_via(&response.headers)?;
        let branch = via.branch().ok_or(TransactionError::MissingBranch)?;
        let method = response.headers.cseq()?.method;
        Ok(Self::Client { branch: lower(branch), method })
    }

    /// The key of the server transaction `request` belongs to (§17.2.3). An
    /// ACK gets the key of its INVITE transaction; a CANCEL gets its own.
    pub fn server(request: &Request) -> Result<Self, TransactionError> {
        Self::server_with_method(request, server_method(&request.method))
    }

    /// The key of the server transaction a CANCEL cancels (§9.2): the CANCEL's
    /// key with the method taken to be INVITE.
    pub fn cancel_target(cancel: &Request) -> Result<Self, TransactionError> {
        Self::server_with_method(cancel, Method::Invite)
    }

    fn server_with_method(request: &Request, method: Method) -> Result<Self, TransactionError> {
        let via = top_via(&request.headers)?;
        match via.branch() {
            Some(branch) if via.is_rfc3261_branch() => Ok(Self::Server { branch: lower(branch), sent_by: sent_by(&via), method }),
            _ => Ok(Self::Legacy(Arc::new(LegacyKey::read(request, method)?))),
        }
    }

    /// The method the transaction was created by.
    pub fn method(&self) -> &Method {
        match self {
            Self::Client { method, .. } | Self::Server { method, .. } => method,
            Self::Legacy(k) => &k.method,
        }
    }

    /// True for client transaction keys.
    pub fn is_client(&self) -> bool {
        matches!(self, Self::Client { .. })
    }

    /// The same legacy key with another To tag: an ACK for a non-2xx carries the
    /// To tag of the response, not of the INVITE (§17.2.3). `None` for RFC 3261 keys.
    pub fn with_to_tag(&self, to_tag: Option<&str>) -> Option<Self> {
        match self {
            Self::Legacy(k) => {
                let mut k = LegacyKey::clone(k);
                k.to_tag = to_tag.map(str::to_owned);
                Some(Self::Legacy(Arc::new(k)))
            }
            _ => None,
        }
    }
}

impl LegacyKey {
    fn read(request: &Request, method: Method) -> Result<Self, TransactionError> {
        let h = &request.headers;
        top_via(h)?;
        let via = h.values(&HeaderName::Via).next().unwrap_or_default().to_ascii_lowercase();
        Ok(Self {
            request_uri: request.uri.to_string(),
            to_tag: h.to_addr()?.tag().map(str::to_owned),
            from_tag: h.from_addr()?.tag().map(str::to_owned),
            call_id: h.call_id()?.to_owned(),
            cseq: h.cseq()?.seq,
            method,
            via,
        })
    }
}

impl fmt::Display for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client { branch, method } => write!(f, "client {method} {branch}"),
            Self::Server { branch, sent_by, method } => write!(f, "server {method} {branch} from {sent_by}"),
            Self::Legacy(k) => write!(f, "server {} {} {} (pre-3261)", k.method, k.cseq, k.call_id),
        }
    }
}
