//! The error answers of the references (REFERENCE.md §2, §7; the StarlingX
//! error codes): 400 for a bad body (with the reason), 404 for an unknown
//! resource, another node, or no state yet, 409 for a duplicate by each
//! flavour's rule. None of them leaves a subscription or notifies anyone.

use serde_json::json;

use super::*;

/// The reason names `field` (case and punctuation aside).
fn names(r: &Response, field: &str) -> bool {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    squash(&r.text()).contains(&squash(field))
}

#[test]
fn bad_bodies_are_400_with_the_reason() {
    let api = Api::start("errors-400", Flavor::RedHat, "");
    api.emit_lock("LOCKED", 0);
    let consumer = Consumer::answering(204);
    let address = api.address(LOCK);
    let endpoint = consumer.endpoint();

    let r = api.post_subscription(&json!({"ResourceAddress": address}));
    assert_eq!(r.status, 400, "missing EndpointUri: {r}");
    assert!(names(&r, "EndpointUri"), "the reason: {r}");
    let r = api.post_subscription(&json!({"ResourceAddress": address, "EndpointUri": ""}));
    assert_eq!(r.status, 400, "empty EndpointUri: {r}");
    assert!(names(&r, "EndpointUri"), "the reason: {r}");
    let r = api.post_subscription(&json!({"EndpointUri": endpoint}));
    assert_eq!(r.status, 400, "missing ResourceAddress: {r}");
    assert!(names(&r, "ResourceAddress"), "the reason: {r}");
    let r = api.post_subscription(
        &json!({"ResourceAddress": address, "EndpointUri": "ftp://127.0.0.1/x"}),
    );
    assert_eq!(r.status, 400, "an EndpointUri that is not http: {r}");
    for bad in [
        &b"{\"ResourceAddress\": "[..],
        b"not json",
        b"",
        b"[]",
        b"42",
    ] {
        let r = api.post_subscription_raw(bad);
        assert_eq!(
            r.status,
            400,
            "body {:?}: {r}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(consumer.count(), 0, "nobody was notified");
    assert!(api.subscriptions().is_empty());
}

#[test]
fn unknown_resources_other_nodes_and_no_state_are_404() {
    let api = Api::start("errors-404", Flavor::RedHat, "");
    let consumer = Consumer::answering(204);
    let lock = api.address(LOCK);

    // No state yet: 404, as cloud-event-proxy answers.
    let r = consumer.subscribe(&api, &lock);
    assert_eq!(r.status, 404, "no state yet: {r}");
    let r = api.current_state(&lock);
    assert_eq!(r.status, 404, "CurrentState with no state: {r}");

    api.emit_lock("LOCKED", 0);
    // Unlike cloud-event-proxy, no subscription is needed for CurrentState.
    let r = api.current_state(&lock);
    assert_eq!(
        r.status, 200,
        "CurrentState with state, no subscription: {r}"
    );
    let unknown = [
        api.address("/sync/ptp-status/no-such-thing"),
        api.address("/sync/ptp-stat"),
        api.address("/bogus"),
        api.flavor.address_on("other-node", LOCK),
        format!("/cluster/node/{}", api.node),
    ];
    for address in &unknown {
        let r = consumer.subscribe(&api, address);
        assert_eq!(r.status, 404, "POST {address}: {r}");
        let r = api.current_state(address);
        assert_eq!(r.status, 404, "CurrentState {address}: {r}");
    }
    // Known, but nothing emitted for it.
    let class = api.address(CLASS);
    assert_eq!(consumer.subscribe(&api, &class).status, 404);
    assert_eq!(api.current_state(&class).status, 404);

    assert_eq!(consumer.count(), 0, "nobody was notified");
    assert!(api.subscriptions().is_empty());
    let r = api.get("/subscriptions/704f21a0-19a3-11ed-854c-8a6cf180560d");
    assert_eq!(r.status, 404, "GET an unknown subscription: {r}");
    let r = api.delete("/subscriptions/704f21a0-19a3-11ed-854c-8a6cf180560d");
    assert_eq!(r.status, 404, "DELETE an unknown subscription: {r}");
}

#[test]
fn starlingx_answers_404_for_another_node() {
    let api = Api::start("errors-404-stx", Flavor::StarlingX, "");
    api.emit_lock("LOCKED", 0);
    let consumer = Consumer::answering(204);
    for address in [
        "/./other-node/sync/ptp-status/lock-state",
        "/./controller-0/sync/nothing",
    ] {
        assert_eq!(consumer.subscribe(&api, address).status, 404, "{address}");
        assert_eq!(api.current_state(address).status, 404, "{address}");
    }
    assert_eq!(consumer.count(), 0);
}

#[test]
fn red_hat_duplicates_are_the_same_address_and_endpoint() {
    let api = Api::start("errors-409-redhat", Flavor::RedHat, "");
    api.emit_lock("LOCKED", 0);
    api.emit_class(6);
    let consumer = Consumer::answering(204);
    let lock = api.address(LOCK);
    consumer.subscribe_ok(&api, &lock);
    let r = consumer.subscribe(&api, &lock);
    assert_eq!(r.status, 409, "the same address and endpoint again: {r}");
    assert_eq!(
        consumer.count(),
        1,
        "a duplicate is refused before notifying"
    );
    // Not duplicates under Red Hat's rule.
    consumer.subscribe_ok(&api, &api.address(CLASS));
    consumer.subscribe_ok(&api, &api.address("/sync"));
    Consumer::answering(204).subscribe_ok(&api, &lock);
    assert_eq!(api.subscriptions().len(), 4);
}

#[test]
fn starlingx_duplicates_are_the_same_endpoint_and_a_prefix() {
    let api = Api::start("errors-409-stx", Flavor::StarlingX, "");
    api.emit_lock("LOCKED", 0);
    api.emit_class(6);
    let sync = api.address("/sync");
    let lock = api.address(LOCK);

    let first = Consumer::answering(204);
    first.subscribe_ok(&api, &sync);
    let notified = first.count();
    for address in [&lock, &api.address("/sync/ptp-status"), &sync] {
        let r = first.subscribe(&api, address);
        assert_eq!(r.status, 409, "{address} under {sync}, same endpoint: {r}");
    }
    assert_eq!(
        first.count(),
        notified,
        "a duplicate is refused before notifying"
    );

    // The other way round: the longer one first.
    let second = Consumer::answering(204);
    second.subscribe_ok(&api, &lock);
    let r = second.subscribe(&api, &sync);
    assert_eq!(r.status, 409, "{sync} over {lock}, same endpoint: {r}");
    // Neither a prefix of the other: no conflict.
    second.subscribe_ok(&api, &api.address(CLASS));
    // Another endpoint: no conflict.
    Consumer::answering(204).subscribe_ok(&api, &sync);
    assert_eq!(api.subscriptions().len(), 4);
}

#[test]
fn more_than_max_per_endpoint_is_400() {
    let api = Api::start("errors-max", Flavor::RedHat, "max_per_endpoint = 2");
    api.emit_lock("LOCKED", 0);
    api.emit_class(6);
    let consumer = Consumer::answering(204);
    consumer.subscribe_ok(&api, &api.address(LOCK));
    consumer.subscribe_ok(&api, &api.address(CLASS));
    let r = consumer.subscribe(&api, &api.address("/sync"));
    assert_eq!(
        r.status, 400,
        "a third subscription for one EndpointUri: {r}"
    );
    assert_eq!(api.subscriptions().len(), 2);
    Consumer::answering(204).subscribe_ok(&api, &api.address("/sync"));
}

#[test]
fn an_endpoint_outside_allow_is_400_when_the_api_is_not_on_loopback() {
    // Not on loopback: api.allow decides where an EndpointUri may point.
    let listen = ["--api-listen", "0.0.0.0:0"];
    let api = Api::start_full(
        "errors-allow",
        Flavor::RedHat,
        "allow = [\"10.0.0.0/8\"]",
        &listen,
    );
    api.emit_lock("LOCKED", 0);
    let consumer = Consumer::answering(204);
    let r = consumer.subscribe(&api, &api.address(LOCK));
    assert_eq!(r.status, 400, "127.0.0.1 is outside 10.0.0.0/8: {r}");
    assert_eq!(consumer.count(), 0, "nobody was notified");
    assert!(api.subscriptions().is_empty());

    // The default allows loopback.
    let api = Api::start_full("errors-allow-default", Flavor::RedHat, "", &listen);
    api.emit_lock("LOCKED", 0);
    consumer.subscribe_ok(&api, &api.address(LOCK));
}
