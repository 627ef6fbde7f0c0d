//! The handle of a running agent: what a softphone asks of it.

use crate::Error;
use crate::call::CallId;
use crate::driver::Command;
use crate::driver::bearer::MediaOptions;
use crate::ua::ServerTxId;
use sipcore::{Response, StatusCode};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Controls a running agent. Dropping it stops the agent too (unregistering
/// in the background); [`AgentHandle::stop`] waits for that to finish.
#[derive(Debug)]
pub struct AgentHandle {
    commands: mpsc::UnboundedSender<Command>,
    task: Option<JoinHandle<()>>,
}

impl AgentHandle {
    pub(crate) fn new(commands: mpsc::UnboundedSender<Command>, task: JoinHandle<()>) -> Self {
        Self { commands, task: Some(task) }
    }

    /// Checks the public IP now (e.g. the softphone saw the network change).
    ///
    /// ```no_run
    /// # fn demo(handle: &agent::AgentHandle) -> Result<(), agent::Error> {
    /// handle.check_public_ip()?; // a REGISTER follows if it changed
    /// # Ok(()) }
    /// ```
    pub fn check_public_ip(&self) -> Result<(), Error> {
        self.commands.send(Command::CheckPublicIp).map_err(|_| Error::Stopped)
    }

    /// The application saw the network change (where the agent cannot watch
    /// the OS itself, or on a change of path the host's addresses do not
    /// show): handled as a netlink address event is. A flow whose local
    /// address went away is replaced (registration again, answered calls
    /// re-INVITEd from the new address); otherwise the public IP is checked
    /// (a REGISTER follows if it changed); an agent waiting to reconnect
    /// tries at once.
    ///
    /// ```no_run
    /// # fn demo(handle: &agent::AgentHandle) -> Result<(), agent::Error> {
    /// handle.network_changed()?; // e.g. from Android's ConnectivityManager callback
    /// # Ok(()) }
    /// ```
    pub fn network_changed(&self) -> Result<(), Error> {
        self.commands.send(Command::NetworkChanged).map_err(|_| Error::Stopped)
    }

    /// A push notification for this phone arrived (RFC 8599): a call may be
    /// waiting for the phone to register again. For now this is
    /// [`AgentHandle::network_changed`]: an agent waiting to reconnect
    /// connects and registers at once, one with a flow checks it.
    pub fn push_received(&self) -> Result<(), Error> {
        self.network_changed()
    }

    /// Answers a request the switch sent (see [`crate::Event::IncomingRequest`]) with
    /// `status` (its default reason phrase), e.g. [`StatusCode::NOT_IMPLEMENTED`]
    /// for a method the phone has no use for.
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle, mut events: agent::Events) -> Result<(), agent::Error> {
    /// use agent::{Event, Method, StatusCode};
    ///
    /// while let Some(event) = events.recv().await {
    ///     if let Event::IncomingRequest { id: Some(id), request } = event {
    ///         let status = if request.method == Method::Message { StatusCode::OK } else { StatusCode::NOT_IMPLEMENTED };
    ///         handle.respond(id, status).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn respond(&self, id: ServerTxId, status: StatusCode) -> Result<(), Error> {
        self.ask(|reply| Command::Respond { id, status, reply }).await
    }

    /// Answers a request the switch sent with a response of the
    /// application's making (built from the request, e.g. with
    /// [`Response::to_request`], with headers or a body of its own).
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle, id: agent::ServerTxId, request: agent::Request) -> Result<(), agent::Error> {
    /// use agent::{Response, StatusCode};
    ///
    /// let busy = Response::to_request(&request, StatusCode::BUSY_HERE.as_u16()).with_reason("Busy Here (in a meeting)");
    /// handle.respond_with(id, busy).await?;
    /// # Ok(()) }
    /// ```
    pub async fn respond_with(&self, id: ServerTxId, response: Response) -> Result<(), Error> {
        self.ask(|reply| Command::RespondWith { id, response: Box::new(response), reply }).await
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(command(reply)).map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Calls `number` (`INVITE sip:<number>@<domain>` up the flow, with an SDP
    /// offer naming the flow's private IP and the bearer port). Its progress
    /// comes as [`crate::Event::Call`] (ringing, answered, ended) and [`crate::Event::Media`].
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle, mut events: agent::Events) -> Result<(), agent::Error> {
    /// use agent::{CallEvent, Event};
    ///
    /// let id = handle.call("1002").await?;
    /// while let Some(event) = events.recv().await {
    ///     match event {
    ///         Event::Call(CallEvent::Answered { id: answered, .. }) if answered == id => println!("talking"),
    ///         Event::Call(CallEvent::Ended { id: ended, reason, .. }) if ended == id => {
    ///             println!("over: {}", reason.as_str());
    ///             break;
    ///         }
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn call(&self, number: &str) -> Result<CallId, Error> {
        self.ask(|reply| Command::Call { number: number.to_owned(), options: None, reply }).await
    }

    /// [`AgentHandle::call`] with its own media options.
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle) -> Result<(), agent::Error> {
    /// use agent::{MediaOptions, Source};
    ///
    /// // A 440 Hz tone, and what comes back kept for the call's MediaReport.
    /// let id = handle.call_with("1002", MediaOptions { source: Source::Tone(440.0), record: true }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn call_with(&self, number: &str, options: MediaOptions) -> Result<CallId, Error> {
        self.ask(|reply| Command::Call { number: number.to_owned(), options: Some(options), reply }).await
    }

    /// Answers the incoming call `id` (a [`crate::CallEvent::Incoming`]): 200
    /// with the SDP answer; RTP starts at once toward the relay. An unusable
    /// offer is rejected 488 (and this returns the error).
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle, mut events: agent::Events) -> Result<(), agent::Error> {
    /// use agent::{CallEvent, Event};
    ///
    /// while let Some(event) = events.recv().await {
    ///     if let Event::Call(CallEvent::Incoming { id, from, .. }) = event {
    ///         println!("{from} calls");
    ///         handle.answer(id).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn answer(&self, id: CallId) -> Result<(), Error> {
        self.ask(|reply| Command::Answer { id, options: None, reply }).await
    }

    /// [`AgentHandle::answer`] with its own media options.
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle, id: agent::CallId) -> Result<(), agent::Error> {
    /// use agent::{MediaOptions, Source};
    ///
    /// handle.answer_with(id, MediaOptions { source: Source::Echo, record: false }).await?; // an echo test
    /// # Ok(()) }
    /// ```
    pub async fn answer_with(&self, id: CallId, options: MediaOptions) -> Result<(), Error> {
        self.ask(|reply| Command::Answer { id, options: Some(options), reply }).await
    }

    /// Refuses the incoming call `id` with `status` ([`StatusCode::BUSY_HERE`],
    /// [`StatusCode::DECLINE`]…; 300–699).
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle, id: agent::CallId) -> Result<(), agent::Error> {
    /// handle.reject(id, agent::StatusCode::BUSY_HERE).await?;
    /// # Ok(()) }
    /// ```
    pub async fn reject(&self, id: CallId, status: StatusCode) -> Result<(), Error> {
        self.ask(|reply| Command::Reject { id, status, reply }).await
    }

    /// Ends call `id`: BYE once answered; before, CANCEL (outgoing) or 480 (incoming).
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle, id: agent::CallId) -> Result<(), agent::Error> {
    /// handle.hangup(id).await?; // Media(Stopped) and Call(Ended) follow
    /// # Ok(()) }
    /// ```
    pub async fn hangup(&self, id: CallId) -> Result<(), Error> {
        self.ask(|reply| Command::Hangup { id, reply }).await
    }

    /// Sends DTMF digits (`0-9*#A-D`) on call `id` as RFC 4733 events.
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle, id: agent::CallId) -> Result<(), agent::Error> {
    /// handle.send_dtmf(id, "1234#").await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_dtmf(&self, id: CallId, digits: &str) -> Result<(), Error> {
        self.ask(|reply| Command::Dtmf { id, digits: digits.to_owned(), reply }).await
    }

    /// Puts call `id` on hold: a re-INVITE offering `a=sendonly` (the peer
    /// stops sending; our stream keeps the NAT leg open). `Event::Call(Updated)`
    /// follows, or `ReofferRejected` (491 on glare: try again later), after
    /// which the call is as it was.
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle, id: agent::CallId) -> Result<(), agent::Error> {
    /// handle.hold(id).await?;
    /// // ... later
    /// handle.resume(id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn hold(&self, id: CallId) -> Result<(), Error> {
        self.ask(|reply| Command::Hold { id, hold: true, reply }).await
    }

    /// Takes call `id` off hold: a re-INVITE offering `a=sendrecv` (see [`AgentHandle::hold`]).
    pub async fn resume(&self, id: CallId) -> Result<(), Error> {
        self.ask(|reply| Command::Hold { id, hold: false, reply }).await
    }

    /// True until the agent has stopped.
    ///
    /// ```no_run
    /// # fn demo(handle: &agent::AgentHandle) {
    /// assert!(handle.is_running());
    /// # }
    /// ```
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Unregisters (if registered), closes the flow and waits for the agent
    /// to end (bounded by the unregistration timeout, 5 s).
    ///
    /// ```no_run
    /// # async fn demo(handle: agent::AgentHandle, mut events: agent::Events) {
    /// handle.stop().await;
    /// while let Some(event) = events.recv().await {
    ///     println!("{event:?}"); // Unregistered, Stopped
    /// }
    /// # }
    /// ```
    pub async fn stop(mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "agent task failed");
        }
    }
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
    }
}
