//! Why an SDP body cannot be read or rewritten.

/// An SDP body the switch cannot relay; answer SIP 488 Not Acceptable Here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is larger than [`super::MAX_SDP`].
    #[error("SDP body of {0} bytes is larger than 65536")]
    TooLarge(usize),
    /// A line (numbered from 1) breaks the SDP grammar.
    #[error("SDP line {line}: {why}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        why: &'static str,
    },
    /// The rewrite names a different number of m-lines than the body has.
    #[error("rewrite gives {given} m-line ports, SDP has {found} m-lines")]
    PortCount {
        /// Entries in [`super::Rewrite::ports`].
        given: usize,
        /// m-lines in the body.
        found: usize,
    },
    /// A media section to rewrite has no `c=` of its own and there is no session-level `c=`.
    #[error("m-line {0} has no connection address")]
    NoConnection(usize),
}

/// Every SDP error is 488 Not Acceptable Here (RFC 3261 §21.4.26).
impl sipcore::ToStatus for SdpError {
    fn status(&self) -> sipcore::StatusCode {
        sipcore::StatusCode::NOT_ACCEPTABLE_HERE
    }
}

impl SdpError {
    pub(crate) fn line(line: usize, why: &'static str) -> Self {
        SdpError::Line { line, why }
    }
}
