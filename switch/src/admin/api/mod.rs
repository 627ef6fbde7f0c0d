//! The JSON API under `/api` (issue 16 item 3). Live state comes from the
//! core's driver through the control channel (`live.rs`): the driver answers
//! from its own task, so nothing here locks the core; with Redis, the other
//! nodes' registrations and calls are added from the store (`cluster.rs`); subscribers are the
//! store's, written as the CLI writes them (`subscribers.rs`); the roaming
//! events come from the driver's [`Feed`] (`events.rs`). Bodies are bounded
//! ([`BODY_LIMIT`]) and every refusal is a 4xx with `{"error": REASON}`.

mod cluster;
mod error;
mod events;
mod live;
mod subscribers;

pub(crate) use error::ApiError;

use super::events::Feed;
use crate::control::ControlRequest;
use crate::store::Backend;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::get;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// The largest request body: a subscriber is a few hundred bytes.
const BODY_LIMIT: usize = 16 * 1024;

/// What the API reads and writes.
#[derive(Clone)]
pub struct Api {
    /// Requests to the core's driver (the control socket's channel).
    pub core: mpsc::Sender<ControlRequest>,
    /// A store connection of the API's own (blocking: used off the async threads).
    pub store: Arc<Mutex<Backend>>,
    /// The domain the switch serves: the default realm of a new subscriber.
    pub domain: String,
    pub events: Feed,
}

/// The `/api` routes, for a router whose state holds an [`Api`].
pub(super) fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Api: FromRef<S>,
{
    Router::new()
        .route("/api/registrations", get(live::registrations))
        .route("/api/calls", get(live::calls))
        .route("/api/route/{number}", get(live::route))
        .route("/api/probe/{number}", get(live::probe).post(live::probe))
        .route("/api/subscribers", get(subscribers::list).post(subscribers::add))
        .route("/api/subscribers/{number}", get(subscribers::get).patch(subscribers::set).delete(subscribers::remove))
        .route("/api/events", get(events::stream))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Runs `op` on the API's store connection off the async threads (SQLite and
/// Redis calls block).
async fn with_store<T: Send + 'static>(
    api: &Api,
    op: impl FnOnce(&Backend) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = api.store.clone();
    tokio::task::spawn_blocking(move || op(&store.lock().unwrap_or_else(PoisonError::into_inner)))
        .await
        .map_err(|_| ApiError::unavailable("the store task failed"))?
}
