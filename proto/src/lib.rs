//! The event model every part of ptp-broker passes around, and its two
//! encodings: O-RAN CloudEvent JSON (what the upstream speaks) and ZeroMQ
//! frames with a MessagePack body (what the broker and clients speak).
//!
//! ```
//! use proto::{Event, frame};
//!
//! let event = Event::synthetic(catalog::OS_CLOCK_SYNC.into(), "holdover".parse()?);
//! assert_eq!(event.data.values[0].value, "HOLDOVER");
//!
//! let frames = frame::encode_event(&event)?;
//! let back = frame::decode(&frames.topic, &frames.body, frame::DEFAULT_MAX_BODY)?;
//! assert_eq!(back, frame::Message::Event(event));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Layout: [`event`] is the model (CloudEvent core, O-RAN `data`, broker
//! metadata) and the content a producer supplies; [`cloudevent`] reads every
//! upstream JSON shape (v2, v1, binary mode, StarlingX time and legacy keyed
//! format) and writes the O-RAN v2 shape; [`frame`] owns the ZeroMQ frames
//! (event, heartbeat, sync marker) with the decode size limit; [`query`] is
//! the request/reply protocol of the query endpoint; [`subscription`] a
//! sink subscription as written in config, requests and the state
//! directory; [`validate`] is
//! what every event must carry (bounded, printable, a known state or a
//! number of the right kind per O-RAN type). `docs/PROTOCOL.md`
//! describes the same bytes for other languages.
#![deny(missing_docs)]

pub mod cloudevent;
pub mod event;
pub mod frame;
pub mod query;
pub mod subscription;
mod time;
pub mod validate;
pub mod zmtp;

pub use event::{Content, Data, DataType, Delivery, Event, Meta, Origin, Value, ValueType};
pub use frame::{DecodeError, Frames, Message};
