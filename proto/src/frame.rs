//! ZeroMQ frames: every message is two frames, `[topic, body]`.
//!
//! The topic is the UTF-8 event type; the body is a MessagePack map with
//! named fields (never a positional array), so any language can read it from
//! `docs/PROTOCOL.md`. This module is the only place that turns events into
//! bytes and back.

use catalog::{EventType, EventTypeError, HEARTBEAT};
use serde::{Deserialize, Serialize};

mod fast;
mod stamp;

pub use fast::{ValueView, View, view};

use crate::event::{Data, Delivery, Event, Meta, Origin};

/// Largest body accepted by default (64 KiB). A real O-RAN event is ~300 B.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// Topic of the marker the broker publishes on request, so a client can tell
/// that its subscription is in effect (see [`crate::query::Request::Sync`]).
pub const SYNC_TOPIC: &str = "ptp-broker.sync";

/// The two frames of one message, encoded once and shared by every subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    /// Event type as UTF-8.
    pub topic: Vec<u8>,
    /// MessagePack map.
    pub body: Vec<u8>,
}

/// Anything that can arrive on the broker's PUB socket (or be pushed to PULL).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Message {
    /// A sync event (O-RAN or application type).
    Event(Event),
    /// The broker's liveness beacon.
    Heartbeat(Heartbeat),
    /// A marker published because some client asked for it.
    Sync(SyncMarker),
}

/// Published on topic [`catalog::HEARTBEAT`] every heartbeat interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The broker run (see [`Meta::epoch`]).
    pub epoch: u64,
    /// Sequence number of the latest event published before this heartbeat.
    /// A client that has seen less has missed events.
    pub seq: u64,
    /// Time to the next heartbeat, in milliseconds.
    pub interval_ms: u64,
}

/// Published on topic [`SYNC_TOPIC`] when a client sends a sync request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMarker {
    /// The token from the client's request.
    pub token: String,
    /// The broker run.
    pub epoch: u64,
    /// Latest event sequence number when the marker was published.
    pub seq: u64,
}

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not exactly two frames.
    #[error("expected 2 frames [topic, body], got {0}")]
    FrameCount(usize),
    /// Body longer than the limit.
    #[error("body of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// Body length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Topic is not UTF-8.
    #[error("topic is not UTF-8")]
    TopicNotUtf8,
    /// Topic is not a valid event type.
    #[error("bad topic: {0}")]
    Topic(#[from] EventTypeError),
    /// Body is not the MessagePack map the topic calls for.
    #[error("bad body: {0}")]
    Body(String),
    /// The body's `type` differs from the topic.
    #[error("topic {topic:?} does not match body type {body_type:?}")]
    TopicMismatch {
        /// Topic frame.
        topic: String,
        /// `type` in the body.
        body_type: String,
    },
    /// A field has a value the model does not allow.
    #[error("invalid field: {0}")]
    Invalid(String),
}

/// An event as it is written: borrowed, so encoding copies nothing first.
#[derive(Serialize)]
pub(crate) struct EventOut<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    id: &'a str,
    source: &'a str,
    time: &'a str,
    specversion: &'a str,
    data: &'a Data,
    epoch: u64,
    seq: u64,
    origin: Origin,
}

/// An event as it is read. Stamps are optional: a client's emit has none.
/// Also the owned form an event takes inside a query request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireEvent {
    #[serde(rename = "type")]
    event_type: String,
    id: String,
    source: String,
    time: String,
    specversion: String,
    data: Data,
    #[serde(default)]
    epoch: u64,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    origin: Origin,
}

impl From<&Event> for WireEvent {
    fn from(e: &Event) -> Self {
        WireEvent {
            event_type: e.event_type.to_string(),
            id: e.id.clone(),
            source: e.source.clone(),
            time: e.time.clone(),
            specversion: e.specversion.clone(),
            data: e.data.clone(),
            epoch: e.meta.epoch,
            seq: e.meta.seq,
            origin: e.meta.origin,
        }
    }
}

impl<'a> From<&'a Event> for EventOut<'a> {
    fn from(e: &'a Event) -> Self {
        EventOut {
            event_type: e.event_type.as_str(),
            id: &e.id,
            source: &e.source,
            time: &e.time,
            specversion: &e.specversion,
            data: &e.data,
            epoch: e.meta.epoch,
            seq: e.meta.seq,
            origin: e.meta.origin,
        }
    }
}

impl WireEvent {
    /// Validate into an [`Event`].
    pub fn into_event(self) -> Result<Event, DecodeError> {
        let event_type = EventType::from_wire(&self.event_type)?;
        let event = Event {
            event_type,
            id: self.id,
            source: self.source,
            time: self.time,
            specversion: self.specversion,
            data: self.data,
            meta: Meta {
                epoch: self.epoch,
                seq: self.seq,
                origin: self.origin,
            },
            delivery: Delivery::Live,
        };
        validate(&event)?;
        Ok(event)
    }
}

/// Check what serde cannot: required strings present, a readable time, and
/// at least one value.
pub fn validate(e: &Event) -> Result<(), DecodeError> {
    let invalid = |what: &str| Err(DecodeError::Invalid(what.to_owned()));
    if e.id.is_empty() {
        return invalid("id is empty");
    }
    if e.source.is_empty() {
        return invalid("source is empty");
    }
    if !crate::time::is_valid(&e.time) {
        return Err(DecodeError::Invalid(format!(
            "time {:?} is not RFC 3339",
            e.time
        )));
    }
    if e.data.values.is_empty() {
        return invalid("data.values is empty");
    }
    if e.data.values.iter().any(|v| v.resource_address.is_empty()) {
        return invalid("a value has an empty ResourceAddress");
    }
    Ok(())
}

/// What [`encode_event`] reserves for a body.
const ENCODE_CAPACITY: usize = 512;

/// Encode an event. Fails only if the event cannot be represented, which
/// does not happen for events built by this crate.
pub fn encode_event(event: &Event) -> Result<Frames, DecodeError> {
    // Sized for a typical event (~400 bytes) so that encoding is one
    // allocation, not a chain of reallocations from empty.
    let mut body = Vec::with_capacity(ENCODE_CAPACITY);
    write_event(event, &mut body)?;
    Ok(Frames {
        topic: event.event_type.as_str().as_bytes().to_vec(),
        body,
    })
}

/// Append an event's body (what [`encode_event`] puts in its body frame)
/// to `out`.
pub fn write_event(event: &Event, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    rmp_serde::encode::write_named(out, &EventOut::from(event))
        .map_err(|e| DecodeError::Body(e.to_string()))
}

/// Encode a heartbeat.
pub fn encode_heartbeat(heartbeat: &Heartbeat) -> Frames {
    Frames {
        topic: HEARTBEAT.as_str().as_bytes().to_vec(),
        body: encode_plain(heartbeat),
    }
}

/// Encode a sync marker.
pub fn encode_sync(marker: &SyncMarker) -> Frames {
    Frames {
        topic: SYNC_TOPIC.as_bytes().to_vec(),
        body: encode_plain(marker),
    }
}

/// Plain structs of integers and strings always encode.
pub(crate) fn encode_plain<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).unwrap_or_default()
}

/// Decode a message from its frames, as received from a ZeroMQ socket.
pub fn decode_frames<B: AsRef<[u8]>>(
    frames: &[B],
    max_body: usize,
) -> Result<Message, DecodeError> {
    match frames {
        [topic, body] => decode(topic.as_ref(), body.as_ref(), max_body),
        other => Err(DecodeError::FrameCount(other.len())),
    }
}

/// Decode a message from its topic and body.
pub fn decode(topic: &[u8], body: &[u8], max_body: usize) -> Result<Message, DecodeError> {
    if body.len() > max_body {
        return Err(DecodeError::TooLarge {
            len: body.len(),
            max: max_body,
        });
    }
    let topic = std::str::from_utf8(topic).map_err(|_| DecodeError::TopicNotUtf8)?;
    if topic == HEARTBEAT.as_str() {
        return decode_plain(body).map(Message::Heartbeat);
    }
    if topic == SYNC_TOPIC {
        return decode_plain(body).map(Message::Sync);
    }
    let event_type = EventType::from_wire(topic)?;
    let event = match fast::view(body) {
        Some(view) => view.to_event()?,
        None => decode_plain::<WireEvent>(body)?.into_event()?,
    };
    if event.event_type != event_type {
        return Err(DecodeError::TopicMismatch {
            topic: topic.to_owned(),
            body_type: event.event_type.to_string(),
        });
    }
    Ok(Message::Event(event))
}

/// Decode an event message into `into`, a spent event whose strings and
/// values are reused, when it is in the common shape: `true` if `into` now
/// holds exactly the event [`decode`] would give (marked live). `false` for
/// anything else — a heartbeat, a marker, another shape, an alias topic, an
/// invalid event — and then [`decode`] decides and says why; `into` holds
/// whatever it holds then.
pub fn decode_event_into(topic: &[u8], body: &[u8], max_body: usize, into: &mut Event) -> bool {
    if body.len() > max_body {
        return false;
    }
    let Ok(topic) = std::str::from_utf8(topic) else {
        return false;
    };
    if topic == HEARTBEAT.as_str() || topic == SYNC_TOPIC {
        return false;
    }
    match fast::view(body) {
        // The body's type is the topic as written: decode's check that they
        // name the same type holds without building the topic's.
        Some(view) if view.event_type == topic => view.fill(into).is_ok(),
        _ => false,
    }
}

/// Decode a body that must be a MessagePack map. rmp-serde would also read
/// a positional array into a struct; the protocol promises named fields, so
/// an array is refused rather than silently read by position.
pub(crate) fn decode_plain<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, DecodeError> {
    match body.first() {
        Some(0x80..=0x8f | 0xde | 0xdf) => {}
        Some(_) => {
            return Err(DecodeError::Body(
                "body is not a MessagePack map".to_owned(),
            ));
        }
        None => return Err(DecodeError::Body("body is empty".to_owned())),
    }
    rmp_serde::from_slice(body).map_err(|e| DecodeError::Body(e.to_string()))
}

#[cfg(test)]
mod tests;
