//! The real `switch` binary: starts on the given listeners, answers over TCP and
//! UDP, refuses bad flags with a message, and stops cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, LogEvent, lab};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

fn options(transport: &str, branch: &str) -> String {
    format!(
        "OPTIONS sip:switch@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:9;branch=z9hG4bK{branch};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:switch@127.0.0.1>\r\nCall-ID: {branch}@probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

fn read_response(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn answers_over_tcp_and_udp_and_stops_on_sigterm() {
    let lab = lab();
    let mut sw = lab.start(&Config::default());
    assert!(lab.data.join("switch.db").is_file(), "data dir and store created");

    let mut tcp = TcpStream::connect(sw.addr()).unwrap();
    tcp.write_all(options("TCP", "t1").as_bytes()).unwrap();
    let resp = read_response(&mut tcp);
    assert!(resp.starts_with("SIP/2.0 200 OK\r\n"), "{resp}");
    assert!(resp.contains(";received=127.0.0.1;rport="), "Via stamped: {resp}");
    assert!(resp.contains("Allow: "), "{resp}");

    tcp.write_all(options("TCP", "t2").replace("OPTIONS", "SUBSCRIBE").as_bytes()).unwrap();
    let resp = read_response(&mut tcp);
    assert!(resp.starts_with("SIP/2.0 405 Method Not Allowed\r\n"), "{resp}");
    assert!(resp.contains("Allow: REGISTER, OPTIONS, INVITE, ACK, BYE, CANCEL"), "{resp}");

    tcp.write_all(options("TCP", "t3").replace("OPTIONS", "FROBNICATE").as_bytes()).unwrap();
    let resp = read_response(&mut tcp);
    assert!(resp.starts_with("SIP/2.0 501 Not Implemented\r\n"), "{resp}");

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    udp.send_to(options("UDP", "u1").as_bytes(), sw.udp_addr()).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = udp.recv_from(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 OK\r\n"));

    assert!(sw.terminate().success(), "clean exit on SIGTERM");
    let last = sw.events().pop().map(|e| e.message().to_owned());
    assert_eq!(last.as_deref(), Some("stopped"), "the last thing logged");
}

/// `--log-format json`: one object per line, the event's fields as fields.
/// Text logs in a file carry no colour codes (regression: stderr that is not a
/// terminal, a file here and journald in production, used to get ANSI codes).
#[test]
fn logs_are_json_objects_per_line_or_plain_text_without_colour() {
    let lab = lab();
    let mut sw = lab.start(&Config::default());
    assert!(sw.terminate().success());
    let text = sw.log_text();
    let events = LogEvent::all(&text);
    assert_eq!(events.len(), text.lines().count(), "every line is an event:\n{text}");
    let running = events.iter().find(|e| e.message() == "switch running").unwrap_or_else(|| panic!("{text}"));
    assert_eq!((running.level(), running.text("domain")), ("INFO", "switch.local".to_owned()), "{running}");
    assert_eq!(running.text("data_dir"), lab.data.display().to_string(), "{running}");

    let mut sw = lab.start(&Config::default().text_log());
    assert!(sw.terminate().success());
    let text = sw.log_text();
    assert!(LogEvent::all(&text).is_empty(), "text, not JSON:\n{text}");
    assert!(text.lines().any(|l| l.contains(" INFO ") && l.contains("switch running") && l.contains("domain=switch.local")), "{text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a log file:\n{text}");
}

#[test]
fn bad_flags_are_refused_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_switch")).args(["run", "--listen", "sctp:1.2.3.4:5060"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("transport must be udp, tcp or tls"));
    let out = Command::new(env!("CARGO_BIN_EXE_switch"))
        .args(["run", "--listen", "tls:127.0.0.1:0", "--tls-cert", "cert.pem", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls_cert and tls_key go together"));
    let help = Command::new(env!("CARGO_BIN_EXE_switch")).args(["run", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--listen <SPEC>"));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--relay-ports <FIRST-LAST>"));
    let out = Command::new(env!("CARGO_BIN_EXE_switch"))
        .args(["run", "--listen", "udp:127.0.0.1:0", "--relay-ports", "30010-30000", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("relay ports \"30010-30000\""), "{}", String::from_utf8_lossy(&out.stderr));
    let help = Command::new(env!("CARGO_BIN_EXE_switch")).args(["calls", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--active") && help.contains("--json"), "{help}");
}

/// Port 0 in `--listen`: the switch says which ports it got, on stdout and in
/// `--bound-file`, and answers there.
#[test]
fn reports_the_ports_it_bound() {
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bound");
    let relay = tests::ports::PortBlock::reserve();
    let child = Command::new(env!("CARGO_BIN_EXE_switch"))
        .args(["run", "--listen", "tcp:127.0.0.1:0", "--listen", "udp:127.0.0.1:0", "--relay-ports", &relay.spec(10), "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--bound-file")
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut sw = Kill(child);
    // stdout carries the same lines, written once every listener is bound.
    let mut stdout = std::io::BufReader::new(sw.0.stdout.take().unwrap());
    let mut printed = String::new();
    for _ in 0..2 {
        std::io::BufRead::read_line(&mut stdout, &mut printed).unwrap();
    }
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(printed, written);
    let addr = |kind: &str| -> SocketAddr {
        let line = written.lines().find(|l| l.starts_with(&format!("listening {kind}:"))).unwrap_or_else(|| panic!("{written}"));
        line.trim_start_matches(&format!("listening {kind}:")).parse().unwrap()
    };
    let (tcp_addr, udp_addr) = (addr("tcp"), addr("udp"));
    assert_ne!(tcp_addr.port(), 0);
    assert_ne!(udp_addr.port(), 0);
    let mut tcp = TcpStream::connect(tcp_addr).unwrap();
    tcp.write_all(options("TCP", "b1").as_bytes()).unwrap();
    assert!(read_response(&mut tcp).starts_with("SIP/2.0 200 OK\r\n"));
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    udp.send_to(options("UDP", "b2").as_bytes(), udp_addr).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = udp.recv_from(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 OK\r\n"));
}
