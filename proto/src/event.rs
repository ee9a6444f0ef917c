//! The event: CloudEvent core, O-RAN `data`, and the broker's metadata.

use std::fmt;

use catalog::{EventType, SyncState};
use serde::{Deserialize, Serialize};

/// One event as the broker stores and publishes it.
///
/// The field names follow the O-RAN v2 CloudEvent, so that the MessagePack
/// body ([`crate::frame`]) and the JSON ([`crate::cloudevent`]) read the same.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event type, also the topic frame (e.g. `event.sync.ptp-status.ptp-state-change`).
    pub event_type: EventType,
    /// CloudEvent `id`: unique per event from its producer (a UUID).
    pub id: String,
    /// CloudEvent `source`: the resource path the event is about.
    pub source: String,
    /// When the producer says it happened, RFC 3339 UTC.
    pub time: String,
    /// CloudEvents spec version the producer used (`1.0`, or `0.3` from v1 producers).
    pub specversion: String,
    /// The O-RAN payload.
    pub data: Data,
    /// Broker stamps; zero until the broker has accepted the event.
    pub meta: Meta,
    /// How the client delivered it. Set by the client library; never on the wire.
    pub delivery: Delivery,
}

/// The O-RAN `data` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Data {
    /// Notification API schema version, `1.0` today.
    pub version: String,
    /// What the event reports: usually a state and an offset.
    pub values: Vec<Value>,
}

/// One entry of `data.values`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Value {
    /// Full address of what is measured, e.g. `/cluster/node/n1/ens1f0/master`.
    #[serde(rename = "ResourceAddress")]
    pub resource_address: String,
    /// `notification` (a state) or `metric` (a number).
    pub data_type: DataType,
    /// How to read `value`.
    pub value_type: ValueType,
    /// The value as a string, as O-RAN sends it; states are all caps.
    pub value: String,
}

/// O-RAN `data_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// A state change (`value_type` enumeration).
    Notification,
    /// A measurement.
    Metric,
}

/// O-RAN `value_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueType {
    /// One of the sync states.
    #[serde(rename = "enumeration")]
    Enumeration,
    /// A decimal number with three digits (Red Hat metrics).
    #[serde(rename = "decimal64.3")]
    Decimal64_3,
    /// A number (StarlingX metrics).
    #[serde(rename = "metric")]
    Metric,
    /// A Redfish event payload.
    #[serde(rename = "redfish-event")]
    RedfishEvent,
}

impl DataType {
    /// The O-RAN spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            DataType::Notification => "notification",
            DataType::Metric => "metric",
        }
    }

    /// Parse an upstream spelling, ignoring case.
    pub fn parse(s: &str) -> Option<DataType> {
        match s.to_ascii_lowercase().as_str() {
            "notification" => Some(DataType::Notification),
            "metric" => Some(DataType::Metric),
            _ => None,
        }
    }
}

impl ValueType {
    /// The O-RAN spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            ValueType::Enumeration => "enumeration",
            ValueType::Decimal64_3 => "decimal64.3",
            ValueType::Metric => "metric",
            ValueType::RedfishEvent => "redfish-event",
        }
    }

    /// Parse an upstream spelling, ignoring case.
    pub fn parse(s: &str) -> Option<ValueType> {
        match s.to_ascii_lowercase().as_str() {
            "enumeration" => Some(ValueType::Enumeration),
            "decimal64.3" => Some(ValueType::Decimal64_3),
            "metric" => Some(ValueType::Metric),
            "redfish-event" => Some(ValueType::RedfishEvent),
            _ => None,
        }
    }
}

/// What the broker adds to every event it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// Random id of the broker run that stamped the event (1 ..= 2^53-1, so
    /// JSON readers keep it exact). A new epoch means the broker restarted.
    pub epoch: u64,
    /// Position of the event in that broker run, from 1, one per event of any
    /// type, without holes. A hole seen by a client is a lost event.
    pub seq: u64,
    /// Who produced it.
    pub origin: Origin,
}

/// Who produced an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Injected locally (`client::emit`, `ptp-broker emit`, tests).
    #[default]
    Synthetic,
    /// Received from the O-RAN upstream (cloud-event-proxy, ptp-notification).
    Upstream,
}

impl Origin {
    /// `synthetic` or `upstream`, as on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Origin::Synthetic => "synthetic",
            Origin::Upstream => "upstream",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a client library handed an event to a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Delivery {
    /// Published as it happened.
    #[default]
    Live,
    /// The current state given at registration, before any live event, like
    /// the O-RAN initial notification.
    Initial,
    /// The current state fetched after events were missed (a gap or a broker
    /// restart): intermediate changes were skipped; this is the state now.
    Repaired,
    /// The state of this resource is not known any more: the broker
    /// restarted and its new run holds no state for it (yet), or it follows
    /// an upstream that has not reported it. The event has no values
    /// ([`Event::state`] is `None`); treat the clock as not synchronized
    /// until a later delivery says otherwise. Made by the client library,
    /// never on the wire.
    Unknown,
}

impl Event {
    /// A new synthetic event of `event_type` with `content`, stamped with a
    /// fresh id and the current time.
    pub fn synthetic(event_type: EventType, content: Content) -> Event {
        let values = content.into_values(&event_type);
        Event {
            source: default_resource(&event_type),
            event_type,
            id: uuid::Uuid::new_v4().to_string(),
            time: crate::time::now(),
            specversion: "1.0".to_owned(),
            data: Data {
                version: "1.0".to_owned(),
                values,
            },
            meta: Meta::default(),
            delivery: Delivery::Live,
        }
    }

    /// The "state unknown" event a client hands a callback for `resource`
    /// of `event_type` ([`Delivery::Unknown`]), as of broker run `epoch` at
    /// sequence number `seq`.
    pub fn unknown(event_type: EventType, resource: &str, epoch: u64, seq: u64) -> Event {
        Event {
            event_type,
            id: format!("unknown-{epoch}-{seq}"),
            source: resource.to_owned(),
            time: crate::time::now(),
            specversion: "1.0".to_owned(),
            data: Data {
                version: "1.0".to_owned(),
                values: Vec::new(),
            },
            meta: Meta {
                epoch,
                seq,
                origin: Origin::Synthetic,
            },
            delivery: Delivery::Unknown,
        }
    }

    /// Who produced it: the upstream, or a synthetic emit (a test, a tool).
    pub fn origin(&self) -> Origin {
        self.meta.origin
    }

    /// Is this a "state unknown" delivery ([`Delivery::Unknown`])?
    pub fn is_unknown(&self) -> bool {
        self.delivery == Delivery::Unknown
    }

    /// The first sync state among the values, if any: what most callbacks want.
    pub fn state(&self) -> Option<SyncState> {
        self.data
            .values
            .iter()
            .filter(|v| v.value_type == ValueType::Enumeration)
            .find_map(|v| v.value.parse().ok())
    }

    /// The first metric among the values (an offset in ns, a clock class…).
    pub fn metric(&self) -> Option<f64> {
        self.data
            .values
            .iter()
            .filter(|v| v.data_type == DataType::Metric)
            .find_map(|v| v.value.trim().parse().ok())
    }

    /// The address that identifies what this event is about: the first
    /// value's `ResourceAddress`, or `source` if it has none. The broker keeps
    /// the latest event per (type, this address).
    pub fn resource_address(&self) -> &str {
        self.data
            .values
            .first()
            .map_or(self.source.as_str(), |v| v.resource_address.as_str())
    }
}

impl fmt::Display for Event {
    /// One line for terminals: `#seq type address STATE [offset=N ns]
    /// [origin]` (or `clock-class=N`, `clock-quality=N`, `value=N` for an
    /// event with a number only),
    /// then `(initial)`, `(repaired)` or `UNKNOWN (unknown)` for those deliveries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {} {}",
            self.meta.seq,
            self.event_type,
            self.resource_address()
        )?;
        if self.delivery == Delivery::Unknown {
            return f.write_str(" UNKNOWN (unknown)");
        }
        // States bare; numbers labelled: an offset when the event also has
        // a state, else what the type measures.
        let has_state = self
            .data
            .values
            .iter()
            .any(|v| v.data_type == DataType::Notification);
        for v in &self.data.values {
            match (v.data_type, has_state) {
                (DataType::Notification, _) => write!(f, " {}", v.value)?,
                (_, true) => write!(f, " offset={} ns", v.value)?,
                _ if self.event_type.as_str().ends_with("clock-class-change") => {
                    write!(f, " clock-class={}", v.value)?
                }
                _ if self.event_type.as_str().contains("clock-quality") => {
                    write!(f, " clock-quality={}", v.value)?
                }
                _ => write!(f, " value={}", v.value)?,
            }
        }
        write!(f, " [{}]", self.meta.origin)?;
        match self.delivery {
            Delivery::Initial => f.write_str(" (initial)"),
            Delivery::Repaired => f.write_str(" (repaired)"),
            _ => Ok(()),
        }
    }
}

/// The resource path a synthetic event of this type reports on by default.
fn default_resource(event_type: &EventType) -> String {
    match event_type.oran() {
        Some(e) => e.resource().to_owned(),
        None => format!("/{}", event_type.as_str()),
    }
}

/// What a producer emits: the `values` of an event, said simply.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Content {
    /// A sync state, optionally with its offset in ns, at the default resource.
    State {
        /// The state.
        state: SyncState,
        /// Offset from the reference in ns, sent as a metric value.
        offset: Option<i64>,
        /// Resource address; the type's resource path when `None`.
        resource: Option<String>,
    },
    /// One metric (clock class, offset…) at the default resource.
    Metric {
        /// The number, sent as a string.
        value: String,
        /// Resource address; the type's resource path when `None`.
        resource: Option<String>,
    },
    /// Exactly these values.
    Values(Vec<Value>),
}

impl Content {
    /// Read a command-line value: a sync state in any case, else a number,
    /// else an error.
    pub fn parse(value: &str, resource: Option<String>) -> Result<Content, String> {
        if let Ok(state) = value.parse::<SyncState>() {
            return Ok(Content::State {
                state,
                offset: None,
                resource,
            });
        }
        if value.trim().parse::<f64>().is_ok_and(f64::is_finite) {
            return Ok(Content::Metric {
                value: value.trim().to_owned(),
                resource,
            });
        }
        Err(format!(
            "{value:?} is neither a sync state (LOCKED, HOLDOVER, FREERUN, …) nor a number"
        ))
    }

    fn into_values(self, event_type: &EventType) -> Vec<Value> {
        let resource = |r: Option<String>| r.unwrap_or_else(|| default_resource(event_type));
        match self {
            Content::State {
                state,
                offset,
                resource: r,
            } => {
                let address = resource(r);
                let mut values = vec![Value {
                    resource_address: address.clone(),
                    data_type: DataType::Notification,
                    value_type: ValueType::Enumeration,
                    value: state.to_string(),
                }];
                if let Some(offset) = offset {
                    values.push(Value {
                        resource_address: address,
                        data_type: DataType::Metric,
                        value_type: ValueType::Decimal64_3,
                        value: offset.to_string(),
                    });
                }
                values
            }
            Content::Metric { value, resource: r } => vec![Value {
                resource_address: resource(r),
                data_type: DataType::Metric,
                value_type: ValueType::Decimal64_3,
                value,
            }],
            Content::Values(values) => values,
        }
    }
}

impl From<SyncState> for Content {
    fn from(state: SyncState) -> Self {
        Content::State {
            state,
            offset: None,
            resource: None,
        }
    }
}

impl From<Vec<Value>> for Content {
    fn from(values: Vec<Value>) -> Self {
        Content::Values(values)
    }
}

impl std::str::FromStr for Content {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Content::parse(s, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_state_uses_the_catalog_resource_and_all_caps() {
        let e = Event::synthetic(catalog::PTP_LOCK_STATE.into(), "Holdover".parse().unwrap());
        assert_eq!(e.source, "/sync/ptp-status/lock-state");
        assert_eq!(e.resource_address(), "/sync/ptp-status/lock-state");
        assert_eq!(e.data.values[0].value, "HOLDOVER");
        assert_eq!(e.state(), Some(SyncState::Holdover));
        assert_eq!(e.meta, Meta::default());
        assert_eq!(
            uuid::Uuid::parse_str(&e.id).map(|u| u.get_version_num()),
            Ok(4)
        );
    }

    #[test]
    fn content_with_offset_and_resource() {
        let content = Content::State {
            state: SyncState::Locked,
            offset: Some(-3),
            resource: Some("/cluster/node/n1/CLOCK_REALTIME".into()),
        };
        let e = Event::synthetic(catalog::OS_CLOCK_SYNC.into(), content);
        assert_eq!(e.data.values.len(), 2);
        assert_eq!(e.resource_address(), "/cluster/node/n1/CLOCK_REALTIME");
        assert_eq!(e.metric(), Some(-3.0));
    }

    #[test]
    fn content_parse_takes_states_and_numbers_only() {
        assert!(matches!(
            Content::parse("6", None),
            Ok(Content::Metric { .. })
        ));
        assert!(matches!(
            Content::parse("freerun", None),
            Ok(Content::State { .. })
        ));
        assert!(Content::parse("banana", None).is_err());
        assert!(Content::parse("NaN", None).is_err());
    }

    #[test]
    fn application_types_get_a_resource_from_their_name() {
        let t = EventType::new("com.example.carrier").unwrap();
        let e = Event::synthetic(t, Content::parse("1", None).unwrap());
        assert_eq!(e.source, "/com.example.carrier");
    }
}
