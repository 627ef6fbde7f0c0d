//! Why the registrar refuses a REGISTER (or a call's credentials). Each
//! refusal becomes its response through sipcore's [`ToStatus`]: the status
//! and a reason phrase that says what happened ("Forbidden (MAC not
//! provisioned for this number)"), decided here and nowhere else.

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
    /// The number is not provisioned.
    #[error("number not in service")]
    NotInService,
    /// The number is bound to another device's MAC.
    #[error("MAC not provisioned for this number")]
    WrongMac,
    /// The number is bound to a MAC and the REGISTER names none.
    #[error("this number requires X-MAC")]
    MacRequired,
    /// Credentials that do not parse.
    #[error("{0}")]
    Credentials(AuthError),
    /// Credentials for another user.
    #[error("username does not match the number")]
    UsernameMismatch,
    /// A wrong password (counts toward the cool-down).
    #[error("bad credentials: {0}")]
    BadCredentials(AuthError),
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
            RegisterError::NotInService => StatusCode::NOT_FOUND,
            RegisterError::CoolingDown(_)
            | RegisterError::WrongMac
            | RegisterError::MacRequired
            | RegisterError::UsernameMismatch
            | RegisterError::BadCredentials(_) => StatusCode::FORBIDDEN,
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

    /// The reason phrases phones and logs have always seen.
    #[test]
    fn each_refusal_has_its_status_and_says_why() {
        let cases = [
            (RegisterError::CoolingDown(42), 403, "Forbidden (too many failed authentications; retry in 42 s)"),
            (RegisterError::NotInService, 404, "Not Found (number not in service)"),
            (RegisterError::MacRequired, 403, "Forbidden (this number requires X-MAC)"),
            (RegisterError::BadCredentials(AuthError::WrongResponse), 403, "Forbidden (bad credentials: response does not match)"),
            (RegisterError::ManyContacts, 400, "Bad Request (one Contact per registration)"),
            (RegisterError::Digest(AuthError::UriMismatch), 400, "Bad Request (digest uri does not match the Request-URI)"),
        ];
        for (err, status, reason) in cases {
            assert_eq!((err.status().as_u16(), err.reason().as_str()), (status, reason), "{err:?}");
        }
    }
}
