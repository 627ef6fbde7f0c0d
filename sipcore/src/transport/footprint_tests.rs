//! What an idle connection costs. Its task's future is most of it (tokio
//! keeps the future in the task's allocation for as long as the flow is
//! open), so its size is pinned here: a wait that keeps a whole event or a
//! channel permit in it again (the future was 2,088 bytes in a debug build
//! before `Inner::emit` boxed its rare wait) fails this.

use super::io::Io;
use super::queue::SendQueue;
use super::sockets::{Inner, Origin};
use super::{Flow, stream};
use std::sync::Arc;
use tokio::net::TcpStream;

/// The size of the future `run` returns for a stream of type `S`.
fn task_future_size<S, F, Fut>(_: F) -> usize
where
    S: Io,
    F: Fn(Arc<Inner>, S, Flow, Arc<SendQueue>, Origin) -> Fut,
{
    std::mem::size_of::<Fut>()
}

#[test]
fn a_tcp_connection_task_stays_small() {
    let size = task_future_size::<TcpStream, _, _>(stream::run::<TcpStream>);
    // Debug builds lay futures out less tightly than release (1,000 then).
    assert!(size <= 1200, "a TCP connection's task future is {size} bytes");
}
