//! Self-test: a raw HTTP/1.1 client against the script, no broker.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::{Reply, Webhook};
use crate::util::DEADLINE;

/// One request on a fresh connection; the status line's code (0: the
/// connection closed without an answer) and the whole answer.
fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, answer)
}

#[test]
fn the_webhook_records_and_answers_from_its_script() {
    let hook = Webhook::start(vec![
        Reply::status(503),
        Reply::status(429).header("Retry-After", "1"),
        Reply::hang_up(),
        Reply::status(400).body(b"no thanks"),
        Reply::status(204).after(Duration::from_millis(50)),
    ]);
    let (code, _) = post(
        hook.port(),
        "/a?x=1",
        &[
            ("Content-Type", "application/cloudevents+json"),
            ("Ce-Id", "7"),
        ],
        br#"{"specversion":"1.0"}"#,
    );
    assert_eq!(code, 503);
    let (code, answer) = post(hook.port(), "/b", &[], b"");
    assert_eq!(code, 429);
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert_eq!(post(hook.port(), "/c", &[], b"x").0, 0);
    let (code, answer) = post(hook.port(), "/d", &[], b"x");
    assert_eq!(code, 400);
    assert!(answer.ends_with("no thanks"), "{answer}");
    let start = Instant::now();
    assert_eq!(post(hook.port(), "/e", &[], b"x").0, 204);
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(
        post(hook.port(), "/f", &[], b"x").0,
        204,
        "the last reply repeats"
    );

    let got = hook.wait_for(6);
    assert_eq!(got.len(), 6);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/a?x=1");
    assert_eq!(
        got[0].header("content-type"),
        Some("application/cloudevents+json")
    );
    assert_eq!(got[0].header("CE-ID"), Some("7"));
    assert_eq!(got[0].json()["specversion"], "1.0");
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/a?x=1", "/b", "/c", "/d", "/e", "/f"]);
    assert!(got.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(hook.connections(), 6);

    hook.set_script(vec![Reply::status(418)]);
    assert_eq!(post(hook.port(), "/g", &[], b"").0, 418);
}

#[test]
fn held_answers_wait_for_the_release() {
    let hook = Webhook::always(Reply::status(201).held());
    let port = hook.port();
    let client = std::thread::spawn(move || post(port, "/held", &[], b"x").0);
    hook.wait_for(1);
    assert!(!client.is_finished(), "answered before the release");
    hook.release();
    assert_eq!(client.join().unwrap(), 201);
    assert_eq!(post(port, "/after", &[], b"x").0, 201, "released for good");
}

#[test]
fn keep_alive_requests_share_a_connection() {
    let hook = Webhook::always(Reply::status(204));
    let mut s = TcpStream::connect(("127.0.0.1", hook.port())).expect("connect");
    for i in 0..3 {
        let body = format!("{{\"n\":{i}}}");
        write!(
            s,
            "POST /k HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        hook.wait_for(i + 1);
    }
    let got = hook.wait_for(3);
    assert!(got.iter().all(|r| r.connection == 0));
    assert_eq!(got[2].json()["n"], 2);
    drop(s);
    // Dropping with a reply still sleeping does not hang.
    let slow = Webhook::always(Reply::status(204).after(Duration::from_secs(600)));
    let mut s = TcpStream::connect(("127.0.0.1", slow.port())).expect("connect");
    write!(s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").unwrap();
    slow.wait_for(1);
    drop(slow);
}
