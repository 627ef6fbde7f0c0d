//! The agent's one error type.

/// Why an agent call failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A setting is malformed or missing.
    #[error("configuration: {0}")]
    Config(String),
    /// The agent task has ended (stopped, or never started).
    #[error("the agent has stopped")]
    Stopped,
    /// A response named a request whose flow is gone (the flow was replaced).
    #[error("the flow that request came on is gone")]
    FlowGone,
    /// The transaction layer refused (e.g. the request was already answered).
    #[error("transaction: {0}")]
    Transaction(#[from] sipcore::transaction::TransactionError),
    /// A call operation was refused.
    #[error("call: {0}")]
    Call(#[from] crate::call::CallError),
    /// The call's media (bearer port, SDP) failed.
    #[error("media: {0}")]
    Media(String),
    /// Public IP discovery failed.
    #[error("public IP discovery: {0}")]
    Discovery(String),
    /// A local I/O call failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
