//! The switch's end of an agent's flow, for loopback tests of calls: a TCP
//! listener the agent connects to, sipcore framing and parsing, scripted
//! requests and SDP naming a UDP socket that stands where the relay would.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use bytes::{Bytes, BytesMut};
use media::tone;
use sipcore::framing::{Frame, Framer, FramerConfig, Role};
use sipcore::{HeaderName, Message, Method, Request, Response};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// An agent for number 1001 whose switch is the test's `listener` (its public
/// IP fixed, so no probe comes before the REGISTER).
pub(crate) fn agent_for(listener: &TcpListener) -> agent::AgentBuilder {
    let addr = listener.local_addr().unwrap();
    agent::AgentBuilder::new(format!("tcp:127.0.0.1:{}", addr.port()).parse().unwrap(), "1001", "pw")
        .domain("switch.local")
        .mac("02:42:ac:11:00:02".parse().unwrap())
        .public_ip(agent::PublicIpSource::Static("127.0.0.1".parse().unwrap()))
}

/// The switch's end of the agent's flow.
pub(crate) struct SwitchSide {
    pub(crate) stream: TcpStream,
    pub(crate) framer: Framer,
    pub(crate) buf: BytesMut,
    pub(crate) port: u16,
}

impl SwitchSide {
    pub(crate) async fn accept(listener: &TcpListener) -> Self {
        let (stream, _) = tokio::time::timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        let port = listener.local_addr().unwrap().port();
        Self { stream, framer: Framer::new(Role::Server, FramerConfig::default()), buf: BytesMut::new(), port }
    }

    pub(crate) async fn recv(&mut self) -> Message {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.framer.decode(&mut self.buf).unwrap() {
                Some(Frame::Message(raw)) => return sipcore::parse(raw).unwrap(),
                Some(Frame::Ping) => self.stream.write_all(b"\r\n").await.unwrap(),
                Some(Frame::Pong) => {}
                None => {
                    let n =
                        tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await.expect("no message in time").unwrap();
                    assert!(n > 0, "the agent closed the flow");
                }
            }
        }
    }

    pub(crate) async fn request(&mut self) -> Request {
        match self.recv().await {
            Message::Request(r) => r,
            Message::Response(r) => panic!("expected a request, got {r}"),
        }
    }

    pub(crate) async fn response(&mut self) -> Response {
        match self.recv().await {
            Message::Response(r) => r,
            Message::Request(r) => panic!("expected a response, got {r}"),
        }
    }

    pub(crate) async fn send(&mut self, m: impl Into<Message>) {
        self.stream.write_all(&m.into().to_bytes()).await.unwrap();
    }

    /// REGISTER answered 200 (no challenge: the digest is sipcore's and tested there).
    pub(crate) async fn registered(listener: &TcpListener) -> (Self, String) {
        let mut sw = Self::accept(listener).await;
        let reg = sw.request().await;
        assert_eq!(reg.method, Method::Register);
        let contact = reg.headers.get(&HeaderName::Contact).unwrap().to_owned();
        let mut ok = Response::to_request(&reg, 200);
        ok.headers.push(HeaderName::Contact, format!("{contact};expires=600"));
        sw.send(ok).await;
        let uri = contact.trim_start_matches('<').split('>').next().unwrap().to_owned();
        (sw, uri)
    }

    pub(crate) fn sdp(relay: SocketAddr) -> String {
        Self::sdp_with(relay, "RTP/AVP", 1, "a=sendrecv\r\n")
    }

    /// An offer from the relay: `proto` (RTP/AVP or TCP/RTP/AVP), o= `version`, and `extra` attribute lines.
    pub(crate) fn sdp_with(relay: SocketAddr, proto: &str, version: u32, extra: &str) -> String {
        format!(
            "v=0\r\no=switch 1 {version} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} {proto} 0 101\r\n\
             a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n{extra}",
            ip = relay.ip(),
            port = relay.port()
        )
    }

    pub(crate) fn invite(&self, uri: &str, relay: SocketAddr) -> Request {
        self.invite_with(uri, Self::sdp(relay))
    }

    /// The switch's INVITE down the flow with this SDP offer.
    pub(crate) fn invite_with(&self, uri: &str, body: String) -> Request {
        let raw = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:{p};branch=z9hG4bKlb1\r\nMax-Forwards: 70\r\n\
             From: <sip:1002@switch.local>;tag=sw1\r\nTo: <sip:1001@switch.local>\r\nCall-ID: lb1@switch\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:switch@127.0.0.1:{p};transport=tcp>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len(),
            p = self.port
        );
        let Message::Request(r) = sipcore::parse(Bytes::from(raw)).unwrap() else { unreachable!() };
        r
    }

    /// A re-INVITE in the dialog of `invite`, with a new SDP offer.
    pub(crate) fn reinvite(&self, cseq: u32, to_tag: &str, branch: &str, body: String) -> Request {
        let mut r = self.in_dialog("INVITE", cseq, to_tag, branch);
        r.headers.push(HeaderName::Contact, format!("<sip:switch@127.0.0.1:{};transport=tcp>", self.port));
        r.headers.push(HeaderName::ContentType, "application/sdp");
        r.headers.set(HeaderName::ContentLength, body.len().to_string());
        r.body = Bytes::from(body);
        r
    }

    pub(crate) fn in_dialog(&self, method: &str, cseq: u32, to_tag: &str, branch: &str) -> Request {
        let raw = format!(
            "{method} sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:{p};branch={branch}\r\nMax-Forwards: 70\r\n\
             From: <sip:1002@switch.local>;tag=sw1\r\nTo: <sip:1001@switch.local>;tag={to_tag}\r\nCall-ID: lb1@switch\r\n\
             CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
            p = self.port
        );
        let Message::Request(r) = sipcore::parse(Bytes::from(raw)).unwrap() else { unreachable!() };
        r
    }
}

/// One 20 ms PCMU packet of a 440 Hz tone, as the far end would send through the relay.
pub(crate) fn rtp_440(seq: u16) -> Vec<u8> {
    let mut samples = [0i16; 160];
    tone::sine(440.0, 8000, u64::from(seq) * 160, &mut samples);
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend(samples.iter().map(|s| media::g711::ulaw_encode(*s)));
    p
}
