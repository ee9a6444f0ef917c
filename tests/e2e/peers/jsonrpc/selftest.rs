//! Self-test: the seed's examples fed over a TcpStream.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{JsonRpc, Mode};
use crate::util::DEADLINE;

const NOTIFICATION: &str = r#"{
    "jsonrpc": "2.0",
    "method": "E_PIKE_BLOCKED",
    "params": {
            "ip": "192.168.2.11"
    }
}"#;

const REQUEST: &str = r#"{
    "id": 915243442,
    "jsonrpc": "2.0",
    "method": "E_PIKE_BLOCKED",
    "params": {
            "ip": "192.168.2.11"
    }
}"#;

// Example 1.7 lacks the comma after "E_PIKE_BLOCKED" in the seed (a
// typo in the OpenSIPS doc); this is it as valid JSON.
const WITH_EVENT_NAME: &str = r#"{
    "jsonrpc": "2.0",
    "method": "handle_cmd",
    "params": {
            "opensips_event": "E_PIKE_BLOCKED",
            "ip": "192.168.2.11"
    }
}"#;

// Example 1.8: values without names go as an array, which our sinks
// never send (params is always the named CloudEvent).
const POSITIONAL: &str = r#"{
    "jsonrpc": "2.0",
    "method": "E_MY_EVENT",
    "params": [3, 5]
}"#;

#[test]
fn notifications_back_to_back_without_newlines() {
    let server = JsonRpc::start(Mode::Notify);
    let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    // Split mid-token too: the parser must not care about write boundaries.
    let all = format!("{NOTIFICATION}{WITH_EVENT_NAME}  \n{NOTIFICATION}");
    let (a, b) = all.split_at(37);
    s.write_all(a.as_bytes()).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    s.write_all(b.as_bytes()).unwrap();
    let got = server.wait_for(3);
    assert_eq!(got[0].method(), "E_PIKE_BLOCKED");
    assert_eq!(got[0].params()["ip"], "192.168.2.11");
    assert_eq!(got[0].id(), None);
    assert_eq!(got[1].method(), "handle_cmd");
    assert_eq!(got[1].params()["opensips_event"], "E_PIKE_BLOCKED");
    assert!(server.problems().is_empty(), "{:?}", server.problems());

    // An id in a notification, positional params: both reported.
    s.write_all(REQUEST.as_bytes()).unwrap();
    s.write_all(POSITIONAL.as_bytes()).unwrap();
    server.wait_for(5);
    let problems = server.problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("notification has an id"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("params is not an object"),
        "{problems:?}"
    );

    // Garbage ends the connection and is reported.
    s.write_all(b"{\"jsonrpc\": nope}").unwrap();
    server.wait_problems(3);
    assert_eq!(server.connections(), 1);
}

#[test]
fn sync_requests_get_the_seeds_reply() {
    let server = JsonRpc::start(Mode::Answer);
    let s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    (&s).write_all(REQUEST.as_bytes()).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        reply,
        json!({"jsonrpc": "2.0", "result": 8, "id": 915243442})
    );
    // A notification in sync mode is a problem (no id), not answered.
    (&s).write_all(NOTIFICATION.as_bytes()).unwrap();
    server.wait_for(2);
    assert_eq!(server.problems().len(), 1, "{:?}", server.problems());

    server.set_mode(Mode::Error);
    (&s).write_all(br#"{"jsonrpc":"2.0","method":"m","params":{},"id":2}"#)
        .unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(reply["id"], 2);
    assert!(reply["error"]["code"].is_i64(), "{reply}");
    assert!(reply.get("result").is_none());

    server.set_mode(Mode::AnswerAfter(Duration::from_millis(100)));
    let start = Instant::now();
    (&s).write_all(br#"{"jsonrpc":"2.0","method":"m","params":{},"id":3}"#)
        .unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert_eq!(serde_json::from_str::<Value>(&line).unwrap()["result"], 8);

    server.set_mode(Mode::Silent);
    (&s).write_all(br#"{"jsonrpc":"2.0","method":"m","params":{},"id":4}"#)
        .unwrap();
    server.wait_for(5);
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!((&s).read(&mut byte).is_err(), "a silent server answered");
}

#[test]
fn restart_closes_connections_and_listens_again() {
    let mut server = JsonRpc::start(Mode::Notify);
    let port = server.port();
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    server.wait_connections(1);
    server.stop();
    // The old connection is closed by the server…
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!((&s).read(&mut buf).unwrap_or(0), 0);
    // …and nothing listens.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    server.resume();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(NOTIFICATION.as_bytes()).unwrap();
    let got = server.wait_for(1);
    assert_eq!(got[0].connection, 1);
    assert_eq!(server.connections(), 2);
}
