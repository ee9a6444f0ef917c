//! Helpers for the fanout tests: deadlines instead of sleeps, and a raw
//! ZMTP peer for what a well-behaved SUB socket never does.
#![allow(dead_code)] // each test file uses a different subset

use std::future::Future;
use std::time::Duration;

use broker::sink::fanout::Publisher;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zeromq::{SocketRecv, SubSocket};

/// Upper bound for anything a test waits for; a hang fails instead of blocking CI.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Await `f` or panic naming `what` after [`DEADLINE`].
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Poll (yielding, no fixed sleep) until `cond` holds on the publisher.
pub async fn until(publisher: &Publisher, what: &str, cond: impl Fn(&Publisher) -> bool) {
    within(what, async {
        while !cond(publisher) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
}

/// Until exactly these subscription sets (sorted, one per subscriber) are registered.
pub async fn until_subscribed(publisher: &Publisher, want: &[&[&str]]) {
    let mut want: Vec<Vec<Vec<u8>>> = want
        .iter()
        .map(|subs| subs.iter().map(|s| s.as_bytes().to_vec()).collect())
        .collect();
    want.sort();
    until(publisher, "subscriptions registered", |p| {
        let mut have: Vec<Vec<Vec<u8>>> = p
            .subscribers()
            .iter()
            .map(|s| s.subscriptions.iter().map(|b| b.to_vec()).collect())
            .collect();
        have.sort();
        have == want
    })
    .await;
}

/// Next message on `sub` as (topic, body).
pub async fn recv(sub: &mut SubSocket) -> (Vec<u8>, Vec<u8>) {
    let message = within("SUB receive", sub.recv()).await.expect("recv");
    let frames = message.into_vec();
    assert_eq!(frames.len(), 2, "two frames");
    (frames[0].to_vec(), frames[1].to_vec())
}

/// Publish `[topic, body]`.
pub fn publish(publisher: &Publisher, topic: &str, body: &[u8]) -> usize {
    publisher.publish(
        topic.as_bytes(),
        broker::sink::fanout::encode(topic.as_bytes(), body),
    )
}

/// A ZMTP 3.0 greeting with the NULL mechanism.
pub fn greeting() -> Vec<u8> {
    let mut g = vec![0u8; 64];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// A READY command with this Socket-Type.
pub fn ready(socket_type: &str) -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type.as_bytes());
    let mut frame = vec![0x04, body.len() as u8];
    frame.extend_from_slice(&body);
    frame
}

/// Connect raw and complete the handshake as `socket_type`; the server's
/// greeting and READY are read and checked.
pub async fn raw_handshake(endpoint: &str, socket_type: &str) -> TcpStream {
    let addr = endpoint.strip_prefix("tcp://").expect("tcp endpoint");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&greeting()).await.expect("greeting");
    s.write_all(&ready(socket_type)).await.expect("ready");
    let mut their = [0u8; 64];
    within("server greeting", s.read_exact(&mut their))
        .await
        .expect("server greeting");
    assert_eq!((their[0], their[9], their[10]), (0xff, 0x7f, 3));
    let mut head = [0u8; 2];
    within("server READY", s.read_exact(&mut head))
        .await
        .expect("READY header");
    assert_eq!(head[0], 0x04, "READY is a short command");
    let mut body = vec![0; usize::from(head[1])];
    s.read_exact(&mut body).await.expect("READY body");
    assert!(body.windows(3).any(|w| w == b"PUB"), "announces PUB");
    s
}

/// True once the server has closed `s` (EOF or reset), within the deadline.
pub async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    within("server closes", async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await
}
