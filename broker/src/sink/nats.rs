//! The NATS sink: each event published to a subject made from a template
//! (`ptp.{node}.{type}` by default) with the async-nats client, which
//! reconnects on its own and fails over between the servers of a list.
//! Core NATS is at most once (delivered = handed to the client); with
//! `jetstream` each event waits for the stream's acknowledgement, retried
//! with the subscription's backoff, deduplicated by `Nats-Msg-Id`.

use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, ServerAddr};
use proto::Event;
use proto::subscription::Spec;
use tokio_util::sync::CancellationToken;

use crate::core::outbox::{Outbox, SinkCounters};
use crate::core::shared::Broker;
use crate::sink::FailLog;
use crate::sink::retry::Retry;
use crate::sink::spec::only;

/// A NATS subscription's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NatsConfig {
    /// The servers (`nats://a:4222,nats://b:4222`).
    pub servers: Vec<String>,
    /// The subject template, `{node}` already filled in.
    pub subject: String,
    /// Publish to JetStream and wait for the acknowledgement.
    pub jetstream: bool,
    /// How long an acknowledgement (or a publish) may take.
    pub timeout: Duration,
    /// JetStream retries.
    pub retry: Retry,
}

/// The default subject template.
pub const DEFAULT_SUBJECT: &str = "ptp.{node}.{type}";
/// Default publish / acknowledgement timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// `s` as one subject token: what a token cannot hold becomes `_`.
fn token(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() { "_".to_owned() } else { t }
}

impl NatsConfig {
    /// Read the servers and NATS options of `spec`; `node` fills `{node}`.
    pub fn from_spec(spec: &Spec, node: &str) -> Result<NatsConfig, String> {
        only(
            spec,
            "NATS",
            &[
                "subject",
                "jetstream",
                "timeout_ms",
                "retry",
                "backoff",
                "backoff_delay_ms",
                "backoff_max_ms",
            ],
        )?;
        let servers: Vec<String> = spec.uri.split(',').map(|s| s.trim().to_owned()).collect();
        for server in &servers {
            let rest = server
                .strip_prefix("nats://")
                .ok_or_else(|| format!("uri {server:?}: every server must be nats://host:port"))?;
            if rest.is_empty() || rest.contains('/') {
                return Err(format!("uri {server:?}: expected nats://host[:port]"));
            }
            server
                .parse::<ServerAddr>()
                .map_err(|e| format!("uri {server:?}: {e}"))?;
        }
        let template = spec.subject.as_deref().unwrap_or(DEFAULT_SUBJECT);
        if template.is_empty()
            || template.contains(|c: char| c.is_whitespace() || c == '*' || c == '>')
            || template.starts_with('.')
            || template.ends_with('.')
            || template.contains("..")
        {
            return Err(format!(
                "subject {template:?}: a subject without spaces, wildcards or empty tokens"
            ));
        }
        let unknown = template
            .replace("{node}", "")
            .replace("{type}", "")
            .replace("{origin}", "");
        if unknown.contains('{') || unknown.contains('}') {
            return Err(format!(
                "subject {template:?}: the placeholders are {{node}}, {{type}} and {{origin}}"
            ));
        }
        let timeout = spec
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        if timeout.is_zero() {
            return Err("timeout_ms 0: must be at least 1".into());
        }
        Ok(NatsConfig {
            servers,
            subject: template.replace("{node}", &token(node)),
            jetstream: spec.jetstream.unwrap_or(false),
            timeout,
            retry: Retry::from_spec(spec)?,
        })
    }

    /// The subject for `event`.
    pub fn subject_of(&self, event: &Event) -> String {
        self.subject
            .replace("{type}", event.event_type.as_str())
            .replace("{origin}", event.meta.origin.as_str())
    }
}

/// Deliver until the outbox closes or `cancel`.
pub async fn run(
    config: NatsConfig,
    outbox: Arc<Outbox>,
    broker: Broker,
    cancel: CancellationToken,
) {
    let mut log = FailLog::new(outbox.id());
    let addrs: Vec<ServerAddr> = config
        .servers
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let id = outbox.id().to_owned();
    let options = async_nats::ConnectOptions::new()
        .name(format!("ptp-broker sink {id}"))
        .retry_on_initial_connect()
        .connection_timeout(config.timeout)
        .event_callback(move |event| {
            let id = id.clone();
            async move { tracing::info!(sink = %id, "NATS: {event}") }
        });
    let client = tokio::select! {
        _ = cancel.cancelled() => return,
        c = options.connect(addrs) => match c {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(sink = outbox.id(), "NATS sink not started: {e}");
                return;
            }
        },
    };
    let mut jetstream = async_nats::jetstream::new(client.clone());
    jetstream.set_timeout(config.timeout);
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => break,
            next = outbox.next(&broker) => match next {
                Some(e) => e,
                None => break,
            },
        };
        let subject = config.subject_of(&event);
        let payload: bytes::Bytes = serde_json::to_vec(&proto::cloudevent::to_json(&event, true))
            .unwrap_or_default()
            .into();
        let mut headers = HeaderMap::new();
        headers.insert("Content-Type", "application/cloudevents+json");
        headers.insert(
            "Nats-Msg-Id",
            format!("{}-{}", event.meta.epoch, event.meta.seq).as_str(),
        );
        let sent = tokio::select! {
            _ = cancel.cancelled() => break,
            r = publish(&client, &jetstream, &config, subject, headers, payload, &outbox.counters) => r,
        };
        match sent {
            Ok(()) => SinkCounters::bump(&outbox.counters.delivered),
            Err(reason) => {
                SinkCounters::bump(&outbox.counters.failed);
                log.fail(&format_args!(
                    "{} seq {} to {}: {reason}",
                    event.event_type,
                    event.meta.seq,
                    config.servers.join(",")
                ));
            }
        }
    }
    log.flush();
    let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
}

async fn publish(
    client: &async_nats::Client,
    jetstream: &async_nats::jetstream::Context,
    config: &NatsConfig,
    subject: String,
    headers: HeaderMap,
    payload: bytes::Bytes,
    counters: &SinkCounters,
) -> Result<(), String> {
    if !config.jetstream {
        return match tokio::time::timeout(
            config.timeout,
            client.publish_with_headers(subject, headers, payload),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("publish timed out (not connected)".to_owned()),
        };
    }
    let mut attempt = 0;
    loop {
        let acked = async {
            let ack = jetstream
                .publish_with_headers(subject.clone(), headers.clone(), payload.clone())
                .await
                .map_err(|e| e.to_string())?;
            ack.await.map_err(|e| e.to_string())
        };
        let reason = match tokio::time::timeout(config.timeout * 2, acked).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => e,
            Err(_) => "no acknowledgement in time".to_owned(),
        };
        if attempt >= config.retry.retries {
            return Err(reason);
        }
        tracing::debug!(
            subject,
            attempt,
            "JetStream publish failed ({reason}), retrying"
        );
        tokio::time::sleep(config.retry.wait(attempt)).await;
        attempt += 1;
        SinkCounters::bump(&counters.retried);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::Content;

    fn config(spec: Spec) -> Result<NatsConfig, String> {
        NatsConfig::from_spec(&spec, "node-1.example.com")
    }

    #[test]
    fn the_subject_template_is_filled_in() {
        let c = config(Spec {
            uri: "nats://127.0.0.1:4222,nats://127.0.0.1:4223".into(),
            ..Spec::default()
        })
        .unwrap();
        assert_eq!(c.servers.len(), 2);
        let mut e = Event::synthetic(
            catalog::OS_CLOCK_SYNC.into(),
            Content::parse("LOCKED", None).unwrap(),
        );
        e.meta.origin = proto::Origin::Synthetic;
        assert_eq!(
            c.subject_of(&e),
            format!("ptp.node-1_example_com.{}", e.event_type)
        );
        let o = config(Spec {
            uri: "nats://h:1".into(),
            subject: Some("x.{origin}.{type}".into()),
            ..Spec::default()
        })
        .unwrap();
        assert!(o.subject_of(&e).starts_with("x.synthetic.event."));
    }

    #[test]
    fn bad_servers_and_subjects_are_refused() {
        for spec in [
            Spec {
                uri: "nats://".into(),
                ..Spec::default()
            },
            Spec {
                uri: "nats://h:1,http://h:2".into(),
                ..Spec::default()
            },
            Spec {
                uri: "nats://h:1/x".into(),
                ..Spec::default()
            },
            Spec {
                uri: "nats://h:1".into(),
                subject: Some("a.*".into()),
                ..Spec::default()
            },
            Spec {
                uri: "nats://h:1".into(),
                subject: Some("a..b".into()),
                ..Spec::default()
            },
            Spec {
                uri: "nats://h:1".into(),
                subject: Some("a.{nope}".into()),
                ..Spec::default()
            },
            Spec {
                uri: "nats://h:1".into(),
                mode: Some("binary".into()),
                ..Spec::default()
            },
        ] {
            assert!(config(spec.clone()).is_err(), "{spec:?}");
        }
    }
}
