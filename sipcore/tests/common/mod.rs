//! Shared by the integration tests: the torture corpus on disk.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod accessors;
pub mod strategy;

pub use accessors::exercise_accessors;

use std::path::{Path, PathBuf};

/// `tests/corpus/<kind>`.
pub fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(kind)
}

/// Every `*.sip` file of `kind` ("valid" or "invalid") as (stem, bytes), sorted by name.
pub fn corpus(kind: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir(kind))
        .expect("corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// One corpus file.
pub fn file(kind: &str, stem: &str) -> Vec<u8> {
    std::fs::read(dir(kind).join(format!("{stem}.sip"))).unwrap_or_else(|e| panic!("{kind}/{stem}.sip: {e}"))
}
