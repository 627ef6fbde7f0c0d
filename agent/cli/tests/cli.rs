//! The `agent` binary against the real switch: what `register` prints and
//! the exit status for each outcome, `listen` until SIGTERM, usage errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

// The agent library's test support: the real switch, and the switch's end of a flow.
#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{provision, registrations, switch, switch_tls_generated};

fn agent(sw_addr: &str, number: &str, password: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["--switch", sw_addr, "--number", number, "--mac", "02:42:ac:11:00:02", "--bearer-port", "40000", "--domain", "switch.local"])
        .args(extra)
        .env("AGENT_PASSWORD", password)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn register_prints_the_result_and_says_how_it_went_in_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    provision(&data, "1001", "pw");
    let sw = switch(&data);

    let ok = agent(&sw.spec(), "1001", "pw", &["register"]);
    let out = stdout(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}\n{}", String::from_utf8_lossy(&ok.stderr));
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("registered local=127.0.0.1:"), "{out}");
    assert!(first.contains(" public_ip=127.0.0.1 ") && first.contains(" flow_timer=5 ") && first.contains(" kind=initial"), "{first}");
    assert!(out.lines().any(|l| l == "unregistered"), "{out}");
    assert_eq!(registrations(&data).as_array().unwrap().len(), 0, "unregistered on exit");

    let bad = agent(&sw.spec(), "1001", "wrong", &["register"]);
    assert_eq!(bad.status.code(), Some(3), "{}", stdout(&bad));
    assert!(stdout(&bad).starts_with("registration-failed status=403 "), "{}", stdout(&bad));

    // This switch does not say which numbers exist (issue 12): a number not in
    // service is refused like a wrong password, so the agent says the same.
    // (Exit 4 is for registrars that answer 404.)
    let unknown = agent(&sw.spec(), "1999", "pw", &["register"]);
    assert_eq!(unknown.status.code(), Some(3), "{}", stdout(&unknown));
    assert_eq!(stdout(&unknown), stdout(&bad), "the same words as for a wrong password");
}

#[test]
fn logs_on_stderr_carry_no_escape_codes_off_a_terminal_and_json_is_one_object_per_line() {
    // Nothing listens on a reserved port: the agent logs its failed attempts.
    let reserved = tests::ports::PortBlock::reserve();
    let spec = format!("tcp:127.0.0.1:{}", reserved.port(0));
    let base = ["--backoff-base", "1", "register", "--timeout", "2"];
    let text = agent(&spec, "1001", "pw", &base);
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(stderr.lines().any(|l| l.contains("WARN") || l.contains("INFO")), "no log lines to check: {stderr}");
    assert!(!stderr.contains('\x1b'), "escape codes written to a pipe: {stderr:?}");

    let json = agent(&spec, "1001", "pw", &[&["--log-format", "json"][..], &base[..]].concat());
    let stderr = String::from_utf8_lossy(&json.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("agent: ")).collect();
    assert!(!lines.is_empty(), "no log lines: {stderr}");
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    assert!(stdout(&json).starts_with("connect-failed reason="), "events stay key=value lines on stdout: {}", stdout(&json));
}

#[test]
fn register_against_nothing_gives_up_with_status_6() {
    // A reserved port that nothing binds: the connection is refused.
    let reserved = tests::ports::PortBlock::reserve();
    let port = reserved.port(0);
    let started = Instant::now();
    let o = agent(&format!("tcp:127.0.0.1:{port}"), "1001", "pw", &["--backoff-base", "1", "register", "--timeout", "2"]);
    assert_eq!(o.status.code(), Some(6), "{}", stdout(&o));
    assert!(stdout(&o).starts_with("connect-failed reason="), "{}", stdout(&o));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn register_over_tls_pinned_by_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    provision(&data, "1001", "pw");
    let sw = switch_tls_generated(&data);
    let pinned = sw.tls_fingerprint();
    let addr = format!("tls:127.0.0.1:{}", sw.addr().port());

    let ok = agent(&addr, "1001", "pw", &["--tls-fingerprint", &pinned, "register"]);
    assert_eq!(ok.status.code(), Some(0), "{}\n{}", stdout(&ok), String::from_utf8_lossy(&ok.stderr));
    assert!(stdout(&ok).starts_with("registered "), "{}", stdout(&ok));

    // The same digits in lower case, without colons, name the same certificate.
    let bare = pinned.replace(':', "").to_lowercase();
    assert_eq!(agent(&addr, "1001", "pw", &["--tls-fingerprint", &bare, "register"]).status.code(), Some(0));

    let wrong = agent::Fingerprint::of(b"another certificate").to_string();
    let refused = agent(&addr, "1001", "pw", &["--tls-fingerprint", &wrong, "--backoff-base", "1", "register", "--timeout", "2"]);
    assert_eq!(refused.status.code(), Some(6), "{}", stdout(&refused));
    let first = stdout(&refused).lines().next().unwrap_or_default().to_owned();
    assert!(first.starts_with("connect-failed reason=") && first.contains(&format!("not the pinned {wrong}")), "{first}");
    assert!(!stdout(&refused).lines().any(|l| l.starts_with("registered")), "{}", stdout(&refused));

    let malformed = agent(&addr, "1001", "pw", &["--tls-fingerprint", "AB:CD", "register"]);
    assert_eq!(malformed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("SHA-256 fingerprint"), "{}", String::from_utf8_lossy(&malformed.stderr));
    assert_eq!(registrations(&data).as_array().unwrap().len(), 0);
}

#[test]
fn usage_errors_exit_2() {
    let o = Command::new(env!("CARGO_BIN_EXE_agent")).args(["--number", "1001", "register"]).env("AGENT_PASSWORD", "pw").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--switch is required"));
    let o = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["--switch", "udp:1.2.3.4:5060", "--number", "1", "--password", "p", "listen"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("transport must be tcp or tls"));
    let o = Command::new(env!("CARGO_BIN_EXE_agent")).args(["--public-ip", "carrier-pigeon", "listen"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn listen_stays_registered_until_sigterm_then_unregisters() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    provision(&data, "1001", "pw");
    let sw = switch(&data);
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["--switch", &sw.spec(), "--number", "1001", "--domain", "switch.local", "listen"])
        .env("AGENT_PASSWORD", "pw")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("registered "), "{first}");
    assert_eq!(registrations(&data)[0]["state"], "registered");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert_eq!(rest, vec!["unregistered".to_owned(), "stopped".to_owned()]);
    assert_eq!(registrations(&data).as_array().unwrap().len(), 0);
}
