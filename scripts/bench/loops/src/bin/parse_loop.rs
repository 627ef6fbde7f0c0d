//! A plain loop over the parse benchmark's messages, for profilers that want
//! a small binary (criterion's harness gets in their way):
//!
//! ```text
//! cargo build --release -p bench-loops --bin parse_loop
//! N=1000 valgrind --tool=callgrind target/release/parse_loop INVITE
//! perf record target/release/parse_loop INVITE
//! RSIP=1 target/release/parse_loop      # the same loop over rsip
//! ```
//!
//! Arguments: the message (`REGISTER`, `INVITE` or nothing for both). `N` sets
//! the parses per batch (7 batches); it prints the median and best ns/parse.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::hint::black_box;
use std::time::Instant;

const REGISTER: &[u8] = include_bytes!("../../../../../sipcore/tests/corpus/valid/contract-register.sip");
const INVITE: &[u8] = include_bytes!("../../../../../sipcore/benches/invite.sip");

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let n: u32 = std::env::var("N").ok().and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let rsip = std::env::var_os("RSIP").is_some();
    for (name, raw) in [("REGISTER", REGISTER), ("INVITE", INVITE)] {
        if !which.is_empty() && which != name {
            continue;
        }
        let raw = if std::env::var_os("STATIC").is_some() { Bytes::from_static(raw) } else { Bytes::copy_from_slice(raw) };
        let mut ns: Vec<f64> = (0..7)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..n {
                    if rsip {
                        black_box(rsip::SipMessage::try_from(black_box(&raw[..])).unwrap());
                    } else {
                        black_box(sipcore::parse(black_box(raw.clone())).unwrap());
                    }
                }
                t.elapsed().as_nanos() as f64 / f64::from(n)
            })
            .collect();
        ns.sort_by(f64::total_cmp);
        let (median, best) = (ns.get(3).copied().unwrap_or_default(), ns.first().copied().unwrap_or_default());
        println!("{name}: median {median:.0} ns, best {best:.0} ns per parse ({})", if rsip { "rsip" } else { "sipcore" });
    }
}
