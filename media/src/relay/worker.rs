//! The relay threads: the UDP half of the relay runs on threads of its own
//! (named `relay`), never on the tokio workers that serve signalling, so a
//! REGISTER storm does not queue RTP behind it and RTP does not slow SIP.
//! Each thread owns an epoll (mio) over its calls' UDP sockets and drains
//! readable ones with [`udp::drain`]; the driver hands calls over and takes them
//! back through a channel and a waker. TCP legs and the media timeout stay tokio
//! tasks: they are rare or slow (one timer per call), not per packet.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use super::batch::Batch;
use super::call::Call;
use super::leg::Channel;
use super::udp::{self, Drained, Plan};
use super::{MediaId, Side};

/// The token of the thread's waker (calls use `slot * 4 + socket`).
const WAKE: Token = Token(usize::MAX);

/// Readiness events taken per wait.
const EVENTS: usize = 256;

/// What the driver asks of a relay thread.
enum Command {
    /// Start relaying this call's UDP sockets.
    Add(Arc<Call>),
    /// Stop, and drop the thread's hold on the call (its sockets close when the last goes).
    Remove(MediaId),
}

/// The relay threads, stopped and joined on drop.
pub(super) struct Workers {
    threads: Vec<Worker>,
}

struct Worker {
    commands: Option<Sender<Command>>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` threads (at least one).
    pub(super) fn start(count: usize) -> std::io::Result<Workers> {
        let mut threads = Vec::new();
        for _ in 0..count.max(1) {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
            let (commands, receiver) = mpsc::channel();
            let thread = std::thread::Builder::new().name("relay".into()).spawn(move || run(poll, receiver))?;
            threads.push(Worker { commands: Some(commands), waker, thread: Some(thread) });
        }
        Ok(Workers { threads })
    }

    /// Hands `call` to its thread (calls spread by id).
    pub(super) fn add(&self, call: Arc<Call>) {
        let id = call.id;
        self.send(id, Command::Add(call));
    }

    /// Takes `id` back from its thread.
    pub(super) fn remove(&self, id: MediaId) {
        self.send(id, Command::Remove(id));
    }

    fn send(&self, id: MediaId, command: Command) {
        let len = self.threads.len().max(1);
        let index = usize::try_from(id.0 % len as u64).unwrap_or_default();
        let Some(worker) = self.threads.get(index) else { return };
        if worker.commands.as_ref().is_some_and(|c| c.send(command).is_ok())
            && let Err(error) = worker.waker.wake()
        {
            tracing::warn!(%error, "relay thread not woken");
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // A closed channel is the thread's signal to stop.
        for worker in &mut self.threads {
            worker.commands = None;
            let _ = worker.waker.wake();
        }
        for worker in &mut self.threads {
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// The four UDP sockets of a call, by their place in its token.
const SOCKETS: [(Side, Channel); 4] =
    [(Side::Caller, Channel::Rtp), (Side::Caller, Channel::Rtcp), (Side::Callee, Channel::Rtp), (Side::Callee, Channel::Rtcp)];

/// One thread's calls: slots reused, so a token is `slot * 4 + socket` and a
/// readable socket finds its call without a hash look-up per event.
struct Table {
    slots: Vec<Option<Arc<Call>>>,
    free: Vec<usize>,
    by_id: HashMap<MediaId, usize>,
}

impl Table {
    fn add(&mut self, poll: &Poll, call: Arc<Call>) {
        let slot = self.free.pop().unwrap_or(self.slots.len());
        for (socket, &(side, channel)) in SOCKETS.iter().enumerate() {
            let fd = call.io(side).udp(channel).as_raw_fd();
            if let Err(error) = poll.registry().register(&mut SourceFd(&fd), Token(slot * 4 + socket), Interest::READABLE) {
                tracing::warn!(call = call.label, ?side, ?channel, %error, "relay socket not watched");
            }
        }
        self.by_id.insert(call.id, slot);
        match self.slots.get_mut(slot) {
            Some(place) => *place = Some(call),
            None => self.slots.push(Some(call)),
        }
    }

    fn remove(&mut self, poll: &Poll, id: MediaId) {
        let Some(slot) = self.by_id.remove(&id) else { return };
        let Some(call) = self.slots.get_mut(slot).and_then(Option::take) else { return };
        for &(side, channel) in &SOCKETS {
            let fd = call.io(side).udp(channel).as_raw_fd();
            let _ = poll.registry().deregister(&mut SourceFd(&fd));
        }
        self.free.push(slot);
    }

    fn socket(&self, token: Token) -> Option<(&Call, Side, Channel)> {
        let call = self.slots.get(token.0 / 4)?.as_deref()?;
        let &(side, channel) = SOCKETS.get(token.0 % 4)?;
        Some((call, side, channel))
    }
}

fn run(mut poll: Poll, commands: Receiver<Command>) {
    let mut events = Events::with_capacity(EVENTS);
    let mut table = Table { slots: Vec::new(), free: Vec::new(), by_id: HashMap::new() };
    let (mut batch, mut plan) = (Batch::new(), Plan::new());
    // Sockets left with datagrams after their turn (see `udp::ROUNDS`), and the next such list.
    let (mut ready, mut again) = (Vec::<Token>::new(), Vec::<Token>::new());
    loop {
        let wait = if ready.is_empty() { None } else { Some(Duration::ZERO) };
        if let Err(error) = poll.poll(&mut events, wait) {
            if error.kind() != std::io::ErrorKind::Interrupted {
                tracing::warn!(%error, "relay poll");
            }
            continue;
        }
        for event in &events {
            if event.token() == WAKE {
                if !take_commands(&poll, &commands, &mut table) {
                    return;
                }
            } else {
                ready.push(event.token());
            }
        }
        for token in ready.drain(..) {
            let Some((call, side, channel)) = table.socket(token) else { continue };
            if udp::drain(call, side, channel, &mut batch, &mut plan) == Drained::More && !again.contains(&token) {
                again.push(token);
            }
        }
        std::mem::swap(&mut ready, &mut again);
    }
}

/// Carries out what the driver sent; false once the driver is gone (stop).
fn take_commands(poll: &Poll, commands: &Receiver<Command>, table: &mut Table) -> bool {
    loop {
        match commands.try_recv() {
            Ok(Command::Add(call)) => table.add(poll, call),
            Ok(Command::Remove(id)) => table.remove(poll, id),
            Err(TryRecvError::Empty) => return true,
            Err(TryRecvError::Disconnected) => return false,
        }
    }
}
