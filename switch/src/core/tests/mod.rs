//! The whole core on virtual time: no socket, no clock, no disk. A lab owns a
//! core built with a fixed seed, feeds it messages on made-up flows at chosen
//! instants, carries out its outputs the way the driver would (a commit is
//! reported at once, relay ports are granted) and keeps what it sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod client;
mod cluster;
mod dns_view;
mod enumeration;
mod flow_silence;
mod guessing;
mod push;
mod rogue;
mod store_down;
mod timing;
mod wall_clock;

use super::{CommitTicket, ControlId, Core, CoreConfig, Output};
use crate::abuse::AbuseConfig;
use crate::b2bua::{B2buaConfig, MediaCommand, MediaId, MediaPorts};
use crate::location::{Change, LocationConfig};
use crate::record::Subscriber;
use crate::registrar::RegistrarConfig;
use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sipcore::auth::{Algorithm, DigestClient, DigestRequest, Secret, ha1};
use sipcore::transaction::TimerConfig;
use sipcore::transport::{Flow, FlowId, TransportEvent, TransportKind};
use sipcore::{HeaderName, Message, Request, Response};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const REALM: &str = "switch.test";
const PASSWORD: &str = "Zebra-Quartz-9931";
const HOME: &str = "sip:1001@192.0.2.50";
/// Flow-Timer and grace: a silent outbound flow is dead 40 s after its last sign of life.
const FLOW_TIMER: u32 = 30;
const GRACE: u32 = 10;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Our UDP listener.
fn udp_listener() -> Flow {
    Flow { id: FlowId(1), transport: TransportKind::Udp, local: addr("192.0.2.1:5060"), remote: addr("192.0.2.1:5060") }
}

/// The phone's outbound TCP connection.
fn phone_flow() -> Flow {
    Flow { id: FlowId(2), transport: TransportKind::Tcp, local: addr("192.0.2.1:5060"), remote: addr("198.51.100.7:40000") }
}

/// A trusted gateway that sends calls in over UDP.
fn gateway_flow() -> Flow {
    Flow { remote: addr("192.0.2.99:5060"), ..udp_listener() }
}

fn subscriber() -> Subscriber {
    Subscriber { home: Some(HOME.into()), ..provisioned("1001", PASSWORD) }
}

/// A subscriber with no MAC and no home.
fn provisioned(number: &str, password: &str) -> Subscriber {
    Subscriber {
        number: number.into(),
        realm: REALM.into(),
        ha1_md5: ha1(Algorithm::Md5, number, REALM, password),
        ha1_sha256: ha1(Algorithm::Sha256, number, REALM, password),
        ha1_sha512_256: ha1(Algorithm::Sha512_256, number, REALM, password),
        mac: None,
        home: None,
    }
}

fn config(flow_timer: u32) -> CoreConfig {
    let timers = TimerConfig::default();
    CoreConfig {
        registrar: RegistrarConfig {
            realm: REALM.into(),
            nonce_lifetime: Duration::from_secs(300),
            digest_algorithms: vec![Algorithm::Md5],
            relay_address: Some("192.0.2.1".parse().unwrap()),
            location: LocationConfig { flow_timer, grace: GRACE, ..LocationConfig::default() },
            abuse: AbuseConfig::default(),
        },
        b2bua: B2buaConfig { domain: REALM.into(), ring_time: Duration::from_secs(60), t1: timers.t1, t2: timers.t2 },
        timers,
        trusted_peers: vec![gateway_flow().remote.ip()],
        udp: vec![udp_listener()],
        local_ip: |flow| flow.local.ip(),
        server_header: None,
        cluster: None,
        push_hold: None,
    }
}

fn parse(text: &str) -> Message {
    sipcore::parse(Bytes::from(text.replace('\n', "\r\n"))).unwrap()
}

/// The core, the virtual clock, and what the core did.
struct Lab {
    core: Core,
    t0: Instant,
    now: Instant,
    /// Every output not yet looked at, with the instant it came out.
    out: Vec<(Instant, Output)>,
    /// Commits the lab reports at once; `hold_commits` keeps them back.
    hold_commits: bool,
    held: Vec<CommitTicket>,
    digest: DigestClient,
    cseq: u32,
    /// The flow the phone registers on ([`phone_flow`] unless a test moves it).
    phone: Flow,
    /// Appended to the REGISTER's Contact URI (RFC 8599 push parameters).
    contact_params: String,
}

impl Lab {
    fn new() -> Self {
        Self::with_flow_timer(FLOW_TIMER)
    }

    fn with_flow_timer(flow_timer: u32) -> Self {
        Self::with(config(flow_timer), vec![subscriber()])
    }

    /// A core built with `config` and these subscribers.
    fn with(config: CoreConfig, subscribers: Vec<Subscriber>) -> Self {
        let t0 = Instant::now();
        let core = Core::new(t0, config, subscribers.into_iter().collect(), Vec::new(), StdRng::seed_from_u64(11));
        let mut lab = Lab {
            core,
            t0,
            now: t0,
            out: Vec::new(),
            hold_commits: false,
            held: Vec::new(),
            digest: DigestClient::new().with_cnonce_source(|| "0a4f113b".to_owned()),
            cseq: 0,
            phone: phone_flow(),
            contact_params: String::new(),
        };
        lab.drain();
        lab
    }

    /// `secs` seconds (and `ms` milliseconds) after the start.
    fn at(&self, secs: u64, ms: u64) -> Instant {
        self.t0 + Duration::from_secs(secs) + Duration::from_millis(ms)
    }

    /// [`Lab::at`] without borrowing the lab.
    fn clock(&self) -> impl Fn(u64, u64) -> Instant + use<> {
        let t0 = self.t0;
        move |secs, ms| t0 + Duration::from_secs(secs) + Duration::from_millis(ms)
    }

    /// Carries out the driver's side of what the core asked: commits are
    /// reported, relay ports granted; everything is kept for the test.
    fn drain(&mut self) {
        let mut port = 20_000;
        while let Some(o) = self.core.poll_output() {
            match &o {
                Output::Commit(t) if self.hold_commits => self.held.push(*t),
                Output::Commit(t) => self.core.handle_committed(self.now, *t),
                Output::Media(MediaCommand::Open { call, .. }) => {
                    let ports = MediaPorts { id: MediaId(port), caller_rtp: 20_000 + port as u16, callee_rtp: 20_002 + port as u16 };
                    port += 4;
                    self.core.handle_media_opened(self.now, *call, Ok(ports));
                }
                _ => {}
            }
            self.out.push((self.now, o));
        }
    }

    /// Runs the core's timers up to `t`, each at its exact deadline, as the
    /// driver's sleep would.
    fn advance_to(&mut self, t: Instant) {
        while let Some(deadline) = self.core.poll_timeout().filter(|d| *d <= t) {
            self.now = self.now.max(deadline);
            self.core.handle_timeout(self.now);
            self.drain();
        }
        self.now = t;
    }

    /// A message from the network at `t`.
    fn deliver(&mut self, t: Instant, flow: Flow, text: &str) {
        self.deliver_message(t, flow, parse(text));
    }

    fn deliver_message(&mut self, t: Instant, flow: Flow, message: Message) {
        self.transport(t, TransportEvent::Message { flow, message });
    }

    fn transport(&mut self, t: Instant, event: TransportEvent) {
        self.advance_to(t);
        self.core.handle_transport(t, event);
        self.drain();
    }

    /// Takes the outputs so far.
    fn take(&mut self) -> Vec<(Instant, Output)> {
        std::mem::take(&mut self.out)
    }

    /// The phone's REGISTER for `expires` seconds, with `auth` if given.
    fn register_text(&mut self, expires: u32, auth: Option<String>) -> String {
        self.cseq += 1;
        let auth = auth.map(|a| format!("Authorization: {a}\n")).unwrap_or_default();
        format!(
            "REGISTER sip:{REALM} SIP/2.0\nVia: SIP/2.0/TCP 10.1.0.2:5060;branch=z9hG4bKreg{cseq};rport\nMax-Forwards: 70\n\
             From: <sip:1001@{REALM}>;tag=ph1\nTo: <sip:1001@{REALM}>\nCall-ID: reg-1001@10.1.0.2\nCSeq: {cseq} REGISTER\n\
             Supported: outbound, path\n\
             Contact: <sip:1001@10.1.0.2:5060;transport=tcp;ob{params}>;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-000000001001>\";reg-id=1\n\
             Expires: {expires}\n{auth}Content-Length: 0\n\n",
            cseq = self.cseq,
            params = self.contact_params
        )
    }

    /// REGISTER, 401, REGISTER with credentials: the phone registers at `t`
    /// (the challenge came a moment before).
    fn send_register(&mut self, t: Instant, expires: u32) {
        let first = self.register_text(expires, None);
        self.deliver(t - Duration::from_millis(1), self.phone, &first);
        let challenge = only_response(&self.take(), 401);
        let challenges: Vec<_> = challenge.headers.digest_challenges(false).filter_map(Result::ok).collect();
        let creds = self
            .digest
            .respond(&challenges, "1001", Secret::Password(PASSWORD), &DigestRequest::new("REGISTER", &format!("sip:{REALM}")))
            .unwrap();
        let second = self.register_text(expires, Some(creds.to_string()));
        self.deliver(t, self.phone, &second);
    }

    /// [`Lab::send_register`], and the 200 OK it got.
    fn register(&mut self, t: Instant, expires: u32) -> Response {
        self.send_register(t, expires);
        only_response(&self.out, 200)
    }

    /// An INVITE for 1001 from the trusted gateway, at `t`.
    fn invite(&mut self, t: Instant, n: u32) {
        let sdp = "v=0\r\no=gw 1 1 IN IP4 192.0.2.99\r\ns=-\r\nc=IN IP4 192.0.2.99\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";
        let text = format!(
            "INVITE sip:1001@{REALM} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKgw{n};rport\nMax-Forwards: 70\n\
             From: <sip:5550100@gw.example>;tag=gw{n}\nTo: <sip:1001@{REALM}>\nCall-ID: call-{n}@gw.example\nCSeq: 1 INVITE\n\
             Contact: <sip:5550100@192.0.2.99:5060>\nContent-Type: application/sdp\nContent-Length: {}\n\n{sdp}",
            sdp.len()
        )
        .replace("\r\n", "\n");
        self.deliver(t, gateway_flow(), &text);
    }
}

/// The messages the core put on the wire, with the instant and the flow.
fn sent(out: &[(Instant, Output)]) -> Vec<(Instant, Flow, Message)> {
    out.iter()
        .filter_map(|(t, o)| match o {
            Output::Transmit(x) => Some((*t, x.flow, x.message.clone())),
            _ => None,
        })
        .collect()
}

/// The one response with `status` among the outputs.
fn only_response(out: &[(Instant, Output)], status: u16) -> Response {
    let found: Vec<Response> = sent(out)
        .into_iter()
        .filter_map(|(_, _, m)| match m {
            Message::Response(r) if r.status == status => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "one {status} in {out:#?}");
    found.into_iter().next().unwrap()
}

/// The requests the core sent with `method`, where and when.
fn requests(out: &[(Instant, Output)], method: sipcore::Method) -> Vec<(Instant, Flow, Request)> {
    sent(out)
        .into_iter()
        .filter_map(|(t, f, m)| match m {
            Message::Request(r) if r.method == method => Some((t, f, r)),
            _ => None,
        })
        .collect()
}

/// The registration changes, with the instant each came out.
fn changes(out: &[(Instant, Output)]) -> Vec<(Instant, Change)> {
    out.iter()
        .filter_map(|(t, o)| match o {
            Output::Location(c) => Some((*t, c.clone())),
            _ => None,
        })
        .collect()
}

/// The header value as sent.
fn header<'a>(r: &'a Response, name: &HeaderName) -> &'a str {
    r.headers.get(name).unwrap_or_else(|| panic!("no {name:?} in {r:?}"))
}
