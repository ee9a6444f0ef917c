//! Request bodies: the shapes the upstreams really send (REFERENCE.md §3,
//! seed 001), and broken ones.

pub const PTP: &str = "event.sync.ptp-status.ptp-state-change";
pub const CLASS: &str = "event.sync.ptp-status.ptp-clock-class-change";
pub const OS: &str = "event.sync.sync-status.os-clock-sync-state-change";
pub const SYNC: &str = "event.sync.sync-status.synchronization-state-change";
pub const GNSS: &str = "event.sync.gnss-status.gnss-state-change";
pub const SYNCE: &str = "event.sync.synce-status.synce-state-change";

/// Red Hat v2 push (REFERENCE.md §3).
pub const REDHAT_V2: &str = r#"{"specversion":"1.0","id":"e5e6b5b8-2b1d-4b1a-9f77-1c1c1c1c1c1c","source":"/sync/ptp-status/lock-state",
 "type":"event.sync.ptp-status.ptp-state-change","time":"2024-08-28T14:50:57.327585316Z",
 "data":{"version":"1.0","values":[
  {"ResourceAddress":"/cluster/node/worker-0/ens1f0/master","data_type":"notification","value_type":"enumeration","value":"LOCKED"},
  {"ResourceAddress":"/cluster/node/worker-0/ens1f0/master","data_type":"metric","value_type":"decimal64.3","value":"-3"}]}}"#;

/// Seed 001: StarlingX push, dotless microsecond time.
pub const STARLINGX_V2: &str = r#"{
"id": "d38af5a6-70bb-4b3d-892a-df50cf2fdb09",
"specversion": "1.0",
"source": "/sync/sync-status/sync-state",
"type": "event.sync.sync-status.synchronization-state-change",
"time": "2022-08-12T19:20:54896244Z",
"data": {"version": "1.0", "values": [
  {"data_type": "notification", "ResourceAddress": "/././sync/sync-status/sync-state", "value_type": "enumeration", "value": "HOLDOVER"}]}}"#;

/// Seed 001: StarlingX legacy keyed form, two events.
pub const STARLINGX_KEYED: &str = r#"{
"ptp-inst1": {"id": "0088ea9e-ba57-409c-bfcb-8163e5c39c70", "specversion": "1.0",
  "source": "/sync/ptp-status/clock-class", "type": "event.sync.ptp-status.ptp-clock-class-change",
  "time": "2022-09-09T15:57:40078935Z",
  "data": {"version": "1.0", "values": [{"data_type": "metric", "ResourceAddress": "/././sync/ptp-status/clock-class", "value_type": "metric", "value": "6"}]}},
"os_clock_status": {"id": "404631ea-8011-4dd1-bd46-cf97ddc1d6d0", "specversion": "1.0",
  "source": "/sync/sync-status/os-clock-sync-state", "type": "event.sync.sync-status.os-clock-sync-state-change",
  "time": "2022-09-09T15:57:46020908Z",
  "data": {"version": "1.0", "values": [{"data_type": "notification", "ResourceAddress": "/././sync/sync-status/os-clock-sync-state", "value_type": "enumeration", "value": "LOCKED"}]}}}"#;

/// v1 field names, an old spelling of the state, a JSON number, CE 0.3.
pub const V1_FIELDS: &str = r#"{"specversion":"0.3","id":"1","source":"/sync/sync-status/os-clock-sync-state",
 "type":"event.sync.sync-status.os-clock-sync-state-change","time":"2023-01-01T00:00:00Z",
 "data":{"version":"v1","values":[
  {"resource":"/cluster/node/n1/CLOCK_REALTIME","dataType":"notification","valueType":"enumeration","value":"Freerun"},
  {"resource":"/cluster/node/n1/CLOCK_REALTIME","dataType":"metric","valueType":"decimal64.3","value":1234}]}}"#;

/// Sent as application/cloudevents+json.
pub const CE_JSON: &str = r#"{"specversion":"1.0","id":"g1","source":"/sync/gnss-status/gnss-sync-status",
 "type":"event.sync.gnss-status.gnss-state-change","time":"2024-08-28T14:50:57Z","datacontenttype":"application/json",
 "data":{"version":"1.0","values":[
  {"ResourceAddress":"/cluster/node/n1/ens2f0","data_type":"notification","value_type":"enumeration","value":"LOCKED"}]}}"#;

/// Sent as application/cloudevents-batch+json: two events.
pub const BATCH: &str = r#"[
 {"specversion":"1.0","id":"s1","source":"/sync/synce-status/lock-state","type":"event.sync.synce-status.synce-state-change",
  "time":"2024-08-28T14:50:57Z","data":{"version":"1.0","values":[
  {"ResourceAddress":"/cluster/node/n1/ens3f0","data_type":"notification","value_type":"enumeration","value":"LOCKED"}]}},
 {"specversion":"1.0","id":"s2","source":"/sync/ptp-status/clock-class","type":"event.sync.ptp-status.ptp-clock-class-change",
  "time":"2024-08-28T14:50:58Z","data":{"version":"1.0","values":[
  {"ResourceAddress":"/cluster/node/n1/ens3f0","data_type":"metric","value_type":"metric","value":"7"}]}}]"#;

/// Sent with no Content-Type at all.
pub const NO_CONTENT_TYPE: &str = r#"{"specversion":"1.0","id":"n1","source":"/sync/sync-status/sync-state",
 "type":"event.sync.sync-status.synchronization-state-change","time":"2024-08-28T14:50:57Z",
 "data":{"values":[{"ResourceAddress":"/cluster/node/n2/sync","data_type":"notification","value_type":"enumeration","value":"FREERUN"}]}}"#;

/// An older producer's lower-case state.
pub const LOWER_CASE_STATE: &str = r#"{"specversion":"1.0","id":"l1","source":"/sync/ptp-status/lock-state",
 "type":"event.sync.ptp-status.ptp-state-change","time":"2024-08-28T14:50:57Z",
 "data":{"values":[{"ResourceAddress":"/cluster/node/n3/ens1f0/master","data_type":"notification","value_type":"enumeration","value":"holdover"}]}}"#;

/// The `data` of a binary-mode request.
pub fn binary_data(state: &str) -> String {
    format!(
        r#"{{"version":"v1","values":[{{"resource":"/cluster/node/n1/CLOCK_REALTIME","dataType":"notification","valueType":"enumeration","value":"{state}"}}]}}"#
    )
}

pub const GARBAGE: &str = "\u{1}\u{2}\u{7f}not json at all \u{fffd}";

pub const MISSING_ID: &str = r#"{"specversion":"1.0","source":"/s","type":"event.sync.ptp-status.ptp-state-change",
 "data":{"values":[{"ResourceAddress":"/a","data_type":"notification","value_type":"enumeration","value":"LOCKED"}]}}"#;

pub const UNKNOWN_TYPE: &str = r#"{"specversion":"1.0","id":"u","source":"/s","type":"com.example.nothing",
 "data":{"values":[{"ResourceAddress":"/a","data_type":"notification","value_type":"enumeration","value":"LOCKED"}]}}"#;

pub const UNKNOWN_ORAN: &str = r#"{"specversion":"1.0","id":"u","source":"/s","type":"event.sync.ptp-status.bogus-change",
 "data":{"values":[{"ResourceAddress":"/a","data_type":"notification","value_type":"enumeration","value":"LOCKED"}]}}"#;

pub const EMPTY_VALUES: &str = r#"{"specversion":"1.0","id":"e","source":"/s","type":"event.sync.ptp-status.ptp-state-change",
 "data":{"values":[]}}"#;

pub const BAD_TIME: &str = r#"{"specversion":"1.0","id":"t","source":"/s","type":"event.sync.ptp-status.ptp-state-change",
 "time":"yesterday","data":{"values":[{"ResourceAddress":"/a","data_type":"notification","value_type":"enumeration","value":"LOCKED"}]}}"#;

/// A batch whose first event is good and second is not: all refused.
pub const BAD_BATCH: &str = r#"[
 {"specversion":"1.0","id":"ok","source":"/s","type":"event.sync.ptp-status.ptp-state-change","time":"2024-08-28T14:50:57Z",
  "data":{"values":[{"ResourceAddress":"/ok","data_type":"notification","value_type":"enumeration","value":"LOCKED"}]}},
 {"specversion":"1.0","id":"bad","source":"/s","type":"event.sync.ptp-status.ptp-state-change","time":"2024-08-28T14:50:57Z",
  "data":{"values":[{"ResourceAddress":"/bad","data_type":"gossip","value_type":"enumeration","value":"LOCKED"}]}}]"#;

/// sdk-go's own event JSON (`pkg/event/event_marshal.go`): no
/// `specversion`, `dataContentType`, metrics as strings.
pub const SDK_GO_EVENT: &str = r#"{"id":"5ce55d17-9234-4fee-a589-d0f10cb32b8e","type":"event.sync.ptp-status.ptp-state-change",
 "source":"/cluster/node/n4/ptp/ens1f0","dataContentType":"application/json","time":"2021-02-05T17:31:00Z",
 "data":{"version":"v1","values":[
  {"ResourceAddress":"/cluster/node/n4/ens1f0/master","data_type":"notification","value":"FREERUN","value_type":"enumeration"},
  {"ResourceAddress":"/cluster/node/n4/ens1f0/master","data_type":"metric","value":"10.7","value_type":"decimal64.3"}]}}"#;

/// Older sdk-go: v1 value names, the metric a JSON number.
pub const SDK_GO_OLD_NAMES: &str = r#"{"id":"7d6a3c4e-0000-4000-8000-000000000001","type":"event.sync.sync-status.os-clock-sync-state-change",
 "source":"/cluster/node/n4/CLOCK_REALTIME","dataContentType":"application/json","time":"2022-03-01T10:00:00.5Z",
 "data":{"version":"v1","values":[
  {"resource":"/cluster/node/n4/CLOCK_REALTIME","dataType":"notification","valueType":"enumeration","value":"LOCKED"},
  {"resource":"/cluster/node/n4/CLOCK_REALTIME","dataType":"metric","valueType":"decimal64.3","value":100.3}]}}"#;
