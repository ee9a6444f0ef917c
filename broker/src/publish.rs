//! The PUB sink: writes every accepted event, sync marker and heartbeat to
//! the PUB socket, in sequence order.
//!
//! The zeromq crate's PUB never blocks: it gives each subscriber its own
//! queue (100,000 messages) and silently drops for a subscriber whose queue
//! is full, so a stalled subscriber cannot slow the others. Those drops are
//! invisible here; subscribers see them as holes in the sequence numbers, and
//! the heartbeat's `seq` lets them see a hole at the very end too.

use std::time::Duration;

use proto::frame::{self, Frames, Heartbeat};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zeromq::{PubSocket, SocketSend, ZmqMessage};

use crate::shared::{Broker, Outgoing};
use crate::stats;

/// Publish until `shutdown`; one heartbeat every `interval`, the first at once.
pub async fn run(
    mut socket: PubSocket,
    mut queue: mpsc::Receiver<Outgoing>,
    broker: Broker,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    // Latest sequence number written to the socket: what heartbeats announce.
    let mut published_seq = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            next = queue.recv() => {
                let Some(outgoing) = next else { break };
                published_seq = published_seq.max(outgoing.seq);
                send(&mut socket, outgoing.frames, &broker).await;
            }
            _ = ticker.tick() => {
                let heartbeat = Heartbeat {
                    epoch: broker.epoch(),
                    seq: published_seq.max(broker.dropped_up_to()),
                    interval_ms,
                };
                send(&mut socket, frame::encode_heartbeat(&heartbeat), &broker).await;
                stats::bump(&broker.stats().heartbeats);
            }
        }
    }
}

async fn send(socket: &mut PubSocket, frames: Frames, broker: &Broker) {
    let mut message = ZmqMessage::from(frames.topic);
    message.push_back(frames.body.into());
    match socket.send(message).await {
        Ok(()) => stats::bump(&broker.stats().published),
        Err(e) => tracing::warn!("PUB send failed: {e}"),
    }
}
