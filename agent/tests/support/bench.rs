//! A scripted switch around the sans-IO user agent, on virtual time: it
//! answers the way the real one does (digest from sipcore's own server, Via
//! stamped with `received`/`rport`, Flow-Timer, X-Bearer-Address).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use agent::{Event, MediaCommand, MediaReport, UaConfig};
use agent::{Output, UserAgent};
use sipcore::auth::{DigestRequest, DigestServer, Secret, ServerConfig, parse_credentials};
use sipcore::transport::{Flow, FlowId, TransportKind, stamp_via};
use sipcore::{HeaderName, Message, Method, Request, Response};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

pub(crate) const PUBLIC: &str = "198.51.100.2";
pub(crate) const SECS: fn(u64) -> Duration = Duration::from_secs;

pub(crate) struct Bench {
    pub(crate) ua: UserAgent,
    pub(crate) now: Instant,
    pub(crate) next_flow: u64,
    /// The address the scripted switch says it sees (Via `received`).
    pub(crate) seen_from: IpAddr,
    pub(crate) digest: DigestServer,
    /// Unix seconds for the digest server, moved with `now`.
    pub(crate) epoch: Instant,
    /// Every media command the core gave, in order. Unless `manual_media`,
    /// the bench answers each as a driver whose sockets never fail would.
    pub(crate) media: Vec<MediaCommand>,
    pub(crate) manual_media: bool,
    /// The transport of the flows `connect` opens (TCP unless a test says TLS).
    pub(crate) flow_transport: TransportKind,
    /// Outputs taken off the core but not yet handed to the test.
    pending: VecDeque<Output>,
}

pub(crate) fn config() -> UaConfig {
    let mut c = UaConfig::new("1001", "pw", "switch.local");
    c.bearer_port = Some(40000);
    c.mac = Some("02:42:ac:11:00:02".parse().unwrap());
    c.seed = 42;
    c
}

impl Bench {
    pub(crate) fn new(cfg: UaConfig) -> Self {
        let now = Instant::now();
        let mut digest = ServerConfig::new("switch.local", b"test key".to_vec());
        digest.algorithms = vec![sipcore::auth::Algorithm::Md5];
        Self {
            ua: UserAgent::new(cfg),
            now,
            next_flow: 1,
            seen_from: PUBLIC.parse().unwrap(),
            digest: DigestServer::new(digest),
            epoch: now,
            media: Vec::new(),
            manual_media: false,
            flow_transport: TransportKind::Tcp,
            pending: VecDeque::new(),
        }
    }

    /// Takes the core's outputs: media commands are logged (and answered,
    /// unless `manual_media`), the rest kept for `outputs`.
    fn drain(&mut self) {
        while let Some(output) = self.ua.poll_output() {
            match output {
                Output::Media(command) => {
                    self.media.push(command.clone());
                    if !self.manual_media {
                        self.answer_media(command);
                    }
                }
                other => self.pending.push_back(other),
            }
        }
    }

    /// Answers a media command as a driver would: bound where asked, started,
    /// closed with nothing to report.
    pub(crate) fn answer_media(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Open { call, local } | MediaCommand::Rebind { call, local } => self.ua.handle_media_opened(self.now, call, local),
            MediaCommand::Start { call, .. } => self.ua.handle_media_started(self.now, call),
            MediaCommand::Close { call } => self.ua.handle_media_closed(self.now, call, MediaReport::default()),
            other => panic!("a media command the bench does not know: {other:?}"),
        }
    }

    /// The media commands given since the last look.
    pub(crate) fn media_commands(&mut self) -> Vec<MediaCommand> {
        self.drain();
        std::mem::take(&mut self.media)
    }

    pub(crate) fn unix(&self) -> u64 {
        1_700_000_000 + self.now.duration_since(self.epoch).as_secs()
    }

    pub(crate) fn outputs(&mut self) -> Vec<Output> {
        self.drain();
        self.pending.drain(..).collect()
    }

    pub(crate) fn events(&mut self) -> Vec<Event> {
        self.drain();
        std::iter::from_fn(|| self.ua.poll_event()).collect()
    }

    /// Moves virtual time to `at`, firing every deadline on the way, in order.
    pub(crate) fn advance_to(&mut self, at: Instant) {
        while let Some(t) = self.ua.poll_timeout().filter(|t| *t <= at) {
            self.now = t.max(self.now);
            self.ua.handle_timeout(self.now);
        }
        self.now = at.max(self.now);
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        let at = self.now + by;
        self.advance_to(at);
    }

    /// Answers the pending Connect with a new flow from 10.1.0.2.
    pub(crate) fn connect(&mut self) -> Flow {
        let t = self.outputs();
        assert!(t.contains(&Output::Connect), "expected Connect, got {t:?}");
        self.connect_again()
    }

    /// `connect` for when the Connect was already taken off the queue.
    pub(crate) fn connect_again(&mut self) -> Flow {
        self.connect_from("10.1.0.2".parse().unwrap())
    }

    /// Answers the pending Connect with a flow from `local` (the phone changed networks).
    pub(crate) fn connect_from(&mut self, local: IpAddr) -> Flow {
        let id = self.next_flow;
        self.next_flow += 1;
        let flow = Flow {
            id: FlowId(id),
            transport: self.flow_transport,
            local: SocketAddr::new(local, 40000 + id as u16),
            remote: "192.0.2.10:5060".parse().unwrap(),
        };
        self.ua.handle_connected(self.now, flow, None);
        flow
    }

    /// The one request the agent sent, as the switch's transport would hand
    /// it on (parsed from the wire form, Via stamped).
    pub(crate) fn sent(&mut self) -> (FlowId, Request) {
        let t = self.outputs();
        let mut sends = t.iter().filter_map(|t| match t {
            Output::Send { flow, message } => Some((*flow, message.clone())),
            _ => None,
        });
        let (flow, msg) = sends.next().unwrap_or_else(|| panic!("no request sent: {t:?}"));
        assert!(sends.next().is_none(), "more than one message sent: {t:?}");
        let Message::Request(mut req) = sipcore::parse(msg.to_bytes()).expect("the agent's message parses") else {
            panic!("not a request")
        };
        stamp_via(&mut req, SocketAddr::new(self.seen_from, 61000)).unwrap();
        (flow, req)
    }

    pub(crate) fn answer(&mut self, flow: FlowId, req: &Request, status: u16, extra: &[(HeaderName, String)]) {
        let mut resp = Response::to_request(req, status);
        for (n, v) in extra {
            resp.headers.push(n.clone(), v.clone());
        }
        let wire = Message::Response(resp).to_bytes();
        self.ua.handle_message(self.now, flow, sipcore::parse(wire).unwrap());
        self.settle();
    }

    /// Fires what is due now (the transaction layer's zero-length timers on
    /// reliable transports), as a driver does before it sleeps.
    pub(crate) fn settle(&mut self) {
        while self.ua.poll_timeout().is_some_and(|t| t <= self.now) {
            self.ua.handle_timeout(self.now);
        }
    }

    /// The switch's 200 OK to a REGISTER.
    pub(crate) fn ok_register(&mut self, flow: FlowId, req: &Request, expires: u32) {
        let contact = req.headers.get(&HeaderName::Contact).unwrap().to_string();
        self.answer(
            flow,
            req,
            200,
            &[
                (HeaderName::Contact, format!("{contact};expires={expires}")),
                (HeaderName::Require, "outbound".into()),
                (HeaderName::FlowTimer, "30".into()),
                (HeaderName::XBearerAddress, "192.0.2.10".into()),
            ],
        );
    }

    /// Challenges a REGISTER without credentials, checks them when present
    /// (with sipcore's digest server), and grants it.
    pub(crate) fn register_round(&mut self, expires: u32) -> (FlowId, Request) {
        let (flow, req) = self.sent();
        assert_eq!(req.method, Method::Register);
        let Some(auth) = req.headers.get(&HeaderName::Authorization).map(str::to_owned) else {
            let ch: Vec<String> = self.digest.challenge(self.unix(), None, false).iter().map(|c| c.to_string()).collect();
            let extra: Vec<_> = ch.into_iter().map(|c| (HeaderName::WwwAuthenticate, c)).collect();
            self.answer(flow, &req, 401, &extra);
            return self.register_round(expires);
        };
        let creds = parse_credentials(&auth).unwrap();
        let now = self.unix();
        self.digest
            .verify(now, &DigestRequest::new("REGISTER", &req.uri), None, &creds, Some(Secret::Password("pw")))
            .expect("credentials verify");
        self.ok_register(flow, &req, expires);
        (flow, req)
    }

    /// The OPTIONS probe of the `via` source, answered.
    pub(crate) fn probe_round(&mut self) {
        let (flow, req) = self.sent();
        assert_eq!(req.method, Method::Options, "{req}");
        self.answer(flow, &req, 200, &[]);
    }

    /// Start to first registration.
    pub(crate) fn registered(&mut self) -> (FlowId, Request) {
        self.ua.start(self.now);
        self.connect();
        self.probe_round();
        let r = self.register_round(600);
        let ev = self.events();
        assert!(matches!(ev.as_slice(), [Event::Registered(_)]), "{ev:?}");
        r
    }
}

pub(crate) fn header(req: &Request, name: HeaderName) -> Option<String> {
    req.headers.get(&name).map(|v| v.to_string())
}
