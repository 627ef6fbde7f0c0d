//! The call commands and the network's news: each runs the `agent::AgentHandle`
//! method of the same name to its end (the INVITE or 200 sent, the bearer
//! bound) on the agent's runtime, and says how it went.

use crate::agent::Agent;
use crate::ptr::{try_mut, try_ref, try_str};
use crate::result::{AgentResult, guard};
use agent::{CallId, StatusCode};
use std::ffi::c_char;

/// Runs `body` with the agent behind `agent`.
///
/// # Safety
/// `agent` is NULL or a live agent.
unsafe fn with(agent: *const Agent, body: impl FnOnce(&Agent) -> Result<(), AgentResult>) -> AgentResult {
    guard(|| {
        // SAFETY: the exported function's contract.
        let agent = unsafe { try_ref(agent) }?;
        body(agent)
    })
}

/// Calls `number` (`INVITE sip:NUMBER@DOMAIN`); the call's id in `*call`.
/// Ringing, answered, ended and media events follow.
///
/// # Safety
/// `agent` is a live agent; `number` a NUL-terminated string; `call` points to a writable `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_call(agent: *const Agent, number: *const c_char, call: *mut u64) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(agent, |a| {
            let (number, out) = (try_str(number)?, try_mut(call)?);
            let id = match a.call_audio() {
                Some((options, slot)) => {
                    let id = a.run(async |h| h.call_with(number, options).await)?;
                    slot.name(id, &a.queues);
                    id
                }
                None => a.run(async |h| h.call(number).await)?,
            };
            *out = id.into();
            Ok(())
        })
    }
}

/// Answers the incoming call `call` (200 with the SDP answer; media starts).
///
/// # Safety
/// `agent` is a live agent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_answer(agent: *const Agent, call: u64) -> AgentResult {
    let id = CallId::from(call);
    // SAFETY: the function's contract.
    unsafe {
        with(agent, |a| match a.call_audio() {
            Some((options, slot)) => {
                slot.name(id, &a.queues);
                a.run(async |h| h.answer_with(id, options).await)
            }
            None => a.run(async |h| h.answer(id).await),
        })
    }
}

/// Refuses the incoming call `call` with `status` (300-699, e.g. 486 Busy Here).
///
/// # Safety
/// `agent` is a live agent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_reject(agent: *const Agent, call: u64, status: u16) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(agent, |a| {
            let status = StatusCode::new(status).filter(|s| (300..700).contains(&s.as_u16())).ok_or(AgentResult::InvalidArgument)?;
            a.run(async |h| h.reject(CallId::from(call), status).await)
        })
    }
}

/// Ends call `call`: BYE once answered; before, CANCEL (outgoing) or 480 (incoming).
///
/// # Safety
/// `agent` is a live agent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_hangup(agent: *const Agent, call: u64) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe { with(agent, |a| a.run(async |h| h.hangup(CallId::from(call)).await)) }
}

/// Puts call `call` on hold (a re-INVITE offering `a=sendonly`).
///
/// # Safety
/// `agent` is a live agent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_hold(agent: *const Agent, call: u64) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe { with(agent, |a| a.run(async |h| h.hold(CallId::from(call)).await)) }
}

/// Takes call `call` off hold (a re-INVITE offering `a=sendrecv`).
///
/// # Safety
/// `agent` is a live agent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_resume(agent: *const Agent, call: u64) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe { with(agent, |a| a.run(async |h| h.resume(CallId::from(call)).await)) }
}

/// Sends DTMF `digits` (`0-9*#A-D`) on call `call` as RFC 4733 events.
///
/// # Safety
/// `agent` is a live agent; `digits` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_send_dtmf(agent: *const Agent, call: u64, digits: *const c_char) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(agent, |a| {
            let digits = try_str(digits)?;
            a.run(async |h| h.send_dtmf(CallId::from(call), digits).await)
        })
    }
}

/// The network changed (the app heard it from the OS: a new Wi-Fi, LTE): the
/// agent does what it does on a netlink address event, moving its flow and
/// re-INVITing answered calls when its address went away, else checking the
/// public IP. Returns at once.
///
/// # Safety
/// `agent` is a live agent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_network_changed(agent: *const Agent) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe { with(agent, |a| a.handle()?.network_changed().map_err(AgentResult::from)) }
}

/// A push notification for this phone arrived (RFC 8599): an agent waiting to
/// reconnect connects and registers at once; one with a flow checks it.
/// Returns at once.
///
/// # Safety
/// `agent` is a live agent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_push_received(agent: *const Agent) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe { with(agent, |a| a.handle()?.push_received().map_err(AgentResult::from)) }
}
