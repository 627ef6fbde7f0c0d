//! Transport drivers over real loopback sockets: Via stamping, answers over the
//! request's flow, keep-alives, limits, the header timeout, the per-IP cap, shutdown, and that one
//! bad peer never disturbs another flow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use bytes::Bytes;
use sipcore::framing::FramerConfig;
use sipcore::transport::{CloseReason, Flow, Transport, TransportConfig, TransportError, TransportEvent, TransportKind, tls};
use sipcore::{Message, Response};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;

const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP 10.1.0.2:5060;branch=z9hG4bK-reg-1;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:1001@example.com>;tag=a1\r\n\
To: <sip:1001@example.com>\r\n\
Call-ID: reg-1@10.1.0.2\r\n\
CSeq: 1 REGISTER\r\n\
Contact: <sip:1001@10.1.0.2:5060;transport=tcp;ob>;+sip.instance=\"<urn:uuid:1>\";reg-id=1\r\n\
Content-Length: 0\r\n\r\n";

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn next(rx: &mut Receiver<TransportEvent>) -> TransportEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("event in time").expect("queue open")
}

/// Waits for the next parsed message, skipping Opened/Ping/Pong.
async fn next_message(rx: &mut Receiver<TransportEvent>) -> (Flow, Message) {
    loop {
        if let TransportEvent::Message { flow, message } = next(rx).await {
            return (flow, message);
        }
    }
}

async fn next_closed(rx: &mut Receiver<TransportEvent>) -> (Flow, CloseReason) {
    loop {
        if let TransportEvent::Closed { flow, reason } = next(rx).await {
            return (flow, reason);
        }
    }
}

/// A TLS server config serving `cert`.
fn serves(cert: &rcgen::CertifiedKey) -> std::sync::Arc<rustls::ServerConfig> {
    tls::server_config_from_pem(cert.cert.pem().as_bytes(), cert.key_pair.serialize_pem().as_bytes()).unwrap()
}

fn request(raw: &str) -> Message {
    sipcore::parse(Bytes::copy_from_slice(raw.as_bytes())).unwrap()
}

/// Server answers 200 to whatever request arrives, over the flow it came on.
async fn answer_one(server: &Transport, rx: &mut Receiver<TransportEvent>) -> Message {
    let (flow, msg) = next_message(rx).await;
    let Message::Request(req) = &msg else { panic!("expected a request") };
    server.send(&flow, &Response::to_request(req, 200).into()).unwrap();
    msg
}

fn assert_stamped(msg: &Message, client_port: u16) {
    let via = msg.headers().top_via().unwrap();
    assert_eq!(via.received(), Some("127.0.0.1".parse().unwrap()), "received stamped (RFC 3581)");
    assert_eq!(via.rport(), Some(Some(client_port)), "rport filled with the source port");
}

#[tokio::test]
async fn tcp_request_stamped_and_answered_over_its_flow() {
    let (server, mut srx) = Transport::new(TransportConfig::default());
    let addr = server.listen_tcp(any()).await.unwrap();
    let (client, mut crx) = Transport::new(TransportConfig::default());
    let flow = client.connect_tcp(addr).await.unwrap();
    client.send(&flow, &request(REGISTER)).unwrap();
    let got = answer_one(&server, &mut srx).await;
    assert_stamped(&got, flow.local.port());
    let (rflow, resp) = next_message(&mut crx).await;
    assert_eq!(rflow.id, flow.id, "response arrives on the client's own flow");
    let Message::Response(resp) = resp else { panic!() };
    assert_eq!(resp.status, 200);
    assert_eq!(resp.headers.top_via().unwrap().received(), Some("127.0.0.1".parse().unwrap()));
    server.shutdown().await;
    client.shutdown().await;
}

/// A read that leaves the socket empty tells tokio so (no second, empty
/// `recv` per message): whatever comes after it must still wake the flow,
/// whether it is the rest of a message, the next message alone, or two at once.
#[tokio::test]
async fn every_piece_after_a_draining_read_is_read() {
    let (server, mut srx) = Transport::new(TransportConfig::default());
    let addr = server.listen_tcp(any()).await.unwrap();
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let (head, tail) = REGISTER.split_at(REGISTER.len() / 2);
    let two = format!("{REGISTER}{REGISTER}");
    let writes: [&str; 4] = [head, tail, REGISTER, &two];
    for piece in writes {
        sock.write_all(piece.as_bytes()).await.unwrap();
        // Let the flow read each piece alone (and find the socket empty after it).
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for n in 1..=4 {
        let (_, msg) = next_message(&mut srx).await;
        assert!(matches!(msg, Message::Request(_)), "message {n} arrived whole");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn udp_request_stamped_and_answered_to_source() {
    let (server, mut srx) = Transport::new(TransportConfig::default());
    let sflow = server.bind_udp(any()).await.unwrap();
    let (client, mut crx) = Transport::new(TransportConfig::default());
    let csock = client.bind_udp(any()).await.unwrap();
    let to_server = client.udp_flow(&csock, sflow.local);
    client.send(&to_server, &request(&REGISTER.replace("TCP", "UDP"))).unwrap();
    let got = answer_one(&server, &mut srx).await;
    assert_stamped(&got, csock.local.port());
    let (_, resp) = next_message(&mut crx).await;
    assert!(matches!(resp, Message::Response(r) if r.status == 200));
    server.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn tls_request_stamped_and_answered() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let server_cfg = serves(&cert);
    let client_cfg = tls::client_config_from_pem(cert.cert.pem().as_bytes()).unwrap();
    let (server, mut srx) = Transport::new(TransportConfig::default());
    let addr = server.listen_tls(any(), server_cfg).await.unwrap();
    let (client, mut crx) = Transport::new(TransportConfig::default());
    let flow = client.connect_tls(addr, client_cfg, "localhost").await.unwrap();
    assert_eq!(flow.transport, TransportKind::Tls);
    client.send(&flow, &request(&REGISTER.replace("TCP", "TLS"))).unwrap();
    let got = answer_one(&server, &mut srx).await;
    assert_stamped(&got, flow.local.port());
    let (_, resp) = next_message(&mut crx).await;
    assert!(matches!(resp, Message::Response(r) if r.status == 200));
    server.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn tls_rejects_an_untrusted_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let server_cfg = serves(&cert);
    let client_cfg = tls::client_config_from_pem(other.cert.pem().as_bytes()).unwrap();
    let (server, _srx) = Transport::new(TransportConfig::default());
    let addr = server.listen_tls(any(), server_cfg).await.unwrap();
    let (client, _crx) = Transport::new(TransportConfig::default());
    let err = client.connect_tls(addr, client_cfg, "localhost").await.unwrap_err();
    assert!(matches!(err, TransportError::Tls(rustls::Error::InvalidCertificate(_))), "{err:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_pinned_client_accepts_exactly_the_pinned_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let server_cfg = serves(&cert);
    let pin = tls::fingerprint_of_pem(cert.cert.pem().as_bytes()).unwrap();
    assert_eq!(pin, tls::Fingerprint::of(cert.cert.der()));
    let wrong = tls::fingerprint_of_pem(other.cert.pem().as_bytes()).unwrap();
    let (server, mut srx) = Transport::new(TransportConfig::default());
    let addr = server.listen_tls(any(), server_cfg).await.unwrap();
    let (client, mut crx) = Transport::new(TransportConfig::default());

    // Self-signed, and under another name than the certificate's: the pin is what counts.
    let flow = client.connect_tls(addr, tls::client_config_pinned(pin, None).unwrap(), "switch.example").await.unwrap();
    client.send(&flow, &request(&REGISTER.replace("TCP", "TLS"))).unwrap();
    answer_one(&server, &mut srx).await;
    assert!(matches!(next_message(&mut crx).await.1, Message::Response(r) if r.status == 200));

    // Any other certificate is refused, and the error says which it was.
    let err = client.connect_tls(addr, tls::client_config_pinned(wrong, None).unwrap(), "localhost").await.unwrap_err();
    let TransportError::NotPinned(why) = &err else { panic!("{err:?}") };
    assert_eq!((why.pinned, why.presented), (wrong, pin));
    let text = err.to_string();
    assert!(text.contains(&pin.to_string()) && text.contains(&wrong.to_string()) && text.contains("pinned"), "{text}");

    // Pinned and a CA: both must hold.
    let ca = cert.cert.pem();
    client.connect_tls(addr, tls::client_config_pinned(pin, Some(ca.as_bytes())).unwrap(), "localhost").await.unwrap();
    let other_ca = other.cert.pem();
    let err = client.connect_tls(addr, tls::client_config_pinned(pin, Some(other_ca.as_bytes())).unwrap(), "localhost").await.unwrap_err();
    assert!(matches!(err, TransportError::Tls(rustls::Error::InvalidCertificate(_))), "{err:?}");
    let err = client.connect_tls(addr, tls::client_config_pinned(pin, Some(ca.as_bytes())).unwrap(), "switch.example").await.unwrap_err();
    assert!(matches!(err, TransportError::Tls(rustls::Error::InvalidCertificate(_))), "the CA checks the name: {err:?}");
    server.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn keepalive_ping_gets_pong_both_ways() {
    let (server, mut srx) = Transport::new(TransportConfig::default());
    let addr = server.listen_tcp(any()).await.unwrap();
    let (client, mut crx) = Transport::new(TransportConfig::default());
    let flow = client.connect_tcp(addr).await.unwrap();
    client.send_bytes(&flow, Bytes::from_static(b"\r\n\r\n")).unwrap();
    loop {
        if let TransportEvent::Ping { .. } = next(&mut srx).await {
            break;
        }
    }
    loop {
        if let TransportEvent::Pong { flow: f } = next(&mut crx).await {
            assert_eq!(f.id, flow.id);
            break;
        }
    }
    server.shutdown().await;
    client.shutdown().await;
}

/// Reads from a raw socket until the peer closes it (bounded by a timeout).
async fn read_to_close(sock: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut out)).await.expect("peer closes").ok();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn oversize_message_gets_413_and_only_that_flow_closes() {
    let config = TransportConfig { framer: FramerConfig { max_header_bytes: 1024, max_message_bytes: 2048 }, ..TransportConfig::default() };
    let (server, mut srx) = Transport::new(config);
    let addr = server.listen_tcp(any()).await.unwrap();
    let (client, mut crx) = Transport::new(TransportConfig::default());
    let good = client.connect_tcp(addr).await.unwrap();

    let mut bad = TcpStream::connect(addr).await.unwrap();
    let big = REGISTER.replace("Content-Length: 0", "Content-Length: 4000");
    bad.write_all(big.as_bytes()).await.unwrap();
    let reply = read_to_close(&mut bad).await;
    assert!(reply.starts_with("SIP/2.0 413 "), "got {reply:?}");
    assert!(reply.contains("Call-ID: reg-1@10.1.0.2"));
    let (_, reason) = next_closed(&mut srx).await;
    assert!(matches!(reason, CloseReason::Framing(_)));

    // The other flow still works.
    client.send(&good, &request(REGISTER)).unwrap();
    answer_one(&server, &mut srx).await;
    let (_, resp) = next_message(&mut crx).await;
    assert!(matches!(resp, Message::Response(r) if r.status == 200));
    server.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn garbage_stream_is_closed_without_a_reply() {
    let (server, mut srx) = Transport::new(TransportConfig::default());
    let addr = server.listen_tcp(any()).await.unwrap();
    let mut bad = TcpStream::connect(addr).await.unwrap();
    bad.write_all(b"HELLO\r\nno colon here\r\n\r\n").await.unwrap();
    let reply = read_to_close(&mut bad).await;
    assert_eq!(reply, "", "nothing to match a reply to");
    let (_, reason) = next_closed(&mut srx).await;
    assert!(matches!(reason, CloseReason::Framing(_)), "{reason:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_but_framed_request_gets_400_and_flow_survives() {
    let (server, mut srx) = Transport::new(TransportConfig::default());
    let addr = server.listen_tcp(any()).await.unwrap();
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let broken = REGISTER.replace("Max-Forwards: 70", "Max-Forwards: seventy");
    sock.write_all(broken.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await.unwrap().unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(reply.starts_with("SIP/2.0 400 Bad Request (bad Max-Forwards"), "got {reply:?}");
    // Still framed: the next message on the same connection is delivered.
    sock.write_all(REGISTER.as_bytes()).await.unwrap();
    let (_, msg) = next_message(&mut srx).await;
    assert!(matches!(msg, Message::Request(_)));
    server.shutdown().await;
}

#[tokio::test]
async fn per_ip_connection_cap() {
    let config = TransportConfig { max_connections_per_ip: 2, ..TransportConfig::default() };
    let (server, mut srx) = Transport::new(config);
    let addr = server.listen_tcp(any()).await.unwrap();
    let a = TcpStream::connect(addr).await.unwrap();
    let b = TcpStream::connect(addr).await.unwrap();
    for _ in 0..2 {
        loop {
            if let TransportEvent::Opened { .. } = next(&mut srx).await {
                break;
            }
        }
    }
    let mut c = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_to_close(&mut c).await, "", "third connection from one IP is dropped");
    assert_eq!(server.connection_count(), 2);
    // Freeing a slot lets a new connection in.
    drop(a);
    next_closed(&mut srx).await;
    let _d = TcpStream::connect(addr).await.unwrap();
    loop {
        if let TransportEvent::Opened { .. } = next(&mut srx).await {
            break;
        }
    }
    assert_eq!(server.connection_count(), 2);
    drop(b);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_flushes_queued_messages_and_closes() {
    let (server, mut srx) = Transport::new(TransportConfig::default());
    let addr = server.listen_tcp(any()).await.unwrap();
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(REGISTER.as_bytes()).await.unwrap();
    let (flow, msg) = next_message(&mut srx).await;
    let Message::Request(req) = msg else { panic!() };
    server.send(&flow, &Response::to_request(&req, 200).into()).unwrap();
    server.shutdown().await;
    let reply = read_to_close(&mut sock).await;
    assert!(reply.starts_with("SIP/2.0 200 OK"), "queued reply written before close: {reply:?}");
    assert!(server.listen_tcp(any()).await.is_err(), "no new listeners after shutdown");
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn silent_and_slow_connections_are_closed_after_the_header_timeout_tcp_and_tls() {
    let timeout = Duration::from_millis(400);
    let config = TransportConfig { header_timeout: timeout, ..TransportConfig::default() };
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let tls_cfg = serves(&cert);
    let (server, mut srx) = Transport::new(config);
    let tcp = server.listen_tcp(any()).await.unwrap();
    let tls = server.listen_tls(any(), tls_cfg).await.unwrap();
    // A TCP connection that sends nothing, one that sends half a header, and a
    // TLS connection that never starts its handshake.
    let started = std::time::Instant::now();
    let mut silent = TcpStream::connect(tcp).await.unwrap();
    let mut slow = TcpStream::connect(tcp).await.unwrap();
    slow.write_all(&REGISTER.as_bytes()[..40]).await.unwrap();
    let mut no_handshake = TcpStream::connect(tls).await.unwrap();
    for sock in [&mut silent, &mut slow, &mut no_handshake] {
        assert_eq!(read_to_close(sock).await, "");
        assert!(started.elapsed() >= timeout, "closed after {:?}", started.elapsed());
    }
    for _ in 0..2 {
        let (_, reason) = next_closed(&mut srx).await;
        assert_eq!(reason, CloseReason::HeaderTimeout);
    }
    assert_eq!(server.connection_count(), 0);
    server.shutdown().await;
}
