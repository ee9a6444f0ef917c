//! The broker's shared state: the stamping point every source goes through.
//!
//! [`Broker`] is a cheap `Clone` handle over one `Arc<Shared>`. Accepting an
//! event — stamp the next sequence number, remember it as the latest for its
//! (type, resource address), encode it once, queue it for PUB — happens under
//! one std `Mutex` that is never held across an `.await`: that is what makes
//! PUB order equal sequence order whichever source the event came from, and
//! it is held for microseconds, so a tokio mutex would only add cost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use catalog::EventType;
use proto::frame::{self, SyncMarker};
use proto::query::Selector;
use proto::{Event, Origin};
use tokio::sync::mpsc;

use crate::core::outbox::Outbox;
use crate::core::policy::EmitPolicy;
use crate::core::stats::{self, Stats};
use crate::core::table::{self, Limits, Table};
use crate::core::wire::Wire;

/// What encoding an event reserves for its body: a typical event is about
/// 450 bytes, so it is one allocation, not a chain of reallocations.
const ENCODE_HINT: usize = 512;

/// How many bytes of encoded events one page of a state reply carries, at
/// most (one event more than this if a single event is larger): far under
/// what a client reads ([`proto::query::MAX_REPLY`]).
pub const PAGE_BYTES: usize = 1 << 20;

/// A message for the PUB sink, already encoded.
#[derive(Debug)]
pub struct Outgoing {
    /// The message, as written to subscribers.
    pub wire: Wire,
    /// The latest event sequence number this message is current as of.
    pub seq: u64,
    /// When the event was accepted (`None`: a sync marker).
    pub accepted: Option<Instant>,
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptError {
    /// In the broker's own namespace.
    #[error("event type {0} is reserved for the broker")]
    Reserved(EventType),
    /// Fails validation.
    #[error("{0}")]
    Invalid(#[from] frame::DecodeError),
    /// A value is not one the type allows (unknown state, out-of-range
    /// number, hidden characters, too long).
    #[error("{0}")]
    Value(#[from] proto::validate::ValueError),
    /// A synthetic event the emit policy refuses.
    #[error("{0}")]
    Policy(#[from] crate::core::policy::Refused),
    /// The state table is full (entries or bytes).
    #[error("{0}")]
    StateFull(#[from] table::Full),
    /// A heartbeat or sync marker sent to the broker.
    #[error("heartbeat and sync topics are the broker's own")]
    OwnTopic,
}

/// The PUB queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("PUB queue full")]
pub struct QueueFull;

/// What the state table holds for a selection, as of one sequence number:
/// one page of it, the events after a cursor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// The sequence number the answer is current as of.
    pub seq: u64,
    /// The latest event per (type, resource address), by sequence number,
    /// of those after the cursor.
    pub events: Vec<Event>,
    /// More events follow: ask again after the last one's seq.
    pub more: bool,
    /// Selected types the upstream is followed for but has not reported
    /// yet: their state is unknown, not absent.
    pub unknown: Vec<EventType>,
}

/// Handle to the broker's shared state.
#[derive(Clone)]
pub struct Broker {
    shared: Arc<Shared>,
}

struct Shared {
    /// Random id of this run (1 ..= 2^53-1).
    epoch: u64,
    /// What synthetic events may do (resolved: never `Auto`).
    policy: EmitPolicy,
    state: Mutex<State>,
    stats: Stats,
    health: crate::core::health::Health,
    /// The PUB sink's bounded queue. `try_send` only: a full sink drops, it
    /// never stalls a source.
    publish: mpsc::Sender<Outgoing>,
    /// Highest sequence number dropped for PUB, so heartbeats can announce it
    /// and clients notice the loss even if nothing follows it.
    dropped_up_to: AtomicU64,
}

struct State {
    /// Sequence number of the latest accepted event (0: none yet).
    seq: u64,
    /// The latest event per (type, resource address).
    table: Table,
    /// Types the upstream is followed for (see [`Broker::expect_upstream`]).
    expected: Vec<EventType>,
    /// The subscriptions' queues (sinks other than PUB).
    outboxes: Vec<Arc<Outbox>>,
}

impl Broker {
    /// A broker with a fresh random epoch, feeding `publish`, applying the
    /// emit `policy` (already resolved) to synthetic events.
    /// The state table gets `limits`.
    pub fn new(publish: mpsc::Sender<Outgoing>, policy: EmitPolicy, limits: Limits) -> Broker {
        Broker::build(new_epoch(), publish, policy, limits)
    }

    /// A broker with a chosen epoch that allows every emit, with the
    /// default limits (tests).
    pub fn with_epoch(epoch: u64, publish: mpsc::Sender<Outgoing>) -> Broker {
        Broker::build(epoch, publish, EmitPolicy::Allow, Limits::default())
    }

    /// [`Broker::with_epoch`] with chosen limits (tests).
    pub fn with_limits(epoch: u64, publish: mpsc::Sender<Outgoing>, limits: Limits) -> Broker {
        Broker::build(epoch, publish, EmitPolicy::Allow, limits)
    }

    fn build(
        epoch: u64,
        publish: mpsc::Sender<Outgoing>,
        policy: EmitPolicy,
        limits: Limits,
    ) -> Broker {
        Broker {
            shared: Arc::new(Shared {
                epoch,
                // `Auto` here (a caller that did not resolve it) allows.
                policy: policy.resolve(false),
                state: Mutex::new(State {
                    seq: 0,
                    table: Table::new(limits),
                    expected: Vec::new(),
                    outboxes: Vec::new(),
                }),
                stats: Stats::default(),
                health: Default::default(),
                publish,
                dropped_up_to: AtomicU64::new(0),
            }),
        }
    }

    /// This run's epoch.
    pub fn epoch(&self) -> u64 {
        self.shared.epoch
    }

    /// The emit policy in force.
    pub fn emit_policy(&self) -> EmitPolicy {
        self.shared.policy
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Uptime, readiness, the upstream's view, the publish latency.
    pub fn health(&self) -> &crate::core::health::Health {
        &self.shared.health
    }

    /// Highest sequence number the PUB sink had to drop (0: none).
    pub fn dropped_up_to(&self) -> u64 {
        self.shared.dropped_up_to.load(Ordering::Relaxed)
    }

    /// Validate, stamp, store and queue one event; returns its sequence number.
    pub fn accept(&self, event: Event, origin: Origin) -> Result<u64, AcceptError> {
        let seqs = self.accept_all(vec![event], origin)?;
        // One event in, one sequence number out.
        Ok(seqs.first().copied().unwrap_or_default())
    }

    /// Accept every event of `events` or none of them (an HTTP batch is
    /// answered 204 only if all of it is stored): everything is validated
    /// and encoded before the state changes, and the events get consecutive
    /// sequence numbers. Returns them in order.
    pub fn accept_all(&self, events: Vec<Event>, origin: Origin) -> Result<Vec<u64>, AcceptError> {
        self.accept_where(events, origin, |_, _| true)
    }

    /// Take an upstream CurrentState answer, asked for at `asked_at`, into
    /// the table: every event that is news, that is, unless the table holds
    /// the same event (same id or same values) or one that arrived after
    /// the question was asked (a push that overtook the answer is newer).
    /// The producer's `time` plays no part. Returns how many were taken.
    pub fn seed(&self, events: Vec<Event>, asked_at: Instant) -> Result<usize, AcceptError> {
        let seqs = self.accept_where(events, Origin::Upstream, |latest, event| {
            latest.is_none_or(|l| {
                l.received <= asked_at
                    && l.event()
                        .is_none_or(|held| held.id != event.id && held.data != event.data)
            })
        })?;
        Ok(seqs.len())
    }

    /// The types the upstream is followed for: until it reports one, a
    /// state query says that type is unknown ([`Snapshot::unknown`]).
    pub fn expect_upstream(&self, types: Vec<EventType>) {
        self.lock().expected = types;
    }

    /// The upstream does not offer `event_type` (it answered 404): its
    /// state is not expected any more.
    pub fn not_offered(&self, event_type: &EventType) {
        self.lock().expected.retain(|t| t != event_type);
    }

    /// Check, normalize and stamp `events`, keep those `keep` says are news
    /// (given the table's row for each), store and queue them, all or none.
    fn accept_where(
        &self,
        events: Vec<Event>,
        origin: Origin,
        keep: impl Fn(Option<&table::Entry>, &Event) -> bool,
    ) -> Result<Vec<u64>, AcceptError> {
        let mut checked: Vec<Event> = Vec::with_capacity(events.len());
        for mut event in events {
            if event.event_type.is_broker_internal() {
                return Err(AcceptError::Reserved(event.event_type.clone()));
            }
            if origin == Origin::Synthetic
                && let Err(refused) = self.shared.policy.check(&event)
            {
                stats::bump(&self.shared.stats.rejected_emit_policy);
                return Err(refused.into());
            }
            if let Err(e) = proto::validate::normalize(&mut event) {
                stats::bump(&self.shared.stats.rejected_value);
                return Err(e.into());
            }
            frame::validate(&event)?;
            checked.push(event);
        }
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        checked.retain(|event| {
            let row = state.table.get(&event.event_type, event.resource_address());
            keep(row, event)
        });
        let mut seq = state.seq;
        let mut stamped = Vec::with_capacity(checked.len());
        for mut event in checked {
            seq += 1;
            event.meta.epoch = self.shared.epoch;
            event.meta.seq = seq;
            event.meta.origin = origin;
            let topic = event.event_type.as_str().as_bytes();
            let mut encoded = Ok(());
            let wire = Wire::write(topic, ENCODE_HINT, |out| {
                encoded = frame::write_event(&event, out);
            });
            encoded?;
            stamped.push((event, wire));
        }
        let rows = stamped.iter().map(|(event, wire)| {
            (
                &event.event_type,
                event.resource_address(),
                wire.body().len(),
            )
        });
        if let Err(full) = state.table.admit(rows, origin) {
            stats::bump(&self.shared.stats.rejected_state_full);
            return Err(full.into());
        }
        state.seq = seq;
        let mut seqs = Vec::with_capacity(stamped.len());
        for (event, wire) in stamped {
            let (seq, event_type) = (event.meta.seq, event.event_type.clone());
            let resource = event.resource_address().to_owned();
            self.store(state, &event_type, &resource, wire, Some(event), seq, now);
            seqs.push(seq);
        }
        Ok(seqs)
    }

    /// Store an accepted, stamped event in the table, offer it to the
    /// outboxes that match it and queue it for PUB, all under the lock, so
    /// PUB order is seq order. `event` is the owned form, if the caller
    /// has it; an outbox that needs one otherwise gets it decoded.
    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        state: &mut State,
        event_type: &EventType,
        resource: &str,
        wire: Wire,
        event: Option<Event>,
        seq: u64,
        now: Instant,
    ) {
        let mut owned = event.map(Arc::new);
        for outbox in state
            .outboxes
            .iter()
            .filter(|o| o.matches(event_type, resource))
        {
            if owned.is_none() {
                owned = wire.event().map(Arc::new);
            }
            if let Some(event) = &owned {
                outbox.offer(&(event_type.clone(), resource.to_owned()), event);
            }
        }
        state
            .table
            .insert(event_type, resource, wire.clone(), seq, now);
        self.queue(Outgoing {
            wire,
            seq,
            accepted: Some(now),
        });
    }

    /// Queue a sync marker for PUB; returns the sequence number it follows.
    /// Errors if the PUB queue is full (the client retries).
    pub fn publish_marker(&self, token: String) -> Result<u64, QueueFull> {
        let state = self.lock();
        let marker = SyncMarker {
            token,
            epoch: self.shared.epoch,
            seq: state.seq,
        };
        let frames = frame::encode_sync(&marker);
        let outgoing = Outgoing {
            wire: Wire::new(&frames.topic, &frames.body),
            seq: state.seq,
            accepted: None,
        };
        self.shared
            .publish
            .try_send(outgoing)
            .map_err(|_| QueueFull)?;
        Ok(state.seq)
    }

    /// One page of the state table: the latest events selected whose seq
    /// is above `after`, ordered by seq, up to [`PAGE_BYTES`]; the sequence
    /// number the page is current as of; and the selected types whose state
    /// is still unknown.
    ///
    /// Pages taken one after another, each after the last seq of the one
    /// before, together hold exactly the table as of the last page's `seq`,
    /// however it changed in between: a row updated after its page moves
    /// to a seq above every cursor still to come. Keep the highest seq per
    /// (type, resource).
    pub fn state_page(&self, selector: &Selector, after: u64) -> Snapshot {
        self.page_of(selector, after, PAGE_BYTES)
    }

    /// The whole selection in one answer (tests and small tables).
    pub fn snapshot(&self, selector: &Selector) -> Snapshot {
        self.page_of(selector, 0, usize::MAX)
    }

    fn page_of(&self, selector: &Selector, after: u64, budget: usize) -> Snapshot {
        let state = self.lock();
        let page = state.table.page(selector, after, budget);
        let unknown = state
            .expected
            .iter()
            .filter(|t| selector.matches(t) && !state.table.has_type(t))
            .cloned()
            .collect();
        Snapshot {
            seq: state.seq,
            events: page.events,
            more: page.more,
            unknown,
        }
    }

    /// Entries in the state table, and the bytes they are charged.
    pub fn table_size(&self) -> (usize, usize) {
        let state = self.lock();
        (state.table.len(), state.table.bytes())
    }

    /// Sequence number of the latest accepted event.
    pub fn seq(&self) -> u64 {
        self.lock().seq
    }

    fn queue(&self, outgoing: Outgoing) {
        let seq = outgoing.seq;
        if self.shared.publish.try_send(outgoing).is_err() {
            stats::bump(&self.shared.stats.dropped_publish);
            self.shared.dropped_up_to.fetch_max(seq, Ordering::Relaxed);
            tracing::warn!(
                seq,
                "PUB queue full: event dropped for subscribers (it is in the state table)"
            );
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a
        // way that matters (seq and map are updated together after all checks),
        // so a poisoned lock is still usable.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A random epoch in 1 ..= 2^53-1, exact in every JSON reader.
fn new_epoch() -> u64 {
    let random = uuid::Uuid::new_v4().as_u64_pair().0;
    (random & ((1 << 53) - 1)).max(1)
}

mod frames;
mod sinks;

#[cfg(test)]
mod tests;
