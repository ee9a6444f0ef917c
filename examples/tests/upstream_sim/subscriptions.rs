//! Subscription API: creation rules, errors, CurrentState, deletion, health.

use super::*;

#[tokio::test]
async fn redhat_initial_notification_arrives_before_201() {
    let sim = start_sim(Flavor::RedHat).await;
    let mut rx = start_receiver(204).await;
    let (status, body) = sim.subscribe(&redhat(LOCK), &rx.url).await;
    assert_eq!(status, 201, "{body}");
    let initial = rx
        .already_received()
        .expect("initial notification before the 201");
    assert_eq!(initial.content_type.as_deref(), Some("application/json"));
    assert_eq!(initial.path, "/callback");
    let event = initial.body;
    assert_reference_shape(&event);
    assert_eq!(event["source"], LOCK);
    assert_eq!(event["type"], "event.sync.ptp-status.ptp-state-change");
    let time = event["time"].as_str().expect("time");
    assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
    assert_eq!(
        time.split('.').nth(1).map(str::len),
        Some(10),
        "nanoseconds + Z: {time}"
    );
    let values = &event["data"]["values"];
    assert_eq!(
        values[0]["ResourceAddress"],
        format!("/cluster/node/{NODE}/ens1f0/master")
    );
    assert_eq!(values[0]["data_type"], "notification");
    assert_eq!(values[0]["value_type"], "enumeration");
    assert_eq!(values[0]["value"], "LOCKED");
    assert_eq!(values[1]["data_type"], "metric");
    assert_eq!(values[1]["value_type"], "decimal64.3");
    assert_eq!(values[1]["value"], "-3");

    let id = body["SubscriptionId"].as_str().expect("SubscriptionId");
    assert_eq!(body["ResourceAddress"], redhat(LOCK));
    assert_eq!(body["EndpointUri"], rx.url);
    assert_eq!(
        body["UriLocation"],
        format!("{}/subscriptions/{id}", sim.api)
    );
    assert!(sim.api.ends_with("/api/ocloudNotifications/v2"));
}

#[tokio::test]
async fn redhat_requires_204_but_starlingx_accepts_200() {
    let sim = start_sim(Flavor::RedHat).await;
    let mut rx = start_receiver(200).await;
    let (status, _) = sim.subscribe(&redhat(LOCK), &rx.url).await;
    assert_eq!(status, 400);
    assert!(
        rx.already_received().is_some(),
        "the initial notification was sent"
    );
    assert_eq!(
        sim.get(&format!("{}/subscriptions", sim.api)).await.1,
        serde_json::json!([])
    );

    let sim = start_sim(Flavor::StarlingX).await;
    let mut rx = start_receiver(200).await;
    let (status, body) = sim
        .subscribe("/./node1/sync/ptp-status/lock-state", &rx.url)
        .await;
    assert_eq!(status, 201, "{body}");
    let event = rx.already_received().expect("initial notification").body;
    assert_reference_shape(&event);
    let time = event["time"].as_str().expect("time");
    assert_eq!(time.len(), "2022-08-12T19:20:54896244Z".len(), "{time}");
    assert!(!time.contains('.'));
    assert_eq!(
        event["data"]["values"][0]["ResourceAddress"],
        "/./node1/sync/ptp-status/lock-state"
    );
}

#[tokio::test]
async fn starlingx_retries_the_initial_notification_three_times() {
    let sim = start_sim(Flavor::StarlingX).await;
    let mut rx = start_receiver(500).await;
    let (status, _) = sim
        .subscribe("/./node1/sync/sync-status/sync-state", &rx.url)
        .await;
    assert_eq!(status, 400);
    for _ in 0..3 {
        assert!(rx.already_received().is_some());
    }
    assert!(rx.already_received().is_none());
}

#[tokio::test]
async fn redhat_conflicts_on_same_address_and_endpoint_only() {
    let sim = start_sim(Flavor::RedHat).await;
    let a = start_receiver(204).await;
    let b = start_receiver(204).await;
    assert_eq!(sim.subscribe(&redhat(LOCK), &a.url).await.0, 201);
    assert_eq!(sim.subscribe(&redhat(LOCK), &a.url).await.0, 409);
    assert_eq!(sim.subscribe(&redhat(LOCK), &b.url).await.0, 201);
    assert_eq!(sim.subscribe(&redhat(CLASS), &a.url).await.0, 201);
}

#[tokio::test]
async fn starlingx_conflicts_when_one_path_covers_the_other() {
    let sim = start_sim(Flavor::StarlingX).await;
    let a = start_receiver(204).await;
    let b = start_receiver(204).await;
    assert_eq!(
        sim.subscribe("/./node1/sync/ptp-status", &a.url).await.0,
        201
    );
    assert_eq!(
        sim.subscribe("/./node1/sync/ptp-status", &a.url).await.0,
        409
    );
    assert_eq!(
        sim.subscribe("/./node1/sync/ptp-status/lock-state", &a.url)
            .await
            .0,
        409
    );
    assert_eq!(sim.subscribe("/./node1/sync", &a.url).await.0, 409);
    assert_eq!(
        sim.subscribe("/./node1/sync/sync-status", &a.url).await.0,
        201
    );
    assert_eq!(sim.subscribe("/./node1/sync", &b.url).await.0, 201);
}

#[tokio::test]
async fn unknown_resources_are_404_and_bad_bodies_400() {
    for flavor in [Flavor::RedHat, Flavor::StarlingX] {
        let sim = start_sim(flavor).await;
        let rx = start_receiver(204).await;
        let url = format!("{}/subscriptions", sim.api);
        let other_node = "/cluster/node/node2/sync/ptp-status/lock-state";
        assert_eq!(
            sim.subscribe(other_node, &rx.url).await.0,
            404,
            "{flavor:?}"
        );
        assert_eq!(
            sim.subscribe("/./node1/sync/nope", &rx.url).await.0,
            404,
            "{flavor:?}"
        );
        let missing = [
            serde_json::json!({"ResourceAddress": redhat(LOCK)}),
            serde_json::json!({"EndpointUri": rx.url}),
            serde_json::json!({"ResourceAddress": "", "EndpointUri": rx.url}),
            serde_json::json!({"ResourceAddress": redhat(LOCK), "EndpointUri": "not a url"}),
            serde_json::json!([1, 2]),
        ];
        for body in missing {
            assert_eq!(sim.post_json(&url, &body).await.0, 400, "{flavor:?} {body}");
        }
        let response = sim
            .http
            .post(&url)
            .body("{not json")
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status().as_u16(), 400);
    }
}

#[tokio::test]
async fn redhat_current_state_is_404_unless_subscribed() {
    let sim = start_sim(Flavor::RedHat).await;
    let rx = start_receiver(204).await;
    let url = format!("{}{}/CurrentState", sim.api, redhat(OS));
    assert_eq!(sim.get(&url).await.0, 404);
    assert_eq!(sim.subscribe(&redhat(LOCK), &rx.url).await.0, 201);
    assert_eq!(sim.get(&url).await.0, 404, "another address does not count");
    assert_eq!(sim.subscribe(&redhat(OS), &rx.url).await.0, 201);
    let (status, event) = sim.get(&url).await;
    assert_eq!(status, 200);
    assert_reference_shape(&event);
    assert_eq!(event["source"], OS);
    assert_eq!(
        event["data"]["values"][0]["ResourceAddress"],
        format!("/cluster/node/{NODE}/CLOCK_REALTIME")
    );
}

#[tokio::test]
async fn starlingx_current_state_needs_no_subscription() {
    let sim = start_sim(Flavor::StarlingX).await;
    // reqwest removes the "." segments, as real clients do.
    let url = format!(
        "{}/./node1/sync/sync-status/sync-state/CurrentState",
        sim.api
    );
    let (status, event) = sim.get(&url).await;
    assert_eq!(status, 200);
    assert_eq!(
        event["type"],
        "event.sync.sync-status.synchronization-state-change"
    );
    assert_eq!(event["data"]["values"][0]["value"], "LOCKED");
    let unknown = format!(
        "{}/./node2/sync/sync-status/sync-state/CurrentState",
        sim.api
    );
    assert_eq!(sim.get(&unknown).await.0, 404);
    let group = format!("{}/./node1/sync/ptp-status/CurrentState", sim.api);
    let (status, events) = sim.get(&group).await;
    assert_eq!(status, 200);
    let keys: Vec<&String> = events.as_object().expect("object").keys().collect();
    assert_eq!(keys, [CLASS, LOCK]);
    assert_reference_shape(&events[LOCK]);
}

#[tokio::test]
async fn delete_semantics() {
    let sim = start_sim(Flavor::RedHat).await;
    let mut rx = start_receiver(204).await;
    let (_, first) = sim.subscribe(&redhat(LOCK), &rx.url).await;
    let (_, second) = sim.subscribe(&redhat(SYNC), &rx.url).await;
    let one = format!(
        "{}/subscriptions/{}",
        sim.api,
        first["SubscriptionId"].as_str().expect("id")
    );
    assert_eq!(sim.get(&one).await, (200, first.clone()));
    assert_eq!(sim.delete(&one).await, 204);
    assert_eq!(sim.get(&one).await.0, 404);
    assert_eq!(sim.delete(&one).await, 404);
    let list = sim.get(&format!("{}/subscriptions", sim.api)).await.1;
    assert_eq!(list, serde_json::json!([second]));
    assert_eq!(
        sim.get(&format!("{}/sim/subscriptions", sim.root)).await.1,
        list
    );

    while rx.already_received().is_some() {}
    sim.step().await;
    let delivered: Vec<String> = std::iter::from_fn(|| rx.already_received())
        .map(|r| r.body["source"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(delivered, [SYNC], "deleted subscription gets nothing");

    assert_eq!(sim.delete(&format!("{}/subscriptions", sim.api)).await, 204);
    assert_eq!(
        sim.get(&format!("{}/subscriptions", sim.api)).await.1,
        serde_json::json!([])
    );

    let starlingx = start_sim(Flavor::StarlingX).await;
    assert_eq!(
        starlingx
            .delete(&format!("{}/subscriptions", starlingx.api))
            .await,
        405
    );
}

#[tokio::test]
async fn health_and_publishers() {
    let sim = start_sim(Flavor::RedHat).await;
    assert_eq!(
        sim.get(&format!("{}/health", sim.api)).await,
        (200, Value::String("OK".into()))
    );
    let (status, publishers) = sim.get(&format!("{}/publishers", sim.api)).await;
    assert_eq!(status, 200);
    let addresses: Vec<&str> = publishers
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["ResourceAddress"].as_str())
        .collect();
    assert!(addresses.contains(&redhat(LOCK).as_str()), "{publishers}");
    let starlingx = start_sim(Flavor::StarlingX).await;
    assert_eq!(
        starlingx.get(&format!("{}/health", starlingx.api)).await.0,
        200
    );
    assert_eq!(
        starlingx
            .get(&format!("{}/publishers", starlingx.api))
            .await
            .0,
        404
    );
}
