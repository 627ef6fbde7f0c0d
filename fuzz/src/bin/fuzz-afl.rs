//! The AFL++ entry point: `fuzz-afl <target>` runs that target in AFL's
//! persistent mode. Built only by `cargo afl build -p fuzz --features afl`
//! (`scripts/fuzz.sh build`); see `fuzz/README.md`.

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = fuzz::target(&name) else {
        let names: Vec<&str> = fuzz::TARGETS.iter().map(|t| t.name).collect();
        eprintln!("usage: fuzz-afl <target>; targets: {}", names.join(", "));
        std::process::exit(2);
    };
    afl::fuzz(true, |data| (target.run)(data));
}
