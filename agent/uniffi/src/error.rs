//! `AgentError`: what a foreign caller gets as an exception.

/// Why a call into the agent failed.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum AgentError {
    /// The configuration cannot make an agent (no switch, no number, a bad value).
    #[error("configuration: {0}")]
    Config(String),
    /// `start` was already called.
    #[error("the agent was already started")]
    AlreadyStarted,
    /// Not started yet, or stopped.
    #[error("the agent is not running")]
    NotRunning,
    /// The agent refused or failed the command (no such call, its state does not allow it, ...).
    #[error("{0}")]
    Agent(String),
}

impl From<agent::Error> for AgentError {
    fn from(e: agent::Error) -> Self {
        match e {
            agent::Error::Config(reason) => AgentError::Config(reason),
            agent::Error::Stopped => AgentError::NotRunning,
            other => AgentError::Agent(other.to_string()),
        }
    }
}
