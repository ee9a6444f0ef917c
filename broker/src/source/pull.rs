//! The PULL source: events pushed by `client::emit` and `ptp-broker emit`.
//!
//! Every frame is decoded and validated; a bad one is counted, logged (rate
//! limited) and dropped, and the loop goes on to the next. Nothing a peer
//! sends ends this loop.

use proto::Origin;
use proto::frame::{self, Message};
use tokio_util::sync::CancellationToken;
use zeromq::{PullSocket, SocketRecv, ZmqError};

use crate::core::shared::Broker;
use crate::core::stats::{self, RejectLog};

/// Receive until `shutdown`.
pub async fn run(
    mut socket: PullSocket,
    broker: Broker,
    max_body: usize,
    shutdown: CancellationToken,
) {
    let mut log = RejectLog::new("emit frame");
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => break,
            received = socket.recv() => received,
        };
        let message = match received {
            Ok(message) => message,
            // A peer went away mid-message or sent a bad ZMTP frame: that
            // peer is dropped by the socket, the others are unaffected.
            Err(ZmqError::NoMessage) => continue,
            Err(e) => {
                tracing::debug!("PULL peer error: {e}");
                continue;
            }
        };
        let frames = message.into_vec();
        let result = match frame::decode_frames(&frames, max_body) {
            Ok(Message::Event(event)) => broker
                .accept(event, Origin::Synthetic)
                .map_err(|e| e.to_string()),
            Ok(_) => Err("heartbeat and sync topics are the broker's own".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(_) => stats::bump(&broker.stats().accepted_emit),
            Err(reason) => {
                stats::bump(&broker.stats().rejected_emit);
                log.reject(&reason);
            }
        }
    }
}
