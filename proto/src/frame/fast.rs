//! A fast path for the one body every event frame carries: a MessagePack
//! map of the event's named fields, read straight from the bytes.
//!
//! rmp-serde walks the same map through serde's generic machinery, which
//! was half of a `client::register` process's CPU and a third of the
//! broker's ingest (docs/BENCHMARKS.md, profile). This reader takes only the
//! common, unambiguous shape: a map whose keys are the known field names,
//! each once, with strings, unsigned integers and the enum names as values,
//! and nothing after it. For anything else — an unknown or repeated key, an
//! array instead of a map, another integer encoding, bad UTF-8, a short
//! body — it answers `None`, and the caller decodes with rmp-serde, which
//! accepts or refuses exactly as it always did, with its own error message.
//! So this path can only be faster, never different: `fast_and_serde_agree`
//! below compares the two on every truncation and byte flip of an event,
//! and the properties in proto/tests/properties.rs (random events round
//! trip through frames; arbitrary bytes never panic) now run through it.

use catalog::EventType;

mod read;

use read::Reader;

use super::DecodeError;
#[cfg(test)]
use super::WireEvent;
use crate::event::{Data, DataType, Delivery, Event, Meta, Origin, Value, ValueType};

/// The event in `body`, if it has the common shape; `None`: use rmp-serde.
/// (Decoding goes through [`View::to_event`]; this is what the tests
/// compare with rmp-serde's reading.)
#[cfg(test)]
pub(super) fn wire_event(body: &[u8]) -> Option<WireEvent> {
    view(body).map(|v| v.to_wire())
}

/// The event in `body` read in place, if it has the common shape (see the
/// module documentation); `None`: use rmp-serde, which decides.
pub fn view(body: &[u8]) -> Option<View<'_>> {
    let mut r = Reader { b: body, i: 0 };
    // Every field is written where it lies in this one view as it is
    // read, not gathered in parts and moved into it at the end.
    let mut view = View::empty(body);
    r.event(&mut view)?;
    // Whatever follows the map is for rmp-serde to judge.
    (r.i == body.len()).then_some(view)
}

/// How many entries of `data.values` a [`View`] keeps as read; real events
/// carry one to three. Any more are read again from the body when asked.
const INLINE: usize = 4;

/// An event body read in place: every string borrowed from the body, so
/// reading one allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View<'a> {
    /// CloudEvent `type`, as written.
    pub event_type: &'a str,
    /// CloudEvent `id`.
    pub id: &'a str,
    /// CloudEvent `source`.
    pub source: &'a str,
    /// CloudEvent `time`.
    pub time: &'a str,
    /// CloudEvent `specversion`.
    pub specversion: &'a str,
    /// `data.version`.
    pub version: &'a str,
    /// The stamps, 0 and `Upstream` where absent (as rmp-serde reads them).
    pub epoch: u64,
    /// See `epoch`.
    pub seq: u64,
    /// See `epoch`.
    pub origin: Origin,
    /// The first entries of `data.values` (up to [`INLINE`]), the encoded
    /// entries after them, and how many there are in all.
    head: [ValueView<'a>; INLINE],
    rest: &'a [u8],
    count: usize,
    /// The body read, and where each of the six pairs other than the
    /// stamps is in it, in the order they came: what a stamped body copies.
    pub(super) body: &'a [u8],
    pub(super) kept: [(usize, usize); 6],
}

/// One entry of `data.values`, read in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueView<'a> {
    /// `ResourceAddress`.
    pub resource_address: &'a str,
    /// `data_type`.
    pub data_type: DataType,
    /// `value_type`.
    pub value_type: ValueType,
    /// `value`.
    pub value: &'a str,
}

impl<'a> View<'a> {
    /// A view of nothing read yet from `body`: what the reader fills. The
    /// stamps stay 0 and `Upstream` where the body has none (as rmp-serde
    /// reads them).
    #[inline(always)]
    fn empty(body: &'a [u8]) -> View<'a> {
        View {
            event_type: "",
            id: "",
            source: "",
            time: "",
            specversion: "",
            version: "",
            epoch: 0,
            seq: 0,
            origin: Origin::default(),
            head: [ValueView::EMPTY; INLINE],
            rest: &[],
            count: 0,
            body,
            kept: [(0, 0); 6],
        }
    }

    /// How many entries `data.values` has.
    pub fn value_count(&self) -> usize {
        self.count
    }

    /// The entries of `data.values`, in order.
    pub fn values(&self) -> impl Iterator<Item = ValueView<'a>> + '_ {
        let head = &self.head[..self.count.min(INLINE)];
        // The same bytes were read by the same reader when the view was
        // made, so this yields exactly the entries after the head.
        let mut r = Reader { b: self.rest, i: 0 };
        let rest = (INLINE..self.count).map_while(move |_| r.value());
        head.iter().copied().chain(rest)
    }

    /// What the broker keys its state on: the first value's address, or
    /// `source` without one (as [`crate::Event::resource_address`]).
    pub fn resource_address(&self) -> &'a str {
        match self.count {
            0 => self.source,
            _ => self.head[0].resource_address,
        }
    }

    /// The owned form.
    #[cfg(test)]
    pub(super) fn to_wire(self) -> WireEvent {
        WireEvent {
            event_type: self.event_type.to_owned(),
            id: self.id.to_owned(),
            source: self.source.to_owned(),
            time: self.time.to_owned(),
            specversion: self.specversion.to_owned(),
            data: Data {
                version: self.version.to_owned(),
                values: self.values().map(ValueView::to_value).collect(),
            },
            epoch: self.epoch,
            seq: self.seq,
            origin: self.origin,
        }
    }
}

impl View<'_> {
    /// The event, exactly as `to_wire().into_event()` gives it, without
    /// the owned copy of the type name that conversion throws away (a
    /// catalog type is not copied at all).
    pub(super) fn to_event(self) -> Result<Event, DecodeError> {
        let event = Event {
            event_type: EventType::from_wire(self.event_type)?,
            id: self.id.to_owned(),
            source: self.source.to_owned(),
            time: self.time.to_owned(),
            specversion: self.specversion.to_owned(),
            data: Data {
                version: self.version.to_owned(),
                values: self.values().map(ValueView::to_value).collect(),
            },
            meta: Meta {
                epoch: self.epoch,
                seq: self.seq,
                origin: self.origin,
            },
            delivery: Delivery::Live,
        };
        super::validate(&event)?;
        Ok(event)
    }
}

impl View<'_> {
    /// Write the event into `into`, reusing its strings and values where
    /// they have room, so that an event decoded into a spent one allocates
    /// nothing; the result is what [`View::to_event`] gives. On an error
    /// `into` holds part of this event and part of what it held.
    pub(super) fn fill(&self, into: &mut Event) -> Result<(), DecodeError> {
        fn set(s: &mut String, v: &str) {
            s.clear();
            s.push_str(v);
        }
        if into.event_type.as_str() != self.event_type {
            into.event_type = EventType::from_wire(self.event_type)?;
        }
        set(&mut into.id, self.id);
        set(&mut into.source, self.source);
        set(&mut into.time, self.time);
        set(&mut into.specversion, self.specversion);
        set(&mut into.data.version, self.version);
        let values = &mut into.data.values;
        values.truncate(self.count);
        for (i, v) in self.values().enumerate() {
            match values.get_mut(i) {
                Some(old) => {
                    set(&mut old.resource_address, v.resource_address);
                    old.data_type = v.data_type;
                    old.value_type = v.value_type;
                    set(&mut old.value, v.value);
                }
                None => values.push(v.to_value()),
            }
        }
        into.meta = Meta {
            epoch: self.epoch,
            seq: self.seq,
            origin: self.origin,
        };
        into.delivery = Delivery::Live;
        super::validate(into)
    }
}

impl ValueView<'_> {
    /// A placeholder for the slots of a view's head not filled.
    const EMPTY: ValueView<'static> = ValueView {
        resource_address: "",
        data_type: DataType::Notification,
        value_type: ValueType::Enumeration,
        value: "",
    };

    fn to_value(self) -> Value {
        Value {
            resource_address: self.resource_address.to_owned(),
            data_type: self.data_type,
            value_type: self.value_type,
            value: self.value.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
