//! The `switch_redis_errors_total` counter: every error the Redis store
//! returns, by kind, so an operator sees a Redis in trouble before the
//! phones do (a failover's few seconds of `cluster_down`, a replica that no
//! longer acknowledges). A no-op without a recorder (the CLI, a switch
//! without an admin listener).

use redis::{ErrorKind, RedisError};

/// The metric's name; its HELP line is in `admin/metrics.rs`.
pub const METRIC: &str = "switch_redis_errors_total";

/// Counts one failed command or connection.
pub(super) fn count(e: &RedisError) {
    metrics::counter!(METRIC, "kind" => kind(e)).increment(1);
}

/// Counts one write that fewer replicas acknowledged than asked for.
pub(super) fn count_not_replicated() {
    metrics::counter!(METRIC, "kind" => "not_replicated").increment(1);
}

/// A handful of fixed labels (a label per error message would grow without
/// bound): the connection's fate first, then what the server said.
fn kind(e: &RedisError) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connection_refusal() {
        "refused"
    } else if e.is_connection_dropped() || e.is_io_error() {
        "connection"
    } else if e.is_cluster_error() || e.kind() == ErrorKind::MasterDown {
        "cluster"
    } else {
        "response"
    }
}
