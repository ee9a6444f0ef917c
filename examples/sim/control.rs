//! The `/sim` control API for tests and demos: play steps, force values,
//! look at subscriptions and counters. Not part of any upstream API.

use bytes::Bytes;
use serde::Deserialize;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use crate::reply::{empty, json, text};
use crate::resource::Resource;
use crate::sim::Sim;

/// Body of `POST /sim/state`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetRequest {
    /// Resource path, e.g. `/sync/ptp-status/lock-state`.
    resource: String,
    /// A state name, or a number (string or JSON number) for clock-class
    /// and SyncE clock quality.
    value: serde_json::Value,
    /// Offset in ns for lock-state, os-clock and GNSS; unchanged if absent.
    offset: Option<i64>,
}

/// Answer a request whose path is `tail` after `/sim`.
pub async fn handle(sim: &Sim, method: &Method, tail: &str, body: &Bytes) -> Response {
    match (method.clone(), tail) {
        (Method::POST, "/step") => json(StatusCode::OK, &sim.play_step().await),
        (Method::POST, "/state") => set_state(sim, body).await,
        (Method::GET, "/subscriptions") => json(StatusCode::OK, &sim.list()),
        (Method::GET, "/stats") => json(StatusCode::OK, &sim.stats()),
        (_, "/step" | "/state" | "/subscriptions" | "/stats") => {
            empty(StatusCode::METHOD_NOT_ALLOWED)
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

async fn set_state(sim: &Sim, body: &Bytes) -> Response {
    let request: SetRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(error) => return text(StatusCode::BAD_REQUEST, &format!("invalid body: {error}")),
    };
    let Some(resource) = Resource::from_path(&request.resource) else {
        let known: Vec<&str> = Resource::ALL.iter().map(|r| r.path()).collect();
        let message = format!("unknown resource {:?}; known: {known:?}", request.resource);
        return text(StatusCode::NOT_FOUND, &message);
    };
    let value = match &request.value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => {
            return text(
                StatusCode::BAD_REQUEST,
                "value must be a string or a number",
            );
        }
    };
    match sim.set_state(resource, &value, request.offset).await {
        Ok(events) => json(StatusCode::OK, &events),
        Err(error) => text(StatusCode::BAD_REQUEST, &error.to_string()),
    }
}
