//! What an upstream push and a CurrentState event look like (REFERENCE.md
//! §3, the StarlingX "Push Notifications" and "Pull Status Notifications"
//! examples): a structured v2 CloudEvent, `Content-Type: application/json`,
//! no `ce-` headers, exactly the members `specversion`, `id`, `source`,
//! `type`, `time`, `data`, and in `data.values[]` exactly
//! `ResourceAddress`, `data_type`, `value_type`, `value`, all strings.

use serde_json::Value;

use crate::peers::webhook::Received;

/// The members of an upstream v2 event, no more (no `epoch`, `seq`,
/// `origin`, `datacontenttype`).
pub const EVENT_MEMBERS: [&str; 6] = ["data", "id", "source", "specversion", "time", "type"];

/// The members of each `data.values[]` entry.
pub const VALUE_MEMBERS: [&str; 4] = ["ResourceAddress", "data_type", "value", "value_type"];

/// The two ways the upstreams write `time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeForm {
    /// RFC 3339, as Red Hat writes it (`2024-08-28T14:50:57.327585316Z`).
    Rfc3339,
    /// StarlingX: microseconds straight after the seconds, no dot
    /// (`2022-08-12T19:20:54896244Z`).
    StarlingX,
}

/// How `time` is written, if in one of the upstreams' forms.
pub fn time_form(time: &str) -> Option<TimeForm> {
    let b = time.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let date_time = b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !date_time {
        return None;
    }
    let rest = &time[19..];
    let zone_ok = |z: &str| {
        z == "Z"
            || (z.len() == 6
                && (z.starts_with('+') || z.starts_with('-'))
                && z.as_bytes()[3] == b':'
                && z[1..3]
                    .bytes()
                    .chain(z[4..].bytes())
                    .all(|c| c.is_ascii_digit()))
    };
    if let Some(micros) = rest.strip_suffix('Z')
        && micros.len() == 6
        && micros.bytes().all(|c| c.is_ascii_digit())
    {
        return Some(TimeForm::StarlingX);
    }
    let zone_at = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (fraction, zone) = rest.split_at(zone_at);
    let fraction_ok = fraction.is_empty()
        || (fraction.len() > 1
            && fraction.starts_with('.')
            && fraction[1..].bytes().all(|c| c.is_ascii_digit()));
    (fraction_ok && zone_ok(zone)).then_some(TimeForm::Rfc3339)
}

/// A push or initial notification as the upstream sends it: POST,
/// `Content-Type: application/json`, no `ce-` header, and an event of
/// `event_type`; the event.
pub fn assert_push(r: &Received, event_type: &str, source: &str) -> Value {
    assert_eq!(r.method, "POST");
    let content_type = r.header("content-type").unwrap_or_default();
    assert!(
        content_type == "application/json" || content_type.starts_with("application/json;"),
        "a v2 push is Content-Type application/json: {:?}",
        r.header_map()
    );
    let ce: Vec<&String> = r
        .headers
        .iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("ce-"))
        .collect();
    assert!(
        ce.is_empty(),
        "a v2 push has no ce- headers (structured, not binary): {ce:?}"
    );
    let event = r.json();
    assert_event(&event, event_type, source);
    event
}

/// One upstream v2 event of `event_type` whose `source` is `source`.
pub fn assert_event(event: &Value, event_type: &str, source: &str) {
    let members: Vec<&str> = event
        .as_object()
        .unwrap_or_else(|| panic!("an event is an object: {event:#}"))
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = members.clone();
    sorted.sort();
    assert_eq!(
        sorted, EVENT_MEMBERS,
        "exactly the upstream's members, none of the broker's own: {event:#}"
    );
    assert_eq!(event["specversion"], "1.0", "{event:#}");
    assert!(
        event["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{event:#}"
    );
    assert_eq!(event["type"], event_type, "{event:#}");
    assert_eq!(event["source"], source, "{event:#}");
    let time = event["time"].as_str().unwrap_or_default();
    assert!(
        time_form(time).is_some(),
        "time in an upstream form: {time:?}"
    );
    let data = &event["data"];
    let mut data_members: Vec<&str> = data
        .as_object()
        .map(|d| d.keys().map(String::as_str).collect())
        .unwrap_or_default();
    data_members.sort();
    assert_eq!(data_members, ["values", "version"], "{event:#}");
    assert_eq!(data["version"], "1.0", "{event:#}");
    let values = data["values"].as_array().expect("data.values is an array");
    assert!(!values.is_empty(), "{event:#}");
    for v in values {
        let mut keys: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort();
        assert_eq!(keys, VALUE_MEMBERS, "a value's members: {event:#}");
        for k in VALUE_MEMBERS {
            assert!(v[k].is_string(), "{k} is a string: {event:#}");
        }
        assert!(
            ["notification", "metric"].contains(&v["data_type"].as_str().unwrap_or_default()),
            "{event:#}"
        );
        assert!(
            ["enumeration", "decimal64.3", "metric"]
                .contains(&v["value_type"].as_str().unwrap_or_default()),
            "{event:#}"
        );
    }
}

/// A lock-state event: first value the state (notification, enumeration)
/// at `address`, then the offset (metric) as a string.
pub fn assert_lock(event: &Value, state: &str, offset: i64, address: &str) {
    let values = &event["data"]["values"];
    let first = &values[0];
    assert_eq!(first["data_type"], "notification", "{event:#}");
    assert_eq!(first["value_type"], "enumeration", "{event:#}");
    assert_eq!(first["value"], state, "{event:#}");
    assert_eq!(first["ResourceAddress"], address, "{event:#}");
    let second = &values[1];
    assert_eq!(second["data_type"], "metric", "{event:#}");
    assert_eq!(
        second["value"],
        offset.to_string(),
        "numbers are strings: {event:#}"
    );
}

/// The state and offset a lock-state event carries.
pub fn lock_of(event: &Value) -> (String, String) {
    let values = &event["data"]["values"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (s(&values[0]["value"]), s(&values[1]["value"]))
}

#[test]
fn both_upstream_time_forms_are_told_apart() {
    use TimeForm::*;
    assert_eq!(time_form("2024-08-28T14:50:57.327585316Z"), Some(Rfc3339));
    assert_eq!(time_form("2024-08-28T14:50:57Z"), Some(Rfc3339));
    assert_eq!(time_form("2024-08-28T14:50:57.3+02:00"), Some(Rfc3339));
    assert_eq!(time_form("2022-08-12T19:20:54896244Z"), Some(StarlingX));
    assert_eq!(time_form("2022-08-12 19:20:54Z"), None);
    assert_eq!(time_form("2022-08-12T19:20:54.Z"), None);
    assert_eq!(time_form("yesterday"), None);
}
