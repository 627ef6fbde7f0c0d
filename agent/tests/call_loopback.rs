//! The agent's calls over real sockets on 127.0.0.1: the test is the switch
//! side (a TCP listener the agent connects to, sipcore framing and parsing,
//! a UDP socket standing where the relay's port would be). It checks what the
//! agent puts on the wire (SDP c=/m=, dialog requests) and that RTP from the
//! bearer port reaches the address the SDP named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use agent::{CallEvent, EndReason, Event, Events, MediaEvent, MediaOptions, Party, Source};
use bytes::Bytes;
use media::tone;
use sipcore::{HeaderName, Method, Response};
use std::net::SocketAddr;
use std::time::Duration;
use support::switch_side::{SwitchSide, WAIT, agent_for, rtp_440};
use tokio::net::{TcpListener, UdpSocket};

async fn next(events: &mut Events, want: impl Fn(&Event) -> bool) -> Event {
    support::next_event(events, WAIT, want).await
}

#[tokio::test]
async fn incoming_call_answered_sends_rtp_to_the_relay_then_bye_ends_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    let (handle, mut events) = agent_for(&listener).start().unwrap();
    let (mut sw, contact) = SwitchSide::registered(&listener).await;

    let invite = sw.invite(&contact, relay_addr);
    sw.send(invite.clone()).await;
    let trying = sw.response().await;
    let ringing = sw.response().await;
    assert_eq!((trying.status, ringing.status), (100, 180));
    let Event::Call(CallEvent::Incoming { id, from, .. }) =
        next(&mut events, |e| matches!(e, Event::Call(CallEvent::Incoming { .. }))).await
    else {
        unreachable!()
    };
    assert_eq!(from, "sip:1002@switch.local");

    handle.answer_with(id, MediaOptions { source: Source::Tone(1000.0), record: true }).await.unwrap();
    let ok = sw.response().await;
    assert_eq!(ok.status, 200);
    let tag = ok.headers.to_addr().unwrap().tag().unwrap().to_owned();
    let answer = media::offer::negotiated(std::str::from_utf8(&ok.body).unwrap(), None).unwrap();
    assert_eq!(answer.remote.ip(), "127.0.0.1".parse::<std::net::IpAddr>().unwrap(), "c= is the agent's private (flow) IP");
    let req = sw.in_dialog("ACK", 1, &tag, "z9hG4bKlbA");
    sw.send(req).await;

    // The first RTP packet comes from the bearer port named in m=, to the relay.
    let mut buf = [0u8; 2048];
    let (n, from) = tokio::time::timeout(WAIT, relay.recv_from(&mut buf)).await.expect("no RTP at the relay").unwrap();
    assert_eq!(from, answer.remote, "RTP leaves from the c=/m= address (symmetric RTP)");
    assert!(n >= 12 && buf[0] >> 6 == 2, "an RTP packet");
    assert_eq!(buf[1] & 0x7f, 0, "PCMU as negotiated");
    let Event::Media(MediaEvent::Started { remote, .. }) =
        next(&mut events, |e| matches!(e, Event::Media(MediaEvent::Started { .. }))).await
    else {
        unreachable!()
    };
    assert_eq!(remote, relay_addr);

    // The far end talks (440 Hz) through the relay for half a second.
    for seq in 0..25u16 {
        relay.send_to(&rtp_440(seq), from).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What the agent sends is its 1000 Hz tone.
    let mut got = Vec::new();
    while got.len() < 1600 {
        let (n, _) = tokio::time::timeout(WAIT, relay.recv_from(&mut buf)).await.unwrap().unwrap();
        if n > 12 && buf[1] & 0x7f == 0 {
            got.extend(buf[12..n].iter().map(|b| media::g711::ulaw_decode(*b)));
        }
    }
    assert_eq!(tone::dominant(&got, &[440.0, 1000.0], tone::RATE), Some(1000.0));

    let req = sw.in_dialog("BYE", 2, &tag, "z9hG4bKlbB");
    sw.send(req).await;
    let bye_ok = sw.response().await;
    assert_eq!((bye_ok.status, bye_ok.headers.cseq().unwrap().method), (200, Method::Bye));
    let Event::Media(MediaEvent::Stopped { report, .. }) =
        next(&mut events, |e| matches!(e, Event::Media(MediaEvent::Stopped { .. }))).await
    else {
        unreachable!()
    };
    assert!(report.sent_packets >= 10, "{report:?}");
    assert!(report.received_packets >= 20, "{report:?}");
    assert_eq!(tone::dominant(&report.recorded, &[440.0, 1000.0], tone::RATE), Some(440.0));
    let ended = next(&mut events, |e| matches!(e, Event::Call(CallEvent::Ended { .. }))).await;
    assert_eq!(ended, Event::Call(CallEvent::Ended { id, by: Party::Remote, reason: EndReason::Hangup, status: None }));
    drop(handle);
}

#[tokio::test]
async fn outgoing_call_offers_the_bearer_and_hangs_up_with_bye() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    let bearer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (handle, mut events) = agent_for(&listener).bearer_port(bearer).start().unwrap();
    let (mut sw, _) = SwitchSide::registered(&listener).await;
    next(&mut events, |e| matches!(e, Event::Registered(_))).await;

    let id = handle.call("1002").await.unwrap();
    let invite = sw.request().await;
    assert_eq!((invite.method.clone(), invite.uri.as_ref()), (Method::Invite, "sip:1002@switch.local"));
    let offer = media::offer::negotiated(std::str::from_utf8(&invite.body).unwrap(), None).unwrap();
    assert_eq!(offer.remote, SocketAddr::new("127.0.0.1".parse().unwrap(), bearer), "c= private IP, m= the --bearer-port");
    let mut ringing = Response::to_request(&invite, 180);
    let to = ringing.headers.get(&HeaderName::To).unwrap().to_owned();
    ringing.headers.set(HeaderName::To, format!("{to};tag=swB"));
    sw.send(ringing.clone()).await;
    next(&mut events, |e| matches!(e, Event::Call(CallEvent::Ringing { status: 180, .. }))).await;

    let mut ok = ringing;
    ok.status = 200;
    ok.reason = "OK".into();
    ok.headers.push(HeaderName::Contact, format!("<sip:switch@127.0.0.1:{};transport=tcp>", sw.port));
    let body = SwitchSide::sdp(relay_addr);
    ok.headers.push(HeaderName::ContentType, "application/sdp");
    ok.headers.set(HeaderName::ContentLength, body.len().to_string());
    ok.body = Bytes::from(body);
    sw.send(ok).await;
    let ack = sw.request().await;
    assert_eq!((ack.method.clone(), ack.uri.as_ref()), (Method::Ack, format!("sip:switch@127.0.0.1:{};transport=tcp", sw.port).as_str()));
    let mut buf = [0u8; 2048];
    let (_, from) = tokio::time::timeout(WAIT, relay.recv_from(&mut buf)).await.expect("no RTP at the relay").unwrap();
    assert_eq!(from, offer.remote, "RTP from the bearer port of the offer");
    next(&mut events, |e| matches!(e, Event::Call(CallEvent::Answered { .. }))).await;

    handle.hangup(id).await.unwrap();
    let bye = sw.request().await;
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.headers.to_addr().unwrap().tag(), Some("swB"));
    sw.send(Response::to_request(&bye, 200)).await;
    let ended = next(&mut events, |e| matches!(e, Event::Call(CallEvent::Ended { .. }))).await;
    assert_eq!(ended, Event::Call(CallEvent::Ended { id, by: Party::Local, reason: EndReason::Hangup, status: None }));
    drop(handle);
}

/// Answered call, ACKed; returns the switch side, the To tag and the agent's RTP address.
async fn answered_call(
    listener: &TcpListener,
    handle: &agent::AgentHandle,
    events: &mut Events,
    offer: String,
) -> (SwitchSide, String, SocketAddr) {
    let (mut sw, contact) = SwitchSide::registered(listener).await;
    let invite = sw.invite_with(&contact, offer);
    sw.send(invite).await;
    assert_eq!(sw.response().await.status, 100);
    assert_eq!(sw.response().await.status, 180);
    let Event::Call(CallEvent::Incoming { id, .. }) = next(events, |e| matches!(e, Event::Call(CallEvent::Incoming { .. }))).await else {
        unreachable!()
    };
    handle.answer(id).await.unwrap();
    let ok = sw.response().await;
    assert_eq!(ok.status, 200);
    let tag = ok.headers.to_addr().unwrap().tag().unwrap().to_owned();
    let ours = media::offer::negotiated(std::str::from_utf8(&ok.body).unwrap(), None).unwrap().remote;
    let ack = sw.in_dialog("ACK", 1, &tag, "z9hG4bKlbA");
    sw.send(ack).await;
    (sw, tag, ours)
}

#[tokio::test]
async fn reinvite_holds_then_moves_the_stream_to_a_new_relay_port() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (relay1, relay2) = (UdpSocket::bind("127.0.0.1:0").await.unwrap(), UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let (handle, mut events) = agent_for(&listener).start().unwrap();
    let offer = SwitchSide::sdp(relay1.local_addr().unwrap());
    let (mut sw, tag, ours) = answered_call(&listener, &handle, &mut events, offer).await;
    let mut buf = [0u8; 2048];
    let (_, from) = tokio::time::timeout(WAIT, relay1.recv_from(&mut buf)).await.unwrap().unwrap();
    assert_eq!(from, ours);

    // Hold: the switch's side goes sendonly; the agent answers recvonly.
    let hold = SwitchSide::sdp_with(relay1.local_addr().unwrap(), "RTP/AVP", 2, "a=sendonly\r\n");
    let req = sw.reinvite(2, &tag, "z9hG4bKre1", hold);
    sw.send(req).await;
    let ok = loop {
        let r = sw.response().await;
        if r.status >= 200 {
            break r;
        }
    };
    assert_eq!(ok.status, 200);
    let body = std::str::from_utf8(&ok.body).unwrap();
    assert!(body.contains("a=recvonly"), "hold mirrored: {body}");
    assert!(body.contains(" 2 IN IP4 "), "o= version moved on: {body}");
    // The stream is retargeted with the switch's direction: it holds us.
    next(&mut events, |e| matches!(e, Event::Media(MediaEvent::Started { direction: media::Direction::SendOnly, .. }))).await;
    let ack = sw.in_dialog("ACK", 2, &tag, "z9hG4bKreA1");
    sw.send(ack).await;

    // Resume on a new relay port: the stream moves there.
    let resume = SwitchSide::sdp_with(relay2.local_addr().unwrap(), "RTP/AVP", 3, "a=sendrecv\r\n");
    let req = sw.reinvite(3, &tag, "z9hG4bKre2", resume);
    sw.send(req).await;
    let ok = loop {
        let r = sw.response().await;
        if r.status >= 200 {
            break r;
        }
    };
    assert!(std::str::from_utf8(&ok.body).unwrap().contains("a=sendrecv"));
    let ack = sw.in_dialog("ACK", 3, &tag, "z9hG4bKreA2");
    sw.send(ack).await;
    let (_, from) = tokio::time::timeout(WAIT, relay2.recv_from(&mut buf)).await.expect("no RTP at the new relay port").unwrap();
    assert_eq!(from, ours, "same bearer port, new target");
    drop(handle);
}

#[tokio::test]
async fn tcp_bearer_connects_out_from_the_bearer_port_with_rfc4571_framing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bearer = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (handle, mut events) = agent_for(&listener).bearer_port(bearer).bearer_transport(agent::BearerTransport::Tcp).start().unwrap();
    let offer =
        SwitchSide::sdp_with(relay.local_addr().unwrap(), "TCP/RTP/AVP", 1, "a=setup:passive\r\na=connection:new\r\na=sendrecv\r\n");
    let (_sw, _, ours) = answered_call(&listener, &handle, &mut events, offer).await;
    assert_eq!(ours.port(), bearer);
    let (mut conn, from) = tokio::time::timeout(WAIT, relay.accept()).await.expect("the agent did not connect").unwrap();
    assert_eq!(from, SocketAddr::new("127.0.0.1".parse().unwrap(), bearer), "connected from the bearer port");
    use tokio::io::AsyncReadExt;
    let len = tokio::time::timeout(WAIT, conn.read_u16()).await.unwrap().unwrap();
    let mut packet = vec![0u8; usize::from(len)];
    conn.read_exact(&mut packet).await.unwrap();
    assert!(len >= 12 && packet[0] >> 6 == 2, "an RFC 4571 frame holding RTP");
    let Event::Media(MediaEvent::Started { transport, .. }) =
        next(&mut events, |e| matches!(e, Event::Media(MediaEvent::Started { .. }))).await
    else {
        unreachable!()
    };
    assert_eq!(transport, agent::BearerTransport::Tcp);
    drop(handle);
}

#[tokio::test]
async fn a_taken_bearer_port_falls_back_to_an_ephemeral_one() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (handle, mut events) = agent_for(&listener).bearer_port(port).start().unwrap();
    let offer = SwitchSide::sdp(relay.local_addr().unwrap());
    let (_sw, _, ours) = answered_call(&listener, &handle, &mut events, offer).await;
    assert_ne!(ours.port(), port, "the SDP names the port really bound");
    let mut buf = [0u8; 2048];
    let (_, from) = tokio::time::timeout(WAIT, relay.recv_from(&mut buf)).await.expect("no RTP at the relay").unwrap();
    assert_eq!(from, ours);
    drop(handle);
}

#[tokio::test]
async fn late_offer_the_agent_offers_in_its_200_and_starts_on_the_ack_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (handle, mut events) = agent_for(&listener).start().unwrap();
    let (mut sw, contact) = SwitchSide::registered(&listener).await;
    let mut invite = sw.invite_with(&contact, String::new());
    invite.headers.remove(&HeaderName::ContentType);
    sw.send(invite).await;
    assert_eq!(sw.response().await.status, 100);
    assert_eq!(sw.response().await.status, 180);
    let Event::Call(CallEvent::Incoming { id, .. }) = next(&mut events, |e| matches!(e, Event::Call(CallEvent::Incoming { .. }))).await
    else {
        unreachable!()
    };
    handle.answer(id).await.unwrap();
    let ok = sw.response().await;
    assert_eq!(ok.status, 200);
    let offer = media::offer::negotiated(std::str::from_utf8(&ok.body).unwrap(), None).unwrap();
    let tag = ok.headers.to_addr().unwrap().tag().unwrap().to_owned();
    let mut ack = sw.in_dialog("ACK", 1, &tag, "z9hG4bKlateA");
    let answer = SwitchSide::sdp(relay.local_addr().unwrap());
    ack.headers.push(HeaderName::ContentType, "application/sdp");
    ack.headers.set(HeaderName::ContentLength, answer.len().to_string());
    ack.body = Bytes::from(answer);
    sw.send(ack).await;
    let mut buf = [0u8; 2048];
    let (_, from) = tokio::time::timeout(WAIT, relay.recv_from(&mut buf)).await.expect("no RTP after the ACK's answer").unwrap();
    assert_eq!(from, offer.remote, "from the address our offer named");
    next(&mut events, |e| matches!(e, Event::Call(CallEvent::Answered { .. }))).await;
    drop(handle);
}
