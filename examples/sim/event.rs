//! The CloudEvent the simulator pushes and serves, in each flavour's
//! exact JSON shape (REFERENCE §3). Own serde types: the simulator shares no
//! code with the broker it is used to test.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Flavor;
use crate::resource::{Resource, redhat_address};
use crate::scenario::ClockState;

/// A structured-mode CloudEvent 1.0 as sent by the v2 API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudEvent {
    /// Always `"1.0"`.
    pub specversion: String,
    /// A fresh UUID per event.
    pub id: String,
    /// The resource path, e.g. `/sync/ptp-status/lock-state`.
    pub source: String,
    /// The event type, e.g. `event.sync.ptp-status.ptp-state-change`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event happened, in the flavour's format.
    pub time: String,
    /// The payload.
    pub data: EventData,
}

/// The `data` member of an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventData {
    /// Always `"1.0"`.
    pub version: String,
    /// State and metric values.
    pub values: Vec<EventValue>,
}

/// One entry of `data.values`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventValue {
    /// What the value is about, e.g. `/cluster/node/n1/ens1f0/master`.
    #[serde(rename = "ResourceAddress")]
    pub resource_address: String,
    /// `notification` or `metric`.
    pub data_type: String,
    /// `enumeration`, `decimal64.3` (Red Hat) or `metric` (StarlingX).
    pub value_type: String,
    /// The value; numbers are strings too.
    pub value: String,
}

/// Format `time` as the flavour does: Red Hat RFC 3339 with nanoseconds,
/// StarlingX microseconds glued to the seconds (`2022-08-12T19:20:54896244Z`).
pub fn format_time(flavor: Flavor, time: DateTime<Utc>) -> String {
    match flavor {
        Flavor::RedHat => time.to_rfc3339_opts(SecondsFormat::Nanos, true),
        Flavor::StarlingX => time.format("%Y-%m-%dT%H:%M:%S%6fZ").to_string(),
    }
}

/// Build the event reporting the current value of `resource`.
pub fn build(
    flavor: Flavor,
    node: &str,
    interface: &str,
    resource: Resource,
    state: &ClockState,
    time: DateTime<Utc>,
) -> CloudEvent {
    CloudEvent {
        specversion: "1.0".into(),
        id: uuid::Uuid::new_v4().to_string(),
        source: resource.path().into(),
        event_type: resource.event_type().into(),
        time: format_time(flavor, time),
        data: EventData {
            version: "1.0".into(),
            values: match flavor {
                Flavor::RedHat => redhat_values(node, interface, resource, state),
                Flavor::StarlingX => starlingx_values(node, resource, state),
            },
        },
    }
}

fn value(address: String, data_type: &str, value_type: &str, value: String) -> EventValue {
    EventValue {
        resource_address: address,
        data_type: data_type.into(),
        value_type: value_type.into(),
        value,
    }
}

/// Red Hat: a state plus its offset, addressed to the clock they describe.
fn redhat_values(node: &str, iface: &str, resource: Resource, s: &ClockState) -> Vec<EventValue> {
    let at = |what: &str| format!("/cluster/node/{node}/{what}");
    let state = |a: String, v: &str| value(a, "notification", "enumeration", v.to_string());
    let metric = |a: String, v: i64| value(a, "metric", "decimal64.3", v.to_string());
    let master = at(&format!("{iface}/master"));
    match resource {
        Resource::PtpLockState => vec![
            state(master.clone(), &s.ptp_state),
            metric(master, s.ptp_offset),
        ],
        Resource::PtpClockClass => vec![metric(master, i64::from(s.clock_class))],
        Resource::OsClockSyncState => vec![
            state(at("CLOCK_REALTIME"), &s.os_state),
            metric(at("CLOCK_REALTIME"), s.os_offset),
        ],
        Resource::SyncState => vec![state(redhat_address(node, resource), &s.sync_state)],
        Resource::GnssSyncStatus => vec![
            state(at(iface), &s.gnss_state),
            metric(at(iface), s.gnss_offset),
            metric(at(&format!("{iface}/gpsFix")), i64::from(s.gps_fix)),
        ],
        Resource::SynceLockState => vec![state(at(iface), &s.synce_state)],
        Resource::SynceClockQuality => vec![
            metric(at(&format!("{iface}/Ql")), i64::from(s.synce_ql)),
            metric(at(&format!("{iface}/extQl")), i64::from(s.synce_ext_ql)),
        ],
    }
}

/// StarlingX: one value per event, addressed `/./<node><resource path>`
/// as its `format_resource_address` does; metrics have value_type `metric`.
fn starlingx_values(node: &str, resource: Resource, s: &ClockState) -> Vec<EventValue> {
    let address = format!("/./{node}{}", resource.path());
    let state = |v: &str| {
        vec![value(
            address.clone(),
            "notification",
            "enumeration",
            v.into(),
        )]
    };
    let metric = |v: u8| value(address.clone(), "metric", "metric", v.to_string());
    match resource {
        Resource::PtpLockState => state(&s.ptp_state),
        Resource::OsClockSyncState => state(&s.os_state),
        Resource::SyncState => state(&s.sync_state),
        Resource::GnssSyncStatus => state(&s.gnss_state),
        Resource::SynceLockState => state(&s.synce_state),
        Resource::PtpClockClass => vec![metric(s.clock_class)],
        Resource::SynceClockQuality => vec![metric(s.synce_ql), metric(s.synce_ext_ql)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 8, 12, 19, 20, 54)
            .single()
            .expect("valid date")
            + chrono::Duration::nanoseconds(896_244_123)
    }

    #[test]
    fn time_formats_per_flavour() {
        assert_eq!(
            format_time(Flavor::RedHat, at()),
            "2022-08-12T19:20:54.896244123Z"
        );
        assert_eq!(
            format_time(Flavor::StarlingX, at()),
            "2022-08-12T19:20:54896244Z"
        );
    }

    #[test]
    fn redhat_lock_state_matches_reference_shape() {
        let s = ClockState::locked();
        let e = build(
            Flavor::RedHat,
            "n1",
            "ens1f0",
            Resource::PtpLockState,
            &s,
            at(),
        );
        let json = serde_json::to_value(&e).expect("serialises");
        let values = serde_json::json!([
            {"ResourceAddress":"/cluster/node/n1/ens1f0/master","data_type":"notification","value_type":"enumeration","value":"LOCKED"},
            {"ResourceAddress":"/cluster/node/n1/ens1f0/master","data_type":"metric","value_type":"decimal64.3","value":"-3"}
        ]);
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["source"], "/sync/ptp-status/lock-state");
        assert_eq!(json["type"], "event.sync.ptp-status.ptp-state-change");
        assert_eq!(
            json["data"],
            serde_json::json!({"version":"1.0","values":values})
        );
        assert!(uuid::Uuid::parse_str(&e.id).is_ok());
        let keys: Vec<&String> = json.as_object().expect("object").keys().collect();
        assert_eq!(
            keys.len(),
            6,
            "no datacontenttype or extra members: {keys:?}"
        );
    }

    #[test]
    fn starlingx_clock_class_is_a_metric() {
        let s = ClockState::locked();
        let e = build(
            Flavor::StarlingX,
            "c0",
            "x",
            Resource::PtpClockClass,
            &s,
            at(),
        );
        assert_eq!(
            e.data.values,
            vec![value(
                "/./c0/sync/ptp-status/clock-class".into(),
                "metric",
                "metric",
                "6".into()
            )]
        );
    }
}
