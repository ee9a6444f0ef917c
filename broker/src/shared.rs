//! The broker's shared state: the stamping point every source goes through.
//!
//! [`Broker`] is a cheap `Clone` handle over one `Arc<Shared>`. Accepting an
//! event — stamp the next sequence number, remember it as the latest for its
//! (type, resource address), encode it once, queue it for PUB — happens under
//! one std `Mutex` that is never held across an `.await`: that is what makes
//! PUB order equal sequence order whichever source the event came from, and
//! it is held for microseconds, so a tokio mutex would only add cost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use catalog::EventType;
use proto::frame::{self, Frames, SyncMarker};
use proto::query::Selector;
use proto::{Event, Origin};
use tokio::sync::mpsc;

use crate::stats::{self, Stats};

/// Most (type, resource address) pairs the state table holds. An emitter
/// inventing addresses must not grow the broker without bound.
pub const MAX_STATE_ENTRIES: usize = 65_536;

/// A message for the PUB sink, already encoded.
#[derive(Debug)]
pub struct Outgoing {
    /// The two frames.
    pub frames: Frames,
    /// The latest event sequence number this message is current as of.
    pub seq: u64,
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
    /// The state table is full.
    #[error(
        "state table full ({MAX_STATE_ENTRIES} type/resource pairs); new resource {0:?} refused"
    )]
    StateFull(String),
}

/// The PUB queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("PUB queue full")]
pub struct QueueFull;

/// Handle to the broker's shared state.
#[derive(Clone)]
pub struct Broker {
    shared: Arc<Shared>,
}

struct Shared {
    /// Random id of this run (1 ..= 2^53-1).
    epoch: u64,
    state: Mutex<State>,
    stats: Stats,
    /// The PUB sink's bounded queue. `try_send` only: a full sink drops, it
    /// never stalls a source.
    publish: mpsc::Sender<Outgoing>,
    /// Highest sequence number dropped for PUB, so heartbeats can announce it
    /// and clients notice the loss even if nothing follows it.
    dropped_up_to: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Sequence number of the latest accepted event (0: none yet).
    seq: u64,
    /// The latest event per (type, resource address).
    latest: HashMap<(EventType, String), Event>,
}

impl Broker {
    /// A broker with a fresh random epoch, feeding `publish`.
    pub fn new(publish: mpsc::Sender<Outgoing>) -> Broker {
        Broker::with_epoch(new_epoch(), publish)
    }

    /// A broker with a chosen epoch (tests).
    pub fn with_epoch(epoch: u64, publish: mpsc::Sender<Outgoing>) -> Broker {
        Broker {
            shared: Arc::new(Shared {
                epoch,
                state: Mutex::new(State::default()),
                stats: Stats::default(),
                publish,
                dropped_up_to: AtomicU64::new(0),
            }),
        }
    }

    /// This run's epoch.
    pub fn epoch(&self) -> u64 {
        self.shared.epoch
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
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
        for event in &events {
            if event.event_type.is_broker_internal() {
                return Err(AcceptError::Reserved(event.event_type.clone()));
            }
            frame::validate(event)?;
        }
        // Each event's state-table key, built once: this is also the
        // single-event path every emit and PULL frame takes.
        let keyed: Vec<((EventType, String), Event)> = events
            .into_iter()
            .map(|e| ((e.event_type.clone(), e.resource_address().to_owned()), e))
            .collect();
        let mut state = self.lock();
        let mut new_keys = std::collections::HashSet::new();
        for (key, _) in &keyed {
            if !state.latest.contains_key(key)
                && new_keys.insert(key)
                && state.latest.len() + new_keys.len() > MAX_STATE_ENTRIES
            {
                return Err(AcceptError::StateFull(key.1.clone()));
            }
        }
        let mut seq = state.seq;
        let mut stamped = Vec::with_capacity(keyed.len());
        for (key, mut event) in keyed {
            seq += 1;
            event.meta.epoch = self.shared.epoch;
            event.meta.seq = seq;
            event.meta.origin = origin;
            let frames = frame::encode_event(&event)?;
            stamped.push((key, event, frames));
        }
        state.seq = seq;
        let mut seqs = Vec::with_capacity(stamped.len());
        for (key, event, frames) in stamped {
            let seq = event.meta.seq;
            state.latest.insert(key, event);
            // Queue while still holding the lock, so PUB order is seq order.
            self.queue(Outgoing { frames, seq });
            seqs.push(seq);
        }
        Ok(seqs)
    }

    /// Does the state table already hold `event` (same id, or the same
    /// values: no news), or a newer event of the same type and resource?
    /// The subscription manager asks before seeding from CurrentState: the initial notification usually delivered the same
    /// state already, and a push that overtook the pull must not be replaced
    /// by older news.
    pub fn knows_same_or_newer(&self, event: &Event) -> bool {
        let key = (
            event.event_type.clone(),
            event.resource_address().to_owned(),
        );
        self.lock().latest.get(&key).is_some_and(|latest| {
            latest.id == event.id
                || latest.data == event.data
                || time_key(&latest.time) >= time_key(&event.time)
        })
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
        let outgoing = Outgoing {
            frames: frame::encode_sync(&marker),
            seq: state.seq,
        };
        self.shared
            .publish
            .try_send(outgoing)
            .map_err(|_| QueueFull)?;
        Ok(state.seq)
    }

    /// The latest events selected, ordered by sequence number, and the
    /// sequence number the answer is current as of.
    pub fn snapshot(&self, selector: &Selector) -> (u64, Vec<Event>) {
        let state = self.lock();
        let mut events: Vec<Event> = state
            .latest
            .iter()
            .filter(|((t, _), _)| selector.matches(t))
            .map(|(_, e)| e.clone())
            .collect();
        let seq = state.seq;
        drop(state);
        events.sort_by_key(|e| e.meta.seq);
        (seq, events)
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

/// Event times are normalized RFC 3339 UTC with 0, 3, 6 or 9 fraction
/// digits; padding the fraction makes them compare in time order.
fn time_key(time: &str) -> (&str, String) {
    let time = time.trim_end_matches('Z');
    let (seconds, fraction) = time.split_once('.').unwrap_or((time, ""));
    (seconds, format!("{fraction:0<9}"))
}

/// A random epoch in 1 ..= 2^53-1, exact in every JSON reader.
fn new_epoch() -> u64 {
    let random = uuid::Uuid::new_v4().as_u64_pair().0;
    (random & ((1 << 53) - 1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::Content;

    fn event(t: catalog::OranEvent, value: &str, resource: Option<&str>) -> Event {
        Event::synthetic(
            t.into(),
            Content::parse(value, resource.map(str::to_owned)).unwrap(),
        )
    }

    #[test]
    fn accept_stamps_in_order_and_keeps_the_latest_per_resource() {
        let (tx, mut rx) = mpsc::channel(16);
        let b = Broker::with_epoch(5, tx);
        assert_eq!(
            b.accept(
                event(catalog::PTP_LOCK_STATE, "LOCKED", None),
                Origin::Upstream
            ),
            Ok(1)
        );
        assert_eq!(
            b.accept(
                event(catalog::PTP_LOCK_STATE, "HOLDOVER", None),
                Origin::Synthetic
            ),
            Ok(2)
        );
        assert_eq!(
            b.accept(
                event(catalog::PTP_LOCK_STATE, "LOCKED", Some("/other")),
                Origin::Synthetic
            ),
            Ok(3)
        );
        let (seq, events) = b.snapshot(&Selector::new(&[], "").unwrap());
        assert_eq!(seq, 3);
        assert_eq!(
            events.iter().map(|e| e.meta.seq).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(events[0].data.values[0].value, "HOLDOVER");
        assert_eq!(events[0].meta.epoch, 5);
        for want in 1..=3 {
            assert_eq!(rx.try_recv().unwrap().seq, want);
        }
    }

    #[test]
    fn a_full_publish_queue_drops_and_counts_but_keeps_state() {
        let (tx, _rx) = mpsc::channel(1);
        let b = Broker::with_epoch(1, tx);
        b.accept(
            event(catalog::OS_CLOCK_SYNC, "LOCKED", None),
            Origin::Synthetic,
        )
        .unwrap();
        b.accept(
            event(catalog::OS_CLOCK_SYNC, "FREERUN", None),
            Origin::Synthetic,
        )
        .unwrap();
        assert_eq!(b.stats().snapshot()["dropped_publish"], 1);
        assert_eq!(b.dropped_up_to(), 2);
        let (_, events) = b.snapshot(&Selector::new(&["OS_CLOCK_SYNC".into()], "").unwrap());
        assert_eq!(events[0].data.values[0].value, "FREERUN");
    }

    #[test]
    fn refused_events_take_no_sequence_number() {
        let (tx, _rx) = mpsc::channel(16);
        let b = Broker::with_epoch(1, tx);
        let mut bad = event(catalog::OS_CLOCK_SYNC, "LOCKED", None);
        bad.time = "never".into();
        assert!(matches!(
            b.accept(bad, Origin::Synthetic),
            Err(AcceptError::Invalid(_))
        ));
        let mut reserved = event(catalog::OS_CLOCK_SYNC, "LOCKED", None);
        reserved.event_type = catalog::HEARTBEAT;
        assert!(matches!(
            b.accept(reserved, Origin::Synthetic),
            Err(AcceptError::Reserved(_))
        ));
        assert_eq!(b.seq(), 0);
    }

    #[test]
    fn a_batch_is_stored_whole_or_not_at_all() {
        let (tx, mut rx) = mpsc::channel(16);
        let b = Broker::with_epoch(1, tx);
        let mut bad = event(catalog::OS_CLOCK_SYNC, "LOCKED", None);
        bad.time = "never".into();
        let good = event(catalog::PTP_LOCK_STATE, "LOCKED", None);
        assert!(
            b.accept_all(vec![good.clone(), bad], Origin::Upstream)
                .is_err()
        );
        assert_eq!(b.seq(), 0);
        assert!(rx.try_recv().is_err());
        let other = event(catalog::OS_CLOCK_SYNC, "HOLDOVER", None);
        assert_eq!(
            b.accept_all(vec![good, other], Origin::Upstream),
            Ok(vec![1, 2])
        );
    }

    #[test]
    fn seeding_never_replaces_newer_state() {
        let (tx, _rx) = mpsc::channel(16);
        let b = Broker::with_epoch(1, tx);
        let mut newer = event(catalog::PTP_LOCK_STATE, "HOLDOVER", None);
        newer.time = "2024-01-01T00:00:01.5Z".into();
        let mut older = event(catalog::PTP_LOCK_STATE, "LOCKED", None);
        older.time = "2024-01-01T00:00:01.25Z".into();
        assert!(!b.knows_same_or_newer(&older));
        b.accept(newer.clone(), Origin::Upstream).unwrap();
        assert!(b.knows_same_or_newer(&older));
        assert!(b.knows_same_or_newer(&newer));
        older.time = "2024-01-01T00:00:02Z".into();
        assert!(!b.knows_same_or_newer(&older));
    }

    #[test]
    fn epochs_are_json_safe_and_vary() {
        let a = new_epoch();
        assert!((1..1 << 53).contains(&a));
        assert_ne!(a, new_epoch());
    }
}
