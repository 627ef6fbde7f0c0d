//! `Agent`: a running agent behind an opaque pointer. It owns a tokio runtime
//! (threads `agent`), the `agent::AgentHandle` once started, the pump task
//! that turns `agent::Events` into [`AgentEvent`]s on the [`EventQueue`], and
//! the thread that calls the application's event callback, if it set one.

use crate::audio::{CallSlot, Queues};
use crate::config::{AgentConfig, Audio};
use crate::event::AgentEvent;
use crate::ptr::{give, take, try_mut, try_ref};
use crate::queue::{EventQueue, Next};
use crate::result::{AgentResult, guard};
use agent::{AgentBuilder, AgentHandle, CallEvent, Event, MediaOptions, StatusCode};
use std::ffi::{c_int, c_void};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::runtime::Runtime;

/// How long `agent_free` waits for the runtime's threads to finish.
const SHUTDOWN: Duration = Duration::from_secs(10);

/// Called with each event, in order, on the agent's `agent-events` thread;
/// `event` is valid during the call only.
pub type AgentEventCallback = Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const AgentEvent)>;

/// The application's pointer for the event callback.
struct UserData(*mut c_void);

// SAFETY: never read by the agent; `agent_set_event_callback`'s contract makes
// the callback callable with it on the agent's event thread.
unsafe impl Send for UserData {}

/// A running agent (opaque): made by `agent_new`, released by `agent_free`.
pub struct Agent {
    runtime: Option<Runtime>,
    builder: AgentBuilder,
    audio: Audio,
    handle: Mutex<Option<Arc<AgentHandle>>>,
    pump: Mutex<Option<tokio::task::JoinHandle<()>>>,
    events: Arc<EventQueue>,
    delivery: Mutex<Option<JoinHandle<()>>>,
    /// The calls' audio queues when the application pulls and pushes.
    pub(crate) queues: Arc<Queues>,
}

// Every function may be called from any thread: the compiler checks that an
// `Agent` may be shared and moved between threads, since C cannot.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Agent>();
    shareable::<crate::config::AgentConfig>();
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Agent {
    fn runtime(&self) -> Result<&Runtime, AgentResult> {
        self.runtime.as_ref().ok_or(AgentResult::NotRunning)
    }

    /// The running agent's handle (cloned out of the lock, so that no lock is
    /// held while a command waits for the agent).
    pub(crate) fn handle(&self) -> Result<Arc<AgentHandle>, AgentResult> {
        lock(&self.handle).clone().ok_or(AgentResult::NotRunning)
    }

    /// Runs one of the handle's commands to its end, on the agent's runtime.
    pub(crate) fn run<T>(&self, command: impl AsyncFnOnce(&AgentHandle) -> Result<T, agent::Error>) -> Result<T, AgentResult> {
        let handle = self.handle()?;
        self.runtime()?.block_on(command(&handle)).map_err(AgentResult::from)
    }

    /// A new call's media options and where its audio goes, when the
    /// application owns the audio (None: the built-in source configured).
    pub(crate) fn call_audio(&self) -> Option<(MediaOptions, CallSlot)> {
        match &self.audio {
            Audio::App(callbacks) => Some(CallSlot::callbacks(*callbacks)),
            Audio::Queue => Some(CallSlot::queue()),
            Audio::Builtin(_) => None,
        }
    }

    fn start(&self) -> Result<(), AgentResult> {
        let mut slot = lock(&self.handle);
        if slot.is_some() || lock(&self.pump).is_some() {
            return Err(AgentResult::AlreadyStarted);
        }
        let runtime = self.runtime()?;
        let _entered = runtime.enter();
        let (handle, events) = self.builder.clone().start().map_err(AgentResult::from)?;
        let handle = Arc::new(handle);
        let pump = runtime.spawn(pump(events, Arc::downgrade(&handle), self.events.clone(), self.queues.clone()));
        *slot = Some(handle);
        *lock(&self.pump) = Some(pump);
        Ok(())
    }

    /// Stops the agent (unregistering) and waits until its last event is queued.
    fn stop(&self) -> Result<(), AgentResult> {
        // The agent stops when its last handle goes (the pump holds it only
        // for a moment); the pump ends after the agent's last event.
        drop(lock(&self.handle).take().ok_or(AgentResult::NotRunning)?);
        let pump = lock(&self.pump).take();
        if let Some(pump) = pump {
            let _ = self.runtime()?.block_on(pump);
        }
        Ok(())
    }
}

/// Moves the agent's events to the queue, in order, answering on the way what
/// C cannot answer yet (requests other than calls: 501) and dropping the audio
/// queues of calls that ended, and closes the queue after the last.
async fn pump(mut events: agent::Events, handle: Weak<AgentHandle>, queue: Arc<EventQueue>, audio: Arc<Queues>) {
    loop {
        queue.room().await;
        let Some(ev) = events.recv().await else { break };
        if let Event::IncomingRequest { id: Some(id), .. } = &ev {
            let handle = handle.upgrade();
            if let Some(handle) = handle {
                let _ = handle.respond(id.clone(), StatusCode::NOT_IMPLEMENTED).await;
            }
        }
        if let Event::Call(CallEvent::Ended { id, .. }) = &ev {
            audio.remove(*id);
        }
        queue.push(AgentEvent::from(&ev));
    }
    queue.close();
}

/// A new agent in `*out`, configured from `config` (copied: the
/// configuration may be freed or changed after), not yet started.
///
/// # Safety
/// `config` is a live configuration; `out` points to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_new(config: *const AgentConfig, out: *mut *mut Agent) -> AgentResult {
    guard(|| {
        // SAFETY: the function's contract.
        let config = unsafe { try_ref(config) }?;
        let made = (|| {
            let (builder, audio) = config.builder()?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("agent")
                .enable_all()
                .build()
                .map_err(|_| AgentResult::Failed)?;
            let events = Arc::new(EventQueue::new().map_err(|_| AgentResult::Failed)?);
            Ok(Agent {
                runtime: Some(runtime),
                builder,
                audio,
                handle: Mutex::new(None),
                pump: Mutex::new(None),
                events,
                delivery: Mutex::new(None),
                queues: Arc::default(),
            })
        })();
        // SAFETY: the function's contract.
        unsafe { give(out, made) }
    })
}

/// Starts the agent: it connects, registers, and keeps at it until
/// `agent_stop`. Events follow (`AGENT_EVENT_KIND_REGISTERED`...).
///
/// # Safety
/// `agent` is a live agent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_start(agent: *const Agent) -> AgentResult {
    // SAFETY: the function's contract.
    guard(|| unsafe { try_ref(agent) }?.start())
}

/// Stops the agent: unregisters, closes the flow, ends its calls, and returns
/// once its last event (`AGENT_EVENT_KIND_STOPPED`) is queued. An agent is
/// started once: after this only events can be read and the agent freed.
///
/// # Safety
/// `agent` is a live agent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_stop(agent: *const Agent) -> AgentResult {
    // SAFETY: the function's contract.
    guard(|| unsafe { try_ref(agent) }?.stop())
}

/// Stops the agent if it runs, waits for its threads (the event callback's
/// too, unless called from it) and releases it (NULL: nothing).
///
/// # Safety
/// `agent` is NULL or came from `agent_new`, is not used after this, and no
/// other thread is inside a function with it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_free(agent: *mut Agent) {
    let _ = guard(|| {
        // SAFETY: the function's contract.
        let Some(mut agent) = (unsafe { take(agent) }) else { return Ok(()) };
        let _ = agent.stop();
        // Ends the delivery thread's wait, if the agent never started.
        agent.events.close();
        if let Some(delivery) = lock(&agent.delivery).take()
            && delivery.thread().id() != std::thread::current().id()
        {
            let _ = delivery.join();
        }
        if let Some(runtime) = agent.runtime.take() {
            runtime.shutdown_timeout(SHUTDOWN);
        }
        Ok(())
    });
}

/// The next event into `*event`, waiting up to `timeout_ms` milliseconds
/// (0: do not wait; negative: for ever). `AGENT_RESULT_TIMEOUT`: none came;
/// `AGENT_RESULT_STOPPED`: the agent has stopped and every event was read.
///
/// # Safety
/// `agent` is a live agent; `event` points to writable storage for an `AgentEvent`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_next_event(agent: *const Agent, event: *mut AgentEvent, timeout_ms: c_int) -> AgentResult {
    guard(|| {
        // SAFETY: the function's contract.
        let (agent, out) = unsafe { (try_ref(agent)?, try_mut(event)?) };
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        match agent.events.next(timeout) {
            Next::Event(ev) => {
                *out = *ev;
                Ok(())
            }
            Next::Timeout => Err(AgentResult::Timeout),
            Next::Closed => Err(AgentResult::Stopped),
        }
    })
}

/// A file descriptor that is readable while an event waits (and once the
/// agent has stopped), for poll/epoll/select; read events with
/// `agent_next_event(agent, &ev, 0)`, never from the descriptor. It belongs
/// to the agent: do not close it. -1 for a NULL agent.
///
/// # Safety
/// `agent` is NULL or a live agent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_event_fd(agent: *const Agent) -> c_int {
    // SAFETY: the function's contract.
    match unsafe { try_ref(agent) } {
        Ok(agent) => agent.events.fd(),
        Err(_) => -1,
    }
}

/// Delivers every event to `callback` instead of `agent_next_event`: in
/// order, on one thread of the agent's (`agent-events`), from which the other
/// functions may be called. Set it before `agent_start`, once.
///
/// # Safety
/// `agent` is a live agent; `callback` is safe to call from another thread
/// with `user_data` until `agent_free` returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_set_event_callback(
    agent: *const Agent,
    callback: AgentEventCallback,
    user_data: *mut c_void,
) -> AgentResult {
    guard(|| {
        // SAFETY: the function's contract.
        let agent = unsafe { try_ref(agent) }?;
        let callback = callback.ok_or(AgentResult::NullArgument)?;
        let mut delivery = lock(&agent.delivery);
        if delivery.is_some() || lock(&agent.handle).is_some() {
            return Err(AgentResult::AlreadyStarted);
        }
        let (events, user_data) = (agent.events.clone(), UserData(user_data));
        let thread = std::thread::Builder::new().name("agent-events".into()).spawn(move || {
            let user_data = user_data;
            while let Next::Event(ev) = events.next(None) {
                // SAFETY: the function's contract; the event lives through the call.
                unsafe { callback(user_data.0, &*ev) };
            }
        });
        *delivery = Some(thread.map_err(|_| AgentResult::Failed)?);
        Ok(())
    })
}
