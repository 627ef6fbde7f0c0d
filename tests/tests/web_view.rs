//! The live web view in a real browser (issue 16 item 4): Debian's `chromium`
//! driven by Playwright (`scripts/web/view_test.py`, in the venv
//! `scripts/test.sh` makes under the target dir) watches `/` of a real switch
//! while this test drives real `agent`s: one registers and its row appears;
//! it comes back with another public IP (and its old flow drops) and the page
//! shows the events and the new address; a call is placed and the call's
//! packet counters move on the page. Screenshots are saved under the target
//! dir (the paths are printed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use tests::agent::{REGISTER_WITHIN, command, listen_with};
use tests::proc::{Lines, Proc};
use tests::switch::{Config, SwitchHost};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The venv's python with Playwright: `$WEB_TEST_PYTHON`, else the one
/// `scripts/test.sh` makes in the target dir.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WEB_TEST_PYTHON") {
        return p.into();
    }
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf();
    target.join("web-venv/bin/python3")
}

/// The browser script, answering one line per command.
struct Browser {
    _proc: Proc,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Browser {
    fn open(url: &str, shots: &std::path::Path) -> Browser {
        let python = python();
        assert!(python.exists(), "{} is missing: run scripts/test.sh (it makes the Playwright venv)", python.display());
        assert!(std::path::Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/web/view_test.py");
        let mut cmd = Command::new(python);
        cmd.arg(script).arg(url).arg(CHROMIUM).arg(shots).stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut proc = Proc::spawn(&mut cmd);
        let stdin = proc.0.stdin.take().unwrap();
        let stdout = BufReader::new(proc.0.stdout.take().unwrap());
        let mut b = Browser { _proc: proc, stdin, stdout };
        b.answer("the page to load and its event stream to go live");
        b
    }

    /// The script's answer: `ok ...`, or the test fails with its reason.
    #[track_caller]
    fn answer(&mut self, what: &str) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        match line.trim_end().strip_prefix("ok") {
            Some(rest) => rest.trim().to_owned(),
            None => panic!("the browser did not see {what}: {line:?}"),
        }
    }

    #[track_caller]
    fn ask(&mut self, cmd: serde_json::Value, what: &str) -> String {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.answer(what)
    }
}

/// Agent flags: a stable device (instance file, MAC) and the public IP it claims.
fn phone_flags(lab: &SwitchHost, number: &str, public_ip: &str) -> Vec<String> {
    let instance = lab.dir.path().join(format!("{number}.instance")).display().to_string();
    ["--domain", "switch.local", "--mac", "02:42:ac:11:00:0b", "--instance-file", &instance, "--public-ip", public_ip]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn listen(spec: &str, lab: &SwitchHost, public_ip: &str) -> (Proc, Lines) {
    let flags = phone_flags(lab, "1002", &format!("static:{public_ip}"));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (proc, mut lines) = listen_with(None, spec, "1002", "pw1002", &flags, &["--auto-answer", "--tone", "1000"]);
    lines.wait(&["registered "], REGISTER_WITHIN);
    (proc, lines)
}

#[test]
fn the_web_view_shows_registrations_roaming_and_moving_call_counters() {
    let lab = SwitchHost::new();
    for n in ["1001", "1002"] {
        lab.add_subscriber(n, &format!("pw{n}"), None);
    }
    let sw = lab.start(
        &Config::default().listen(&["tcp:127.0.0.1:0"]).relay("127.0.0.1").calls("ring_time = 20").admin(r#"listen = ["tcp:127.0.0.1:0"]"#),
    );
    let admin = sw.listener("admin");
    let spec = sw.spec();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-view");
    let mut browser = Browser::open(&format!("http://{admin}/"), &shots);

    // A phone registers: its row appears with the public IP it claims.
    let (phone, _lines) = listen(&spec, &lab, "198.51.100.20");
    let row = browser.ask(serde_json::json!({"row": "1002", "public_ip": "198.51.100.20"}), "1002's row");
    let cells: serde_json::Value = serde_json::from_str(&row).unwrap();
    assert_eq!((cells["transport"].as_str(), cells["nat"].as_str()), (Some("tcp"), Some("no")), "{row}");
    assert!(cells["observed"].as_str().unwrap().starts_with("127.0.0.1:"), "{row}");
    let left: u64 = cells["time-left"].as_str().unwrap().trim_end_matches(" s").parse().unwrap();
    assert!(left > 500, "{row}");
    browser.ask(serde_json::json!({"event": "registered", "number": "1002", "text": "198.51.100.20"}), "the registered event");

    // Its network changes: the old flow dies (kill -9: no goodbye) and the
    // same device registers again claiming another public IP.
    phone.signal("KILL");
    browser.ask(serde_json::json!({"event": "flow_dropped", "number": "1002"}), "the flow dropped event");
    let (_phone, _lines) = listen(&spec, &lab, "203.0.113.30");
    let changed = browser
        .ask(serde_json::json!({"event": "public_ip_changed", "number": "1002", "text": "203.0.113.30"}), "the public IP changed event");
    assert!(changed.contains("198.51.100.20"), "the event names the old address too: {changed}");
    browser.ask(serde_json::json!({"row": "1002", "public_ip": "203.0.113.30"}), "1002's new address");

    // A call: the page's per-leg packet counters move while it lasts.
    let caller_flags = phone_flags(&lab, "1001", "via");
    let caller_flags: Vec<&str> = caller_flags.iter().map(String::as_str).collect();
    let _caller = Proc::spawn(
        command(None, &spec, "1001", "pw1001", &caller_flags)
            .args(["call", "1002", "--tone", "440", "--duration", "60", "--timeout", "30"])
            .stdout(Stdio::null()),
    );
    let moved = browser.ask(serde_json::json!({"call": "1001", "callee": "1002"}), "the call's counters moving");
    eprintln!("call counters: {moved}");
    let shot = browser.ask(serde_json::json!({"screenshot": "web-view.png"}), "a screenshot");
    println!("web view screenshot: {shot}");
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "{shot} is too small to show the page");
    writeln!(browser.stdin, "{}", serde_json::json!({"quit": true})).unwrap();
}
