//! The query endpoint's request/reply protocol (a ZeroMQ ROUTER on the
//! broker; clients use REQ or DEALER).
//!
//! A request is one frame, a MessagePack map with an `op` field; the reply is
//! one frame, a MessagePack map with `ok`. Both are described in
//! `docs/PROTOCOL.md`.

use std::collections::BTreeMap;

use catalog::EventType;
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::frame::{DecodeError, WireEvent, decode_plain, encode_plain};
use crate::subscription::{Listed, Spec};

/// Largest request the broker reads.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Largest reply a client reads (a full snapshot of many resources).
pub const MAX_REPLY: usize = 16 * 1024 * 1024;

/// What a client asks the query endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Request {
    /// The latest event per (type, resource address) for the selected
    /// types, one page at a time: the events with seq above `after`, by
    /// seq; the reply's `more` says whether to ask again after the last.
    State {
        /// Exact event types (any name [`EventType::new`] accepts).
        #[serde(default)]
        types: Vec<String>,
        /// Also every type that starts with this string.
        #[serde(default)]
        prefix: String,
        /// Only events with a seq above this (0: from the start).
        #[serde(default)]
        after: u64,
    },
    /// Publish a [`crate::frame::SyncMarker`] with this token on PUB, then
    /// reply. A client that receives the marker knows its subscription is in
    /// effect.
    Sync {
        /// Chosen by the client; echoed in the marker.
        token: String,
    },
    /// The broker's counters (accepted, rejected, dropped…).
    Stats,
    /// Accept this event, as if pushed to PULL, and answer with the sequence
    /// number it was given: a confirmed emit.
    Emit {
        /// The event (stamps are ignored; the broker stamps).
        event: Box<WireEvent>,
    },
    /// Add a subscription (docs/SINKS.md); the reply lists it, with its id.
    Subscribe {
        /// What to deliver where.
        subscription: Box<Spec>,
    },
    /// Remove a run-time subscription.
    Unsubscribe {
        /// Its id.
        id: String,
    },
    /// List every subscription.
    Subscriptions,
}

/// Which types a [`Request::State`] selects, with the type names resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    types: Vec<EventType>,
    prefix: String,
}

impl Selector {
    /// Resolve the names of a state request. Both empty selects everything.
    pub fn new(types: &[String], prefix: &str) -> Result<Selector, catalog::EventTypeError> {
        let types = types
            .iter()
            .map(|t| EventType::new(t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Selector {
            types,
            prefix: prefix.to_owned(),
        })
    }

    /// Does the selection include `t`? Types match exactly, never by being a
    /// prefix of another type; only `prefix` matches by prefix.
    pub fn matches(&self, t: &EventType) -> bool {
        (self.types.is_empty() && self.prefix.is_empty())
            || self.types.contains(t)
            || (!self.prefix.is_empty() && t.as_str().starts_with(&self.prefix))
    }
}

/// The query endpoint's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    /// Why the request failed; `None` when it succeeded.
    pub error: Option<String>,
    /// The broker run.
    pub epoch: u64,
    /// The latest sequence number the answer is current as of.
    pub seq: u64,
    /// For `state`: the latest event per (type, resource address), by seq,
    /// of this page.
    pub events: Vec<Event>,
    /// For `state`: more events follow; ask again with `after` set to the
    /// last event's seq.
    pub more: bool,
    /// For `state`: selected event types the broker follows an upstream for
    /// but has no state of yet (unknown, not absent).
    pub unknown: Vec<String>,
    /// For `stats`: named counters.
    pub counters: BTreeMap<String, u64>,
    /// For `subscribe`, `unsubscribe` and `subscriptions`: the
    /// subscriptions concerned.
    pub subscriptions: Vec<Listed>,
    /// For `stats`: the PUB socket's subscriber connections now.
    pub connections: Vec<Connection>,
}

/// One subscriber connection of the PUB socket, as `stats` lists it (like
/// nats-server's `/connz`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Connection {
    /// The peer: `IP:port`, or the ipc socket path.
    pub peer: String,
    /// Its topic prefixes, in the order received (`""`: everything);
    /// bytes that are not UTF-8 are replaced.
    pub subscriptions: Vec<String>,
    /// Messages waiting in its queue.
    pub queue_depth: u64,
    /// Messages dropped for it because its queue was full.
    pub dropped: u64,
    /// Seconds since it connected.
    pub connected_s: u64,
}

#[derive(Serialize)]
struct ReplyOut<'a> {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    epoch: u64,
    seq: u64,
    events: Vec<crate::frame::EventOut<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    more: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    unknown: &'a [String],
    counters: &'a BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "<[Listed]>::is_empty")]
    subscriptions: &'a [Listed],
    #[serde(skip_serializing_if = "<[Connection]>::is_empty")]
    connections: &'a [Connection],
}

#[derive(Deserialize)]
struct ReplyIn {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    epoch: u64,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    events: Vec<WireEvent>,
    #[serde(default)]
    more: bool,
    #[serde(default)]
    unknown: Vec<String>,
    #[serde(default)]
    counters: BTreeMap<String, u64>,
    #[serde(default)]
    subscriptions: Vec<Listed>,
    #[serde(default)]
    connections: Vec<Connection>,
}

/// Encode a request.
pub fn encode_request(request: &Request) -> Vec<u8> {
    encode_plain(request)
}

/// Decode a request, refusing one over [`MAX_REQUEST`].
pub fn decode_request(body: &[u8]) -> Result<Request, DecodeError> {
    if body.len() > MAX_REQUEST {
        return Err(DecodeError::TooLarge {
            len: body.len(),
            max: MAX_REQUEST,
        });
    }
    decode_plain(body)
}

/// Encode a reply.
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    encode_plain(&ReplyOut {
        ok: reply.error.is_none(),
        error: reply.error.as_deref(),
        epoch: reply.epoch,
        seq: reply.seq,
        events: reply.events.iter().map(Into::into).collect(),
        more: reply.more,
        unknown: &reply.unknown,
        counters: &reply.counters,
        subscriptions: &reply.subscriptions,
        connections: &reply.connections,
    })
}

/// Decode a reply, validating every event in it.
pub fn decode_reply(body: &[u8]) -> Result<Reply, DecodeError> {
    if body.len() > MAX_REPLY {
        return Err(DecodeError::TooLarge {
            len: body.len(),
            max: MAX_REPLY,
        });
    }
    let wire: ReplyIn = decode_plain(body)?;
    let error = match (wire.ok, wire.error) {
        (true, _) => None,
        (false, e) => Some(e.unwrap_or_else(|| "the broker gave no reason".to_owned())),
    };
    Ok(Reply {
        error,
        epoch: wire.epoch,
        seq: wire.seq,
        events: wire
            .events
            .into_iter()
            .map(WireEvent::into_event)
            .collect::<Result<_, _>>()?,
        more: wire.more,
        unknown: wire.unknown,
        counters: wire.counters,
        subscriptions: wire.subscriptions,
        connections: wire.connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Content;

    #[test]
    fn requests_round_trip_as_maps_with_op() {
        for r in [
            Request::State {
                types: vec!["OS_CLOCK_SYNC".into()],
                prefix: String::new(),
                after: 0,
            },
            Request::State {
                types: vec![],
                prefix: "event.sync.".into(),
                after: 1 << 40,
            },
            Request::Sync {
                token: "abc".into(),
            },
            Request::Stats,
            Request::Subscriptions,
            Request::Unsubscribe { id: "a".into() },
            Request::Subscribe {
                subscription: Box::new(Spec {
                    uri: "tcp:127.0.0.1:8080/m".into(),
                    types: vec!["event.sync.*".into()],
                    sync: Some(true),
                    ..Spec::default()
                }),
            },
            Request::Emit {
                event: Box::new(WireEvent::from(&Event::synthetic(
                    catalog::SYNC_STATE.into(),
                    Content::parse("LOCKED", None).unwrap(),
                ))),
            },
        ] {
            let bytes = encode_request(&r);
            assert!(matches!(bytes[0], 0x80..=0x8f), "a map");
            assert_eq!(decode_request(&bytes), Ok(r));
        }
    }

    #[test]
    fn a_state_request_may_omit_its_fields() {
        // {"op": "state"}
        let bytes = b"\x81\xa2op\xa5state";
        assert_eq!(
            decode_request(bytes),
            Ok(Request::State {
                types: vec![],
                prefix: String::new(),
                after: 0,
            })
        );
        assert!(decode_request(b"\x81\xa2op\xa4nope").is_err());
        assert!(decode_request(b"\xc0").is_err());
    }

    #[test]
    fn replies_round_trip_with_events() {
        let mut e = Event::synthetic(
            catalog::PTP_LOCK_STATE.into(),
            Content::parse("LOCKED", None).unwrap(),
        );
        e.meta.seq = 5;
        e.meta.epoch = 9;
        let reply = Reply {
            epoch: 9,
            seq: 5,
            events: vec![e],
            more: true,
            unknown: vec![catalog::OS_CLOCK_SYNC.oran_type().into()],
            ..Reply::default()
        };
        assert_eq!(decode_reply(&encode_reply(&reply)), Ok(reply));
        let listed = Reply {
            subscriptions: vec![Listed {
                declared: crate::subscription::Declared::Runtime,
                subscription: Spec {
                    id: Some("x".into()),
                    uri: "nats://127.0.0.1:4222".into(),
                    ..Spec::default()
                },
            }],
            ..Reply::default()
        };
        assert_eq!(decode_reply(&encode_reply(&listed)), Ok(listed));
        let err = Reply {
            error: Some("bad".into()),
            ..Reply::default()
        };
        assert_eq!(decode_reply(&encode_reply(&err)), Ok(err));
    }

    #[test]
    fn selector_matches_exactly_or_by_explicit_prefix() {
        let all = Selector::new(&[], "").unwrap();
        let one = Selector::new(&["SYNCE_LOCK_STATE".into()], "").unwrap();
        let prefix = Selector::new(&[], "event.sync.synce-status.").unwrap();
        let synce: EventType = catalog::SYNCE_LOCK_STATE.into();
        let extended: EventType = catalog::SYNCE_LOCK_STATE_EXTENDED.into();
        let ptp: EventType = catalog::PTP_LOCK_STATE.into();
        assert!(all.matches(&ptp));
        assert!(one.matches(&synce));
        assert!(!one.matches(&extended));
        assert!(prefix.matches(&synce) && prefix.matches(&extended) && !prefix.matches(&ptp));
        assert!(Selector::new(&["Bad Name".into()], "").is_err());
    }
}
