//! The monitor listener (docs/OPERATIONS.md): what an operator scrapes,
//! probes and looks at, on an HTTP listener of its own.
//!
//! - `GET /metrics`: Prometheus text format ([`metrics`]);
//! - `GET /healthz`: 200 while the process serves;
//! - `GET /readyz`: 200 when ready, else 503 and the reasons, one a line
//!   ([`crate::core::health::not_ready`]);
//! - `GET /varz`, `GET /connz`: the broker and its PUB subscribers as JSON,
//!   like nats-server's ([`views`]);
//! - `GET /ui`: the live page, and `GET /ui/events` its server-sent events
//!   ([`events`]).
//!
//! It only reads: nothing here changes the broker's state.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::core::health::not_ready;
use crate::core::shared::Broker;
use crate::sink::fanout::Watcher;
use crate::sink::registry::Subscriptions;
use crate::source::http::listener;

mod events;
pub mod metrics;
mod views;

/// Default monitor address: loopback, like cloud-event-proxy's metrics
/// port behind kube-rbac-proxy; a DaemonSet sets `0.0.0.0:9091` so the
/// kubelet's probes and Prometheus reach it (deploy/).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9091";

/// The `[monitor]` section: one HTTP listener for `/metrics`, `/healthz`,
/// `/readyz`, `/varz`, `/connz` and the live page `/ui`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Serve it.
    pub enabled: bool,
    /// Where (IP:PORT).
    pub listen: String,
    /// `/readyz` fails when the upstream has answered no pass and pushed
    /// nothing for this many milliseconds.
    pub stale_after_ms: u64,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            enabled: true,
            listen: DEFAULT_LISTEN.to_owned(),
            stale_after_ms: 10_000,
        }
    }
}

/// Most live pages streaming at once; more are answered 503.
const MAX_STREAMS: usize = 32;

/// What the monitor reads.
pub struct Monitor {
    broker: Broker,
    subscriptions: Subscriptions,
    publisher: Watcher,
    node: String,
    stale_after: Duration,
    streams: AtomicUsize,
    /// Ends the event streams, which would otherwise hold the listener's
    /// drain open.
    shutdown: CancellationToken,
}

impl Monitor {
    /// A monitor of `broker`, its sinks' `subscriptions` and its PUB socket.
    pub fn new(
        broker: Broker,
        subscriptions: Subscriptions,
        publisher: Watcher,
        node: String,
        config: &MonitorConfig,
        shutdown: CancellationToken,
    ) -> Monitor {
        Monitor {
            broker,
            subscriptions,
            publisher,
            node,
            stale_after: Duration::from_millis(config.stale_after_ms),
            streams: AtomicUsize::new(0),
            shutdown,
        }
    }

    /// Why it is not ready (empty: ready).
    pub fn not_ready(&self) -> Vec<String> {
        not_ready(self.broker.health(), self.stale_after)
    }
}

type Answer = Response<BoxBody<Bytes, Infallible>>;

fn answer(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    response
}

fn json(value: &serde_json::Value) -> Answer {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_default();
    body.push(b'\n');
    answer(StatusCode::OK, "application/json", body)
}

const TEXT: &str = "text/plain; charset=utf-8";

/// The page's Content-Security-Policy: inline script and style only, the
/// event stream from this origin, nothing else.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";

const INDEX: &str = "ptp-broker monitor\n\n\
/metrics       Prometheus metrics (text format)\n\
/healthz       200 while the broker serves\n\
/readyz        200 when ready, else 503 and why\n\
/varz          the broker, its upstream and counters (JSON)\n\
/connz         PUB subscriber connections (JSON)\n\
/ui            the live page\n";

async fn handle(monitor: Arc<Monitor>, request: Request<hyper::body::Incoming>) -> Answer {
    let head = request.method() == Method::HEAD;
    if request.method() != Method::GET && !head {
        let mut refused = answer(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "the monitor only reads: GET or HEAD\n",
        );
        refused.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        return refused;
    }
    let response = match request.uri().path() {
        "/" => answer(StatusCode::OK, TEXT, INDEX),
        "/healthz" => answer(StatusCode::OK, TEXT, "ok\n"),
        "/readyz" => {
            let reasons = monitor.not_ready();
            if reasons.is_empty() {
                answer(StatusCode::OK, TEXT, "ready\n")
            } else {
                let mut text = String::from("not ready:\n");
                for reason in reasons {
                    text.push_str(&reason);
                    text.push('\n');
                }
                answer(StatusCode::SERVICE_UNAVAILABLE, TEXT, text)
            }
        }
        "/metrics" => answer(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(&monitor),
        ),
        "/varz" => json(&views::varz(&monitor)),
        "/connz" => json(&views::connz(&monitor)),
        "/ui" | "/ui/" => {
            let mut page = answer(
                StatusCode::OK,
                "text/html; charset=utf-8",
                include_str!("ui.html"),
            );
            page.headers_mut().insert(
                hyper::header::CONTENT_SECURITY_POLICY,
                hyper::header::HeaderValue::from_static(PAGE_POLICY),
            );
            page
        }
        "/ui/events" if !head => events::stream(&monitor),
        _ => answer(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found: see / for what the monitor serves\n",
        ),
    };
    if head {
        let (parts, _) = response.into_parts();
        return Response::from_parts(parts, Full::new(Bytes::new()).boxed());
    }
    response
}

/// Serve until `shutdown`.
pub async fn run(listener: TcpListener, monitor: Arc<Monitor>, shutdown: CancellationToken) {
    let limits = listener::Limits {
        header_timeout: Duration::from_secs(10),
        max_connections: 64,
    };
    let broker = monitor.broker.clone();
    let serve = move |stream, _peer| {
        let monitor = Arc::clone(&monitor);
        async move {
            let service = hyper::service::service_fn(move |request| {
                let monitor = Arc::clone(&monitor);
                async move { Ok::<_, Infallible>(handle(monitor, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!("monitor connection ended: {e}");
            }
        }
    };
    listener::run(listener, broker, limits, serve, shutdown).await;
}
