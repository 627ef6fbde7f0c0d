//! What only the running core knows, asked of its driver through the control
//! channel (the same requests `switch route` and `switch probe` send down the
//! control socket): the live registrations, the calls with the relay's
//! counters now, where a call for a number would go, and a probe.

use super::Api;
use super::error::{ApiError, json};
use crate::control::{Command, ControlRequest};
use crate::store::validate;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::time::Duration;
use tokio::sync::oneshot;

/// Longer than any answer takes (a probe waits 5 s for the phone).
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// One request to the core's driver and its one-line answer.
async fn ask(api: &Api, command: Command) -> Result<String, ApiError> {
    let (reply, answer) = oneshot::channel();
    api.core.send(ControlRequest { command, reply }).await.map_err(|_| ApiError::unavailable("the switch is stopping"))?;
    let line = tokio::time::timeout(ANSWER_WAIT, answer)
        .await
        .map_err(|_| ApiError::unavailable("the switch core did not answer in time"))?
        .map_err(|_| ApiError::unavailable("the switch is stopping"))?;
    match line.strip_prefix("error: ") {
        Some(e) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e)),
        None => Ok(line),
    }
}

/// A number from the path, checked as provisioning checks it.
fn number(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(number) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    validate::number(&number)?;
    Ok(number)
}

pub(super) async fn registrations(State(api): State<Api>) -> Result<Response, ApiError> {
    let live = ask(&api, Command::Registrations).await?;
    Ok(json(StatusCode::OK, super::cluster::registrations(&api, live).await?))
}

pub(super) async fn calls(State(api): State<Api>) -> Result<Response, ApiError> {
    let live = ask(&api, Command::Calls).await?;
    Ok(json(StatusCode::OK, super::cluster::calls(&api, live).await?))
}

/// `route N flow observed=… transport=…` as `{"number", "route", "observed", "transport", "answer"}`;
/// a number not provisioned is a 404.
pub(super) async fn route(State(api): State<Api>, path: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let number = number(path)?;
    let line = ask(&api, Command::Route(number.clone())).await?;
    let mut words = line.split_whitespace().skip(2);
    let route = words.next().unwrap_or("unknown");
    if route == "unknown" {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no subscriber {number}")));
    }
    let mut body = serde_json::Map::new();
    for (key, value) in words.filter_map(|w| w.split_once('=')) {
        body.insert(key.to_owned(), value.into());
    }
    body.insert("number".into(), number.into());
    body.insert("route".into(), route.into());
    body.insert("answer".into(), line.into());
    Ok(json(StatusCode::OK, serde_json::Value::Object(body).to_string()))
}

/// `{"number", "reachable", "answer"}`: an OPTIONS down the number's flow.
pub(super) async fn probe(State(api): State<Api>, path: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let number = number(path)?;
    let line = ask(&api, Command::Probe(number.clone())).await?;
    let body = serde_json::json!({ "number": number, "reachable": line.starts_with("reachable"), "answer": line });
    Ok(json(StatusCode::OK, body.to_string()))
}
