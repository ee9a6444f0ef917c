//! Registrations: who gets which events, and what each has already seen.
//!
//! Each registration has its own bounded queue and its own consumer (a
//! worker thread running the callback, or an async stream), so a slow or
//! panicking callback delays nobody else. Each also remembers, per resource
//! address, the last event it was given: that is what makes a repair (after
//! a gap, a broker restart or its own overflow) deliver only what it has not
//! seen, never a duplicate.
//!
//! An event is decoded once and shared: the I/O actor's cache and every
//! registration's queue hold the same `Arc<Event>`; only a delivery marked
//! differently from the event (an initial state, a repair) is a copy. A
//! registration remembers what it was given by seq and id, not by holding
//! the event, so that a spent event goes back to the actor to be reused.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::thread::Thread;

use catalog::EventType;
use proto::{Delivery, Event};
use tokio::sync::mpsc;

use crate::{Map, Shared};

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

/// What a registration remembers of the last event it was given for one
/// resource: enough to tell news from a repeat, and whether it was a "state
/// unknown" delivery (another one is no news). Not the event itself, so
/// that a spent event is held only by the actor's cache and can be reused
/// for the next one; updated in place, it allocates nothing.
struct Mark {
    epoch: u64,
    seq: u64,
    id: String,
    unknown: bool,
}

impl Mark {
    fn set(&mut self, event: &Event, unknown: bool) {
        self.epoch = event.meta.epoch;
        self.seq = event.meta.seq;
        self.id.clear();
        self.id.push_str(&event.id);
        self.unknown = unknown;
    }
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
    seen: Map<String, Mark>,
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
            seen: Map::default(),
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
            Some(m) if m.epoch == event.meta.epoch => event.meta.seq > m.seq,
            Some(m) => event.id != m.id,
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
                .try_send(Item::Event(out))
                .map_err(|e| matches!(e, std_mpsc::TrySendError::Full(_))),
            Sink::Stream(tx) => tx
                .try_send(out)
                .map_err(|e| matches!(e, mpsc::error::TrySendError::Full(_))),
        };
        match result {
            Ok(()) => {
                self.queued = true;
                let unknown = delivery == Delivery::Unknown;
                // A resource seen before costs no allocation.
                match mark {
                    Some(m) => m.set(event, unknown),
                    None => {
                        let m = Mark {
                            epoch: event.meta.epoch,
                            seq: event.meta.seq,
                            id: event.id.clone(),
                            unknown,
                        };
                        self.seen.insert(event.resource_address().to_owned(), m);
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
mod tests;
