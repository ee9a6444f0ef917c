//! Real payload shapes of both vendors, and the bad ones.

use super::*;

const REDHAT_V2: &str = r#"{"specversion":"1.0","id":"e5e6b5b8-2b1d-4b1a-9f77-1c1c1c1c1c1c","source":"/sync/ptp-status/lock-state",
 "type":"event.sync.ptp-status.ptp-state-change","time":"2024-08-28T14:50:57.327585316Z",
 "data":{"version":"1.0","values":[
  {"ResourceAddress":"/cluster/node/worker-0/ens1f0/master","data_type":"notification","value_type":"enumeration","value":"LOCKED"},
  {"ResourceAddress":"/cluster/node/worker-0/ens1f0/master","data_type":"metric","value_type":"decimal64.3","value":"-3"}]}}"#;

/// Seed 001: StarlingX push notification.
const STARLINGX_V2: &str = r#"{
"id": "d38af5a6-70bb-4b3d-892a-df50cf2fdb09",
"specversion": "1.0",
"source": "/sync/sync-status/sync-state",
"type": "event.sync.sync-status.synchronization-state-change",
"time": "2022-08-12T19:20:54896244Z",
"data": {"version": "1.0", "values": [
  {"data_type": "notification", "ResourceAddress": "/././sync/sync-status/sync-state", "value_type": "enumeration", "value": "HOLDOVER"}]}}"#;

/// Seed 001: StarlingX pull in the legacy keyed form.
const STARLINGX_KEYED: &str = r#"{
"ptp-inst1": {"id": "0088ea9e-ba57-409c-bfcb-8163e5c39c70", "specversion": "1.0",
  "source": "/sync/ptp-status/clock-class", "type": "event.sync.ptp-status.ptp-clock-class-change",
  "time": "2022-09-09T15:57:40078935Z",
  "data": {"version": "1.0", "values": [{"data_type": "metric", "ResourceAddress": "/././sync/ptp-status/clock-class", "value_type": "metric", "value": "6"}]}},
"os_clock_status": {"id": "404631ea-8011-4dd1-bd46-cf97ddc1d6d0", "specversion": "1.0",
  "source": "/sync/sync-status/os-clock-sync-state", "type": "event.sync.sync-status.os-clock-sync-state-change",
  "time": "2022-09-09T15:57:46020908Z",
  "data": {"version": "1.0", "values": [{"data_type": "notification", "ResourceAddress": "/././sync/sync-status/os-clock-sync-state", "value_type": "enumeration", "value": "LOCKED"}]}}}"#;

/// v1 field names, an old producer's spelling of the state, CE 0.3.
const V1_OLD_SPELLING: &str = r#"{"specversion":"0.3","id":"1","source":"/sync/sync-status/os-clock-sync-state",
 "type":"event.sync.sync-status.os-clock-sync-state-change","time":"2023-01-01T00:00:00Z",
 "data":{"version":"v1","values":[
  {"resource":"/cluster/node/n1/CLOCK_REALTIME","dataType":"notification","valueType":"enumeration","value":"Freerun"},
  {"resource":"/cluster/node/n1/CLOCK_REALTIME","dataType":"metric","valueType":"decimal64.3","value":1234}]}}"#;

#[test]
fn redhat_v2_push() {
    let events = parse_structured(REDHAT_V2.as_bytes()).unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.event_type, catalog::PTP_LOCK_STATE);
    assert_eq!(e.state(), Some(SyncState::Locked));
    assert_eq!(e.metric(), Some(-3.0));
    assert_eq!(e.resource_address(), "/cluster/node/worker-0/ens1f0/master");
    assert_eq!(e.time, "2024-08-28T14:50:57.327585316Z");
    assert_eq!(e.meta.origin, Origin::Upstream);
}

#[test]
fn starlingx_v2_push_with_dotless_time() {
    let e = &parse_structured(STARLINGX_V2.as_bytes()).unwrap()[0];
    assert_eq!(e.event_type, catalog::SYNC_STATE);
    assert_eq!(e.state(), Some(SyncState::Holdover));
    assert_eq!(e.time, "2022-08-12T19:20:54.896244Z");
}

#[test]
fn starlingx_legacy_keyed_form_yields_every_event() {
    let events = parse_structured(STARLINGX_KEYED.as_bytes()).unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type.clone()).collect();
    assert!(types.contains(&catalog::PTP_CLOCK_CLASS.into()));
    assert!(types.contains(&catalog::OS_CLOCK_SYNC.into()));
    let class = events
        .iter()
        .find(|e| e.event_type == catalog::PTP_CLOCK_CLASS)
        .unwrap();
    assert_eq!(class.data.values[0].value_type, ValueType::Metric);
    assert_eq!(class.metric(), Some(6.0));
}

#[test]
fn v1_field_names_and_old_spellings_are_normalized() {
    let e = &parse_structured(V1_OLD_SPELLING.as_bytes()).unwrap()[0];
    assert_eq!(e.data.values[0].value, "FREERUN");
    assert_eq!(
        e.data.values[0].resource_address,
        "/cluster/node/n1/CLOCK_REALTIME"
    );
    assert_eq!(e.data.values[1].value, "1234");
    assert_eq!(e.specversion, "0.3");
}

#[test]
fn old_type_spellings_become_current() {
    let body = REDHAT_V2.replace(
        "event.sync.ptp-status.ptp-state-change",
        "event.sync.synce-status.sync-clock-quality-change",
    );
    let e = &parse_structured(body.as_bytes()).unwrap()[0];
    assert_eq!(e.event_type, catalog::SYNCE_CLOCK_QUALITY);
}

#[test]
fn a_batch_is_read_whole() {
    let body = format!("[{REDHAT_V2},{STARLINGX_V2}]");
    assert_eq!(parse_structured(body.as_bytes()).unwrap().len(), 2);
    assert_eq!(parse_structured(b"[]"), Err(JsonError::NoEvent));
    let with_bad = format!("[{REDHAT_V2}, 3]");
    assert!(parse_structured(with_bad.as_bytes()).is_err());
}

#[test]
fn binary_mode_with_ce_headers() {
    let headers = |name: &str| {
        match name {
            "ce-specversion" => Some("0.3"),
            "ce-id" => Some("abc"),
            "ce-type" => Some("event.sync.sync-status.os-clock-sync-state-change"),
            "ce-source" => Some("/sync/sync-status/os-clock-sync-state"),
            "ce-time" => Some("2022-09-09T15:57:46020908Z"),
            _ => None,
        }
        .map(str::to_owned)
    };
    let data = r#"{"version":"1.0","values":[{"ResourceAddress":"/cluster/node/n1/CLOCK_REALTIME","data_type":"notification","value_type":"enumeration","value":"holdover"}]}"#;
    let e = parse_binary(headers, data.as_bytes()).unwrap();
    assert_eq!(e.event_type, catalog::OS_CLOCK_SYNC);
    assert_eq!(e.state(), Some(SyncState::Holdover));
    assert_eq!(e.time, "2022-09-09T15:57:46.020908Z");
    let missing = parse_binary(
        |n| if n == "ce-id" { None } else { headers(n) },
        data.as_bytes(),
    );
    assert_eq!(missing, Err(JsonError::Missing("ce-id".into())));
}

#[test]
fn missing_time_is_filled_with_now() {
    let body = REDHAT_V2.replace(r#""time":"2024-08-28T14:50:57.327585316Z","#, "");
    let e = &parse_structured(body.as_bytes()).unwrap()[0];
    assert!(crate::time::normalize(&e.time).is_some());
}

#[test]
fn bad_documents_get_one_line_reasons() {
    let cases: Vec<(String, &str)> = vec![
        ("{".into(), "malformed JSON"),
        ("3".into(), "expected a JSON object"),
        (REDHAT_V2.replace(r#""id":"e5e6b5b8-2b1d-4b1a-9f77-1c1c1c1c1c1c","#, ""), "missing required attribute \"id\""),
        (REDHAT_V2.replace(r#""specversion":"1.0","#, r#""specversion":1,"#), "\"specversion\": must be a string"),
        (REDHAT_V2.replace(r#""specversion":"1.0","#, r#""dataContentType":"text/xml","#), "not a JSON media type"),
        (REDHAT_V2.replace("\"1.0\",\"id\"", "\"2.0\",\"id\""), "is not 1.0 or 0.3"),
        (REDHAT_V2.replace("ptp-state-change", "made-up"), "unsupported event type"),
        (REDHAT_V2.replace("2024-08-28T14", "yesterday"), "invalid \"time\""),
        (REDHAT_V2.replace("\"notification\"", "\"gossip\""), "data_type"),
        (REDHAT_V2.replace("\"enumeration\"", "\"colour\""), "value_type"),
        (REDHAT_V2.replace("\"LOCKED\"", "[1]"), "value"),
        (REDHAT_V2.replace("\"values\":[", "\"values\":[3,"), "data.values[0]"),
        (r#"{"specversion":"1.0","id":"1","type":"event.sync.ptp-status.ptp-state-change","source":"/s","data":{"values":[]}}"#.into(), "is empty"),
        (r#"{"specversion":"1.0","id":"1","type":"event.sync.ptp-status.ptp-state-change","source":"/s"}"#.into(), "\"data\""),
        (r#"{"specversion":"1.0","id":"","type":"event.sync.ptp-status.ptp-state-change","source":"/s","data":{}}"#.into(), "is empty"),
    ];
    for (body, want) in cases {
        let err = parse_structured(body.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(want), "{body}\n gave {err:?}, wanted {want:?}");
        assert!(!err.contains('\n'), "one line: {err:?}");
    }
}

#[test]
fn to_json_is_the_oran_v2_shape_and_reads_back() {
    let mut e = parse_structured(REDHAT_V2.as_bytes()).unwrap().remove(0);
    e.meta.seq = 3;
    e.meta.epoch = 11;
    let plain = to_json(&e, false);
    assert_eq!(plain["data"]["values"][1]["value_type"], "decimal64.3");
    assert!(plain.get("seq").is_none());
    let back = parse_structured(plain.to_string().as_bytes())
        .unwrap()
        .remove(0);
    assert_eq!(back.data, e.data);
    assert_eq!(back.id, e.id);
    let stamped = to_json(&e, true);
    assert_eq!(stamped["seq"], 3);
    assert_eq!(stamped["origin"], "upstream");
}

/// sdk-go's own event JSON (`pkg/event/event_marshal.go` `WriteJSON`): no
/// `specversion`, `dataContentType`, v2 value names, metrics as strings.
const SDK_GO_WRITE_JSON: &str = r#"{"id":"5ce55d17-9234-4fee-a589-d0f10cb32b8e","type":"event.sync.ptp-status.ptp-state-change",
 "source":"/cluster/node/example.com/ptp/ens1f0","dataContentType":"application/json","time":"2021-02-05T17:31:00Z",
 "data":{"version":"v1","values":[
  {"ResourceAddress":"/cluster/node/example.com/ens1f0/master","data_type":"notification","value":"FREERUN","value_type":"enumeration"},
  {"ResourceAddress":"/cluster/node/example.com/ens1f0/master","data_type":"metric","value":"10.7","value_type":"decimal64.3"}]}}"#;

/// The example in sdk-go's `pkg/event/event.go` doc comment: no
/// `specversion` nor `dataContentType`, the metric a JSON number.
const SDK_GO_DOC_EXAMPLE: &str = r#"{
  "id": "5ce55d17-9234-4fee-a589-d0f10cb32b8e",
  "type": "event.sync.sync-status.synchronization-state-change",
  "source": "/cluster/node/example.com/ptp/clock_realtime",
  "time": "2021-02-05T17:31:00Z",
  "data": {
    "version": "v1.0",
    "values": [{
      "ResourceAddress": "/sync/sync-status/sync-state",
      "data_type": "notification",
      "value_type": "enumeration",
      "value": "ACQUIRING-SYNC"
      }, {
      "ResourceAddress": "/sync/sync-status/sync-state",
      "data_type": "metric",
      "value_type": "decimal64.3",
      "value": 100.3
      }]
    }
}"#;

/// Older sdk-go (the Red Hat v1 stack): v1 value names, metric a number.
const SDK_GO_V1_NAMES: &str = r#"{"id":"7d6a3c4e-0000-4000-8000-000000000001","type":"event.sync.sync-status.os-clock-sync-state-change",
 "source":"/cluster/node/n1/CLOCK_REALTIME","dataContentType":"application/json","time":"2022-03-01T10:00:00.5Z",
 "data":{"version":"v1","values":[
  {"resource":"/cluster/node/n1/CLOCK_REALTIME","dataType":"notification","valueType":"enumeration","value":"LOCKED"},
  {"resource":"/cluster/node/n1/CLOCK_REALTIME","dataType":"metric","valueType":"decimal64.3","value":-12}]}}"#;

/// The OpenShift v2 consumer reference: a clock class of "0" as a Red Hat metric.
const REDHAT_CLOCK_CLASS: &str = r#"{"specversion":"1.0","id":"ab423275-f65d-4760-97af-5b0b846605e4","source":"/sync/ptp-status/clock-class","type":"event.sync.ptp-status.ptp-clock-class-change","time":"2024-09-02T13:49:07.226494483Z","data":{"version":"1.0","values":[{"ResourceAddress":"/cluster/node/compute-1.example.com/ptp-not-set","data_type":"metric","value_type":"decimal64.3","value":"0"}]}}"#;

/// cloud-event-proxy's SyncE lock state: the state's name under metric / decimal64.3.
const REDHAT_SYNCE_STATE: &str = r#"{"specversion":"1.0","id":"c1d2e3f4-0000-4000-8000-000000000002","source":"/sync/synce-status/lock-state","type":"event.sync.synce-status.synce-state-change","time":"2024-09-02T13:49:07Z","data":{"version":"1.0","values":[{"ResourceAddress":"/cluster/node/n1/ens1f0/synce","data_type":"metric","value_type":"decimal64.3","value":"LOCKED"}]}}"#;

/// StarlingX pushes clock class as notification + metric.
const STARLINGX_CLOCK_CLASS: &str = r#"{"id":"0088ea9e-ba57-409c-bfcb-8163e5c39c70","specversion":"1.0","source":"/sync/ptp-status/clock-class","type":"event.sync.ptp-status.ptp-clock-class-change","time":"2022-09-09T15:57:40078935Z","data":{"version":"1.0","values":[{"data_type":"notification","ResourceAddress":"/./controller-0/ptp1/sync/ptp-status/clock-class","value_type":"metric","value":"248"}]}}"#;

fn parsed_and_valid(body: &str) -> Vec<Event> {
    let mut events = parse_structured(body.as_bytes()).unwrap();
    for e in &mut events {
        crate::validate::normalize(e).unwrap_or_else(|err| panic!("{body}: {err}"));
    }
    events
}

#[test]
fn sdk_go_event_json_is_accepted() {
    let e = &parsed_and_valid(SDK_GO_WRITE_JSON)[0];
    assert_eq!(e.specversion, "1.0");
    assert_eq!(e.state(), Some(SyncState::Freerun));
    assert_eq!(e.metric(), Some(10.7));
    let e = &parsed_and_valid(SDK_GO_DOC_EXAMPLE)[0];
    assert_eq!(e.event_type, catalog::SYNC_STATE);
    assert_eq!(e.state(), Some(SyncState::AcquiringSync));
    assert_eq!(e.data.values[1].value, "100.3");
    let e = &parsed_and_valid(SDK_GO_V1_NAMES)[0];
    assert_eq!(e.resource_address(), "/cluster/node/n1/CLOCK_REALTIME");
    assert_eq!(e.metric(), Some(-12.0));
}

#[test]
fn every_vendor_shape_passes_validation() {
    for body in [
        REDHAT_V2,
        STARLINGX_V2,
        STARLINGX_KEYED,
        V1_OLD_SPELLING,
        REDHAT_CLOCK_CLASS,
        STARLINGX_CLOCK_CLASS,
    ] {
        parsed_and_valid(body);
    }
    let e = &parsed_and_valid(REDHAT_SYNCE_STATE)[0];
    assert_eq!(e.state(), Some(SyncState::Locked));
}
