//! Self-test: real servers, raw clients, no broker.

use serde_json::Value;

use super::{NatsCluster, NatsMsg, NatsServer};
use crate::util::DEADLINE;

#[test]
fn msg_and_hmsg_are_parsed_with_their_lengths() {
    let server = NatsServer::start("one");
    let sub = server.client();
    let all = sub.sub("t.>");
    let one = sub.sub("t.exact");
    sub.flush();
    let publisher = server.client();
    // A payload holding CRLF and protocol words: only the length counts.
    publisher.publish("t.exact", None, b"MSG x 1 2\r\nPING\r\n");
    publisher.publish_headers(
        "t.h",
        Some("r.1"),
        &[
            ("Content-Type", "application/cloudevents+json"),
            ("X-A", "b: c"),
        ],
        br#"{"specversion":"1.0"}"#,
    );
    publisher.publish("t.empty", None, b"");
    publisher.flush();
    let got = sub.wait_msgs(all, 3);
    assert_eq!(got[0].subject, "t.exact");
    assert_eq!(got[0].payload, b"MSG x 1 2\r\nPING\r\n");
    assert_eq!(got[0].status, None);
    assert_eq!(got[1].subject, "t.h");
    assert_eq!(got[1].reply.as_deref(), Some("r.1"));
    assert_eq!(got[1].status.as_deref(), Some("NATS/1.0"));
    assert_eq!(
        got[1].header("content-type"),
        Some("application/cloudevents+json")
    );
    assert_eq!(got[1].header("X-A"), Some("b: c"));
    assert_eq!(got[1].json()["specversion"], "1.0");
    assert!(got[2].payload.is_empty());
    assert_eq!(sub.wait_msgs(one, 1).len(), 1);
    // No responders comes back as a 503 status.
    let answer = publisher
        .request("nobody.here", b"", DEADLINE)
        .expect("a no-responders status");
    assert_eq!(answer.status_code(), Some(503), "{answer:?}");
    assert!(sub.errors().is_empty() && publisher.errors().is_empty());
}

#[test]
fn jetstream_stores_and_deduplicates_by_msg_id() {
    let server = NatsServer::start_jetstream("js");
    let c = server.client();
    c.create_stream("E2E", &["js.>"]);
    let acks = c.sub("_ack.>");
    c.flush();
    for (i, id) in ["a-1", "a-2", "a-1"].iter().enumerate() {
        c.publish_headers(
            "js.x",
            Some(&format!("_ack.{i}")),
            &[("Nats-Msg-Id", id)],
            format!("{{\"n\":{i}}}").as_bytes(),
        );
    }
    let got = c.wait_msgs(acks, 3);
    let acks: Vec<Value> = got.iter().map(NatsMsg::json).collect();
    assert_eq!(acks[0]["stream"], "E2E");
    assert_eq!(acks[1]["seq"], 2);
    assert_eq!(acks[2]["duplicate"], true, "{acks:?}");
    assert_eq!(c.stream_messages("E2E"), 2);
    let first = c.stream_get("E2E", 1);
    assert_eq!(first.subject, "js.x");
    assert_eq!(first.header("Nats-Msg-Id"), Some("a-1"));
    assert_eq!(first.json()["n"], 0);
}

#[test]
fn a_cluster_of_three_routes_from_server_one_to_server_three() {
    let cluster = NatsCluster::start(3);
    let on3 = cluster.servers[2].client();
    let sid = on3.sub("ptp.nodeA.>");
    let on1 = cluster.servers[0].client();
    on3.wait_interest_from(&on1);
    for i in 0..5 {
        on1.publish(&format!("ptp.nodeA.t{i}"), None, format!("{i}").as_bytes());
    }
    on1.flush();
    let got = on3.wait_msgs(sid, 5);
    let payloads: Vec<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    assert_eq!(payloads, ["0", "1", "2", "3", "4"]);
    for s in &cluster.servers {
        assert_eq!(s.monitor("/varz")["cluster"]["name"], "c");
    }
}
