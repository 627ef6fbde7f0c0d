//! What an idle connection costs. Its task's future is most of it (tokio
//! keeps the future in the task's allocation for as long as the flow is
//! open), so its size is pinned here: a wait that keeps a whole event or a
//! channel permit in it again fails this.

use super::io::Io;
use super::sockets::{Conn, Inner, Origin};
use super::stream;
use std::sync::Arc;
use tokio::net::TcpStream;

/// The size of the future `run` returns for a stream of type `S`.
fn task_future_size<S, F, Fut>(_: F) -> usize
where
    S: Io,
    F: Fn(Arc<Inner>, S, Arc<Conn>, Origin) -> Fut,
{
    std::mem::size_of::<Fut>()
}

#[test]
fn a_tcp_connection_task_stays_small() {
    let size = task_future_size::<TcpStream, _, _>(stream::run::<TcpStream>);
    // Measured in a debug build (tests), which lays futures out less tightly
    // than release: 544 bytes now; 776 before drain's future was boxed, 2,088
    // before emit's wait was boxed, 1,008 before the waits left their waiters
    // in the socket and the send queue.
    assert!(size <= 600, "a TCP connection's task future is {size} bytes");
}
