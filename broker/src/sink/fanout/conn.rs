//! The accept loop and one subscriber connection: handshake under a deadline,
//! then a reader (subscriptions) and a writer (the queue) until either ends.

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::sync::CancellationToken;

use super::registry::{Peer, Registry};
use super::zmtp::{self, ReadError};
use crate::net::{self, Listener};

/// A peer that has not completed the handshake by then is dropped: it holds
/// a task and a file descriptor, and a real SUB finishes in microseconds.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest frame a subscriber may send; subscriptions are topic prefixes of
/// a few dozen bytes, so anything near this is garbage or hostile.
const MAX_FRAME: usize = 64 * 1024;
/// Subscriptions one peer may hold; each costs memory and a prefix compare
/// per published message.
const MAX_SUBSCRIPTIONS: usize = 1024;
/// Bytes all of one peer's subscriptions may take together. Topics are
/// event types, a few dozen bytes each.
const MAX_SUBSCRIPTION_BYTES: usize = 64 * 1024;
/// Messages taken from the queue per vectored write (Linux IOV_MAX is 1024).
const BATCH: usize = 128;

/// Accept subscribers until `stop`, each served by a task of its own.
pub async fn accept(listener: Listener, registry: Arc<Registry>, stop: CancellationToken) {
    let admission = Arc::clone(&registry.admission);
    let stopped = stop.clone();
    net::accept_loop(
        listener,
        admission,
        "PUB connection",
        stopped,
        |conn, permit| {
            tokio::spawn(serve(
                conn.read,
                conn.write,
                conn.peer,
                registry.clone(),
                stop.clone(),
                permit,
            ));
        },
    )
    .await;
}

async fn serve<R, W>(
    r: R,
    w: W,
    addr: String,
    registry: Arc<Registry>,
    stop: CancellationToken,
    permit: OwnedSemaphorePermit,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // Held until the connection ends, on every path.
    let _permit = permit;
    tokio::select! {
        _ = stop.cancelled() => {}
        () = connection(r, w, addr, &registry) => {}
    }
}

/// Unregisters on every exit path, including cancellation mid-await.
struct Registered<'a>(&'a Registry, u64);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.0.remove(self.1);
    }
}

async fn connection<R, W>(mut r: R, mut w: W, addr: String, registry: &Registry)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut r, &mut w)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!(peer = %addr, "PUB handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %addr, "PUB handshake timed out");
            return;
        }
    }
    let (tx, rx) = mpsc::channel(registry.capacity);
    let (id, peer) = registry.add(addr, tx);
    let _registered = Registered(registry, id);
    tracing::debug!(peer = %peer.addr, "subscriber connected");
    let why = tokio::select! {
        r = read_loop(r, &peer, registry, id) => r,
        w = write_loop(w, rx) => w.map_err(ReadError::Io),
    };
    if let Err(e) = why {
        tracing::debug!(peer = %peer.addr, "subscriber disconnected: {e}");
    }
}

async fn handshake<R, W>(r: &mut R, w: &mut W) -> Result<(), ReadError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    use tokio::io::AsyncReadExt;
    w.write_all(&zmtp::greeting()).await?;
    let mut greeting = [0u8; 64];
    r.read_exact(&mut greeting).await?;
    zmtp::check_greeting(&greeting).map_err(ReadError::Protocol)?;
    w.write_all(&zmtp::ready_pub()).await?;
    let frame = zmtp::read_frame(r, MAX_FRAME).await?;
    if !frame.command {
        return Err(ReadError::Protocol("expected READY command"));
    }
    match zmtp::ready_socket_type(&frame.body).map_err(ReadError::Protocol)? {
        b"SUB" | b"XSUB" => Ok(()),
        _ => Err(ReadError::Protocol("peer is not SUB or XSUB")),
    }
}

/// Subscriptions arrive as ZMTP 3.1 commands (`SUBSCRIBE`/`CANCEL`, sent by
/// libzmq ≥ 4.3.3 to a 3.1 peer) or as ZMTP 3.0 single-frame messages whose
/// first byte is 1 (subscribe) or 0 (cancel), as the zeromq crate sends.
async fn read_loop<R: AsyncRead + Unpin>(
    mut r: R,
    peer: &Peer,
    registry: &Registry,
    id: u64,
) -> Result<(), ReadError> {
    // A multiset, as in libzmq: subscribing twice needs two cancels.
    let mut subscriptions: Vec<Bytes> = Vec::new();
    // Their bytes, bounded by MAX_SUBSCRIPTION_BYTES.
    let mut held = 0;
    // Inside a multi-frame message: its frames are not subscriptions.
    let mut in_message = false;
    loop {
        let frame = zmtp::read_frame(&mut r, MAX_FRAME).await?;
        let change = if frame.command {
            match zmtp::command_name(&frame.body) {
                Some((b"SUBSCRIBE", topic)) => Some((true, topic)),
                Some((b"CANCEL", topic)) => Some((false, topic)),
                Some((b"PING", data)) => {
                    // Best effort: a full queue means the peer is not reading anyway.
                    let _ = peer.queue.try_send(zmtp::pong(data));
                    None
                }
                Some((b"ERROR", _)) => return Err(ReadError::Protocol("peer sent ERROR")),
                Some(_) => None,
                None => return Err(ReadError::Protocol("malformed command")),
            }
        } else {
            let single = !in_message && !frame.more;
            in_message = frame.more;
            match frame.body.split_first() {
                Some((1, topic)) if single => Some((true, topic)),
                Some((0, topic)) if single => Some((false, topic)),
                _ => None,
            }
        };
        let Some((subscribe, topic)) = change else {
            continue;
        };
        if subscribe {
            if subscriptions.len() >= MAX_SUBSCRIPTIONS {
                return Err(ReadError::Protocol("too many subscriptions"));
            }
            held += topic.len();
            if held > MAX_SUBSCRIPTION_BYTES {
                return Err(ReadError::Protocol("subscriptions too long"));
            }
            subscriptions.push(Bytes::copy_from_slice(topic));
        } else if let Some(i) = subscriptions.iter().position(|s| s[..] == *topic) {
            held -= subscriptions.remove(i).len();
        } else {
            continue;
        }
        registry.set_subscriptions(id, &subscriptions);
    }
}

/// Drain the queue: everything queued (up to [`BATCH`]) goes out in one
/// vectored write, so a burst costs a subscriber few syscalls.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::Receiver<Bytes>,
) -> io::Result<()> {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        if let [one] = batch.as_slice() {
            w.write_all(one).await?;
        } else {
            let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
            let mut rest = slices.as_mut_slice();
            while !rest.is_empty() {
                let n = w.write_vectored(rest).await?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                IoSlice::advance_slices(&mut rest, n);
            }
        }
        batch.clear();
    }
    Ok(())
}
