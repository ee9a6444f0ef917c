//! Counters: every event accepted, every input refused, every drop.
//!
//! Plain atomics, so any task can count without a lock; read as a name →
//! value map by the query endpoint's `stats` op and `ptp-broker stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// The broker's counters. Names are stable: scripts read them.
        #[derive(Debug, Default)]
        pub struct Stats {
            $($(#[doc = $doc])* pub $name: AtomicU64,)*
        }

        /// Every counter's name and its documentation (the metrics' help).
        pub const HELP: &[(&str, &str)] = &[$((stringify!($name), concat!($($doc, "\n",)*)),)*];

        impl Stats {
            /// Every counter by name.
            pub fn snapshot(&self) -> BTreeMap<String, u64> {
                let mut map = BTreeMap::new();
                $(map.insert(stringify!($name).to_owned(), self.$name.load(Ordering::Relaxed));)*
                map
            }
        }
    };
}

counters! {
    /// Events accepted from clients: PULL frames and confirmed emits.
    accepted_emit,
    /// Emitters (PULL connections) disconnected for breaking the protocol:
    /// a frame or message over its limit, a handshake not done in 2 s, a
    /// socket type that is not PUSH, garbage instead of ZMTP.
    emit_peers_dropped,
    /// PULL connections closed at once because `max_emitters` were open
    /// (copied from the accept loop every second).
    emit_connections_refused,
    /// Failed accepts on the PULL socket (out of file descriptors…), each
    /// followed by a backoff (copied every second).
    emit_accept_errors,
    /// Events accepted from the HTTP receiver.
    accepted_http,
    /// Events accepted from the subscription manager (CurrentState seeding).
    accepted_upstream_pull,
    /// Emits refused: PULL frames (wrong frame count, bad topic, bad body,
    /// too large…) and confirmed emits the broker would not accept.
    rejected_emit,
    /// HTTP requests refused (4xx).
    rejected_http,
    /// HTTP requests refused because they were not upstream pushes on the
    /// secret callback, or came from outside `http.allow` (also counted in
    /// rejected_http).
    rejected_http_unauthorized,
    /// HTTP connections closed at once because `http.max_connections` were
    /// open.
    http_connections_refused,
    /// HTTP request bodies that did not arrive within `http.body_timeout_ms`
    /// (a connection whose headers are late is closed by hyper, uncounted).
    http_timeouts,
    /// Failed accepts on the HTTP listener (out of file descriptors…),
    /// each followed by a backoff.
    http_accept_errors,
    /// Events refused for a value their type does not allow (unknown state,
    /// out-of-range number, hidden characters, too long), from any source
    /// (also counted in that source's rejected_* counter).
    rejected_value,
    /// Events refused because the state table was full for their origin
    /// (entries or bytes; also counted in that source's rejected_* counter).
    rejected_state_full,
    /// Synthetic events refused by the emit policy (also counted in
    /// rejected_emit).
    rejected_emit_policy,
    /// Events the PUB sink dropped because its queue was full.
    dropped_publish,
    /// Messages dropped for one subscriber whose PUB queue was full, summed
    /// over subscribers (one message dropped for 3 subscribers counts 3).
    dropped_subscriber,
    /// Messages written to the PUB socket (events, heartbeats, sync markers).
    published,
    /// PUB connections closed at once because `max_subscribers` were open
    /// (copied from the PUB socket every heartbeat).
    pub_connections_refused,
    /// Failed accepts on the PUB socket (out of file descriptors…), each
    /// followed by a backoff (copied every heartbeat).
    pub_accept_errors,
    /// Heartbeats published.
    heartbeats,
    /// Query requests answered.
    queries,
    /// Query requests refused (malformed).
    rejected_query,
    /// Upstream subscriptions currently held (a gauge, not a count).
    upstream_subscribed,
    /// Subscriptions created again because the upstream had lost them
    /// (restarted, or deleted them after failed deliveries).
    upstream_resubscribes,
    /// Failed upstream passes (down, bad answers) and failed CurrentState pulls.
    upstream_errors,
    /// Requests the O-RAN v2 API answered with 2xx.
    api_requests,
    /// Requests the O-RAN v2 API refused (4xx, 5xx).
    rejected_api,
    /// O-RAN API consumers dropped after `api.drop_after_failures` failed
    /// deliveries in a row (each with all its subscriptions).
    api_consumers_dropped,
}

/// The counters that are gauges (a level, not a count).
pub const GAUGES: &[&str] = &["upstream_subscribed"];

/// Add one.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Logs refused input at most once per second, with how many were not
/// logged in between: a flood of garbage must not become a flood of logs.
#[derive(Debug)]
pub struct RejectLog {
    what: &'static str,
    last: Option<std::time::Instant>,
    suppressed: u64,
}

impl RejectLog {
    /// A log for refused `what` (e.g. "emit frame").
    pub const fn new(what: &'static str) -> RejectLog {
        RejectLog {
            what,
            last: None,
            suppressed: 0,
        }
    }

    /// Say how many were not logged since the last line, if any: called
    /// when the source stops, so no count is ever left unsaid.
    pub fn flush(&mut self) {
        if self.suppressed > 0 {
            tracing::warn!(
                suppressed = self.suppressed,
                "rejected {}: {} more not logged",
                self.what,
                self.suppressed
            );
            self.suppressed = 0;
        }
    }

    /// Log `reason` now, or count it for the next line.
    pub fn reject(&mut self, reason: &dyn std::fmt::Display) {
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t).as_secs() < 1)
        {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(
            suppressed = self.suppressed,
            "rejected {}: {reason}",
            self.what
        );
        self.last = Some(now);
        self.suppressed = 0;
    }
}
