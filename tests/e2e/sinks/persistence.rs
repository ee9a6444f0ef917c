//! Subscriptions outlive the broker run (docs/SINKS.md, "Subscriptions"):
//! run-time ones are in the state directory and back after `kill -9`,
//! unsubscribing is for good, config-declared ones cannot be removed at
//! run time, and every restart begins with the current state again.

use serde_json::Value;

use super::*;
use crate::peers::TempDir;
use crate::peers::webhook::{Reply, Webhook};
use crate::upstream::{SIM_RESOURCES, Sim, wait_subscribed};
use crate::util::free_port;

fn by_id<'a>(subs: &'a [Value], id: &str) -> &'a Value {
    subs.iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no subscription {id} in {subs:#?}"))
}

/// The types listed name OS_CLOCK_SYNC (by constant or by type string).
fn names_os(sub: &Value) -> bool {
    sub["types"]
        .as_array()
        .is_some_and(|t| t.len() == 1 && (t[0] == "OS_CLOCK_SYNC" || t[0] == OS))
}

/// The webhook's bodies' ids, in arrival order.
fn hook_ids(hook: &Webhook) -> Vec<String> {
    hook.requests()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn runtime_subscriptions_survive_kill_9_and_unsubscribing_is_for_good() {
    let dir = TempDir::new("persist");
    let keep = Webhook::always(Reply::status(204));
    let gone = Webhook::always(Reply::status(204));
    let declared = Webhook::always(Reply::status(204));
    let binary = Webhook::always(Reply::status(204));
    // state_dir from the config file this time (the flag elsewhere).
    let config = dir.join("broker.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = {:?}\n\n\
             [[subscription]]\n\
             id = \"from-config\"\n\
             uri = {:?}\n\
             types = [\"OS_CLOCK_SYNC\"]\n",
            dir.join("state"),
            declared.url("/cfg"),
        ),
    )
    .expect("writing the config");
    let args = ["--config", config.as_str()];
    let mut broker = Broker::start(&args);

    let kept = subscribe(
        &broker,
        &keep.url("/keep"),
        &["--type", "OS_CLOCK_SYNC", "--id", "keep-me"],
    );
    assert_eq!(kept, "keep-me", "--id is the id");
    let dropped = subscribe(&broker, &gone.url("/gone"), &["--type", "OS_CLOCK_SYNC"]);
    // Options are kept too.
    subscribe(
        &broker,
        &binary.url("/bin"),
        &[
            "--id",
            "with-options",
            "--type",
            "OS_CLOCK_SYNC",
            "--mode",
            "binary",
            "--retry",
            "3",
            "--backoff",
            "linear",
        ],
    );
    assert_eq!(
        subscription_ids(&broker),
        sorted(&["from-config", "keep-me", "with-options", &dropped])
    );
    let subs = subscriptions(&broker);
    let k = by_id(&subs, "keep-me");
    assert_eq!(k["uri"], keep.url("/keep").as_str(), "{k}");
    assert_eq!(k["declared"], "runtime", "{k}");
    assert!(names_os(k), "{k}");
    assert!(k["resources"].as_array().is_some_and(Vec::is_empty), "{k}");
    let c = by_id(&subs, "from-config");
    assert_eq!(c["declared"], "config", "{c}");
    assert_eq!(c["uri"], declared.url("/cfg").as_str(), "{c}");

    let e1 = emit(&broker, "OS_CLOCK_SYNC", "LOCKED", &[]);
    for hook in [&keep, &gone, &declared, &binary] {
        hook.wait_for(1);
    }

    // Unsubscribe a run-time one; a config one cannot be.
    let out = tool_ok(&broker, &["unsubscribe", &dropped]);
    let _ = out;
    let err = tool_err(&broker, &["unsubscribe", "from-config"]);
    assert!(
        err.to_lowercase().contains("config"),
        "the reason names the config file: {err}"
    );
    assert_eq!(
        subscription_ids(&broker),
        sorted(&["from-config", "keep-me", "with-options"])
    );
    assert!(
        dir.path().join("state").join("subscriptions.json").exists(),
        "run-time subscriptions are in state_dir/subscriptions.json"
    );

    // A crash.
    let first_epoch = broker.endpoints.epoch;
    broker.kill9();
    let mut broker = Broker::start(&args);
    assert_ne!(broker.endpoints.epoch, first_epoch);
    assert_eq!(
        subscription_ids(&broker),
        sorted(&["from-config", "keep-me", "with-options"]),
        "the run-time subscriptions are back, the unsubscribed one is not"
    );
    let subs = subscriptions(&broker);
    let k = by_id(&subs, "keep-me");
    assert_eq!(k["uri"], keep.url("/keep").as_str(), "{k}");
    assert_eq!(k["declared"], "runtime", "{k}");
    assert!(names_os(k), "the filter is back too: {k}");
    let o = by_id(&subs, "with-options");
    assert_eq!(o["mode"], "binary", "{o}");
    assert_eq!(o["retry"], 3, "{o}");
    assert_eq!(o["backoff"], "linear", "{o}");

    let e2 = emit(&broker, "OS_CLOCK_SYNC", "HOLDOVER", &[]);
    keep.wait_until("e2", |r| r.iter().any(|r| r.json()["id"] == e2.id.as_str()));
    declared.wait_until("e2", |r| r.iter().any(|r| r.json()["id"] == e2.id.as_str()));
    // The new run's table was empty: nothing but e2 came after e1.
    assert_eq!(hook_ids(&keep), [e1.id.clone(), e2.id.clone()]);
    let last = keep.requests().pop().unwrap().json();
    assert_cloud_event(&last, &e2, broker.endpoints.epoch);
    wait_sink_stat(&broker, "keep-me", "delivered", 1);
    // Still binary after the restart.
    let got = binary.wait_for(2);
    assert_eq!(
        got[1].header("ce-id"),
        Some(e2.id.as_str()),
        "{:?}",
        got[1].header_map()
    );
    assert!(got[1].json().get("specversion").is_none());

    tool_ok(&broker, &["unsubscribe", "with-options"]);

    // Unsubscribed, and still after another crash.
    tool_ok(&broker, &["unsubscribe", "keep-me"]);
    assert_eq!(subscription_ids(&broker), ["from-config"]);
    broker.kill9();
    let broker = Broker::start(&args);
    assert_eq!(subscription_ids(&broker), ["from-config"]);
    let e3 = emit(&broker, "OS_CLOCK_SYNC", "FREERUN", &[]);
    declared.wait_until("e3", |r| r.iter().any(|r| r.json()["id"] == e3.id.as_str()));
    assert_eq!(hook_ids(&keep), [e1.id.clone(), e2.id.clone()]);
    assert_eq!(hook_ids(&gone), std::slice::from_ref(&e1.id));
    drop(broker);
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn after_a_restart_the_current_state_is_delivered_again_first() {
    let sim = Sim::start(free_port(), "redhat");
    let args = ["--upstream", sim.url.as_str(), "--node", "node1"];
    let mut node = Node::start("persist-upstream", &args);
    wait_subscribed(&sim, &node.broker, SIM_RESOURCES);
    let has_os_state = |broker: &Broker| {
        !tool_ok(broker, &["state", "OS_CLOCK_SYNC", "--json"])
            .trim()
            .is_empty()
    };
    crate::util::wait_until("the upstream's OS clock state", || {
        has_os_state(&node.broker)
    });

    let hook = Webhook::always(Reply::status(204));
    subscribe(&node.broker, &hook.url("/h"), &["--type", "OS_CLOCK_SYNC"]);
    let first = hook.wait_for(1)[0].json();
    assert_eq!(first["type"], OS, "{first:#}");
    assert_eq!(first["origin"], "upstream", "{first:#}");
    assert_eq!(first["epoch"], node.broker.endpoints.epoch, "{first:#}");
    let resource = first["data"]["values"][0]["ResourceAddress"].clone();

    node.restart(&args);
    let epoch = node.broker.endpoints.epoch;
    let got = hook.wait_until("a delivery of the new run", |r| {
        r.iter().any(|r| r.json()["epoch"] == epoch)
    });
    let again = got
        .iter()
        .map(|r| r.json())
        .find(|e| e["epoch"] == epoch)
        .unwrap();
    assert_eq!(again["type"], OS, "the current state first: {again:#}");
    assert_eq!(again["origin"], "upstream", "{again:#}");
    assert_eq!(again["data"]["values"][0]["ResourceAddress"], resource);

    // Then the changes of the new run, once it is subscribed upstream.
    crate::util::wait_until("the new run subscribed upstream", || {
        stat(&node.broker, "upstream_subscribed") == SIM_RESOURCES as u64
    });
    let mut change = None;
    for _ in 0..8 {
        if let Some((_, id)) = sim.step().into_iter().find(|(t, _)| t == OS) {
            change = Some(id);
            break;
        }
    }
    let change = change.expect("the scenario changes the OS clock state");
    let got = hook.wait_until("the change", |r| {
        r.iter().any(|r| r.json()["id"] == change.as_str())
    });
    let events: Vec<Value> = got.iter().map(|r| r.json()).collect();
    let this_run: Vec<Value> = events.into_iter().filter(|e| e["epoch"] == epoch).collect();
    assert_seq_increases(&this_run);
    assert_eq!(this_run.last().unwrap()["id"], change.as_str());
}
