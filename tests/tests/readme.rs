//! The README's "first call" walkthrough, run as it is written, so it cannot
//! rot: the block after the `<!-- first-call ... -->` marker goes to `bash -e`
//! in a directory of its own, with the workspace's `switch` and `agent` first
//! on PATH and the switch of the README's first set-up command running there
//! (`switch run` on its defaults: TCP and UDP 5060, TLS 5061 with a
//! certificate generated into `./switch-data`, relay ports 20000-29999, state
//! in `./switch-data`). No other test uses those ports: every other switch in
//! the tests is given its listeners (port 0) and relay ports from
//! `tests::ports`, and this test holds `tests::ports::DefaultPorts` while it
//! runs, so two checkouts' walkthroughs on one machine take turns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::proc::{Lines, Proc};
use tests::switch::SwitchCli;
use tests::workspace_bin;

const MARKER: &str = "<!-- first-call";

/// The fenced block that follows the marker.
fn walkthrough(readme: &str) -> String {
    let after = readme.split_once(MARKER).map(|(_, rest)| rest).expect("README.md has no first-call marker");
    let block = after.split_once("```sh\n").map(|(_, rest)| rest).expect("no ```sh block after the first-call marker");
    let (body, _) = block.split_once("\n```").expect("the first-call block is not closed");
    body.to_owned()
}

/// The process group of the walkthrough's shell (it and the agent it puts in
/// the background), killed whole when the walkthrough failed: a member is
/// still alive then (the agent it did not get to stop), so the group id is
/// still this group's. A walkthrough that succeeded stopped its agent itself.
struct Group {
    shell: Proc,
    failed: bool,
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.failed {
            let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", self.shell.0.id())]).status();
        }
    }
}

#[test]
fn the_first_call_walkthrough_works_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let script = walkthrough(&readme);
    let dir = tempfile::tempdir().unwrap();
    let switch = workspace_bin("switch");
    let bin_dir = switch.parent().unwrap().to_path_buf();
    assert_eq!(workspace_bin("agent").parent(), Some(bin_dir.as_path()), "switch and agent side by side");

    // The README's first set-up command, `switch run` with no flags, in the
    // same directory: its default listeners, TLS with its own certificate too.
    let _ports = tests::ports::DefaultPorts::lock();
    let log = dir.path().join("switch.log");
    let (_switch, mut said) = Lines::spawn(
        Command::new(&switch).arg("run").current_dir(dir.path()).env_remove("RUST_LOG").stderr(std::fs::File::create(&log).unwrap()),
    );
    for listener in ["tcp:0.0.0.0:5060", "udp:0.0.0.0:5060", "tls:0.0.0.0:5061"] {
        said.wait(&[&format!("listening {listener}")], Duration::from_secs(20));
    }
    let cert = std::fs::read(dir.path().join("switch-data/tls-cert.pem")).expect("a certificate generated into the data dir");
    let fingerprint = sipcore::transport::tls::fingerprint_of_pem(&cert).unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains(&format!("fingerprint={fingerprint}")), "the certificate's fingerprint in the log:\n{logged}");

    let path: Vec<PathBuf> = std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())).collect();
    let out_file = dir.path().join("walkthrough.out");
    let mut shell = Command::new("bash");
    shell
        .args(["-e", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", std::env::join_paths(path).unwrap())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(Stdio::null())
        .process_group(0);
    let mut shell = Group { shell: Proc::spawn(&mut shell), failed: true };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = shell.shell.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the walkthrough did not end within 60 s:\n{}", std::fs::read_to_string(&out_file).unwrap());
        std::thread::sleep(Duration::from_millis(100));
    };
    let printed = std::fs::read_to_string(&out_file).unwrap();
    assert!(status.success(), "the walkthrough failed ({status}):\n{printed}\n---- {script}");
    shell.failed = false;

    // What `switch calls` printed: one answered call from 1001 to 1002, ended by the caller.
    let row = printed.lines().find(|l| l.contains(" 1001 ") && l.contains(" 1002 ")).unwrap_or_else(|| panic!("no call in:\n{printed}"));
    for word in ["flow", "200", "caller_bye"] {
        assert!(row.split_whitespace().any(|w| w == word), "{word:?} in the call's row: {row}");
    }
    // And the record behind it.
    let calls = SwitchCli::new(&dir.path().join("switch-data")).calls();
    let [call] = calls.as_slice() else { panic!("one call: {calls:?}") };
    assert_eq!(
        (call["caller"].as_str(), call["callee"].as_str(), call["status"].as_u64()),
        (Some("1001"), Some("1002"), Some(200)),
        "{call}"
    );
    assert!(!call["answer_at"].is_null(), "answered: {call}");
    for leg in ["caller_media", "callee_media"] {
        assert!(call[leg]["packets_in"].as_u64().unwrap_or(0) > 50, "RTP through the relay, {leg}: {call}");
    }
}
