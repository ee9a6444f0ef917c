//! Webhook retries: which statuses are retried (knative's), Retry-After
//! and its cap, backoff and its cap, no answer and timeouts, dead letters.

use std::time::Duration;

use crate::peers::base64_decode;
use crate::peers::webhook::{Reply, Webhook};
use crate::sinks::*;

#[test]
fn a_503_is_retried_once_then_delivered() {
    let node = Node::start("wh-503", &[]);
    let broker = &node.broker;
    let hook = Webhook::start(vec![Reply::status(503), Reply::status(204)]);
    let id = subscribe(
        broker,
        &hook.url("/r"),
        &["--type", "OS_CLOCK_SYNC", "--backoff-delay-ms", "10"],
    );
    let first = emit(broker, "OS_CLOCK_SYNC", "HOLDOVER", &[]);
    let got = hook.wait_for(2);
    assert_eq!(got[0].json()["id"], first.id.as_str());
    assert_eq!(
        got[1].json()["id"],
        first.id.as_str(),
        "the retry is the same event"
    );
    let stats = wait_sink_stat(broker, &id, "delivered", 1);
    assert_eq!(stats.get("retried"), Some(&1), "{stats:?}");
    assert_eq!(stats.get("failed"), Some(&0), "{stats:?}");
    // The next event goes once: the first was not delivered again.
    let second = emit(broker, "OS_CLOCK_SYNC", "LOCKED", &[]);
    let got = hook.wait_for(3);
    assert_eq!(got[2].json()["id"], second.id.as_str());
    let stats = wait_sink_stat(broker, &id, "delivered", 2);
    assert_eq!(stats.get("retried"), Some(&1), "{stats:?}");
    assert_eq!(hook.count(), 3);
}

#[test]
fn a_400_fails_at_once_and_goes_to_the_dead_letter_sink() {
    let node = Node::start("wh-400", &[]);
    let broker = &node.broker;
    let hook = Webhook::always(Reply::status(400).body(b"no such clock"));
    let dead = Webhook::always(Reply::status(204));
    let uri = hook.url("/refuses");
    let id = subscribe(
        broker,
        &uri,
        &[
            "--type",
            "OS_CLOCK_SYNC",
            "--dead-letter",
            &dead.url("/dead"),
            "--backoff-delay-ms",
            "10",
        ],
    );
    let event = emit(broker, "OS_CLOCK_SYNC", "FREERUN", &[]);
    let letters = dead.wait_for(1);
    let stats = wait_sink_stat(broker, &id, "failed", 1);
    assert_eq!(
        stats.get("retried"),
        Some(&0),
        "a 400 is not retried: {stats:?}"
    );
    assert_eq!(stats.get("delivered"), Some(&0), "{stats:?}");
    assert_eq!(stats.get("dead_lettered"), Some(&1), "{stats:?}");
    assert_eq!(hook.count(), 1, "one attempt only");

    let letter = &letters[0];
    assert_eq!(letter.path, "/dead");
    assert!(
        letter
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/cloudevents+json")),
        "the dead letter is structured: {:?}",
        letter.header_map()
    );
    let body = letter.json();
    assert_cloud_event(&body, &event, broker.endpoints.epoch);
    assert_eq!(body["ptperrordest"], uri.as_str(), "{body:#}");
    assert_eq!(body["ptperrorcode"], "400", "{body:#}");
    assert!(
        body["ptperrorreason"]
            .as_str()
            .is_some_and(|r| r.contains("400")),
        "{body:#}"
    );
    assert_eq!(body["ptperrorattempts"], "1", "{body:#}");
    let data = body["ptperrordata"].as_str().expect("ptperrordata");
    assert!(data.len() <= 1024);
    assert_eq!(base64_decode(data).expect("base64"), b"no such clock");
    // Once, no retries of the dead letter either.
    assert_eq!(dead.count(), 1);
}

#[test]
fn always_503_is_tried_retry_plus_one_times_then_dead_lettered() {
    let node = Node::start("wh-503x", &[]);
    let broker = &node.broker;
    let hook = Webhook::always(Reply::status(503).body(b"busy"));
    let dead = Webhook::always(Reply::status(202));
    let uri = hook.url("/busy");
    let id = subscribe(
        broker,
        &uri,
        &[
            "--type",
            "OS_CLOCK_SYNC",
            "--retry",
            "2",
            "--backoff-delay-ms",
            "10",
            "--dead-letter",
            &dead.url("/dl"),
        ],
    );
    let event = emit(broker, "OS_CLOCK_SYNC", "HOLDOVER", &[]);
    let letters = dead.wait_for(1);
    let stats = wait_sink_stat(broker, &id, "failed", 1);
    assert_eq!(hook.count(), 3, "the first attempt and 2 retries");
    assert!(
        hook.requests()
            .iter()
            .all(|r| r.json()["id"] == event.id.as_str())
    );
    assert_eq!(stats.get("retried"), Some(&2), "{stats:?}");
    assert_eq!(stats.get("dead_lettered"), Some(&1), "{stats:?}");
    let body = letters[0].json();
    assert_eq!(body["id"], event.id.as_str());
    assert_eq!(body["ptperrordest"], uri.as_str(), "{body:#}");
    assert_eq!(body["ptperrorcode"], "503", "{body:#}");
    assert_eq!(body["ptperrorattempts"], "3", "{body:#}");
    assert_eq!(
        base64_decode(body["ptperrordata"].as_str().unwrap_or_default()).unwrap(),
        b"busy"
    );
}

#[test]
fn no_answer_is_code_0_and_is_retried() {
    let node = Node::start("wh-refused", &[]);
    let broker = &node.broker;
    let dead = Webhook::always(Reply::status(204));
    // Nothing listens there: port 1 is below the ephemeral range (no
    // other test's socket can take it, unlike a port found free and let go)
    // and privileged.
    let uri = "http://127.0.0.1:1/nobody".to_owned();
    let id = subscribe(
        broker,
        &uri,
        &[
            "--type",
            "OS_CLOCK_SYNC",
            "--retry",
            "1",
            "--backoff-delay-ms",
            "10",
            "--dead-letter",
            &dead.url("/dl"),
        ],
    );
    let event = emit(broker, "OS_CLOCK_SYNC", "LOCKED", &[]);
    let body = dead.wait_for(1)[0].json();
    let stats = wait_sink_stat(broker, &id, "failed", 1);
    assert_eq!(stats.get("retried"), Some(&1), "{stats:?}");
    assert_eq!(body["id"], event.id.as_str());
    assert_eq!(body["ptperrorcode"], "0", "{body:#}");
    assert_eq!(body["ptperrorattempts"], "2", "{body:#}");
    assert!(
        body["ptperrorreason"]
            .as_str()
            .is_some_and(|r| r.to_ascii_lowercase().contains("refused")),
        "{body:#}"
    );
}

#[test]
fn a_timeout_is_retried_and_reported_as_such() {
    let node = Node::start("wh-timeout", &[]);
    let broker = &node.broker;
    let hook = Webhook::always(Reply::status(204).after(Duration::from_secs(30)));
    let dead = Webhook::always(Reply::status(204));
    let id = subscribe(
        broker,
        &hook.url("/slow"),
        &[
            "--type",
            "OS_CLOCK_SYNC",
            "--timeout-ms",
            "200",
            "--retry",
            "1",
            "--backoff-delay-ms",
            "10",
            "--dead-letter",
            &dead.url("/dl"),
        ],
    );
    emit(broker, "OS_CLOCK_SYNC", "HOLDOVER", &[]);
    let body = dead.wait_for(1)[0].json();
    wait_sink_stat(broker, &id, "failed", 1);
    assert_eq!(hook.count(), 2);
    assert_eq!(body["ptperrorcode"], "0", "{body:#}");
    assert!(
        body["ptperrorreason"]
            .as_str()
            .is_some_and(|r| r.to_ascii_lowercase().contains("timeout")
                || r.to_ascii_lowercase().contains("timed out")),
        "{body:#}"
    );
}

#[test]
fn retry_after_is_honoured_up_to_its_cap() {
    let node = Node::start("wh-retry-after", &[]);
    let broker = &node.broker;
    // 429 asking for 1 s, within the default cap.
    let honoured = Webhook::start(vec![
        Reply::status(429).header("Retry-After", "1"),
        Reply::status(204),
    ]);
    // 503 may carry Retry-After too.
    let on_503 = Webhook::start(vec![
        Reply::status(503).header("Retry-After", "1"),
        Reply::status(204),
    ]);
    // 429 asking for 30 s, capped at 300 ms.
    let capped = Webhook::start(vec![
        Reply::status(429).header("Retry-After", "30"),
        Reply::status(204),
    ]);
    let common = ["--type", "OS_CLOCK_SYNC", "--backoff-delay-ms", "10"];
    let a = subscribe(broker, &honoured.url("/a"), &common);
    let b = subscribe(broker, &on_503.url("/b"), &common);
    let mut with_cap = common.to_vec();
    with_cap.extend(["--retry-after-max-ms", "300"]);
    let c = subscribe(broker, &capped.url("/c"), &with_cap);
    emit(broker, "OS_CLOCK_SYNC", "FREERUN", &[]);

    for (hook, id) in [(&honoured, &a), (&on_503, &b)] {
        let got = hook.wait_for(2);
        let gap = got[1].at - got[0].at;
        assert!(
            gap >= Duration::from_millis(900),
            "Retry-After: 1 honoured, not the 10 ms backoff: {gap:?}"
        );
        let stats = wait_sink_stat(broker, id, "delivered", 1);
        assert_eq!(stats.get("retried"), Some(&1), "{stats:?}");
    }
    let got = capped.wait_for(2);
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(250) && gap < Duration::from_secs(10),
        "Retry-After: 30 capped at 300 ms: {gap:?}"
    );
    wait_sink_stat(broker, &c, "delivered", 1);
}

#[test]
fn statuses_are_retried_or_not_as_knative_does() {
    let node = Node::start("wh-statuses", &[]);
    let broker = &node.broker;
    // Where a redirect points: must never be followed.
    let target = Webhook::always(Reply::status(204));
    let retried = [500, 502, 404, 408, 409, 429];
    let not_retried = [301, 307, 401, 403, 410, 422];
    let mut hooks = Vec::new();
    for status in retried.iter().chain(&not_retried) {
        let first = Reply::status(*status).header("Location", &target.url("/moved"));
        let hook = Webhook::start(vec![first, Reply::status(204)]);
        let id = subscribe(
            broker,
            &hook.url(&format!("/{status}")),
            &[
                "--type",
                "OS_CLOCK_SYNC",
                "--retry",
                "1",
                "--backoff-delay-ms",
                "10",
            ],
        );
        hooks.push((*status, hook, id));
    }
    // Exponential from 600 ms: 600, 1200, 2400 ms, each capped at 700 ms.
    let capped = Webhook::start(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::status(503),
        Reply::status(204),
    ]);
    let capped_id = subscribe(
        broker,
        &capped.url("/capped"),
        &[
            "--type",
            "OS_CLOCK_SYNC",
            "--backoff-delay-ms",
            "600",
            "--backoff-max-ms",
            "700",
        ],
    );
    emit(broker, "OS_CLOCK_SYNC", "LOCKED", &[]);
    for (status, hook, id) in &hooks {
        if retried.contains(status) {
            let stats = wait_sink_stat(broker, id, "delivered", 1);
            assert_eq!(stats.get("retried"), Some(&1), "{status}: {stats:?}");
            assert_eq!(hook.count(), 2, "{status} is retried");
        } else {
            let stats = wait_sink_stat(broker, id, "failed", 1);
            assert_eq!(stats.get("retried"), Some(&0), "{status}: {stats:?}");
            assert_eq!(hook.count(), 1, "{status} is not retried");
        }
    }
    assert_eq!(target.count(), 0, "redirects are not followed");
    let got = capped.wait_for(4);
    let last_wait = got[3].at - got[2].at;
    assert!(
        last_wait >= Duration::from_millis(600) && last_wait < Duration::from_millis(1800),
        "the third wait is 700 ms (capped), not 2400: {last_wait:?}"
    );
    wait_sink_stat(broker, &capped_id, "delivered", 1);
}
