//! The one result type of every function, and the guard that keeps panics
//! on this side of the boundary.

use agent::{CallError, Error};
use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a function did.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentResult {
    /// Done.
    Ok = 0,
    /// A pointer argument was NULL.
    NullArgument,
    /// An argument could not be used (not UTF-8, an address that does not parse, a file that cannot be read).
    InvalidArgument,
    /// The configuration is incomplete or inconsistent (no switch, no number, TLS without a CA).
    Config,
    /// Not supported yet (e.g. a second switch address).
    Unsupported,
    /// The agent was not started, or was stopped.
    NotRunning,
    /// The agent is already started.
    AlreadyStarted,
    /// No such call (never issued, or over).
    NoSuchCall,
    /// The call is not in a state that allows this (answering one already answered...).
    CallRefused,
    /// The call's media could not be opened or started.
    Media,
    /// No event within the timeout.
    Timeout,
    /// Nothing waits (no audio frame to pull).
    Empty,
    /// The agent has stopped and every event was read.
    Stopped,
    /// A bug: the library panicked (the agent may be unusable; free it).
    Panic,
    /// Anything else (the agent logs the detail).
    Failed,
}

impl From<&Error> for AgentResult {
    fn from(e: &Error) -> Self {
        match e {
            Error::Config(_) => AgentResult::Config,
            Error::Stopped => AgentResult::NotRunning,
            Error::Call(CallError::NoSuchCall(_)) => AgentResult::NoSuchCall,
            Error::Call(_) => AgentResult::CallRefused,
            Error::Media(_) => AgentResult::Media,
            _ => AgentResult::Failed,
        }
    }
}

impl From<Error> for AgentResult {
    fn from(e: Error) -> Self {
        AgentResult::from(&e)
    }
}

/// Runs the body of an exported function: its error, or `Ok`, or `Panic`
/// when it panicked (the panic is caught here, never unwinds into C).
pub(crate) fn guard(body: impl FnOnce() -> Result<(), AgentResult>) -> AgentResult {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => AgentResult::Ok,
        Ok(Err(result)) => result,
        Err(_) => AgentResult::Panic,
    }
}

/// A static, NUL-terminated description of `result` (never NULL; never freed).
#[unsafe(no_mangle)]
pub extern "C" fn agent_result_text(result: AgentResult) -> *const c_char {
    let text: &'static std::ffi::CStr = match result {
        AgentResult::Ok => c"ok",
        AgentResult::NullArgument => c"a pointer argument was NULL",
        AgentResult::InvalidArgument => c"an argument could not be used",
        AgentResult::Config => c"the configuration is incomplete or inconsistent",
        AgentResult::Unsupported => c"not supported yet",
        AgentResult::NotRunning => c"the agent is not running",
        AgentResult::AlreadyStarted => c"the agent is already started",
        AgentResult::NoSuchCall => c"no such call",
        AgentResult::CallRefused => c"the call's state does not allow this",
        AgentResult::Media => c"the call's media failed",
        AgentResult::Timeout => c"no event within the timeout",
        AgentResult::Empty => c"nothing waits",
        AgentResult::Stopped => c"the agent has stopped and every event was read",
        AgentResult::Panic => c"the library panicked (a bug)",
        AgentResult::Failed => c"failed",
    };
    text.as_ptr()
}
