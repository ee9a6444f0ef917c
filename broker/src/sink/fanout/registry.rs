//! The subscriber set. The publishing task reads an immutable snapshot
//! (`Arc<[Entry]>`: one uncontended lock and a reference-count bump per
//! publish, then a plain slice walk); connects, disconnects and subscription
//! changes — rare next to events — rebuild it under the same lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::{PublisherStats, SubscriberInfo};

/// One subscriber's side shared between its connection and the publisher.
#[derive(Debug)]
pub struct Peer {
    /// Address, for logs.
    pub addr: String,
    /// Wire messages for its writer.
    pub queue: mpsc::Sender<Bytes>,
    dropped: AtomicU64,
    /// When a drop was last logged, and how many were not logged since.
    drop_log: Mutex<(Option<Instant>, u64)>,
    /// When it connected.
    since: Instant,
}

#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    peer: Arc<Peer>,
    prefixes: Arc<[Bytes]>,
}

impl Entry {
    /// Whether one of its subscriptions is a prefix of `topic`.
    fn takes(&self, topic: &[u8]) -> bool {
        self.prefixes.iter().any(|p| topic.starts_with(p))
    }
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    entries: Vec<Entry>,
    snapshot: Arc<[Entry]>,
}

/// Subscribers and counters of one publisher.
#[derive(Debug)]
pub struct Registry {
    inner: Mutex<Inner>,
    /// Per-subscriber queue capacity.
    pub capacity: usize,
    /// The connection cap (handshaking or subscribed) and the accept loop's counters.
    pub admission: Arc<crate::net::Admission>,
    published: AtomicU64,
    dropped: AtomicU64,
}

impl Registry {
    pub fn new(capacity: usize, max_connections: usize) -> Registry {
        Registry {
            inner: Mutex::default(),
            capacity,
            admission: Arc::new(crate::net::Admission::new(max_connections)),
            published: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    // A panic elsewhere while holding the lock leaves consistent data (every
    // update is a single assignment), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Register a subscriber (no subscriptions yet); returns its id.
    pub fn add(&self, addr: String, queue: mpsc::Sender<Bytes>) -> (u64, Arc<Peer>) {
        let peer = Arc::new(Peer {
            addr,
            queue,
            dropped: AtomicU64::new(0),
            drop_log: Mutex::new((None, 0)),
            since: Instant::now(),
        });
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.entries.push(Entry {
            id,
            peer: peer.clone(),
            prefixes: Arc::new([]),
        });
        inner.snapshot = inner.entries.as_slice().into();
        (id, peer)
    }

    /// Replace subscriber `id`'s subscriptions.
    pub fn set_subscriptions(&self, id: u64, prefixes: &[Bytes]) {
        let mut inner = self.lock();
        if let Some(entry) = inner.entries.iter_mut().find(|e| e.id == id) {
            entry.prefixes = prefixes.into();
            inner.snapshot = inner.entries.as_slice().into();
        }
    }

    /// Forget subscriber `id` (its queue sender goes with the last snapshot using it).
    pub fn remove(&self, id: u64) {
        let mut inner = self.lock();
        inner.entries.retain(|e| e.id != id);
        inner.snapshot = inner.entries.as_slice().into();
    }

    /// See [`super::Publisher::publish`].
    pub fn publish(&self, topic: &[u8], message: &Bytes) -> usize {
        self.publish_all([(topic, message)])
    }

    /// See [`super::Publisher::publish_all`].
    pub fn publish_all<'a>(
        &self,
        messages: impl IntoIterator<Item = (&'a [u8], &'a Bytes)>,
    ) -> usize {
        // One look at the subscribers for the whole batch.
        let snapshot = self.lock().snapshot.clone();
        // Who takes a topic is decided once for a run of messages of that
        // topic (a batch is mostly one type): one comparison per message,
        // where matching each one anew compared it with every prefix of
        // every subscriber.
        let mut takes = Vec::with_capacity(snapshot.len());
        let mut last: Option<&[u8]> = None;
        let (mut published, mut dropped) = (0, 0);
        for (topic, message) in messages {
            if last != Some(topic) {
                takes.clear();
                takes.extend(snapshot.iter().map(|e| e.takes(topic)));
                last = Some(topic);
            }
            published += 1;
            dropped += Self::offer(&snapshot, &takes, message);
        }
        self.published.fetch_add(published, Ordering::Relaxed);
        self.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
        dropped
    }

    /// Queue `message` for every subscriber of `snapshot` that `takes` it;
    /// how many queues were full.
    fn offer(snapshot: &[Entry], takes: &[bool], message: &Bytes) -> usize {
        let mut dropped = 0;
        for (entry, _) in snapshot.iter().zip(takes).filter(|(_, takes)| **takes) {
            match entry.peer.queue.try_send(message.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    dropped += 1;
                    entry.peer.count_drop();
                }
                // The connection is closing; it unregisters itself.
                Err(TrySendError::Closed(_)) => {}
            }
        }
        dropped
    }

    pub fn stats(&self) -> PublisherStats {
        PublisherStats {
            subscribers: self.lock().entries.len(),
            published: self.published.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            refused: self.admission.refused.load(Ordering::Relaxed),
            accept_errors: self.admission.accept_errors.load(Ordering::Relaxed),
        }
    }

    pub fn subscribers(&self) -> Vec<SubscriberInfo> {
        self.lock()
            .entries
            .iter()
            .map(|e| SubscriberInfo {
                peer: e.peer.addr.clone(),
                subscriptions: e.prefixes.to_vec(),
                dropped: e.peer.dropped.load(Ordering::Relaxed),
                queue_depth: e.peer.queue.max_capacity() - e.peer.queue.capacity(),
                since: e.peer.since,
            })
            .collect()
    }
}

impl Peer {
    /// Count a drop; log at most once a second per subscriber, so a stalled
    /// subscriber at 100k events/s does not turn into 100k log lines/s.
    fn count_drop(&self) {
        let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let mut log = self.drop_log.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if log.0.is_some_and(|t| now.duration_since(t).as_secs() < 1) {
            log.1 += 1;
            return;
        }
        tracing::warn!(
            peer = %self.addr,
            dropped = total,
            suppressed = log.1,
            "subscriber queue full: message dropped for this subscriber"
        );
        *log = (Some(now), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_subscriber_gets_the_messages_of_its_prefixes_in_a_mixed_batch() {
        let registry = Registry::new(64, 8);
        let mut queues = Vec::new();
        for prefixes in [&[&b"a."[..]][..], &[b"b."], &[b"a.x", b"b."], &[b""], &[]] {
            let (tx, rx) = mpsc::channel(64);
            let (id, _) = registry.add(format!("{prefixes:?}"), tx);
            let prefixes: Vec<Bytes> = prefixes.iter().map(|p| Bytes::copy_from_slice(p)).collect();
            registry.set_subscriptions(id, &prefixes);
            queues.push(rx);
        }
        let topics: [&[u8]; 7] = [b"a.x", b"a.x", b"b.y", b"a.z", b"a.z", b"a.x", b"c"];
        let messages: Vec<Bytes> = (0..topics.len())
            .map(|n| Bytes::from(vec![n as u8]))
            .collect();
        let dropped = registry.publish_all(topics.iter().copied().zip(&messages));
        assert_eq!(dropped, 0);
        let got: Vec<Vec<u8>> = queues
            .iter_mut()
            .map(|rx| {
                std::iter::from_fn(|| rx.try_recv().ok())
                    .map(|m| m[0])
                    .collect()
            })
            .collect();
        assert_eq!(
            got,
            [
                vec![0, 1, 3, 4, 5],
                vec![2],
                vec![0, 1, 2, 5],
                vec![0, 1, 2, 3, 4, 5, 6],
                vec![],
            ]
        );
        assert_eq!(registry.stats().published, 7);
    }

    #[test]
    fn a_full_queue_drops_for_that_subscriber_only() {
        let registry = Registry::new(1, 8);
        let (full_tx, _full_rx) = mpsc::channel(1);
        let (room_tx, mut room_rx) = mpsc::channel(8);
        for tx in [full_tx, room_tx] {
            let (id, _) = registry.add("peer".into(), tx);
            registry.set_subscriptions(id, &[Bytes::from_static(b"")]);
        }
        let messages: Vec<Bytes> = (0..3u8).map(|n| Bytes::from(vec![n])).collect();
        let topic: &[u8] = b"t";
        assert_eq!(registry.publish_all(messages.iter().map(|m| (topic, m))), 2);
        assert_eq!(registry.stats().dropped, 2);
        let got: Vec<u8> = std::iter::from_fn(|| room_rx.try_recv().ok())
            .map(|m| m[0])
            .collect();
        assert_eq!(got, [0, 1, 2]);
    }
}
