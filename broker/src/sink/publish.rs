//! The PUB sink: writes every accepted event, sync marker and heartbeat to
//! the PUB socket, in sequence order.
//!
//! Each message arrives as ZMTP wire bytes, encoded once when the event was
//! accepted ([`Wire`]), and the same bytes are queued for every matching
//! subscriber. The PUB never
//! blocks: each subscriber has its own bounded queue
//! ([`fanout::DEFAULT_QUEUE_CAPACITY`] messages), and a message that finds a
//! subscriber's queue full is dropped for that subscriber only, so a stalled
//! subscriber cannot slow the others. Such drops are counted
//! (`dropped_subscriber`) and logged with the peer's address, at most once a
//! second per subscriber; subscribers see them as holes in the sequence
//! numbers and repair them, and the heartbeat's `seq` lets them see a hole at
//! the very end too.

use std::time::{Duration, Instant};

use proto::frame::{self, Heartbeat};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::core::shared::{Broker, Outgoing};
use crate::core::stats;
use crate::core::wire::Wire;
use crate::sink::fanout::Publisher;

/// Most messages taken from the queue per wake-up.
const BATCH: usize = 128;

/// Publish until `shutdown`; one heartbeat every `interval`, the first at once.
pub async fn run(
    publisher: Publisher,
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
    // Everything queued is taken per wake-up, not one message per turn of
    // the select.
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            taken = queue.recv_many(&mut batch, BATCH) => {
                if taken == 0 {
                    break;
                }
                let messages = batch.iter().map(|o| (o.wire.topic(), o.wire.bytes()));
                let dropped = publisher.publish_all(messages);
                count(&broker, batch.len(), dropped);
                // One clock reading for the batch: it was written at once.
                let written = Instant::now();
                for outgoing in batch.drain(..) {
                    published_seq = published_seq.max(outgoing.seq);
                    if let Some(accepted) = outgoing.accepted {
                        let latency = written.saturating_duration_since(accepted).as_secs_f64();
                        broker.health().publish_latency.observe(latency);
                    }
                }
            }
            _ = ticker.tick() => {
                let heartbeat = Heartbeat {
                    epoch: broker.epoch(),
                    seq: published_seq.max(broker.dropped_up_to()),
                    interval_ms,
                };
                let frames = frame::encode_heartbeat(&heartbeat);
                send(&publisher, &Wire::new(&frames.topic, &frames.body), &broker);
                stats::bump(&broker.stats().heartbeats);
                // The PUB socket's own counters, copied once a heartbeat.
                let pub_stats = publisher.stats();
                let counters = broker.stats();
                let relaxed = std::sync::atomic::Ordering::Relaxed;
                counters.pub_connections_refused.store(pub_stats.refused, relaxed);
                counters.pub_accept_errors.store(pub_stats.accept_errors, relaxed);
            }
        }
    }
    publisher.close();
}

fn send(publisher: &Publisher, wire: &Wire, broker: &Broker) {
    let dropped = publisher.publish(wire.topic(), wire.bytes().clone());
    count(broker, 1, dropped);
}

/// Count `published` messages, `dropped` of them for a full subscriber queue.
fn count(broker: &Broker, published: usize, dropped: usize) {
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    broker
        .stats()
        .published
        .fetch_add(published as u64, relaxed);
    if dropped > 0 {
        broker
            .stats()
            .dropped_subscriber
            .fetch_add(dropped as u64, relaxed);
    }
}
