//! Default reason phrases (RFC 3261 §21 and the RFCs that added codes).

/// The reason phrase RFC 3261 §21 gives a status code, or a class phrase.
pub fn default_reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        429 => "Too Many Requests",
        430 => "Flow Failed",
        439 => "First Hop Lacks Outbound Support",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match status / 100 {
            1 => "Provisional",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// A SIP Status-Code (RFC 3261 §7.2, §21): always 100–699, so an API that takes
/// one (an application rejecting a call, a response it builds) cannot be handed
/// a number no peer would accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

impl StatusCode {
    pub const TRYING: StatusCode = StatusCode(100);
    pub const RINGING: StatusCode = StatusCode(180);
    pub const OK: StatusCode = StatusCode(200);
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408);
    pub const TEMPORARILY_UNAVAILABLE: StatusCode = StatusCode(480);
    pub const CALL_DOES_NOT_EXIST: StatusCode = StatusCode(481);
    pub const BUSY_HERE: StatusCode = StatusCode(486);
    pub const REQUEST_TERMINATED: StatusCode = StatusCode(487);
    pub const NOT_ACCEPTABLE_HERE: StatusCode = StatusCode(488);
    pub const REQUEST_PENDING: StatusCode = StatusCode(491);
    pub const SERVER_INTERNAL_ERROR: StatusCode = StatusCode(500);
    pub const NOT_IMPLEMENTED: StatusCode = StatusCode(501);
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);
    pub const VERSION_NOT_SUPPORTED: StatusCode = StatusCode(505);
    pub const REQUEST_ENTITY_TOO_LARGE: StatusCode = StatusCode(413);
    pub const UNAUTHORIZED: StatusCode = StatusCode(401);
    pub const PROXY_AUTHENTICATION_REQUIRED: StatusCode = StatusCode(407);
    pub const BUSY_EVERYWHERE: StatusCode = StatusCode(600);
    pub const DECLINE: StatusCode = StatusCode(603);

    /// The code, when it is one: 100–699.
    pub const fn new(code: u16) -> Option<StatusCode> {
        if code >= 100 && code <= 699 { Some(StatusCode(code)) } else { None }
    }

    /// The number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// RFC 3261's reason phrase for it.
    pub fn reason(self) -> &'static str {
        default_reason(self.0)
    }

    /// 1xx.
    pub const fn is_provisional(self) -> bool {
        self.0 < 200
    }

    /// 3xx–6xx: a final answer that is not a success.
    pub const fn is_failure(self) -> bool {
        self.0 >= 300
    }
}

impl TryFrom<u16> for StatusCode {
    type Error = InvalidStatusCode;

    fn try_from(code: u16) -> Result<Self, Self::Error> {
        StatusCode::new(code).ok_or(InvalidStatusCode(code))
    }
}

impl From<StatusCode> for u16 {
    fn from(code: StatusCode) -> u16 {
        code.0
    }
}

/// Compares with a bare number, as tests and logs often hold one.
impl PartialEq<u16> for StatusCode {
    fn eq(&self, other: &u16) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for StatusCode {
    type Err = InvalidStatusCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code: u16 = s.trim().parse().map_err(|_| InvalidStatusCode(0))?;
        StatusCode::try_from(code)
    }
}

/// A number outside 100–699 offered as a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a SIP status code (100-699)")]
pub struct InvalidStatusCode(pub u16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_100_to_699_are_status_codes() {
        assert_eq!(StatusCode::new(99), None);
        assert_eq!(StatusCode::new(700), None);
        assert_eq!(StatusCode::try_from(486).map(StatusCode::reason), Ok("Busy Here"));
        assert_eq!("603".parse::<StatusCode>(), Ok(StatusCode::DECLINE));
        assert_eq!("42".parse::<StatusCode>(), Err(InvalidStatusCode(42)));
        assert!(StatusCode::RINGING.is_provisional() && StatusCode::BUSY_HERE.is_failure());
    }
}
