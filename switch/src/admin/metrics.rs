//! The Prometheus exposition of `/metrics`, on the `metrics` crate and
//! `metrics-exporter-prometheus`: the driver (`server/metrics.rs`), the store
//! thread and the DNS server record with the `metrics` macros (static names,
//! a no-op until a recorder is installed, so a switch without an admin
//! listener pays nothing), and the admin listener renders the handle — the
//! exporter's own HTTP listener is never started. Chosen over
//! `prometheus-client` because its macros need no registry threaded through
//! the driver, the store thread and the DNS runtime, and the workspace design
//! names it.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The store write latency histogram's buckets, seconds: a SQLite commit
/// takes a millisecond or so, a Redis round trip on a LAN less, a stalled
/// disk seconds.
const STORE_BUCKETS: [f64; 11] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Installs the process's recorder; the handle renders the text format.
pub fn install() -> crate::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full("switch_store_write_seconds".into()), &STORE_BUCKETS)
        .and_then(|b| b.install_recorder())
        .map_err(|e| crate::Error::Config(format!("installing the metrics recorder: {e}")))?;
    describe();
    Ok(handle)
}

/// HELP lines (promtool wants one per metric).
fn describe() {
    describe_gauge!("switch_registrations", "RL records in the location table, by state");
    describe_gauge!("switch_calls_active", "Calls in progress");
    describe_gauge!("switch_flows_open", "SIP connections (TCP, TLS) open, by transport");
    describe_gauge!("switch_relay_ports_in_use", "Relay ports held by calls (RTP and RTCP per leg)");
    describe_counter!("switch_calls_ended_total", "Calls ended, by end reason");
    describe_counter!("switch_register_responses_total", "Final responses sent to REGISTER, by status code");
    describe_counter!("switch_invite_responses_total", "Final responses sent to INVITE, by status code");
    describe_counter!("switch_auth_failures_total", "Requests refused for their credentials (403 to REGISTER or INVITE), by method");
    describe_gauge!("switch_abuse_sources_blocked", "Source addresses cooling down after failed authentications");
    describe_gauge!("switch_abuse_numbers_locked", "Numbers locked against password guessing");
    describe_counter!("switch_media_timeouts_total", "Calls hung up because no media flowed");
    describe_counter!(
        "switch_relay_packets_total",
        "Packets relayed; direction in: from a party to the relay, out: from the relay to a party"
    );
    describe_counter!("switch_relay_bytes_total", Unit::Bytes, "Bytes relayed, by direction");
    describe_counter!("switch_relay_dropped_packets_total", "Packets the relay refused (foreign sources, not RTP/RTCP)");
    describe_counter!("switch_relay_foreign_packets_total", "Of the dropped packets: from a source not the party's (hijack attempts)");
    describe_histogram!("switch_store_write_seconds", Unit::Seconds, "Time to write one batch to the store");
    describe_counter!("switch_dns_queries_total", "DNS queries answered, by response code");
    describe_counter!(
        crate::store::redis::ERRORS_METRIC,
        "Errors the Redis store met, by kind (refused, timeout, connection, cluster, response, not_replicated)"
    );
}
