//! Inputs the fuzzers found (tests/fuzz), kept as regressions.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{REDHAT_V2, start};

/// The status code of the answer to `request`, 0 if none came.
async fn status_of(addr: &str, request: &[u8]) -> u16 {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// `http` target: a request target that is not a path made warp's path
/// filter panic ("static str is not valid path"), killing the connection's
/// task without an answer. Now: 400, counted.
#[tokio::test]
async fn a_request_target_that_is_not_a_path_is_refused() {
    let b = start().await;
    for request in [
        &b"POST .event HTTP/1.1\r\nHost: node\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
            [..],
        b"CONNECT node:80 HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n",
    ] {
        assert_eq!(status_of(&b.http, request).await, 400);
    }
    assert_eq!(b.counter("rejected_http"), 2);
    let (status, text) = b.post(Some("application/json"), REDHAT_V2).await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT, "{text}");
}
