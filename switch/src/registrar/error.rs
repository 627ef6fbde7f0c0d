//! Why the registrar refuses a REGISTER (or a call's credentials). Each
//! refusal becomes its response through sipcore's [`ToStatus`]: the status
//! and a reason phrase, decided here and nowhere else. A phrase says what
//! happened where that tells an attacker nothing; every refusal that could
//! tell whether a number exists or a password was right is one and the same
//! [`RegisterError::Refused`] (the log says which it was).

use sipcore::auth::AuthError;
use sipcore::{ParseError, StatusCode, ToStatus};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The source failed to authenticate too often; it is refused for a while.
    #[error("too many failed authentications; retry in {0} s")]
    CoolingDown(u64),
    /// The To URI has no user part.
    #[error("To has no number")]
    NoNumber,
    /// Credentials that did not admit the request: a wrong password, a number
    /// not in service, a locked number, another device's MAC, a number held by
    /// another device. One answer for all, so none of them is an oracle.
    #[error("bad credentials")]
    Refused,
    /// Credentials that do not parse.
    #[error("{0}")]
    Credentials(AuthError),
    /// Credentials for another user.
    #[error("username does not match the number")]
    UsernameMismatch,
    /// Credentials the digest server refused otherwise.
    #[error("{0}")]
    Digest(AuthError),
    /// A Contact that does not parse.
    #[error("{0}")]
    Contact(ParseError),
    /// `Contact: *` without `Expires: 0`, or with other Contacts.
    #[error("Contact: * needs Expires: 0 and no other Contact")]
    Wildcard,
    /// More than one binding.
    #[error("one Contact per registration")]
    ManyContacts,
}

impl ToStatus for RegisterError {
    fn status(&self) -> StatusCode {
        match self {
            RegisterError::NoNumber
            | RegisterError::Credentials(_)
            | RegisterError::Contact(_)
            | RegisterError::Wildcard
            | RegisterError::ManyContacts => StatusCode::BAD_REQUEST,
            RegisterError::CoolingDown(_) | RegisterError::Refused | RegisterError::UsernameMismatch => StatusCode::FORBIDDEN,
            RegisterError::Digest(e) => e.status(),
        }
    }

    fn reason(&self) -> String {
        format!("{} ({self})", self.status().reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reason phrases phones and logs see.
    #[test]
    fn each_refusal_has_its_status_and_says_why() {
        let cases = [
            (RegisterError::CoolingDown(42), 403, "Forbidden (too many failed authentications; retry in 42 s)"),
            (RegisterError::Refused, 403, "Forbidden (bad credentials)"),
            (RegisterError::UsernameMismatch, 403, "Forbidden (username does not match the number)"),
            (RegisterError::ManyContacts, 400, "Bad Request (one Contact per registration)"),
            (RegisterError::Digest(AuthError::UriMismatch), 400, "Bad Request (digest uri does not match the Request-URI)"),
        ];
        for (err, status, reason) in cases {
            assert_eq!((err.status().as_u16(), err.reason().as_str()), (status, reason), "{err:?}");
        }
    }
}
