//! Start-up and lifecycle: bind every socket first (so a bad address fails
//! the start with a clear error), then run every task until shutdown.

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use zeromq::{RouterSocket, Socket};

use crate::sink::fanout::Publisher;

use crate::config::Config;
use crate::core::shared::Broker;
use crate::sink::publish;
use crate::sink::registry::Subscriptions;
use crate::source::upstream::{Manager, resolve};
use crate::source::{http, pull, query};

mod bind;
pub(crate) use bind::remove_stale_ipc;
use bind::{IpcUmask, bind, bind_api, bind_http, bind_monitor, bind_pub, bind_pull, secure_ipc};

/// Where the broker actually listens (ports resolved when 0 was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// PULL endpoint.
    pub emit: String,
    /// PUB endpoint.
    pub publish: String,
    /// Query endpoint.
    pub query: String,
    /// HTTP receiver address (`None`: not served).
    pub http: Option<String>,
    /// O-RAN v2 API address (`None`: not served).
    pub api: Option<String>,
    /// Monitor address: metrics, health, the live page (`None`: not served).
    pub monitor: Option<String>,
    /// This run's epoch.
    pub epoch: u64,
}

impl std::fmt::Display for Ready {
    /// The line `ptp-broker` prints on stdout when ready; tests parse it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ptp-broker ready emit={} pub={} query={}",
            self.emit, self.publish, self.query
        )?;
        if let Some(http) = &self.http {
            write!(f, " http={http}")?;
        }
        if let Some(api) = &self.api {
            write!(f, " api={api}")?;
        }
        if let Some(monitor) = &self.monitor {
            write!(f, " monitor={monitor}")?;
        }
        write!(f, " epoch={}", self.epoch)
    }
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A socket could not be bound.
    #[error("cannot bind {role} endpoint {endpoint}: {reason}")]
    Bind {
        /// emit, pub, query or http.
        role: &'static str,
        /// The endpoint asked for.
        endpoint: String,
        /// What the system said, with a hint.
        reason: String,
    },
    /// The configuration was not validated ([`Config::load`] does that).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The subscriptions (config file, state directory) cannot be used.
    #[error("subscriptions: {0}")]
    Subscriptions(String),
    /// The upstream (URL, callback, Kubernetes discovery) cannot be followed.
    #[error("cannot follow the upstream: {0}")]
    Upstream(String),
}

/// A broker with every socket bound, ready to [`run`](Server::run).
pub struct Server {
    config: Config,
    broker: Broker,
    ready: Ready,
    publish_queue: mpsc::Receiver<crate::core::shared::Outgoing>,
    publisher: Publisher,
    pull: pull::Pull,
    query_socket: RouterSocket,
    /// The HTTP receiver's listener, bound (`None`: nothing to receive, or disabled).
    http_listener: Option<TcpListener>,
    /// What the receiver accepts.
    http_options: http::Options,
    /// The subscription manager (`None`: no upstream configured).
    upstream: Option<Manager>,
    /// The sinks' subscriptions (config file and state directory).
    subscriptions: Subscriptions,
    /// The O-RAN v2 API, bound (`None`: disabled).
    api: Option<(TcpListener, std::sync::Arc<crate::api::Api>)>,
    /// The monitor's listener, bound (`None`: disabled).
    monitor: Option<TcpListener>,
}

impl Server {
    /// Bind every endpoint of `config`.
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        let (tx, publish_queue) = mpsc::channel(config.publish_queue);
        let limits = crate::core::table::Limits {
            max_entries: config.state.max_entries,
            max_bytes: config.state.max_bytes,
        };
        let broker = Broker::new(tx, config.effective_emit_policy(), limits);
        let subscriptions = crate::sink::spec::declared(&config.subscription, &config.node_name())
            .and_then(|declared| {
                Subscriptions::load(
                    broker.clone(),
                    std::path::Path::new(&config.state_dir),
                    config.node_name(),
                    declared,
                )
            })
            .map_err(StartError::Subscriptions)?;
        // ipc socket files are created with `ipc_mode` already, not the
        // umask's mode until the chmod below.
        let umask = IpcUmask::set(&config)?;
        let (publisher, publish) = bind_pub(
            &config.publish,
            config.subscriber_queue,
            config.max_subscribers,
        )
        .await?;
        // The codec refuses a frame from its header, before buffering it:
        // nothing a peer sends here may be larger than a body or a request.
        let options = || {
            let mut options = zeromq::SocketOptions::default();
            options.max_frame_len(config.max_body.max(proto::query::MAX_REQUEST));
            options
        };
        let (pull, emit) = bind_pull(&config.emit, config.max_emitters).await?;
        let mut query_socket = RouterSocket::with_options(options());
        let query = bind(&mut query_socket, "query", &config.query).await?;
        drop(umask);
        secure_ipc(&config)?;
        let http_listener = if config.serves_http() {
            Some(bind_http(&config.http.listen).await?)
        } else {
            None
        };
        let http_addr = http_listener.as_ref().and_then(|l| l.local_addr().ok());
        let api = bind_api(&config, &broker, &subscriptions).await?;
        let api_addr = api
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
            .map(|a| a.to_string());
        let monitor = bind_monitor(&config).await?;
        let monitor_addr = monitor
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.to_string());
        // This run's callback secret: only the upstream we subscribe to
        // learns it, so only its pushes are taken as the truth.
        let secret = new_secret();
        let upstream = match resolve::resolve(&config, http_addr, &secret).await {
            Ok(Some(target)) => Some(
                Manager::new(&config.upstream, target, broker.clone())
                    .map_err(|e| StartError::Upstream(e.to_string()))?,
            ),
            Ok(None) => None,
            Err(e) => return Err(StartError::Upstream(crate::error_chain(&e))),
        };
        if let (Some(manager), true) = (&upstream, config.serves_http()) {
            // The receiver takes `<http.path>/<secret>`; a callback set by
            // hand with another path only works behind a proxy that rewrites it.
            let want = format!("{}/{secret}", config.http.path);
            let path = reqwest::Url::parse(manager.callback())
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            if path != want {
                tracing::warn!(
                    "upstream.callback's path is not {}/<secret>: pushes reach this receiver only through a proxy that rewrites the path to it",
                    config.http.path
                );
            }
        }
        let http_options = http::Options {
            path: config.http.path.clone(),
            upstream_path: upstream
                .as_ref()
                .map(|_| format!("{}/{secret}", config.http.path)),
            open: config.http.open,
            allow: config
                .allow()
                .map_err(|e| StartError::Config(e.to_string()))?,
            max_body: config.max_body,
            body_timeout: std::time::Duration::from_millis(config.http.body_timeout_ms),
            limits: http::Limits {
                header_timeout: std::time::Duration::from_millis(config.http.header_timeout_ms),
                max_connections: config.http.max_connections,
            },
        };
        let ready = Ready {
            emit,
            publish,
            query,
            http: http_addr.map(|a| a.to_string()),
            api: api_addr,
            monitor: monitor_addr,
            epoch: broker.epoch(),
        };
        Ok(Server {
            config,
            broker,
            ready,
            publish_queue,
            publisher,
            pull,
            query_socket,
            http_listener,
            http_options,
            upstream,
            subscriptions,
            api,
            monitor,
        })
    }

    /// The EndpointUri the subscription manager registers (`None`: no upstream).
    pub fn callback(&self) -> Option<&str> {
        self.upstream.as_ref().map(Manager::callback)
    }

    /// Where it listens.
    pub fn ready(&self) -> &Ready {
        &self.ready
    }

    /// The shared state handle (sources that live outside this crate's tasks use it).
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Serve until `shutdown` is cancelled, then stop every task.
    pub async fn run(self, shutdown: CancellationToken) {
        let Server {
            config,
            broker,
            publish_queue,
            publisher,
            pull,
            query_socket,
            http_listener,
            http_options,
            upstream,
            subscriptions,
            api,
            monitor,
            ..
        } = self;
        let mut tasks = JoinSet::new();
        // Before any source runs: each sink's first events are the state
        // as of its start, then every change.
        let api_gave_up = api.as_ref().map(|_| {
            let (tx, rx) = mpsc::unbounded_channel();
            subscriptions.on_api_gave_up(tx);
            rx
        });
        subscriptions.start(&shutdown);
        if let (Some((listener, api)), Some(gave_up)) = (api, api_gave_up) {
            tasks.spawn(crate::api::run(listener, api, gave_up, shutdown.clone()));
        }
        let watcher = publisher.watcher();
        // Every socket is bound, and every task is spawned below without an
        // await in between: the first answer of `/readyz` may say so.
        broker.health().set_serving(true);
        if let Some(listener) = monitor {
            let monitor = crate::monitor::Monitor::new(
                broker.clone(),
                subscriptions.clone(),
                watcher.clone(),
                config.node_name(),
                &config.monitor,
                shutdown.clone(),
            );
            tasks.spawn(crate::monitor::run(
                listener,
                std::sync::Arc::new(monitor),
                shutdown.clone(),
            ));
        }
        tasks.spawn(publish::run(
            publisher,
            publish_queue,
            broker.clone(),
            config.heartbeat(),
            shutdown.clone(),
        ));
        tasks.spawn(pull::run(
            pull,
            broker.clone(),
            pull::Options {
                max_body: config.max_body,
            },
            shutdown.clone(),
        ));
        tasks.spawn(query::run(
            query_socket,
            broker.clone(),
            subscriptions,
            watcher,
            shutdown.clone(),
        ));
        if let Some(listener) = http_listener {
            tasks.spawn(http::run(
                listener,
                broker.clone(),
                http_options,
                shutdown.clone(),
            ));
        }
        // Spawned after the receiver: the upstream's initial notification
        // (sent during the subscribe) must find it serving. The listener is
        // bound already, so a connection made before warp polls it waits in
        // the backlog rather than being refused.
        if let Some(manager) = upstream {
            tasks.spawn(manager.run(shutdown.clone()));
        }
        // Every task runs until shutdown; one ending early is a bug worth
        // stopping for rather than limping on without, say, the PUB sink.
        if let Some(Err(e)) = tasks.join_next().await {
            tracing::error!("broker task failed: {e}");
        }
        shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        // A clean stop leaves no socket file behind.
        for endpoint in [&config.emit, &config.publish, &config.query] {
            if let Some(path) = endpoint.strip_prefix("ipc://") {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// 128 random bits as 32 hex digits: the last path segment of the callback.
fn new_secret() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness is a broken host; a v4 UUID's 122 bits (which
        // itself needs it) is the best left.
        return uuid::Uuid::new_v4().simple().to_string();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bind `config` and serve until `shutdown`: what the `ptp-broker` binary and
/// the tests call.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    let server = Server::bind(config).await?;
    tracing::info!("{}", server.ready());
    server.run(shutdown).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line_has_http_before_epoch_only_when_enabled() {
        let mut ready = Ready {
            emit: "tcp://127.0.0.1:1".into(),
            publish: "tcp://127.0.0.1:2".into(),
            query: "tcp://127.0.0.1:3".into(),
            http: Some("127.0.0.1:4".into()),
            api: None,
            monitor: None,
            epoch: 5,
        };
        assert_eq!(
            ready.to_string(),
            "ptp-broker ready emit=tcp://127.0.0.1:1 pub=tcp://127.0.0.1:2 query=tcp://127.0.0.1:3 http=127.0.0.1:4 epoch=5"
        );
        ready.http = None;
        assert_eq!(
            ready.to_string(),
            "ptp-broker ready emit=tcp://127.0.0.1:1 pub=tcp://127.0.0.1:2 query=tcp://127.0.0.1:3 epoch=5"
        );
    }

    #[tokio::test]
    async fn a_busy_http_port_fails_the_start_clearly() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let mut config = Config {
            emit: "tcp://127.0.0.1:0".into(),
            publish: "tcp://127.0.0.1:0".into(),
            query: "tcp://127.0.0.1:0".into(),
            ..Config::default()
        };
        config.http.listen = addr.to_string();
        config.http.open = true;
        config.api.listen = "127.0.0.1:0".into();
        config.monitor.listen = "127.0.0.1:0".into();
        let err = Server::bind(config)
            .await
            .err()
            .expect("port taken")
            .to_string();
        assert!(
            err.starts_with(&format!(
                "cannot bind http endpoint {addr}: address already in use"
            )),
            "{err}"
        );
    }
}
