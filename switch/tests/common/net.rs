//! Blocking clients: a TCP connection framed like an RFC 5626 client, a UDP
//! socket, and helpers to read responses.

use super::IO_TIMEOUT;
use super::Switch;
use bytes::{Bytes, BytesMut};
use sipcore::framing::{Frame, Framer, FramerConfig, Role};
use sipcore::{HeaderName, Message, Response};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// How a read ended without a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Timeout,
    /// EOF or reset: the switch closed the connection.
    Closed,
}

/// Where a REGISTER goes: a TCP connection or a UDP socket.
pub trait Link {
    /// `TCP` or `UDP`, for Via.
    fn via_transport(&self) -> &'static str;
    fn local(&self) -> SocketAddr;
    fn send(&mut self, bytes: &[u8]);
    /// The next response; fails the test after [`IO_TIMEOUT`].
    fn response(&mut self) -> Response;
}

/// A blocking TCP connection to the switch, framed like an RFC 5626 client
/// (every CRLF between messages is a pong).
pub struct Tcp {
    stream: TcpStream,
    buf: BytesMut,
    framer: Framer,
    local: SocketAddr,
    /// Pongs seen while waiting for responses.
    pub pongs: usize,
}

impl Tcp {
    pub fn connect(sw: &Switch) -> Self {
        Self::wrap(TcpStream::connect(sw.addr()).unwrap())
    }

    /// Connects from a chosen loopback source address (127.0.0.2, ...), so the
    /// switch sees a distinct peer IP.
    pub fn connect_from(src: Ipv4Addr, sw: &Switch) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
        let stream = rt.block_on(async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.bind(SocketAddr::from((src, 0)))?;
            sock.connect(sw.addr()).await?.into_std()
        });
        let stream = stream.unwrap();
        stream.set_nonblocking(false).unwrap();
        Self::wrap(stream)
    }

    /// A connection accepted from the switch (a home location's side).
    pub fn from_stream(stream: TcpStream) -> Self {
        Self::wrap(stream)
    }

    fn wrap(stream: TcpStream) -> Self {
        stream.set_nodelay(true).unwrap();
        let local = stream.local_addr().unwrap();
        Tcp { stream, buf: BytesMut::new(), framer: Framer::new(Role::Client, FramerConfig::default()), local, pongs: 0 }
    }

    /// Sends a keep-alive ping (CRLF CRLF).
    pub fn ping(&mut self) {
        self.send(b"\r\n\r\n");
    }

    /// The next frame (message or pong) within `within`.
    pub fn frame(&mut self, within: Duration) -> Result<Frame, End> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(f) = self.framer.decode(&mut self.buf).expect("the switch sent an unframeable stream") {
                return Ok(f);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(End::Timeout);
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(End::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Err(End::Timeout),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(End::Closed),
            }
        }
    }

    /// The next response within `within`, skipping (and counting) pongs.
    pub fn response_within(&mut self, within: Duration) -> Result<Response, End> {
        let deadline = Instant::now() + within;
        loop {
            match self.frame(deadline.saturating_duration_since(Instant::now()))? {
                Frame::Pong => self.pongs += 1,
                Frame::Ping => panic!("the switch pinged a client"),
                Frame::Message(bytes) => return Ok(parse_response(bytes)),
            }
        }
    }

    /// The next message within `within`, as text (for answers the parser
    /// would refuse, e.g. to a request with a broken CSeq), skipping pongs.
    pub fn raw_message(&mut self, within: Duration) -> Result<String, End> {
        let deadline = Instant::now() + within;
        loop {
            match self.frame(deadline.saturating_duration_since(Instant::now()))? {
                Frame::Pong => self.pongs += 1,
                Frame::Ping => panic!("the switch pinged a client"),
                Frame::Message(bytes) => return Ok(String::from_utf8_lossy(&bytes).into_owned()),
            }
        }
    }

    /// Waits for one pong; fails on anything else.
    #[track_caller]
    pub fn expect_pong(&mut self, within: Duration) {
        match self.frame(within) {
            Ok(Frame::Pong) => self.pongs += 1,
            other => panic!("expected a CRLF pong, got {other:?}"),
        }
    }

    /// True when the switch closes the connection within `within` (anything it
    /// sends meanwhile is skipped).
    pub fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            match self.frame(deadline.saturating_duration_since(Instant::now())) {
                Ok(_) => {}
                Err(End::Closed) => return true,
                Err(End::Timeout) => return false,
            }
        }
    }

    /// Half-closes our side (FIN), as a phone going away does.
    pub fn shutdown(&self) {
        self.stream.shutdown(std::net::Shutdown::Both).unwrap();
    }

    /// Writes, tolerating a peer that already closed (returns false then).
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }
}

impl Link for Tcp {
    fn via_transport(&self) -> &'static str {
        "TCP"
    }

    fn local(&self) -> SocketAddr {
        self.local
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    #[track_caller]
    fn response(&mut self) -> Response {
        match self.response_within(IO_TIMEOUT) {
            Ok(r) => r,
            Err(e) => panic!("no response on TCP {}: {e:?}", self.local),
        }
    }
}

/// A UDP socket talking to the switch.
pub struct Udp {
    sock: UdpSocket,
    server: SocketAddr,
}

impl Udp {
    pub fn bind(sw: &Switch) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        Udp { sock, server: sw.udp_addr() }
    }

    /// The socket itself, for datagrams that are not SIP (STUN on the same port).
    pub fn socket(&self) -> &UdpSocket {
        &self.sock
    }

    /// The switch's address this socket talks to.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The next datagram from the switch, as it came; fails the test after [`IO_TIMEOUT`].
    pub fn datagram(&self) -> Bytes {
        self.sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut buf = vec![0u8; 65_536];
        let (n, from) = self.sock.recv_from(&mut buf).expect("no UDP datagram from the switch");
        assert_eq!(from, self.server, "datagram from the switch's address");
        Bytes::copy_from_slice(&buf[..n])
    }
}

impl Link for Udp {
    fn via_transport(&self) -> &'static str {
        "UDP"
    }

    fn local(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.server).unwrap();
    }

    fn response(&mut self) -> Response {
        parse_response(self.datagram())
    }
}

#[track_caller]
pub fn parse_response(bytes: Bytes) -> Response {
    match sipcore::parse(bytes.clone()) {
        Ok(Message::Response(r)) => r,
        other => panic!("expected a response, got {other:?} from {:?}", String::from_utf8_lossy(&bytes)),
    }
}

/// The first value of header `name`.
pub fn header(r: &Response, name: &str) -> Option<String> {
    r.headers.get(&HeaderName::from(name)).map(|v| v.to_string())
}

/// Every value of header `name`.
pub fn headers(r: &Response, name: &str) -> Vec<String> {
    let n = HeaderName::from(name);
    r.headers.get_all(&n).map(|v| v.to_string()).collect()
}

/// `STATUS REASON`, for messages.
pub fn line(r: &Response) -> String {
    format!("{} {}", r.status, r.reason)
}
