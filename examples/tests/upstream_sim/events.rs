//! Event delivery: scenario order and shape, /sim/state, the 10-failures rule, autoplay.

use super::*;

/// (source, first value) of each event.
fn summary(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            let source = e["source"].as_str().unwrap_or_default().to_string();
            let value = e["data"]["values"][0]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (source, value)
        })
        .collect()
}

#[tokio::test]
async fn scenario_events_arrive_in_order() {
    let sim = start_sim(Flavor::RedHat).await;
    let mut rx = start_receiver(204).await;
    for resource in [SYNC, OS, CLASS, LOCK] {
        assert_eq!(sim.subscribe(&redhat(resource), &rx.url).await.0, 201);
        rx.next().await; // initial notification
    }
    let expected = [
        [
            ("HOLDOVER", "215"),
            ("7", ""),
            ("HOLDOVER", "231"),
            ("HOLDOVER", ""),
        ],
        [
            ("FREERUN", "99874"),
            ("248", ""),
            ("FREERUN", "100102"),
            ("FREERUN", ""),
        ],
        [("LOCKED", "-3"), ("6", ""), ("LOCKED", "5"), ("LOCKED", "")],
        [
            ("HOLDOVER", "215"),
            ("7", ""),
            ("HOLDOVER", "231"),
            ("HOLDOVER", ""),
        ],
    ];
    for step in expected {
        let played = sim.step().await;
        assert_eq!(played.len(), 4);
        let mut got = Vec::new();
        for (i, played_event) in played.iter().enumerate() {
            let event = rx.next().await.body;
            assert_reference_shape(&event);
            assert_eq!(
                event["id"], played_event["id"],
                "delivered in the order played"
            );
            let offset = event["data"]["values"][1]["value"]
                .as_str()
                .unwrap_or_default();
            let first = event["data"]["values"][0]["value"]
                .as_str()
                .unwrap_or_default();
            assert_eq!((first, offset), step[i]);
            got.push(event);
        }
        let sources: Vec<String> = summary(&got).into_iter().map(|(s, _)| s).collect();
        assert_eq!(sources, [LOCK, CLASS, OS, SYNC]);
    }
    assert!(rx.already_received().is_none());
    let stats = sim.stats().await;
    assert_eq!(
        stats,
        serde_json::json!({"delivered": 20, "failed": 0, "subscriptions": 4})
    );
}

#[tokio::test]
async fn starlingx_sync_subscription_gets_everything() {
    let sim = start_sim(Flavor::StarlingX).await;
    let mut rx = start_receiver(204).await;
    assert_eq!(sim.subscribe("/./node1/sync", &rx.url).await.0, 201);
    let mut initial = Vec::new();
    while let Some(got) = rx.already_received() {
        initial.push(got.body);
    }
    assert_eq!(initial.len(), 7, "one initial notification per resource");
    sim.step().await;
    let mut step = Vec::new();
    for _ in 0..4 {
        step.push(rx.next().await.body);
    }
    let want = [
        (LOCK, "HOLDOVER"),
        (CLASS, "7"),
        (OS, "HOLDOVER"),
        (SYNC, "HOLDOVER"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(s, v)| (s.to_string(), v.to_string()))
        .collect();
    assert_eq!(summary(&step), want);
    assert_eq!(step[1]["data"]["values"][0]["value_type"], "metric");
}

#[tokio::test]
async fn sim_state_pushes_one_event() {
    let sim = start_sim(Flavor::RedHat).await;
    let mut rx = start_receiver(204).await;
    assert_eq!(sim.subscribe(&redhat(LOCK), &rx.url).await.0, 201);
    rx.next().await;
    let url = format!("{}/sim/state", sim.root);
    let body = serde_json::json!({"resource": LOCK, "value": "HOLDOVER", "offset": 42});
    let (status, events) = sim.post_json(&url, &body).await;
    assert_eq!(status, 200, "{events}");
    let event = rx.next().await.body;
    assert_eq!(event["id"], events[0]["id"]);
    assert_eq!(event["data"]["values"][0]["value"], "HOLDOVER");
    assert_eq!(event["data"]["values"][1]["value"], "42");
    let bad = serde_json::json!({"resource": LOCK, "value": "holdover"});
    assert_eq!(sim.post_json(&url, &bad).await.0, 400);
    let unknown = serde_json::json!({"resource": "/sync/nope", "value": "LOCKED"});
    assert_eq!(sim.post_json(&url, &unknown).await.0, 404);
}

#[tokio::test]
async fn redhat_drops_an_endpoint_after_ten_failures_in_a_row() {
    let sim = start_sim(Flavor::RedHat).await;
    let rx = start_receiver(204).await;
    assert_eq!(sim.subscribe(&redhat(LOCK), &rx.url).await.0, 201);
    rx.answer(503);
    for _ in 1..REDHAT_MAX_FAILURES {
        sim.step().await;
    }
    rx.answer(204);
    sim.step().await; // a success resets the count
    rx.answer(503);
    for _ in 1..REDHAT_MAX_FAILURES {
        sim.step().await;
    }
    assert_eq!(
        sim.stats().await["subscriptions"],
        1,
        "nine failures in a row are tolerated"
    );
    sim.step().await;
    let stats = sim.stats().await;
    assert_eq!(stats["subscriptions"], 0, "{stats}");
    assert_eq!(stats["failed"], 2 * (REDHAT_MAX_FAILURES - 1) + 1);

    // Connection refused counts too; StarlingX keeps its subscriptions.
    let sim = start_sim(Flavor::StarlingX).await;
    let rx = start_receiver(204).await;
    let url = rx.url.clone();
    assert_eq!(
        sim.subscribe("/./node1/sync/ptp-status/lock-state", &url)
            .await
            .0,
        201
    );
    rx.stop().await;
    for _ in 0..=REDHAT_MAX_FAILURES {
        sim.step().await;
    }
    let stats = sim.stats().await;
    assert_eq!(stats["subscriptions"], 1, "{stats}");
    assert_eq!(stats["failed"], REDHAT_MAX_FAILURES + 1);
}

#[tokio::test]
async fn autoplay_plays_steps_without_control_calls() {
    let mut config = upstream_sim::Config::new(Flavor::StarlingX);
    config.listen = "127.0.0.1:0".parse().expect("literal address");
    config.interval = Some(std::time::Duration::from_millis(20));
    let bound = upstream_sim::bind(config).await.expect("bind");
    let api = bound.base_url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bound.serve(async move {
        let _ = stopped.await;
    }));
    let mut rx = start_receiver(204).await;
    let body = serde_json::json!({"ResourceAddress": "/./node1/sync/ptp-status/lock-state", "EndpointUri": rx.url});
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .post(format!("{api}/subscriptions"))
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status().as_u16(), 201);
    rx.next().await; // initial
    let mut states = Vec::new();
    while states.len() < 3 {
        let event = rx.next().await.body;
        states.push(
            event["data"]["values"][0]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    // Autoplay may have stepped before the subscription existed; the cycle order holds.
    let cycle = ["HOLDOVER", "FREERUN", "LOCKED"];
    let start = cycle
        .iter()
        .position(|s| *s == states[0])
        .expect("a scenario state");
    for (i, state) in states.iter().enumerate() {
        assert_eq!(state, cycle[(start + i) % 3]);
    }
    drop(stop);
}
