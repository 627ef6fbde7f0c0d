//! Shared harness for the registrar's end-to-end tests against the real
//! `switch` binary: a lab (temporary data dir, provisioning and `registrations
//! --json` through the CLI), a running switch (its own free port, config file
//! and log; killed on drop, its log printed when a test fails), blocking TCP and
//! UDP clients that speak the wire contract byte for byte, and a phone that
//! builds REGISTERs and answers digest challenges.
//!
//! Every read has a timeout and every wait a deadline, so a broken switch fails
//! a test instead of hanging it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use sipcore::auth::{Challenge, DigestClient, DigestRequest, Secret, parse_challenge};
use sipcore::framing::{Frame, Framer, FramerConfig, Role};
use sipcore::{HeaderName, Message, Response};
use std::cell::Cell;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The switch's default domain and digest realm.
pub const DOMAIN: &str = "switch.local";
/// How long any single read waits for the switch before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Polls `probe` every 50 ms until it returns `Ok`, failing the test with the
/// last `Err` (what was seen instead) once `within` has passed.
#[track_caller]
pub fn wait_for<T>(within: Duration, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + within;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => panic!("waited {within:?} for {what}; last seen: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn free_port() -> u16 {
    // TCP and UDP listen on the same number; take one free for TCP and check UDP too.
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// What goes in the switch's TOML config besides listeners and data dir.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub relay_address: Option<String>,
    /// Listen on the wildcard address (0.0.0.0) rather than 127.0.0.1.
    pub listen_any: bool,
    /// `key = value` lines for `[registrar]`.
    pub registrar: Vec<String>,
    /// `key = value` lines for `[abuse]`.
    pub abuse: Vec<String>,
}

impl Config {
    pub fn relay(mut self, ip: &str) -> Self {
        self.relay_address = Some(ip.to_owned());
        self
    }

    pub fn listen_any(mut self) -> Self {
        self.listen_any = true;
        self
    }

    pub fn registrar(mut self, line: &str) -> Self {
        self.registrar.push(line.to_owned());
        self
    }

    pub fn abuse(mut self, line: &str) -> Self {
        self.abuse.push(line.to_owned());
        self
    }

    fn toml(&self, port: u16, data: &Path) -> String {
        let host = if self.listen_any { "0.0.0.0" } else { "127.0.0.1" };
        let mut t = format!(
            "listen = [\"tcp:{host}:{port}\", \"udp:{host}:{port}\"]\ndata_dir = {}\n",
            toml_string(&data.display().to_string())
        );
        if let Some(ip) = &self.relay_address {
            t.push_str(&format!("relay_address = \"{ip}\"\n"));
        }
        t.push_str("[registrar]\n");
        for l in &self.registrar {
            t.push_str(l);
            t.push('\n');
        }
        t.push_str("[abuse]\n");
        for l in &self.abuse {
            t.push_str(l);
            t.push('\n');
        }
        t
    }
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A temporary directory holding one switch's data dir, configs and logs.
pub struct Lab {
    tmp: tempfile::TempDir,
    pub data: PathBuf,
    runs: Cell<u32>,
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

impl Lab {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        Lab { tmp, data, runs: Cell::new(0) }
    }

    /// Runs `switch ARGS --data-dir DATA` to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_switch"))
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .env_remove("SWITCH_PASSWORD")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    #[track_caller]
    fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(out.status.success(), "switch {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// `switch subscriber add NUMBER --password PW [--mac MAC]`.
    pub fn add_subscriber(&self, number: &str, password: &str, mac: Option<&str>) {
        let mut args = vec!["subscriber", "add", number, "--password", password];
        if let Some(mac) = mac {
            args.extend(["--mac", mac]);
        }
        self.cli_ok(&args);
    }

    /// `switch registrations --json`.
    pub fn registrations(&self) -> Vec<Value> {
        let out = self.cli_ok(&["registrations", "--json"]);
        match serde_json::from_str(&out).unwrap() {
            Value::Array(v) => v,
            other => panic!("registrations --json is not an array: {other}"),
        }
    }

    /// The listed record for `number`, if any.
    pub fn record(&self, number: &str) -> Option<Value> {
        self.registrations().into_iter().find(|r| r["number"] == number)
    }

    /// The listed record's state, or "absent".
    pub fn state(&self, number: &str) -> String {
        self.record(number).map_or_else(|| "absent".to_owned(), |r| r["state"].as_str().unwrap_or("?").to_owned())
    }

    /// Polls `registrations --json` until `number` is in `state` ("absent" for no record).
    #[track_caller]
    pub fn wait_state(&self, number: &str, state: &str, within: Duration) -> Option<Value> {
        wait_for(within, &format!("{number} to be {state}"), || {
            let rec = self.record(number);
            let now = rec.as_ref().map_or("absent", |r| r["state"].as_str().unwrap_or("?"));
            if now == state { Ok(rec.clone()) } else { Err(format!("{rec:?}")) }
        })
    }

    /// Starts `switch run --config FILE` on a free port with this lab's data dir,
    /// and waits until it says it is running.
    pub fn start(&self, cfg: &Config) -> Switch {
        for _ in 0..5 {
            let run = self.runs.get() + 1;
            self.runs.set(run);
            let port = free_port();
            let config = self.tmp.path().join(format!("switch-{run}.toml"));
            fs::write(&config, cfg.toml(port, &self.data)).unwrap();
            let log = self.tmp.path().join(format!("switch-{run}.log"));
            let child = Command::new(env!("CARGO_BIN_EXE_switch"))
                .arg("run")
                .arg("--config")
                .arg(&config)
                .env("RUST_LOG", "info")
                .env_remove("NO_COLOR")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&log).unwrap())
                .spawn()
                .unwrap();
            let mut sw = Switch { child: Some(child), port, log };
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if sw.log_text().contains("switch running") {
                    return sw;
                }
                if let Some(status) = sw.child.as_mut().unwrap().try_wait().unwrap() {
                    let text = sw.log_text();
                    sw.child = None;
                    // Another process took the port between our check and the bind: try another.
                    assert!(text.contains("in use"), "switch exited at start ({status}):\n{text}");
                    break;
                }
                assert!(Instant::now() < deadline, "switch did not start:\n{}", sw.log_text());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free port for the switch after 5 tries");
    }
}

/// A running `switch run`; killed (SIGKILL) on drop unless already stopped.
pub struct Switch {
    child: Option<Child>,
    pub port: u16,
    pub log: PathBuf,
}

impl Switch {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The log so far (stderr).
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log lines containing every one of `needles`.
    pub fn log_lines(&self, needles: &[&str]) -> Vec<String> {
        self.log_text().lines().filter(|l| needles.iter().all(|n| l.contains(n))).map(str::to_owned).collect()
    }

    /// Waits until a log line contains every one of `needles`; returns it.
    #[track_caller]
    pub fn wait_log(&self, needles: &[&str], within: Duration) -> String {
        wait_for(within, &format!("a log line with {needles:?}"), || {
            self.log_lines(needles).into_iter().next().ok_or_else(|| "not yet".to_owned())
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("switch not running").id()
    }

    /// `kill -9`: no shutdown path runs.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("switch not running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, then waits (bounded) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("switch not running");
        let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("switch did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- switch log ({}) ----\n{}", self.log.display(), self.log_text());
        }
    }
}

/// How a read ended without a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Timeout,
    /// EOF or reset: the switch closed the connection.
    Closed,
}

/// Where a REGISTER goes: a TCP connection or a UDP socket.
pub trait Link {
    /// `TCP` or `UDP`, for Via.
    fn via_transport(&self) -> &'static str;
    fn local(&self) -> SocketAddr;
    fn send(&mut self, bytes: &[u8]);
    /// The next response; fails the test after [`IO_TIMEOUT`].
    fn response(&mut self) -> Response;
}

/// A blocking TCP connection to the switch, framed like an RFC 5626 client
/// (every CRLF between messages is a pong).
pub struct Tcp {
    stream: TcpStream,
    buf: BytesMut,
    framer: Framer,
    local: SocketAddr,
    /// Pongs seen while waiting for responses.
    pub pongs: usize,
}

impl Tcp {
    pub fn connect(sw: &Switch) -> Self {
        Self::wrap(TcpStream::connect(sw.addr()).unwrap())
    }

    /// Connects from a chosen loopback source address (127.0.0.2, ...), so the
    /// switch sees a distinct peer IP.
    pub fn connect_from(src: Ipv4Addr, sw: &Switch) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
        let stream = rt.block_on(async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.bind(SocketAddr::from((src, 0)))?;
            sock.connect(sw.addr()).await?.into_std()
        });
        let stream = stream.unwrap();
        stream.set_nonblocking(false).unwrap();
        Self::wrap(stream)
    }

    fn wrap(stream: TcpStream) -> Self {
        stream.set_nodelay(true).unwrap();
        let local = stream.local_addr().unwrap();
        Tcp { stream, buf: BytesMut::new(), framer: Framer::new(Role::Client, FramerConfig::default()), local, pongs: 0 }
    }

    /// Sends a keep-alive ping (CRLF CRLF).
    pub fn ping(&mut self) {
        self.send(b"\r\n\r\n");
    }

    /// The next frame (message or pong) within `within`.
    pub fn frame(&mut self, within: Duration) -> Result<Frame, End> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(f) = self.framer.decode(&mut self.buf).expect("the switch sent an unframeable stream") {
                return Ok(f);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(End::Timeout);
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(End::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Err(End::Timeout),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(End::Closed),
            }
        }
    }

    /// The next response within `within`, skipping (and counting) pongs.
    pub fn response_within(&mut self, within: Duration) -> Result<Response, End> {
        let deadline = Instant::now() + within;
        loop {
            match self.frame(deadline.saturating_duration_since(Instant::now()))? {
                Frame::Pong => self.pongs += 1,
                Frame::Ping => panic!("the switch pinged a client"),
                Frame::Message(bytes) => return Ok(parse_response(bytes)),
            }
        }
    }

    /// The next message within `within`, as text (for answers the parser
    /// would refuse, e.g. to a request with a broken CSeq), skipping pongs.
    pub fn raw_message(&mut self, within: Duration) -> Result<String, End> {
        let deadline = Instant::now() + within;
        loop {
            match self.frame(deadline.saturating_duration_since(Instant::now()))? {
                Frame::Pong => self.pongs += 1,
                Frame::Ping => panic!("the switch pinged a client"),
                Frame::Message(bytes) => return Ok(String::from_utf8_lossy(&bytes).into_owned()),
            }
        }
    }

    /// Waits for one pong; fails on anything else.
    #[track_caller]
    pub fn expect_pong(&mut self, within: Duration) {
        match self.frame(within) {
            Ok(Frame::Pong) => self.pongs += 1,
            other => panic!("expected a CRLF pong, got {other:?}"),
        }
    }

    /// True when the switch closes the connection within `within` (anything it
    /// sends meanwhile is skipped).
    pub fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            match self.frame(deadline.saturating_duration_since(Instant::now())) {
                Ok(_) => {}
                Err(End::Closed) => return true,
                Err(End::Timeout) => return false,
            }
        }
    }

    /// Half-closes our side (FIN), as a phone going away does.
    pub fn shutdown(&self) {
        self.stream.shutdown(std::net::Shutdown::Both).unwrap();
    }

    /// Writes, tolerating a peer that already closed (returns false then).
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }
}

impl Link for Tcp {
    fn via_transport(&self) -> &'static str {
        "TCP"
    }

    fn local(&self) -> SocketAddr {
        self.local
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    #[track_caller]
    fn response(&mut self) -> Response {
        match self.response_within(IO_TIMEOUT) {
            Ok(r) => r,
            Err(e) => panic!("no response on TCP {}: {e:?}", self.local),
        }
    }
}

/// A UDP socket talking to the switch.
pub struct Udp {
    sock: UdpSocket,
    server: SocketAddr,
}

impl Udp {
    pub fn bind(sw: &Switch) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        Udp { sock, server: sw.addr() }
    }
}

impl Link for Udp {
    fn via_transport(&self) -> &'static str {
        "UDP"
    }

    fn local(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.server).unwrap();
    }

    fn response(&mut self) -> Response {
        self.sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut buf = vec![0u8; 65_536];
        let (n, from) = self.sock.recv_from(&mut buf).expect("no UDP response");
        assert_eq!(from, self.server, "response from the switch's address");
        parse_response(Bytes::copy_from_slice(&buf[..n]))
    }
}

#[track_caller]
pub fn parse_response(bytes: Bytes) -> Response {
    match sipcore::parse(bytes.clone()) {
        Ok(Message::Response(r)) => r,
        other => panic!("expected a response, got {other:?} from {:?}", String::from_utf8_lossy(&bytes)),
    }
}

/// The first value of header `name`.
pub fn header(r: &Response, name: &str) -> Option<String> {
    r.headers.get(&HeaderName::from(name)).map(|v| v.to_string())
}

/// Every value of header `name`.
pub fn headers(r: &Response, name: &str) -> Vec<String> {
    let n = HeaderName::from(name);
    r.headers.get_all(&n).map(|v| v.to_string()).collect()
}

/// `STATUS REASON`, for messages.
pub fn line(r: &Response) -> String {
    format!("{} {}", r.status, r.reason)
}

/// What the Contact header of a REGISTER holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    /// The phone's own binding.
    Binding,
    /// No Contact: a binding query.
    Absent,
    /// `Contact: *`.
    Star,
}

/// The Authorization a REGISTER carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// Answer the last challenge seen (the nonce count goes up each time).
    Digest,
    /// Exactly this header value (a replay).
    Raw(String),
}

fn random_hex(bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rand::random::<u8>())).collect()
}

/// A phone: its identity, its REGISTER dialog (Call-ID, CSeq) and its digest state.
pub struct Phone {
    pub number: String,
    pub password: String,
    /// `+sip.instance` (a `urn:uuid:`), and `reg-id`: with `outbound`, an RFC 5626 client.
    pub instance: Option<String>,
    pub reg_id: Option<u32>,
    pub outbound: bool,
    pub mac: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub bearer_port: Option<u16>,
    pub user_agent: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    digest: DigestClient,
    challenges: Vec<String>,
    /// Every Authorization value sent, last one last.
    pub sent_auth: Vec<String>,
}

impl Phone {
    /// Our agent: outbound with instance and reg-id, and every X- header.
    /// `n` makes the identity distinct (MAC, instance, addresses).
    pub fn agent(number: &str, password: &str, n: u8) -> Self {
        let mut p = Self::plain(number, password);
        p.instance = Some(format!("urn:uuid:6f1c2a3e-0000-4000-8000-0000000000{n:02x}"));
        p.reg_id = Some(1);
        p.outbound = true;
        p.mac = Some(format!("02:42:ac:11:00:{n:02x}"));
        p.private_ip = Some(format!("10.1.0.{n}"));
        p.public_ip = Some(format!("198.51.100.{n}"));
        p.bearer_port = Some(40_000 + u16::from(n));
        p.user_agent = Some(format!("e2e-agent/{n}"));
        p
    }

    /// A standard phone: no X- headers, no outbound, a plain Contact.
    pub fn plain(number: &str, password: &str) -> Self {
        Phone {
            number: number.to_owned(),
            password: password.to_owned(),
            instance: None,
            reg_id: None,
            outbound: false,
            mac: None,
            private_ip: None,
            public_ip: None,
            bearer_port: None,
            user_agent: Some("e2e-plain-phone/1.0".to_owned()),
            call_id: format!("{}@e2e", random_hex(8)),
            cseq: 0,
            digest: DigestClient::new(),
            challenges: Vec::new(),
            sent_auth: Vec::new(),
        }
    }

    /// The Request-URI (and digest uri).
    pub fn request_uri(&self) -> String {
        format!("sip:{DOMAIN}")
    }

    /// The host the phone believes it has: X-Private-IP, else its socket's IP.
    fn own_host(&self, local: SocketAddr) -> String {
        self.private_ip.clone().unwrap_or_else(|| local.ip().to_string())
    }

    /// The Contact URI this phone registers over `link`.
    pub fn contact_uri(&self, local: SocketAddr, transport: &str) -> String {
        let mut uri = format!("sip:{}@{}:{}", self.number, self.own_host(local), local.port());
        if transport == "TCP" {
            uri.push_str(";transport=tcp");
        }
        if self.outbound {
            uri.push_str(";ob");
        }
        uri
    }

    /// Answers the last challenge seen.
    pub fn authorization(&mut self) -> String {
        assert!(!self.challenges.is_empty(), "no challenge to answer");
        let parsed: Vec<Challenge<'_>> = self.challenges.iter().map(|c| parse_challenge(c).unwrap()).collect();
        let uri = self.request_uri();
        let creds = self
            .digest
            .respond(&parsed, &self.number, Secret::Password(&self.password), &DigestRequest::new("REGISTER", &uri))
            .unwrap();
        creds.to_string()
    }

    /// Remembers the challenges of a 401.
    #[track_caller]
    pub fn learn(&mut self, r: &Response) {
        assert_eq!(r.status, 401, "not a challenge: {}", line(r));
        self.challenges = headers(r, "WWW-Authenticate");
        assert!(!self.challenges.is_empty(), "401 without WWW-Authenticate");
    }

    /// A REGISTER's bytes, ready to send over a link with this local address.
    pub fn request(&mut self, transport: &str, local: SocketAddr, contact: ContactKind, expires: Option<u32>, auth: &Auth) -> String {
        self.cseq += 1;
        let host = self.own_host(local);
        let n = &self.number;
        let mut m = format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} {host}:{port};branch=z9hG4bK{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{n}@{DOMAIN}>;tag={tag}\r\n\
             To: <sip:{n}@{DOMAIN}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n",
            uri = self.request_uri(),
            port = local.port(),
            branch = random_hex(8),
            tag = random_hex(4),
            call_id = self.call_id,
            cseq = self.cseq,
        );
        match contact {
            ContactKind::Binding => {
                let mut c = format!("Contact: <{}>", self.contact_uri(local, transport));
                if let Some(i) = &self.instance {
                    c.push_str(&format!(";+sip.instance=\"<{i}>\""));
                }
                if let Some(r) = self.reg_id {
                    c.push_str(&format!(";reg-id={r}"));
                }
                m.push_str(&c);
                m.push_str("\r\n");
            }
            ContactKind::Star => m.push_str("Contact: *\r\n"),
            ContactKind::Absent => {}
        }
        if let Some(e) = expires {
            m.push_str(&format!("Expires: {e}\r\n"));
        }
        if self.outbound {
            m.push_str("Supported: outbound, path\r\n");
        }
        let x = [
            ("X-MAC", self.mac.clone()),
            ("X-Private-IP", self.private_ip.clone()),
            ("X-Public-IP", self.public_ip.clone()),
            ("X-Bearer-Port", self.bearer_port.map(|p| p.to_string())),
            ("User-Agent", self.user_agent.clone()),
        ];
        for (name, value) in x {
            if let Some(v) = value {
                m.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        let auth = match auth {
            Auth::None => None,
            Auth::Digest => Some(self.authorization()),
            Auth::Raw(v) => Some(v.clone()),
        };
        if let Some(a) = auth {
            m.push_str(&format!("Authorization: {a}\r\n"));
            self.sent_auth.push(a);
        }
        m.push_str("Content-Length: 0\r\n\r\n");
        m
    }

    /// Sends one REGISTER and returns its response.
    pub fn send(&mut self, link: &mut impl Link, contact: ContactKind, expires: Option<u32>, auth: &Auth) -> Response {
        let req = self.request(link.via_transport(), link.local(), contact, expires, auth);
        link.send(req.as_bytes());
        let r = link.response();
        let cseq = r.headers.cseq().unwrap();
        assert_eq!(cseq.seq, self.cseq, "response to the request just sent: {}", line(&r));
        r
    }

    /// A REGISTER with authentication as a phone does it: answer the last
    /// challenge if there is one; on a 401, learn it and retry once. Returns
    /// the final response, whatever it is.
    pub fn exchange(&mut self, link: &mut impl Link, contact: ContactKind, expires: Option<u32>) -> Response {
        let auth = if self.challenges.is_empty() { Auth::None } else { Auth::Digest };
        let r = self.send(link, contact, expires, &auth);
        if r.status != 401 {
            return r;
        }
        self.learn(&r);
        self.send(link, contact, expires, &Auth::Digest)
    }

    /// Registers the phone's binding; fails the test unless the answer is 200.
    #[track_caller]
    pub fn register(&mut self, link: &mut impl Link, expires: Option<u32>) -> Response {
        let r = self.exchange(link, ContactKind::Binding, expires);
        assert_eq!(r.status, 200, "REGISTER {} refused: {}", self.number, line(&r));
        r
    }
}

/// The JSON field as a string (panics if absent or not a string).
#[track_caller]
pub fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_else(|| panic!("{field} is not a string in {v}"))
}

/// The IP of `addr`.
pub fn ip(addr: SocketAddr) -> IpAddr {
    addr.ip()
}
