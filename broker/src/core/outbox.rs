//! One subscription's queue between the core and its sink task.
//!
//! The core offers every matching event while it stamps (under its lock, so
//! a queue's order is sequence order) and never waits: the queue is bounded,
//! and when it is full the newest state wins. A queued older event of the
//! same resource is replaced; otherwise the oldest queued event is dropped
//! and, unless a newer event of its (type, resource) is still queued, that
//! key is remembered by the dropped event's seq. Remembered keys are older
//! than everything queued, so they are handed out first, in seq order, each
//! as the state table's current event: the destination sees seq increase
//! and still ends at the latest truth of every resource. Every drop is
//! counted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use catalog::EventType;
use proto::Event;
use tokio::sync::Notify;

use crate::core::filter::Filter;
use crate::core::shared::Broker;
use crate::core::table::Key;

/// Default queue length per subscription.
pub const DEFAULT_QUEUE: usize = 1024;

/// Per-subscription counters, shown by `stats` as `sink.ID.NAME`.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Events the destination took.
    pub delivered: AtomicU64,
    /// Attempts after a first one failed.
    pub retried: AtomicU64,
    /// Events that finally failed.
    pub failed: AtomicU64,
    /// Events dropped from the queue (the newest state of their resource
    /// is still delivered).
    pub dropped: AtomicU64,
    /// Failed events handed to the dead-letter destination.
    pub dead_lettered: AtomicU64,
}

impl SinkCounters {
    /// Add one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A subscription's queue (see the module docs).
#[derive(Debug)]
pub struct Outbox {
    id: String,
    filter: Filter,
    capacity: usize,
    inner: Mutex<Inner>,
    ready: Notify,
    closed: AtomicBool,
    /// The counters of this subscription.
    pub counters: SinkCounters,
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<(Key, Arc<Event>)>,
    /// Keys whose latest event was dropped, by that event's seq.
    stale: BTreeMap<u64, Key>,
    /// The same, by key.
    stale_seq: HashMap<Key, u64>,
}

impl Outbox {
    /// An empty queue of `capacity` (at least 1) events for `filter`.
    pub fn new(id: String, filter: Filter, capacity: usize) -> Arc<Outbox> {
        Arc::new(Outbox {
            id,
            filter,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
            counters: SinkCounters::default(),
        })
    }

    /// The subscription's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Does the subscription take events of this type about this resource?
    pub fn matches(&self, event_type: &EventType, resource: &str) -> bool {
        self.filter.matches(event_type, resource)
    }

    /// Queue an event (the core does, in sequence order). Never waits.
    pub fn offer(&self, key: &Key, event: &Arc<Event>) {
        let mut inner = self.lock();
        if let Some(seq) = inner.stale_seq.remove(key) {
            // This event is newer than what was dropped for its key.
            inner.stale.remove(&seq);
        }
        if inner.queue.len() >= self.capacity {
            SinkCounters::bump(&self.counters.dropped);
            if let Some(at) = inner.queue.iter().position(|(k, _)| k == key) {
                inner.queue.remove(at);
            } else if let Some((old, dropped)) = inner.queue.pop_front()
                && !inner.queue.iter().any(|(k, _)| *k == old)
            {
                inner.stale.insert(dropped.meta.seq, old.clone());
                inner.stale_seq.insert(old, dropped.meta.seq);
            }
        }
        inner.queue.push_back((key.clone(), Arc::clone(event)));
        drop(inner);
        self.ready.notify_one();
    }

    /// Events queued or waiting to be re-read from the state table.
    pub fn depth(&self) -> usize {
        let inner = self.lock();
        inner.queue.len() + inner.stale.len()
    }

    /// Stop: [`Outbox::next`] answers `None` from now on.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    /// Has [`Outbox::close`] been called?
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The next event to deliver: the current state of the oldest
    /// remembered key, else the queue's oldest; waits when there is neither.
    /// `None` once closed.
    pub async fn next(&self, broker: &Broker) -> Option<Arc<Event>> {
        loop {
            if self.is_closed() {
                return None;
            }
            let stale = {
                let mut inner = self.lock();
                match inner.stale.pop_first() {
                    Some((_, key)) => {
                        inner.stale_seq.remove(&key);
                        Some(key)
                    }
                    None => match inner.queue.pop_front() {
                        Some((_, event)) => return Some(event),
                        None => None,
                    },
                }
            };
            if let Some(key) = stale {
                // Read the table without holding our lock (the core takes
                // its lock, then ours), then skip the row if a newer event
                // for it was queued meanwhile.
                let Some(current) = broker.latest(&key) else {
                    continue;
                };
                if self.lock().queue.iter().any(|(k, _)| *k == key) {
                    continue;
                }
                return Some(Arc::new(current));
            }
            self.ready.notified().await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves Inner consistent; a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{Content, Origin};
    use tokio::sync::mpsc;

    fn broker() -> Broker {
        let (tx, rx) = mpsc::channel(1 << 16);
        std::mem::forget(rx);
        Broker::with_epoch(7, tx)
    }

    fn emit(broker: &Broker, resource: &str, value: &str) -> u64 {
        let event = Event::synthetic(
            catalog::OS_CLOCK_SYNC.into(),
            Content::parse(value, Some(resource.to_owned())).unwrap(),
        );
        broker.accept(event, Origin::Synthetic).unwrap()
    }

    async fn drain(outbox: &Outbox, broker: &Broker) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        while outbox.depth() > 0 {
            let e = outbox.next(broker).await.unwrap();
            out.push((
                e.resource_address().to_owned(),
                e.data.values[0].value.clone(),
                e.meta.seq,
            ));
        }
        out
    }

    #[tokio::test]
    async fn a_new_subscription_gets_the_current_state_then_every_change() {
        let b = broker();
        emit(&b, "/r/1", "LOCKED");
        emit(&b, "/r/2", "FREERUN");
        emit(&b, "/r/1", "HOLDOVER");
        let o = Outbox::new("t".into(), Filter::default(), 16);
        b.attach(Arc::clone(&o));
        emit(&b, "/r/2", "LOCKED");
        let got = drain(&o, &b).await;
        assert_eq!(
            got,
            [
                ("/r/2".into(), "FREERUN".into(), 2),
                ("/r/1".into(), "HOLDOVER".into(), 3),
                ("/r/2".into(), "LOCKED".into(), 4),
            ]
        );
        b.detach("t");
        emit(&b, "/r/2", "FREERUN");
        assert_eq!(o.depth(), 0);
        assert!(o.next(&b).await.is_none(), "closed");
    }

    #[tokio::test]
    async fn a_full_queue_keeps_the_newest_state_of_every_resource() {
        let b = broker();
        let o = Outbox::new("t".into(), Filter::default(), 3);
        b.attach(Arc::clone(&o));
        // Same resource over and over: replaced in place.
        for v in ["LOCKED", "HOLDOVER", "FREERUN", "LOCKED", "HOLDOVER"] {
            emit(&b, "/same", v);
        }
        assert_eq!(o.depth(), 3);
        assert_eq!(o.counters.dropped.load(Ordering::Relaxed), 2);
        let got = drain(&o, &b).await;
        assert_eq!(got.last().unwrap().1, "HOLDOVER");
        // Many resources: the oldest are remembered and come back at their
        // latest, in seq order.
        for i in 0..10 {
            emit(&b, &format!("/r/{i}"), "LOCKED");
        }
        emit(&b, "/r/0", "FREERUN");
        emit(&b, "/r/5", "HOLDOVER");
        let got = drain(&o, &b).await;
        let seqs: Vec<u64> = got.iter().map(|g| g.2).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "seq increases: {seqs:?}"
        );
        assert_eq!(got.iter().filter(|g| g.0 == "/r/5").count(), 1, "{got:?}");
        let mut latest = std::collections::BTreeMap::new();
        for (r, v, _) in &got {
            latest.insert(r.clone(), v.clone());
        }
        assert_eq!(latest.len(), 10, "every resource delivered: {got:?}");
        assert_eq!(latest["/r/0"], "FREERUN");
        assert_eq!(latest["/r/5"], "HOLDOVER");
        assert_eq!(latest.values().filter(|v| *v == "LOCKED").count(), 8);
        // Per resource the order holds.
        let r0: Vec<_> = got.iter().filter(|(r, ..)| r == "/r/0").collect();
        assert_eq!(r0.last().unwrap().1, "FREERUN");
    }

    #[tokio::test]
    async fn filters_choose_what_is_queued() {
        let b = broker();
        let f = Filter::parse(&[], &["/keep/*".into()]).unwrap();
        let o = Outbox::new("t".into(), f, 8);
        b.attach(Arc::clone(&o));
        emit(&b, "/keep/a", "LOCKED");
        emit(&b, "/other", "LOCKED");
        let got = drain(&o, &b).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "/keep/a");
    }
}
