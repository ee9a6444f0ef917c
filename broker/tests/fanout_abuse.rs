//! Peers that misbehave — stall, send garbage, oversized frames, never
//! finish the handshake, claim the wrong socket type — are dropped or
//! counted, and never slow or starve a well-behaved subscriber.

mod common;

use std::time::Duration;

use broker::sink::fanout::Publisher;
use common::{closed_by_server, publish, raw_handshake, recv, until, until_subscribed, within};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use zeromq::{Socket, SubSocket};

async fn good_sub(endpoint: &str) -> SubSocket {
    let mut s = SubSocket::new();
    within("SUB connect", s.connect(endpoint))
        .await
        .expect("connect");
    s.subscribe("").await.expect("subscribe");
    s
}

/// A raw SUB that subscribes to everything and then never reads: its queue
/// (16 messages) fills behind the kernel buffers, and from then on every
/// message is dropped for it alone and counted. The good subscriber gets
/// each message before the next is published (lockstep), so any blocking
/// on the stalled peer would show up as a timeout here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_subscriber_does_not_block_others() {
    let (publisher, endpoint) = Publisher::bind_with(
        "tcp://127.0.0.1:0",
        16,
        broker::sink::fanout::DEFAULT_MAX_CONNECTIONS,
    )
    .await
    .expect("bind");
    let mut stalled = raw_handshake(&endpoint, "SUB").await;
    stalled.write_all(&[0, 1, 1]).await.expect("subscribe all"); // 3.0 message form
    let mut good = good_sub(&endpoint).await;
    until_subscribed(&publisher, &[&[""], &[""]]).await;

    let body = vec![7u8; 32 * 1024];
    let n = 2000u32; // 64 MiB: far more than loopback socket buffers hold
    within("lockstep publishing", async {
        for i in 0..n {
            let mut b = body.clone();
            b[..4].copy_from_slice(&i.to_be_bytes());
            publish(&publisher, "t", &b);
            assert_eq!(recv(&mut good).await.1[..4], i.to_be_bytes());
        }
    })
    .await;

    let stats = publisher.stats();
    assert_eq!(stats.published, u64::from(n));
    assert!(stats.dropped > 0, "stalled peer's drops counted: {stats:?}");
    let subs = publisher.subscribers();
    let stalled_addr = stalled.local_addr().expect("addr").to_string();
    for s in &subs {
        if s.peer == stalled_addr {
            assert_eq!(s.dropped, stats.dropped, "all drops are the stalled peer's");
        } else {
            assert_eq!(s.dropped, 0, "good subscriber lost nothing");
        }
    }
    assert_eq!(subs.len(), 2);
    drop(stalled);
}

/// Garbage greeting, oversized frame, unknown command junk, wrong socket
/// type, a handshake that never finishes: each such peer is closed by the
/// server while a good subscriber keeps receiving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_peers_are_dropped_without_affecting_others() {
    let (publisher, endpoint) = Publisher::bind("tcp://127.0.0.1:0").await.expect("bind");
    let addr = endpoint.strip_prefix("tcp://").expect("tcp").to_owned();
    let mut good = good_sub(&endpoint).await;
    until_subscribed(&publisher, &[&[""]]).await;

    let mut garbage = TcpStream::connect(&addr).await.expect("connect");
    garbage.write_all(&[0x42; 200]).await.expect("write");

    let mut oversized = raw_handshake(&endpoint, "SUB").await;
    // A long frame announcing 2^40 bytes: refused before any allocation.
    let mut frame = vec![0x02];
    frame.extend_from_slice(&(1u64 << 40).to_be_bytes());
    oversized.write_all(&frame).await.expect("write");

    let mut just_over = raw_handshake(&endpoint, "SUB").await;
    let mut frame = vec![0x02];
    frame.extend_from_slice(&(64u64 * 1024 + 1).to_be_bytes());
    just_over.write_all(&frame).await.expect("write");

    let mut bad_flags = raw_handshake(&endpoint, "SUB").await;
    bad_flags.write_all(&[0xf0, 0]).await.expect("write");

    let mut bad_command = raw_handshake(&endpoint, "SUB").await;
    bad_command.write_all(&[0x04, 1, 200]).await.expect("write"); // name longer than frame

    let mut wrong_type = TcpStream::connect(&addr).await.expect("connect");
    wrong_type
        .write_all(&common::greeting())
        .await
        .expect("write");
    wrong_type
        .write_all(&common::ready("PUSH"))
        .await
        .expect("write");

    let mut silent = TcpStream::connect(&addr).await.expect("connect");

    for i in 0..100u32 {
        publish(&publisher, "t", &i.to_be_bytes());
    }
    for i in 0..100u32 {
        assert_eq!(recv(&mut good).await.1, i.to_be_bytes());
    }
    for (name, s) in [
        ("garbage", &mut garbage),
        ("oversized", &mut oversized),
        ("just over 64 KiB", &mut just_over),
        ("reserved flags", &mut bad_flags),
        ("malformed command", &mut bad_command),
        ("wrong socket type", &mut wrong_type),
        ("never finishes handshake", &mut silent),
    ] {
        assert!(closed_by_server(s).await, "{name} closed");
    }
    until(&publisher, "only the good subscriber left", |p| {
        p.stats().subscribers == 1
    })
    .await;
    publish(&publisher, "t", b"after");
    assert_eq!(recv(&mut good).await.1, b"after");
}

/// Closing the publisher closes its subscribers' connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_disconnects_everyone() {
    let (publisher, endpoint) = Publisher::bind("tcp://127.0.0.1:0").await.expect("bind");
    let mut raw = raw_handshake(&endpoint, "SUB").await;
    until(&publisher, "registered", |p| p.stats().subscribers == 1).await;
    publisher.close();
    assert!(closed_by_server(&mut raw).await);
    let addr = endpoint.strip_prefix("tcp://").expect("tcp").to_owned();
    // The listener is gone too (give the accept task a moment to see the cancel).
    within("listener closed", async {
        while TcpStream::connect(&addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}
