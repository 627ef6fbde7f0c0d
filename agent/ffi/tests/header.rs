//! `agent/include/agent.h` is committed so that C users need no Rust tool to
//! read it; this test regenerates it with cbindgen from the crate as it is
//! and fails when the two differ (`UPDATE_HEADER=1` rewrites it instead).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn the_committed_header_is_what_cbindgen_makes_of_the_crate() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new().with_crate(crate_dir).with_config(config).generate().expect("cbindgen").write(&mut generated);
    let header = crate_dir.join("../include/agent.h");
    if std::env::var_os("UPDATE_HEADER").is_some() {
        std::fs::write(&header, &generated).unwrap();
    }
    let committed = std::fs::read(&header).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not what cbindgen makes of agent/ffi: run `UPDATE_HEADER=1 cargo test -p agent-ffi --test header` and commit it",
        header.display()
    );
}
