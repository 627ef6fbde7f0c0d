//! STUN on the SIP UDP port and on a STUN-only socket, over real loopback
//! sockets: Binding requests answered with the sender's address, anything
//! else that starts like STUN dropped without reaching the SIP parser, and
//! SIP on the same port carrying on between them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sipcore::stun::{self, TransactionId};
use sipcore::transport::{Transport, TransportConfig, TransportEvent};
use sipcore::{Message, Method};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const OPTIONS: &str = "OPTIONS sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-opt-1;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:1001@example.com>;tag=a1\r\n\
To: <sip:example.com>\r\n\
Call-ID: opt-1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

const WAIT: Duration = Duration::from_secs(5);

/// Sends a Binding request and returns the address the answer maps, with the answer's length.
async fn ask(client: &UdpSocket, server: SocketAddr, request: &[u8], txid: &TransactionId) -> (SocketAddr, usize) {
    client.send_to(request, server).await.unwrap();
    let mut buf = [0u8; 1500];
    let (n, from) = timeout(WAIT, client.recv_from(&mut buf)).await.expect("no STUN answer").unwrap();
    assert_eq!(from, server, "answered from the port asked");
    (stun::parse_binding_response(&buf[..n], txid).unwrap_or_else(|e| panic!("answer to {txid:?}: {e}: {:?}", &buf[..n])), n)
}

/// Datagrams that start like STUN but are no Binding request it can answer.
fn hostile(txid: &TransactionId) -> Vec<Vec<u8>> {
    let request = stun::binding_request(txid);
    let mut indication = request.clone();
    indication[1] = 0x11;
    let mut unknown_required = request.clone();
    unknown_required[3] = 8;
    unknown_required.extend_from_slice(&[0x7f, 0x00, 0, 4, 1, 2, 3, 4]);
    vec![
        request[..12].to_vec(), // truncated
        vec![0x00, 0x01, 0x00, 0x00, b'g', b'a', b'r', b'b', b'a', b'g', b'e'],
        vec![0x03; 300],
        vec![0; 4],
        indication,
        unknown_required,
    ]
}

async fn next_message(rx: &mut Receiver<TransportEvent>) -> Message {
    match timeout(WAIT, rx.recv()).await.expect("no transport event").expect("transport gone") {
        TransportEvent::Message { message, .. } => message,
        other => panic!("unexpected event {other:?}"),
    }
}

#[tokio::test]
async fn sip_udp_port_answers_binding_requests_and_still_carries_sip() {
    let (server, mut events) = Transport::new(TransportConfig::default());
    let port = server.bind_udp("127.0.0.1:0".parse().unwrap()).await.unwrap().local;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();

    assert_eq!(ask(&client, port, &stun::binding_request(&[1; 12]), &[1; 12]).await.0, me);
    client.send_to(OPTIONS.as_bytes(), port).await.unwrap();
    let Message::Request(req) = next_message(&mut events).await else { panic!("not a request") };
    assert_eq!(req.method, Method::Options, "SIP between STUN requests");

    for garbage in hostile(&[2; 12]) {
        client.send_to(&garbage, port).await.unwrap();
    }
    // Loopback keeps order: had any of them been answered, that answer would come first.
    assert_eq!(ask(&client, port, &stun::binding_request(&[3; 12]), &[3; 12]).await.0, me);
    client.send_to(OPTIONS.replace("opt-1", "opt-2").as_bytes(), port).await.unwrap();
    let Message::Request(req) = next_message(&mut events).await else { panic!("not a request") };
    assert_eq!(req.headers.call_id().unwrap(), "opt-2@127.0.0.1", "the garbage reached the application before it: {req:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn stun_listener_answers_binding_requests_only() {
    let (server, mut events) = Transport::new(TransportConfig::default());
    let port = server.bind_stun("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();
    let mut signed = stun::binding_request(&[4; 12]);
    signed[3] = 8;
    let crc = stun::crc32(&signed) ^ stun::FINGERPRINT_XOR;
    signed.extend_from_slice(&[0x80, 0x28, 0, 4]);
    signed.extend_from_slice(&crc.to_be_bytes());
    let (mapped, n) = ask(&client, port, &signed, &[4; 12]).await;
    assert_eq!((mapped, n), (me, stun::HEADER_LEN + 12 + 8), "with FINGERPRINT, as asked");

    client.send_to(OPTIONS.as_bytes(), port).await.unwrap();
    for garbage in hostile(&[5; 12]) {
        client.send_to(&garbage, port).await.unwrap();
    }
    let (mapped, n) = ask(&client, port, &stun::binding_request(&[6; 12]), &[6; 12]).await;
    assert_eq!((mapped, n), (me, stun::HEADER_LEN + 12), "no FINGERPRINT unasked, nothing for what came before");
    assert!(events.try_recv().is_err(), "SIP on a STUN listener reached the application");
    server.shutdown().await;
}

#[tokio::test]
async fn an_ipv6_requester_learns_its_ipv6_address() {
    let (server, _events) = Transport::new(TransportConfig::default());
    let Ok(flow) = server.bind_udp("[::1]:0".parse().unwrap()).await else {
        panic!("this test needs IPv6 loopback (::1)");
    };
    let client = UdpSocket::bind("[::1]:0").await.unwrap();
    let (mapped, n) = ask(&client, flow.local, &stun::binding_request(&[7; 12]), &[7; 12]).await;
    assert_eq!(mapped, client.local_addr().unwrap());
    assert_eq!(n, stun::HEADER_LEN + stun::MAX_GROWTH, "the largest growth: a 20-byte request, an IPv6 address");
    server.shutdown().await;
}
