//! App-owned audio through C callbacks: each call's [`agent::AppAudio`] is a
//! [`CallAudio`] that calls the application's functions with the call's id.

use agent::{AppAudio, CallId, FRAME_SAMPLES, Frame, MediaOptions, Source};
use std::ffi::c_void;
use std::sync::{Arc, OnceLock};

/// Asked for the next 20 ms to send on `call`: fill `frame` (`samples` = 160,
/// 8 kHz, 16-bit signed, mono; it comes zeroed, i.e. silence).
pub type AgentAudioCapture = Option<unsafe extern "C" fn(user_data: *mut c_void, call: u64, frame: *mut i16, samples: usize)>;

/// Given the 20 ms just received on `call`, decoded (`samples` = 160); the
/// frame is only valid during the call.
pub type AgentAudioPlayout = Option<unsafe extern "C" fn(user_data: *mut c_void, call: u64, frame: *const i16, samples: usize)>;

/// The application's pointer, handed back to its callbacks as it is.
#[derive(Debug, Clone, Copy)]
struct UserData(*mut c_void);

// SAFETY: the agent never reads through it; `agent_config_set_app_audio`'s
// contract makes the application's callbacks callable with it from any thread.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// The application's audio callbacks, as set in the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppCallbacks {
    capture: AgentAudioCapture,
    playout: AgentAudioPlayout,
    user_data: UserData,
}

impl AppCallbacks {
    pub(crate) fn new(capture: AgentAudioCapture, playout: AgentAudioPlayout, user_data: *mut c_void) -> Self {
        Self { capture, playout, user_data: UserData(user_data) }
    }

    /// The media options of one call, its audio going to these callbacks;
    /// the call's id is told with [`CallAudio::name`] once known.
    pub(crate) fn for_call(self) -> (MediaOptions, Arc<CallAudio>) {
        let audio = Arc::new(CallAudio { callbacks: self, call: OnceLock::new() });
        (MediaOptions { source: Source::App(audio.clone()), record: false }, audio)
    }
}

/// One call's audio. An outgoing call's id is known only once the INVITE
/// is sent; until then (before any answer, so in practice never) its frames
/// are silence and what arrives is dropped, so the application never sees a
/// frame under a wrong id.
#[derive(Debug)]
pub(crate) struct CallAudio {
    callbacks: AppCallbacks,
    call: OnceLock<u64>,
}

impl CallAudio {
    pub(crate) fn name(&self, id: CallId) {
        let _ = self.call.set(id.into());
    }
}

impl AppAudio for CallAudio {
    fn capture(&self, frame: &mut Frame) {
        if let (Some(f), Some(&call)) = (self.callbacks.capture, self.call.get()) {
            // SAFETY: a frame of FRAME_SAMPLES writable samples, for the
            // duration of the call; the callback's contract is the application's.
            unsafe { f(self.callbacks.user_data.0, call, frame.as_mut_ptr(), FRAME_SAMPLES) }
        }
    }

    fn playout(&self, frame: &Frame) {
        if let (Some(f), Some(&call)) = (self.callbacks.playout, self.call.get()) {
            // SAFETY: as in `capture`, read-only.
            unsafe { f(self.callbacks.user_data.0, call, frame.as_ptr(), FRAME_SAMPLES) }
        }
    }
}
