//! A request through real client and server transactions over real loopback
//! sockets, for each of UDP, TCP and TLS: a `TransactionLayer` pumped over a
//! `Transport` on both sides, the way every core's driver does it. Also checks
//! on the wire that retransmissions happen over UDP only (RFC 3261 §17.1.1.2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use bytes::Bytes;
use sipcore::transaction::{LayerEvent, TimerConfig, TransactionLayer};
use sipcore::transport::{Flow, Transport, TransportConfig, TransportEvent, TransportKind, tls};
use sipcore::{Message, Request, Response};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One element: its transaction layer, driven over its transport.
struct Element {
    layer: TransactionLayer,
    transport: Transport,
    events: mpsc::Receiver<TransportEvent>,
}

impl Element {
    fn new() -> Self {
        let (transport, events) = Transport::new(TransportConfig::default());
        Element { layer: TransactionLayer::new(TimerConfig::default()), transport, events }
    }

    /// Puts what the layer queued on the wire.
    fn flush(&mut self) {
        while let Some(t) = self.layer.poll_transmit() {
            if self.transport.send(&t.flow, &t.message).is_err()
                && let Some(key) = &t.key
            {
                self.layer.handle_transport_error(Instant::now(), key);
            }
        }
    }

    /// Drives the layer (messages in, timers, messages out) until it has an
    /// event for the TU, or until `until`.
    async fn next_event(&mut self, until: tokio::time::Instant) -> Option<LayerEvent> {
        loop {
            self.flush();
            if let Some(event) = self.layer.poll_event() {
                return Some(event);
            }
            let timer = self.layer.poll_timeout().map_or(until, |t| until.min(t.into()));
            tokio::select! {
                event = self.events.recv() => {
                    if let Some(TransportEvent::Message { flow, message }) = event {
                        self.layer.handle_message(Instant::now(), flow, message);
                    }
                }
                _ = tokio::time::sleep_until(timer) => {
                    if tokio::time::Instant::now() >= until {
                        return None;
                    }
                    self.layer.handle_timeout(Instant::now());
                }
            }
        }
    }
}

fn register(transport: TransportKind, branch: &str) -> Request {
    let raw = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/{t} 10.1.0.2:5060;branch=z9hG4bK{branch};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:1001@example.com>;tag=a1\r\nTo: <sip:1001@example.com>\r\nCall-ID: {branch}@10.1.0.2\r\nCSeq: 1 REGISTER\r\n\
         Contact: <sip:1001@10.1.0.2:5060;ob>\r\nContent-Length: 0\r\n\r\n",
        t = transport.via_token()
    );
    match sipcore::parse(Bytes::from(raw)).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Runs one REGISTER through both stacks over `kind`; the server answers 200.
async fn round_trip(kind: TransportKind) {
    let (mut server, mut client) = (Element::new(), Element::new());
    let (server_ep, client_ep) = (server.transport.clone(), client.transport.clone());
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let flow: Flow = match kind {
        TransportKind::Udp => {
            let s = server_ep.bind_udp(any()).await.unwrap();
            let c = client_ep.bind_udp(any()).await.unwrap();
            client_ep.udp_flow(&c, s.local)
        }
        TransportKind::Tcp => {
            let addr = server_ep.listen_tcp(any()).await.unwrap();
            client_ep.connect_tcp(addr).await.unwrap()
        }
        TransportKind::Tls => {
            let cfg = tls::server_config_from_pem(cert.cert.pem().as_bytes(), cert.key_pair.serialize_pem().as_bytes()).unwrap();
            let addr = server_ep.listen_tls(any(), cfg).await.unwrap();
            let ccfg = tls::client_config_from_pem(cert.cert.pem().as_bytes()).unwrap();
            client_ep.connect_tls(addr, ccfg, "localhost").await.unwrap()
        }
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    let uas = tokio::spawn(async move {
        match server.next_event(until).await {
            Some(LayerEvent::Request { key, flow, request }) => {
                assert_eq!(flow.transport, kind);
                let via = request.headers.top_via().unwrap();
                assert_eq!(via.received(), Some("127.0.0.1".parse().unwrap()));
                let mut ok = Response::to_request(&request, 200);
                ok.headers.push(sipcore::HeaderName::Expires, "600");
                server.layer.send_response(Instant::now(), &key, ok).unwrap();
                server.flush();
                request
            }
            other => panic!("unexpected {other:?}"),
        }
    });
    let key = client.layer.send_request(Instant::now(), flow, register(kind, "lb1")).unwrap();
    let resp = loop {
        match client.next_event(until).await {
            Some(LayerEvent::Response { key: k, response }) if k == key && response.status >= 200 => break response,
            Some(LayerEvent::Response { .. } | LayerEvent::Terminated { .. }) => {}
            other => panic!("no final response over {kind}: {other:?}"),
        }
    };
    assert_eq!(resp.status, 200, "{kind}");
    assert_eq!(resp.headers.expires().unwrap(), Some(600));
    assert_eq!(resp.headers.top_via().unwrap().rport(), Some(Some(flow.local.port())), "rport stamped by the server, echoed back");
    let seen = uas.await.unwrap();
    assert_eq!(seen.headers.call_id().unwrap(), "lb1@10.1.0.2");
    server_ep.shutdown().await;
    client_ep.shutdown().await;
}

#[tokio::test]
async fn request_through_transactions_over_udp() {
    round_trip(TransportKind::Udp).await;
}

#[tokio::test]
async fn request_through_transactions_over_tcp() {
    round_trip(TransportKind::Tcp).await;
}

#[tokio::test]
async fn request_through_transactions_over_tls() {
    round_trip(TransportKind::Tls).await;
}

/// Counts the REGISTERs a silent peer receives in 2.5 s (T1 = 500 ms: sends at 0, 0.5 s, 1.5 s; the next would be at 3.5 s).
async fn count_sends(kind: TransportKind) -> usize {
    let mut client = Element::new();
    let client_ep = client.transport.clone();
    let mut buf = vec![0u8; 65536];
    let mut count = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2500);
    // The client's layer runs (timers, retransmissions) while the peer counts.
    let drive = |mut client: Element| async move { while client.next_event(deadline).await.is_some() {} };
    match kind {
        TransportKind::Udp => {
            let peer = tokio::net::UdpSocket::bind(any()).await.unwrap();
            let c = client_ep.bind_udp(any()).await.unwrap();
            let flow = client_ep.udp_flow(&c, peer.local_addr().unwrap());
            client.layer.send_request(Instant::now(), flow, register(kind, "rt1")).unwrap();
            let driving = tokio::spawn(drive(client));
            while let Ok(Ok((n, _))) = tokio::time::timeout_at(deadline, peer.recv_from(&mut buf)).await {
                count += usize::from(buf[..n].starts_with(b"REGISTER "));
            }
            driving.await.unwrap();
        }
        _ => {
            let listener = tokio::net::TcpListener::bind(any()).await.unwrap();
            let flow = client_ep.connect_tcp(listener.local_addr().unwrap()).await.unwrap();
            let (mut sock, _) = listener.accept().await.unwrap();
            client.layer.send_request(Instant::now(), flow, register(kind, "rt2")).unwrap();
            let driving = tokio::spawn(drive(client));
            let mut all = Vec::new();
            while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tokio::io::AsyncReadExt::read(&mut sock, &mut buf)).await {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&buf[..n]);
            }
            driving.await.unwrap();
            count = String::from_utf8_lossy(&all).matches("REGISTER sip:").count();
        }
    }
    client_ep.shutdown().await;
    count
}

#[tokio::test]
async fn retransmits_over_udp_only() {
    // Timer E: sends at 0, 0.5 s and 1.5 s.
    assert_eq!(count_sends(TransportKind::Udp).await, 3);
    assert_eq!(count_sends(TransportKind::Tcp).await, 1);
}
