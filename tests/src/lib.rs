//! End-to-end tests across crates live in `tests/`; this library holds what
//! they share: finding the workspace's binaries, processes started by a test,
//! a real switch with its own data dir and ports, real Redis servers and Clusters, network namespaces, the
//! SIPVicious tools, what a scanner sees of an answer, timing statistics, and
//! bounded waits for what a test expects to happen.

pub mod agent;
pub mod netns;
pub mod ports;
pub mod probe;
pub mod proc;
pub mod redis;
pub mod sipvicious;
pub mod stats;
pub mod switch;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// Raises this process's open-file limit to its hard limit, as
/// `scripts/test.sh` does (`ulimit -n $(ulimit -Hn)`), for a test that opens
/// thousands of sockets; what the test starts afterwards (a switch) inherits
/// it. Fails the test, saying so, when even the hard limit is below `needed`.
#[track_caller]
pub fn raise_open_file_limit(needed: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or_else(|e| panic!("getrlimit: {e}"));
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap_or_else(|e| panic!("setrlimit NOFILE {hard}: {e}"));
    }
    assert!(hard >= needed, "this test needs {needed} open files; the hard limit is {hard} (raise it: ulimit -Hn)");
}

/// A binary of the workspace (`switch`, `agent`), from the target directory this
/// test was built into. `cargo test --workspace` (what `scripts/test.sh` runs)
/// builds every binary before any test starts; `$<NAME>_BIN` overrides.
pub fn workspace_bin(name: &str) -> PathBuf {
    if let Ok(p) = std::env::var(format!("{}_BIN", name.to_ascii_uppercase())) {
        return PathBuf::from(p);
    }
    let fallback = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("debug");
    let profile = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
        .filter(|p| p.join(name).exists())
        .unwrap_or(fallback);
    let bin = profile.join(name);
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (scripts/test.sh) or `cargo build --workspace --bins` first",
        bin.display()
    );
    bin
}
