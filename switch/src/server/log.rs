//! The log lines the driver writes for what the core reports: one line per
//! registration change (refreshes only at debug level) and one per call ended.

use crate::cdr::Cdr;
use crate::location::{Cause, Change};
use crate::record::{RlRecord, transport_name};
use std::time::Instant;
use tracing::{debug, info, warn};

/// Logs one registration change.
pub(super) fn change(now: Instant, change: &Change) {
    match change {
        Change::Upserted { record, cause } => registration(now, record, cause.as_str(), *cause == Cause::Refreshed),
        Change::Challenged { record, challenger } => {
            warn!(number = %record.number, state = record.state.as_str(), holder = %record.observed, challenger = %challenger.observed,
                "registration conflict: another device tried to register this number");
        }
        Change::Removed { record, cause } => {
            info!(number = %record.number, cause = cause.as_str(), observed = %record.observed, "registration removed");
        }
        Change::CloseFlow { flow, cause } => info!(%flow, cause = cause.as_str(), "closing flow"),
        Change::ForgetFlow { flow, cause } => debug!(%flow, cause = cause.as_str(), "flow no longer carries a registration"),
    }
}

fn registration(now: Instant, r: &RlRecord<Instant>, cause: &str, quiet: bool) {
    let ttl = r.time_left(now).as_secs();
    if quiet {
        debug!(number = %r.number, cause, state = r.state.as_str(), observed = %r.observed, ttl, "registration");
    } else {
        let private = r.private_ip.map(|i| i.to_string()).unwrap_or_default();
        let public = r.public_ip_claimed.map(|i| i.to_string()).unwrap_or_default();
        info!(number = %r.number, cause, state = r.state.as_str(), observed = %r.observed, private_ip = %private,
            public_ip = %public, behind_nat = r.behind_nat, transport = transport_name(r.transport), ttl, "registration");
    }
}

/// Logs the end of a call.
pub(super) fn call_ended(cdr: &Cdr<Instant>) {
    info!(call_id = %cdr.call_id, caller = %cdr.caller, callee = %cdr.callee, route = %cdr.route,
        status = cdr.status.unwrap_or(0), reason = cdr.end_reason.as_deref().unwrap_or(""), "call ended");
}
