//! The JSON-RPC sink: OpenSIPS `event_stream` (seed 004; docs/SINKS.md,
//! "JSON-RPC sink") against a server written from the seed's examples.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::peers::jsonrpc::{JsonRpc, Message, Mode};

fn params(messages: &[Message]) -> Vec<Value> {
    messages.iter().map(|m| m.params().clone()).collect()
}

fn assert_no_problems(server: &JsonRpc) {
    let problems = server.problems();
    assert!(problems.is_empty(), "protocol problems: {problems:#?}");
}

#[test]
fn notifications_carry_the_event_as_named_params() {
    let node = Node::start("rpc-notify", &[]);
    let broker = &node.broker;
    let by_type = JsonRpc::start(Mode::Notify);
    let by_method = JsonRpc::start(Mode::Notify);
    let with_name = JsonRpc::start(Mode::Notify);
    let a = subscribe(broker, &by_type.uri(None), &["--type", "OS_CLOCK_SYNC"]);
    let b = subscribe(
        broker,
        &by_method.uri(Some("ptp_event_cb")),
        &["--type", "OS_CLOCK_SYNC"],
    );
    let c = subscribe(
        broker,
        &with_name.uri(Some("handle_cmd")),
        &["--type", "OS_CLOCK_SYNC", "--event-param", "ptp_event"],
    );
    let sent = emit_os(broker, 4);

    for (server, method) in [
        (&by_type, OS),
        (&by_method, "ptp_event_cb"),
        (&with_name, "handle_cmd"),
    ] {
        let got = server.wait_for(sent.len());
        assert_no_problems(server);
        for (m, want) in got.iter().zip(&sent) {
            assert_eq!(m.method(), method, "{:#}", m.value);
            assert_eq!(m.value["jsonrpc"], "2.0");
            assert!(
                m.value.get("id").is_none(),
                "a notification has no id: {:#}",
                m.value
            );
            assert_cloud_event(m.params(), want, broker.endpoints.epoch);
        }
        let p = params(&got);
        assert_eq!(ids(&p), emitted_ids(&sent), "in order");
        assert_seq_increases(&p);
        assert!(
            got.iter().all(|m| m.connection == 0),
            "one persistent connection"
        );
        assert_eq!(server.connections(), 1);
    }
    // event_param: the type as a member of params, only where asked for.
    for m in with_name.messages() {
        assert_eq!(m.params()["ptp_event"], OS, "{:#}", m.value);
    }
    for m in by_method.messages() {
        assert!(m.params().get("ptp_event").is_none(), "{:#}", m.value);
    }
    for id in [&a, &b, &c] {
        let stats = wait_sink_stat(broker, id, "delivered", 4);
        assert_eq!(stats.get("failed"), Some(&0), "{stats:?}");
    }
}

#[test]
fn sync_requests_have_unique_ids_and_count_as_delivered_when_answered() {
    let node = Node::start("rpc-sync", &[]);
    let broker = &node.broker;
    let prompt = JsonRpc::start(Mode::Answer);
    // Late, but within the 1000 ms default.
    let late = JsonRpc::start(Mode::AnswerAfter(Duration::from_millis(600)));
    let a = subscribe(
        broker,
        &prompt.uri(None),
        &["--type", "OS_CLOCK_SYNC", "--sync"],
    );
    let b = subscribe(
        broker,
        &late.uri(Some("ptp")),
        &["--type", "OS_CLOCK_SYNC", "--sync"],
    );
    let sent = emit_os(broker, 5);
    for (server, id) in [(&prompt, &a), (&late, &b)] {
        let got = server.wait_for(5);
        assert_no_problems(server);
        let rpc_ids: Vec<i64> = got
            .iter()
            .map(|m| m.id().expect("an integer id in sync mode"))
            .collect();
        let unique: BTreeSet<i64> = rpc_ids.iter().copied().collect();
        assert_eq!(unique.len(), rpc_ids.len(), "unique ids: {rpc_ids:?}");
        assert_eq!(ids(&params(&got)), emitted_ids(&sent));
        let stats = wait_sink_stat(broker, id, "delivered", 5);
        assert_eq!(stats.get("failed"), Some(&0), "{stats:?}");
    }
}

#[test]
fn error_replies_other_ids_and_late_replies_are_failures() {
    let node = Node::start("rpc-error", &[]);
    let broker = &node.broker;
    let erring = JsonRpc::start(Mode::Error);
    let confused = JsonRpc::start(Mode::WrongId);
    // Answers after 600 ms, which the default timeout would wait for.
    let too_late = JsonRpc::start(Mode::AnswerAfter(Duration::from_millis(600)));
    let a = subscribe(
        broker,
        &erring.uri(None),
        &["--type", "OS_CLOCK_SYNC", "--sync"],
    );
    let b = subscribe(
        broker,
        &confused.uri(None),
        &["--type", "OS_CLOCK_SYNC", "--sync", "--timeout-ms", "200"],
    );
    let c = subscribe(
        broker,
        &too_late.uri(None),
        &["--type", "OS_CLOCK_SYNC", "--sync", "--timeout-ms", "200"],
    );
    let sent = emit_os(broker, 3);
    for (server, id) in [(&erring, &a), (&confused, &b), (&too_late, &c)] {
        let stats = wait_sink_stat(broker, id, "failed", 3);
        assert_eq!(stats.get("delivered"), Some(&0), "{stats:?}");
        let seen: BTreeSet<String> = ids(&params(&server.messages())).into_iter().collect();
        for e in &sent {
            assert!(seen.contains(&e.id), "{} was sent: {seen:?}", e.id);
        }
        assert_no_problems(server);
    }
}

#[test]
fn unanswered_requests_fail_after_the_timeout() {
    let node = Node::start("rpc-silent", &[]);
    let broker = &node.broker;
    let default_timeout = JsonRpc::start(Mode::Silent);
    let short_timeout = JsonRpc::start(Mode::Silent);
    let a = subscribe(
        broker,
        &default_timeout.uri(None),
        &["--type", "OS_CLOCK_SYNC", "--sync"],
    );
    let b = subscribe(
        broker,
        &short_timeout.uri(None),
        &["--type", "OS_CLOCK_SYNC", "--sync", "--timeout-ms", "200"],
    );
    let sent = emit_os(broker, 2);
    // Each event is sent and waited for; the next one follows its failure.
    for (server, id) in [(&default_timeout, &a), (&short_timeout, &b)] {
        let got = server.wait_until("both events", |m| {
            let seen = ids(&params(m));
            sent.iter().all(|e| seen.contains(&e.id))
        });
        let stats = wait_sink_stat(broker, id, "failed", 2);
        assert_eq!(stats.get("delivered"), Some(&0), "{stats:?}");
        assert!(got.iter().all(|m| m.id().is_some()));
        assert_no_problems(server);
    }
}

#[test]
fn a_restarted_server_is_reconnected_and_nothing_is_lost() {
    let node = Node::start("rpc-reconnect", &[]);
    let broker = &node.broker;
    let mut server = JsonRpc::start(Mode::Notify);
    let id = subscribe(broker, &server.uri(None), &["--type", "OS_CLOCK_SYNC"]);
    let mut sent = emit_os(broker, 2);
    server.wait_for(2);
    server.wait_connections(1);

    // Down: the connection is closed and connections are refused.
    server.stop();
    for (i, state) in ["FREERUN", "LOCKED"].iter().enumerate() {
        let offset = (100 + i).to_string();
        sent.push(emit(broker, "OS_CLOCK_SYNC", state, &["--offset", &offset]));
    }
    // Up again on the same port; these are emitted once it listens.
    server.resume();
    for (i, state) in ["HOLDOVER", "FREERUN", "LOCKED"].iter().enumerate() {
        let offset = (200 + i).to_string();
        sent.push(emit(broker, "OS_CLOCK_SYNC", state, &["--offset", &offset]));
    }
    let want = emitted_ids(&sent);
    let got = server.wait_until("every event, the ones sent while down too", |m| {
        let seen = ids(&params(m));
        want.iter().all(|id| seen.contains(id))
    });
    assert!(server.connections() >= 2, "reconnected");
    assert_no_problems(&server);
    // In order on the new connection (the one being sent may come again,
    // never out of order).
    let mut order: Vec<String> = Vec::new();
    for m in got.iter().filter(|m| m.connection > 0) {
        let id = m.params()["id"].as_str().unwrap_or_default().to_owned();
        if order.last() != Some(&id) {
            order.push(id);
        }
    }
    assert_eq!(order, want[2..], "after the reconnect, in order");
    wait_sink_stat(broker, &id, "delivered", sent.len() as u64);
}
