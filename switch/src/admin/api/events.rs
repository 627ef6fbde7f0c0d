//! `GET /api/events`: the roaming events as Server-Sent Events, the recent
//! ones first. A listener that falls too far behind skips what it missed
//! (and is told how many) rather than holding the switch's memory.

use super::Api;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

pub(super) async fn stream(State(api): State<Api>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (recent, rx) = api.events.subscribe();
    let backlog = stream::iter(recent.into_iter().map(|json| Ok(Event::default().event("roaming").data(&*json))));
    let live = stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(json) => Event::default().event("roaming").data(&*json),
            Err(RecvError::Lagged(n)) => Event::default().event("lagged").data(n.to_string()),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), rx))
    });
    Sse::new(backlog.chain(live)).keep_alive(KeepAlive::default())
}
