//! The webhook sink: each event POSTed to an `http(s)://` destination with
//! the CloudEvents HTTP binding, in order, with knative's retry rules
//! (docs/SINKS.md): retried on no answer, 5xx, 404, 408, 409 and 429
//! (a `Retry-After` on 429 and 503 honoured up to a cap), never on 3xx or
//! another 4xx; what finally fails goes to the dead-letter URI with our
//! `ptperror*` extension attributes.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use proto::Event;
use proto::subscription::Spec;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use crate::core::outbox::{Outbox, SinkCounters};
use crate::core::shared::Broker;
use crate::sink::FailLog;
use crate::sink::retry::Retry;
use crate::sink::spec::only;

/// A webhook subscription's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// The destination.
    pub url: reqwest::Url,
    /// Attributes in the body or in `ce-` headers.
    pub mode: Mode,
    /// Per request.
    pub timeout: Duration,
    /// Retries.
    pub retry: Retry,
    /// Longest `Retry-After` honoured.
    pub retry_after_max: Duration,
    /// Where what finally failed goes.
    pub dead_letter: Option<reqwest::Url>,
    /// CA certificates (PEM) trusted besides the system's.
    pub ca: Option<Vec<u8>>,
}

/// CloudEvents HTTP binding mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The whole event as JSON in the body.
    Structured,
    /// Attributes as `ce-` headers, `data` as the body.
    Binary,
}

/// Default per-request timeout (the upstream's own push timeout).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default cap on `Retry-After`.
pub const DEFAULT_RETRY_AFTER_MAX: Duration = Duration::from_secs(30);
/// At most this much of an answer's body is kept for `ptperrordata`
/// (1024 characters of base64).
const ERROR_DATA: usize = 768;

/// Parse an `http(s)://` URI that names a host.
pub fn parse_url(what: &str, uri: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(uri).map_err(|e| format!("{what} {uri:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{what} {uri:?}: not an http(s):// URL with a host"));
    }
    Ok(url)
}

impl WebhookConfig {
    /// Read the webhook options of `spec`.
    pub fn from_spec(spec: &Spec) -> Result<WebhookConfig, String> {
        only(
            spec,
            "webhook",
            &[
                "mode",
                "timeout_ms",
                "retry",
                "backoff",
                "backoff_delay_ms",
                "backoff_max_ms",
                "retry_after_max_ms",
                "dead_letter",
                "ca_file",
            ],
        )?;
        let mode = match spec.mode.as_deref() {
            None | Some("structured") => Mode::Structured,
            Some("binary") => Mode::Binary,
            Some(other) => {
                return Err(format!(
                    "mode {other:?}: expected \"structured\" or \"binary\""
                ));
            }
        };
        let timeout = spec
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        if timeout.is_zero() {
            return Err("timeout_ms 0: must be at least 1".into());
        }
        let ca = match &spec.ca_file {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| format!("ca_file {path:?}: {e}"))?;
                match reqwest::Certificate::from_pem_bundle(&pem) {
                    Ok(certs) if !certs.is_empty() => Some(pem),
                    Ok(_) => return Err(format!("ca_file {path:?}: no PEM certificate in it")),
                    Err(e) => return Err(format!("ca_file {path:?}: {e}")),
                }
            }
        };
        Ok(WebhookConfig {
            ca,
            url: parse_url("uri", &spec.uri)?,
            mode,
            timeout,
            retry: Retry::from_spec(spec)?,
            retry_after_max: spec
                .retry_after_max_ms
                .map_or(DEFAULT_RETRY_AFTER_MAX, Duration::from_millis),
            dead_letter: spec
                .dead_letter
                .as_deref()
                .map(|d| parse_url("dead_letter", d))
                .transpose()?,
        })
    }
}

/// One attempt's outcome, when it was not a success.
#[derive(Debug)]
struct Failure {
    /// HTTP status, 0 without an answer.
    status: u16,
    reason: String,
    /// Try again?
    retryable: bool,
    /// The server's `Retry-After`, when it gave one on 429 or 503.
    retry_after: Option<Duration>,
    /// The start of the answer's body.
    data: Vec<u8>,
}

/// An HTTP client for sinks: no redirects (3xx is a failure, as in knative),
/// no proxy from the environment, TLS with the system's roots and `ca`.
pub fn client(ca: Option<&[u8]>) -> Result<reqwest::Client, String> {
    crate::install_tls();
    let mut builder = reqwest::Client::builder();
    if let Some(pem) = ca {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(2)
        .user_agent(concat!("ptp-broker/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| crate::error_chain(&e))
}

/// Deliver until the outbox closes or `cancel`.
pub async fn run(
    config: WebhookConfig,
    outbox: Arc<Outbox>,
    broker: Broker,
    cancel: CancellationToken,
) {
    let client = match client(config.ca.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(sink = outbox.id(), "webhook sink not started: {e}");
            return;
        }
    };
    let mut log = FailLog::new(outbox.id());
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => break,
            next = outbox.next(&broker) => match next {
                Some(e) => e,
                None => break,
            },
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = deliver(&client, &config, &event, &outbox.counters, &mut log) => {}
        }
    }
    log.flush();
}

async fn deliver(
    client: &reqwest::Client,
    config: &WebhookConfig,
    event: &Event,
    counters: &SinkCounters,
    log: &mut FailLog,
) {
    let mut attempt: u32 = 0;
    let failure = loop {
        match post(client, config, event).await {
            Ok(()) => {
                SinkCounters::bump(&counters.delivered);
                return;
            }
            Err(f) if f.retryable && attempt < config.retry.retries => {
                let wait = match f.retry_after {
                    Some(after) => after.min(config.retry_after_max),
                    None => config.retry.wait(attempt),
                };
                tracing::debug!(
                    url = %config.url, status = f.status, attempt, ?wait,
                    "webhook delivery failed ({}), retrying", f.reason
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
                SinkCounters::bump(&counters.retried);
            }
            Err(f) => break f,
        }
    };
    SinkCounters::bump(&counters.failed);
    let attempts = attempt + 1;
    log.fail(&format_args!(
        "{} seq {} to {}: {} after {attempts} attempt{}",
        event.event_type,
        event.meta.seq,
        config.url,
        failure.reason,
        if attempts == 1 { "" } else { "s" }
    ));
    if let Some(dead) = &config.dead_letter {
        let mut body = proto::cloudevent::to_json(event, true);
        if let Json::Object(o) = &mut body {
            o.insert("ptperrordest".into(), config.url.as_str().into());
            o.insert("ptperrorcode".into(), failure.status.to_string().into());
            o.insert("ptperrorreason".into(), failure.reason.clone().into());
            o.insert(
                "ptperrordata".into(),
                base64::engine::general_purpose::STANDARD
                    .encode(&failure.data)
                    .into(),
            );
            o.insert("ptperrorattempts".into(), attempts.to_string().into());
        }
        let sent = client
            .post(dead.clone())
            .timeout(config.timeout)
            .header(CONTENT_TYPE, "application/cloudevents+json")
            .body(serde_json::to_vec(&body).unwrap_or_default())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => SinkCounters::bump(&counters.dead_lettered),
            Ok(r) => log.fail(&format_args!(
                "dead letter to {dead} refused: HTTP {}",
                r.status().as_u16()
            )),
            Err(e) => log.fail(&format_args!(
                "dead letter to {dead} not delivered: {}",
                reason_of(&e)
            )),
        }
    }
}

async fn post(
    client: &reqwest::Client,
    config: &WebhookConfig,
    event: &Event,
) -> Result<(), Failure> {
    let json = proto::cloudevent::to_json(event, true);
    let request = client.post(config.url.clone()).timeout(config.timeout);
    let request = match config.mode {
        Mode::Structured => request
            .header(CONTENT_TYPE, "application/cloudevents+json")
            .body(serde_json::to_vec(&json).unwrap_or_default()),
        Mode::Binary => {
            let mut headers = HeaderMap::new();
            if let Json::Object(o) = &json {
                for (name, value) in o {
                    if name == "data" {
                        continue;
                    }
                    let text = match value {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    if let (Ok(n), Ok(v)) = (
                        HeaderName::try_from(format!("ce-{name}")),
                        HeaderValue::try_from(text),
                    ) {
                        headers.insert(n, v);
                    }
                }
            }
            request
                .headers(headers)
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&json["data"]).unwrap_or_default())
        }
    };
    let response = request.send().await.map_err(|e| Failure {
        status: 0,
        reason: reason_of(&e),
        retryable: true,
        retry_after: None,
        data: Vec::new(),
    })?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(());
    }
    let retry_after = matches!(status, 429 | 503)
        .then(|| retry_after(response.headers()))
        .flatten();
    let retryable = matches!(status, 404 | 408 | 409 | 429 | 500..=599);
    let data = read_some(response, ERROR_DATA).await;
    Err(Failure {
        status,
        reason: format!("HTTP {status}"),
        retryable,
        retry_after,
        data,
    })
}

/// A short reason for a request that got no answer.
fn reason_of(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".to_owned()
    } else if e.is_connect() {
        format!("cannot connect: {}", crate::error_chain(e))
    } else {
        crate::error_chain(e)
    }
}

/// At most `limit` bytes of the body, within the request's timeout.
async fn read_some(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut data = Vec::new();
    while data.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - data.len();
                data.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    data
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = when.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "in the past");
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn options_are_read_and_checked() {
        let spec = Spec {
            uri: "http://127.0.0.1:9/x".into(),
            mode: Some("binary".into()),
            dead_letter: Some("http://127.0.0.1:9/dead".into()),
            ..Spec::default()
        };
        let c = WebhookConfig::from_spec(&spec).unwrap();
        assert_eq!(c.mode, Mode::Binary);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        for bad in [
            Spec {
                mode: Some("both".into()),
                ..spec.clone()
            },
            Spec {
                dead_letter: Some("tcp:x:1".into()),
                ..spec.clone()
            },
            Spec {
                uri: "http://".into(),
                ..spec.clone()
            },
            Spec {
                timeout_ms: Some(0),
                ..spec.clone()
            },
        ] {
            assert!(WebhookConfig::from_spec(&bad).is_err(), "{bad:?}");
        }
    }
}
