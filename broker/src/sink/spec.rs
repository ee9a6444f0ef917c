//! A written subscription ([`proto::subscription::Spec`]) checked and read
//! into what a sink task runs on: the id, the filter, the queue length and
//! the sink's own configuration, chosen by the URI's scheme. Every mistake
//! is an error that names the field.

use proto::subscription::{Declared, Spec};

use crate::core::filter::Filter;
use crate::core::outbox::DEFAULT_QUEUE;
use crate::sink::jsonrpc::JsonRpcConfig;
use crate::sink::nats::NatsConfig;
use crate::sink::webhook::WebhookConfig;

/// Longest id.
const MAX_ID: usize = 64;
/// Longest URI.
const MAX_URI: usize = 2048;
/// Longest queue.
const MAX_QUEUE: usize = 1 << 20;
/// Most subscriptions, config and run time together.
pub const MAX_SUBSCRIPTIONS: usize = 1024;

/// Which sink, configured.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `http://`, `https://`.
    Webhook(WebhookConfig),
    /// `tcp:host:port[/method]`.
    JsonRpc(JsonRpcConfig),
    /// `nats://`.
    Nats(NatsConfig),
}

/// A checked subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// As written, with its id set.
    pub spec: Spec,
    /// Where it was declared.
    pub declared: Declared,
    /// What it matches.
    pub filter: Filter,
    /// Its queue length.
    pub queue: usize,
    /// Its sink.
    pub target: Target,
}

/// The option names a spec sets, for "does not apply" errors.
fn set_options(spec: &Spec) -> Vec<&'static str> {
    let mut set = Vec::new();
    let mut note = |name, is_set: bool| {
        if is_set {
            set.push(name);
        }
    };
    note("mode", spec.mode.is_some());
    note("timeout_ms", spec.timeout_ms.is_some());
    note("retry", spec.retry.is_some());
    note("backoff", spec.backoff.is_some());
    note("backoff_delay_ms", spec.backoff_delay_ms.is_some());
    note("backoff_max_ms", spec.backoff_max_ms.is_some());
    note("retry_after_max_ms", spec.retry_after_max_ms.is_some());
    note("dead_letter", spec.dead_letter.is_some());
    note("ca_file", spec.ca_file.is_some());
    note("accept", spec.accept.is_some());
    note("drop_after", spec.drop_after.is_some());
    note("sync", spec.sync.is_some());
    note("event_param", spec.event_param.is_some());
    note("subject", spec.subject.is_some());
    note("jetstream", spec.jetstream.is_some());
    set
}

/// Refuse the options a sink does not have.
pub fn only(spec: &Spec, sink: &str, allowed: &[&str]) -> Result<(), String> {
    let wrong: Vec<_> = set_options(spec)
        .into_iter()
        .filter(|o| !allowed.contains(o))
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} do{} not apply to {sink} sinks (they take: {})",
            wrong.join(", "),
            if wrong.len() == 1 { "es" } else { "" },
            allowed.join(", ")
        ))
    }
}

/// Is this an id we take?
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty()
        || id.len() > MAX_ID
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!("id {id:?}: 1 to {MAX_ID} of A-Z a-z 0-9 - _"));
    }
    Ok(())
}

/// Check every `[[subscription]]` of a config file (ids given, or
/// `config-N` for the N-th); `node` fills `{node}`.
pub fn declared(specs: &[Spec], node: &str) -> Result<Vec<Subscription>, String> {
    if specs.len() > MAX_SUBSCRIPTIONS {
        return Err(format!("more than {MAX_SUBSCRIPTIONS} subscriptions"));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (n, spec) in specs.iter().enumerate() {
        let mut spec = spec.clone();
        let id = spec
            .id
            .get_or_insert_with(|| format!("config-{}", n + 1))
            .clone();
        if !seen.insert(id.clone()) {
            return Err(format!("subscription {id}: the id is used twice"));
        }
        out.push(Subscription::parse(spec, Declared::Config, node)?);
    }
    Ok(out)
}

impl Subscription {
    /// Check `spec` (its id already set) and read it.
    pub fn parse(spec: Spec, declared: Declared, node: &str) -> Result<Subscription, String> {
        let id = spec.id.clone().unwrap_or_default();
        check_id(&id)?;
        let failed = |e: String| format!("subscription {id}: {e}");
        if spec.uri.len() > MAX_URI || spec.uri.chars().any(char::is_control) {
            return Err(failed(format!("uri: not a URI of at most {MAX_URI} bytes")));
        }
        let filter = Filter::parse(&spec.types, &spec.resources).map_err(failed)?;
        let queue = spec.queue.unwrap_or(DEFAULT_QUEUE);
        if queue == 0 || queue > MAX_QUEUE {
            return Err(failed(format!("queue {queue}: 1 ..= {MAX_QUEUE}")));
        }
        let uri = spec.uri.as_str();
        let target = if uri.starts_with("http://") || uri.starts_with("https://") {
            Target::Webhook(WebhookConfig::from_spec(&spec).map_err(failed)?)
        } else if uri.starts_with("tcp:") {
            Target::JsonRpc(JsonRpcConfig::from_spec(&spec).map_err(failed)?)
        } else if uri.starts_with("nats://") {
            Target::Nats(NatsConfig::from_spec(&spec, node).map_err(failed)?)
        } else {
            return Err(failed(format!(
                "uri {uri:?}: expected http://, https://, tcp:host:port[/method] or nats://"
            )));
        };
        Ok(Subscription {
            spec,
            declared,
            filter,
            queue,
            target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: Spec) -> Result<Subscription, String> {
        Subscription::parse(
            Spec {
                id: Some("s1".into()),
                ..spec
            },
            Declared::Runtime,
            "n1",
        )
    }

    #[test]
    fn the_scheme_picks_the_sink_and_its_options() {
        let web = parse(Spec {
            uri: "http://127.0.0.1:1/x".into(),
            retry: Some(2),
            ..Spec::default()
        })
        .unwrap();
        assert!(matches!(web.target, Target::Webhook(_)));
        let rpc = parse(Spec {
            uri: "tcp:127.0.0.1:8080/block_ip".into(),
            sync: Some(true),
            ..Spec::default()
        })
        .unwrap();
        assert!(matches!(rpc.target, Target::JsonRpc(_)));
        let nats = parse(Spec {
            uri: "nats://127.0.0.1:4222".into(),
            ..Spec::default()
        })
        .unwrap();
        assert!(matches!(nats.target, Target::Nats(_)));
    }

    #[test]
    fn mistakes_name_the_field() {
        let cases = [
            (
                Spec {
                    uri: "ftp://x".into(),
                    ..Spec::default()
                },
                "expected http://",
            ),
            (
                Spec {
                    uri: "http://x/".into(),
                    sync: Some(true),
                    ..Spec::default()
                },
                "sync does not apply to webhook",
            ),
            (
                Spec {
                    uri: "tcp:x:1".into(),
                    dead_letter: Some("http://y/".into()),
                    ..Spec::default()
                },
                "dead_letter does not apply",
            ),
            (
                Spec {
                    uri: "http://x/".into(),
                    queue: Some(0),
                    ..Spec::default()
                },
                "queue 0",
            ),
            (
                Spec {
                    uri: "http://x/".into(),
                    types: vec!["a*b".into()],
                    ..Spec::default()
                },
                "`*` may only end",
            ),
        ];
        for (spec, want) in cases {
            let err = parse(spec.clone()).unwrap_err();
            assert!(err.contains(want), "{spec:?}: {err}");
        }
        assert!(check_id("ok-id_1").is_ok());
        for bad in ["", "a b", "é", &"x".repeat(65)] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }
}
