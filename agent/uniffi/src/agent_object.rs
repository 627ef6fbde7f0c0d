//! `Agent`: a running agent as a foreign object. Its async methods run the
//! handle's commands on the agent's own runtime and are awaited by whatever
//! executor the foreign language has (asyncio, Swift concurrency, coroutines).

use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::event::{AgentEvent, EventListener};
use agent::{AgentBuilder, AgentHandle, CallId, Event, Events, StatusCode};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::runtime::Runtime;

/// How long dropping an agent waits for its runtime's threads.
const SHUTDOWN: Duration = Duration::from_secs(10);

/// An agent: made from an [`AgentConfig`], started with a listener, stopped once.
#[derive(uniffi::Object)]
pub struct Agent {
    runtime: Option<Runtime>,
    builder: AgentBuilder,
    /// The handle while the agent runs; `started` stays true after `stop`.
    handle: Mutex<(Option<Arc<AgentHandle>>, bool)>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("builder", &self.builder).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Agent {
    fn runtime(&self) -> Result<&Runtime, AgentError> {
        self.runtime.as_ref().ok_or(AgentError::NotRunning)
    }

    fn handle(&self) -> Result<Arc<AgentHandle>, AgentError> {
        lock(&self.handle).0.clone().ok_or(AgentError::NotRunning)
    }

    /// Runs one of the handle's commands on the agent's runtime; the returned
    /// future is awaited by the foreign executor.
    async fn run<T, F>(&self, command: impl FnOnce(Arc<AgentHandle>) -> F) -> Result<T, AgentError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, agent::Error>> + Send + 'static,
    {
        let task = self.runtime()?.spawn(command(self.handle()?));
        task.await.map_err(|e| AgentError::Agent(e.to_string()))?.map_err(AgentError::from)
    }
}

#[uniffi::export]
impl Agent {
    /// An agent made from `config` (checked now), not started.
    #[uniffi::constructor]
    pub fn new(config: AgentConfig) -> Result<Arc<Self>, AgentError> {
        let builder = config.builder()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("agent")
            .enable_all()
            .build()
            .map_err(|e| AgentError::Agent(e.to_string()))?;
        Ok(Arc::new(Self { runtime: Some(runtime), builder, handle: Mutex::new((None, false)) }))
    }

    /// Starts the agent: it connects and registers; `listener` gets every
    /// event, in order, on the `agent-events` thread, `STOPPED` last.
    pub fn start(&self, listener: Arc<dyn EventListener>) -> Result<(), AgentError> {
        let mut slot = lock(&self.handle);
        if slot.1 {
            return Err(AgentError::AlreadyStarted);
        }
        let runtime = self.runtime()?;
        let (handle, events) = {
            let _entered = runtime.enter();
            self.builder.clone().start()?
        };
        let handle = Arc::new(handle);
        let weak = Arc::downgrade(&handle);
        let rt = runtime.handle().clone();
        std::thread::Builder::new()
            .name("agent-events".into())
            .spawn(move || rt.block_on(deliver(events, weak, listener)))
            .map_err(|e| AgentError::Agent(e.to_string()))?;
        *slot = (Some(handle), true);
        Ok(())
    }

    /// Stops the agent: unregisters, closes the flow, ends its calls; returns
    /// when it has stopped (the listener's last event, `STOPPED`, follows).
    pub async fn stop(&self) -> Result<(), AgentError> {
        let handle = lock(&self.handle).0.take().ok_or(AgentError::NotRunning)?;
        let runtime = self.runtime()?;
        // The handle stops the agent when its last clone goes; a command in
        // flight may hold one a moment longer.
        let stopped = runtime.spawn(async move {
            match Arc::try_unwrap(handle) {
                Ok(handle) => handle.stop().await,
                Err(shared) => drop(shared),
            }
        });
        stopped.await.map_err(|e| AgentError::Agent(e.to_string()))
    }

    /// Calls `number` (INVITE sip:NUMBER@domain); returns the call's id once
    /// the INVITE is sent. Ringing, Answered and Ended come as events.
    pub async fn call(&self, number: String) -> Result<u64, AgentError> {
        self.run(move |h| async move { h.call(&number).await }).await.map(u64::from)
    }

    /// Answers the incoming call `call` (200 OK with SDP; media starts).
    pub async fn answer(&self, call: u64) -> Result<(), AgentError> {
        self.run(move |h| async move { h.answer(CallId::from(call)).await }).await
    }

    /// Refuses the incoming call `call` with `status` (300-699, e.g. 486).
    pub async fn reject(&self, call: u64, status: u16) -> Result<(), AgentError> {
        let status = StatusCode::new(status)
            .filter(|s| (300..700).contains(&s.as_u16()))
            .ok_or_else(|| AgentError::Agent(format!("{status} is not a rejection (300-699)")))?;
        self.run(move |h| async move { h.reject(CallId::from(call), status).await }).await
    }

    /// Ends the call `call` (BYE, or CANCEL while it rings).
    pub async fn hangup(&self, call: u64) -> Result<(), AgentError> {
        self.run(move |h| async move { h.hangup(CallId::from(call)).await }).await
    }

    /// Puts the call `call` on hold (re-INVITE, `a=sendonly`).
    pub async fn hold(&self, call: u64) -> Result<(), AgentError> {
        self.run(move |h| async move { h.hold(CallId::from(call)).await }).await
    }

    /// Takes the call `call` off hold.
    pub async fn resume(&self, call: u64) -> Result<(), AgentError> {
        self.run(move |h| async move { h.resume(CallId::from(call)).await }).await
    }

    /// Sends `digits` (0-9*#A-D) as RFC 4733 events in the call `call`.
    pub async fn send_dtmf(&self, call: u64, digits: String) -> Result<(), AgentError> {
        self.run(move |h| async move { h.send_dtmf(CallId::from(call), &digits).await }).await
    }

    /// The application saw the network change (iOS/Android): the agent
    /// replaces its flow if its address went, else checks the public IP.
    pub fn network_changed(&self) -> Result<(), AgentError> {
        Ok(self.handle()?.network_changed()?)
    }

    /// A push notification arrived (RFC 8599): reconnect and register now.
    pub fn push_received(&self) -> Result<(), AgentError> {
        Ok(self.handle()?.push_received()?)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // Stops the agent (the handle's drop) and its threads.
        drop(lock(&self.handle).0.take());
        if let Some(runtime) = self.runtime.take() {
            // On a runtime's thread (the listener dropping the last reference)
            // tokio forbids waiting: let the threads end by themselves.
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(SHUTDOWN);
            }
        }
    }
}

/// Hands every event to the listener, in order, answering on the way what
/// the bindings cannot answer yet (requests other than calls: 501).
async fn deliver(mut events: Events, handle: Weak<AgentHandle>, listener: Arc<dyn EventListener>) {
    while let Some(event) = events.recv().await {
        if let Event::IncomingRequest { id: Some(id), .. } = &event
            && let Some(handle) = handle.upgrade()
        {
            let _ = handle.respond(id.clone(), StatusCode::NOT_IMPLEMENTED).await;
        }
        listener.on_event(AgentEvent::from(&event));
    }
}
