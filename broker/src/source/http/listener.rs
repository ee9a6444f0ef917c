//! The receiver's accept loop: a connection cap, timeouts, backoff when the
//! process is out of file descriptors, and a drain at shutdown.
//!
//! Each connection is served by hyper's HTTP/1 server with a header read
//! timeout (which also closes a keep-alive connection that stays idle that
//! long); the body timeout is the handler's (`Receiver::read_body`). A
//! connection past `max_connections` is closed at once and counted, never
//! queued: a flood of half-open requests cannot hold every descriptor.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::core::shared::Broker;
use crate::core::stats::{self, RejectLog};

/// How long in-flight requests may take to finish once shutdown starts.
pub const DRAIN: Duration = Duration::from_secs(2);

/// The limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request's headers must arrive within this (and an idle keep-alive
    /// connection is closed after it).
    pub header_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
}

/// Accept on `listener` until `shutdown`; `serve(stream, peer, limits)`
/// serves one connection. Returns once every connection has ended or the
/// drain time is over.
pub async fn run<S, F>(
    listener: TcpListener,
    broker: Broker,
    limits: Limits,
    serve: S,
    shutdown: CancellationToken,
) where
    S: Fn(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let log = Arc::new(Mutex::new(RejectLog::new("HTTP connection")));
    let mut backoff = Duration::ZERO;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = Duration::ZERO;
                accepted
            }
            Err(e) => {
                // EMFILE and friends: the listener stays readable, so
                // retrying at once spins. Wait, keep serving what we have.
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                stats::bump(&broker.stats().http_accept_errors);
                if let Ok(mut log) = log.lock() {
                    log.reject(&format_args!("accept failed, retrying in {backoff:?}: {e}"));
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => continue,
                }
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            stats::bump(&broker.stats().http_connections_refused);
            if let Ok(mut log) = log.lock() {
                log.reject(&format_args!(
                    "{peer}: {} connections open, closed at once",
                    limits.max_connections
                ));
            }
            drop(stream);
            continue;
        };
        let connection = serve(stream, peer);
        connections.spawn(async move {
            connection.await;
            drop(permit);
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!("HTTP receiver: connections still open after {DRAIN:?}, dropped");
        connections.abort_all();
    }
    if let Ok(mut log) = log.lock() {
        log.flush();
    }
}
