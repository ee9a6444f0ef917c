//! The validated name of an event type: what travels as the ZeroMQ topic.
//!
//! # Naming rule
//!
//! An event type is 3 to [`MAX_TYPE_LEN`] bytes of lowercase ASCII letters,
//! digits, `-` and `_`, in at least two non-empty segments separated by `.`
//! (for example `com.example.radio.carrier-state`). Two namespaces are
//! reserved:
//!
//! - `event.sync.` belongs to O-RAN: only the types in [`crate::ALL`] (and
//!   their old spellings, which are rewritten to the current one) are accepted.
//! - `ptp-broker.` belongs to the broker itself (e.g. [`HEARTBEAT`]); nobody
//!   else may emit into it.
//!
//! Everything else that follows the rule is an application type, as in
//! LEAP's open catalog.

use std::borrow::Cow;
use std::fmt;

use crate::oran::{self, OranEvent};

/// Longest accepted event type, in bytes.
pub const MAX_TYPE_LEN: usize = 255;

/// Prefix of the broker's own event types.
pub const BROKER_NAMESPACE: &str = "ptp-broker.";

/// Prefix of the O-RAN event types.
const ORAN_NAMESPACE: &str = "event.sync.";

/// The broker's liveness beacon, published on PUB at a fixed interval.
pub const HEARTBEAT: EventType = EventType(Cow::Borrowed("ptp-broker.heartbeat"));

/// A validated event type name. Cheap to clone for the catalog constants.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(Cow<'static, str>);

/// Why a string is not an acceptable event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventTypeError {
    /// Empty, too short or too long.
    #[error("event type must be 3 to {MAX_TYPE_LEN} bytes, got {0}")]
    Length(usize),
    /// A character outside `a-z 0-9 - _ .`.
    #[error("event type {0:?} has a character other than a-z, 0-9, '-', '_' or '.'")]
    Character(String),
    /// Fewer than two segments, or an empty segment.
    #[error("event type {0:?} must be two or more non-empty dot-separated segments")]
    Segments(String),
    /// In `event.sync.` but not an O-RAN type this broker knows.
    #[error(
        "unknown O-RAN event type {0:?} (the event.sync. namespace holds only the catalog types)"
    )]
    UnknownOran(String),
    /// In the broker's own `ptp-broker.` namespace.
    #[error("event type {0:?} is in the namespace reserved for the broker")]
    Reserved(String),
}

impl EventType {
    /// Validate `s` as an event type.
    ///
    /// Accepts an O-RAN type string, an O-RAN constant name (`OS_CLOCK_SYNC`,
    /// any case), an O-RAN resource path (`/sync/ptp-status/lock-state`), an
    /// old spelling of any of these, or an application type that follows the
    /// naming rule. O-RAN names come back as the canonical type string.
    pub fn new(s: &str) -> Result<EventType, EventTypeError> {
        if let Some(e) = oran::lookup(s) {
            return Ok(e.into());
        }
        Self::check_grammar(s)?;
        if s.starts_with(ORAN_NAMESPACE) {
            return Err(EventTypeError::UnknownOran(s.to_owned()));
        }
        if s.starts_with(BROKER_NAMESPACE) {
            return Err(EventTypeError::Reserved(s.to_owned()));
        }
        Ok(EventType(Cow::Owned(s.to_owned())))
    }

    /// Validate a type that arrived from the broker itself (e.g. on PUB),
    /// where the broker namespace is allowed. O-RAN types must be canonical.
    pub fn from_wire(s: &str) -> Result<EventType, EventTypeError> {
        if s == HEARTBEAT.as_str() {
            return Ok(HEARTBEAT);
        }
        if s.starts_with(BROKER_NAMESPACE) {
            Self::check_grammar(s)?;
            return Ok(EventType(Cow::Owned(s.to_owned())));
        }
        Self::new(s)
    }

    fn check_grammar(s: &str) -> Result<(), EventTypeError> {
        if !(3..=MAX_TYPE_LEN).contains(&s.len()) {
            return Err(EventTypeError::Length(s.len()));
        }
        if !s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        }) {
            return Err(EventTypeError::Character(s.to_owned()));
        }
        if s.split('.').count() < 2 || s.split('.').any(str::is_empty) {
            return Err(EventTypeError::Segments(s.to_owned()));
        }
        Ok(())
    }

    /// The type string, as it appears in the topic frame and CloudEvent `type`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The O-RAN event kind, if this is one.
    pub fn oran(&self) -> Option<OranEvent> {
        oran::ALL
            .iter()
            .find(|e| e.oran_type() == self.as_str())
            .copied()
    }

    /// Is this one of the broker's own types (heartbeat and the like)?
    pub fn is_broker_internal(&self) -> bool {
        self.0.starts_with(BROKER_NAMESPACE)
    }
}

impl From<OranEvent> for EventType {
    fn from(e: OranEvent) -> Self {
        EventType(Cow::Borrowed(e.oran_type()))
    }
}

impl From<&OranEvent> for EventType {
    fn from(e: &OranEvent) -> Self {
        (*e).into()
    }
}

impl TryFrom<&str> for EventType {
    type Error = EventTypeError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        EventType::new(s)
    }
}

impl TryFrom<String> for EventType {
    type Error = EventTypeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        EventType::new(&s)
    }
}

impl std::str::FromStr for EventType {
    type Err = EventTypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::new(s)
    }
}

impl AsRef<str> for EventType {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<OranEvent> for EventType {
    fn eq(&self, other: &OranEvent) -> bool {
        self.as_str() == other.oran_type()
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventType({})", self.0)
    }
}

impl serde::Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        EventType::from_wire(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oran::*;

    #[test]
    fn oran_names_become_the_canonical_type() {
        for s in [
            "OS_CLOCK_SYNC",
            "os_clock_sync",
            "event.sync.sync-status.os-clock-sync-state-change",
            "/sync/sync-status/os-clock-sync-state",
        ] {
            assert_eq!(EventType::new(s).unwrap(), OS_CLOCK_SYNC, "{s}");
        }
        let old = EventType::new("event.sync.synce-status.sync-clock-quality-change").unwrap();
        assert_eq!(old.as_str(), SYNCE_CLOCK_QUALITY.oran_type());
        assert_eq!(old.oran(), Some(SYNCE_CLOCK_QUALITY));
    }

    #[test]
    fn application_types_follow_the_rule() {
        for ok in [
            "com.example.radio",
            "a.b",
            "x1.y_2.z-3",
            "app.carrier-state",
        ] {
            let t = EventType::new(ok).unwrap();
            assert_eq!(t.as_str(), ok);
            assert_eq!(t.oran(), None);
            assert!(!t.is_broker_internal());
        }
    }

    #[test]
    fn bad_names_get_a_precise_error() {
        let long = format!("a.{}", "b".repeat(MAX_TYPE_LEN));
        type Check = fn(&EventTypeError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, EventTypeError::Length(0))),
            ("ab", |e| matches!(e, EventTypeError::Length(2))),
            (&long, |e| matches!(e, EventTypeError::Length(_))),
            ("Com.Example", |e| matches!(e, EventTypeError::Character(_))),
            ("a b.c", |e| matches!(e, EventTypeError::Character(_))),
            ("a.b/c", |e| matches!(e, EventTypeError::Character(_))),
            ("nodots", |e| matches!(e, EventTypeError::Segments(_))),
            ("a..b", |e| matches!(e, EventTypeError::Segments(_))),
            (".ab", |e| matches!(e, EventTypeError::Segments(_))),
            ("ab.", |e| matches!(e, EventTypeError::Segments(_))),
            ("event.sync.ptp-status.made-up", |e| {
                matches!(e, EventTypeError::UnknownOran(_))
            }),
            ("ptp-broker.heartbeat", |e| {
                matches!(e, EventTypeError::Reserved(_))
            }),
            ("ptp-broker.anything", |e| {
                matches!(e, EventTypeError::Reserved(_))
            }),
        ];
        for (input, check) in cases {
            let err = EventType::new(input).unwrap_err();
            assert!(check(&err), "{input:?} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn the_wire_accepts_the_broker_namespace() {
        assert_eq!(
            EventType::from_wire("ptp-broker.heartbeat").unwrap(),
            HEARTBEAT
        );
        assert!(HEARTBEAT.is_broker_internal());
        assert!(EventType::from_wire("event.sync.nope.nope").is_err());
    }

    #[test]
    fn a_type_is_not_equal_to_one_it_prefixes() {
        let short = EventType::from(SYNCE_LOCK_STATE);
        let long = EventType::from(SYNCE_LOCK_STATE_EXTENDED);
        assert!(long.as_str().starts_with(short.as_str()));
        assert_ne!(short, long);
    }
}
