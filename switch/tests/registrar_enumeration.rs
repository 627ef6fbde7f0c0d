//! No number enumeration against the real `switch` binary (issue 12 item 1):
//! six numbers are provisioned in 1000–1100, and a scan of the whole range
//! over UDP and TCP (REGISTER, then with credentials; INVITE, then with
//! credentials; OPTIONS) gets answers of one shape for every number; the
//! response times of provisioned and unprovisioned numbers are one
//! distribution; and SIPVicious' `svwar` (REGISTER, INVITE, OPTIONS; it scans
//! over UDP only) finds none of them, though it finds a number where the
//! answers do differ (a stand-in server that leaks, as the switch did).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, DOMAIN, IO_TIMEOUT, Link, Switch, Tcp, Udp, header, headers, lab, line};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use sipcore::auth::{Challenge, DigestClient, DigestRequest, Secret, parse_challenge};
use sipcore::{Message, Response};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};
use tests::ports::PortBlock;
use tests::probe::shape;
use tests::sipvicious::{Tool, run};
use tests::stats::{ks_distance, median};

const NUMBERS: [&str; 6] = ["1003", "1017", "1042", "1050", "1077", "1099"];

/// A switch with the six numbers; the guard far out of the way, so that the
/// scan sees the answers, not the cool-down it would earn.
fn switch() -> (tests::switch::SwitchHost, Switch) {
    let lab = lab();
    for n in NUMBERS {
        lab.add_subscriber(n, &format!("pw-{n}"), None);
    }
    let sw = lab.start(&Config::default().abuse("max_failures = 1000000").abuse("number_max_failures = 1000000"));
    (lab, sw)
}

/// Requests as a scanner sends them: one transaction each, non-2xx INVITE
/// answers ACKed (a UDP scanner must, or the answer comes again).
struct Prober<L: Link> {
    link: L,
    n: u32,
    digest: DigestClient,
}

impl<L: Link> Prober<L> {
    fn new(link: L) -> Self {
        Prober { link, n: 0, digest: DigestClient::new() }
    }

    /// `method` from `from` to `to` (numbers); with credentials answering
    /// `challenge` with a wrong password when given.
    fn send(&mut self, method: &str, from: &str, to: &str, challenge: Option<&Response>) -> Response {
        self.n += 1;
        let (n, local, t) = (self.n, self.link.local(), self.link.via_transport());
        let uri = if method == "REGISTER" { format!("sip:{DOMAIN}") } else { format!("sip:{to}@{DOMAIN}") };
        let auth = challenge.map(|c| {
            let (h, proxy) = if c.status == 407 { ("Proxy-Authenticate", "Proxy-") } else { ("WWW-Authenticate", "") };
            let values = headers(c, h);
            let parsed: Vec<Challenge<'_>> = values.iter().map(|v| parse_challenge(v).unwrap()).collect();
            let creds =
                self.digest.respond(&parsed, from, Secret::Password("not-the-password"), &DigestRequest::new(method, &uri)).unwrap();
            format!("{proxy}Authorization: {creds}\r\n")
        });
        let head = format!(
            "Via: SIP/2.0/{t} {local};branch=z9hG4bKscan{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{from}@{DOMAIN}>;tag=s{n}\r\n\
             To: <sip:{to}@{DOMAIN}>\r\nCall-ID: scan{n}@{local}\r\n"
        );
        let text = format!(
            "{method} {uri} SIP/2.0\r\n{head}CSeq: 1 {method}\r\nContact: <sip:{from}@{local}>\r\n{}Content-Length: 0\r\n\r\n",
            auth.unwrap_or_default()
        );
        self.link.send(text.as_bytes());
        let r = self.link.response();
        if method == "INVITE" && r.status >= 300 {
            let to = header(&r, "To").unwrap();
            let via = format!("SIP/2.0/{t} {local};branch=z9hG4bKscan{n};rport");
            let ack = format!(
                "ACK {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:{from}@{DOMAIN}>;tag=s{n}\r\nTo: {to}\r\n\
                 Call-ID: scan{n}@{local}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
            );
            self.link.send(ack.as_bytes());
        }
        r
    }

    /// Every answer a number gets, by kind of request, masked as [`shape`] does.
    fn answers(&mut self, number: &str) -> BTreeMap<&'static str, Vec<String>> {
        let mut out = BTreeMap::new();
        let challenge = self.send("REGISTER", number, number, None);
        out.insert("REGISTER", shape(&challenge, number));
        out.insert("REGISTER with credentials", shape(&self.send("REGISTER", number, number, Some(&challenge)), number));
        let challenge = self.send("INVITE", number, "2000", None);
        out.insert("INVITE", shape(&challenge, number));
        out.insert("INVITE with credentials", shape(&self.send("INVITE", number, "2000", Some(&challenge)), number));
        out.insert("OPTIONS", shape(&self.send("OPTIONS", "scanner", number, None), number));
        out
    }
}

fn scan_range(prober: &mut Prober<impl Link>, transport: &str) {
    let reference = prober.answers("1000");
    assert_eq!(reference["REGISTER"][0], "401 Unauthorized");
    assert_eq!(reference["REGISTER with credentials"][0], "403 Forbidden (bad credentials)");
    assert_eq!(reference["INVITE"][0], "407 Proxy Authentication Required");
    assert_eq!(reference["INVITE with credentials"][0], "403 Forbidden (bad credentials)");
    assert_eq!(reference["OPTIONS"][0], "200 OK");
    for (kind, answer) in &reference {
        // RFC 3261 §8.2.6.2: a To tag on every final answer; no Server header unless configured.
        assert!(answer.iter().any(|h| h.starts_with("To: ") && h.ends_with(";tag=*")), "{kind}: {answer:?}");
        assert!(!answer.iter().any(|h| h.starts_with("Server:")), "{kind}: {answer:?}");
    }
    for n in 1001..=1100 {
        let number = n.to_string();
        let answers = prober.answers(&number);
        assert_eq!(answers, reference, "{number} over {transport} answers otherwise than 1000 (not provisioned)");
    }
}

#[test]
fn every_number_in_the_range_gets_the_same_answers_over_udp_and_tcp() {
    let (_lab, sw) = switch();
    scan_range(&mut Prober::new(Udp::bind(&sw)), "UDP");
    scan_range(&mut Prober::new(Tcp::connect(&sw)), "TCP");
    // The log keeps what the wire does not say.
    let refused = sw.wait_for_event("authentication refused", &[("number", "1000")], IO_TIMEOUT);
    assert_eq!(refused.text("reason"), "not_in_service", "{refused}");
    let refused = sw.wait_for_event("authentication refused", &[("number", "1042")], IO_TIMEOUT);
    assert_eq!(refused.text("reason"), "wrong_password", "{refused}");
}

/// Response times of REGISTERs with wrong credentials, provisioned numbers
/// against unprovisioned ones, interleaved in a shuffled order over one link.
fn times(link: impl Link, samples: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut p = Prober::new(link);
    let known_challenge = p.send("REGISTER", "1042", "1042", None);
    let unknown_challenge = p.send("REGISTER", "1043", "1043", None);
    let mut order: Vec<bool> = (0..samples).flat_map(|_| [true, false]).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(12));
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for (i, provisioned) in order.into_iter().enumerate() {
        let (number, challenge, into) =
            if provisioned { ("1042", &known_challenge, &mut known) } else { ("1043", &unknown_challenge, &mut unknown) };
        let start = Instant::now();
        let r = p.send("REGISTER", number, number, Some(challenge));
        let took = start.elapsed();
        assert_eq!(r.status, 403, "{}", line(&r));
        if i >= 40 {
            into.push(took);
        }
    }
    (known, unknown)
}

#[test]
fn response_times_do_not_tell_unprovisioned_numbers_apart() {
    let (_lab, sw) = switch();
    for (transport, (known, unknown)) in [("UDP", times(Udp::bind(&sw), 400)), ("TCP", times(Tcp::connect(&sw), 400))] {
        let (mk, mu) = (median(&known), median(&unknown));
        let d = ks_distance(&known, &unknown);
        let report = format!("{transport}: medians {mk:?} provisioned, {mu:?} not; KS distance {d:.3}");
        eprintln!("{report}");
        // On the wire the digest work is a small part of a round trip; a fast
        // path for unknown numbers is the core's timing test to catch. This
        // one catches any gross difference (a store lookup, a delay) per
        // transport. The whole distributions are compared, not their medians:
        // on a busy machine the times are bimodal (the peer scheduled at once
        // or after another task's slice), and a median that lands in one mode
        // for one set and the other mode for the other set moves by 30 % with
        // no difference between the sets (a loaded run: 607 µs against 869 µs); the
        // Kolmogorov–Smirnov distance of the same samples stayed under 0.1.
        assert!(d < 0.25, "{report}");
    }
}

/// `svwar` with `method` over the range 1000–1100, from its own port.
fn svwar(sw: &Switch, method: &str, port: u16, force: bool) -> tests::sipvicious::Run {
    let target = format!("udp://{}", sw.udp_addr());
    let port = port.to_string();
    let mut args = vec!["-e1000-1100", "-m", method, "-P", &port, "-vv", "--maximumtime", "5"];
    if force {
        args.push("--force");
    }
    args.push(&target);
    run(Tool::Svwar, Ipv4Addr::LOCALHOST, &args, Duration::from_secs(60))
}

/// What svwar reports: the numbers it says exist.
fn found(out: &tests::sipvicious::Run) -> Vec<String> {
    out.stderr
        .lines()
        .filter_map(|l| l.split("extension '").nth(1))
        .filter_map(|l| l.split_once("' ").filter(|(_, rest)| rest.contains("exists")).map(|(n, _)| n.to_owned()))
        .collect()
}

#[test]
fn svwar_finds_no_number_by_register_invite_or_options() {
    let (_lab, sw) = switch();
    let ports = PortBlock::reserve();
    // Its own sanity check first: an unknown number is challenged, so it gives up.
    let out = svwar(&sw, "REGISTER", ports.port(0), false);
    assert!(out.stderr.contains("authentication request for an unknown extension"), "{}", out.said());
    for (i, method) in ["REGISTER", "INVITE", "OPTIONS"].into_iter().enumerate() {
        let out = svwar(&sw, method, ports.port(1 + i as u16), true);
        assert!(found(&out).is_empty() && out.stdout.trim().is_empty(), "svwar -m {method} found numbers: {}", out.said());
        assert!(out.stderr.contains("found nothing"), "{}", out.said());
        assert!(!out.stderr.contains("No server response"), "svwar reached the switch: {}", out.said());
    }
    // OPTIONS answers every number alike, so svwar scans the whole range.
    let out = svwar(&sw, "OPTIONS", ports.port(4), true);
    assert!(out.stderr.contains("sending request for 1100"), "{}", out.said());
}

/// The control: a stand-in server that leaks as the switch used to (404 for
/// an unknown number, a challenge for 1042). svwar, run the same way, finds
/// 1042 there: the runs above find nothing because there is nothing to find.
#[test]
fn svwar_finds_a_number_where_the_answers_differ() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let addr = sock.local_addr().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let leaky = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else { continue };
                let Ok(Message::Request(req)) = sipcore::parse(bytes::Bytes::copy_from_slice(&buf[..n])) else { continue };
                let number = req.headers.to_addr().ok().and_then(|a| a.uri.user.map(str::to_owned)).unwrap_or_default();
                let mut resp = Response::to_request(&req, if number == "1042" { 401 } else { 404 });
                if number == "1042" {
                    resp.headers.push(sipcore::HeaderName::WwwAuthenticate, "Digest realm=\"leaky\", nonce=\"x\", algorithm=MD5");
                }
                let _ = sock.send_to(Message::Response(resp).to_bytes().as_ref(), from);
            }
        })
    };
    let ports = PortBlock::reserve();
    let target = format!("udp://{addr}");
    let port = ports.port(0).to_string();
    let out =
        run(Tool::Svwar, Ipv4Addr::LOCALHOST, &["-e1000-1100", "-m", "REGISTER", "-P", &port, "-v", &target], Duration::from_secs(60));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    leaky.join().unwrap();
    assert_eq!(found(&out), ["1042"], "{}", out.said());
}
