//! Registrations: who gets which events, and what each has already seen.
//!
//! Each registration has its own bounded queue and its own consumer (a
//! worker thread running the callback, or an async stream), so a slow or
//! panicking callback delays nobody else. Each also remembers, per resource
//! address, the last event it was given: that is what makes a repair (after
//! a gap, a broker restart or its own overflow) deliver only what it has not
//! seen, never a duplicate.
//!
//! An event is decoded once and shared: the I/O actor, its cache and every
//! registration's queue hold the same `Arc<Event>`; only a delivery marked
//! differently from the event (an initial state, a repair) is a copy.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::thread::Thread;

use catalog::EventType;
use proto::{Delivery, Event};
use tokio::sync::mpsc;

use crate::Shared;

/// A callback as the client stores it.
pub(crate) type Callback = Box<dyn Fn(&Event) + Send + 'static>;

/// Identifies one registration, for [`crate::Client::unregister`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationId(pub(crate) u64);

impl RegistrationId {
    /// The number, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for RegistrationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What a callback thread is handed.
pub(crate) enum Item {
    /// Call the callback.
    Event(Arc<Event>),
    /// Everything queued before this has been handed to the callback: run
    /// this (it answers `register`).
    Barrier(Box<dyn FnOnce() + Send>),
}

/// Where a registration's events go.
pub(crate) enum Sink {
    /// A worker thread that runs the callback.
    Thread(std_mpsc::SyncSender<Item>, Arc<Wake>),
    /// An async stream.
    Stream(mpsc::Sender<Arc<Event>>),
}

/// What happened to an offered event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    Sent,
    /// Already seen (same or older), not sent.
    Seen,
    /// The queue is full: not sent.
    Full,
    /// The consumer is gone (stream dropped).
    Closed,
}

/// The last event a registration was given for one resource (shared, not
/// copied), and whether it was a "state unknown" delivery: another one is
/// no news.
struct Mark {
    event: Arc<Event>,
    unknown: bool,
}

/// How the I/O actor wakes a callback thread: once per burst of events
/// rather than once per event. The thread takes everything queued without
/// blocking, says it is going to sleep, looks once more, and parks; the
/// actor unparks it only if it said so. A wake-up per event cost a futex
/// call on both sides for every event.
pub(crate) struct Wake {
    sleeping: AtomicBool,
    /// The registration is gone: end once the queue is empty.
    closed: AtomicBool,
    thread: std::sync::OnceLock<Thread>,
}

impl Wake {
    fn unpark(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

pub(crate) struct Registration {
    pub(crate) id: RegistrationId,
    pub(crate) event_type: EventType,
    sink: Sink,
    /// Something was queued since the last [`Registration::wake`].
    queued: bool,
    seen: HashMap<String, Mark>,
    /// The queue overflowed: live events are not offered until a repair from
    /// the cache has caught it up.
    pub(crate) lagged: bool,
}

impl Registration {
    /// A registration whose callback runs on its own thread.
    pub(crate) fn with_callback(
        id: RegistrationId,
        event_type: EventType,
        callback: Callback,
        capacity: usize,
        shared: Arc<Shared>,
    ) -> std::io::Result<Registration> {
        let (tx, rx) = std_mpsc::sync_channel::<Item>(capacity);
        let wake = Arc::new(Wake {
            sleeping: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            thread: std::sync::OnceLock::new(),
        });
        let thread_wake = Arc::clone(&wake);
        let handle = std::thread::Builder::new()
            .name(format!("ptp-callback-{}", id.0))
            .spawn(move || {
                let wake = thread_wake;
                loop {
                    let item = match rx.try_recv() {
                        Ok(item) => item,
                        // The registration (the sender) is gone.
                        Err(std_mpsc::TryRecvError::Disconnected) => return,
                        Err(std_mpsc::TryRecvError::Empty) => {
                            if wake.closed.load(Ordering::Acquire) {
                                return;
                            }
                            wake.sleeping.store(true, Ordering::SeqCst);
                            match rx.try_recv() {
                                Ok(item) => {
                                    wake.sleeping.store(false, Ordering::Relaxed);
                                    item
                                }
                                Err(std_mpsc::TryRecvError::Disconnected) => return,
                                Err(std_mpsc::TryRecvError::Empty) => {
                                    // Also returns at once if unparked meanwhile.
                                    std::thread::park();
                                    wake.sleeping.store(false, Ordering::Relaxed);
                                    continue;
                                }
                            }
                        }
                    };
                    let event = match item {
                        Item::Event(event) => event,
                        Item::Barrier(done) => {
                            done();
                            continue;
                        }
                    };
                    if catch_unwind(AssertUnwindSafe(|| callback(&event))).is_err() {
                        shared.bump(|c| &c.panics);
                        tracing::error!(
                            registration = id.0,
                            "callback panicked; it stays registered"
                        );
                    }
                    // Freed by the thread that allocated it (when the
                    // queue is full, here).
                    let _ = shared.spent.try_send(event);
                }
            })?;
        let _ = wake.thread.set(handle.thread().clone());
        Ok(Registration::new(id, event_type, Sink::Thread(tx, wake)))
    }

    /// A registration that feeds an async stream.
    pub(crate) fn with_stream(
        id: RegistrationId,
        event_type: EventType,
        tx: mpsc::Sender<Arc<Event>>,
    ) -> Registration {
        Registration::new(id, event_type, Sink::Stream(tx))
    }

    fn new(id: RegistrationId, event_type: EventType, sink: Sink) -> Registration {
        Registration {
            id,
            event_type,
            sink,
            queued: false,
            seen: HashMap::new(),
            lagged: false,
        }
    }

    /// Has this registration not yet been given `event` or anything newer
    /// for the same resource? Within one broker run that is a higher seq;
    /// across runs (seqs restart) it is a different event id.
    pub(crate) fn is_new(&self, event: &Event) -> bool {
        Self::newer_than(self.seen.get(event.resource_address()), event)
    }

    /// Is `event` news after `mark`, the last one given for its resource?
    fn newer_than(mark: Option<&Mark>, event: &Event) -> bool {
        match mark {
            None => true,
            Some(m) if event.is_unknown() => !m.unknown,
            Some(m) if m.event.meta.epoch == event.meta.epoch => event.meta.seq > m.event.meta.seq,
            Some(m) => event.id != m.event.id,
        }
    }

    /// Resources this registration was given a state for that `holds`
    /// (the broker's answer) does not contain, and that it has not yet been
    /// told are unknown.
    pub(crate) fn unknown_resources(&self, holds: impl Fn(&str) -> bool) -> Vec<String> {
        self.seen
            .iter()
            .filter(|(resource, m)| !m.unknown && !holds(resource))
            .map(|(resource, _)| resource.clone())
            .collect()
    }

    /// Run `done` once the consumer has taken everything queued so far: at
    /// once for a stream (its reader is the caller of `register`), after the
    /// callback ran for a thread. If the queue is full, `done` runs at once.
    pub(crate) fn after_queued(&mut self, done: Box<dyn FnOnce() + Send>) {
        match &self.sink {
            Sink::Stream(_) => done(),
            Sink::Thread(tx, _) => {
                match tx.try_send(Item::Barrier(done)) {
                    Ok(()) => self.queued = true,
                    Err(
                        std_mpsc::TrySendError::Full(Item::Barrier(done))
                        | std_mpsc::TrySendError::Disconnected(Item::Barrier(done)),
                    ) => done(),
                    Err(_) => {}
                }
                self.wake();
            }
        }
    }

    /// Wake the callback thread if anything was queued for it since the
    /// last call and it is asleep. The actor calls this after each burst.
    pub(crate) fn wake(&mut self) {
        if std::mem::take(&mut self.queued)
            && let Sink::Thread(_, wake) = &self.sink
            && wake.sleeping.swap(false, Ordering::SeqCst)
        {
            wake.unpark();
        }
    }

    /// Is the consumer gone (a dropped stream)?
    pub(crate) fn is_closed(&self) -> bool {
        match &self.sink {
            Sink::Thread(..) => false,
            Sink::Stream(tx) => tx.is_closed(),
        }
    }

    /// Offer `event` marked `delivery`, unless it was seen already. The
    /// event is shared when it already carries `delivery` (live events do),
    /// copied with the new marking otherwise.
    pub(crate) fn offer(&mut self, event: &Arc<Event>, delivery: Delivery) -> Offer {
        // One lookup of the resource's mark, to judge and then to update.
        let mark = self.seen.get_mut(event.resource_address());
        if !Self::newer_than(mark.as_deref(), event) {
            return Offer::Seen;
        }
        let out = match event.delivery == delivery {
            true => Arc::clone(event),
            false => {
                let mut copy = Event::clone(event);
                copy.delivery = delivery;
                Arc::new(copy)
            }
        };
        let result = match &self.sink {
            Sink::Thread(tx, _) => tx
                .try_send(Item::Event(Arc::clone(&out)))
                .map_err(|e| matches!(e, std_mpsc::TrySendError::Full(_))),
            Sink::Stream(tx) => tx
                .try_send(Arc::clone(&out))
                .map_err(|e| matches!(e, mpsc::error::TrySendError::Full(_))),
        };
        match result {
            Ok(()) => {
                self.queued = true;
                let new = Mark {
                    event: out,
                    unknown: delivery == Delivery::Unknown,
                };
                // A resource seen before costs no allocation.
                match mark {
                    Some(m) => *m = new,
                    None => {
                        self.seen.insert(event.resource_address().to_owned(), new);
                    }
                }
                Offer::Sent
            }
            Err(true) => Offer::Full,
            Err(false) => Offer::Closed,
        }
    }
}

impl Drop for Registration {
    /// The callback thread ends once it has run what was queued.
    fn drop(&mut self) {
        if let Sink::Thread(_, wake) = &self.sink {
            wake.closed.store(true, Ordering::Release);
            wake.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::Content;

    fn ev(epoch: u64, seq: u64, id: &str, address: &str) -> Arc<Event> {
        let mut e = Event::synthetic(
            catalog::OS_CLOCK_SYNC.into(),
            Content::parse("LOCKED", Some(address.into())).unwrap(),
        );
        e.meta.epoch = epoch;
        e.meta.seq = seq;
        e.id = id.into();
        Arc::new(e)
    }

    #[test]
    fn dedupe_by_seq_within_a_run_and_by_id_across_runs() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut r = Registration::with_stream(RegistrationId(1), catalog::OS_CLOCK_SYNC.into(), tx);
        assert_eq!(
            r.offer(&ev(1, 5, "a", "/x"), Delivery::Initial),
            Offer::Sent
        );
        assert_eq!(r.offer(&ev(1, 5, "a", "/x"), Delivery::Live), Offer::Seen);
        assert_eq!(r.offer(&ev(1, 4, "z", "/x"), Delivery::Live), Offer::Seen);
        assert_eq!(
            r.offer(&ev(1, 3, "b", "/y"), Delivery::Live),
            Offer::Sent,
            "other resource"
        );
        assert_eq!(
            r.offer(&ev(2, 1, "a", "/x"), Delivery::Repaired),
            Offer::Seen,
            "same event, new run"
        );
        assert_eq!(
            r.offer(&ev(2, 2, "c", "/x"), Delivery::Repaired),
            Offer::Sent
        );
        assert_eq!(rx.try_recv().unwrap().delivery, Delivery::Initial);
        assert_eq!(rx.try_recv().unwrap().meta.seq, 3);
        assert_eq!(rx.try_recv().unwrap().delivery, Delivery::Repaired);
    }

    /// The I/O thread allocated the event; the callback thread gives it
    /// back once the callback has run, so that it is freed there.
    #[test]
    fn a_callback_thread_hands_back_the_events_it_is_done_with() {
        let (shared, _status, spent) = Shared::new();
        let (ran_tx, ran_rx) = std_mpsc::channel();
        let mut r = Registration::with_callback(
            RegistrationId(1),
            catalog::OS_CLOCK_SYNC.into(),
            Box::new(move |e: &Event| ran_tx.send(e.meta.seq).unwrap()),
            8,
            shared,
        )
        .unwrap();
        let events: Vec<Arc<Event>> = (1..=3).map(|seq| ev(1, seq, "a", "/x")).collect();
        for e in &events {
            assert_eq!(r.offer(e, Delivery::Live), Offer::Sent);
        }
        r.wake();
        let wait = std::time::Duration::from_secs(10);
        for (e, seq) in events.iter().zip(1..) {
            assert_eq!(ran_rx.recv_timeout(wait).unwrap(), seq);
            let back = spent.recv_timeout(wait).expect("handed back");
            assert!(Arc::ptr_eq(&back, e), "the same allocation, seq {seq}");
        }
    }

    #[test]
    fn full_and_closed_queues_are_reported_and_not_marked_seen() {
        let (tx, rx) = mpsc::channel(1);
        let mut r = Registration::with_stream(RegistrationId(1), catalog::OS_CLOCK_SYNC.into(), tx);
        assert_eq!(r.offer(&ev(1, 1, "a", "/x"), Delivery::Live), Offer::Sent);
        assert_eq!(r.offer(&ev(1, 2, "b", "/x"), Delivery::Live), Offer::Full);
        assert!(r.is_new(&ev(1, 2, "b", "/x")));
        drop(rx);
        assert_eq!(r.offer(&ev(1, 3, "c", "/x"), Delivery::Live), Offer::Closed);
    }
}

#[cfg(test)]
mod unknown_tests {
    use super::*;
    use proto::Content;

    #[test]
    fn an_unknown_resource_is_told_once_and_a_new_state_follows() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut r = Registration::with_stream(RegistrationId(1), catalog::OS_CLOCK_SYNC.into(), tx);
        let mut locked = Event::synthetic(
            catalog::OS_CLOCK_SYNC.into(),
            Content::parse("LOCKED", Some("/x".into())).unwrap(),
        );
        locked.meta.epoch = 1;
        locked.meta.seq = 4;
        let locked = Arc::new(locked);
        assert_eq!(r.offer(&locked, Delivery::Live), Offer::Sent);
        assert_eq!(r.unknown_resources(|_| false), ["/x"]);
        assert!(r.unknown_resources(|res| res == "/x").is_empty());
        let unknown = Arc::new(Event::unknown(catalog::OS_CLOCK_SYNC.into(), "/x", 2, 0));
        assert_eq!(r.offer(&unknown, Delivery::Unknown), Offer::Sent);
        assert!(r.unknown_resources(|_| false).is_empty(), "told once");
        let again = Arc::new(Event::unknown(catalog::OS_CLOCK_SYNC.into(), "/x", 2, 7));
        assert_eq!(r.offer(&again, Delivery::Unknown), Offer::Seen);
        let mut back = Event::clone(&locked);
        back.meta.epoch = 2;
        back.meta.seq = 1;
        back.id = "new-run".into();
        assert_eq!(r.offer(&Arc::new(back), Delivery::Repaired), Offer::Sent);
        let got: Vec<Delivery> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| e.delivery)
            .collect();
        assert_eq!(got, [Delivery::Live, Delivery::Unknown, Delivery::Repaired]);
    }
}
