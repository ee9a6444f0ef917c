//! O-RAN CloudEvent JSON: read every shape the upstreams send, write the v2 shape.
//!
//! Read (REFERENCE.md §3, seed 001):
//! - structured mode (`application/json` or `application/cloudevents+json`):
//!   one CloudEvent object, a batch (array) of them, or StarlingX's legacy
//!   keyed form `{"ptp-inst1": {event}, …}`;
//! - binary mode: attributes in `ce-*` headers, `data` as the body (spec
//!   version 0.3 or 1.0);
//! - value field names of v2 (`ResourceAddress`, `data_type`, `value_type`)
//!   and v1 (`resource`, `dataType`, `valueType`), numbers as strings or
//!   JSON numbers;
//! - Red Hat's RFC 3339 times and StarlingX's dotless ones;
//! - sdk-go's own event JSON (`dataContentType`, no `specversion`), which
//!   the Red Hat v1 stack and ptp-listener-lib exchange.
//!
//! Everything is normalized on the way in: the type to its current O-RAN
//! spelling, states to all caps, the time to RFC 3339 UTC.

use catalog::{EventType, EventTypeError, SyncState};
use serde_json::{Map, Value as Json, json};

use crate::event::{Data, DataType, Delivery, Event, Meta, Origin, Value, ValueType};

/// Why a JSON document is not an acceptable event. `Display` is one line,
/// fit for an HTTP 400 body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not JSON at all.
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// A required attribute is absent.
    #[error("missing required attribute {0:?}")]
    Missing(String),
    /// An attribute has the wrong JSON type or an unusable value.
    #[error("invalid {attribute:?}: {reason}")]
    Invalid {
        /// The attribute (dotted path inside `data`).
        attribute: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The `type` is not one this broker accepts.
    #[error("unsupported event type: {0}")]
    Type(#[from] EventTypeError),
    /// Nothing to read (an empty batch or keyed object).
    #[error("no event in the document")]
    NoEvent,
}

fn invalid(attribute: impl Into<String>, reason: impl Into<String>) -> JsonError {
    JsonError::Invalid {
        attribute: attribute.into(),
        reason: reason.into(),
    }
}

/// Parse a structured-mode body into one or more events (all or nothing).
pub fn parse_structured(body: &[u8]) -> Result<Vec<Event>, JsonError> {
    let doc: Json =
        serde_json::from_slice(body).map_err(|e| JsonError::Malformed(e.to_string()))?;
    let events = match doc {
        Json::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Json::Object(o) => parse_object(o),
                _ => Err(invalid("[]", "a batch holds only event objects")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Json::Object(o) if is_keyed_legacy(&o) => o
            .into_iter()
            .map(|(key, item)| match item {
                Json::Object(inner) => parse_object(inner),
                _ => Err(invalid(key, "a keyed entry must be an event object")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Json::Object(o) => vec![parse_object(o)?],
        _ => return Err(invalid("$", "expected a JSON object")),
    };
    if events.is_empty() {
        return Err(JsonError::NoEvent);
    }
    Ok(events)
}

/// StarlingX wraps events in an object keyed by instance or kind. It is that
/// form when there is no CloudEvent attribute at the top and every entry is
/// an object.
fn is_keyed_legacy(o: &Map<String, Json>) -> bool {
    !o.contains_key("type")
        && !o.contains_key("specversion")
        && !o.contains_key("id")
        && !o.is_empty()
        && o.values().all(Json::is_object)
}

fn parse_object(mut o: Map<String, Json>) -> Result<Event, JsonError> {
    let has_specversion = o.contains_key("specversion");
    let mut attr = |name: &str| -> Result<String, JsonError> {
        match o.remove(name) {
            Some(Json::String(s)) if !s.is_empty() => Ok(s),
            Some(Json::String(_)) => Err(invalid(name, "is empty")),
            Some(_) => Err(invalid(name, "must be a string")),
            None => Err(JsonError::Missing(name.to_owned())),
        }
    };
    // sdk-go's own event JSON (the Red Hat v1 stack, ptp-listener-lib) has
    // no `specversion`; it is a 1.0 event with the attribute left out.
    let specversion = match has_specversion {
        true => attr("specversion")?,
        false => "1.0".to_owned(),
    };
    let id = attr("id")?;
    let type_name = attr("type")?;
    let source = attr("source")?;
    let time = match o.remove("time") {
        None | Some(Json::Null) => None,
        Some(Json::String(t)) => Some(t),
        Some(_) => return Err(invalid("time", "must be a string")),
    };
    // `datacontenttype` (CloudEvents) or `dataContentType` (sdk-go): O-RAN
    // data is JSON, so only a JSON media type makes sense.
    for name in ["datacontenttype", "dataContentType"] {
        match o.remove(name) {
            None | Some(Json::Null) => {}
            Some(Json::String(t)) if is_json_media_type(&t) => {}
            Some(other) => {
                return Err(invalid(
                    name,
                    format!("{other} is not a JSON media type; O-RAN data is JSON"),
                ));
            }
        }
    }
    if o.contains_key("data_base64") {
        return Err(invalid(
            "data_base64",
            "O-RAN events carry JSON data, not base64",
        ));
    }
    let data = o
        .remove("data")
        .ok_or_else(|| JsonError::Missing("data".to_owned()))?;
    build(specversion, id, &type_name, source, time, data)
}

/// `application/json`, `text/json` or any `…+json`, parameters ignored.
fn is_json_media_type(t: &str) -> bool {
    let media = t.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/json")
        || media.eq_ignore_ascii_case("text/json")
        || media.to_ascii_lowercase().ends_with("+json")
}

/// Parse a binary-mode request: `header(name)` returns the value of an HTTP
/// header (case-insensitive name), `body` is the `data`.
pub fn parse_binary(
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<Event, JsonError> {
    let attr = |name: &str| {
        header(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| JsonError::Missing(name.to_owned()))
    };
    let specversion = attr("ce-specversion")?;
    let id = attr("ce-id")?;
    let type_name = attr("ce-type")?;
    let source = attr("ce-source")?;
    let time = header("ce-time");
    let data: Json =
        serde_json::from_slice(body).map_err(|e| JsonError::Malformed(e.to_string()))?;
    build(specversion, id, &type_name, source, time, data)
}

fn build(
    specversion: String,
    id: String,
    type_name: &str,
    source: String,
    time: Option<String>,
    data: Json,
) -> Result<Event, JsonError> {
    if !matches!(specversion.as_str(), "1.0" | "0.3") {
        return Err(invalid(
            "specversion",
            format!("{specversion:?} is not 1.0 or 0.3"),
        ));
    }
    let event_type = EventType::new(type_name)?;
    let time = match time {
        Some(t) => crate::time::normalize(&t)
            .ok_or_else(|| invalid("time", format!("{t:?} is not an RFC 3339 time")))?,
        // CloudEvents makes time optional; the broker needs one, so it uses
        // the moment it received the event.
        None => crate::time::now(),
    };
    Ok(Event {
        event_type,
        id,
        source,
        time,
        specversion,
        data: parse_data(data)?,
        meta: Meta {
            origin: Origin::Upstream,
            ..Meta::default()
        },
        delivery: Delivery::Live,
    })
}

fn parse_data(data: Json) -> Result<Data, JsonError> {
    let Json::Object(mut data) = data else {
        return Err(invalid("data", "must be an object"));
    };
    let version = match data.remove("version") {
        Some(Json::String(v)) => v,
        None | Some(Json::Null) => "1.0".to_owned(),
        Some(_) => return Err(invalid("data.version", "must be a string")),
    };
    let values = match data.remove("values") {
        Some(Json::Array(values)) => values,
        Some(_) => return Err(invalid("data.values", "must be an array")),
        None => return Err(JsonError::Missing("data.values".to_owned())),
    };
    if values.is_empty() {
        return Err(invalid("data.values", "is empty"));
    }
    let values = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_value(i, v))
        .collect::<Result<_, _>>()?;
    Ok(Data { version, values })
}

/// One entry of `data.values`, under its v2 or v1 field names.
fn parse_value(index: usize, v: Json) -> Result<Value, JsonError> {
    let at = |field: &str| format!("data.values[{index}].{field}");
    let Json::Object(mut v) = v else {
        return Err(invalid(
            format!("data.values[{index}]"),
            "must be an object",
        ));
    };
    let mut text = |names: [&str; 2]| -> Result<String, JsonError> {
        let found = names.iter().find_map(|n| v.remove(*n));
        match found {
            Some(Json::String(s)) if !s.is_empty() => Ok(s),
            Some(Json::String(_)) => Err(invalid(at(names[0]), "is empty")),
            Some(_) => Err(invalid(at(names[0]), "must be a string")),
            None => Err(JsonError::Missing(at(names[0]))),
        }
    };
    let resource_address = text(["ResourceAddress", "resource"])?;
    let data_type_text = text(["data_type", "dataType"])?;
    let value_type_text = text(["value_type", "valueType"])?;
    let data_type = DataType::parse(&data_type_text).ok_or_else(|| {
        invalid(
            at("data_type"),
            format!("{data_type_text:?} is not notification or metric"),
        )
    })?;
    let value_type = ValueType::parse(&value_type_text).ok_or_else(|| {
        invalid(
            at("value_type"),
            format!("{value_type_text:?} is not enumeration, decimal64.3, metric or redfish-event"),
        )
    })?;
    let value = match v.remove("value") {
        Some(Json::String(s)) => s,
        Some(Json::Number(n)) => n.to_string(),
        // Redfish events, and StarlingX's extended SyncE state, carry an
        // object; validation decides per type whether it may.
        Some(obj @ Json::Object(_)) => obj.to_string(),
        Some(_) => {
            return Err(invalid(
                at("value"),
                "must be a string, a number or an object",
            ));
        }
        None => return Err(JsonError::Missing(at("value"))),
    };
    let value = match value_type {
        // O-RAN.WG6 v03.00 wants states in all caps; older producers did not.
        ValueType::Enumeration => match value.parse::<SyncState>() {
            Ok(state) => state.to_string(),
            Err(_) => value,
        },
        _ => value,
    };
    Ok(Value {
        resource_address,
        data_type,
        value_type,
        value,
    })
}

/// The O-RAN v2 CloudEvent for `event`, as the upstream would push it. With
/// `stamps`, the broker's `epoch`, `seq` and `origin` are added as CloudEvents
/// extension attributes.
pub fn to_json(event: &Event, stamps: bool) -> Json {
    let values: Vec<Json> = event
        .data
        .values
        .iter()
        .map(|v| {
            json!({
                "ResourceAddress": v.resource_address,
                "data_type": v.data_type,
                "value_type": v.value_type,
                "value": v.value,
            })
        })
        .collect();
    let mut out = json!({
        "specversion": event.specversion,
        "id": event.id,
        "source": event.source,
        "type": event.event_type.as_str(),
        "time": event.time,
        "data": { "version": event.data.version, "values": values },
    });
    if let (true, Json::Object(o)) = (stamps, &mut out) {
        o.insert("epoch".into(), event.meta.epoch.into());
        o.insert("seq".into(), event.meta.seq.into());
        o.insert("origin".into(), json!(event.meta.origin));
    }
    out
}

#[cfg(test)]
mod tests;
