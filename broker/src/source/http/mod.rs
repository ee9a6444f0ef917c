//! The HTTP source: the receiver the upstream POSTs CloudEvents to.
//!
//! One catch-all warp filter hands method, path, peer address, headers and
//! the body stream to [`Receiver::handle`], which decides every status code
//! itself: that keeps warp's own rejections (411 for a chunked body, 500 for
//! a body read twice…) out of the contract, and lets every refusal be
//! counted in one place. The contract is in docs/UPSTREAM.md:
//!
//! - only pushes the broker asked for are taken: `POST <path>/<secret>`, the
//!   callback it registered with its upstream (a fresh 128-bit secret every
//!   run), or `POST <path>` when `http.open` says so on purpose; any other
//!   POST under `<path>` is refused with 403 and changes nothing;
//! - a request from outside `http.allow` is refused with 403;
//! - a structured (`application/json`, `application/cloudevents+json`,
//!   `application/cloudevents-batch+json`) or binary-mode (`ce-specversion`
//!   header) CloudEvent → 204 once every event of the request is stored and
//!   queued; an empty body → 204 (the v1 endpoint check);
//! - 400 unusable event (one-line reason naming the field, the value and
//!   what is allowed; only the O-RAN `event.sync.*` types are taken here),
//!   413 body over `max_body`, 415 other media type, 404 other path, 405
//!   other method;
//! - `GET /health` → 200 `OK`.
//!
//! A request is all or nothing: one bad event in a batch refuses the batch.

mod allow;
mod body;
pub mod listener;
mod stall;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Buf;
use futures::Stream;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warp::http::header::ALLOW;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::core::shared::Broker;
use crate::core::stats::{self, RejectLog};

pub use allow::Cidr;
pub use listener::Limits;

/// Media types of a structured-mode body (parameters such as `charset` ignored).
const STRUCTURED: [&str; 3] = [
    "application/json",
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
];

/// What the receiver accepts, decided at start-up.
#[derive(Debug, Clone)]
pub struct Options {
    /// `http.path`: pushes go under it.
    pub path: String,
    /// The secret callback path registered with the upstream
    /// (`<path>/<secret>`); `None` when no upstream is followed.
    pub upstream_path: Option<String>,
    /// `http.open`: also accept pushes on `path` itself, from anyone that
    /// `allow` lets in.
    pub open: bool,
    /// `http.allow`: source networks answered at all (empty: any).
    pub allow: Vec<Cidr>,
    /// Largest body accepted, in bytes (`max_body`).
    pub max_body: usize,
    /// The whole body must arrive within this.
    pub body_timeout: Duration,
    /// Header timeout and connection cap.
    pub limits: Limits,
}

/// What one request handler needs; shared by every connection.
struct Receiver {
    broker: Broker,
    options: Options,
    /// Rate-limited log of refusals; a std mutex because it is held only to
    /// format one line, never across an `.await`.
    log: Mutex<RejectLog>,
}

/// A refused request: status and a one-line reason for the body.
struct Refusal(StatusCode, String);

/// Bind the receiver's listener (in `Server::bind`, so a busy port fails the start).
pub async fn bind(listen: &str) -> std::io::Result<TcpListener> {
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    TcpListener::bind(addr).await
}

/// Serve on `listener` until `shutdown`, then let requests in flight finish
/// for up to two seconds.
pub async fn run(
    listener: TcpListener,
    broker: Broker,
    options: Options,
    shutdown: CancellationToken,
) {
    let limits = options.limits;
    let receiver = Arc::new(Receiver {
        broker: broker.clone(),
        options,
        log: Mutex::new(RejectLog::new("HTTP request")),
    });
    let stop = shutdown.clone();
    let serve = move |stream, peer| serve_one(Arc::clone(&receiver), stream, peer, stop.clone());
    listener::run(listener, broker, limits, serve, shutdown.clone()).await;
}

/// Serve one connection on any byte stream, as the listener does for each
/// TCP connection (the fuzzer and tests feed it bytes from memory). Returns
/// when the peer is done or the connection fails.
pub async fn serve_stream<S>(broker: Broker, options: Options, stream: S, peer: SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let receiver = Arc::new(Receiver {
        broker,
        options,
        log: Mutex::new(RejectLog::new("HTTP request")),
    });
    serve_one(receiver, stream, peer, CancellationToken::new()).await;
}

/// One connection: hyper's HTTP/1 server with the header timeout, our
/// routes with the peer's address, a graceful end on shutdown.
async fn serve_one<S>(
    receiver: Arc<Receiver>,
    stream: S,
    peer: SocketAddr,
    shutdown: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = receiver.options.limits;
    // An answer must make progress within the body timeout.
    let receiver_write_limit = receiver.options.body_timeout;
    let broker = receiver.broker.clone();
    let warp = hyper_util::service::TowerToHyperService::new(warp::service(routes(receiver, peer)));
    // A request target that is not a path ("POST .event", "CONNECT h:1")
    // has no path-and-query, and warp's path filter panics on it (found by
    // the `http` fuzz target): refuse it before warp sees it.
    let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
        let path = request.uri().path_and_query().is_some();
        let answer = path.then(|| hyper::service::Service::call(&warp, request));
        let broker = broker.clone();
        async move {
            match answer {
                Some(answer) => answer.await,
                None => {
                    stats::bump(&broker.stats().rejected_http);
                    Ok(text(
                        StatusCode::BAD_REQUEST,
                        "the request target must be a path (origin form, /...)".to_owned(),
                    ))
                }
            }
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(
            hyper_util::rt::TokioIo::new(stall::WriteDeadline::new(stream, receiver_write_limit)),
            service,
        );
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                // Timeouts, resets, garbage: the peer's problem, said at debug.
                tracing::debug!("HTTP connection from {peer} ended: {e}");
            }
        }
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(listener::DRAIN, connection).await;
        }
    }
}

/// The catch-all filter, for a connection from `peer`.
fn routes(
    receiver: Arc<Receiver>,
    peer: SocketAddr,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method: Method, path: warp::path::FullPath, headers: HeaderMap, body| {
                let receiver = Arc::clone(&receiver);
                async move {
                    receiver
                        .handle(&method, path.as_str(), Some(peer.ip()), &headers, body)
                        .await
                }
            },
        )
        .recover(|_| async {
            Ok::<_, std::convert::Infallible>(text(
                StatusCode::BAD_REQUEST,
                "unreadable request".to_owned(),
            ))
        })
        .unify()
}

impl Receiver {
    /// Answer one request; every outcome but success is counted and logged.
    async fn handle<S, B>(
        &self,
        method: &Method,
        path: &str,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
        body: S,
    ) -> Response
    where
        S: Stream<Item = Result<B, warp::Error>> + Unpin,
        B: Buf,
    {
        match self.route(method, path, peer, headers, body).await {
            Ok(response) => response,
            Err(Refusal(status, reason)) => {
                stats::bump(&self.broker.stats().rejected_http);
                if status == StatusCode::FORBIDDEN {
                    stats::bump(&self.broker.stats().rejected_http_unauthorized);
                }
                let reason = one_line(&reason);
                // The secret must not reach the log: name the path by its prefix.
                let shown = self.shown_path(path);
                let from = peer.map_or_else(|| "?".to_owned(), |ip| ip.to_string());
                if let Ok(mut log) = self.log.lock() {
                    log.reject(&format_args!(
                        "{method} {shown} from {from}: {} {reason}",
                        status.as_u16()
                    ));
                }
                let mut response = text(status, reason);
                if status == StatusCode::METHOD_NOT_ALLOWED {
                    let allow = if path == "/health" { "GET" } else { "POST" };
                    response
                        .headers_mut()
                        .insert(ALLOW, HeaderValue::from_static(allow));
                }
                response
            }
        }
    }

    async fn route<S, B>(
        &self,
        method: &Method,
        path: &str,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
        body: S,
    ) -> Result<Response, Refusal>
    where
        S: Stream<Item = Result<B, warp::Error>> + Unpin,
        B: Buf,
    {
        let o = &self.options;
        if !allow::allowed(&o.allow, peer) {
            return Err(Refusal(
                StatusCode::FORBIDDEN,
                format!(
                    "source address {} is not in http.allow",
                    peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
                ),
            ));
        }
        let accepted = o
            .upstream_path
            .as_deref()
            .is_some_and(|secret| same_secret(secret, path))
            || (o.open && path == o.path);
        if accepted {
            if method != Method::POST {
                return Err(Refusal(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "events are POSTed".to_owned(),
                ));
            }
            let timeout = self.options.body_timeout;
            let body = match tokio::time::timeout(timeout, self.read_body(headers, body)).await {
                Ok(body) => body?,
                Err(_) => {
                    stats::bump(&self.broker.stats().http_timeouts);
                    return Err(Refusal(
                        StatusCode::REQUEST_TIMEOUT,
                        format!("the body did not arrive within {timeout:?}"),
                    ));
                }
            };
            return self.receive(headers, &body);
        }
        if path == "/health" {
            if method != Method::GET && method != Method::HEAD {
                return Err(Refusal(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "/health accepts GET only".to_owned(),
                ));
            }
            return Ok(text(StatusCode::OK, "OK".to_owned()));
        }
        let under = path
            .strip_prefix(o.path.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if under {
            let why = match &o.upstream_path {
                Some(_) => "not the callback this broker registered with its upstream; pushes are accepted only there".to_owned(),
                None => format!(
                    "this broker follows no upstream and does not take pushes from the network; set http.open = true to accept them on {} (docs/UPSTREAM.md, Security)",
                    o.path
                ),
            };
            return Err(Refusal(StatusCode::FORBIDDEN, why));
        }
        Err(Refusal(StatusCode::NOT_FOUND, "no such path".to_owned()))
    }

    /// `path` as it may be logged: the secret callback shown as `<path>/<secret>`.
    fn shown_path(&self, path: &str) -> String {
        let prefix = format!("{}/", self.options.path);
        match path.strip_prefix(&prefix) {
            Some(rest) if !rest.is_empty() => format!("{prefix}<secret>"),
            _ => path.to_owned(),
        }
    }
}

/// `a == b` in a time that does not depend on where they first differ, so
/// the secret cannot be guessed byte by byte from response times.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// Reasons go in a one-line text body and a log line.
fn one_line(reason: &str) -> String {
    reason.replace(['\n', '\r'], " ")
}

fn text(status: StatusCode, body: String) -> Response {
    // A String reply is sent as text/plain; charset=utf-8.
    warp::reply::with_status(body, status).into_response()
}

fn no_content() -> Response {
    warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response()
}
