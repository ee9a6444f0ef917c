//! The API's subscriptions outlive the broker (docs/ORAN-API.md,
//! "Persistence"): kept in the state directory before the 201, back after
//! `kill -9` with the same ids; the consumer then gets the current state,
//! once the broker knows it, and every change, each once. They are listed
//! by `ptp-broker subscriptions` and removed through the API only.

use serde_json::Value;

use super::consumer::subscription;
use super::format::{assert_push, lock_of};
use super::*;

fn pairs(events: &[Value]) -> Vec<(String, String)> {
    events.iter().map(lock_of).collect()
}

fn pair(state: &str, offset: &str) -> (String, String) {
    (state.to_owned(), offset.to_owned())
}

#[test]
fn subscriptions_survive_kill_9_and_get_the_state_then_changes() {
    let mut api = Api::start("persist", Flavor::RedHat, "");
    api.emit_lock("LOCKED", 0);
    let consumer = Consumer::answering(204);
    let sub = consumer.subscribe_ok(&api, &api.address(LOCK));
    let file = api.dir.path().join("state").join("oran-subscriptions.json");
    assert!(file.exists(), "written before the 201: {}", file.display());
    api.emit_lock("HOLDOVER", 1);
    consumer.wait_events(2);

    api.restart();
    let listed = api.subscriptions();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let back = subscription(&listed[0], api.base());
    assert_eq!(
        (&back.id, &back.address, &back.endpoint),
        (&sub.id, &sub.address, &sub.endpoint),
        "the same subscription after kill -9"
    );
    let r = api.get(&format!("/subscriptions/{}", sub.id));
    assert_eq!(r.status, 200, "{r}");

    // The CLI lists it as the API's, and cannot remove it.
    let cli = crate::sinks::subscriptions(&api.broker);
    let entry = cli
        .iter()
        .find(|s| s["id"] == sub.id.as_str())
        .unwrap_or_else(|| panic!("ptp-broker subscriptions lists {}: {cli:#?}", sub.id));
    assert_eq!(entry["declared"], "api", "{entry:#}");
    crate::sinks::tool_err(&api.broker, &["unsubscribe", &sub.id]);
    assert_eq!(api.subscription_ids(), [sub.id.as_str()]);

    // The state, once known, then the changes; each once.
    api.emit_lock("FREERUN", 2);
    api.emit_lock("LOCKED", 3);
    let got = consumer.hook().wait_for(4);
    for r in &got[2..] {
        assert_push(r, LOCK_TYPE, LOCK);
    }
    let events = consumer.events();
    assert_eq!(
        pairs(&events),
        [
            pair("LOCKED", "0"),
            pair("HOLDOVER", "1"),
            pair("FREERUN", "2"),
            pair("LOCKED", "3")
        ],
        "before and after the restart, nothing twice"
    );

    // A DELETE is kept too.
    let r = consumer.unsubscribe(&api, &sub);
    assert_eq!(r.status, 204, "{r}");
    api.restart();
    assert!(api.subscriptions().is_empty(), "deleted for good");
}

#[test]
fn a_starlingx_sync_subscription_comes_back_for_every_resource() {
    // The broker holds no state right after a restart: the first emit is
    // the state the consumer gets, once; a consumer subscribing then gets
    // the same state initially; a resource first seen after the restart
    // reaches the `/sync` subscription too.
    let mut api = Api::start("persist-stx", Flavor::StarlingX, "");
    api.emit_lock("LOCKED", 0);
    let old = Consumer::answering(204);
    let old_sub = old.subscribe_ok(&api, &api.address("/sync"));
    api.restart();
    assert_eq!(api.subscription_ids(), [old_sub.id.as_str()]);
    api.emit_lock("HOLDOVER", 1);
    let got = old.hook().wait_for(2);
    assert_eq!(pairs(&[got[1].json()]), [pair("HOLDOVER", "1")]);
    let new = Consumer::answering(204);
    let new_sub = new.subscribe_ok(&api, &api.address(LOCK));
    assert_eq!(pairs(&[new_sub.initial[0].json()]), [pair("HOLDOVER", "1")]);
    api.emit_class(6);
    let got = old.hook().wait_for(3);
    assert_eq!(
        got[2].json()["type"],
        CLASS_TYPE,
        "/sync gets the clock class"
    );
    assert_eq!(old.count(), 3);
}
