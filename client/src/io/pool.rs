//! Spent events kept to decode the next ones into.
//!
//! An event decoded into a spent one allocates nothing (its strings and
//! values have room) and frees nothing. Events come back from the callback
//! threads (the spent queue), from the cache when a newer one replaces
//! them, and from the live path when nobody watches their type; one is
//! reused only once nobody else holds it, so a stream's reader or a
//! callback thread that still has an event never sees it change.

use std::sync::Arc;

use proto::frame::{self, Message};
use proto::{Delivery, Event};

/// As many as can come back at once (a callback thread that fell behind
/// returns a burst: [`super::SPENT_QUEUE`]).
pub(super) const MAX: usize = super::SPENT_QUEUE;
/// What the pool keeps across a tick ([`Pool::trim`]), so that what a
/// burst left does not stay held.
pub(super) const IDLE: usize = 64;

/// A message as the live path takes it: an event in the `Arc` its
/// registrations and the cache share, or something else.
pub(super) enum Incoming {
    Event(Arc<Event>),
    Other(Message),
}

#[derive(Default)]
pub(super) struct Pool {
    free: Vec<Arc<Event>>,
}

impl Pool {
    /// Keep `event` to decode a later one into, if nobody else holds it
    /// (it is dropped otherwise: its last holder gives it back).
    pub(super) fn give(&mut self, event: Arc<Event>) {
        if Arc::strong_count(&event) == 1 && self.free.len() < MAX {
            self.free.push(event);
        }
    }

    /// Decode one message of the PUB stream: an event in the common shape
    /// into a spent event, anything else as [`frame::decode_frames`] does
    /// (which also says why it refuses what it refuses).
    pub(super) fn decode<B: AsRef<[u8]>>(
        &mut self,
        parts: &[B],
        max_body: usize,
    ) -> Result<Incoming, frame::DecodeError> {
        let mut slot = self.free.pop().unwrap_or_else(|| Arc::new(blank()));
        let reused = match (parts, Arc::get_mut(&mut slot)) {
            ([topic, body], Some(event)) => {
                frame::decode_event_into(topic.as_ref(), body.as_ref(), max_body, event)
            }
            _ => false,
        };
        if reused {
            return Ok(Incoming::Event(slot));
        }
        self.give(slot);
        frame::decode_frames(parts, max_body).map(|message| match message {
            Message::Event(e) => Incoming::Event(Arc::new(e)),
            other => Incoming::Other(other),
        })
    }

    /// Is there no spent event to decode the next one into?
    pub(super) fn is_empty(&self) -> bool {
        self.free.is_empty()
    }

    /// Let go of all but [`IDLE`] spent events.
    pub(super) fn trim(&mut self) {
        self.free.truncate(IDLE);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.free.len()
    }
}

/// An event to decode into; every field is overwritten.
fn blank() -> Event {
    Event {
        event_type: catalog::HEARTBEAT,
        id: String::new(),
        source: String::new(),
        time: String::new(),
        specversion: String::new(),
        data: proto::Data {
            version: String::new(),
            values: Vec::new(),
        },
        meta: proto::Meta::default(),
        delivery: Delivery::Live,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event is decoded into again only once nobody else holds it.
    #[test]
    fn only_an_event_nobody_holds_is_reused() {
        let mut pool = Pool::default();
        let event = Arc::new(Event::synthetic(
            catalog::OS_CLOCK_SYNC.into(),
            proto::Content::parse("LOCKED", None).unwrap(),
        ));
        let held = Arc::clone(&event);
        pool.give(event);
        assert_eq!(pool.len(), 0, "still held elsewhere: not reused");
        pool.give(held);
        assert_eq!(pool.len(), 1, "the last holder gives it back");
        for _ in 0..MAX + 10 {
            pool.give(Arc::new(blank()));
        }
        assert_eq!(pool.len(), MAX, "bounded");
        pool.trim();
        assert_eq!(pool.len(), IDLE, "trimmed");
    }

    /// A reused event comes out exactly as a fresh decode, whatever it held
    /// before; a heartbeat (not an event) is decoded as such, and its slot
    /// is kept.
    #[test]
    fn a_reused_event_is_what_a_fresh_decode_gives() {
        let mut pool = Pool::default();
        let old = Event::synthetic(
            catalog::PTP_LOCK_STATE.into(),
            proto::Content::parse("HOLDOVER", None).unwrap(),
        );
        pool.give(Arc::new(old));
        let mut new = Event::synthetic(
            catalog::OS_CLOCK_SYNC.into(),
            proto::Content::parse("LOCKED", None).unwrap(),
        );
        new.meta.epoch = 7;
        new.meta.seq = 42;
        let frames = frame::encode_event(&new).unwrap();
        let parts = [frames.topic.clone(), frames.body.clone()];
        let fresh = match frame::decode_frames(&parts, frame::DEFAULT_MAX_BODY).unwrap() {
            Message::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        };
        match pool.decode(&parts, frame::DEFAULT_MAX_BODY).unwrap() {
            Incoming::Event(e) => assert_eq!(*e, fresh),
            Incoming::Other(m) => panic!("not an event: {m:?}"),
        }
        assert_eq!(pool.len(), 0, "the slot went out with the event");

        pool.give(Arc::new(blank()));
        let beat = frame::encode_heartbeat(&frame::Heartbeat {
            epoch: 7,
            seq: 42,
            interval_ms: 1000,
        });
        match pool.decode(&[beat.topic, beat.body], frame::DEFAULT_MAX_BODY) {
            Ok(Incoming::Other(Message::Heartbeat(h))) => assert_eq!(h.seq, 42),
            _ => panic!("a heartbeat is not decoded as one"),
        }
        assert_eq!(pool.len(), 1, "the slot a heartbeat did not use is kept");
    }
}
