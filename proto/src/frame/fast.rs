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
    let view = r.event()?;
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
    pub(super) fn fill(self, into: &mut Event) -> Result<(), DecodeError> {
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

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

/// Set `slot` unless it was set already (a repeated key: not our shape).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.b.get(self.i)?;
        self.i += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.i.checked_add(n)?;
        let s = self.b.get(self.i..end)?;
        self.i = end;
        Some(s)
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    }

    fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x80..=0x8f => Some(usize::from(m & 0x0f)),
            0xde => usize::try_from(self.be(2)?).ok(),
            0xdf => usize::try_from(self.be(4)?).ok(),
            _ => None,
        }
    }

    fn array_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x90..=0x9f => Some(usize::from(m & 0x0f)),
            0xdc => usize::try_from(self.be(2)?).ok(),
            0xdd => usize::try_from(self.be(4)?).ok(),
            _ => None,
        }
    }

    /// A string's bytes, unchecked.
    fn raw_str(&mut self) -> Option<&'a [u8]> {
        let len = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => usize::try_from(self.be(1)?).ok()?,
            0xda => usize::try_from(self.be(2)?).ok()?,
            0xdb => usize::try_from(self.be(4)?).ok()?,
            _ => return None,
        };
        self.take(len)
    }

    /// A key: compared as bytes with the known names, so it needs no
    /// UTF-8 check (a name that is not one of them is not our shape).
    fn key(&mut self) -> Option<&'a [u8]> {
        self.raw_str()
    }

    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_str()?).ok()
    }

    fn uint(&mut self) -> Option<u64> {
        match self.byte()? {
            m @ 0x00..=0x7f => Some(u64::from(m)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            _ => None,
        }
    }

    fn event(&mut self) -> Option<View<'a>> {
        let (mut event_type, mut id, mut source, mut time, mut specversion) =
            (None, None, None, None, None);
        let (mut data, mut epoch, mut seq, mut origin) = (None, None, None, None);
        let mut kept = [(0, 0); 6];
        let mut kept_len = 0;
        for _ in 0..self.map_len()? {
            let start = self.i;
            let stamp = match self.key()? {
                b"type" => once(&mut event_type, self.str()?).map(|()| false)?,
                b"id" => once(&mut id, self.str()?).map(|()| false)?,
                b"source" => once(&mut source, self.str()?).map(|()| false)?,
                b"time" => once(&mut time, self.str()?).map(|()| false)?,
                b"specversion" => once(&mut specversion, self.str()?).map(|()| false)?,
                b"data" => {
                    let d = self.data()?;
                    once(&mut data, d).map(|()| false)?
                }
                b"epoch" => once(&mut epoch, self.uint()?).map(|()| true)?,
                b"seq" => once(&mut seq, self.uint()?).map(|()| true)?,
                b"origin" => {
                    let o = match self.key()? {
                        b"synthetic" => Origin::Synthetic,
                        b"upstream" => Origin::Upstream,
                        _ => return None,
                    };
                    once(&mut origin, o).map(|()| true)?
                }
                _ => return None,
            };
            if !stamp {
                // Each of the six keys at most once: at most six pairs.
                *kept.get_mut(kept_len)? = (start, self.i);
                kept_len += 1;
            }
        }
        let (version, head, rest, count) = data?;
        Some(View {
            event_type: event_type?,
            id: id?,
            source: source?,
            time: time?,
            specversion: specversion?,
            version,
            epoch: epoch.unwrap_or_default(),
            seq: seq.unwrap_or_default(),
            origin: origin.unwrap_or_default(),
            head,
            rest,
            count,
            body: self.b,
            kept,
        })
    }

    /// `data`: its version, its first values, the bytes of the others, and
    /// how many there are.
    #[allow(clippy::type_complexity)]
    fn data(&mut self) -> Option<(&'a str, [ValueView<'a>; INLINE], &'a [u8], usize)> {
        let (mut version, mut values) = (None, None);
        for _ in 0..self.map_len()? {
            match self.key()? {
                b"version" => once(&mut version, self.str()?)?,
                b"values" => {
                    let n = self.array_len()?;
                    let mut head = [ValueView::EMPTY; INLINE];
                    let mut rest = self.i;
                    for k in 0..n {
                        let value = self.value()?;
                        if let Some(slot) = head.get_mut(k) {
                            *slot = value;
                            rest = self.i;
                        }
                    }
                    once(&mut values, (head, &self.b[rest..self.i], n))?
                }
                _ => return None,
            }
        }
        let (head, rest, count) = values?;
        Some((version?, head, rest, count))
    }

    fn value(&mut self) -> Option<ValueView<'a>> {
        let (mut address, mut data_type, mut value_type, mut value) = (None, None, None, None);
        for _ in 0..self.map_len()? {
            match self.key()? {
                b"ResourceAddress" => once(&mut address, self.str()?)?,
                b"data_type" => {
                    let t = match self.key()? {
                        b"notification" => DataType::Notification,
                        b"metric" => DataType::Metric,
                        _ => return None,
                    };
                    once(&mut data_type, t)?
                }
                b"value_type" => {
                    let t = match self.key()? {
                        b"enumeration" => ValueType::Enumeration,
                        b"decimal64.3" => ValueType::Decimal64_3,
                        b"metric" => ValueType::Metric,
                        b"redfish-event" => ValueType::RedfishEvent,
                        _ => return None,
                    };
                    once(&mut value_type, t)?
                }
                b"value" => once(&mut value, self.str()?)?,
                _ => return None,
            }
        }
        Some(ValueView {
            resource_address: address?,
            data_type: data_type?,
            value_type: value_type?,
            value: value?,
        })
    }
}

#[cfg(test)]
mod tests;
