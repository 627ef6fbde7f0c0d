//! The admin listener (issue 16): HTTP on `[admin] listen` / `--admin`, off
//! unless configured, on `axum`. `/metrics` (Prometheus text, see
//! [`metrics`]) and `/healthz` (the core's [`Heartbeat`]) are open, and so are
//! the web view's static files (`web.rs`: they hold no data); anything else
//! needs the bearer token unless the listener is loopback ([`auth`]): the
//! JSON API under `/api` ([`api`]) that the web view reads.
//! It runs on the main runtime as tasks of its own and never touches the
//! core: it reads the metrics recorder and the heartbeat, and asks the
//! core's driver for live state over a channel.

mod api;
mod auth;
mod config;
pub mod events;
mod health;
pub mod metrics;
pub mod view;
mod web;

pub use api::Api;
pub use auth::Auth;
pub use config::AdminSettings;
pub use health::Heartbeat;

use crate::Error;
use axum::Router;
use axum::extract::{FromRef, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::{info, warn};

/// What the handlers read.
#[derive(Clone)]
struct Shared {
    metrics: PrometheusHandle,
    health: Heartbeat,
    api: Api,
}

impl FromRef<Shared> for Api {
    fn from_ref(shared: &Shared) -> Api {
        shared.api.clone()
    }
}

/// Binds every configured listener and serves each on a task; returns the
/// bound addresses (port 0 resolved).
pub async fn spawn(settings: &AdminSettings, metrics: PrometheusHandle, health: Heartbeat, api: Api) -> crate::Result<Vec<SocketAddr>> {
    let token = settings.token()?;
    let shared = Shared { metrics, health, api };
    let mut bound = Vec::new();
    for addr in settings.listen_addrs()? {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| Error::Io { what: "binding the admin listener", source })?;
        let local = listener.local_addr().map_err(|source| Error::Io { what: "binding the admin listener", source })?;
        let auth = Auth::for_listener(local.ip().is_loopback(), settings.require_token, token.as_deref());
        let app = router(shared.clone(), auth);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                warn!(admin = %local, error = %e, "admin listener stopped");
            }
        });
        info!(admin = %local, "admin listening");
        bound.push(local);
    }
    Ok(bound)
}

fn router(shared: Shared, auth: Auth) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .merge(web::routes())
        .merge(api::routes())
        .fallback(|| async { api::ApiError::new(StatusCode::NOT_FOUND, "not found") })
        .layer(middleware::from_fn_with_state(auth, authorize))
        .with_state(shared)
}

async fn authorize(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    if auth.allows(request.uri().path(), request.headers()) {
        next.run(request).await
    } else {
        let body = r#"{"error":"unauthorized: Authorization: Bearer TOKEN"}"#;
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer"), (header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

async fn scrape(State(shared): State<Shared>) -> impl IntoResponse {
    shared.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], shared.metrics.render())
}

async fn healthz(State(shared): State<Shared>) -> Response {
    if shared.health.alive(Instant::now()) {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "the switch core is not running\n").into_response()
    }
}
