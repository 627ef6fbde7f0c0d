//! The byte streams a flow runs on, split into halves. TCP reads wait for
//! readiness before taking a buffer, so an idle connection holds no read
//! buffer at all: with thousands of parked phones that is most of a flow's memory.

use bytes::BytesMut;
use std::future::Future;
use std::io;
use std::io::Read as _;
use std::net::SocketAddr;
use std::task::Poll;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, Interest, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Bytes reserved per TLS read; a typical SIP message fits, a larger one takes more reads.
pub(super) const READ_CHUNK: usize = 4096;

/// The read half of a flow.
pub(super) trait ReadSome: Send + 'static {
    /// Waits for bytes and appends them to `buf`; 0 means the peer closed.
    fn read_some(&mut self, buf: &mut BytesMut) -> impl Future<Output = io::Result<usize>> + Send;
}

/// A byte stream that knows its addresses and splits into halves.
pub(super) trait Io: Send + 'static {
    type Read: ReadSome;
    type Write: AsyncWrite + Send + Unpin + 'static;
    fn addrs(&self) -> io::Result<(SocketAddr, SocketAddr)>;
    fn split(self) -> (Self::Read, Self::Write);
}

thread_local! {
    /// Where TCP reads land first: one per runtime thread, not per connection.
    static SCRATCH: std::cell::RefCell<Box<[u8]>> = std::cell::RefCell::new(vec![0; SCRATCH_BYTES].into_boxed_slice());
}

/// A whole maximum-size message fits in one read.
const SCRATCH_BYTES: usize = 64 * 1024;

impl ReadSome for OwnedReadHalf {
    /// Reads into the thread's scratch buffer and copies out just the bytes
    /// that came: a connection's buffer is the size of what it received, and a
    /// parsed message (which keeps slices of it) pins no spare capacity.
    ///
    /// Polled by hand, not through `readable().await`: the socket's own
    /// registration keeps the waker, so the connection task's future (which
    /// every parked phone keeps allocated) holds two pointers here, not a
    /// readiness waiter.
    ///
    /// A read shorter than the scratch buffer emptied the socket, so its
    /// readiness is cleared then and there: otherwise the next call's first
    /// `recv` would only learn that from `EAGAIN`, one wasted syscall per
    /// message. Clearing is race-free: tokio clears only if no readiness
    /// event came since it was sampled, before the `recv`, and bytes that
    /// arrive after the `recv` raise a new (edge-triggered) event.
    fn read_some(&mut self, buf: &mut BytesMut) -> impl Future<Output = io::Result<usize>> + Send {
        std::future::poll_fn(move |cx| {
            loop {
                let stream: &TcpStream = (*self).as_ref();
                std::task::ready!(stream.poll_read_ready(cx))?;
                let mut got = None;
                let read = SCRATCH.with_borrow_mut(|scratch| {
                    stream.try_io(Interest::READABLE, || {
                        let sock = socket2::SockRef::from(stream);
                        let n = (&*sock).read(scratch)?;
                        buf.extend_from_slice(scratch.get(..n).unwrap_or_default());
                        got = Some(n);
                        match n {
                            // End of stream, or a full buffer: more may follow at once.
                            0 => Ok(n),
                            n if n == scratch.len() => Ok(n),
                            // Drained: report "would block" so tokio clears readiness.
                            _ => Err(io::ErrorKind::WouldBlock.into()),
                        }
                    })
                });
                match (read, got) {
                    (_, Some(n)) => return Poll::Ready(Ok(n)),
                    // Readiness was stale and is now cleared: the next poll registers the waker.
                    (Err(e), None) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => continue,
                    (Err(e), None) => return Poll::Ready(Err(e)),
                    (Ok(n), None) => return Poll::Ready(Ok(n)),
                }
            }
        })
    }
}

impl Io for TcpStream {
    type Read = OwnedReadHalf;
    type Write = OwnedWriteHalf;

    fn addrs(&self) -> io::Result<(SocketAddr, SocketAddr)> {
        Ok((self.local_addr()?, self.peer_addr()?))
    }

    fn split(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

/// TLS keeps its own buffers; reads go through rustls (or any `AsyncRead`:
/// the tests run a flow over an in-memory pipe).
pub(super) struct TlsRead<S>(pub(super) ReadHalf<S>);

impl<S: AsyncRead + Send + 'static> ReadSome for TlsRead<S> {
    async fn read_some(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        buf.reserve(READ_CHUNK);
        self.0.read_buf(buf).await
    }
}

macro_rules! tls_io {
    ($t:ty) => {
        impl Io for $t {
            type Read = TlsRead<$t>;
            type Write = WriteHalf<$t>;

            fn addrs(&self) -> io::Result<(SocketAddr, SocketAddr)> {
                self.get_ref().0.addrs()
            }

            fn split(self) -> (Self::Read, Self::Write) {
                let (r, w) = tokio::io::split(self);
                (TlsRead(r), w)
            }
        }
    };
}

tls_io!(tokio_rustls::server::TlsStream<TcpStream>);
tls_io!(tokio_rustls::client::TlsStream<TcpStream>);
