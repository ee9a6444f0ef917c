//! Where the broker is, and how patient to be with it.

use std::time::Duration;

/// Default emit endpoint (the broker's PULL).
pub const DEFAULT_EMIT: &str = "tcp://127.0.0.1:9000";
/// Default publish endpoint (the broker's PUB).
pub const DEFAULT_PUB: &str = "tcp://127.0.0.1:9001";
/// Default query endpoint.
pub const DEFAULT_QUERY: &str = "tcp://127.0.0.1:9002";

/// A client's settings. [`ClientConfig::from_env`] is what the free functions use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The broker's PULL endpoint (`PTP_BROKER_EMIT`). The client's own
    /// [`crate::Client::emit`] uses the query endpoint, which confirms; this
    /// is kept for tools that push fire-and-forget frames.
    pub emit: String,
    /// The broker's PUB endpoint (`PTP_BROKER_PUB`).
    pub publish: String,
    /// The broker's query endpoint (`PTP_BROKER_QUERY`).
    pub query: String,
    /// How long `register`, `current` and `emit` wait for the broker before
    /// giving up with [`crate::Error::Unavailable`].
    pub timeout: Duration,
    /// Heartbeats missed in a row before the broker counts as lost.
    pub heartbeat_misses: u32,
    /// Events a callback may fall behind before it is skipped ahead to the
    /// current state (and told so with [`proto::Delivery::Repaired`]).
    /// 8192 by default, as deep as the broker's queue for each subscriber:
    /// a callback thread that the scheduler keeps off the CPU for a moment
    /// at a high rate is not skipped for it.
    pub callback_queue: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            emit: DEFAULT_EMIT.to_owned(),
            publish: DEFAULT_PUB.to_owned(),
            query: DEFAULT_QUERY.to_owned(),
            timeout: Duration::from_secs(5),
            heartbeat_misses: 3,
            callback_queue: 8192,
        }
    }
}

impl ClientConfig {
    /// The defaults, with endpoints from `PTP_BROKER_EMIT`, `PTP_BROKER_PUB`
    /// and `PTP_BROKER_QUERY` where set: the same variables the broker reads.
    pub fn from_env() -> ClientConfig {
        let var = |name: &str, default: String| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or(default)
        };
        let d = ClientConfig::default();
        ClientConfig {
            emit: var("PTP_BROKER_EMIT", d.emit.clone()),
            publish: var("PTP_BROKER_PUB", d.publish.clone()),
            query: var("PTP_BROKER_QUERY", d.query.clone()),
            ..d
        }
    }

    /// The defaults with these endpoints.
    pub fn with_endpoints(
        emit: impl Into<String>,
        publish: impl Into<String>,
        query: impl Into<String>,
    ) -> ClientConfig {
        ClientConfig {
            emit: emit.into(),
            publish: publish.into(),
            query: query.into(),
            ..ClientConfig::default()
        }
    }
}
