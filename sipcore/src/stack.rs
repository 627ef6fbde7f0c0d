//! The tokio driver that joins a transport [`Transport`] and a sans-IO
//! [`TransactionLayer`]: one task owns the layer and `select!`s over incoming
//! messages, commands and the layer's next deadline. It remembers which flow
//! each transaction belongs to, so server responses go back over the request's
//! flow (RFC 3261 §18.2.2) and client retransmissions over the flow they started on.

use crate::message::{Message, Request, Response};
use crate::transaction::{LayerEvent, TimerConfig, TransactionError, TransactionKey, TransactionLayer};
use crate::transport::{Flow, Transport, TransportError, TransportEvent};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, warn};

/// What the stack hands to the application (the TU).
#[derive(Debug)]
pub enum StackEvent {
    /// A new request in a new server transaction; answer with [`Stack::respond`].
    Request { key: TransactionKey, flow: Flow, request: Request },
    /// A CANCEL (answer it under `key`); `invite` is the transaction it cancels.
    Cancel { key: TransactionKey, flow: Flow, request: Request, invite: Option<TransactionKey> },
    /// An ACK for a 2xx (the dialog's, not a transaction's).
    Ack { flow: Flow, request: Request },
    /// A flow opened, closed, pinged or ponged.
    Transport(TransportEvent),
}

/// What a client transaction reports to whoever sent the request.
#[derive(Debug)]
pub enum ClientEvent {
    /// A provisional or final response.
    Response(Response),
    /// Timer B/F fired: no final response (treat as 408, §8.1.3.1).
    Timeout,
    /// The flow failed.
    TransportError,
}

enum Command {
    Request { flow: Flow, request: Request, reply: oneshot::Sender<Result<mpsc::UnboundedReceiver<ClientEvent>, TransactionError>> },
    Respond { key: TransactionKey, response: Response },
}

/// A handle on the running stack; cheap to clone.
#[derive(Clone)]
pub struct Stack {
    commands: mpsc::UnboundedSender<Command>,
    transport: Transport,
}

impl Stack {
    /// Starts the driver task over `transport` and the event queue it returned.
    pub fn spawn(
        transport: Transport,
        events_in: mpsc::Receiver<TransportEvent>,
        timers: TimerConfig,
    ) -> (Self, mpsc::Receiver<StackEvent>) {
        let (commands, cmd_rx) = mpsc::unbounded_channel();
        let (events, ev_rx) = mpsc::channel(4096);
        let driver = Driver { layer: TransactionLayer::new(timers), transport: transport.clone(), clients: HashMap::new(), events };
        tokio::spawn(driver.run(events_in, cmd_rx));
        (Self { commands, transport }, ev_rx)
    }

    /// The transport underneath (to open flows, send ACKs for 2xx, keep-alives).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Sends `request` over `flow` in a new client transaction; the receiver
    /// yields its responses and ends when the transaction does.
    pub async fn request(&self, flow: Flow, request: Request) -> Result<mpsc::UnboundedReceiver<ClientEvent>, StackError> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Command::Request { flow, request, reply }).map_err(|_| StackError::Stopped)?;
        Ok(rx.await.map_err(|_| StackError::Stopped)??)
    }

    /// Sends `request` and waits for its final response (or a timeout/transport error).
    pub async fn request_final(&self, flow: Flow, request: Request) -> Result<Response, StackError> {
        let mut rx = self.request(flow, request).await?;
        while let Some(ev) = rx.recv().await {
            match ev {
                ClientEvent::Response(r) if r.status >= 200 => return Ok(r),
                ClientEvent::Response(_) => {}
                ClientEvent::Timeout => return Err(StackError::Timeout),
                ClientEvent::TransportError => return Err(StackError::FlowFailed),
            }
        }
        Err(StackError::Timeout)
    }

    /// Answers the server transaction `key`.
    pub fn respond(&self, key: TransactionKey, response: Response) -> Result<(), StackError> {
        self.commands.send(Command::Respond { key, response }).map_err(|_| StackError::Stopped)
    }

    /// Sends a message outside any transaction (the ACK for a 2xx, §13.2.2.4).
    pub fn send_stateless(&self, flow: &Flow, message: &Message) -> Result<(), StackError> {
        Ok(self.transport.send(flow, message)?)
    }
}

/// Why a stack call failed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("the stack has stopped")]
    Stopped,
    #[error("transaction: {0}")]
    Transaction(#[from] TransactionError),
    #[error("transport: {0}")]
    Send(#[from] TransportError),
    #[error("no final response (timer B/F)")]
    Timeout,
    #[error("the flow failed")]
    FlowFailed,
}

struct Driver {
    layer: TransactionLayer,
    transport: Transport,
    /// Who waits for each client transaction's responses.
    clients: HashMap<TransactionKey, mpsc::UnboundedSender<ClientEvent>>,
    events: mpsc::Sender<StackEvent>,
}

impl Driver {
    async fn run(mut self, mut transport: mpsc::Receiver<TransportEvent>, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let deadline = self.layer.poll_timeout().map(Instant::from_std);
            tokio::select! {
                ev = transport.recv() => match ev {
                    Some(ev) => self.on_transport(ev).await,
                    None => return,
                },
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => return,
                },
                _ = sleep_until(deadline) => self.layer.handle_timeout(Instant::now().into_std()),
            }
            self.flush().await;
        }
    }

    async fn on_transport(&mut self, ev: TransportEvent) {
        match ev {
            TransportEvent::Message { flow, message } => {
                let now = Instant::now().into_std();
                self.layer.handle_message(now, flow, message);
                self.flush_events().await;
            }
            other => {
                let _ = self.events.send(StackEvent::Transport(other)).await;
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        let now = Instant::now().into_std();
        match cmd {
            Command::Request { flow, request, reply } => {
                let result = self.layer.send_request(now, flow, request).map(|key| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    self.clients.insert(key, tx);
                    rx
                });
                let _ = reply.send(result);
            }
            Command::Respond { key, response } => {
                if let Err(e) = self.layer.send_response(now, &key, response) {
                    warn!(%key, error = %e, "response not sent");
                }
            }
        }
    }

    async fn flush(&mut self) {
        while let Some(t) = self.layer.poll_transmit() {
            if let Err(e) = self.transport.send(&t.flow, &t.message) {
                debug!(flow = %t.flow, error = %e, "send failed");
                if let Some(key) = &t.key {
                    self.layer.handle_transport_error(Instant::now().into_std(), key);
                }
            }
        }
        self.flush_events().await;
    }

    async fn flush_events(&mut self) {
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                LayerEvent::Request { key, flow, request } => {
                    let _ = self.events.send(StackEvent::Request { key, flow, request }).await;
                }
                LayerEvent::Cancel { key, flow, request, invite } => {
                    let _ = self.events.send(StackEvent::Cancel { key, flow, request, invite }).await;
                }
                LayerEvent::Ack { flow, request, .. } => {
                    let _ = self.events.send(StackEvent::Ack { flow, request }).await;
                }
                LayerEvent::Response { key, response } => self.to_client(&key, ClientEvent::Response(response)),
                LayerEvent::Timeout { key, .. } => self.to_client(&key, ClientEvent::Timeout),
                LayerEvent::TransportError { key } => self.to_client(&key, ClientEvent::TransportError),
                LayerEvent::StrayResponse { .. } => {}
                LayerEvent::Terminated { key } => {
                    self.clients.remove(&key);
                }
            }
        }
    }

    fn to_client(&self, key: &TransactionKey, ev: ClientEvent) {
        if let Some(tx) = self.clients.get(key) {
            let _ = tx.send(ev);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
