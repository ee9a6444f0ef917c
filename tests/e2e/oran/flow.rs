//! The whole consumer flow, once per flavour: subscribe (the initial
//! notification arrives, and is answered, before the 201), list and read
//! the subscription, read CurrentState in every address form, receive the
//! pushes of later events in the upstream's exact format, delete one
//! subscription (no more pushes to it), delete them all.

use serde_json::Value;

use super::consumer::{location_path, subscription};
use super::format::{TimeForm, assert_event, assert_lock, assert_push, lock_of, time_form};
use super::*;

#[test]
fn a_red_hat_consumer_subscribes_reads_current_state_gets_pushes_and_deletes() {
    consumer_flow(Flavor::RedHat);
}

#[test]
fn a_starlingx_consumer_subscribes_reads_current_state_gets_pushes_and_deletes() {
    consumer_flow(Flavor::StarlingX);
}

fn is_json(r: &Response) -> bool {
    r.header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
}

fn consumer_flow(flavor: Flavor) {
    let api = Api::start(&format!("flow-{}", flavor.name()), flavor, "");
    let value_address = flavor.value_address(&api.node);
    api.emit_lock("LOCKED", -3);
    api.emit_class(6);

    // One resource: one initial notification, answered 204 before the 201.
    let lock = Consumer::answering(204);
    let lock_address = api.address(LOCK);
    let sub = lock.subscribe_ok(&api, &lock_address);
    assert_eq!(
        sub.initial.len(),
        1,
        "one resource, one initial notification"
    );
    let initial = assert_push(&sub.initial[0], LOCK_TYPE, LOCK);
    assert_lock(&initial, "LOCKED", -3, &value_address);

    // `/sync`: every resource with state, one event each.
    let all = Consumer::answering(204);
    let sync_address = api.address("/sync");
    let all_sub = all.subscribe_ok(&api, &sync_address);
    let mut types: Vec<String> = all_sub
        .initial
        .iter()
        .map(|r| {
            let event = r.json();
            let t = event["type"].as_str().unwrap_or_default().to_owned();
            let source = if t == LOCK_TYPE { LOCK } else { CLASS };
            assert_push(r, &t, source);
            t
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        [CLASS_TYPE, LOCK_TYPE],
        "the initial notification of /sync: the state of every resource"
    );

    // The subscriptions as listed, one by one, and at their UriLocation.
    let listed = api.subscriptions();
    assert_eq!(listed.len(), 2, "{listed:#?}");
    for made in [&sub, &all_sub] {
        let entry = listed
            .iter()
            .find(|s| s["SubscriptionId"] == made.id.as_str())
            .unwrap_or_else(|| panic!("{} not listed: {listed:#?}", made.id));
        let entry = subscription(entry, api.base());
        assert_eq!(
            (&entry.address, &entry.endpoint, &entry.uri_location),
            (&made.address, &made.endpoint, &made.uri_location)
        );
        let one = api.get(&format!("/subscriptions/{}", made.id));
        assert_eq!(one.status, 200, "GET /subscriptions/{}: {one}", made.id);
        assert!(is_json(&one), "{:?}", one.headers);
        assert_eq!(subscription(&one.json(), api.base()).address, made.address);
        let at = http::get(&api.addr(), location_path(&made.uri_location));
        assert_eq!(
            at.status, 200,
            "GET UriLocation {}: {at}",
            made.uri_location
        );
        assert_eq!(at.json()["SubscriptionId"], made.id.as_str());
    }

    // CurrentState: an object for one match, an array for several.
    let state = api.current_state(&lock_address);
    assert_eq!(state.status, 200, "CurrentState {lock_address}: {state}");
    assert!(is_json(&state), "{:?}", state.headers);
    let event = state.json();
    assert!(event.is_object(), "one match, one event: {event:#}");
    assert_event(&event, LOCK_TYPE, LOCK);
    assert_lock(&event, "LOCKED", -3, &value_address);
    let class = api.current_state(&api.address(CLASS)).json();
    assert_event(&class, CLASS_TYPE, CLASS);
    assert_eq!(class["data"]["values"][0]["value"], "6", "{class:#}");
    assert_eq!(class["data"]["values"][0]["data_type"], "metric");
    for prefix in ["/sync", "/sync/ptp-status"] {
        let address = api.address(prefix);
        let r = api.current_state(&address);
        assert_eq!(r.status, 200, "CurrentState {address}: {r}");
        let events = match r.json() {
            Value::Array(events) => events,
            other => panic!("CurrentState {address}: several matches, an array: {other:#}"),
        };
        let mut types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        types.sort();
        assert_eq!(types, [CLASS_TYPE, LOCK_TYPE], "{address}: {events:#?}");
    }
    if flavor == Flavor::StarlingX {
        // `.` is this node, `*` every node, an instance selects every instance.
        for address in [
            "/././sync/ptp-status/lock-state".to_owned(),
            "/./*/sync/ptp-status/lock-state".to_owned(),
            format!("/./{}/ptp-inst1/sync/ptp-status/lock-state", api.node),
        ] {
            let r = api.current_state(&address);
            assert_eq!(r.status, 200, "CurrentState {address}: {r}");
            assert_lock(&r.json(), "LOCKED", -3, &value_address);
        }
    }

    // Pushes: each selected event, in order, in the upstream's format.
    api.emit_class(7);
    api.emit_lock("HOLDOVER", 5);
    api.emit_lock("FREERUN", 7);
    let got = lock.hook().wait_for(3);
    let pushed: Vec<Value> = got[1..]
        .iter()
        .map(|r| assert_push(r, LOCK_TYPE, LOCK))
        .collect();
    let seen: Vec<(String, String)> = pushed.iter().map(lock_of).collect();
    assert_eq!(
        seen,
        [
            ("HOLDOVER".into(), "5".into()),
            ("FREERUN".into(), "7".into())
        ],
        "only the lock state, in order (no clock class): {pushed:#?}"
    );
    assert_lock(&pushed[0], "HOLDOVER", 5, &value_address);
    let got = all.hook().wait_for(5);
    let class = assert_push(&got[2], CLASS_TYPE, CLASS);
    assert_eq!(class["data"]["values"][0]["value"], "7");
    assert_eq!(lock_of(&got[3].json()).0, "HOLDOVER");
    assert_eq!(lock_of(&got[4].json()).0, "FREERUN");
    let form = time_form(pushed[0]["time"].as_str().unwrap_or_default());
    if flavor == Flavor::RedHat {
        assert_eq!(form, Some(TimeForm::Rfc3339), "{:#}", pushed[0]);
    }
    eprintln!("{} pushes write time as {form:?}", flavor.name());

    // Delete one: 204, then 404, and nothing more reaches it.
    let r = lock.unsubscribe(&api, &sub);
    assert_eq!(r.status, 204, "DELETE /subscriptions/{}: {r}", sub.id);
    let r = api.get(&format!("/subscriptions/{}", sub.id));
    assert_eq!(r.status, 404, "GET a deleted subscription: {r}");
    let r = lock.unsubscribe(&api, &sub);
    assert_eq!(r.status, 404, "DELETE a deleted subscription: {r}");
    assert_eq!(api.subscription_ids(), [all_sub.id.as_str()]);
    api.emit_lock("LOCKED", 9);
    all.hook().wait_for(6);
    assert_eq!(lock.count(), 3, "a deleted subscription gets no push");

    // Delete all: 204, none left, none pushed to.
    let r = api.delete("/subscriptions");
    assert_eq!(r.status, 204, "DELETE /subscriptions: {r}");
    assert_eq!(api.subscriptions(), Vec::<Value>::new());
    let r = api.get(&format!("/subscriptions/{}", all_sub.id));
    assert_eq!(r.status, 404, "{r}");
    let late = Consumer::answering(204);
    let late_sub = late.subscribe_ok(&api, &lock_address);
    assert_lock(
        &assert_push(&late_sub.initial[0], LOCK_TYPE, LOCK),
        "LOCKED",
        9,
        &value_address,
    );
    api.emit_lock("HOLDOVER", 11);
    late.hook().wait_for(2);
    assert_eq!(all.count(), 6, "no push after DELETE /subscriptions");
    assert_eq!(lock.count(), 3);
}

#[test]
fn pushes_go_one_at_a_time_per_subscription() {
    let api = Api::start("flow-one-at-a-time", Flavor::RedHat, "");
    api.emit_lock("LOCKED", 0);
    let slow = std::time::Duration::from_millis(300);
    let consumer = Consumer::answering(204);
    consumer.subscribe_ok(&api, &api.address(LOCK));
    consumer.answer_with(vec![crate::peers::webhook::Reply::status(204).after(slow)]);
    api.emit_lock("HOLDOVER", 1);
    api.emit_lock("FREERUN", 2);
    let got = consumer.hook().wait_for(3);
    assert!(
        got[2].at.duration_since(got[1].at) >= slow,
        "the next push waits for the answer to the one before"
    );
    let seen: Vec<(String, String)> = got[1..].iter().map(|r| lock_of(&r.json())).collect();
    assert_eq!(
        seen,
        [
            ("HOLDOVER".into(), "1".into()),
            ("FREERUN".into(), "2".into())
        ]
    );
}
