//! Errors of the transaction layer.

use super::key::TransactionKey;
use super::state::State;
use crate::error::ParseError;
use crate::message::Method;

/// Why a transaction operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// A header the transaction layer needs (Via, CSeq, Call-ID …) is missing or malformed.
    #[error("malformed message: {0}")]
    Malformed(#[from] ParseError),
    /// A request sent by a client transaction needs a top Via with a branch (§8.1.1.7).
    #[error("the top Via has no branch parameter")]
    MissingBranch,
    /// ACK never has a client transaction of its own (§17.1.1.3, §13.2.2.4).
    #[error("ACK is not sent in a transaction of its own")]
    AckTransaction,
    /// The request's method does not fit this kind of transaction.
    #[error("{0} does not fit this kind of transaction")]
    WrongMethod(Method),
    /// A transaction with this key already exists.
    #[error("transaction {0} already exists")]
    Duplicate(TransactionKey),
    /// No transaction has this key (it may have terminated).
    #[error("no transaction {0}")]
    NotFound(TransactionKey),
    /// The TU may not send this response in the transaction's current state.
    #[error("cannot send a {status} response in state {state}")]
    InvalidResponse { status: u16, state: State },
    /// §9.1: a CANCEL may be sent only once a provisional response arrived and
    /// no final response has.
    #[error("cannot CANCEL an INVITE transaction in state {0}")]
    NotCancellable(State),
    /// The operation needs another kind of transaction (e.g. CANCEL on a non-INVITE).
    #[error("operation does not apply to transaction {0}")]
    WrongKind(TransactionKey),
}
