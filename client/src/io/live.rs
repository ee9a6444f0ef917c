//! The live stream: messages of the PUB connection taken in order, sequence
//! numbers and epochs checked, and each event offered to the registrations
//! that watch its type and kept as the current state of its resource.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::frame::Message;
use proto::{Delivery, Event};

use super::pool::Incoming;
use super::sub::{Next, SubConn};
use super::{FIRST_WAKE, Io};
use crate::Status;
use crate::registry::Offer;

impl Io {
    /// Wake the callback threads that were given something since the last
    /// call: once per burst, not once per event.
    pub(super) fn wake_callbacks(&mut self) {
        let pending = self.pending.iter_mut().map(|p| &mut p.registration);
        for r in self.active.values_mut().flatten().chain(pending) {
            r.wake();
        }
    }

    /// Take every complete message out of the SUB buffer, in order. The
    /// callbacks are woken once [`FIRST_WAKE`] messages into a long burst,
    /// so that its first events need not wait for the last to be decoded,
    /// and then at its end (by the caller), not again every 32 messages: a
    /// callback thread is quicker than the decoding, so it was asleep again
    /// each time, and each wake-up is a futex call (0.021 → 0.016 context
    /// switches per event at 300,000/s).
    /// The broker was heard if any message decoded: one clock reading per
    /// read, not per message.
    pub(super) fn drain_sub(&mut self) {
        let mut taken = 0usize;
        let mut heard = false;
        loop {
            // Take the spent events back when the pool has none left for
            // the next one to reuse: one look at the queue per batch of
            // them, not one per message.
            if self.pool.is_empty() {
                self.take_spent();
            }
            // Decoded while the frames borrow the receive buffer; handled after.
            let decoded = match self.sub.as_mut().and_then(SubConn::next) {
                None => break,
                Some(Next::Message(parts)) => self
                    .pool
                    .decode(parts.as_slice(), proto::query::MAX_REPLY)
                    .map_err(|e| e.to_string()),
                Some(Next::Broken(reason)) => {
                    self.shared.bump(|c| &c.bad_frames);
                    tracing::warn!("the broker's PUB broke the protocol ({reason}); reconnecting");
                    self.drop_session();
                    return;
                }
            };
            taken += 1;
            if taken == FIRST_WAKE {
                self.wake_callbacks();
            }
            match decoded {
                Ok(Incoming::Event(event)) => self.on_event(event),
                Ok(Incoming::Other(message)) => self.on_message(message),
                Err(e) => {
                    self.shared.bump(|c| &c.bad_frames);
                    tracing::warn!("undecodable frame from broker: {e}");
                    continue;
                }
            }
            heard = true;
        }
        if heard {
            self.last_heard = Instant::now();
        }
    }

    /// Set the status, and remember the epoch it names (`Connected`,
    /// `Restarted`), so that every event need not read it under its lock.
    pub(super) fn set_status(&mut self, status: Status) {
        self.status_epoch = status.epoch();
        self.shared.set_status(status);
    }

    /// A heartbeat or a sync marker (an event is [`Io::on_event`]).
    fn on_message(&mut self, message: Message) {
        match message {
            Message::Heartbeat(h) => {
                self.observe(h.epoch, h.seq);
                self.interval = Duration::from_millis(h.interval_ms.clamp(10, 60_000));
                self.check_announced(h.seq);
            }
            Message::Sync(m) => {
                self.observe(m.epoch, m.seq);
                self.check_announced(m.seq);
                if self.sync_token.as_ref().is_some_and(|(t, _)| *t == m.token) {
                    self.synced = true;
                    self.sync_token = None;
                    self.request_initials();
                }
            }
            Message::Event(e) => self.on_event(Arc::new(e)),
            _ => {}
        }
    }

    fn on_event(&mut self, event: Arc<Event>) {
        self.observe(event.meta.epoch, event.meta.seq.saturating_sub(1));
        if event.meta.seq <= self.last_seq {
            return self.pool.give(event);
        }
        if event.meta.seq > self.last_seq + 1 {
            self.note_gap(self.last_seq, event.meta.seq);
        }
        self.last_seq = event.meta.seq;
        self.deliver_live(event);
    }

    /// The broker is alive and in run `epoch`; `baseline` is the last seq
    /// it says it published (or, for an event, the one before it): where a
    /// new run's sequence starts. (That it was heard is noted once per
    /// read, by [`Io::drain_sub`].)
    fn observe(&mut self, epoch: u64, baseline: u64) {
        match self.epoch {
            None => {
                self.epoch = Some(epoch);
                self.last_seq = baseline;
            }
            Some(known) if known != epoch => {
                tracing::info!(
                    old = known,
                    new = epoch,
                    "broker restarted; resynchronizing"
                );
                self.shared.bump(|c| &c.restarts);
                self.epoch = Some(epoch);
                self.last_seq = baseline;
                self.cache.clear();
                // Also when the outage was too short to be Lost: a restart
                // is news for the application, and so is what it forgot.
                self.set_status(Status::Restarted {
                    previous: known,
                    epoch,
                });
                self.request_repair();
            }
            Some(_) => {}
        }
        if self.status_epoch != Some(epoch) {
            self.set_status(Status::Connected { epoch });
        }
    }

    /// A heartbeat or marker says events up to `seq` were published.
    fn check_announced(&mut self, seq: u64) {
        if seq > self.last_seq {
            self.note_gap(self.last_seq, seq + 1);
            self.last_seq = seq;
        }
    }

    fn note_gap(&mut self, last: u64, next: u64) {
        tracing::warn!(
            "missed events {}..{}; repairing from current state",
            last + 1,
            next - 1
        );
        self.shared.bump(|c| &c.gaps);
        self.request_repair();
    }

    fn deliver_live(&mut self, event: Arc<Event>) {
        let capacity = self.config.callback_queue;
        let mut watched = false;
        for p in self
            .pending
            .iter_mut()
            .filter(|p| p.registration.event_type == event.event_type)
        {
            watched = true;
            if p.buffer.len() < capacity {
                p.buffer.push(Arc::clone(&event));
            } else {
                // Caught up from the cache once active.
                p.registration.lagged = true;
            }
        }
        if let Some(list) = self.active.get_mut(&event.event_type) {
            watched = true;
            for r in list.iter_mut() {
                if r.lagged {
                    self.shared.bump(|c| &c.skipped);
                    continue;
                }
                match r.offer(&event, Delivery::Live) {
                    Offer::Sent => self.shared.bump(|c| &c.delivered),
                    Offer::Full => {
                        r.lagged = true;
                        self.shared.bump(|c| &c.overflows);
                        self.shared.bump(|c| &c.skipped);
                        tracing::warn!(
                            registration = r.id.get(),
                            "callback queue full; it skips live events until it is \
                             caught up with the current state (delivered as Repaired)"
                        );
                    }
                    Offer::Seen | Offer::Closed => {}
                }
            }
        }
        if watched {
            self.remember(event);
        } else {
            self.pool.give(event);
        }
    }

    /// Keep `event` as the latest of its resource if it is newer.
    pub(super) fn remember(&mut self, event: Arc<Event>) {
        let rows = match self.cache.get_mut(&event.event_type) {
            Some(rows) => rows,
            None => self.cache.entry(event.event_type.clone()).or_default(),
        };
        let spent = match rows.get_mut(event.resource_address()) {
            Some(old) => {
                if old.meta.epoch != event.meta.epoch || old.meta.seq < event.meta.seq {
                    std::mem::replace(old, event)
                } else {
                    event
                }
            }
            None => {
                rows.insert(event.resource_address().to_owned(), event);
                return;
            }
        };
        self.pool.give(spent);
    }
}
