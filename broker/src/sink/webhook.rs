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
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use crate::core::outbox::{Outbox, SinkCounters};
use crate::core::shared::Broker;
use crate::sink::FailLog;
use crate::sink::retry::Retry;
use crate::sink::spec::only;

mod answer;
use answer::{read_some, reason_of, retry_after};

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
    /// Only 204 counts as delivered (else any 2xx).
    pub only_204: bool,
    /// Give up after this many events in a row finally failed.
    pub drop_after: Option<u32>,
}

/// CloudEvents HTTP binding mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The whole event as JSON in the body.
    Structured,
    /// Attributes as `ce-` headers, `data` as the body.
    Binary,
    /// The O-RAN upstream's push: the structured event without the
    /// broker's attributes, `Content-Type: application/json`.
    Oran,
}

/// How a webhook task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Unsubscribed, or the broker stops.
    Stopped,
    /// `drop_after` events in a row failed.
    GaveUp,
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
                "accept",
                "drop_after",
            ],
        )?;
        let mode = match spec.mode.as_deref() {
            None | Some("structured") => Mode::Structured,
            Some("binary") => Mode::Binary,
            Some("oran") => Mode::Oran,
            Some(other) => {
                return Err(format!(
                    "mode {other:?}: expected \"structured\", \"binary\" or \"oran\""
                ));
            }
        };
        let only_204 = match spec.accept.as_deref() {
            None | Some("2xx") => false,
            Some("204") => true,
            Some(other) => return Err(format!("accept {other:?}: expected \"2xx\" or \"204\"")),
        };
        if spec.drop_after == Some(0) {
            return Err("drop_after 0: must be at least 1".into());
        }
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
            only_204,
            drop_after: spec.drop_after,
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

/// Deliver until the outbox closes or `cancel` (or `drop_after` failures).
pub async fn run(
    config: WebhookConfig,
    outbox: Arc<Outbox>,
    broker: Broker,
    cancel: CancellationToken,
) -> Ended {
    let client = match client(config.ca.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(sink = outbox.id(), "webhook sink not started: {e}");
            return Ended::Stopped;
        }
    };
    let mut log = FailLog::new(outbox.id());
    let mut failed_in_a_row = 0;
    let ended = loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => break Ended::Stopped,
            next = outbox.next(&broker) => match next {
                Some(e) => e,
                None => break Ended::Stopped,
            },
        };
        let delivered = tokio::select! {
            _ = cancel.cancelled() => break Ended::Stopped,
            d = deliver(&client, &config, &event, &outbox.counters, &mut log) => d,
        };
        failed_in_a_row = if delivered { 0 } else { failed_in_a_row + 1 };
        if config.drop_after.is_some_and(|n| failed_in_a_row >= n) {
            tracing::warn!(
                sink = outbox.id(),
                url = %config.url,
                "{failed_in_a_row} deliveries in a row failed: giving up"
            );
            break Ended::GaveUp;
        }
    };
    log.flush();
    ended
}

async fn deliver(
    client: &reqwest::Client,
    config: &WebhookConfig,
    event: &Event,
    counters: &SinkCounters,
    log: &mut FailLog,
) -> bool {
    let mut attempt: u32 = 0;
    let failure = loop {
        match post(client, config, event).await {
            Ok(()) => {
                SinkCounters::bump(&counters.delivered);
                return true;
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
    false
}

async fn post(
    client: &reqwest::Client,
    config: &WebhookConfig,
    event: &Event,
) -> Result<(), Failure> {
    let json = proto::cloudevent::to_json(event, config.mode != Mode::Oran);
    let request = client.post(config.url.clone()).timeout(config.timeout);
    let request = match config.mode {
        Mode::Oran => request
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&json).unwrap_or_default()),
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
    if (config.only_204 && status == 204) || (!config.only_204 && response.status().is_success()) {
        return Ok(());
    }
    let retry_after = matches!(status, 429 | 503)
        .then(|| retry_after(response.headers()))
        .flatten();
    // Another 2xx where only 204 counts is the consumer's answer, final.
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

#[cfg(test)]
mod tests {
    use super::*;

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
