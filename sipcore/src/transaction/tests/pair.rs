//! A client layer and a server layer talking over a simulated network on
//! virtual time. Every message is printed and parsed again on its way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::support::*;
use crate::message::{HeaderName, Message, Request};
use crate::transaction::{LayerEvent, State, TransactionKey, TransactionLayer, ack_for_non_2xx};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToServer,
    ToClient,
}

/// One message seen on the wire: when (ms after the start), which way, what
/// (method or status), and whether the network lost it.
type Seen = (u64, Dir, String, bool);

struct Net {
    clock: Clock,
    now: Instant,
    reliable: bool,
    client: TransactionLayer,
    server: TransactionLayer,
    /// Lose the first message going this way with this summary.
    lose: Option<(Dir, &'static str)>,
    log: Vec<Seen>,
    client_events: Vec<LayerEvent>,
    server_events: Vec<LayerEvent>,
}

fn summary(m: &Message) -> String {
    match m {
        Message::Request(r) => r.method.to_string(),
        Message::Response(r) => r.status.to_string(),
    }
}

impl Net {
    fn new(reliable: bool) -> Self {
        let clock = Clock::new();
        Self {
            clock,
            now: clock.base,
            reliable,
            client: TransactionLayer::new(cfg()),
            server: TransactionLayer::new(cfg()),
            lose: None,
            log: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
        }
    }

    fn ms(&self) -> u64 {
        u64::try_from((self.now - self.clock.base).as_millis()).unwrap()
    }

    fn carry(&mut self, dir: Dir, m: &Message) {
        let what = summary(m);
        let lost = self.lose.is_some_and(|(d, s)| d == dir && s == what);
        if lost {
            self.lose = None;
        }
        self.log.push((self.ms(), dir, what, lost));
        if lost {
            return;
        }
        let m = wire(m);
        match dir {
            Dir::ToServer => self.server.handle_message(self.now, flow(self.reliable), m),
            Dir::ToClient => self.client.handle_message(self.now, flow(self.reliable), m),
        }
    }

    /// Delivers everything queued (zero latency), both ways, until quiet.
    fn flush(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                self.carry(Dir::ToServer, &t.message);
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                self.carry(Dir::ToClient, &t.message);
            }
            if !moved {
                break;
            }
        }
        self.client_events.extend(std::iter::from_fn(|| self.client.poll_event()));
        self.server_events.extend(std::iter::from_fn(|| self.server.poll_event()));
    }

    /// Moves time to `to`, firing each timer of either side at its instant.
    fn advance(&mut self, to: Instant) {
        while let Some(at) = [self.client.poll_timeout(), self.server.poll_timeout()].into_iter().flatten().min().filter(|at| *at <= to) {
            self.now = at;
            self.client.handle_timeout(at);
            self.server.handle_timeout(at);
            self.flush();
        }
        self.now = to;
    }

    fn advance_ms(&mut self, ms: u64) {
        self.advance(self.clock.ms(ms));
    }

    /// Runs until neither side has a timer left; returns when that was.
    fn run_out(&mut self) -> Instant {
        let mut last = self.now;
        while let Some(at) = [self.client.poll_timeout(), self.server.poll_timeout()].into_iter().flatten().min() {
            self.advance(at);
            last = at;
        }
        last
    }

    fn take_new_request(&mut self) -> (TransactionKey, Request) {
        let i = self.server_events.iter().position(|e| matches!(e, LayerEvent::Request { .. })).expect("a new request");
        match self.server_events.remove(i) {
            LayerEvent::Request { key, request, .. } => (key, request),
            _ => unreachable!(),
        }
    }

    fn client_statuses(&self, key: &TransactionKey) -> Vec<u16> {
        self.client_events
            .iter()
            .filter_map(|e| match e {
                LayerEvent::Response { key: k, response } if k == key => Some(response.status),
                _ => None,
            })
            .collect()
    }

    fn wire_log(&self) -> Vec<(u64, Dir, &str, bool)> {
        self.log.iter().map(|(t, d, s, l)| (*t, *d, s.as_str(), *l)).collect()
    }
}

fn terminated_at(events: &[LayerEvent], key: &TransactionKey) -> bool {
    events.iter().any(|e| matches!(e, LayerEvent::Terminated { key: k } if k == key))
}

/// INVITE / 100 / 180 / 200 / ACK. Over UDP the first INVITE is lost and
/// Timer A recovers it.
fn invite_flow(reliable: bool) {
    use Dir::*;
    let mut net = Net::new(reliable);
    if !reliable {
        net.lose = Some((ToServer, "INVITE"));
    }
    let inv = invite("z9hG4bKpair1", reliable);
    let ckey = net.client.send_request(net.now, flow(reliable), inv.clone()).unwrap();
    net.flush();
    let arrive = if reliable { 0 } else { 500 };
    net.advance_ms(arrive);
    let (skey, received) = net.take_new_request();
    assert_eq!(received.headers.cseq().unwrap(), inv.headers.cseq().unwrap());
    assert_eq!(net.server.state(&skey), Some(State::Proceeding));

    // The TU is slow: the server transaction sends 100 Trying at 200 ms.
    net.advance_ms(arrive + 200);
    assert_eq!(net.client.state(&ckey), Some(State::Proceeding));
    net.advance_ms(arrive + 300);
    net.server.send_response(net.now, &skey, respond(&received, 180, "uas1")).unwrap();
    net.flush();
    net.advance_ms(arrive + 1000);
    let ok = respond(&received, 200, "uas1");
    net.server.send_response(net.now, &skey, ok.clone()).unwrap();
    net.flush();
    assert_eq!(net.client_statuses(&ckey), [100, 180, 200]);
    assert_eq!(net.client.state(&ckey), Some(State::Accepted));
    assert_eq!(net.server.state(&skey), Some(State::Accepted));

    // The UAC core ACKs the 2xx itself, in a new transaction (new branch).
    let Some(LayerEvent::Response { response: ok_received, .. }) =
        net.client_events.iter().rev().find(|e| matches!(e, LayerEvent::Response { .. })).cloned()
    else {
        panic!()
    };
    let mut ack = ack_for_non_2xx(&inv, &ok_received).unwrap();
    ack.headers.set(HeaderName::Via, format!("SIP/2.0/{} pc33.atlanta.example.com:5060;branch=z9hG4bKpair1ack", transport(reliable)));
    net.carry(ToServer, &ack.clone().into());
    net.flush();
    let acks: Vec<_> = net.server_events.iter().filter(|e| matches!(e, LayerEvent::Ack { key: None, .. })).collect();
    assert_eq!(acks.len(), 1, "the 2xx ACK reaches the server TU: {:?}", net.server_events);

    // Timers M and L: 64*T1 after the 2xx, on both sides.
    let end = net.run_out();
    assert_eq!(end, net.clock.ms(arrive + 1000) + 64 * T1);
    assert!(terminated_at(&net.client_events, &ckey));
    assert!(terminated_at(&net.server_events, &skey));
    assert!(net.client.is_empty() && net.server.is_empty());

    let expected: Vec<(u64, Dir, &str, bool)> = if reliable {
        vec![
            (0, ToServer, "INVITE", false),
            (200, ToClient, "100", false),
            (300, ToClient, "180", false),
            (1000, ToClient, "200", false),
            (1000, ToServer, "ACK", false),
        ]
    } else {
        vec![
            (0, ToServer, "INVITE", true),
            (500, ToServer, "INVITE", false),
            (700, ToClient, "100", false),
            (800, ToClient, "180", false),
            (1500, ToClient, "200", false),
            (1500, ToServer, "ACK", false),
        ]
    };
    assert_eq!(net.wire_log(), expected);
}

#[test]
fn invite_100_180_200_ack_over_udp() {
    invite_flow(false);
}

#[test]
fn invite_100_180_200_ack_over_tcp() {
    invite_flow(true);
}

/// REGISTER / 401 / REGISTER with credentials / 200. Over UDP the first 401
/// is lost: the client's Timer E retransmission makes the server transaction
/// send it again.
fn register_flow(reliable: bool) {
    use Dir::*;
    let mut net = Net::new(reliable);
    if !reliable {
        net.lose = Some((ToClient, "401"));
    }
    let first = register("z9hG4bKreg1", 1, reliable);
    let ckey1 = net.client.send_request(net.now, flow(reliable), first).unwrap();
    net.flush();
    let (skey1, req1) = net.take_new_request();
    net.advance_ms(10);
    let mut challenge = respond(&req1, 401, "reg");
    challenge.headers.push(
        HeaderName::WwwAuthenticate,
        r#"Digest realm="biloxi.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", qop="auth", algorithm=MD5"#,
    );
    net.server.send_response(net.now, &skey1, challenge).unwrap();
    net.flush();
    let got_401 = if reliable { 10 } else { 500 };
    net.advance_ms(got_401);
    assert_eq!(net.client_statuses(&ckey1), [401]);
    assert!(
        !net.server_events.iter().any(|e| matches!(e, LayerEvent::Request { .. })),
        "the retransmitted REGISTER is absorbed: {:?}",
        net.server_events
    );
    let challenge = net
        .client_events
        .iter()
        .find_map(|e| match e {
            LayerEvent::Response { response, .. } => response.headers.get_shared(&HeaderName::WwwAuthenticate),
            _ => None,
        })
        .unwrap();
    assert!(challenge.contains("nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\""));

    net.advance_ms(got_401 + 10);
    let mut second = register("z9hG4bKreg2", 2, reliable);
    second.headers.push(HeaderName::Authorization, r#"Digest username="bob", realm="biloxi.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:registrar.biloxi.example.com", response="dfe56131d1958046689d83306477ecc", qop=auth, nc=00000001, cnonce="0a4f113b", algorithm=MD5"#);
    let ckey2 = net.client.send_request(net.now, flow(reliable), second).unwrap();
    net.flush();
    let (skey2, req2) = net.take_new_request();
    assert!(req2.headers.contains(&HeaderName::Authorization));
    net.advance_ms(got_401 + 20);
    net.server.send_response(net.now, &skey2, respond(&req2, 200, "reg")).unwrap();
    net.flush();
    assert_eq!(net.client_statuses(&ckey2), [200]);

    // Timer K (client) and J (server) end everything.
    let end = net.run_out();
    let expected_end = if reliable { net.clock.ms(got_401 + 20) } else { net.clock.ms(got_401 + 20) + 64 * T1 };
    assert_eq!(end, expected_end);
    for key in [&ckey1, &ckey2] {
        assert!(terminated_at(&net.client_events, key));
    }
    for key in [&skey1, &skey2] {
        assert!(terminated_at(&net.server_events, key));
    }
    assert!(net.client.is_empty() && net.server.is_empty());

    let expected: Vec<(u64, Dir, &str, bool)> = if reliable {
        vec![
            (0, ToServer, "REGISTER", false),
            (10, ToClient, "401", false),
            (20, ToServer, "REGISTER", false),
            (30, ToClient, "200", false),
        ]
    } else {
        vec![
            (0, ToServer, "REGISTER", false),
            (10, ToClient, "401", true),
            (500, ToServer, "REGISTER", false),
            (500, ToClient, "401", false),
            (510, ToServer, "REGISTER", false),
            (520, ToClient, "200", false),
        ]
    };
    assert_eq!(net.wire_log(), expected);
}

#[test]
fn register_401_register_200_over_udp() {
    register_flow(false);
}

#[test]
fn register_401_register_200_over_tcp() {
    register_flow(true);
}

#[test]
fn rejected_invite_is_acked_by_the_transaction_over_udp() {
    use Dir::*;
    let mut net = Net::new(false);
    let ckey = net.client.send_request(net.now, flow(false), invite("z9hG4bKrej", false)).unwrap();
    net.flush();
    let (skey, req) = net.take_new_request();
    net.advance_ms(50);
    net.server.send_response(net.now, &skey, respond(&req, 486, "busy")).unwrap();
    net.flush();
    assert_eq!(net.client_statuses(&ckey), [486]);
    assert_eq!(net.server.state(&skey), Some(State::Confirmed), "the ACK matched the server transaction");
    assert_eq!(net.client.state(&ckey), Some(State::Completed));
    assert!(net.server_events.iter().all(|e| !matches!(e, LayerEvent::Ack { .. })), "that ACK is not for the TU");
    let end = net.run_out();
    // Timer D (32 s) outlasts Timer I (T4).
    assert_eq!(end, net.clock.ms(50) + Duration::from_secs(32));
    assert_eq!(net.wire_log(), [(0, ToServer, "INVITE", false), (50, ToClient, "486", false), (50, ToServer, "ACK", false)]);
}
