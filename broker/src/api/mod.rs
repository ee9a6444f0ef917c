//! The O-RAN v2 notification API for local consumers (docs/ORAN-API.md):
//! the REST API cloud-event-proxy and the StarlingX sidecar serve, on an
//! HTTP listener of the broker, under both vendors' base paths. It is a
//! front for subscriptions, not a second store: each consumer subscription
//! is a webhook sink subscription in the registry ([`consumers`]), and
//! CurrentState reads the state table. [`address`] reads the vendors'
//! ResourceAddress forms.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::core::shared::Broker;
use crate::core::stats;
use crate::source::http::{Cidr, listener};

pub use crate::source::upstream::Flavor;

pub mod address;
pub mod consumers;
mod routes;

use routes::handle;

use consumers::Consumers;

/// The `[api]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Serve the API.
    pub enabled: bool,
    /// Where (loopback by default: the API is for local consumers).
    pub listen: String,
    /// Address form, duplicate rule and initial-notification rule; unset:
    /// `upstream.flavor`.
    pub flavor: Option<Flavor>,
    /// When `listen` is not loopback, the networks an EndpointUri may point into.
    pub allow: Vec<String>,
    /// Subscriptions per EndpointUri.
    pub max_per_endpoint: usize,
    /// A consumer whose deliveries finally fail this many times in a row
    /// loses all its subscriptions.
    pub drop_after_failures: u32,
    /// The initial notification and every push, in milliseconds.
    pub timeout_ms: u64,
}

/// The publisher's port, on loopback.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9043";
/// Red Hat's base path.
pub const REDHAT_BASE: &str = "/api/ocloudNotifications/v2";
/// StarlingX's base path.
pub const STARLINGX_BASE: &str = "/ocloudNotifications/v2";
/// Largest request body.
const MAX_BODY: usize = 64 * 1024;
/// How long a request body may take.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            enabled: true,
            listen: DEFAULT_LISTEN.to_owned(),
            flavor: None,
            allow: vec!["127.0.0.0/8".to_owned(), "::1/128".to_owned()],
            max_per_endpoint: 64,
            drop_after_failures: 10,
            timeout_ms: 2000,
        }
    }
}

impl ApiConfig {
    /// `allow`, parsed.
    pub fn networks(&self) -> Result<Vec<Cidr>, String> {
        self.allow.iter().map(|c| Cidr::parse(c)).collect()
    }
}

/// The API: the broker, the consumers, the listener's address.
pub struct Api {
    broker: Broker,
    consumers: Consumers,
    node: String,
    flavor: Flavor,
    local: SocketAddr,
    /// `Some` when the listener is not loopback: EndpointUri must resolve into these.
    allow: Option<Vec<Cidr>>,
}

impl Api {
    /// The API on `local`, with `consumers` loaded.
    pub fn new(
        broker: Broker,
        consumers: Consumers,
        config: &ApiConfig,
        node: String,
        local: SocketAddr,
    ) -> Result<Api, String> {
        let allow = if local.ip().is_loopback() {
            None
        } else {
            Some(config.networks()?)
        };
        Ok(Api {
            broker,
            flavor: consumers.flavor(),
            consumers,
            node,
            local,
            allow,
        })
    }

    /// The consumers (the server drops those that fail too often).
    pub fn consumers(&self) -> &Consumers {
        &self.consumers
    }
}

/// Serve until `shutdown`.
pub async fn run(
    listener: TcpListener,
    api: Arc<Api>,
    mut gave_up: tokio::sync::mpsc::UnboundedReceiver<String>,
    shutdown: CancellationToken,
) {
    api.consumers.start();
    let dropper = Arc::clone(&api);
    let stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let id = tokio::select! {
                _ = stop.cancelled() => return,
                id = gave_up.recv() => match id { Some(id) => id, None => return },
            };
            if dropper.consumers.drop_consumer_of(&id) > 0 {
                stats::bump(&dropper.broker.stats().api_consumers_dropped);
            }
        }
    });
    let limits = listener::Limits {
        header_timeout: Duration::from_secs(10),
        max_connections: 256,
    };
    let broker = api.broker.clone();
    let serve = move |stream, _peer| {
        let api = Arc::clone(&api);
        async move {
            let service = hyper::service::service_fn(move |request| {
                let api = Arc::clone(&api);
                async move { Ok::<_, std::convert::Infallible>(handle(&api, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!("O-RAN API connection ended: {e}");
            }
        }
    };
    listener::run(listener, broker, limits, serve, shutdown).await;
}
