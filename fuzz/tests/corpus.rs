//! Every target over its committed corpus (`fuzz/corpus/<target>/`) and every
//! input that once crashed or hung it (`fuzz/regressions/<target>/`): the fuzz
//! findings as regression tests that need no AFL and run in `cargo test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unreachable_pub)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Runs `name` over its corpus (which must not be empty) and its regressions;
/// fails naming every input that panics.
fn replay(name: &str) {
    let target = fuzz::target(name).expect("a target in fuzz::TARGETS");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = files(&root.join("corpus").join(name));
    assert!(!corpus.is_empty(), "no corpus for {name}: run scripts/fuzz.sh seed {name}");
    let regressions = files(&root.join("regressions").join(name));
    let failed: Vec<String> = corpus
        .iter()
        .chain(&regressions)
        .filter(|path| {
            let data = std::fs::read(path).unwrap();
            catch_unwind(AssertUnwindSafe(|| (target.run)(&data))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{name} panics on {failed:#?}");
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test]
        fn $name() {
            replay(stringify!($name));
        })*

        #[test]
        fn every_target_has_a_replay_test() {
            let tested = [$(stringify!($name)),*];
            for t in fuzz::TARGETS {
                assert!(tested.contains(&t.name), "{} has no replay test here", t.name);
            }
        }
    };
}

replay_tests!(sip_message, sip_stream, digest, sdp_rewrite, rtp_packet, rtp_stream, stun, dns, dns_update_answer, flow_token, push);
