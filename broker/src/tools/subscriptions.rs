//! `ptp-broker subscribe`, `unsubscribe` and `subscriptions`: the run-time
//! subscriptions of a running broker, over its query socket.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use broker::Config;
use proto::query::{Reply, Request};
use proto::subscription::{Listed, Spec};

/// How long the broker may take to answer (it writes the state file first).
const TIMEOUT: Duration = Duration::from_secs(5);

/// `ptp-broker subscribe`: options as in docs/SINKS.md; unset ones take
/// the sink's defaults.
#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    /// Where to deliver: http(s)://HOST[:PORT]/PATH (webhook), tcp:HOST:PORT[/METHOD]
    /// (JSON-RPC), nats://HOST:PORT[,nats://…] (NATS).
    #[arg(value_name = "URI")]
    uri: String,
    /// Event type to deliver (a constant name such as OS_CLOCK_SYNC, a type string, or a
    /// prefix ending in *); repeat for more [default: every type].
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// Resource address to deliver (exact, or a prefix ending in *); repeat for more
    /// [default: every resource].
    #[arg(long = "resource", value_name = "ADDRESS")]
    resources: Vec<String>,
    /// The subscription's id [default: s-<8 hex digits>].
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Events queued before the newest state of each resource wins [default: 1024].
    #[arg(long, value_name = "N")]
    queue: Option<usize>,
    /// Webhook: structured or binary CloudEvents HTTP mode, or oran (the O-RAN upstream's
    /// push: structured JSON, Content-Type application/json, without the broker's
    /// attributes) [default: structured].
    #[arg(long, value_name = "MODE", value_parser = ["structured", "binary", "oran"])]
    mode: Option<String>,
    /// Webhook: answers that count as delivered: 2xx or 204 [default: 2xx].
    #[arg(long, value_name = "WHICH", value_parser = ["2xx", "204"])]
    accept: Option<String>,
    /// Webhook: remove the subscription after N events in a row finally failed [default: never].
    #[arg(long, value_name = "N")]
    drop_after: Option<u32>,
    /// Per request (webhook), write + reply (JSON-RPC sync) or the write alone, or
    /// JetStream acknowledgement [default: 2000; JSON-RPC 1000].
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Retries after the first attempt (webhook, JetStream) [default: 5].
    #[arg(long, value_name = "N")]
    retry: Option<u32>,
    /// exponential (delay × 2^n) or linear (delay × (n+1)) [default: exponential].
    #[arg(long, value_name = "POLICY", value_parser = ["exponential", "linear"])]
    backoff: Option<String>,
    /// The base delay between retries [default: 100].
    #[arg(long, value_name = "MS")]
    backoff_delay_ms: Option<u64>,
    /// The longest single wait between retries [default: 10000].
    #[arg(long, value_name = "MS")]
    backoff_max_ms: Option<u64>,
    /// The longest Retry-After honoured on 429 and 503 (webhook) [default: 30000].
    #[arg(long, value_name = "MS")]
    retry_after_max_ms: Option<u64>,
    /// Webhook: an http(s):// URI that gets what finally failed, with ptperror* attributes.
    #[arg(long, value_name = "URI")]
    dead_letter: Option<String>,
    /// Webhook: PEM file of CA certificates to trust besides the system's (https://).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<String>,
    /// JSON-RPC: send requests with ids and wait for each reply (OpenSIPS sync_mode).
    #[arg(long)]
    sync: bool,
    /// JSON-RPC: also put the event type into params under this name.
    #[arg(long, value_name = "NAME")]
    event_param: Option<String>,
    /// NATS: subject template with {node}, {type}, {origin} [default: ptp.{node}.{type}].
    #[arg(long, value_name = "TEMPLATE")]
    subject: Option<String>,
    /// NATS: publish to JetStream and wait for the acknowledgement.
    #[arg(long)]
    jetstream: bool,
}

/// `ptp-broker subscriptions`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// One JSON object per line: id, uri, types, resources, declared and the options.
    #[arg(long)]
    json: bool,
}

impl SubscribeArgs {
    fn spec(self) -> Spec {
        Spec {
            id: self.id,
            uri: self.uri,
            types: self.types,
            resources: self.resources,
            queue: self.queue,
            mode: self.mode,
            timeout_ms: self.timeout_ms,
            retry: self.retry,
            backoff: self.backoff,
            backoff_delay_ms: self.backoff_delay_ms,
            backoff_max_ms: self.backoff_max_ms,
            retry_after_max_ms: self.retry_after_max_ms,
            dead_letter: self.dead_letter,
            ca_file: self.ca_file,
            accept: self.accept,
            drop_after: self.drop_after,
            sync: self.sync.then_some(true),
            event_param: self.event_param,
            subject: self.subject,
            jetstream: self.jetstream.then_some(true),
        }
    }
}

async fn ask(config: &Config, request: Request) -> anyhow::Result<Reply> {
    client::request(&config.query, &request, TIMEOUT)
        .await
        .with_context(|| format!("asking the broker at {}", config.query))
}

pub async fn subscribe(config: &Config, args: SubscribeArgs) -> anyhow::Result<ExitCode> {
    let reply = ask(
        config,
        Request::Subscribe {
            subscription: Box::new(args.spec()),
        },
    )
    .await?;
    let id = reply
        .subscriptions
        .first()
        .and_then(|l| l.subscription.id.clone())
        .context("the broker's answer names no subscription")?;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}

pub async fn unsubscribe(config: &Config, id: String) -> anyhow::Result<ExitCode> {
    ask(config, Request::Unsubscribe { id: id.clone() }).await?;
    println!("unsubscribed {id}");
    Ok(ExitCode::SUCCESS)
}

pub async fn list(config: &Config, args: ListArgs) -> anyhow::Result<ExitCode> {
    let reply = ask(config, Request::Subscriptions).await?;
    for listed in &reply.subscriptions {
        writeln!(std::io::stdout().lock(), "{}", line(listed, args.json))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn line(listed: &Listed, json: bool) -> String {
    let spec = &listed.subscription;
    if json {
        let mut value = serde_json::to_value(spec).unwrap_or_default();
        if let serde_json::Value::Object(o) = &mut value {
            o.insert("declared".into(), listed.declared.as_str().into());
            o.entry("types").or_insert_with(|| serde_json::json!([]));
            o.entry("resources")
                .or_insert_with(|| serde_json::json!([]));
        }
        return value.to_string();
    }
    let all = |list: &[String]| {
        if list.is_empty() {
            "*".to_owned()
        } else {
            list.join(",")
        }
    };
    format!(
        "{} {} {} types={} resources={}",
        spec.id.as_deref().unwrap_or("?"),
        listed.declared.as_str(),
        spec.uri,
        all(&spec.types),
        all(&spec.resources)
    )
}
