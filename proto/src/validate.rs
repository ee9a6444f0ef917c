//! What an event may carry: the one check every source goes through (HTTP
//! receiver, PULL, confirmed emit, CurrentState seeding), so that nothing
//! untrue or unreadable is stored or reaches a callback.
//!
//! - Every identifier and value is bounded in length and free of control,
//!   bidirectional-formatting and zero-width characters (they make a value
//!   print as something it is not).
//! - For the O-RAN types each value is checked against its kind: a state
//!   must be one of that type's states (any spelling, stored in O-RAN all
//!   caps), a clock class an integer 0–255, a GNSS fix 0–5, a SyncE quality
//!   level 0–255, any other metric a decimal number. The table is in
//!   docs/PROTOCOL.md ("Values").
//! - Application-defined types keep free values within the same bounds.

use std::borrow::Cow;

use catalog::{EventType, OranEvent, SyncState};

use crate::event::{DataType, Event, ValueType};
use crate::frame::View;

/// Longest CloudEvent `id` (a UUID is 36 bytes).
pub const MAX_ID: usize = 128;
/// Longest `source` or `ResourceAddress`: `/cluster/node/` plus a 253-byte
/// DNS node name plus an interface and a resource path fit with room.
pub const MAX_ADDRESS: usize = 512;
/// Longest `value` of an application type or a Redfish event.
pub const MAX_VALUE: usize = 1024;
/// Longest number, as text.
pub const MAX_NUMBER: usize = 64;
/// Longest `specversion` or `data.version`.
pub const MAX_VERSION: usize = 16;
/// Most entries in `data.values` (real events carry one to three).
pub const MAX_VALUES: usize = 32;

/// The states of PTP lock state and OS clock sync state: what
/// cloud-event-proxy and StarlingX send for them (docs/PROTOCOL.md).
pub const CLOCK_STATES: &[SyncState] =
    &[SyncState::Locked, SyncState::Holdover, SyncState::Freerun];

/// The overall sync-state: the clock states, and the `ACQUIRING-SYNC` of
/// sdk-go's own example event (`pkg/event/event.go`).
pub const SYNC_STATES: &[SyncState] = &[
    SyncState::Locked,
    SyncState::Holdover,
    SyncState::Freerun,
    SyncState::AcquiringSync,
];

/// SyncE lock state (plain and extended): the clock states, and StarlingX's
/// `UNKNOWN` while it starts.
pub const SYNCE_STATES: &[SyncState] = &[
    SyncState::Locked,
    SyncState::Holdover,
    SyncState::Freerun,
    SyncState::Unknown,
];

/// GNSS sync status: O-RAN's GNSS set (sdk-go `SyncState`), and the
/// LOCKED / HOLDOVER / FREERUN that cloud-event-proxy and StarlingX also send.
pub const GNSS_STATES: &[SyncState] = &[
    SyncState::Synchronized,
    SyncState::AcquiringSync,
    SyncState::AntennaDisconnected,
    SyncState::AntennaShortCircuit,
    SyncState::Booting,
    SyncState::FailureMultipath,
    SyncState::FailureNofix,
    SyncState::FailureLowSnr,
    SyncState::FailurePll,
    SyncState::Unlocked,
    SyncState::Locked,
    SyncState::Holdover,
    SyncState::Freerun,
];

/// A value the broker will not take, with where it is and why. `Display` is
/// one line, fit for an HTTP 400 body or an emit error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValueError {
    /// The field, e.g. `data.values[0].value`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub reason: String,
}

fn refuse(field: impl Into<String>, reason: impl Into<String>) -> ValueError {
    ValueError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// What a metric value of an O-RAN type must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// An integer in this range (clock class, GNSS fix, SyncE QL).
    Integer {
        /// What it is, for the error message.
        what: &'static str,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A decimal number (offsets in ns, anything else measured).
    Decimal,
    /// A number or a JSON object: StarlingX's extended SyncE state carries
    /// its sources, DPLL state and pins as an object.
    NumberOrObject,
}

/// The states an O-RAN type's values may take (empty: the type carries
/// numbers only, e.g. clock class).
pub fn states(kind: OranEvent) -> &'static [SyncState] {
    match kind {
        catalog::PTP_CLOCK_CLASS | catalog::SYNCE_CLOCK_QUALITY => &[],
        catalog::GNSS_SYNC_STATUS => GNSS_STATES,
        catalog::SYNCE_LOCK_STATE | catalog::SYNCE_LOCK_STATE_EXTENDED => SYNCE_STATES,
        catalog::SYNC_STATE => SYNC_STATES,
        _ => CLOCK_STATES,
    }
}

/// What a metric of `kind` at `address` must be.
pub fn metric(kind: OranEvent, address: &str) -> Metric {
    // Only a GNSS value needs the address's last segment.
    let leaf = || address.rsplit('/').next().unwrap_or_default();
    match kind {
        catalog::PTP_CLOCK_CLASS => Metric::Integer {
            what: "a clock class",
            min: 0,
            max: 255,
        },
        catalog::GNSS_SYNC_STATUS if leaf().eq_ignore_ascii_case("gpsfix") => Metric::Integer {
            what: "a GNSS fix (0 no fix … 5 time only)",
            min: 0,
            max: 5,
        },
        // Ql and extQl (Red Hat), the one QL value (StarlingX): a byte.
        catalog::SYNCE_CLOCK_QUALITY => Metric::Integer {
            what: "a SyncE quality level",
            min: 0,
            max: 255,
        },
        catalog::SYNCE_LOCK_STATE_EXTENDED => Metric::NumberOrObject,
        _ => Metric::Decimal,
    }
}

/// Check `event` and bring it to its one spelling (states in all caps,
/// integers without a fraction, numbers trimmed). Refuses the first problem.
pub fn normalize(event: &mut Event) -> Result<(), ValueError> {
    let data = &event.data;
    header(
        &event.id,
        &event.source,
        &event.specversion,
        &data.version,
        data.values.len(),
    )?;
    let kind = event.event_type.oran();
    for (i, value) in event.data.values.iter_mut().enumerate() {
        let fix = check_value(
            kind,
            i,
            &value.resource_address,
            value.value_type,
            &value.value,
        )?;
        if let Some(fix) = fix {
            if let Some(canonical) = fix.value {
                value.value = canonical;
            }
            if fix.as_state {
                value.data_type = DataType::Notification;
                value.value_type = ValueType::Enumeration;
            }
        }
    }
    Ok(())
}

/// Would [`normalize`] take the event read in `view`, of `event_type`, as
/// it is, changing nothing, and [`crate::frame::validate`] pass it? Then
/// its body can be published as it came, stamped. `false` says nothing
/// more: the owned path decides, with its error.
pub fn is_canonical(event_type: &EventType, view: &View<'_>) -> bool {
    let kind = event_type.oran();
    header(
        view.id,
        view.source,
        view.specversion,
        view.version,
        view.value_count(),
    )
    .is_ok()
        && crate::time::is_valid(view.time)
        && view.values().enumerate().all(|(i, v)| {
            matches!(
                check_value(kind, i, v.resource_address, v.value_type, v.value),
                Ok(None)
            )
        })
}

/// The checks of everything but the values.
fn header(
    id: &str,
    source: &str,
    specversion: &str,
    version: &str,
    count: usize,
) -> Result<(), ValueError> {
    text("id", id, MAX_ID)?;
    text("source", source, MAX_ADDRESS)?;
    text("specversion", specversion, MAX_VERSION)?;
    if !matches!(specversion, "1.0" | "0.3") {
        return Err(refuse(
            "specversion",
            format!("{specversion:?} is not 1.0 or 0.3"),
        ));
    }
    text("data.version", version, MAX_VERSION)?;
    if count == 0 {
        return Err(refuse("data.values", "is empty"));
    }
    if count > MAX_VALUES {
        return Err(refuse(
            "data.values",
            format!("{count} values, at most {MAX_VALUES} allowed"),
        ));
    }
    Ok(())
}

/// How a value must change to be in its one spelling.
#[derive(Debug, Default)]
struct Fix {
    /// Its one spelling, where it is written otherwise.
    value: Option<String>,
    /// A state sent as a metric: it becomes the enumeration it is.
    as_state: bool,
}

/// Check entry `i` of `data.values` of an event of `kind` (`None`: an
/// application type); `Some`: how it must change.
fn check_value(
    kind: Option<OranEvent>,
    i: usize,
    address: &str,
    value_type: ValueType,
    value: &str,
) -> Result<Option<Fix>, ValueError> {
    // Field names are only formatted for an error message.
    let at = |field: &str| format!("data.values[{i}].{field}");
    text_check(address, MAX_ADDRESS).map_err(|reason| refuse(at("ResourceAddress"), reason))?;
    match kind {
        Some(kind) => oran_value(kind, address, value_type, value, &|| at("value")),
        None => text_check(value, MAX_VALUE)
            .map(|()| None)
            .map_err(|r| refuse(at("value"), r)),
    }
}

/// One value of an O-RAN type. `value_type` decides what it is, not
/// `data_type`: StarlingX pushes clock class as `notification` with
/// `metric`, and cloud-event-proxy pushes the SyncE lock state as `metric`
/// with `decimal64.3` holding the state's name. A state found under a metric
/// value type is stored as the enumeration it is.
fn oran_value(
    kind: OranEvent,
    address: &str,
    value_type: ValueType,
    value: &str,
    at: &dyn Fn() -> String,
) -> Result<Option<Fix>, ValueError> {
    let name = kind.name();
    let allowed = states(kind);
    let list = || {
        allowed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // The state's one spelling, where `value` is written otherwise.
    let respell = |state: SyncState| (value != state.as_str()).then(|| state.as_str().to_owned());
    match value_type {
        ValueType::Enumeration => {
            if allowed.is_empty() {
                return Err(refuse(
                    at(),
                    format!(
                        "{name} carries a number, not a state ({value:?} is value_type enumeration)"
                    ),
                ));
            }
            text_check(value, MAX_NUMBER).map_err(|r| refuse(at(), r))?;
            match value.parse::<SyncState>() {
                Ok(state) if allowed.contains(&state) => Ok(respell(state).map(|value| Fix {
                    value: Some(value),
                    as_state: false,
                })),
                _ => Err(refuse(
                    at(),
                    format!("{value:?} is not a {name} state; allowed: {}", list()),
                )),
            }
        }
        ValueType::Decimal64_3 | ValueType::Metric => {
            let rule = metric(kind, address);
            let max = match rule {
                Metric::NumberOrObject => MAX_VALUE,
                _ => MAX_NUMBER,
            };
            text_check(value, max).map_err(|r| refuse(at(), r))?;
            // Only where an upstream really does it (cloud-event-proxy's
            // SyncE plugin): elsewhere a state under a metric is an error.
            let state_as_metric = matches!(
                kind,
                catalog::SYNCE_LOCK_STATE | catalog::SYNCE_LOCK_STATE_EXTENDED
            );
            if state_as_metric
                && let Ok(state) = value.parse::<SyncState>()
                && allowed.contains(&state)
            {
                return Ok(Some(Fix {
                    value: respell(state),
                    as_state: true,
                }));
            }
            let canonical = number(rule, value).map_err(|reason| {
                let states = match state_as_metric {
                    false => String::new(),
                    true => format!(" or a {name} state ({})", list()),
                };
                refuse(at(), format!("{value:?} {reason}{states}"))
            })?;
            // Most values arrive in their one spelling: keep the string.
            Ok((canonical != value).then(|| Fix {
                value: Some(canonical.into_owned()),
                as_state: false,
            }))
        }
        ValueType::RedfishEvent => Err(refuse(
            at().trim_end_matches(".value").to_owned() + ".value_type",
            format!(
                "{name} takes value_type enumeration, decimal64.3 or metric, not redfish-event"
            ),
        )),
    }
}

/// A number as `rule` wants it, in its one spelling, or why not.
pub fn number(rule: Metric, input: &str) -> Result<Cow<'_, str>, String> {
    let text = input.trim();
    if rule == Metric::NumberOrObject && text.starts_with('{') {
        return match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(_)) => Ok(Cow::Borrowed(text)),
            _ => Err("is not a JSON object".to_owned()),
        };
    }
    match rule {
        Metric::Decimal | Metric::NumberOrObject if is_decimal(text) => Ok(Cow::Borrowed(text)),
        Metric::Decimal | Metric::NumberOrObject => Err("is not a decimal number".to_owned()),
        Metric::Integer { what, min, max } => {
            let wrong = || format!("is not {what}: an integer {min}–{max}");
            let parsed: f64 = match is_decimal(text) {
                true => text.parse().map_err(|_| wrong())?,
                false => return Err(wrong()),
            };
            if parsed.fract() != 0.0 || parsed < min as f64 || parsed > max as f64 {
                return Err(wrong());
            }
            let canonical = (parsed as i64).to_string();
            Ok(match canonical == text {
                true => Cow::Borrowed(text),
                false => Cow::Owned(canonical),
            })
        }
    }
}

/// `-?digits(.digits)?([eE][+-]?digits)?`, the JSON number grammar with an
/// optional leading `+`: no `NaN`, `inf`, hex or empty parts.
fn is_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// A non-empty string of at most `max` bytes with no character that hides
/// or reorders what is printed.
pub fn text(field: &str, s: &str, max: usize) -> Result<(), ValueError> {
    text_check(s, max).map_err(|reason| refuse(field, reason))
}

/// [`text`] without the field's name: the reason, if `s` is refused.
fn text_check(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".to_owned());
    }
    if s.len() > max {
        return Err(format!("is {} bytes, at most {max} allowed", s.len()));
    }
    // Printable ASCII hides nothing: most strings end here, a byte at a time.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(());
    }
    if let Some(c) = s.chars().find(|&c| is_hidden(c)) {
        return Err(format!(
            "contains the control or formatting character U+{:04X}",
            c as u32
        ));
    }
    Ok(())
}

/// Control characters (C0, DEL, C1), bidirectional embeddings, overrides,
/// isolates and marks, zero-width characters and the byte-order mark.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

#[cfg(test)]
mod tests;
