//! The O-RAN REST calls the subscription manager makes, in v1 or v2 shape.
//!
//! Nothing here retries or remembers: [`super::manager`] decides what to do
//! with each outcome. Every request has a time limit, so a hung upstream
//! cannot stall the manager (or the shutdown) forever.

use std::time::Duration;

use proto::Event;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use super::ApiVersion;

/// Time limit of health, list, delete and CurrentState requests.
const SHORT: Duration = Duration::from_secs(2);
/// Time limit of a subscribe: the upstream sends the initial notification
/// (StarlingX: up to 3 tries) before it answers.
const SUBSCRIBE: Duration = Duration::from_secs(10);

/// API prefixes probed, in order, when `upstream.url` has no version in its
/// path and `api = "auto"` (REFERENCE.md §1).
const PREFIXES: [(&str, ApiVersion); 4] = [
    ("/api/ocloudNotifications/v2", ApiVersion::V2),
    ("/ocloudNotifications/v2", ApiVersion::V2),
    ("/api/ocloudNotifications/v1", ApiVersion::V1),
    ("/api/cloudNotifications/v1", ApiVersion::V1),
];

/// One subscription as the upstream lists it (v1 or v2 field names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `SubscriptionId` (v1: `id`).
    pub id: String,
    /// `ResourceAddress` (v1: `resource`).
    pub resource: String,
    /// `EndpointUri` (v1: `endpointUri`).
    pub endpoint: String,
}

/// What a subscribe request came to.
#[derive(Debug)]
pub enum Subscribed {
    /// 201: a new subscription.
    Created(Subscription),
    /// 409: one with the same endpoint and resource exists already.
    Conflict,
    /// 404: the upstream does not offer this resource.
    UnknownResource,
}

/// A failed REST call, one line.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// No answer: refused, reset, timed out, DNS.
    #[error("{0}")]
    Unreachable(String),
    /// An answer with an unexpected status.
    #[error("{what}: HTTP {status} {body}")]
    Status {
        /// The request.
        what: String,
        /// The status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// An answer we cannot read.
    #[error("{what}: {reason}")]
    Body {
        /// The request.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A client of one upstream API (base URL including the prefix).
#[derive(Debug, Clone)]
pub struct Rest {
    http: reqwest::Client,
    base: String,
    api: ApiVersion,
}

/// The HTTP client every call goes through. No proxy: the upstream is on
/// this node (or behind our own port-forward), and a node-wide
/// `HTTP_PROXY` must not capture it.
pub fn http_client() -> Result<reqwest::Client, RestError> {
    crate::install_tls();
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(1))
        .build()
        .map_err(|e| RestError::Unreachable(format!("cannot build the HTTP client: {e}")))
}

impl Rest {
    /// Find the API under `url`: with `api` v1 or v2, `url` is the base; with
    /// `auto`, a version in the path decides, else the known prefixes are
    /// probed with `GET <prefix>/health`.
    pub async fn detect(
        http: reqwest::Client,
        url: &str,
        api: ApiVersion,
    ) -> Result<Rest, RestError> {
        let url = url.trim_end_matches('/').to_owned();
        let from_path = url
            .split('/')
            .skip(3) // scheme, empty, authority
            .find_map(|segment| match segment {
                "v1" => Some(ApiVersion::V1),
                "v2" => Some(ApiVersion::V2),
                _ => None,
            });
        let api = match (api, from_path) {
            (ApiVersion::Auto, Some(found)) => found,
            (ApiVersion::Auto, None) => {
                for (prefix, version) in PREFIXES {
                    let candidate = Rest {
                        http: http.clone(),
                        base: format!("{url}{prefix}"),
                        api: version,
                    };
                    if candidate.health().await.is_ok() {
                        return Ok(candidate);
                    }
                }
                // Nothing known answered; the URL itself may be the base of
                // an unusual deployment. v2 is what current producers speak.
                ApiVersion::V2
            }
            (given, _) => given,
        };
        let rest = Rest {
            http,
            base: url,
            api,
        };
        rest.health().await?;
        Ok(rest)
    }

    /// The base URL in use.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The API version in use (never `Auto`).
    pub fn api(&self) -> ApiVersion {
        self.api
    }

    /// `GET /health` answers 200.
    pub async fn health(&self) -> Result<(), RestError> {
        let what = "GET /health";
        let response = self
            .send(what, self.http.get(self.url("/health")), SHORT)
            .await?;
        expect(what, response, &[StatusCode::OK]).await.map(drop)
    }

    /// `GET /subscriptions`.
    pub async fn list(&self) -> Result<Vec<Subscription>, RestError> {
        let what = "GET /subscriptions";
        let response = self
            .send(what, self.http.get(self.url("/subscriptions")), SHORT)
            .await?;
        let body = expect(what, response, &[StatusCode::OK]).await?;
        let items: Vec<Json> = serde_json::from_slice(&body).map_err(|e| RestError::Body {
            what: what.to_owned(),
            reason: format!("not a JSON array: {e}"),
        })?;
        // Entries we cannot read belong to someone else; skip them.
        Ok(items.iter().filter_map(subscription).collect())
    }

    /// `POST /subscriptions` for `resource` (a full resource address).
    pub async fn subscribe(&self, resource: &str, endpoint: &str) -> Result<Subscribed, RestError> {
        let what = format!("POST /subscriptions {resource}");
        let body = match self.api {
            ApiVersion::V1 => json!({"resource": resource, "endpointUri": endpoint}),
            _ => json!({"ResourceAddress": resource, "EndpointUri": endpoint}),
        };
        let request = self.http.post(self.url("/subscriptions")).json(&body);
        let response = self.send(&what, request, SUBSCRIBE).await?;
        match response.status() {
            StatusCode::CONFLICT => return Ok(Subscribed::Conflict),
            StatusCode::NOT_FOUND => return Ok(Subscribed::UnknownResource),
            _ => {}
        }
        let body = expect(&what, response, &[StatusCode::CREATED, StatusCode::OK]).await?;
        let json: Json = serde_json::from_slice(&body).map_err(|e| RestError::Body {
            what: what.clone(),
            reason: e.to_string(),
        })?;
        subscription(&json)
            .map(Subscribed::Created)
            .ok_or_else(|| RestError::Body {
                what,
                reason: "no subscription id in the answer".to_owned(),
            })
    }

    /// `DELETE /subscriptions/{id}`; already gone (404) is fine.
    pub async fn delete(&self, id: &str) -> Result<(), RestError> {
        let what = format!("DELETE /subscriptions/{id}");
        let request = self.http.delete(self.url(&format!("/subscriptions/{id}")));
        let response = self.send(&what, request, SHORT).await?;
        let ok = [
            StatusCode::NO_CONTENT,
            StatusCode::OK,
            StatusCode::NOT_FOUND,
        ];
        expect(&what, response, &ok).await.map(drop)
    }

    /// `GET /{resource}/CurrentState`: the events it holds, or none (404: no
    /// data yet, or Red Hat's "nobody subscribed to exactly this").
    pub async fn current_state(&self, resource: &str) -> Result<Vec<Event>, RestError> {
        let what = format!("GET {resource}/CurrentState");
        let request = self.http.get(self.url(&format!("{resource}/CurrentState")));
        let response = self.send(&what, request, SHORT).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let body = expect(&what, response, &[StatusCode::OK]).await?;
        proto::cloudevent::parse_structured(&body).map_err(|e| RestError::Body {
            what,
            reason: e.to_string(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
        limit: Duration,
    ) -> Result<reqwest::Response, RestError> {
        request
            .timeout(limit)
            .send()
            .await
            .map_err(|e| RestError::Unreachable(format!("{what}: {}", crate::error_chain(&e))))
    }
}

/// The body of an answer with one of the `ok` statuses, else an error.
async fn expect(
    what: &str,
    response: reqwest::Response,
    ok: &[StatusCode],
) -> Result<bytes::Bytes, RestError> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| RestError::Unreachable(format!("{what}: {}", crate::error_chain(&e))))?;
    if ok.contains(&status) {
        return Ok(body);
    }
    let text = String::from_utf8_lossy(&body);
    Err(RestError::Status {
        what: what.to_owned(),
        status: status.as_u16(),
        body: text
            .chars()
            .take(200)
            .collect::<String>()
            .replace('\n', " "),
    })
}

/// A subscription object under v2 or v1 field names.
fn subscription(json: &Json) -> Option<Subscription> {
    let field = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|n| json.get(*n).and_then(Json::as_str))
            .map(str::to_owned)
    };
    Some(Subscription {
        id: field(["SubscriptionId", "id"])?,
        resource: field(["ResourceAddress", "resource"])?,
        endpoint: field(["EndpointUri", "endpointUri"])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_subscriptions_in_both_shapes() {
        let v2 = json!({"SubscriptionId":"a","ResourceAddress":"/r","EndpointUri":"http://x/e","UriLocation":"u"});
        let v1 = json!({"id":"b","resource":"/r","endpointUri":"http://x/e","uriLocation":"u"});
        assert_eq!(subscription(&v2).map(|s| s.id), Some("a".to_owned()));
        assert_eq!(subscription(&v1).map(|s| s.id), Some("b".to_owned()));
        assert_eq!(subscription(&json!({"id": "c"})), None);
    }
}
