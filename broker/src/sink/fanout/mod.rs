//! Our own ZMTP 3.x PUB socket (server side), built for one job: the same
//! event to many local subscribers at the cost, per subscriber, of one
//! reference-count bump and a share of one batched write.
//!
//! The caller encodes each message's frames once ([`encode`]); [`Publisher::publish`]
//! hands the same [`Bytes`] to every subscriber whose subscriptions
//! prefix-match the topic, through a bounded per-subscriber queue. It never
//! waits for a subscriber: a full queue drops that message for that
//! subscriber only, and counts it. Each connection has a reader (handshake,
//! SUBSCRIBE/CANCEL in both the ZMTP 3.0 message and 3.1 command forms) and a
//! writer that drains its queue in batches with one vectored write.

mod conn;
mod registry;
pub mod zmtp;

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use registry::Registry;

/// Default per-subscriber queue capacity, in messages. At ~300 B per event
/// that is ~2.4 MiB of a burst a subscriber may fall behind by before losing
/// messages; the queue only allocates what is actually queued.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;

/// Encode the two-frame message `[topic, body]` as ZMTP wire bytes, once,
/// for [`Publisher::publish`].
pub fn encode(topic: &[u8], body: &[u8]) -> Bytes {
    zmtp::encode(topic, body)
}

/// Counters of a [`Publisher`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublisherStats {
    /// Subscribers connected now (handshake completed).
    pub subscribers: usize,
    /// Calls to [`Publisher::publish`].
    pub published: u64,
    /// Messages dropped for a subscriber whose queue was full, over all subscribers.
    pub dropped: u64,
    /// Connections closed at once because the most allowed were open.
    pub refused: u64,
    /// Failed accepts (out of file descriptors…), each followed by a backoff.
    pub accept_errors: u64,
}

/// Default for the most connections a [`Publisher`] serves at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// One connected subscriber, as [`Publisher::subscribers`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberInfo {
    /// The peer's address (`IP:port`, or the ipc path).
    pub peer: String,
    /// Its current subscriptions (topic prefixes), in the order received.
    pub subscriptions: Vec<Bytes>,
    /// Messages dropped because its queue was full.
    pub dropped: u64,
    /// Messages in its queue now.
    pub queue_depth: usize,
    /// When it connected.
    pub since: std::time::Instant,
}

/// A bound ZMTP PUB socket. Dropping it (or [`close`](Publisher::close))
/// stops the accept loop and every connection.
#[derive(Debug)]
pub struct Publisher {
    registry: Arc<Registry>,
    shutdown: CancellationToken,
}

impl Publisher {
    /// Bind `tcp://HOST:PORT` (port 0 picks one; `*` is every interface) or
    /// `ipc://PATH`, with the default queue capacity. Returns the endpoint
    /// actually bound, e.g. `tcp://127.0.0.1:40123`.
    pub async fn bind(endpoint: &str) -> io::Result<(Publisher, String)> {
        Publisher::bind_with(endpoint, DEFAULT_QUEUE_CAPACITY, DEFAULT_MAX_CONNECTIONS).await
    }

    /// [`bind`](Publisher::bind) with a per-subscriber queue of `capacity`
    /// messages and at most `max_connections` connections at once (more are
    /// closed as soon as they are accepted, and counted).
    pub async fn bind_with(
        endpoint: &str,
        capacity: usize,
        max_connections: usize,
    ) -> io::Result<(Publisher, String)> {
        let registry = Arc::new(Registry::new(capacity.max(1), max_connections.max(1)));
        let shutdown = CancellationToken::new();
        let (listener, resolved) = crate::net::Listener::bind(endpoint).await?;
        tokio::spawn(conn::accept(listener, registry.clone(), shutdown.clone()));
        Ok((Publisher { registry, shutdown }, resolved))
    }

    /// Queue `message` (wire bytes from [`encode`], whose first frame is
    /// `topic`) for every subscriber with a subscription that is a prefix of
    /// `topic`. Never waits: a subscriber whose queue is full loses this
    /// message, which is counted and logged (at most once a second per
    /// subscriber). Returns how many subscribers it was dropped for.
    pub fn publish(&self, topic: &[u8], message: Bytes) -> usize {
        self.registry.publish(topic, &message)
    }

    /// [`Publisher::publish`] for each `(topic, message)` in turn, looking
    /// at the subscribers once for all of them; how many were dropped in
    /// all.
    pub fn publish_all<'a>(
        &self,
        messages: impl IntoIterator<Item = (&'a [u8], &'a Bytes)>,
    ) -> usize {
        self.registry.publish_all(messages)
    }

    /// Subscribers, messages published, messages dropped.
    pub fn stats(&self) -> PublisherStats {
        self.registry.stats()
    }

    /// Every connected subscriber with its subscriptions and drops.
    pub fn subscribers(&self) -> Vec<SubscriberInfo> {
        self.registry.subscribers()
    }

    /// A handle that reads the subscribers and counters while the
    /// publishing task owns the publisher (for `stats` and `/connz`).
    pub fn watcher(&self) -> Watcher {
        Watcher(Arc::clone(&self.registry))
    }

    /// Stop accepting and close every connection (also done on drop).
    pub fn close(&self) {
        self.shutdown.cancel();
    }
}

/// Reads a [`Publisher`]'s subscribers and counters from elsewhere.
#[derive(Debug, Clone)]
pub struct Watcher(Arc<Registry>);

impl Watcher {
    /// See [`Publisher::subscribers`].
    pub fn subscribers(&self) -> Vec<SubscriberInfo> {
        self.0.subscribers()
    }

    /// See [`Publisher::stats`].
    pub fn stats(&self) -> PublisherStats {
        self.0.stats()
    }

    /// The subscribers as the query socket's `stats` and `/connz` list
    /// them, oldest first.
    pub fn connections(&self) -> Vec<proto::query::Connection> {
        self.0
            .subscribers()
            .into_iter()
            .map(|s| proto::query::Connection {
                peer: s.peer,
                subscriptions: s
                    .subscriptions
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect(),
                queue_depth: s.queue_depth as u64,
                dropped: s.dropped,
                connected_s: s.since.elapsed().as_secs(),
            })
            .collect()
    }

    /// The most messages one subscriber may have queued.
    pub fn queue_capacity(&self) -> usize {
        self.0.capacity
    }

    /// The most connections served at once.
    pub fn max_connections(&self) -> usize {
        self.0.admission.max
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
