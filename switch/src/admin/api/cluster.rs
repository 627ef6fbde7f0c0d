//! With Redis, the views cover the whole cluster: this node's core answers
//! for its own registrations and calls (live), and the store holds the other
//! nodes' (each written by the node whose core has them), read here and added.
//! With SQLite there is one switch and nothing to add.

use super::error::ApiError;
use super::{Api, with_store};
use crate::admin::view::{CallView, Registrations};
use crate::cdr::Cdr;
use crate::record::RlRecord;
use crate::store::Backend;
use serde_json::Value;
use std::time::SystemTime;

/// Items, each with the node that holds it (the store's listings with nodes).
type WithNodes<T> = Vec<(T, Option<String>)>;

/// What nodes other than this one hold, as `read` lists it with each
/// item's node (nothing without Redis).
async fn others<T: Send + 'static>(api: &Api, read: fn(&Backend) -> crate::store::Result<WithNodes<T>>) -> Result<WithNodes<T>, ApiError> {
    with_store(api, move |store| {
        let Backend::Redis(redis) = store else { return Ok(Vec::new()) };
        let own = redis.node().map(str::to_owned);
        Ok(read(store)?.into_iter().filter(|(_, node)| node.is_some() && *node != own).collect())
    })
    .await
}

/// The core's registrations (a JSON array) and the other nodes'.
pub(super) async fn registrations(api: &Api, live: String) -> Result<String, ApiError> {
    let records: WithNodes<RlRecord> = others(api, Backend::records_with_nodes).await?;
    if records.is_empty() {
        return Ok(live);
    }
    let mut all: Vec<Value> = serde_json::from_str(&live).map_err(|e| ApiError::unavailable(e.to_string()))?;
    let now = sipcore::auth::unix_seconds(SystemTime::now());
    if let Ok(Value::Array(more)) = Registrations::new(&records, &[], now).to_json() {
        all.extend(more);
    }
    Ok(Value::Array(all).to_string())
}

/// The core's calls (`{"active", "recent"}`) and the other nodes' in progress.
pub(super) async fn calls(api: &Api, live: String) -> Result<String, ApiError> {
    let calls: WithNodes<Cdr> = others(api, |s| s.cdrs_with_nodes(true)).await?;
    if calls.is_empty() {
        return Ok(live);
    }
    let mut all: Value = serde_json::from_str(&live).map_err(|e| ApiError::unavailable(e.to_string()))?;
    if let Some(Value::Array(active)) = all.get_mut("active") {
        for (call, node) in &calls {
            active.push(serde_json::to_value(CallView { call, node: node.as_deref() }).unwrap_or_default());
        }
    }
    Ok(all.to_string())
}
