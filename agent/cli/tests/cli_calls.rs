//! `agent call` (the real binary) against the scripted switch side of
//! `support::switch_side` on 127.0.0.1: what it prints, the WAV it records,
//! and what its exit status says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

// The agent library's test support: the real switch, and the switch's end of a flow.
#[path = "../../tests/support/mod.rs"]
mod support;

use bytes::Bytes;
use sipcore::{HeaderName, Method, Response};
use std::process::Stdio;
use std::process::{Child, Command, Output};
use std::time::Duration;
use support::switch_side::{SwitchSide, rtp_440};
use tokio::net::{TcpListener, UdpSocket};

/// The agent binary; `--timeout 10` bounds its life even if the test fails.
fn agent_call(port: u16, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["call", "1002", "--switch", &format!("tcp:127.0.0.1:{port}"), "--number", "1001", "--domain", "switch.local"])
        .args(["--public-ip", "static:127.0.0.1", "--mac", "02:42:ac:11:00:02"])
        .args(["--timeout", "10"])
        .args(extra)
        .env("AGENT_PASSWORD", "pw")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The switch's answer to the agent's INVITE: `status` with our tag (and, for
/// a 200, a Contact and SDP naming `relay`).
fn answer(invite: &sipcore::Request, status: u16, sw_port: u16, relay: std::net::SocketAddr) -> Response {
    let mut r = Response::to_request(invite, status);
    let to = r.headers.get(&HeaderName::To).unwrap().to_owned();
    r.headers.set(HeaderName::To, format!("{to};tag=swC"));
    if status == 200 {
        r.headers.push(HeaderName::Contact, format!("<sip:switch@127.0.0.1:{sw_port};transport=tcp>"));
        let body = SwitchSide::sdp(relay);
        r.headers.push(HeaderName::ContentType, "application/sdp");
        r.headers.set(HeaderName::ContentLength, body.len().to_string());
        r.body = Bytes::from(body);
    }
    r
}

async fn output(child: Child) -> Output {
    let waited = tokio::task::spawn_blocking(move || child.wait_with_output());
    tokio::time::timeout(Duration::from_secs(20), waited).await.expect("the agent did not exit").unwrap().unwrap()
}

/// Answers the unregistration that ends every run.
async fn unregister(sw: &mut SwitchSide) {
    let reg = sw.request().await;
    assert_eq!(reg.method, Method::Register);
    assert_eq!(reg.headers.get(&HeaderName::Expires), Some("0"));
    sw.send(Response::to_request(&reg, 200)).await;
}

#[tokio::test]
async fn call_plays_records_hangs_up_after_the_duration_and_finds_the_far_tone() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("r.wav");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = agent_call(port, &["--tone", "1000", "--record", wav.to_str().unwrap(), "--duration", "1"]);
    let (mut sw, _) = SwitchSide::registered(&listener).await;
    let invite = sw.request().await;
    assert_eq!(invite.method, Method::Invite);
    sw.send(answer(&invite, 200, port, relay_addr)).await;
    assert_eq!(sw.request().await.method, Method::Ack);
    // The far end: a 440 Hz tone back to wherever the agent's RTP comes from.
    let far = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        let mut seq = 0u16;
        while let Ok(Ok((_, from))) = tokio::time::timeout(Duration::from_secs(2), relay.recv_from(&mut buf)).await {
            relay.send_to(&rtp_440(seq), from).await.unwrap();
            seq = seq.wrapping_add(1);
        }
        seq
    });
    let bye = sw.request().await;
    assert_eq!(bye.method, Method::Bye, "hung up after --duration");
    sw.send(Response::to_request(&bye, 200)).await;
    unregister(&mut sw).await;
    let out = output(child).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(far.await.unwrap() >= 25, "about a second of RTP reached the relay");
    assert!(stdout.contains("call state=answered id=1"), "{stdout}");
    assert!(stdout.contains("media state=started id=1"), "{stdout}");
    let ended = stdout.lines().find(|l| l.starts_with("call ended")).unwrap();
    assert!(ended.contains("by=local reason=hangup"), "{ended}");
    let received: u64 = ended.split("received=").nth(1).unwrap().parse().unwrap();
    assert!(received >= 20, "{ended}");
    assert!(stdout.contains("tone hz=440 "), "{stdout}");
    let recorded = media::wav::read_wav(&wav).unwrap();
    assert_eq!(media::tone::dominant(&recorded, &[440.0, 1000.0], media::tone::RATE), Some(440.0));
}

#[tokio::test]
async fn busy_is_exit_7_with_the_status_printed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = agent_call(port, &["--duration", "1"]);
    let (mut sw, _) = SwitchSide::registered(&listener).await;
    let invite = sw.request().await;
    sw.send(answer(&invite, 486, port, "127.0.0.1:9".parse().unwrap())).await;
    assert_eq!(sw.request().await.method, Method::Ack, "the 486 is ACKed");
    unregister(&mut sw).await;
    let out = output(child).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{stdout}");
    assert!(stdout.contains("call ended id=1 by=remote reason=rejected status=486"), "{stdout}");
}
