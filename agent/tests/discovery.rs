//! Public-IP discovery over real sockets on loopback: a tiny STUN server
//! (answering with a mapped address of its choosing, after ignoring the
//! first request to force a retransmission) and a tiny HTTP server playing a
//! firewall's status page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use agent::discovery::{self, StunTiming, stun};
use agent::{Error, PublicIpSource};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// Answers Binding requests with `mapped`; drops the first `drop_first`
/// requests and sends a stray datagram with a wrong transaction id first.
async fn stun_server(mapped: SocketAddr, drop_first: usize) -> (SocketAddr, tokio::task::JoinHandle<usize>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        let mut seen = 0;
        loop {
            let Ok(Ok((n, from))) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf)).await else { return seen };
            let Some(txid) = stun::parse_binding_request(&buf[..n]) else { continue };
            seen += 1;
            if seen <= drop_first {
                continue;
            }
            let stray = stun::binding_success(&[9; 12], "6.6.6.6:6".parse().unwrap());
            sock.send_to(&stray, from).await.unwrap();
            sock.send_to(b"garbage", from).await.unwrap();
            sock.send_to(&stun::binding_success(&txid, mapped), from).await.unwrap();
        }
    });
    (addr, task)
}

#[tokio::test]
async fn stun_binding_against_a_loopback_server_with_a_lost_request() {
    let mapped: SocketAddr = "203.0.113.5:40123".parse().unwrap();
    let (server, task) = stun_server(mapped, 1).await;
    let timing = StunTiming { rto: Duration::from_millis(100), attempts: 4, last_wait: 4 };
    let got = discovery::stun_query(server, Some("127.0.0.1".parse().unwrap()), timing, [7; 12]).await.unwrap();
    assert_eq!(got, mapped, "the stray answer and the garbage were skipped");
    // And through the configured source, as the driver runs it.
    let source: PublicIpSource = format!("stun:127.0.0.1:{}", server.port()).parse().unwrap();
    let ip = discovery::discover(&source, None, [8; 12]).await.unwrap();
    assert_eq!(ip, mapped.ip());
    task.abort();
}

#[tokio::test]
async fn stun_gives_up_when_nobody_answers() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let timing = StunTiming { rto: Duration::from_millis(50), attempts: 3, last_wait: 2 };
    let started = std::time::Instant::now();
    let err = discovery::stun_query(silent.local_addr().unwrap(), None, timing, [1; 12]).await.unwrap_err();
    assert!(matches!(err, Error::Discovery(ref m) if m.contains("no answer")), "{err}");
    // 50 + 100 + 2*50 ms: bounded, with the doubling RTO.
    assert!(started.elapsed() < Duration::from_secs(2));
    let mut buf = [0u8; 64];
    let mut requests = 0;
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(50), silent.recv_from(&mut buf)).await {
        requests += 1;
    }
    assert_eq!(requests, 3, "one request per attempt");
}

/// Serves `response` once per connection, after reading the request head;
/// returns the request heads after `conns` connections.
async fn http_server(response: impl Into<String>, conns: usize) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    let response: String = response.into();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut requests = Vec::new();
        while requests.len() < conns
            && let Ok(Ok((mut s, _))) = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await
        {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            requests.push(String::from_utf8_lossy(&head).into_owned());
            s.write_all(response.as_bytes()).await.unwrap();
            s.shutdown().await.unwrap();
        }
        requests
    });
    (port, task)
}

/// A status page sent in two chunks, split inside the LAN address.
fn status_page() -> String {
    let (a, b) = ("<tr><td>LAN</td><td>192.1", "68.1.1</td></tr><tr><td>WAN IP</td><td>198.51.100.42</td></tr>");
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};x=y\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    )
}

#[tokio::test]
async fn http_status_page_with_and_without_a_pattern() {
    let (port, task) = http_server(status_page(), 2).await;
    let plain: PublicIpSource = format!("http:http://admin:pw@127.0.0.1:{port}/status.html").parse().unwrap();
    assert_eq!(discovery::discover(&plain, None, [0; 12]).await.unwrap(), "198.51.100.42".parse::<std::net::IpAddr>().unwrap());
    let lan: PublicIpSource = format!(r"http:http://127.0.0.1:{port}/status.html LAN</td><td>([0-9.]+)").parse().unwrap();
    assert_eq!(
        discovery::discover(&lan, None, [0; 12]).await.unwrap(),
        "192.168.1.1".parse::<std::net::IpAddr>().unwrap(),
        "the pattern picks the field even across chunks"
    );
    task.abort();
    // What the firewall was asked.
    let (port, task) = http_server("HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nip=203.0.113.1", 1).await;
    let src: PublicIpSource = format!("http:http://admin:pw@127.0.0.1:{port}/wan").parse().unwrap();
    assert_eq!(discovery::discover(&src, None, [0; 12]).await.unwrap(), "203.0.113.1".parse::<std::net::IpAddr>().unwrap());
    let requests = tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap();
    assert!(requests[0].starts_with("GET /wan HTTP/1.1\r\n"), "{}", requests[0]);
    assert!(requests[0].contains(&format!("Host: 127.0.0.1:{port}\r\n")));
    assert!(requests[0].contains("Authorization: Basic YWRtaW46cHc=\r\n"), "basic auth for admin:pw");
}

#[tokio::test]
async fn http_failures_are_errors_not_addresses() {
    let (port, _task) = http_server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 1).await;
    let src: PublicIpSource = format!("http:http://127.0.0.1:{port}/").parse().unwrap();
    let err = discovery::discover(&src, None, [0; 12]).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    let (port, _task) = http_server("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nno ip here", 1).await;
    let src: PublicIpSource = format!("http:http://127.0.0.1:{port}/").parse().unwrap();
    let err = discovery::discover(&src, None, [0; 12]).await.unwrap_err();
    assert!(err.to_string().contains("no address"), "{err}");
}
