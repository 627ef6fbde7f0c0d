//! The transport's tap: every SIP message in and out, with its flow, as the
//! bytes on the wire (a received request before its Via is stamped), and
//! nothing that is not a SIP message (keep-alives).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use bytes::Bytes;
use sipcore::transport::{Direction, Flow, Tap, Transport, TransportConfig, TransportEvent};
use sipcore::{Message, Response};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP 10.1.0.2:5060;branch=z9hG4bK-tap-1;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:1001@example.com>;tag=a1\r\n\
To: <sip:1001@example.com>\r\n\
Call-ID: tap-1@10.1.0.2\r\n\
CSeq: 1 REGISTER\r\n\
Content-Length: 0\r\n\r\n";

/// What the tap saw, in order.
#[derive(Default)]
struct Seen(Mutex<Vec<(Direction, Flow, Bytes)>>);

impl Tap for Seen {
    fn message(&self, direction: Direction, flow: &Flow, _message: &Message, bytes: &Bytes) {
        self.0.lock().unwrap().push((direction, *flow, bytes.clone()));
    }
}

#[tokio::test]
async fn the_tap_sees_each_message_in_and_out_as_it_was_on_the_wire() {
    let seen = Arc::new(Seen::default());
    let (server, mut events) = Transport::with_tap(TransportConfig::default(), seen.clone());
    let addr = server.listen_tcp("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    // A keep-alive ping first: not a SIP message, not shown.
    client.write_all(b"\r\n\r\n").await.unwrap();
    client.write_all(REGISTER.as_bytes()).await.unwrap();
    let (flow, request) = loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap();
        if let TransportEvent::Message { flow, message: Message::Request(r) } = event {
            break (flow, r);
        }
    };
    assert!(request.headers.top_via().unwrap().received().is_some(), "the application gets the stamped request");
    let ok: Message = Response::to_request(&request, 200).into();
    server.send(&flow, &ok).unwrap();

    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "the REGISTER and the 200, nothing else");
    assert_eq!(seen[0], (Direction::In, flow, Bytes::from_static(REGISTER.as_bytes())), "as sent, before the stamp");
    assert_eq!(seen[1], (Direction::Out, flow, ok.to_bytes()));
    server.shutdown().await;
}
