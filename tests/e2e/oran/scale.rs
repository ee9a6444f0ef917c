//! A hundred consumers, each with its own server and `EndpointUri`, get
//! every one of twenty events, in order (docs/ORAN-API.md, "Pushes": in
//! order, one at a time per subscription). What N consumers cost the
//! upstream is one subscription; what they get is everything.

use std::time::Duration;

use super::format::{assert_push, lock_of};
use super::*;
use crate::util::heavy;

const CONSUMERS: usize = 100;
const EVENTS: usize = 20;

#[test]
fn a_hundred_consumers_each_get_every_event_in_order() {
    let _heavy = heavy();
    let api = Api::start("scale", Flavor::RedHat, "");
    api.emit_lock("LOCKED", -1);
    let address = api.address(LOCK);
    let consumers: Vec<Consumer> = (0..CONSUMERS).map(|_| Consumer::answering(204)).collect();
    let subs: Vec<Subscription> = consumers
        .iter()
        .map(|c| c.subscribe_ok(&api, &address))
        .collect();
    assert_eq!(api.subscriptions().len(), CONSUMERS);

    let mut want = vec![("LOCKED".to_owned(), "-1".to_owned())];
    for i in 0..EVENTS {
        let state = STATES[(i + 1) % 3];
        api.emit_lock(state, i as i64);
        want.push((state.to_owned(), i.to_string()));
    }
    for (k, consumer) in consumers.iter().enumerate() {
        let got = consumer
            .hook()
            .wait_for_within(EVENTS + 1, Duration::from_secs(60));
        let seen: Vec<(String, String)> = got
            .iter()
            .map(|r| lock_of(&assert_push(r, LOCK_TYPE, LOCK)))
            .collect();
        assert_eq!(
            seen, want,
            "consumer {k} ({}): every event, in order",
            subs[k].id
        );
    }
    let stats = api.broker.stats();
    for (consumer, sub) in consumers.iter().zip(&subs) {
        let failed = stats.get(&format!("sink.{}.failed", sub.id)).copied();
        assert_eq!(failed.unwrap_or(0), 0, "{}", sub.id);
        assert_eq!(consumer.count(), EVENTS + 1, "each event once");
    }
    let r = api.delete("/subscriptions");
    assert_eq!(r.status, 204, "{r}");
    assert!(api.subscriptions().is_empty());
}
