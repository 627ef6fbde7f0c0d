//! SIP tracing (issue 16): with `[hep] collector`, every SIP message the switch
//! receives and sends goes to the collector as a HEP v3 packet. Here the test
//! is the collector; the packets are decoded by an independent decoder
//! (`hep_decode.py`, written from the HEP3 specification) and compared with
//! what the test's phones put on and took off the wire, byte for byte; the
//! same packets go on to `sngrep`'s HEP listener, a HEP consumer of the
//! field's own, whose decoded capture `tshark` reads back. The traffic: a
//! REGISTER over UDP, one over TLS, and a call from the UDP phone to the TLS
//! phone (INVITE, 407, ACK, INVITE, 200, ACK, BYE, 200).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use bytes::{Bytes, BytesMut};
use common::calls::{answer, hex, sdp};
use common::{Config, DOMAIN, IO_TIMEOUT, Link, Phone, Switch, Udp, lab};
use serde_json::Value;
use sipcore::auth::{DigestClient, DigestRequest, Secret, parse_challenge};
use sipcore::framing::{Frame, Framer, FramerConfig, Role};
use sipcore::transport::tls::{self, Fingerprint};
use sipcore::{HeaderName, Message, Method, Request, Response};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tests::ports::PortBlock;
use tests::proc::Proc;

/// One message as a phone saw it on the wire.
#[derive(Debug, Clone)]
struct Seen {
    src: SocketAddr,
    dst: SocketAddr,
    /// The IP protocol id the packet must carry: 17 UDP, 22 TLS.
    protocol: u64,
    bytes: Vec<u8>,
}

/// A phone's wire: every message it sent and took, as bytes.
trait Recorded: Link {
    fn seen(&self) -> &[Seen];
    /// The next message, whatever it is.
    fn next(&mut self) -> Message;

    /// The next message `keep` accepts (100 Trying and retransmissions are skipped by it).
    fn next_where(&mut self, keep: impl Fn(&Message) -> bool) -> Message {
        loop {
            let m = self.next();
            if keep(&m) {
                return m;
            }
        }
    }
}

/// A phone on a UDP socket.
struct UdpWire {
    udp: Udp,
    seen: Vec<Seen>,
}

impl UdpWire {
    fn new(sw: &Switch) -> Self {
        UdpWire { udp: Udp::bind(sw), seen: Vec::new() }
    }
}

impl Link for UdpWire {
    fn via_transport(&self) -> &'static str {
        self.udp.via_transport()
    }
    fn local(&self) -> SocketAddr {
        self.udp.local()
    }
    fn send(&mut self, bytes: &[u8]) {
        self.udp.send(bytes);
        self.seen.push(Seen { src: self.local(), dst: self.udp.server(), protocol: 17, bytes: bytes.to_vec() });
    }
    fn response(&mut self) -> Response {
        response(self.next())
    }
}

impl Recorded for UdpWire {
    fn seen(&self) -> &[Seen] {
        &self.seen
    }
    fn next(&mut self) -> Message {
        let bytes = self.udp.datagram();
        self.seen.push(Seen { src: self.udp.server(), dst: self.local(), protocol: 17, bytes: bytes.to_vec() });
        sipcore::parse(bytes).unwrap()
    }
}

/// A phone on a TLS connection: the bytes recorded are the plaintext, which
/// only the two ends (and the switch's tracing) ever see.
struct TlsWire {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    local: SocketAddr,
    server: SocketAddr,
    buf: BytesMut,
    framer: Framer,
    seen: Vec<Seen>,
}

impl TlsWire {
    fn connect(sw: &Switch) -> Self {
        let server = sw.listener("tls");
        let pinned: Fingerprint = sw.tls_fingerprint().parse().unwrap();
        let config = tls::client_config_pinned(pinned, None).unwrap();
        let conn = rustls::ClientConnection::new(config, DOMAIN.try_into().unwrap()).unwrap();
        let tcp = TcpStream::connect(server).unwrap();
        tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let local = tcp.local_addr().unwrap();
        let stream = rustls::StreamOwned::new(conn, tcp);
        let framer = Framer::new(Role::Client, FramerConfig::default());
        TlsWire { stream, local, server, buf: BytesMut::new(), framer, seen: Vec::new() }
    }
}

impl Link for TlsWire {
    fn via_transport(&self) -> &'static str {
        "TLS"
    }
    fn local(&self) -> SocketAddr {
        self.local
    }
    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
        self.stream.flush().unwrap();
        self.seen.push(Seen { src: self.local, dst: self.server, protocol: 22, bytes: bytes.to_vec() });
    }
    fn response(&mut self) -> Response {
        response(self.next())
    }
}

impl Recorded for TlsWire {
    fn seen(&self) -> &[Seen] {
        &self.seen
    }
    fn next(&mut self) -> Message {
        loop {
            match self.framer.decode(&mut self.buf).unwrap() {
                Some(Frame::Message(bytes)) => {
                    self.seen.push(Seen { src: self.server, dst: self.local, protocol: 22, bytes: bytes.to_vec() });
                    return sipcore::parse(bytes).unwrap();
                }
                Some(_) => continue,
                None => {}
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).expect("no message on TLS");
            assert!(n > 0, "the switch closed the TLS connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn request(m: Message) -> Request {
    match m {
        Message::Request(r) => r,
        Message::Response(r) => panic!("expected a request, got {}", r.status),
    }
}

fn response(m: Message) -> Response {
    match m {
        Message::Response(r) => r,
        Message::Request(r) => panic!("expected a response, got {}", r.method),
    }
}

fn is_final(status: u16, method: Method) -> impl Fn(&Message) -> bool {
    move |m| matches!(m, Message::Response(r) if r.status == status && r.headers.cseq().unwrap().method == method)
}

/// The caller's side of the call: INVITE (with `auth`) from `wire`.
fn invite(wire: &mut UdpWire, call_id: &str, tag: &str, cseq: u32, auth: Option<&str>) -> Request {
    let uri = format!("sip:1002@{DOMAIN}");
    let body = sdp(40_000, "caller");
    let auth = auth.map(|a| format!("Proxy-Authorization: {a}\r\n")).unwrap_or_default();
    let text = format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {a};branch=z9hG4bK{b};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:1001@{DOMAIN}>;tag={tag}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
         Contact: <sip:1001@{a}>\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{body}",
        a = wire.local(),
        b = hex(),
        len = body.len(),
    );
    wire.send(text.as_bytes());
    request(sipcore::parse(Bytes::from(text)).unwrap())
}

/// An in-dialog request from the caller (ACK for the 2xx, BYE).
fn in_dialog(wire: &mut UdpWire, method: Method, call_id: &str, tag: &str, to: &str, cseq: u32) {
    let text = format!(
        "{method} sip:switch@{sw} SIP/2.0\r\nVia: SIP/2.0/UDP {a};branch=z9hG4bK{b};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:1001@{DOMAIN}>;tag={tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
        sw = wire.udp.server(),
        a = wire.local(),
        b = hex(),
    );
    wire.send(text.as_bytes());
}

/// The call: 1001 on UDP calls 1002 on TLS, which answers; 1001 hangs up.
fn call(caller: &mut UdpWire, callee: &mut TlsWire) -> String {
    let (call_id, tag) = (format!("{}@hep-test", hex()), hex());
    let first = invite(caller, &call_id, &tag, 1, None);
    let challenge = response(caller.next_where(is_final(407, Method::Invite)));
    let ack = sipcore::transaction::ack_for_non_2xx(&first, &challenge).unwrap();
    caller.send(&common::calls::encode(&Message::Request(ack)));
    let offered: Vec<_> = challenge.headers.get_all(&HeaderName::ProxyAuthenticate).map(str::to_owned).collect();
    let offered: Vec<_> = offered.iter().map(|c| parse_challenge(c).unwrap()).collect();
    let uri = format!("sip:1002@{DOMAIN}");
    let creds = DigestClient::new().respond(&offered, "1001", Secret::Password("pw1001"), &DigestRequest::new("INVITE", &uri)).unwrap();
    invite(caller, &call_id, &tag, 2, Some(&creds.to_string()));

    let routed = request(callee.next_where(|m| matches!(m, Message::Request(r) if r.method == Method::Invite)));
    let contact = format!("sip:1002@{};transport=tls", callee.local);
    let ok = answer(&routed, 200, &hex(), &contact, Some(sdp(40_002, "callee")));
    callee.send(&common::calls::encode(&Message::Response(ok)));

    let answered = response(caller.next_where(is_final(200, Method::Invite)));
    let to = answered.headers.get(&HeaderName::To).unwrap().to_owned();
    in_dialog(caller, Method::Ack, &call_id, &tag, &to, 2);
    callee.next_where(|m| matches!(m, Message::Request(r) if r.method == Method::Ack));
    in_dialog(caller, Method::Bye, &call_id, &tag, &to, 3);
    let bye = request(callee.next_where(|m| matches!(m, Message::Request(r) if r.method == Method::Bye)));
    callee.send(&common::calls::encode(&Message::Response(Response::to_request(&bye, 200))));
    caller.next_where(is_final(200, Method::Bye));
    call_id
}

/// The HEP packets that reach `collector` until every message in `want` has
/// one with its bytes (or the deadline passes), decoded by `hep_decode.py`.
/// Each one is passed on to `forward` (sngrep) as it arrives.
fn collect(collector: &UdpSocket, forward: Option<SocketAddr>, want: &[&Seen]) -> (Vec<Value>, usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut datagrams = Vec::new();
    let mut decoded = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        collector.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        if let Ok(n) = collector.recv(&mut buf) {
            if let Some(to) = forward {
                collector.send_to(&buf[..n], to).unwrap();
            }
            datagrams.push(buf[..n].to_vec());
            continue;
        }
        decoded = decode(&datagrams);
        let payloads: Vec<String> = decoded.iter().map(|p| p["payload"].as_str().unwrap().to_owned()).collect();
        if want.iter().all(|s| payloads.contains(&hex_of(&s.bytes))) {
            break;
        }
    }
    (decoded, datagrams.len())
}

/// `sngrep -L`: listens for HEP and writes each SIP message it decodes to a
/// pcap, as a datagram between the addresses and ports the packet named.
struct Sngrep {
    addr: SocketAddr,
    pcap: PathBuf,
    _proc: Proc,
    _ports: PortBlock,
}

/// One frame of sngrep's capture as tshark dissects it.
#[derive(Debug, PartialEq, Eq)]
struct Captured {
    src: String,
    dst: String,
    /// Seconds since the epoch with nine decimals, as tshark prints them.
    time: String,
    call_id: String,
    payload: String,
}

impl Sngrep {
    fn start(dir: &Path) -> Self {
        let ports = PortBlock::reserve();
        let addr = SocketAddr::from(([127, 0, 0, 1], ports.port(0)));
        let pcap = dir.join("sngrep.pcap");
        let proc = Proc::spawn(
            Command::new("sngrep")
                .args(["-N", "-q", "-L", &format!("udp:{addr}"), "-O"])
                .arg(&pcap)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        // Listening once the address is taken.
        tests::wait_for(Duration::from_secs(10), "sngrep listening", || match UdpSocket::bind(addr) {
            Ok(_) => Err(format!("{addr} still free")),
            Err(_) => Ok(()),
        });
        Sngrep { addr, pcap, _proc: proc, _ports: ports }
    }

    /// Its capture once it holds `count` frames (sngrep writes each as it decodes it).
    fn frames(&self, count: usize) -> Vec<Captured> {
        tests::wait_for(Duration::from_secs(10), "sngrep's frames", || {
            let frames = self.read();
            if frames.len() >= count { Ok(frames) } else { Err(format!("{} of {count} frames", frames.len())) }
        })
    }

    fn read(&self) -> Vec<Captured> {
        let fields = ["ip.src", "ip.dst", "udp.srcport", "udp.dstport", "frame.time_epoch", "sip.Call-ID", "udp.payload"];
        let mut args = vec!["-r".to_owned(), self.pcap.display().to_string(), "-T".into(), "fields".into()];
        args.extend(fields.iter().flat_map(|f| ["-e".to_owned(), (*f).to_owned()]));
        let out = Command::new("tshark").args(&args).stderr(Stdio::null()).output().expect("tshark (scripts/test.sh installs it)");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                Captured {
                    src: format!("{}:{}", f[0], f[2]),
                    dst: format!("{}:{}", f[1], f[3]),
                    time: f[4].to_owned(),
                    call_id: f[5].to_owned(),
                    payload: f[6].to_owned(),
                }
            })
            .collect()
    }
}

/// Runs the independent decoder over the datagrams.
fn decode(datagrams: &[Vec<u8>]) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hep_decode.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test.sh installs it)");
    let input: String = datagrams.iter().map(|d| format!("{}\n", hex_of(d))).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the decoder refused a packet");
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn unix_micros() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros()
}

#[test]
fn every_message_of_a_register_and_a_call_over_udp_and_tls_reaches_the_collector_as_it_was_on_the_wire() {
    let lab = lab();
    lab.add_subscriber("1001", "pw1001", None);
    lab.add_subscriber("1002", "pw1002", None);
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sngrep = Sngrep::start(lab.dir.path());
    let config = Config::default()
        .listen(&["udp:127.0.0.1:0", "tls:127.0.0.1:0"])
        .hep(&format!("collector = \"udp:{}\"", collector.local_addr().unwrap()))
        .hep("id = 2001")
        .hep("password = \"homer-secret\"");
    let sw = lab.start(&config);
    let started = unix_micros();

    let mut caller = UdpWire::new(&sw);
    Phone::plain("1001", "pw1001").register(&mut caller, Some(600));
    let mut callee = TlsWire::connect(&sw);
    Phone::agent("1002", "pw1002", 2).register(&mut callee, Some(600));
    let call_id = call(&mut caller, &mut callee);
    let ended = unix_micros();

    let wire: Vec<&Seen> = caller.seen().iter().chain(callee.seen()).collect();
    assert!(wire.len() >= 20, "2 REGISTER exchanges on each phone and the call: {} messages", wire.len());
    let (packets, sent) = collect(&collector, Some(sngrep.addr), &wire);
    let frames = sngrep.frames(sent);
    for seen in &wire {
        let text = String::from_utf8_lossy(&seen.bytes);
        let payload = hex_of(&seen.bytes);
        let p = packets
            .iter()
            .find(|p| p["payload"] == payload.as_str())
            .unwrap_or_else(|| panic!("no HEP packet for {text}\n(got {} packets)", packets.len()));
        let want_call_id = sipcore::parse(Bytes::from(seen.bytes.clone())).unwrap().headers().call_id().unwrap().to_owned();
        let wanted = serde_json::json!({
            "vendors": [0],
            "family": 2,
            "protocol": seen.protocol,
            "src_ip": seen.src.ip().to_string(),
            "dst_ip": seen.dst.ip().to_string(),
            "src_port": seen.src.port(),
            "dst_port": seen.dst.port(),
            "payload_type": 1,
            "capture_id": 2001,
            "auth_key": "homer-secret",
            "correlation_id": want_call_id,
            "payload": payload,
        });
        for (key, value) in wanted.as_object().unwrap() {
            assert_eq!(&p[key], value, "{key} of the packet for {text}");
        }
        assert!(p["micros"].as_u64().unwrap() < 1_000_000);
        let at = u128::from(p["secs"].as_u64().unwrap()) * 1_000_000 + u128::from(p["micros"].as_u64().unwrap());
        // Whole seconds of slack: the switch and the test read one wall clock, at different moments.
        assert!(at + 1_000_000 >= started && at <= ended + 1_000_000, "time {at} outside the test's {started}..{ended}");
        let seen_by_sngrep = Captured {
            src: seen.src.to_string(),
            dst: seen.dst.to_string(),
            time: format!("{}.{:06}000", p["secs"].as_u64().unwrap(), p["micros"].as_u64().unwrap()),
            call_id: want_call_id.clone(),
            payload: payload.clone(),
        };
        assert!(frames.contains(&seen_by_sngrep), "sngrep decoded {text} as it was on the wire");
    }
    // Every packet, retransmissions too, is filed under the Call-ID its
    // message carries (the B2BUA's two legs have a Call-ID each).
    for p in &packets {
        let message = sipcore::parse(Bytes::from(unhex(p["payload"].as_str().unwrap()))).unwrap();
        assert_eq!(p["correlation_id"], message.headers().call_id().unwrap(), "{p}");
    }
    let caller_leg = packets.iter().filter(|p| p["correlation_id"] == call_id.as_str()).count();
    assert!(caller_leg >= 8, "INVITE, 407, ACK, INVITE, 200, ACK, BYE, 200 under the caller's Call-ID: {caller_leg}");
}

/// A listener on the wildcard address knows no local address of its own: the
/// packets name the one the kernel sends from toward the phone, never 0.0.0.0.
#[test]
fn a_wildcard_listener_s_messages_carry_the_address_they_really_used() {
    let lab = lab();
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = Config::default().listen(&["udp:0.0.0.0:0"]).hep(&format!("collector = \"udp:{}\"", collector.local_addr().unwrap()));
    let sw = lab.start(&config);
    let mut phone = UdpWire::new(&sw);
    let local = phone.local();
    let options = format!(
        "OPTIONS sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{b};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:probe@{DOMAIN}>;tag=1\r\nTo: <sip:{DOMAIN}>\r\nCall-ID: {b}@hep-test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        b = hex(),
    );
    phone.send(options.as_bytes());
    assert_eq!(phone.response().status, 200);
    let wire: Vec<&Seen> = phone.seen().iter().collect();
    let (packets, _) = collect(&collector, None, &wire);
    for seen in wire {
        let p = packets.iter().find(|p| p["payload"] == hex_of(&seen.bytes).as_str()).expect("a packet for each message");
        assert_eq!((p["src_ip"].as_str(), p["dst_ip"].as_str()), (Some("127.0.0.1"), Some("127.0.0.1")), "{p}");
        assert_eq!((p["src_port"].as_u64(), p["dst_port"].as_u64()), (Some(u64::from(seen.src.port())), Some(u64::from(seen.dst.port()))));
    }
}

/// A collector the switch cannot send to is refused at start, before anything
/// binds (`timeout` ends the switch should it start anyway).
#[test]
fn a_collector_that_is_not_udp_ip_port_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switch.toml");
    for (bad, says) in [("tcp:127.0.0.1:9060", "udp:IP:PORT only"), ("udp:127.0.0.1:0", "needs an address and a port")] {
        std::fs::write(&config, format!("[hep]\ncollector = \"{bad}\"\n")).unwrap();
        let out = Command::new("timeout")
            .args(["20", env!("CARGO_BIN_EXE_switch"), "run", "--listen", "udp:127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&format!("hep.collector \"{bad}\"")) && stderr.contains(says), "{bad}: {stderr}");
    }
    std::fs::write(&config, "[hep]\ncollector = \"udp:127.0.0.1:9060\"\nsampling = 1\n").unwrap();
    let out = Command::new("timeout")
        .args(["20", env!("CARGO_BIN_EXE_switch"), "run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("unknown field `sampling`"), "unknown keys are refused: {stderr}");
}
