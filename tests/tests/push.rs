//! Mobile push (RFC 8599) end to end on 127.0.0.1 with the real binaries: a
//! `switch` with `[push]` pointing at a local HTTPS receiver standing in for
//! the operator's gateway (a self-signed certificate the switch trusts through
//! `ca_file`, a bearer token from `token_file`), an `agent` registered with
//! `--pn-provider/--pn-prid/--pn-param` whose process is killed (the OS killed
//! the app: its flow is gone), and a caller `agent call`. The gateway must get
//! the JSON notice with the phone's prid; the phone started again (and told
//! `agent push-received`) registers and the held call is delivered down its
//! new flow and answered. Also: nobody within a short hold → 480; the gateway
//! down → 480 at once, logged; the parameters survive a restart (SQLite, and
//! Redis with the switch a cluster node, where the store is asked first).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Output;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tests::agent::{REGISTER_WITHIN, command, listen_with, run};
use tests::proc::{Lines, Proc};
use tests::switch::{Config, Switch, SwitchHost};

const PRID: &str = "00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0";
const PARAM: &str = "ABCD1234.org.example.voip";
const TOKEN: &str = "gateway-token-5d41402abc4b2a76";
/// Everything here waits at most this long for what should take a second.
const WAIT: Duration = Duration::from_secs(30);

/// One request the stand-in gateway received.
struct Received {
    head: String,
    body: Value,
}

/// The operator's push gateway, standing in: HTTPS on 127.0.0.1 port 0,
/// answering every POST `202 Accepted` and handing it to the test.
struct Gateway {
    url: String,
    cert: PathBuf,
    rx: mpsc::Receiver<Received>,
}

impl Gateway {
    fn start(dir: &std::path::Path) -> Gateway {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        let cert = dir.join("gateway.pem");
        std::fs::write(&cert, made.cert.pem()).unwrap();
        let config =
            sipcore::transport::tls::server_config_from_pem(made.cert.pem().as_bytes(), made.key_pair.serialize_pem().as_bytes()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://127.0.0.1:{}/v1/push", listener.local_addr().unwrap().port());
        let (tx, rx) = mpsc::channel();
        // Ends with the test process: it holds nothing but its socket.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(got) = serve(config.clone(), stream)
                    && tx.send(got).is_err()
                {
                    return;
                }
            }
        });
        Gateway { url, cert, rx }
    }

    fn next(&self, within: Duration) -> Received {
        self.rx.recv_timeout(within).unwrap_or_else(|_| panic!("no push notification within {within:?}"))
    }
}

/// One HTTPS request: its head and JSON body, answered 202.
fn serve(config: Arc<rustls::ServerConfig>, stream: std::net::TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let conn = rustls::ServerConnection::new(config).ok()?;
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, stream));
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if tls.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length: usize = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|v| v.trim().parse().ok())?;
    let mut body = vec![0; length];
    tls.read_exact(&mut body).ok()?;
    let tls = tls.get_mut();
    let _ = tls.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Some(Received { head, body: serde_json::from_slice(&body).ok()? })
}

/// A switch with 2001 (the caller) and 2002 (the phone) provisioned, push on.
struct Lab {
    // Before `sw`: fields drop in order, and a failed test's switch prints its
    // log as it drops, from `sw`'s directory.
    switch: Switch,
    sw: SwitchHost,
    spec: String,
}

impl Lab {
    /// `gateway` is the `[push] gateway` URL, `ca` its CA file.
    fn start(gateway: &str, ca: &std::path::Path, hold: u32) -> Lab {
        Lab::start_on(gateway, ca, hold, None)
    }

    /// With the store in the Redis at `redis` (one node of a cluster) instead of SQLite.
    fn start_on(gateway: &str, ca: &std::path::Path, hold: u32, redis: Option<&str>) -> Lab {
        let mut sw = SwitchHost::new();
        if let Some(url) = redis {
            sw.switch = sw.switch.with_redis(url);
        }
        for n in ["2001", "2002"] {
            sw.add_subscriber(n, &format!("pw{n}"), None);
        }
        let token = sw.file("push-token");
        std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
        let quoted = |p: &std::path::Path| serde_json::to_string(&p.display().to_string()).unwrap();
        let cfg = Config::default()
            .admin(r#"listen = ["tcp:127.0.0.1:0"]"#)
            .listen(&["tcp:127.0.0.1:0"])
            .relay("127.0.0.1")
            .push(&format!("gateway = {}", serde_json::to_string(gateway).unwrap()))
            .push(&format!("hold = {hold}"))
            .push(&format!("ca_file = {}", quoted(ca)))
            .push(&format!("token_file = {}", quoted(&token)));
        let cfg = match redis {
            Some(url) => cfg.redis(url, "node-a"),
            None => cfg,
        };
        let switch = sw.start(&cfg);
        Lab { spec: switch.spec(), sw, switch }
    }

    fn global(&self, number: &str) -> Vec<String> {
        let instance = self.sw.file(&format!("{number}.instance")).display().to_string();
        ["--domain", "switch.local", "--instance-file", &instance].iter().map(|s| s.to_string()).collect()
    }

    /// The phone: `agent listen --auto-answer` registered with push parameters.
    fn phone(&self) -> (Proc, Lines) {
        self.phone_with(&[])
    }

    fn phone_with(&self, global: &[&str]) -> (Proc, Lines) {
        let mut g = self.global("2002");
        g.extend(global.iter().map(|s| s.to_string()));
        g.extend(["--pn-provider", "apns", "--pn-prid", PRID, "--pn-param", PARAM].map(String::from));
        let g: Vec<&str> = g.iter().map(String::as_str).collect();
        let pid = self.pid_file().display().to_string();
        let (p, mut lines) = listen_with(None, &self.spec, "2002", "pw2002", &g, &["--auto-answer", "--pid-file", &pid]);
        lines.wait(&["registered "], REGISTER_WITHIN);
        (p, lines)
    }

    /// `agent push-received --pid-file` for the phone, to its end.
    fn push_received(&self) {
        let told = run(command(None, &self.spec, "2002", "x", &[]).args(["push-received", "--pid-file"]).arg(self.pid_file()), WAIT);
        assert_eq!(told.status.code(), Some(0), "{}", String::from_utf8_lossy(&told.stdout));
    }

    fn pid_file(&self) -> PathBuf {
        self.sw.file("phone.pid")
    }

    /// Kills the phone as a mobile OS does (no unregistration) and waits for
    /// the switch to see its flow gone.
    fn kill(&self, phone: (Proc, Lines)) {
        drop(phone);
        self.sw.wait_state("2002", "signalling_dropped", WAIT).unwrap_or_else(|| panic!("flow not dropped: {:?}", self.sw.record("2002")));
    }

    /// The sample `switch_push_notifications_total{result="RESULT"}` on `/metrics` (0 when absent).
    fn notifications(&self, result: &str) -> f64 {
        let mut admin = std::net::TcpStream::connect(self.switch.listener("admin")).unwrap();
        admin.write_all(b"GET /metrics HTTP/1.1\r\nHost: switch\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        admin.read_to_string(&mut text).unwrap();
        let series = format!("switch_push_notifications_total{{result=\"{result}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&series)).map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// The caller, `agent call 2002 ...` to its end, on a thread.
    fn call(&self, args: &[&str]) -> std::thread::JoinHandle<Output> {
        let g = self.global("2001");
        let mut cmd = command(None, &self.spec, "2001", "pw2001", &g.iter().map(String::as_str).collect::<Vec<_>>());
        cmd.args(["call", "2002"]).args(args);
        std::thread::spawn(move || run(&mut cmd, Duration::from_secs(120)))
    }
}

#[test]
fn a_killed_phone_is_woken_by_push_and_answers_the_held_call_on_its_new_flow() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path());
    let lab = Lab::start(&gateway.url, &gateway.cert, 60);
    let phone = lab.phone();
    assert!(lab.sw.record("2002")["contact"].as_str().unwrap().contains(&format!("pn-prid={PRID}")), "{:?}", lab.sw.record("2002"));
    lab.kill(phone);

    let caller = lab.call(&["--timeout", "60", "--duration", "1"]);
    let got = gateway.next(WAIT);
    assert!(got.head.starts_with("POST /v1/push HTTP/1.1\r\n"), "{}", got.head);
    assert!(got.head.contains(&format!("Authorization: Bearer {TOKEN}\r\n")), "{}", got.head);
    assert_eq!(got.body["number"], "2002");
    assert_eq!(got.body["pn-provider"], "apns");
    assert_eq!(got.body["pn-prid"], PRID);
    assert_eq!(got.body["pn-param"], PARAM);
    assert_eq!(got.body["from"], "2001");
    assert!(got.body["call-id"].as_str().is_some_and(|c| !c.is_empty()), "{}", got.body);

    // The app is woken: it starts again and is told a push came.
    let (_phone, mut lines) = lab.phone();
    let told =
        run(tests::agent::command(None, &lab.spec, "2002", "x", &[]).args(["push-received", "--pid-file"]).arg(lab.pid_file()), WAIT);
    assert_eq!(told.status.code(), Some(0), "{}", String::from_utf8_lossy(&told.stdout));
    lines.wait(&["call state=answered"], WAIT);

    let out = caller.join().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "the caller's call: {said}");
    assert!(said.contains("call state=answered"), "{said}");
    assert!(gateway.rx.try_recv().is_err(), "one notification per call");
    assert_eq!(lab.notifications("accepted"), 1.0);
}

#[test]
fn nobody_registers_within_the_hold_and_the_caller_gets_480() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path());
    let lab = Lab::start(&gateway.url, &gateway.cert, 2);
    let phone = lab.phone();
    lab.kill(phone);
    let caller = lab.call(&["--timeout", "60"]);
    assert_eq!(gateway.next(WAIT).body["pn-prid"], PRID);
    let out = caller.join().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "not answered: {said}");
    assert!(said.contains("status=480"), "{said}");
}

#[test]
fn a_gateway_that_is_down_gets_the_caller_480_at_once_and_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let cert_only = Gateway::start(dir.path());
    // Nothing listens there: the port was bound and released.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let lab = Lab::start(&format!("https://127.0.0.1:{closed}/v1/push"), &cert_only.cert, 110);
    let phone = lab.phone();
    lab.kill(phone);
    let started = Instant::now();
    let out = lab.call(&["--timeout", "100"]).join().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "not answered: {said}");
    assert!(said.contains("status=480"), "{said}");
    // The hold is 110 s: a refused connection must not wait for it.
    assert!(started.elapsed() < Duration::from_secs(60), "480 after {:?}", started.elapsed());
    let logged = lab.switch.wait_for_event("push gateway unreachable", &[("number", "2002")], WAIT);
    assert_eq!(logged.text("kind"), "connect");
    assert_eq!((lab.notifications("error"), lab.notifications("accepted")), (1.0, 0.0));
}

/// `agent push-received` is what brings a phone back at once: one whose flow
/// died while the switch was down waits out its RFC 5626 back-off (here at
/// least 150 s), and the push ends the wait.
#[test]
fn push_received_brings_a_backing_off_phone_back_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path());
    let mut lab = Lab::start(&gateway.url, &gateway.cert, 20);
    let (_phone, mut lines) = lab.phone_with(&["--backoff-base", "300"]);
    lab.switch.kill9();
    // The first retry is at once and fails (refused, or reset as the switch
    // dies): then the back-off, at least half of 300 s.
    let retry_ms = loop {
        let line = lines.wait(&["retry_in_ms="], WAIT);
        let ms: u64 = tests::agent::field(&line, "retry_in_ms").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"));
        if ms >= 150_000 {
            break ms;
        }
    };
    lab.switch.restart();
    let told = Instant::now();
    lab.push_received();
    lines.wait(&["registered "], WAIT);
    assert!(told.elapsed() < Duration::from_millis(retry_ms), "back within {:?}", told.elapsed());
}

/// The push parameters live in the binding's stored Contact: after a restart
/// (every flow gone) a call for the phone still wakes it.
#[test]
fn the_push_parameters_survive_a_switch_restart() {
    survives_a_restart(None);
}

/// The same with the bindings in Redis, the switch a cluster node: the call
/// first asks the store whether another node holds the phone's flow, and
/// the push follows when none does.
#[test]
fn the_push_parameters_survive_a_restart_in_redis() {
    let redis = tests::redis::RedisServer::start();
    survives_a_restart(Some(&redis.url()));
}

fn survives_a_restart(redis: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path());
    let mut lab = Lab::start_on(&gateway.url, &gateway.cert, 2, redis);
    let phone = lab.phone();
    lab.switch.kill9();
    drop(phone);
    lab.switch.restart();
    lab.spec = lab.switch.spec();
    let caller = lab.call(&["--timeout", "60"]);
    let got = gateway.next(WAIT);
    assert_eq!((got.body["number"].as_str(), got.body["pn-prid"].as_str()), (Some("2002"), Some(PRID)));
    let out = caller.join().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stdout));
}
