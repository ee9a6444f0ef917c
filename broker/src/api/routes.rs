//! The API's routes: one hyper service, both base paths, the v2 answers.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Response, StatusCode};
use proto::query::Selector;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::consumers::{OranSubscription, Refused};
use super::{Api, BODY_TIMEOUT, MAX_BODY, REDHAT_BASE, STARLINGX_BASE, address};
use crate::core::stats;

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, body: Bytes, content_type: &str) -> Answer {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

fn json_answer(status: StatusCode, value: &Json) -> Answer {
    answer(
        status,
        Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        "application/json",
    )
}

fn error(status: StatusCode, reason: String) -> Answer {
    json_answer(status, &json!({ "error": reason }))
}

pub(super) async fn handle(api: &Api, request: Request<hyper::body::Incoming>) -> Answer {
    let response = route(api, request).await;
    let counter = if response.status().is_success() {
        &api.broker.stats().api_requests
    } else {
        &api.broker.stats().rejected_api
    };
    stats::bump(counter);
    response
}

async fn route(api: &Api, request: Request<hyper::body::Incoming>) -> Answer {
    let path = percent_decode(request.uri().path());
    let (base, rest) = if let Some(rest) = path.strip_prefix(REDHAT_BASE) {
        (REDHAT_BASE, rest.to_owned())
    } else if let Some(rest) = path.strip_prefix(STARLINGX_BASE) {
        (STARLINGX_BASE, rest.to_owned())
    } else {
        return error(
            StatusCode::NOT_FOUND,
            format!("not under {REDHAT_BASE} or {STARLINGX_BASE}"),
        );
    };
    let host = request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| api.local.to_string());
    let location = |id: &str| format!("http://{host}{base}/subscriptions/{id}");
    let listed = |s: &OranSubscription| {
        json!({
            "SubscriptionId": s.id,
            "ResourceAddress": s.resource_address,
            "EndpointUri": s.endpoint_uri,
            "UriLocation": location(&s.id),
        })
    };
    let method = request.method().clone();
    let rest = rest.trim_end_matches('/');
    match (method, rest) {
        (Method::GET, "/health") => answer(StatusCode::OK, Bytes::from_static(b"OK"), "text/plain"),
        (Method::GET, "/publishers") => json_answer(StatusCode::OK, &publishers(api, &location)),
        (Method::GET, "/subscriptions") => json_answer(
            StatusCode::OK,
            &Json::Array(api.consumers.list().iter().map(listed).collect()),
        ),
        (Method::DELETE, "/subscriptions") => match api.consumers.delete_all() {
            Ok(()) => answer(StatusCode::NO_CONTENT, Bytes::new(), "text/plain"),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        },
        (Method::POST, "/subscriptions") => {
            let body = match read_body(request).await {
                Ok(b) => b,
                Err(e) => return e,
            };
            match subscribe(api, &body).await {
                Ok(sub) => json_answer(StatusCode::CREATED, &listed(&sub)),
                Err(Refused(status, reason)) => error(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                    reason,
                ),
            }
        }
        (method, rest) if rest.ends_with("/CurrentState") && method == Method::GET => {
            current_state(api, rest.trim_end_matches("/CurrentState"))
        }
        (method, rest) => {
            // `/subscriptions/{id}`, and StarlingX's `/{id}`.
            let id = rest
                .strip_prefix("/subscriptions/")
                .or_else(|| rest.strip_prefix('/'))
                .unwrap_or_default();
            let Some(sub) = api.consumers.get(id) else {
                return error(StatusCode::NOT_FOUND, format!("no subscription {id:?}"));
            };
            match method {
                Method::GET => json_answer(StatusCode::OK, &listed(&sub)),
                Method::DELETE => match api.consumers.delete(&sub.id) {
                    Ok(_) => answer(StatusCode::NO_CONTENT, Bytes::new(), "text/plain"),
                    Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
                },
                _ => error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "GET or DELETE a subscription".to_owned(),
                ),
            }
        }
    }
}

async fn read_body(request: Request<hyper::body::Incoming>) -> Result<Bytes, Answer> {
    let limited = Limited::new(request.into_body(), MAX_BODY);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            "the body did not arrive in time".to_owned(),
        )),
        Ok(Err(e)) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body refused: {e} (at most {MAX_BODY} bytes)"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

#[derive(Deserialize)]
struct NewSubscription {
    #[serde(rename = "ResourceAddress", default)]
    resource_address: Option<String>,
    #[serde(rename = "EndpointUri", default)]
    endpoint_uri: Option<String>,
}

async fn subscribe(api: &Api, body: &[u8]) -> Result<OranSubscription, Refused> {
    let new: NewSubscription = serde_json::from_slice(body)
        .map_err(|e| Refused(400, format!("the body is not subscription JSON: {e}")))?;
    let endpoint = new
        .endpoint_uri
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Refused(400, "EndpointUri is missing or empty".to_owned()))?;
    let resource = new
        .resource_address
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Refused(400, "ResourceAddress is missing or empty".to_owned()))?;
    let url =
        crate::sink::webhook::parse_url("EndpointUri", &endpoint).map_err(|e| Refused(400, e))?;
    if let Some(allow) = &api.allow {
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let resolved: Vec<std::net::IpAddr> =
            tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
                .await
                .map_err(|e| Refused(400, format!("EndpointUri host {host}: {e}")))?
                .map(|a| a.ip())
                .collect();
        if resolved.is_empty()
            || !resolved
                .iter()
                .all(|ip| allow.iter().any(|c| c.contains(*ip)))
        {
            return Err(Refused(
                400,
                format!("EndpointUri {endpoint} is outside api.allow"),
            ));
        }
    }
    api.consumers.create(resource, endpoint).await
}

fn current_state(api: &Api, address: &str) -> Answer {
    let selection = match address::parse(address, &api.node) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::NOT_FOUND, e.0),
    };
    let names: Vec<String> = selection
        .types()
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    let selector = match Selector::new(&names, "") {
        Ok(s) => s,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let events: Vec<Json> = api
        .broker
        .snapshot(&selector)
        .events
        .iter()
        .map(|e| proto::cloudevent::to_json(e, false))
        .collect();
    match events.len() {
        0 => error(
            StatusCode::NOT_FOUND,
            format!("no current state for {address}"),
        ),
        1 => json_answer(StatusCode::OK, &events[0]),
        _ => json_answer(StatusCode::OK, &Json::Array(events)),
    }
}

/// One entry per O-RAN resource of this node, in the v2 subscription shape.
fn publishers(api: &Api, location: &dyn Fn(&str) -> String) -> Json {
    Json::Array(
        catalog::ALL
            .iter()
            .map(|e| {
                let id = uuid::Uuid::from_u128(fnv(e.resource())).to_string();
                json!({
                    "SubscriptionId": id,
                    "ResourceAddress": api.flavor.address(&api.node, e.resource()),
                    "EndpointUri": format!("http://{}{REDHAT_BASE}/dummy", api.local),
                    "UriLocation": location(&id),
                })
            })
            .collect(),
    )
}

/// A stable 128-bit id for a publisher entry.
fn fnv(s: &str) -> u128 {
    s.bytes()
        .fold(0x6c62272e07bb014262b821756295c58d_u128, |h, b| {
            (h ^ u128::from(b)).wrapping_mul(0x0000000001000000000000000000013B)
        })
}

/// `%XX` escapes decoded (a `*` may come as `%2A`); anything else kept.
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = path.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(percent_decode("/./%2A/sync"), "/./*/sync");
        assert_eq!(percent_decode("/a%zz%4"), "/a%zz%4");
    }
}
