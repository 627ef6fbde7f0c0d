//! The result line: per lane, packets sent/received/lost and transit quantiles
//! (p50, p90, p99, p99.9, max, in microseconds), and each lane's quantiles over the
//! first lane's (the ratio the relays are ranked by).

use crate::args::Args;
use crate::receiver::Received;

const QUANTILES: [(&str, f64); 4] = [("p50_us", 0.50), ("p90_us", 0.90), ("p99_us", 0.99), ("p999_us", 0.999)];

/// The quantiles of `sorted` in microseconds, then its max; None when empty.
pub(crate) fn quantiles(sorted: &[u64]) -> Option<Vec<f64>> {
    let last = *sorted.last()?;
    let at = |q: f64| {
        let index = ((q * sorted.len() as f64) as usize).min(sorted.len() - 1);
        sorted.get(index).copied().unwrap_or(last) as f64 / 1000.0
    };
    Some(QUANTILES.iter().map(|&(_, q)| at(q)).chain([last as f64 / 1000.0]).collect())
}

pub(crate) fn json(args: &Args, names: &[String], sent: &[u64], mut received: Received) -> String {
    let counted = (args.seconds - args.warmup).as_secs_f64();
    let mut lanes = Vec::new();
    let mut first: Option<Vec<f64>> = None;
    for (i, name) in names.iter().enumerate() {
        let mut transit = received.transit_ns.get_mut(i).map(std::mem::take).unwrap_or_default();
        transit.sort_unstable();
        let sent = sent.get(i).copied().unwrap_or_default();
        let got = transit.len() as u64;
        let q = quantiles(&transit);
        let mut fields = vec![
            format!("\"sent\":{sent}"),
            format!("\"received\":{got}"),
            format!("\"lost\":{}", sent.saturating_sub(got)),
            format!("\"loss_pct\":{:.4}", if sent > 0 { 100.0 * sent.saturating_sub(got) as f64 / sent as f64 } else { 0.0 }),
            format!("\"pps_received\":{:.1}", got as f64 / counted),
        ];
        let names = QUANTILES.iter().map(|&(n, _)| n).chain(["max_us"]);
        for (n, v) in names.clone().zip(q.iter().flatten()) {
            fields.push(format!("\"{n}\":{v:.1}"));
        }
        // Ranked against the first lane in the same run: `p99_ratio` 0.5 = half its p99.
        if let (Some(base), Some(q)) = (&first, &q) {
            for ((n, v), b) in names.zip(q).zip(base) {
                let ratio = if *b > 0.0 { v / b } else { 0.0 };
                fields.push(format!("\"{}_ratio\":{ratio:.3}", n.trim_end_matches("_us")));
            }
        }
        if first.is_none() {
            first = q.clone();
        }
        lanes.push(format!("\"{name}\":{{{}}}", fields.join(",")));
    }
    format!(
        "{{\"streams\":{},\"seconds_counted\":{counted:.1},\"ratios_to\":\"{}\",\"wrong_socket\":{},\"lanes\":{{{}}}}}",
        args.streams,
        names.first().map_or("", String::as_str),
        received.wrong,
        lanes.join(",")
    )
}
