//! The live web view at `/` (issue 16 item 4): one page, its script and its
//! style, compiled into the binary (no CDN, nothing read from disk). The page
//! reads everything from the JSON API, so these routes hold no data.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX: &str = include_str!("web/index.html");
const SCRIPT: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/style.css");

/// The static routes, for any router state.
pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", INDEX)))
        .route("/app.js", get(|| asset("text/javascript; charset=utf-8", SCRIPT)))
        .route("/style.css", get(|| asset("text/css; charset=utf-8", STYLE)))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    // No inline script, nothing from elsewhere: a CSP that says so.
    let csp = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'";
    ([(header::CONTENT_TYPE, content_type), (header::CONTENT_SECURITY_POLICY, csp), (header::CACHE_CONTROL, "no-cache")], body)
}
