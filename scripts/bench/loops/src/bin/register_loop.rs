//! The switch's work per digest registration, without sockets or a clock, for
//! instruction counts that do not move with the machine's load (issue 17).
//!
//! Each registration is what SIPp's `scripts/bench/scenarios/reg_tcp_auth.xml`
//! does over its own TCP flow: REGISTER, 401, REGISTER with Authorization,
//! 200 OK. The server side of it runs in [`server`] and nothing else does, so
//! callgrind can count it alone:
//!
//! ```text
//! cargo build --release -p bench-loops --bin register_loop
//! valgrind --tool=callgrind --toggle-collect='*register_loop*server*' \
//!     target/release/register_loop 2000
//! callgrind_annotate --inclusive=yes callgrind.out.PID | head -60
//! ```
//!
//! [`server`] is what the driver (`switch/src/server/`) does with a message:
//! parse, the provisioning check (the subscribers' change counter) where the answer
//! depends on the subscribers (the REGISTER with credentials), the core in virtual
//! time, then every output: responses printed as the transport would before
//! writing them, changed records queued, and at each commit ticket one SQLite
//! transaction for them (the store thread's group commit, a batch of one
//! registration: the figure at low rates). The socket read and write are the
//! one part of a request's path left out. The phone's side (building its
//! requests, reading the challenge, the digest response) is outside
//! [`server`]: the client's cost is not the switch's.
//!
//! Arguments: registrations to run (default 1000), 1 ms apart in virtual
//! time; the numbers (each on its own flow) they cycle over (default
//! [`USERS`]); the store writer's page cache in KiB (default the store's).
//! Any answer other than the expected 401 or 200 stops it with an error, so a
//! broken path cannot pass for a fast one.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sipcore::auth::{Algorithm, DigestClient, DigestRequest, Secret};
use sipcore::transaction::TimerConfig;
use sipcore::transport::{Flow, FlowId, TransportEvent, TransportKind};
use sipcore::{Message, Response};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switch::abuse::AbuseConfig;
use switch::b2bua::B2buaConfig;
use switch::core::{Core, CoreConfig, Output};
use switch::location::{Change, LocationConfig};
use switch::record::RlRecord;
use switch::registrar::RegistrarConfig;
use switch::store::NewSubscriber;
use switch::store::{Store, WallClock};

/// Numbers (each on its own flow) the registrations cycle over unless the
/// second argument says: `check.sh`'s count is at 200, where the store's pages
/// all stay cached; thousands show what a store larger than its cache costs.
const USERS: u32 = 200;
const REALM: &str = "127.0.0.1";
const SERVER: &str = "127.0.0.1:5060";

fn number(user: u32) -> String {
    format!("u{user:05}")
}

fn password(user: u32) -> String {
    format!("pw{user:05}")
}

fn flow(user: u32) -> Flow {
    let remote: SocketAddr = format!("127.0.0.1:{}", 20_000 + user).parse().unwrap();
    Flow { id: FlowId(u64::from(user) + 2), transport: TransportKind::Tcp, local: SERVER.parse().unwrap(), remote }
}

fn config() -> CoreConfig {
    let timers = TimerConfig::default();
    CoreConfig {
        registrar: RegistrarConfig {
            realm: REALM.into(),
            nonce_lifetime: Duration::from_secs(300),
            // As registrar.sh runs it (`--digest-algorithms md5`, SIPp reads one challenge).
            digest_algorithms: vec![Algorithm::Md5],
            relay_address: None,
            location: LocationConfig::default(),
            abuse: AbuseConfig::default(),
        },
        b2bua: B2buaConfig { domain: REALM.into(), ring_time: Duration::from_secs(60), t1: timers.t1, t2: timers.t2 },
        timers,
        trusted_peers: Vec::new(),
        udp: Vec::new(),
        local_ip: |flow| flow.local.ip(),
        server_header: None,
        // One node: no Redis, no other node to forward to.
        cluster: None,
        push_hold: None,
    }
}

/// The switch's side: the core, the store's two connections and what the
/// store thread would have queued.
struct Switch {
    core: Core,
    /// The driver's read connection (the provisioning check).
    reader: Store,
    /// The store thread's connection.
    writer: Store,
    clock: WallClock,
    queued: Vec<RlRecord>,
    /// Responses as printed for the wire, for the phone to read.
    sent: Vec<Bytes>,
}

/// One message from the network, handled as the driver would (see the module docs).
#[inline(never)]
fn server(switch: &mut Switch, now: Instant, flow: Flow, wire: Bytes) {
    let message = sipcore::parse(wire).unwrap();
    if switch::server::needs_subscribers(&message) {
        black_box(switch.reader.subscribers_version().unwrap());
    }
    if let Some(deadline) = switch.core.poll_timeout().filter(|d| *d <= now) {
        switch.core.handle_timeout(deadline.max(now));
    }
    switch.core.handle_transport(now, TransportEvent::Message { flow, message });
    while let Some(output) = switch.core.poll_output() {
        match output {
            Output::Transmit(t) => {
                let mut buf = BytesMut::new();
                t.message.encode(&mut buf);
                switch.sent.push(buf.freeze());
            }
            Output::Location(Change::Upserted { record, .. } | Change::Challenged { record, .. }) => {
                switch.queued.push(switch.clock.stored_record(record));
            }
            Output::Location(_) => {}
            Output::Commit(ticket) => {
                let queued = std::mem::take(&mut switch.queued);
                switch.writer.transaction(|s| queued.iter().try_for_each(|r| s.put_record(r))).unwrap();
                switch.core.handle_committed(now, ticket);
            }
            other => panic!("unexpected output {other:?}"),
        }
    }
}

/// The phone's side: its requests as SIPp writes them.
struct Phone {
    digest: DigestClient,
    cseq: u32,
}

impl Phone {
    fn register(&mut self, user: u32, auth: Option<&str>) -> Bytes {
        self.cseq += 1;
        let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
        let n = number(user);
        let cseq = self.cseq;
        Bytes::from(format!(
            "REGISTER sip:{SERVER} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:5999;branch=z9hG4bK-{cseq}-{user};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{n}@{REALM}>;tag=42r{user}\r\nTo: <sip:{n}@{REALM}>\r\n\
             Call-ID: {user}-42@127.0.0.2\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{n}@127.0.0.2:5999;transport=tcp>\r\nExpires: 3600\r\nUser-Agent: bench-sipp\r\n\
             {auth}Content-Length: 0\r\n\r\n"
        ))
    }

    /// The Authorization for the 401 in `wire`.
    fn answer(&mut self, user: u32, wire: Bytes) -> String {
        let response = status(wire, 401);
        let challenges: Vec<_> = response.headers.digest_challenges(false).filter_map(Result::ok).collect();
        let pw = password(user);
        let uri = format!("sip:{SERVER}");
        let request = DigestRequest::new("REGISTER", &uri);
        self.digest.respond(&challenges, &number(user), Secret::Password(&pw), &request).unwrap().to_string()
    }
}

fn status(wire: Bytes, want: u16) -> Response {
    match sipcore::parse(wire) {
        Ok(Message::Response(r)) if r.status == want => r,
        other => panic!("expected {want}, got {other:?}"),
    }
}

fn only_sent(switch: &mut Switch) -> Bytes {
    assert_eq!(switch.sent.len(), 1, "one response per request");
    switch.sent.pop().unwrap()
}

fn main() {
    let registrations: u32 = std::env::args().nth(1).map_or(1000, |s| s.parse().expect("a number of registrations"));
    let users: u32 = std::env::args().nth(2).map_or(USERS, |s| s.parse().expect("a number of numbers"));
    let dir = tempfile::tempdir().unwrap();
    let writer = Store::open(dir.path()).unwrap();
    // Third argument: the writer's page cache in KiB instead of the store's
    // (its price in page reads against the memory it keeps).
    if let Some(kib) = std::env::args().nth(3) {
        writer.set_page_cache_kib(kib.parse().expect("KiB")).unwrap();
    }
    writer
        .transaction(|s| (0..users).try_for_each(|u| s.add_subscriber(NewSubscriber::new(&number(u), &password(u), REALM)).map(drop)))
        .unwrap();
    let subscribers = writer.subscribers().unwrap().into_iter().collect();
    let reader = Store::open_existing(dir.path()).unwrap();
    let t0 = Instant::now();
    let mut switch = Switch {
        core: Core::new(t0, config(), subscribers, Vec::new(), StdRng::seed_from_u64(17)),
        reader,
        writer,
        clock: WallClock::new(t0, 1_800_000_000_000),
        queued: Vec::new(),
        sent: Vec::new(),
    };
    while switch.core.poll_output().is_some() {}
    for user in 0..users {
        switch.core.handle_transport(t0, TransportEvent::Opened { flow: flow(user) });
    }
    let mut phone = Phone { digest: DigestClient::new().with_cnonce_source(|| "0a4f113b".to_owned()), cseq: 0 };
    for i in 0..registrations {
        let user = i % users;
        let now = t0 + Duration::from_millis(u64::from(i) + 1);
        let first = phone.register(user, None);
        server(&mut switch, now, flow(user), first);
        let auth = phone.answer(user, only_sent(&mut switch));
        let second = phone.register(user, Some(&auth));
        server(&mut switch, now, flow(user), second);
        status(only_sent(&mut switch), 200);
    }
    println!("{registrations} registrations over {users} numbers, each answered 401 then 200");
}
