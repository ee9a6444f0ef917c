//! Black-box tests of the upstream simulator: a real simulator and a real
//! callback receiver on port 0, spoken to over HTTP.

mod events;
mod subscriptions;
mod util;

use serde_json::Value;
use upstream_sim::{Flavor, REDHAT_MAX_FAILURES};
use util::{start_receiver, start_sim};

const NODE: &str = "node1";

fn redhat(resource: &str) -> String {
    format!("/cluster/node/{NODE}{resource}")
}

const LOCK: &str = "/sync/ptp-status/lock-state";
const CLASS: &str = "/sync/ptp-status/clock-class";
const OS: &str = "/sync/sync-status/os-clock-sync-state";
const SYNC: &str = "/sync/sync-status/sync-state";

/// REFERENCE §3: exactly the six members, uuid id, values with the
/// ResourceAddress/data_type/value_type/value quartet, numbers as strings.
fn assert_reference_shape(event: &Value) {
    let object = event.as_object().expect("event is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["data", "id", "source", "specversion", "time", "type"]
    );
    assert_eq!(event["specversion"], "1.0");
    assert!(uuid::Uuid::parse_str(event["id"].as_str().expect("id")).is_ok());
    assert_eq!(event["data"]["version"], "1.0");
    for value in event["data"]["values"].as_array().expect("values") {
        let mut keys: Vec<&str> = value
            .as_object()
            .expect("value")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["ResourceAddress", "data_type", "value", "value_type"]
        );
        assert!(value["value"].is_string(), "numbers are strings: {value}");
    }
}
