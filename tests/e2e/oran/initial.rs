//! The initial notification (docs/ORAN-API.md, "Initial notification";
//! REFERENCE.md §2 and §7): Red Hat takes only a 204, in one try;
//! StarlingX any 2xx, in up to three tries; otherwise 400 and no
//! subscription. A consumer that is not listening, or answers too late, is
//! refused too.

use std::time::Duration;

use super::*;
use crate::peers::webhook::Reply;

/// `POST` for the lock state is refused with 400; no subscription is left.
fn assert_refused(api: &Api, consumer: &Consumer, why: &str) {
    let r = consumer.subscribe(api, &api.address(LOCK));
    assert_eq!(r.status, 400, "{why}: {r}");
    assert!(
        api.subscriptions().is_empty(),
        "{why}: a refused subscription is not kept: {:#?}",
        api.subscriptions()
    );
}

#[test]
fn red_hat_takes_only_a_204_and_tries_once() {
    let api = Api::start("initial-redhat", Flavor::RedHat, "");
    api.emit_lock("LOCKED", 0);

    let ok_200 = Consumer::answering(200);
    assert_refused(&api, &ok_200, "a Red Hat consumer answering 200");
    assert_eq!(ok_200.count(), 1, "one try");

    let failing = Consumer::answering(500);
    assert_refused(&api, &failing, "a consumer answering 500");
    assert_eq!(failing.count(), 1, "Red Hat tries once");

    // Second time lucky does not count under Red Hat.
    let flaky = Consumer::new(vec![Reply::status(500), Reply::status(204)]);
    assert_refused(&api, &flaky, "500 to the initial notification");
    assert_eq!(flaky.count(), 1);

    // Nobody listening at EndpointUri.
    let gone = Consumer::answering(204);
    let endpoint = gone.endpoint();
    drop(gone);
    let r = api.subscribe(&api.address(LOCK), &endpoint);
    assert_eq!(r.status, 400, "an EndpointUri nobody listens on: {r}");
    assert!(api.subscriptions().is_empty());

    // A 204 is taken (and the refusals left nothing behind).
    let good = Consumer::answering(204);
    let sub = good.subscribe_ok(&api, &api.address(LOCK));
    assert_eq!(api.subscription_ids(), [sub.id]);
}

#[test]
fn starlingx_takes_any_2xx_and_tries_three_times() {
    let api = Api::start("initial-starlingx", Flavor::StarlingX, "");
    api.emit_lock("LOCKED", 0);

    let ok_200 = Consumer::answering(200);
    let sub = ok_200.subscribe_ok(&api, &api.address(LOCK));
    assert_eq!(ok_200.count(), 1);

    let second_try = Consumer::new(vec![Reply::status(500), Reply::status(204)]);
    let second = second_try.subscribe_ok(&api, &api.address(LOCK));
    assert_eq!(second_try.count(), 2, "a second try after a 500");

    let failing = Consumer::answering(500);
    let r = failing.subscribe(&api, &api.address(LOCK));
    assert_eq!(r.status, 400, "500 three times: {r}");
    assert_eq!(failing.count(), 3, "three tries");
    let mut want = vec![sub.id, second.id];
    want.sort();
    assert_eq!(api.subscription_ids(), want, "the refused one is not kept");
}

#[test]
fn the_flavour_follows_upstream_flavor_by_default() {
    // No [api] section: api.flavor is upstream.flavor (--flavor).
    let api = Api::start_with_args(
        "initial-default",
        Flavor::StarlingX,
        &["--flavor", "starlingx"],
    );
    api.emit_lock("LOCKED", 0);
    let ok_200 = Consumer::answering(200);
    ok_200.subscribe_ok(&api, &api.address(LOCK));

    let api = Api::start_with_args("initial-default-redhat", Flavor::RedHat, &[]);
    api.emit_lock("LOCKED", 0);
    assert_refused(
        &api,
        &Consumer::answering(200),
        "the default flavour is redhat",
    );
}

#[test]
fn an_initial_notification_answered_after_timeout_ms_is_refused() {
    let api = Api::start("initial-timeout", Flavor::RedHat, "timeout_ms = 300");
    api.emit_lock("LOCKED", 0);
    let slow = Consumer::answering(204);
    slow.answer_with(vec![Reply::status(204).after(Duration::from_secs(3))]);
    assert_refused(&api, &slow, "a 204 after 3 s with timeout_ms = 300");
    assert_eq!(slow.count(), 1);
    // The same consumer answering in time is taken.
    slow.answer_with(vec![Reply::status(204)]);
    slow.subscribe_ok(&api, &api.address(LOCK));
}

#[test]
fn initial_notifications_go_one_at_a_time() {
    let api = Api::start("initial-one-at-a-time", Flavor::StarlingX, "");
    api.emit_lock("LOCKED", 0);
    api.emit_class(6);
    let slow = Duration::from_millis(300);
    let consumer = Consumer::answering(204);
    consumer.answer_with(vec![Reply::status(204).after(slow)]);
    let sub = consumer.subscribe_ok(&api, &api.address("/sync"));
    assert_eq!(sub.initial.len(), 2, "lock state and clock class");
    assert!(
        sub.initial[1].at.duration_since(sub.initial[0].at) >= slow,
        "the second initial notification waited for the first's answer"
    );
}
