//! A consumer that keeps failing is dropped (docs/ORAN-API.md, "Pushes";
//! REFERENCE.md §2, §7: cloud-event-proxy's `SetConnectionToFailAfter`):
//! after `api.drop_after_failures` final failures in a row every
//! subscription of its `EndpointUri` is removed and counted in
//! `api_consumers_dropped`; a failure is final after the webhook sink's
//! retries; a success starts the count again; Red Hat takes only a 204.

use std::time::Duration;

use super::*;
use crate::peers::webhook::Reply;

/// Failures are retried with backoff first: allow for it.
const BOUND: Duration = Duration::from_secs(60);

/// Wait until counter `key` is `want`.
fn wait_counter(api: &Api, key: &str, want: u64) {
    let mut last = 0;
    poll(&format!("{key} = {want}"), BOUND, &mut || {
        last = api.stat(key);
        assert!(last <= want, "{key} went past {want}: {last}");
        last == want
    });
}

#[test]
fn a_consumer_failing_after_retries_loses_every_subscription() {
    let api = Api::start("drop-retried", Flavor::RedHat, "drop_after_failures = 2");
    api.emit_lock("LOCKED", 0);
    api.emit_class(6);
    let failing = Consumer::new(vec![
        Reply::status(204),
        Reply::status(204),
        Reply::status(500),
    ]);
    let lock_sub = failing.subscribe_ok(&api, &api.address(LOCK));
    failing.subscribe_ok(&api, &api.address(CLASS));
    let healthy = Consumer::answering(204);
    let healthy_sub = healthy.subscribe_ok(&api, &api.address(LOCK));

    api.emit_lock("HOLDOVER", 1);
    wait_counter(&api, &format!("sink.{}.failed", lock_sub.id), 1);
    assert_eq!(
        failing.count() - 2,
        6,
        "one failed push is the first try and the webhook sink's 5 retries"
    );
    assert_eq!(api.subscriptions().len(), 3, "one failure is not enough");
    assert_eq!(api.stat("api_consumers_dropped"), 0);

    api.emit_lock("FREERUN", 2);
    api.wait("the failing consumer's subscriptions to go", BOUND, || {
        api.subscription_ids() == [healthy_sub.id.as_str()]
    });
    assert!(api.stat("api_consumers_dropped") >= 1);
    let r = api.get(&format!("/subscriptions/{}", lock_sub.id));
    assert_eq!(r.status, 404, "{r}");
    healthy.wait_events(3);
    let after = failing.count();
    api.emit_lock("LOCKED", 3);
    healthy.wait_events(4);
    assert_eq!(failing.count(), after, "a dropped consumer gets no push");
}

#[test]
fn the_default_is_ten_failures_in_a_row() {
    let api = Api::start_with_args("drop-default", Flavor::RedHat, &[]);
    api.emit_lock("LOCKED", 0);
    // 400 is not retried by the webhook sink: each push fails at once.
    let failing = Consumer::new(vec![Reply::status(204), Reply::status(400)]);
    let sub = failing.subscribe_ok(&api, &api.address(LOCK));
    let failed = format!("sink.{}.failed", sub.id);
    for k in 1..=9 {
        api.emit_lock(STATES[k % 3], k as i64);
        wait_counter(&api, &failed, k as u64);
    }
    assert_eq!(
        api.subscription_ids(),
        [sub.id.as_str()],
        "9 failures are not 10"
    );
    assert_eq!(api.stat("api_consumers_dropped"), 0);
    api.emit_lock("LOCKED", 10);
    api.wait("the subscription to go after 10 failures", BOUND, || {
        api.subscriptions().is_empty()
    });
    assert_eq!(api.stat("api_consumers_dropped"), 1);
}

#[test]
fn a_success_starts_the_count_again() {
    let api = Api::start("drop-reset", Flavor::RedHat, "drop_after_failures = 2");
    api.emit_lock("LOCKED", 0);
    let consumer = Consumer::new(vec![Reply::status(204), Reply::status(400)]);
    let sub = consumer.subscribe_ok(&api, &api.address(LOCK));
    let failed = format!("sink.{}.failed", sub.id);
    let delivered = format!("sink.{}.delivered", sub.id);

    api.emit_lock("HOLDOVER", 1);
    wait_counter(&api, &failed, 1);
    consumer.answer_with(vec![Reply::status(204)]);
    let before = api.stat(&delivered);
    api.emit_lock("FREERUN", 2);
    wait_counter(&api, &delivered, before + 1);
    consumer.answer_with(vec![Reply::status(400)]);
    api.emit_lock("LOCKED", 3);
    wait_counter(&api, &failed, 2);
    assert_eq!(
        api.subscription_ids(),
        [sub.id.as_str()],
        "two failures, but not in a row"
    );
    api.emit_lock("HOLDOVER", 4);
    api.wait("the subscription to go", BOUND, || {
        api.subscriptions().is_empty()
    });
}

#[test]
fn red_hat_counts_a_200_push_as_failed_starlingx_as_delivered() {
    let api = Api::start("drop-200-redhat", Flavor::RedHat, "drop_after_failures = 1");
    api.emit_lock("LOCKED", 0);
    let consumer = Consumer::new(vec![Reply::status(204), Reply::status(200)]);
    consumer.subscribe_ok(&api, &api.address(LOCK));
    api.emit_lock("HOLDOVER", 1);
    api.wait("a Red Hat consumer answering 200 to go", BOUND, || {
        api.subscriptions().is_empty()
    });

    let api = Api::start("drop-200-stx", Flavor::StarlingX, "drop_after_failures = 1");
    api.emit_lock("LOCKED", 0);
    let consumer = Consumer::answering(200);
    let sub = consumer.subscribe_ok(&api, &api.address(LOCK));
    let delivered = format!("sink.{}.delivered", sub.id);
    let before = api.stat(&delivered);
    api.emit_lock("HOLDOVER", 1);
    api.emit_lock("FREERUN", 2);
    wait_counter(&api, &delivered, before + 2);
    assert_eq!(consumer.count(), 3, "each push once");
    assert_eq!(api.subscription_ids(), [sub.id.as_str()]);
    assert_eq!(api.stat(&format!("sink.{}.failed", sub.id)), 0);
}
