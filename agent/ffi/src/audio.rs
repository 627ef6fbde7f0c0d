//! App-owned audio through C callbacks: each call's [`agent::AppAudio`] is a
//! [`CallAudio`] that calls the application's functions with the call's id.

use agent::{AppAudio, CallId, FRAME_SAMPLES, Frame, FrameQueue, MediaOptions, Source};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

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
}

/// The application's audio of one call about to be placed or answered,
/// waiting for the call's id ([`CallSlot::name`]) to reach the application.
pub(crate) enum CallSlot {
    Callbacks(Arc<CallAudio>),
    Queue(Arc<FrameQueue>),
}

impl CallSlot {
    /// A call's audio going to these callbacks, and its media options.
    pub(crate) fn callbacks(callbacks: AppCallbacks) -> (MediaOptions, CallSlot) {
        let audio = Arc::new(CallAudio { callbacks, call: OnceLock::new() });
        (MediaOptions { source: Source::App(audio.clone()), record: false }, CallSlot::Callbacks(audio))
    }

    /// A call's audio in a queue each way, and its media options.
    pub(crate) fn queue() -> (MediaOptions, CallSlot) {
        let queue = Arc::new(FrameQueue::new());
        (MediaOptions { source: Source::App(queue.clone()), record: false }, CallSlot::Queue(queue))
    }

    /// The call's id is known: from now on the application hears of it under that id.
    pub(crate) fn name(self, id: CallId, queues: &Queues) {
        match self {
            CallSlot::Callbacks(audio) => {
                let _ = audio.call.set(id.into());
            }
            CallSlot::Queue(queue) => queues.insert(id, queue),
        }
    }
}

/// The pulled-and-pushed calls' queues, by call, until each call ends.
#[derive(Debug, Default)]
pub(crate) struct Queues(Mutex<HashMap<u64, Arc<FrameQueue>>>);

impl Queues {
    fn insert(&self, id: CallId, queue: Arc<FrameQueue>) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(id.into(), queue);
    }

    pub(crate) fn get(&self, call: u64) -> Option<Arc<FrameQueue>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&call).cloned()
    }

    pub(crate) fn remove(&self, id: CallId) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&id.into());
    }
}

/// One call's audio through the callbacks. An outgoing call's id is known only once the INVITE
/// is sent; until then (before any answer, so in practice never) its frames
/// are silence and what arrives is dropped, so the application never sees a
/// frame under a wrong id.
#[derive(Debug)]
pub(crate) struct CallAudio {
    callbacks: AppCallbacks,
    call: OnceLock<u64>,
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
