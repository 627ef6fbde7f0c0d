//! `/api/subscribers`: list, add, set and remove, with the CLI's checks (the
//! store's `validate`, [`view::parse_mac`]) and its listing
//! ([`view::SubscriberView`]: never a credential). The store is written as
//! `switch subscriber` writes it, so the core picks the change up the same
//! way (its provisioning check), and the CLI sees it.

use super::error::{ApiError, json};
use super::{Api, with_store};
use crate::admin::view::{self, SubscriberView};
use crate::record::Subscriber;
use crate::store::{NewSubscriber, SubscriberUpdate};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// `POST /api/subscribers`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Add {
    number: String,
    password: String,
    /// Default: the domain the switch serves.
    realm: Option<String>,
    mac: Option<String>,
    home: Option<String>,
}

/// `PATCH /api/subscribers/{number}`: absent fields stay; `"mac": null` and
/// `"home": null` clear.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Set {
    password: Option<String>,
    realm: Option<String>,
    #[serde(default, deserialize_with = "present")]
    mac: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    home: Option<Option<String>>,
}

/// A field that is there, `null` or not: `Some(None)` for `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A JSON body of type `T`, or a 400 (413 when too large) saying why.
fn body<T: DeserializeOwned>(bytes: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = bytes.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

fn path(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(n)| n).map_err(|e| ApiError::bad_request(e.body_text()))
}

/// One subscriber as listed, with a warning when asked for one.
fn shown(sub: &Subscriber, warning: Option<String>) -> String {
    let mut value = serde_json::to_value(SubscriberView::new(sub)).unwrap_or_default();
    if let (Some(w), Some(fields)) = (warning, value.as_object_mut()) {
        fields.insert("warning".into(), w.into());
    }
    value.to_string()
}

fn warning(api: &Api, realm: &str) -> Option<String> {
    view::realm_warning(realm, &api.domain, "the running switch")
}

pub(super) async fn list(State(api): State<Api>) -> Result<Response, ApiError> {
    let subs = with_store(&api, |s| Ok(s.subscribers()?)).await?;
    let views: Vec<SubscriberView<'_>> = subs.iter().map(SubscriberView::new).collect();
    Ok(json(StatusCode::OK, serde_json::to_string(&views).unwrap_or_default()))
}

pub(super) async fn get(State(api): State<Api>, number: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let number = path(number)?;
    let sub =
        with_store(&api, move |s| s.subscriber(&number)?.ok_or_else(|| ApiError::from(crate::store::StoreError::NotFound(number)))).await?;
    Ok(json(StatusCode::OK, shown(&sub, None)))
}

pub(super) async fn add(State(api): State<Api>, bytes: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let add: Add = body(bytes)?;
    let mac = add.mac.as_deref().map(view::parse_mac).transpose()?;
    let realm = add.realm.unwrap_or_else(|| api.domain.clone());
    let warning = warning(&api, &realm);
    let sub = with_store(&api, move |s| {
        Ok(s.add_subscriber(NewSubscriber { mac, home: add.home.as_deref(), ..NewSubscriber::new(&add.number, &add.password, &realm) })?)
    })
    .await?;
    Ok(json(StatusCode::CREATED, shown(&sub, warning)))
}

pub(super) async fn set(
    State(api): State<Api>,
    number: Result<Path<String>, PathRejection>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let number = path(number)?;
    let set: Set = body(bytes)?;
    let mac = match set.mac {
        Some(Some(m)) => Some(Some(view::parse_mac(&m)?)),
        Some(None) => Some(None),
        None => None,
    };
    let warning = set.realm.as_deref().and_then(|r| warning(&api, r));
    let update = SubscriberUpdate { password: set.password, realm: set.realm, mac, home: set.home };
    if update.is_empty() {
        return Err(ApiError::bad_request("nothing to change: give password, realm, mac or home"));
    }
    let sub = with_store(&api, move |s| Ok(s.update_subscriber(&number, update)?)).await?;
    Ok(json(StatusCode::OK, shown(&sub, warning)))
}

pub(super) async fn remove(State(api): State<Api>, number: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let number = path(number)?;
    let removed = number.clone();
    with_store(&api, move |s| Ok(s.remove_subscriber(&number)?)).await?;
    Ok(json(StatusCode::OK, serde_json::json!({ "removed": removed }).to_string()))
}
