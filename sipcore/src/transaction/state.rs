//! Transaction states (RFC 3261 §17 figures 5–8, RFC 6026 §7).

use std::fmt;

/// The state of a transaction. Which states a machine uses depends on its kind:
///
/// | machine            | states                                                   |
/// |--------------------|----------------------------------------------------------|
/// | client INVITE      | Calling, Proceeding, Completed, Accepted, Terminated     |
/// | client non-INVITE  | Trying, Proceeding, Completed, Terminated                |
/// | server INVITE      | Proceeding, Completed, Accepted, Confirmed, Terminated   |
/// | server non-INVITE  | Trying, Proceeding, Completed, Terminated                |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Calling,
    Trying,
    Proceeding,
    Completed,
    /// RFC 6026: a 2xx was received (client) or sent (server) for an INVITE.
    Accepted,
    Confirmed,
    Terminated,
}

impl State {
    /// True once the transaction is over and can be dropped.
    pub fn is_terminated(self) -> bool {
        self == State::Terminated
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
