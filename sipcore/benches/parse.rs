//! Parse speed of sipcore against rsip 0.4 on the contract REGISTER (with
//! Authorization) and a typical INVITE with an SDP body, in one run.
//!
//! `cargo bench -p sipcore --bench parse` runs criterion, then times both
//! parsers again in the same binary (median of batches) and prints
//! `message | sipcore ns | rsip ns | ratio` with the targets: sipcore ≥ 3x
//! faster than rsip, and under 1 µs per INVITE.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, black_box};
use std::time::Instant;

/// The wire contract's REGISTER (../shared/DESIGN.md) with digest credentials.
const REGISTER: &[u8] = include_bytes!("../tests/corpus/valid/contract-register.sip");

/// A typical INVITE: RFC 3665-style headers and an SDP offer (`invite.sip`).
const INVITE: &[u8] = include_bytes!("invite.sip");

const MESSAGES: [(&str, &[u8]); 2] = [("REGISTER", REGISTER), ("INVITE", INVITE)];

fn sipcore_parse(raw: &Bytes) -> usize {
    sipcore::parse(raw.clone()).expect("sipcore parses").headers().len()
}

fn rsip_parse(raw: &Bytes) -> usize {
    match rsip::SipMessage::try_from(&raw[..]).expect("rsip parses") {
        rsip::SipMessage::Request(r) => r.headers.iter().count(),
        rsip::SipMessage::Response(r) => r.headers.iter().count(),
    }
}

fn criterion_runs(c: &mut Criterion) {
    for (name, raw) in MESSAGES {
        let raw = Bytes::copy_from_slice(raw);
        let mut g = c.benchmark_group(format!("parse_{}", name.to_ascii_lowercase()));
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_with_input(BenchmarkId::new("sipcore", name), &raw, |b, raw| b.iter(|| sipcore_parse(black_box(raw))));
        g.bench_with_input(BenchmarkId::new("rsip", name), &raw, |b, raw| b.iter(|| rsip_parse(black_box(raw))));
        g.finish();
    }
}

/// Median nanoseconds per call over `batches` timed batches.
fn median_ns(raw: &Bytes, f: fn(&Bytes) -> usize) -> f64 {
    let mut per_batch = 200u32;
    // Size batches to about 2 ms so timer resolution does not matter.
    loop {
        let t = Instant::now();
        for _ in 0..per_batch {
            black_box(f(black_box(raw)));
        }
        if t.elapsed().as_micros() > 2000 || per_batch > 1 << 24 {
            break;
        }
        per_batch *= 2;
    }
    let mut samples: Vec<f64> = (0..41)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                black_box(f(black_box(raw)));
            }
            t.elapsed().as_nanos() as f64 / f64::from(per_batch)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn table() {
    println!();
    println!("message  | bytes | sipcore ns | rsip ns | ratio (rsip/sipcore)");
    println!("---------|-------|------------|---------|---------------------");
    let mut ok = true;
    for (name, raw) in MESSAGES {
        let raw = Bytes::copy_from_slice(raw);
        assert_eq!(sipcore_parse(&raw), rsip_parse(&raw), "{name}: both parsers see the same header lines");
        let ours = median_ns(&raw, sipcore_parse);
        let theirs = median_ns(&raw, rsip_parse);
        let ratio = theirs / ours;
        println!("{name:8} | {:5} | {ours:10.0} | {theirs:7.0} | {ratio:.1}x", raw.len());
        ok &= ratio >= 3.0 && (name != "INVITE" || ours < 1000.0);
    }
    println!("targets (>= 3x faster than rsip, INVITE < 1000 ns): {}", if ok { "met" } else { "NOT met" });
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    criterion_runs(&mut c);
    c.final_summary();
    // `cargo bench` passes --bench; `cargo test --benches` does not and only smoke-tests.
    if std::env::args().any(|a| a == "--bench") {
        table();
    }
}
