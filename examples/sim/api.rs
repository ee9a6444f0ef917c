//! The O-RAN O-Cloud Notification v2 REST API (REFERENCE §2) under the
//! flavour's prefix: turns requests into [`Sim`] calls and answers into
//! HTTP status codes.

use bytes::Bytes;
use serde::Deserialize;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use crate::config::Flavor;
use crate::reply::{empty, json, text};
use crate::sim::{Sim, SubscribeError};

/// Body of `POST /subscriptions`. Fields are optional here so a missing
/// one is our 400 with a clear message, not a serde rejection.
#[derive(Deserialize)]
struct SubscriptionRequest {
    #[serde(rename = "ResourceAddress")]
    resource_address: Option<String>,
    #[serde(rename = "EndpointUri")]
    endpoint_uri: Option<String>,
}

/// Answer a request whose path is `tail` after the API prefix.
pub async fn handle(sim: &Sim, method: &Method, tail: &str, body: &Bytes) -> Response {
    let redhat = sim.flavor() == Flavor::RedHat;
    match tail {
        "/health" => only_get(method, || text(StatusCode::OK, "OK")),
        "/publishers" if redhat => only_get(method, || json(StatusCode::OK, &sim.publishers())),
        "/subscriptions" => match *method {
            Method::GET => json(StatusCode::OK, &sim.list()),
            Method::POST => subscribe(sim, body).await,
            Method::DELETE if redhat => {
                sim.delete_all();
                empty(StatusCode::NO_CONTENT)
            }
            _ => empty(StatusCode::METHOD_NOT_ALLOWED),
        },
        _ => {
            if let Some(id) = tail.strip_prefix("/subscriptions/") {
                return subscription(sim, method, id);
            }
            if let Some(address) = tail.strip_suffix("/CurrentState") {
                return only_get(method, || match sim.current_state(address) {
                    Some(event) => json(StatusCode::OK, &event),
                    None => text(StatusCode::NOT_FOUND, "no current state for this address"),
                });
            }
            text(StatusCode::NOT_FOUND, "not found")
        }
    }
}

fn only_get(method: &Method, answer: impl FnOnce() -> Response) -> Response {
    if method == Method::GET {
        answer()
    } else {
        empty(StatusCode::METHOD_NOT_ALLOWED)
    }
}

fn subscription(sim: &Sim, method: &Method, id: &str) -> Response {
    match *method {
        Method::GET => match sim.get(id) {
            Some(info) => json(StatusCode::OK, &info),
            None => text(StatusCode::NOT_FOUND, "subscription not found"),
        },
        Method::DELETE if sim.delete(id) => empty(StatusCode::NO_CONTENT),
        Method::DELETE => text(StatusCode::NOT_FOUND, "subscription not found"),
        _ => empty(StatusCode::METHOD_NOT_ALLOWED),
    }
}

async fn subscribe(sim: &Sim, body: &Bytes) -> Response {
    let request: SubscriptionRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(error) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("invalid JSON body: {error}"),
            );
        }
    };
    let non_empty = |field: Option<String>| field.filter(|s| !s.trim().is_empty());
    let (Some(address), Some(endpoint)) = (
        non_empty(request.resource_address),
        non_empty(request.endpoint_uri),
    ) else {
        return text(
            StatusCode::BAD_REQUEST,
            "ResourceAddress and EndpointUri are both required",
        );
    };
    match reqwest::Url::parse(&endpoint) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        _ => {
            return text(
                StatusCode::BAD_REQUEST,
                "EndpointUri must be an http(s) URL",
            );
        }
    }
    match sim.subscribe(&address, &endpoint).await {
        Ok(info) => json(StatusCode::CREATED, &info),
        Err(SubscribeError::UnknownResource) => text(
            StatusCode::NOT_FOUND,
            &format!("unknown resource {address}"),
        ),
        Err(SubscribeError::Duplicate) => text(StatusCode::CONFLICT, "subscription already exists"),
        Err(SubscribeError::InitialNotification(outcome)) => text(
            StatusCode::BAD_REQUEST,
            &format!("initial notification to EndpointUri not accepted: {outcome:?}"),
        ),
    }
}
