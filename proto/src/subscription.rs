//! A subscription as it is written: in the config file (`[[subscription]]`),
//! in a `subscribe` request on the query socket, and in the state
//! directory's `subscriptions.json`. The broker checks it (URI scheme, the
//! options that apply to it, filters) when it reads it; this type only
//! carries it. docs/SINKS.md lists every field and its default.

use serde::{Deserialize, Serialize};

/// One subscription: a sink URI, a filter, and the sink's options. Unset
/// options take the sink's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Chosen by whoever declares it (`[A-Za-z0-9_-]{1,64}`); unset: the
    /// broker picks one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Where to deliver: `http(s)://…`, `tcp:host:port[/method]`, `nats://…`.
    pub uri: String,
    /// Event types: exact names, or prefixes ending in `*`. Empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Resource addresses: exact, or prefixes ending in `*`. Empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Events the sink's queue holds before the newest state wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<usize>,
    /// Webhook: `structured`, `binary`, or `oran` (the upstream's own
    /// push: structured JSON without the broker's attributes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Per request (webhook, JetStream ack), or write + reply (JSON-RPC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Retries after the first attempt (webhook, JetStream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<u32>,
    /// `exponential` or `linear`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<String>,
    /// The base delay between retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_delay_ms: Option<u64>,
    /// The longest single wait between retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_max_ms: Option<u64>,
    /// The longest `Retry-After` honoured (webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_max_ms: Option<u64>,
    /// Webhook: where what finally failed goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<String>,
    /// Webhook: which answers count as delivered, `2xx` (default) or `204`
    /// (what the O-RAN upstreams require of a consumer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<String>,
    /// Webhook: remove the subscription after this many events in a row
    /// finally failed (unset: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_after: Option<u32>,
    /// Webhook: PEM file of CA certificates trusted besides the system's
    /// (for `https://` destinations with a private CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// JSON-RPC: requests that wait for a reply instead of notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<bool>,
    /// JSON-RPC: put the event type into `params` under this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_param: Option<String>,
    /// NATS: the subject template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// NATS: publish to JetStream and wait for the acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jetstream: Option<bool>,
}

/// Where a subscription was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Declared {
    /// The config file: read at start, not removable at run time.
    Config,
    /// `subscribe` at run time: persisted in the state directory.
    Runtime,
    /// A consumer of the O-RAN v2 API (`POST /subscriptions`): persisted
    /// by the API, removed through it.
    Api,
}

impl Declared {
    /// `config` or `runtime`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Declared::Config => "config",
            Declared::Runtime => "runtime",
            Declared::Api => "api",
        }
    }
}

/// A subscription as the broker lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    /// Where it was declared.
    pub declared: Declared,
    /// The subscription, with its id.
    pub subscription: Spec,
}
