//! Our PUB against real SUB sockets: the pure-Rust `zeromq` crate (ZMTP 3.0
//! subscription messages) over tcp and ipc, a raw peer using the ZMTP 3.1
//! SUBSCRIBE/CANCEL commands, and libzmq when it is installed.

mod common;

use broker::sink::fanout::Publisher;
use common::{publish, recv, until, until_subscribed, within};
use tokio::io::AsyncWriteExt;
use zeromq::{Socket, SubSocket};

async fn sub(endpoint: &str, prefix: &str) -> SubSocket {
    let mut s = SubSocket::new();
    within("SUB connect", s.connect(endpoint))
        .await
        .expect("connect");
    s.subscribe(prefix).await.expect("subscribe");
    s
}

/// Everything / a prefix, in order, multipart intact; then unsubscribe.
async fn subscribe_prefix_unsubscribe(endpoint: &str) {
    let (publisher, endpoint) = Publisher::bind(endpoint).await.expect("bind");
    let mut all = sub(&endpoint, "").await;
    let mut lock = sub(&endpoint, "ptp.lock").await;
    until_subscribed(&publisher, &[&[""], &["ptp.lock"]]).await;

    publish(&publisher, "ptp.lock", b"1");
    publish(&publisher, "other", b"2");
    publish(&publisher, "ptp.lock.state", &[9u8; 1000]); // long frame
    for want in [
        ("ptp.lock", &b"1"[..]),
        ("other", b"2"),
        ("ptp.lock.state", &[9u8; 1000]),
    ] {
        assert_eq!(
            recv(&mut all).await,
            (want.0.as_bytes().to_vec(), want.1.to_vec())
        );
    }
    assert_eq!(recv(&mut lock).await, (b"ptp.lock".to_vec(), b"1".to_vec()));
    assert_eq!(recv(&mut lock).await.0, b"ptp.lock.state".to_vec());

    lock.unsubscribe("ptp.lock").await.expect("unsubscribe");
    lock.subscribe("z").await.expect("subscribe z");
    until_subscribed(&publisher, &[&[""], &["z"]]).await;
    publish(&publisher, "ptp.lock", b"gone");
    publish(&publisher, "z", b"3");
    // Had the cancel been ignored, "ptp.lock" would come first.
    assert_eq!(recv(&mut lock).await, (b"z".to_vec(), b"3".to_vec()));
    assert_eq!(publisher.stats().published, 5);
    assert_eq!(publisher.stats().dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeromq_sub_over_tcp() {
    subscribe_prefix_unsubscribe("tcp://127.0.0.1:0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeromq_sub_over_ipc() {
    let path = std::env::temp_dir().join(format!("fanout-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    subscribe_prefix_unsubscribe(&format!("ipc://{}", path.display())).await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_subscribers_get_everything_in_order() {
    let (publisher, endpoint) = Publisher::bind("tcp://127.0.0.1:0").await.expect("bind");
    let mut subs = Vec::new();
    for _ in 0..50 {
        subs.push(sub(&endpoint, "").await);
    }
    until(&publisher, "50 subscribed", |p| {
        let s = p.subscribers();
        s.len() == 50 && s.iter().all(|s| s.subscriptions.len() == 1)
    })
    .await;
    for i in 0..200u32 {
        publish(&publisher, "t", &i.to_be_bytes());
    }
    for s in &mut subs {
        for i in 0..200u32 {
            assert_eq!(recv(s).await.1, i.to_be_bytes());
        }
    }
    assert_eq!(publisher.stats().dropped, 0);
    drop(subs);
    until(&publisher, "all gone", |p| p.stats().subscribers == 0).await;
}

/// The ZMTP 3.1 command form of SUBSCRIBE and CANCEL (what libzmq ≥ 4.3.3 sends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zmtp31_subscribe_and_cancel_commands() {
    let (publisher, endpoint) = Publisher::bind("tcp://127.0.0.1:0").await.expect("bind");
    let mut raw = common::raw_handshake(&endpoint, "XSUB").await;
    let command = |name: &str, topic: &str| {
        let mut body = vec![name.len() as u8];
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(topic.as_bytes());
        let mut f = vec![0x04, body.len() as u8];
        f.extend_from_slice(&body);
        f
    };
    raw.write_all(&command("SUBSCRIBE", "a"))
        .await
        .expect("write");
    raw.write_all(&command("SUBSCRIBE", "b"))
        .await
        .expect("write");
    until_subscribed(&publisher, &[&["a", "b"]]).await;
    raw.write_all(&command("CANCEL", "a")).await.expect("write");
    until_subscribed(&publisher, &[&["b"]]).await;
    publish(&publisher, "a1", b"x");
    publish(&publisher, "b1", b"y");
    let mut got = [0u8; 7];
    within(
        "raw read",
        tokio::io::AsyncReadExt::read_exact(&mut raw, &mut got),
    )
    .await
    .expect("read");
    assert_eq!(&got, &[1, 2, b'b', b'1', 0, 1, b'y']);
}

#[path = "fanout_interop/libzmq.rs"]
mod libzmq;
