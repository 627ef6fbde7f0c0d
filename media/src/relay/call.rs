//! One call's sockets, state and tasks, shared by those tasks.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use std::net::UdpSocket;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::lease::{ClosingMark, PairLease};
use super::leg::{CallState, Channel};
use super::tcp::TcpOut;
use super::{LegPorts, MediaId, Side};

/// One call's sockets and state, shared by its tasks.
pub(super) struct Call {
    pub(super) id: MediaId,
    pub(super) label: String,
    pub(super) state: Mutex<CallState>,
    pub(super) caller: LegIo,
    pub(super) callee: LegIo,
    /// Wakes the media-timeout task when the call is armed.
    pub(super) timer: Notify,
    pub(super) tasks: Mutex<Tasks>,
    // Dropped after the sockets above (fields drop in order): the ports go back
    // to the pool only once they are really closed.
    pub(super) _leases: [PairLease; 2],
    pub(super) closing: ClosingMark,
}

#[derive(Default)]
pub(super) struct Tasks {
    closed: bool,
    handles: Vec<AbortHandle>,
}

/// One leg's sockets. The UDP ones are non-blocking std sockets: the relay thread
/// reads them (epoll), and a TCP task may send on them without waiting.
pub(super) struct LegIo {
    pub(super) ports: LegPorts,
    pub(super) rtp: UdpSocket,
    pub(super) rtcp: UdpSocket,
    pub(super) listener: TcpListener,
    /// Whether a TCP bearer connection is being served.
    pub(super) connected: AtomicBool,
    pub(super) tcp_out: TcpOut,
}

impl LegIo {
    pub(super) fn udp(&self, channel: Channel) -> &UdpSocket {
        match channel {
            Channel::Rtp => &self.rtp,
            Channel::Rtcp => &self.rtcp,
        }
    }
}

impl Call {
    pub(super) fn io(&self, side: Side) -> &LegIo {
        match side {
            Side::Caller => &self.caller,
            Side::Callee => &self.callee,
        }
    }

    /// The state, for one decision. A panic elsewhere cannot leave it half-written
    /// in a way that matters more than losing the call, so poisoning is ignored.
    pub(super) fn state(&self) -> MutexGuard<'_, CallState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `task` as part of this call: aborted by `close`.
    pub(super) fn spawn(self: &Arc<Self>, task: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task).abort_handle();
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        if tasks.closed {
            handle.abort();
        } else {
            tasks.handles.retain(|h| !h.is_finished());
            tasks.handles.push(handle);
        }
    }

    pub(super) fn shutdown(&self) {
        self.closing.mark();
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.closed = true;
        for handle in tasks.handles.drain(..) {
            handle.abort();
        }
    }
}
