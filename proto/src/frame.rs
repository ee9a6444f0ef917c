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
mod tests {
    use super::*;
    use crate::event::{Content, DataType, Value, ValueType};

    fn fixed_event() -> Event {
        Event {
            event_type: catalog::OS_CLOCK_SYNC.into(),
            id: "id-1".into(),
            source: "/sync/sync-status/os-clock-sync-state".into(),
            time: "2024-08-28T14:50:57.327585316Z".into(),
            specversion: "1.0".into(),
            data: Data {
                version: "1.0".into(),
                values: vec![Value {
                    resource_address: "/cluster/node/n1/CLOCK_REALTIME".into(),
                    data_type: DataType::Notification,
                    value_type: ValueType::Enumeration,
                    value: "LOCKED".into(),
                }],
            },
            meta: Meta {
                epoch: 7,
                seq: 42,
                origin: Origin::Upstream,
            },
            delivery: Delivery::Live,
        }
    }

    #[test]
    fn event_round_trips() {
        let e = fixed_event();
        let f = encode_event(&e).unwrap();
        assert_eq!(
            f.topic,
            b"event.sync.sync-status.os-clock-sync-state-change"
        );
        assert_eq!(
            decode(&f.topic, &f.body, DEFAULT_MAX_BODY),
            Ok(Message::Event(e))
        );
    }

    #[test]
    fn body_is_a_map_with_named_fields() {
        let f = encode_event(&fixed_event()).unwrap();
        let v = rmpv::decode::read_value(&mut f.body.as_slice()).unwrap();
        let map = v.as_map().expect("body is a map");
        let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_str().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "type",
                "id",
                "source",
                "time",
                "specversion",
                "data",
                "epoch",
                "seq",
                "origin"
            ]
        );
        let field = |name: &str| {
            &map.iter()
                .find(|(k, _)| k.as_str() == Some(name))
                .unwrap()
                .1
        };
        assert_eq!(field("origin").as_str(), Some("upstream"));
        assert_eq!(field("seq").as_u64(), Some(42));
        let value = &field("data").as_map().unwrap()[1].1.as_array().unwrap()[0];
        let vkeys: Vec<&str> = value
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap())
            .collect();
        assert_eq!(
            vkeys,
            ["ResourceAddress", "data_type", "value_type", "value"]
        );
    }

    /// The exact bytes other-language clients are written against
    /// (docs/PROTOCOL.md shows the same hex). Changing them breaks clients.
    #[test]
    fn golden_bytes() {
        let f = encode_event(&fixed_event()).unwrap();
        let hex: String = f.body.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, GOLDEN_EVENT_HEX);
        let hb = encode_heartbeat(&Heartbeat {
            epoch: 7,
            seq: 42,
            interval_ms: 1000,
        });
        assert_eq!(hb.topic, b"ptp-broker.heartbeat");
        let hex: String = hb.body.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, GOLDEN_HEARTBEAT_HEX);
    }

    const GOLDEN_EVENT_HEX: &str = "89a474797065d9316576656e742e73796e632e73796e632d7374617475732e6f732d636c6f636b2d73796e632d73746174652d6368616e6765a26964a469642d31a6736f75726365d9252f73796e632f73796e632d7374617475732f6f732d636c6f636b2d73796e632d7374617465a474696d65be323032342d30382d32385431343a35303a35372e3332373538353331365aab7370656376657273696f6ea3312e30a46461746182a776657273696f6ea3312e30a676616c7565739184af5265736f7572636541646472657373bf2f636c75737465722f6e6f64652f6e312f434c4f434b5f5245414c54494d45a9646174615f74797065ac6e6f74696669636174696f6eaa76616c75655f74797065ab656e756d65726174696f6ea576616c7565a64c4f434b4544a565706f636807a37365712aa66f726967696ea8757073747265616d";
    const GOLDEN_HEARTBEAT_HEX: &str = "83a565706f636807a37365712aab696e74657276616c5f6d73cd03e8";

    #[test]
    fn emitted_events_need_no_stamps() {
        #[derive(Serialize)]
        struct Bare<'a> {
            #[serde(rename = "type")]
            t: &'a str,
            id: &'a str,
            source: &'a str,
            time: &'a str,
            specversion: &'a str,
            data: &'a Data,
        }
        let e = fixed_event();
        let body = rmp_serde::to_vec_named(&Bare {
            t: e.event_type.as_str(),
            id: &e.id,
            source: &e.source,
            time: &e.time,
            specversion: &e.specversion,
            data: &e.data,
        })
        .unwrap();
        let Ok(Message::Event(got)) =
            decode(e.event_type.as_str().as_bytes(), &body, DEFAULT_MAX_BODY)
        else {
            panic!("bare event did not decode");
        };
        assert_eq!(got.meta, Meta::default());
    }

    #[test]
    fn heartbeat_and_sync_round_trip() {
        let hb = Heartbeat {
            epoch: 1,
            seq: 2,
            interval_ms: 1000,
        };
        let f = encode_heartbeat(&hb);
        assert_eq!(decode(&f.topic, &f.body, 100), Ok(Message::Heartbeat(hb)));
        let m = SyncMarker {
            token: "t".into(),
            epoch: 1,
            seq: 2,
        };
        let f = encode_sync(&m);
        assert_eq!(decode(&f.topic, &f.body, 100), Ok(Message::Sync(m)));
    }

    #[test]
    fn bad_frames_give_typed_errors_never_panics() {
        let good = encode_event(&fixed_event()).unwrap();
        let other = encode_event(&Event::synthetic(
            catalog::PTP_LOCK_STATE.into(),
            Content::parse("LOCKED", None).unwrap(),
        ))
        .unwrap();
        let err = |t: &[u8], b: &[u8]| decode(t, b, 1024).unwrap_err();
        assert!(matches!(
            err(&good.topic, &vec![0; 2000]),
            DecodeError::TooLarge {
                len: 2000,
                max: 1024
            }
        ));
        assert!(matches!(
            err(b"\xff\xfe", &good.body),
            DecodeError::TopicNotUtf8
        ));
        assert!(matches!(
            err(b"NOT A TOPIC", &good.body),
            DecodeError::Topic(_)
        ));
        assert!(matches!(
            err(b"event.sync.x.unknown", &good.body),
            DecodeError::Topic(_)
        ));
        assert!(matches!(
            err(&other.topic, &good.body),
            DecodeError::TopicMismatch { .. }
        ));
        assert!(matches!(err(&good.topic, b""), DecodeError::Body(_)));
        assert!(matches!(
            err(&good.topic, b"\xc1garbage"),
            DecodeError::Body(_)
        ));
        assert!(matches!(
            err(b"ptp-broker.heartbeat", b"\x93\x01\x02\x03"),
            DecodeError::Body(_)
        ));
        // Every truncation of a good body is an error, not a panic.
        for n in 0..good.body.len() {
            assert!(
                decode(&good.topic, &good.body[..n], 1024).is_err(),
                "truncated at {n}"
            );
        }
        // A map claiming 4 billion entries must fail fast, not allocate.
        assert!(matches!(
            err(&good.topic, b"\xdf\xff\xff\xff\xff"),
            DecodeError::Body(_)
        ));
        assert!(matches!(
            decode_frames(&[b"a".as_slice()], 10),
            Err(DecodeError::FrameCount(1))
        ));
        assert!(matches!(
            decode_frames::<&[u8]>(&[b"a", b"b", b"c"], 10),
            Err(DecodeError::FrameCount(3))
        ));
    }

    #[test]
    fn invalid_fields_are_rejected() {
        let mut e = fixed_event();
        e.time = "yesterday".into();
        let f = encode_event(&e).unwrap();
        assert!(matches!(
            decode(&f.topic, &f.body, DEFAULT_MAX_BODY),
            Err(DecodeError::Invalid(_))
        ));
        let mut e = fixed_event();
        e.data.values.clear();
        let f = encode_event(&e).unwrap();
        assert!(matches!(
            decode(&f.topic, &f.body, DEFAULT_MAX_BODY),
            Err(DecodeError::Invalid(_))
        ));
        let mut e = fixed_event();
        e.id.clear();
        let f = encode_event(&e).unwrap();
        assert!(matches!(
            decode(&f.topic, &f.body, DEFAULT_MAX_BODY),
            Err(DecodeError::Invalid(_))
        ));
    }
}
