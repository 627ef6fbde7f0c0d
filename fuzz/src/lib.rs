//! Fuzz targets for every parser that reads bytes from the network.
//!
//! Each target is a plain function over `&[u8]`: AFL++ drives it through the
//! `fuzz-afl` binary (`cargo afl build --features afl`, see `fuzz/README.md`),
//! and `cargo test -p fuzz` runs it over the committed corpus and every saved
//! crash (`tests/corpus.rs`), so a fixed crash stays fixed without AFL.
//!
//! A target fails by panicking. Beyond "no panic" each one asserts what must
//! hold for what the parser accepts (round trips, bounds, agreement between
//! two readers of the same bytes); those assertions are the point of a target,
//! so they panic with a message rather than return an error.

pub mod chunks;
pub mod targets;

/// One fuzz target: its name (the corpus directory and the `fuzz-afl` argument) and its function.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// Directory name under `fuzz/corpus/` and `fuzz/regressions/`.
    pub name: &'static str,
    /// Runs one input; panics when an invariant breaks.
    pub run: fn(&[u8]),
}

/// Every target, in the order the test command runs them.
pub const TARGETS: &[Target] = &[
    Target { name: "sip_message", run: targets::sip_message::run },
    Target { name: "sip_stream", run: targets::sip_stream::run },
    Target { name: "digest", run: targets::digest::run },
    Target { name: "sdp_rewrite", run: targets::sdp_rewrite::run },
    Target { name: "rtp_packet", run: targets::rtp_packet::run },
    Target { name: "rtp_stream", run: targets::rtp_stream::run },
    Target { name: "stun", run: targets::stun::run },
    Target { name: "dns", run: targets::dns::run },
    Target { name: "dns_update_answer", run: targets::dns_update_answer::run },
    Target { name: "flow_token", run: targets::flow_token::run },
    Target { name: "push", run: targets::push::run },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
