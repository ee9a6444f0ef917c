//! Stream listeners for the broker's own ZMTP sockets (PUB and PULL):
//! binding `tcp://` and `ipc://` endpoints, and the one accept loop they
//! share, with a cap on connections open at once and a backoff after a
//! failed accept.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::core::stats::RejectLog;

/// A connection's reading half.
pub(crate) type Read = Box<dyn AsyncRead + Send + Unpin>;
/// A connection's writing half.
pub(crate) type Write = Box<dyn AsyncWrite + Send + Unpin>;

/// One accepted connection.
pub(crate) struct Conn {
    pub read: Read,
    pub write: Write,
    /// `IP:port`, or the ipc path.
    pub peer: String,
}

/// A bound listener.
pub(crate) enum Listener {
    Tcp(TcpListener),
    /// With its path, the name every peer of it gets.
    Unix(UnixListener, String),
}

impl Listener {
    /// Bind `tcp://HOST:PORT` (port 0 picks one; `*` is every interface)
    /// or `ipc://PATH` (a stale socket file nobody answers on is removed
    /// first). Returns the endpoint actually bound, e.g. `tcp://127.0.0.1:40123`.
    pub(crate) async fn bind(endpoint: &str) -> io::Result<(Listener, String)> {
        if let Some(addr) = endpoint.strip_prefix("tcp://") {
            let addr = match addr.strip_prefix("*:") {
                Some(port) => format!("0.0.0.0:{port}"),
                None => addr.to_owned(),
            };
            let listener = TcpListener::bind(addr.as_str()).await?;
            let resolved = format!("tcp://{}", listener.local_addr()?);
            Ok((Listener::Tcp(listener), resolved))
        } else if let Some(path) = endpoint.strip_prefix("ipc://") {
            crate::server::remove_stale_ipc(Path::new(path))?;
            let listener = UnixListener::bind(path)?;
            Ok((
                Listener::Unix(listener, path.to_owned()),
                endpoint.to_owned(),
            ))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unsupported endpoint {endpoint:?} (want tcp://HOST:PORT or ipc://PATH)"),
            ))
        }
    }

    async fn accept(&self) -> io::Result<Conn> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, addr) = listener.accept().await?;
                // Events are small and latency matters more than packet count.
                let _ = stream.set_nodelay(true);
                let (read, write) = stream.into_split();
                Ok(Conn {
                    read: Box::new(read),
                    write: Box::new(write),
                    peer: addr.to_string(),
                })
            }
            Listener::Unix(listener, path) => {
                let (stream, _) = listener.accept().await?;
                let (read, write) = stream.into_split();
                Ok(Conn {
                    read: Box::new(read),
                    write: Box::new(write),
                    peer: path.clone(),
                })
            }
        }
    }
}

/// How many connections a listener serves at once, and what its accept
/// loop counted.
#[derive(Debug)]
pub(crate) struct Admission {
    /// One permit per connection open (handshaking or serving).
    permits: Arc<Semaphore>,
    /// Most connections at once (the permits' number).
    pub max: usize,
    /// Connections closed at once because `max` were open.
    pub refused: AtomicU64,
    /// Failed accepts (out of file descriptors…), each followed by a backoff.
    pub accept_errors: AtomicU64,
}

impl Admission {
    pub(crate) fn new(max: usize) -> Admission {
        let max = max.max(1);
        Admission {
            permits: Arc::new(Semaphore::new(max)),
            max,
            refused: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
        }
    }
}

/// Accept until `stop`, handing each connection and its permit (held until
/// the connection ends) to `serve`, which spawns what serves it. A
/// connection over the cap is closed at once; a failed accept backs off.
/// `what` names the connections in the (rate-limited) log.
pub(crate) async fn accept_loop(
    listener: Listener,
    admission: Arc<Admission>,
    what: &'static str,
    stop: CancellationToken,
    mut serve: impl FnMut(Conn, OwnedSemaphorePermit),
) {
    let mut log = RejectLog::new(what);
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok(conn) => {
                backoff = Duration::ZERO;
                match Arc::clone(&admission.permits).try_acquire_owned() {
                    Ok(permit) => serve(conn, permit),
                    Err(_) => {
                        // Dropping the connection closes it.
                        admission.refused.fetch_add(1, Ordering::Relaxed);
                        log.reject(&format_args!(
                            "{}: {} connections open, closed at once",
                            conn.peer, admission.max
                        ));
                    }
                }
            }
            Err(e) => {
                // Out of file descriptors and the like: the listener stays
                // readable, so retrying at once would spin. Wait 10 ms
                // doubling to 1 s; connections already open keep being served.
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                admission.accept_errors.fetch_add(1, Ordering::Relaxed);
                log.reject(&format_args!("accept failed, retrying in {backoff:?}: {e}"));
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
            }
        }
    }
    log.flush();
}
