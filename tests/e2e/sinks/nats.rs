//! The NATS sink against real `nats-server` processes, read back with the
//! raw protocol (docs/SINKS.md, "NATS sink").

use serde_json::Value;

use super::*;
use crate::peers::nats::{NatsCluster, NatsMsg, NatsServer};

fn payloads(msgs: &[NatsMsg]) -> Vec<Value> {
    msgs.iter().map(NatsMsg::json).collect()
}

#[test]
fn events_are_published_in_order_on_the_subject_template() {
    let server = NatsServer::start("one");
    let consumer = server.client();
    let sid = consumer.sub("ptp.nodeA.>");
    let by_origin = consumer.sub("ptp.synthetic.x");
    consumer.flush();

    let node = Node::start("nats-one", &[]);
    let broker = &node.broker;
    let id = subscribe(
        broker,
        &server.url(),
        &["--type", "OS_CLOCK_SYNC", "--subject", "ptp.nodeA.{type}"],
    );
    subscribe(
        broker,
        &server.url(),
        &["--type", "OS_CLOCK_SYNC", "--subject", "ptp.{origin}.x"],
    );
    let sent = emit_os(broker, 6);

    let got = consumer.wait_msgs(sid, sent.len());
    for m in &got {
        assert_eq!(m.subject, format!("ptp.nodeA.{OS}"));
        assert_eq!(
            m.header("Content-Type"),
            Some("application/cloudevents+json"),
            "{m:?}"
        );
    }
    let events = payloads(&got);
    for (event, want) in events.iter().zip(&sent) {
        assert_cloud_event(event, want, broker.endpoints.epoch);
    }
    assert_eq!(ids(&events), emitted_ids(&sent));
    assert_seq_increases(&events);
    let stats = wait_sink_stat(broker, &id, "delivered", 6);
    assert_eq!(stats.get("failed"), Some(&0), "{stats:?}");

    let got = consumer.wait_msgs(by_origin, sent.len());
    assert_eq!(ids(&payloads(&got)), emitted_ids(&sent));
    assert!(consumer.errors().is_empty(), "{:?}", consumer.errors());
}

#[test]
fn the_default_subject_is_ptp_node_type_with_the_node_made_a_token() {
    let server = NatsServer::start("default-subject");
    let consumer = server.client();
    let sid = consumer.sub("ptp.>");
    consumer.flush();
    // Node names are DNS names; a dot cannot be in a subject token.
    let node = Node::start("nats-default", &["--node", "rack1.node-7"]);
    let broker = &node.broker;
    subscribe(broker, &server.url(), &["--type", "OS_CLOCK_SYNC"]);
    let sent = emit_os(broker, 2);
    let got = consumer.wait_msgs(sid, 2);
    for m in &got {
        assert_eq!(m.subject, format!("ptp.rack1_node-7.{OS}"), "{m:?}");
    }
    assert_eq!(ids(&payloads(&got)), emitted_ids(&sent));
}

#[test]
fn jetstream_stores_every_event_once_with_its_msg_id() {
    let server = NatsServer::start_jetstream("js");
    let admin = server.client();
    admin.create_stream("PTP", &["ptp.>"]);

    let node = Node::start("nats-js", &[]);
    let broker = &node.broker;
    let id = subscribe(
        broker,
        &server.url(),
        &[
            "--type",
            "OS_CLOCK_SYNC",
            "--subject",
            "ptp.nodeA.{type}",
            "--jetstream",
        ],
    );
    let sent = emit_os(broker, 5);
    let stats = wait_sink_stat(broker, &id, "delivered", 5);
    assert_eq!(stats.get("failed"), Some(&0), "{stats:?}");
    assert_eq!(admin.stream_messages("PTP"), 5);
    for (i, want) in sent.iter().enumerate() {
        let stored = admin.stream_get("PTP", i as u64 + 1);
        assert_eq!(stored.subject, format!("ptp.nodeA.{OS}"));
        let event = stored.json();
        assert_cloud_event(&event, want, broker.endpoints.epoch);
        assert_eq!(
            stored.header("Nats-Msg-Id"),
            Some(format!("{}-{}", broker.endpoints.epoch, want.seq).as_str()),
            "Nats-Msg-Id is epoch-seq: {:?}",
            stored.headers
        );
    }

    // No stream covers this subject: no acknowledgement, the event fails.
    let uncovered = subscribe(
        broker,
        &server.url(),
        &[
            "--type",
            "OS_CLOCK_SYNC",
            "--subject",
            "elsewhere.{type}",
            "--jetstream",
            "--retry",
            "1",
            "--backoff-delay-ms",
            "10",
            "--timeout-ms",
            "300",
        ],
    );
    // It gets the current state first: that one event fails.
    let stats = wait_sink_stat(broker, &uncovered, "failed", 1);
    assert_eq!(stats.get("delivered"), Some(&0), "{stats:?}");
    assert_eq!(admin.stream_messages("PTP"), 5);
}

#[test]
fn a_cluster_carries_events_from_server_one_to_a_consumer_on_server_three() {
    let cluster = NatsCluster::start(3);
    let on3 = cluster.servers[2].client();
    let sid = on3.sub("ptp.nodeA.>");
    let listed = on3.sub("ptp.nodeB.>");
    let on1 = cluster.servers[0].client();
    on3.wait_interest_from(&on1);
    let on2 = cluster.servers[1].client();
    on3.wait_interest_from(&on2);

    let node = Node::start("nats-cluster", &[]);
    let broker = &node.broker;
    let id = subscribe(
        broker,
        &cluster.servers[0].url(),
        &["--type", "OS_CLOCK_SYNC", "--subject", "ptp.nodeA.{type}"],
    );
    // Several servers in one URI: the client picks one of them.
    let both = format!("{},{}", cluster.servers[0].url(), cluster.servers[1].url());
    let listed_id = subscribe(
        broker,
        &both,
        &["--type", "OS_CLOCK_SYNC", "--subject", "ptp.nodeB.{type}"],
    );
    let sent = emit_os(broker, 6);
    let got = on3.wait_msgs(listed, sent.len());
    assert_eq!(ids(&payloads(&got)), emitted_ids(&sent));
    wait_sink_stat(broker, &listed_id, "delivered", 6);
    let got = on3.wait_msgs(sid, sent.len());
    let events = payloads(&got);
    assert_eq!(ids(&events), emitted_ids(&sent));
    assert_seq_increases(&events);
    wait_sink_stat(broker, &id, "delivered", 6);
    // The broker's connection is on server 1 (plus our raw one there).
    let connz = cluster.servers[0].monitor("/connz");
    assert!(
        connz["num_connections"].as_u64().unwrap_or(0) >= 2,
        "{connz}"
    );
}
