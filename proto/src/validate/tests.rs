//! The value rules, one class of value at a time.
use super::*;
use crate::{Content, Event};

fn with_value(kind: OranEvent, data_type: DataType, value_type: ValueType, v: &str) -> Event {
    let mut e = Event::synthetic(kind.into(), Content::parse("1", None).unwrap());
    e.data.values[0].data_type = data_type;
    e.data.values[0].value_type = value_type;
    e.data.values[0].value = v.to_owned();
    e
}

fn state(kind: OranEvent, v: &str) -> Result<String, ValueError> {
    let mut e = with_value(kind, DataType::Notification, ValueType::Enumeration, v);
    normalize(&mut e).map(|()| e.data.values[0].value.clone())
}

fn metric_of(kind: OranEvent, address: &str, v: &str) -> Result<String, ValueError> {
    let mut e = with_value(kind, DataType::Metric, ValueType::Decimal64_3, v);
    e.data.values[0].resource_address = address.to_owned();
    normalize(&mut e).map(|()| e.data.values[0].value.clone())
}

#[test]
fn states_are_normalized_and_checked_per_type() {
    assert_eq!(state(catalog::PTP_LOCK_STATE, "locked").unwrap(), "LOCKED");
    assert_eq!(
        state(catalog::OS_CLOCK_SYNC, "Holdover").unwrap(),
        "HOLDOVER"
    );
    assert_eq!(
        state(catalog::GNSS_SYNC_STATUS, "synchronized").unwrap(),
        "SYNCHRONIZED"
    );
    for bad in ["WOBBLY", "sleepy", "LOCKED\u{202e}\u{0}", "42", "", " "] {
        let err = state(catalog::PTP_LOCK_STATE, bad).unwrap_err().to_string();
        assert!(err.starts_with("data.values[0].value"), "{bad:?}: {err}");
    }
    let err = state(catalog::PTP_LOCK_STATE, "SYNCHRONIZED")
        .unwrap_err()
        .to_string();
    assert!(err.contains("allowed: LOCKED, HOLDOVER, FREERUN"), "{err}");
    let err = state(catalog::PTP_CLOCK_CLASS, "LOCKED")
        .unwrap_err()
        .to_string();
    assert!(err.contains("a number, not a state"), "{err}");
    assert_eq!(
        state(catalog::SYNCE_LOCK_STATE, "unknown").unwrap(),
        "UNKNOWN"
    );
    assert!(state(catalog::OS_CLOCK_SYNC, "UNKNOWN").is_err());
}

#[test]
fn metrics_follow_their_kind() {
    let class = |v| metric_of(catalog::PTP_CLOCK_CLASS, "/cluster/node/n/ens1/master", v);
    assert_eq!(class("6").unwrap(), "6");
    assert_eq!(class("248.0").unwrap(), "248");
    for bad in ["999", "-1", "6.5", "LOCKED", "NaN", "inf", "0x10", "1e"] {
        assert!(class(bad).is_err(), "clock class {bad:?}");
    }
    let fix = |v| metric_of(catalog::GNSS_SYNC_STATUS, "/cluster/node/n/ens2/gpsFix", v);
    assert_eq!(fix("3").unwrap(), "3");
    assert!(fix("6").is_err());
    let ql = |v| {
        metric_of(
            catalog::SYNCE_CLOCK_QUALITY,
            "/cluster/node/n/ens1/extQl",
            v,
        )
    };
    assert_eq!(ql("255").unwrap(), "255");
    assert!(ql("256").is_err());
    let offset = |v| metric_of(catalog::OS_CLOCK_SYNC, "/cluster/node/n/CLOCK_REALTIME", v);
    assert_eq!(offset(" -3 ").unwrap(), "-3");
    assert_eq!(offset("100.3").unwrap(), "100.3");
    assert_eq!(offset("1.5e3").unwrap(), "1.5e3");
    for bad in ["", "--1", "1.", ".5", "one", "1,5", "Infinity"] {
        assert!(offset(bad).is_err(), "offset {bad:?}");
    }
}

#[test]
fn value_type_decides_the_kind_as_the_upstreams_send_it() {
    // StarlingX: clock class as notification + metric.
    let mut e = with_value(
        catalog::PTP_CLOCK_CLASS,
        DataType::Notification,
        ValueType::Metric,
        "6",
    );
    assert!(normalize(&mut e).is_ok());
    // cloud-event-proxy: SyncE lock state as metric + decimal64.3 "LOCKED".
    let mut e = with_value(
        catalog::SYNCE_LOCK_STATE,
        DataType::Metric,
        ValueType::Decimal64_3,
        "locked",
    );
    normalize(&mut e).unwrap();
    assert_eq!(e.data.values[0].value, "LOCKED");
    assert_eq!(e.data.values[0].value_type, ValueType::Enumeration);
    assert_eq!(e.state(), Some(SyncState::Locked));
    // A SyncE metric must be a number or one of its states...
    let mut e = with_value(
        catalog::SYNCE_LOCK_STATE,
        DataType::Metric,
        ValueType::Decimal64_3,
        "WOBBLY",
    );
    let err = normalize(&mut e).unwrap_err().to_string();
    assert!(err.contains("or a SYNCE_LOCK_STATE state"), "{err}");
    // ...any other metric a number: a state there is an error.
    let mut e = with_value(
        catalog::PTP_LOCK_STATE,
        DataType::Metric,
        ValueType::Decimal64_3,
        "LOCKED",
    );
    let err = normalize(&mut e).unwrap_err().to_string();
    assert!(err.contains("is not a decimal number"), "{err}");
    // StarlingX extended SyncE: a JSON object as a metric.
    let mut e = with_value(
        catalog::SYNCE_LOCK_STATE_EXTENDED,
        DataType::Metric,
        ValueType::Metric,
        r#"{"active_source":"ens1f0","dpll_state":"locked"}"#,
    );
    assert!(normalize(&mut e).is_ok());
    let mut e = with_value(
        catalog::SYNCE_LOCK_STATE_EXTENDED,
        DataType::Metric,
        ValueType::Metric,
        "{not json",
    );
    assert!(normalize(&mut e).is_err());
    let mut e = with_value(
        catalog::PTP_LOCK_STATE,
        DataType::Metric,
        ValueType::RedfishEvent,
        "{}",
    );
    assert!(
        normalize(&mut e)
            .unwrap_err()
            .to_string()
            .contains("redfish")
    );
}

#[test]
fn identifiers_are_bounded_and_printable() {
    let mut e = Event::synthetic(catalog::OS_CLOCK_SYNC.into(), "LOCKED".parse().unwrap());
    e.data.values[0].resource_address = format!("/{}", "a".repeat(MAX_ADDRESS));
    assert!(normalize(&mut e).unwrap_err().to_string().contains("bytes"));
    let mut e = Event::synthetic(catalog::OS_CLOCK_SYNC.into(), "LOCKED".parse().unwrap());
    e.id = "id\u{200b}".into();
    assert!(
        normalize(&mut e)
            .unwrap_err()
            .to_string()
            .contains("U+200B")
    );
    let mut e = Event::synthetic(catalog::OS_CLOCK_SYNC.into(), "LOCKED".parse().unwrap());
    e.source = "/x\n".into();
    assert!(normalize(&mut e).is_err());
    let mut e = Event::synthetic(catalog::OS_CLOCK_SYNC.into(), "LOCKED".parse().unwrap());
    let v = e.data.values[0].clone();
    e.data.values = vec![v; MAX_VALUES + 1];
    assert!(normalize(&mut e).is_err());
}

#[test]
fn application_types_keep_free_values_within_bounds() {
    let t = catalog::EventType::new("com.example.radio.carrier-state").unwrap();
    let mut e = Event::synthetic(t.clone(), Content::parse("1", None).unwrap());
    e.data.values[0].value = "carrier up, 3 of 4".into();
    assert!(normalize(&mut e).is_ok());
    assert_eq!(e.data.values[0].value, "carrier up, 3 of 4");
    e.data.values[0].value = "x".repeat(MAX_VALUE + 1);
    assert!(normalize(&mut e).is_err());
    e.data.values[0].value = "a\u{202e}b".into();
    assert!(normalize(&mut e).is_err());
}
