//! `/ui/events`: the live page's server-sent events, read as a browser's
//! EventSource reads them (the page itself is tested in chromium: browser).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Instant;

use serde_json::Value;

use crate::util::{Broker, DEADLINE};

/// An open event stream.
struct Stream {
    reader: BufReader<TcpStream>,
}

impl Stream {
    fn open(broker: &Broker) -> Stream {
        let addr = super::address(broker);
        let mut stream = TcpStream::connect(&addr).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        write!(
            stream,
            "GET /ui/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .expect("request");
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("head");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/event-stream"),
            "{head}"
        );
        Stream { reader }
    }

    /// The next message: (event name, data). Chunk-size lines are skipped
    /// (hyper chunks the body; no data line looks like bare hex).
    fn next(&mut self) -> (String, Value) {
        let start = Instant::now();
        let (mut name, mut data) = (String::new(), None);
        loop {
            assert!(start.elapsed() < DEADLINE, "no message in time");
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("stream line");
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_owned();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(serde_json::from_str(d).expect("data is JSON"));
            } else if line.is_empty() && !name.is_empty() {
                return (name, data.unwrap_or(Value::Null));
            }
        }
    }

    /// The next `event` message, skipping statuses.
    fn next_event(&mut self) -> Value {
        loop {
            let (name, data) = self.next();
            if name == "event" {
                return data;
            }
        }
    }
}

#[test]
fn the_stream_starts_with_reset_status_and_the_state_then_follows_changes() {
    let broker = Broker::start(&[]);
    let out = broker.tool(&["emit", "OS_CLOCK_SYNC", "LOCKED"]);
    assert!(out.status.success());
    let mut stream = Stream::open(&broker);
    assert_eq!(stream.next().0, "reset");
    let (name, status) = stream.next();
    assert_eq!(name, "status");
    assert_eq!(status["epoch"], broker.endpoints.epoch);
    assert_eq!(status["ready"], true);
    assert!(status["upstream"].is_null(), "{status}");
    let first = stream.next_event();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["data"]["values"][0]["value"], "LOCKED");
    let out = broker.tool(&["emit", "OS_CLOCK_SYNC", "HOLDOVER"]);
    assert!(out.status.success());
    let next = stream.next_event();
    assert_eq!(next["seq"], 2);
    assert_eq!(next["data"]["values"][0]["value"], "HOLDOVER");
    assert_eq!(next["origin"], "synthetic");
    // Statuses keep coming while nothing changes.
    loop {
        let (name, status) = stream.next();
        if name == "status" {
            assert_eq!(status["seq"], 2);
            break;
        }
    }
}
