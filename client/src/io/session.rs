//! The link to the broker: the SUB socket and its reader, the sync marker
//! that proves a subscription is in effect, and the query tasks.

use std::time::{Duration, Instant};

use proto::frame;
use proto::query::{Reply, Request};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zeromq::{Socket, SocketOptions, SocketRecv, SubSocket};

use super::{FromSub, Internal, Io, RECONNECT_PAUSE};
use crate::{Error, query};

impl Io {
    pub(super) fn ensure_session(&mut self) {
        if self.reader.is_some() || self.connecting || Instant::now() < self.next_connect {
            return;
        }
        self.connecting = true;
        let endpoint = self.config.publish.clone();
        let timeout = self.config.timeout;
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(Internal::Connected(connect_sub(&endpoint, timeout).await));
        });
    }

    pub(super) fn drop_session(&mut self) {
        if let Some((handle, _)) = self.reader.take() {
            handle.abort();
        }
        self.synced = false;
        self.sync_token = None;
        self.next_connect = Instant::now() + RECONNECT_PAUSE;
    }

    pub(super) fn start_sync(&mut self) {
        self.tokens += 1;
        let token = format!(
            "{}-{}-{}",
            std::process::id(),
            self.tokens,
            self.shared.nonce
        );
        self.sync_token = Some((token.clone(), Instant::now()));
        self.spawn_query(Request::Sync { token }, Internal::SyncAnswered);
    }

    pub(super) fn spawn_query(
        &self,
        request: Request,
        wrap: impl FnOnce(Result<Reply, Error>) -> Internal + Send + 'static,
    ) {
        let endpoint = self.config.query.clone();
        let timeout = self.config.timeout;
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = query::request(&endpoint, &request, timeout).await;
            let _ = tx.send(wrap(result));
        });
    }
}

/// The next item from the reader, or never if there is no reader.
pub(super) async fn next_from_sub(
    reader: &mut Option<(JoinHandle<()>, mpsc::Receiver<FromSub>)>,
) -> Option<FromSub> {
    match reader {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

pub(super) async fn connect_sub(endpoint: &str, timeout: Duration) -> Result<SubSocket, String> {
    let mut options = SocketOptions::default();
    options.connect_timeout(timeout);
    let mut socket = SubSocket::with_options(options);
    // Everything: a single contiguous sequence is what makes loss visible.
    socket.subscribe("").await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, socket.connect(endpoint)).await {
        Ok(Ok(())) => Ok(socket),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {timeout:?}")),
    }
}

/// Decode everything the SUB socket receives, in order. A full channel makes
/// this wait, so the backlog stays in the socket and the broker's queue for
/// us, where overflow shows up as a gap rather than unbounded memory.
pub(super) async fn read(mut socket: SubSocket, tx: mpsc::Sender<FromSub>) {
    loop {
        match socket.recv().await {
            Ok(message) => {
                let item = match frame::decode_frames(&message.into_vec(), proto::query::MAX_REPLY)
                {
                    Ok(m) => FromSub::Message(m),
                    Err(e) => FromSub::Bad(e),
                };
                if tx.send(item).await.is_err() {
                    return;
                }
            }
            // The socket reconnects on its own; the heartbeat watchdog
            // decides when the broker is really gone.
            Err(e) => {
                tracing::debug!("SUB receive error: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
