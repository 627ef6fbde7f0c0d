//! The agent as a C library (issue 15): `libagent_ffi.a` / `libagent_ffi.so`
//! and the header `agent/include/agent.h`, generated from this crate by
//! cbindgen (the test `tests/header.rs` regenerates it and fails on a
//! difference; `UPDATE_HEADER=1` rewrites it). It wraps the `agent` crate's
//! tokio API and decides nothing itself.
//!
//! The conventions are rustls-ffi's:
//!
//! - Opaque handles made by `*_new` and released by `*_free`
//!   ([`AgentConfig`], [`Agent`]); every function returns an [`AgentResult`]
//!   and hands back what it made through out-parameters.
//! - Every callback takes the `void *user_data` it was registered with.
//! - No panic crosses the boundary: each function runs under
//!   `catch_unwind` and a panic is [`AgentResult::Panic`].
//! - Threads: the agent runs on a tokio runtime of its own (threads named
//!   `agent`); every function may be called from any thread of the
//!   application, except from inside the agent's own threads, i.e. from an
//!   audio callback (there a blocking call would stall the media it serves).
//!   Events come either by polling ([`agent_next_event`], with
//!   [`agent_event_fd`] readable while one waits) or by the callback of
//!   [`agent_set_event_callback`], called in order on one thread of the
//!   agent's (`agent-events`), from which the other functions may be called.
//!   Audio callbacks ([`agent_config_set_app_audio`]) run on a media thread
//!   every 20 ms and must not block; an application with an audio thread of
//!   its own may pull and push instead ([`agent_config_set_app_audio_queue`],
//!   [`agent_audio_pull`], [`agent_audio_push`]).

mod agent;
mod audio;
mod audio_queue;
mod calls;
mod config;
mod event;
mod ptr;
mod queue;
mod result;

pub use agent::{
    Agent, AgentEventCallback, agent_event_fd, agent_free, agent_new, agent_next_event, agent_set_event_callback, agent_start, agent_stop,
};
pub use audio::{AgentAudioCapture, AgentAudioPlayout};
pub use audio_queue::{agent_audio_pull, agent_audio_push};
pub use calls::{
    agent_answer, agent_call, agent_hangup, agent_hold, agent_network_changed, agent_push_received, agent_reject, agent_resume,
    agent_send_dtmf,
};
pub use config::{
    AgentBearer, AgentConfig, agent_config_add_switch, agent_config_free, agent_config_new, agent_config_set_app_audio,
    agent_config_set_app_audio_queue, agent_config_set_bearer_port, agent_config_set_bearer_transport, agent_config_set_domain,
    agent_config_set_echo, agent_config_set_number, agent_config_set_password, agent_config_set_public_ip, agent_config_set_push,
    agent_config_set_tls_ca_file, agent_config_set_tone,
};
pub use event::{AGENT_EVENT_TEXT, AgentEvent, AgentEventKind};
pub use result::{AgentResult, agent_result_text};
