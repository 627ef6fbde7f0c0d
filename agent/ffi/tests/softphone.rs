//! Issue 15 item 5: `agent/examples/c/softphone.c`, compiled with
//! `cc -Wall -Wextra -Werror` against the committed header and the static
//! library, registers over TLS to a real switch (its self-signed certificate
//! as the CA), answers a call the CLI agent places, sends a 440 Hz tone from
//! its app-owned audio callback (or pushes it, `--audio pull`), hears the
//! caller's 1000 Hz tone (Goertzel, in C), hangs up and exits 0; the caller's
//! recording holds the 440 Hz tone.
//! The same run under valgrind (`--leak-check=full --error-exitcode=1`) is
//! clean. Timeouts are generous: valgrind runs the agent many times slower.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tests::agent;
use tests::proc::Lines;
use tests::switch::{Config, SwitchHost};

/// `target/<profile>/deps`, where this test binary runs from and where cargo
/// puts this crate's `libagent_ffi.a` as it builds it for the test (a
/// `cargo build` copies it one level up, which `cargo test` does not refresh).
fn deps_dir() -> PathBuf {
    std::env::current_exe().unwrap().parent().unwrap().to_path_buf()
}

/// Compiles the example into `dir`, as a C user would, warnings as errors.
fn compile(dir: &Path) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = deps_dir().join("libagent_ffi.a");
    assert!(lib.exists(), "{} is missing", lib.display());
    let exe = dir.join("softphone");
    let out = Command::new("cc")
        .args(["-Wall", "-Wextra", "-Werror", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-g", "-I"])
        .arg(manifest.join("../include"))
        .arg(manifest.join("../examples/c/softphone.c"))
        .arg(&lib)
        // What Rust's std needs of libc on Linux (`--print native-static-libs`).
        .args(["-lpthread", "-ldl", "-lm", "-lgcc_s", "-lc", "-o"])
        .arg(&exe)
        .output()
        .expect("cc");
    assert!(out.status.success(), "cc failed:\n{}", String::from_utf8_lossy(&out.stderr));
    exe
}

/// The whole scene, the softphone started through `launcher` (empty: as it
/// is) with its audio by `audio` (`callback` or `pull`).
fn answers_hears_and_hangs_up(launcher: &[&str], audio: &str) {
    let host = SwitchHost::new();
    for n in ["1001", "1002"] {
        host.subscriber_add(n, &format!("pw{n}"), &["--realm", "localhost"]);
    }
    let config = Config::default().listen(&["tls:127.0.0.1:0"]).domain("localhost").relay("127.0.0.1").calls("ring_time = 120");
    let switch = host.start(&config);
    let spec = format!("tls:localhost:{}", switch.listener("tls").port());
    let ca = host.data.join("tls-cert.pem");
    let ca = ca.to_str().unwrap();
    let exe = compile(host.dir.path());
    let stderr = std::fs::File::create(host.file("softphone.stderr")).unwrap();

    let mut cmd = match launcher.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args(["--switch", &spec, "--number", "1002", "--password", "pw1002", "--ca", ca, "--domain", "localhost"])
        .args(["--tone", "440", "--expect", "1000", "--frames", "100", "--timeout", "240", "--audio", audio])
        .stderr(stderr);
    let (mut phone, mut lines) = Lines::spawn(&mut cmd);
    let said = |lines: &Lines| {
        format!("{}\nstderr:\n{}", lines.seen.join("\n"), std::fs::read_to_string(host.file("softphone.stderr")).unwrap_or_default())
    };
    lines.wait(&["registered"], Duration::from_secs(120));

    let wav = host.file("caller.wav");
    let mut caller = agent::command(None, &spec, "1001", "pw1001", &["--ca", ca, "--domain", "localhost"]);
    caller.args(["call", "1002", "--tone", "1000", "--duration", "200", "--timeout", "120", "--record", wav.to_str().unwrap()]);
    let out = agent::run(&mut caller, Duration::from_secs(300));
    let caller_said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "the caller:\n{caller_said}\nthe softphone:\n{}", said(&lines));
    assert!(caller_said.contains("by=remote reason=hangup"), "the softphone hung up:\n{caller_said}");
    assert!(caller_said.contains("tone hz=440 "), "the caller heard the softphone's capture:\n{caller_said}");

    let status = phone.wait_exit(Duration::from_secs(120));
    lines.wait(&["heard frames="], Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "the softphone:\n{}", said(&lines));
}

#[test]
fn the_c_softphone_answers_sends_its_tone_hears_the_callers_and_hangs_up() {
    answers_hears_and_hangs_up(&[], "callback");
}

#[test]
fn the_c_softphone_does_the_same_pulling_and_pushing_its_audio() {
    answers_hears_and_hangs_up(&[], "pull");
}

#[test]
fn the_c_softphone_is_clean_under_valgrind() {
    let suppressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/valgrind.supp");
    let suppressions = format!("--suppressions={}", suppressions.display());
    answers_hears_and_hangs_up(
        &["valgrind", "--error-exitcode=1", "--leak-check=full", "--quiet", "--num-callers=40", &suppressions],
        "callback",
    );
}
