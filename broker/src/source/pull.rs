//! The PULL source: events pushed by `client::emit`, `ptp-broker emit` and
//! any ZeroMQ PUSH socket (libzmq's too), on our own ZMTP 3.1 server.
//!
//! Each connection is a task of its own that reads into one buffer and
//! takes every whole message out of it ([`proto::zmtp::Inbox`]): a burst
//! costs one read, and each event is decoded from a slice of the buffer,
//! then handed to the core. Messages from one peer are taken in the order
//! sent; peers are independent, as with any PULL socket.
//!
//! Every message is decoded and validated; a bad one is counted, logged
//! (rate limited) and dropped, and the connection goes on to the next. A
//! peer that breaks the protocol (a frame over the frame limit, announced
//! in its header; a message over twice that limit; a handshake not done in
//! time; a socket type that is not PUSH) is disconnected; the others are
//! unaffected. Nothing a peer sends ends the accept loop.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use proto::Origin;
use proto::frame::DecodeError;
use proto::zmtp::{self, Inbox, Incoming, Parts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use crate::core::shared::Broker;
use crate::core::stats::{self, RejectLog};
use crate::net::{self, Admission, Conn, Listener};

/// A peer that has not completed the handshake by then is dropped: it holds
/// a task and a file descriptor, and a real PUSH finishes in microseconds.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// Room made for each read at least: a burst of about 50 events.
const READ_CHUNK: usize = 16 * 1024;

/// Default for the most emitters connected at once (`max_emitters`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// What the PULL source needs besides its listener.
#[derive(Debug, Clone)]
pub struct Options {
    /// Largest event body; a frame may be as large as this or a query
    /// request, whichever is larger, and a message twice that.
    pub max_body: usize,
}

/// A bound PULL endpoint, ready to [`run`].
pub struct Pull {
    listener: Listener,
    admission: Arc<Admission>,
}

impl Pull {
    /// Bind `endpoint` (`tcp://` or `ipc://`) for at most `max_connections`
    /// emitters at once. Returns the endpoint actually bound.
    pub async fn bind(endpoint: &str, max_connections: usize) -> io::Result<(Pull, String)> {
        let (listener, resolved) = Listener::bind(endpoint).await?;
        let admission = Arc::new(Admission::new(max_connections));
        Ok((
            Pull {
                listener,
                admission,
            },
            resolved,
        ))
    }
}

/// Receive until `shutdown`.
pub async fn run(pull: Pull, broker: Broker, options: Options, shutdown: CancellationToken) {
    let Pull {
        listener,
        admission,
    } = pull;
    let log = Arc::new(Mutex::new(RejectLog::new("emit frame")));
    let counters = Arc::clone(&admission);
    let stop = shutdown.clone();
    let accepting = net::accept_loop(
        listener,
        admission,
        "emit connection",
        shutdown,
        |conn, permit| {
            tokio::spawn(serve(
                conn,
                permit,
                broker.clone(),
                options.clone(),
                Arc::clone(&log),
                stop.clone(),
            ));
        },
    );
    // The accept loop's counters reach the broker's once a second.
    let copy = || {
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        let stats = broker.stats();
        let refused = counters.refused.load(relaxed);
        stats.emit_connections_refused.store(refused, relaxed);
        let errors = counters.accept_errors.load(relaxed);
        stats.emit_accept_errors.store(errors, relaxed);
    };
    let copying = async {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            copy();
        }
    };
    tokio::select! {
        () = accepting => {}
        () = copying => {}
    }
    copy();
    log.lock().unwrap_or_else(PoisonError::into_inner).flush();
}

async fn serve(
    conn: Conn,
    permit: OwnedSemaphorePermit,
    broker: Broker,
    options: Options,
    log: Arc<Mutex<RejectLog>>,
    stop: CancellationToken,
) {
    // Held until the connection ends, on every path.
    let _permit = permit;
    let peer = conn.peer.clone();
    let ended = tokio::select! {
        _ = stop.cancelled() => return,
        ended = connection(conn, &broker, &options, &log) => ended,
    };
    match ended {
        Ok(()) => tracing::debug!(peer = %peer, "emitter disconnected"),
        // Gone mid-handshake or mid-message, or reset: not the broker's doing.
        Err(Dropped::Io(e)) => tracing::debug!(peer = %peer, "emitter disconnected: {e}"),
        Err(e) => {
            stats::bump(&broker.stats().emit_peers_dropped);
            tracing::debug!(peer = %peer, "emitter dropped: {e}");
        }
    }
}

/// Why a connection was dropped.
#[derive(Debug, thiserror::Error)]
enum Dropped {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    #[error("no handshake within {HANDSHAKE_TIMEOUT:?}")]
    Timeout,
}

/// Serve one peer: `Ok` when it closed the connection.
async fn connection(
    mut conn: Conn,
    broker: &Broker,
    options: &Options,
    log: &Mutex<RejectLog>,
) -> Result<(), Dropped> {
    let max_frame = options.max_body.max(proto::query::MAX_REQUEST);
    let mut inbox = Inbox::new(max_frame, 2 * max_frame, READ_CHUNK);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut conn, &mut inbox)).await {
        Ok(done) => done?,
        Err(_) => return Err(Dropped::Timeout),
    }
    let mut pongs = Vec::new();
    loop {
        let read = conn.read.read_buf(inbox.buffer()).await?;
        let received = Instant::now();
        if read == 0 {
            return if inbox.pending() == 0 {
                Ok(())
            } else {
                Err(closed("closed inside a message"))
            };
        }
        loop {
            let message = inbox.next_message(|name, data| match name {
                b"PING" => {
                    pongs.extend_from_slice(&zmtp::pong(data));
                    Ok(())
                }
                b"ERROR" => Err("peer sent ERROR"),
                _ => Ok(()),
            });
            match message.map_err(Dropped::Protocol)? {
                Some(parts) => take(parts, broker, options.max_body, received, log),
                None => break,
            }
        }
        if !pongs.is_empty() {
            conn.write.write_all(&pongs).await?;
            pongs.clear();
        }
    }
}

fn closed(what: &'static str) -> Dropped {
    Dropped::Io(io::Error::new(io::ErrorKind::UnexpectedEof, what))
}

/// Greetings both ways, our READY, then the peer's: it must be a PUSH.
async fn handshake(conn: &mut Conn, inbox: &mut Inbox) -> Result<(), Dropped> {
    conn.write.write_all(&zmtp::greeting(1)).await?;
    let mut greeting = [0u8; 64];
    conn.read.read_exact(&mut greeting).await?;
    zmtp::check_greeting(&greeting).map_err(Dropped::Protocol)?;
    conn.write.write_all(&zmtp::ready(b"PULL")).await?;
    loop {
        match inbox.next_item().map_err(Dropped::Protocol)? {
            Some(Incoming::Command { name, data }) => {
                return match zmtp::socket_type(name, data).map_err(Dropped::Protocol)? {
                    b"PUSH" => Ok(()),
                    _ => Err(Dropped::Protocol("peer is not PUSH")),
                };
            }
            Some(Incoming::Message(_)) => return Err(Dropped::Protocol("expected READY")),
            None => {
                if conn.read.read_buf(inbox.buffer()).await? == 0 {
                    return Err(closed("closed during the handshake"));
                }
            }
        }
    }
}

/// Decode, validate and accept one message, counting the outcome.
fn take(
    parts: Parts<'_>,
    broker: &Broker,
    max_body: usize,
    received: Instant,
    log: &Mutex<RejectLog>,
) {
    let result = match parts.as_slice() {
        [topic, body] if parts.count() == 2 => broker
            .accept_frames(topic, body, max_body, Origin::Synthetic, received)
            .map(drop)
            .map_err(|e| e.to_string()),
        _ => Err(DecodeError::FrameCount(parts.count()).to_string()),
    };
    match result {
        Ok(()) => stats::bump(&broker.stats().accepted_emit),
        Err(reason) => {
            stats::bump(&broker.stats().rejected_emit);
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .reject(&reason);
        }
    }
}
