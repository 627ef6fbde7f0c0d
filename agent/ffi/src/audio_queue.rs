//! App-owned audio pulled and pushed from C (`agent_config_set_app_audio_queue`):
//! each call's [`agent::FrameQueue`], found by the call's id.

use crate::agent::Agent;
use crate::ptr::{try_frame, try_frame_mut, try_ref};
use crate::result::{AgentResult, guard};

/// Pushes the next 20 ms to send on `call`: `samples` (160) samples, 8 kHz,
/// 16-bit signed, mono. `AGENT_RESULT_NO_SUCH_CALL`: the call is not (or no
/// longer) one of this agent's pulled-and-pushed calls.
///
/// # Safety
/// `agent` is a live agent; `frame` points to `samples` readable samples.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_audio_push(agent: *const Agent, call: u64, frame: *const i16, samples: usize) -> AgentResult {
    guard(|| {
        // SAFETY: the function's contract.
        let (agent, frame) = unsafe { (try_ref(agent)?, try_frame(frame, samples)?) };
        agent.queues.get(call).ok_or(AgentResult::NoSuchCall)?.push_capture(*frame);
        Ok(())
    })
}

/// Pulls the oldest 20 ms received on `call` and not yet pulled into `frame`
/// (`samples` = 160). `AGENT_RESULT_EMPTY`: none waits (play silence).
///
/// # Safety
/// `agent` is a live agent; `frame` points to `samples` writable samples.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_audio_pull(agent: *const Agent, call: u64, frame: *mut i16, samples: usize) -> AgentResult {
    guard(|| {
        // SAFETY: the function's contract.
        let (agent, out) = unsafe { (try_ref(agent)?, try_frame_mut(frame, samples)?) };
        *out = agent.queues.get(call).ok_or(AgentResult::NoSuchCall)?.pull_playout().ok_or(AgentResult::Empty)?;
        Ok(())
    })
}
