//! Bad input against a running broker: counted, logged, never fatal, and a
//! good event right after still gets through.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use zeromq::{PushSocket, Socket, SocketSend, ZmqMessage};

use crate::util::{Broker, Probe};

fn message(frames: &[&[u8]]) -> ZmqMessage {
    let mut message = ZmqMessage::from(frames[0].to_vec());
    for frame in &frames[1..] {
        message.push_back(frame.to_vec().into());
    }
    message
}

#[test]
fn bad_frames_are_counted_and_good_events_still_flow() {
    let broker = Broker::start(&[]);
    let mut probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    let good = proto::frame::encode_event(&proto::Event::synthetic(
        catalog::OS_CLOCK_SYNC.into(),
        "LOCKED".parse().expect("state"),
    ))
    .expect("encode");
    let os = good.topic.as_slice();
    let ptp = catalog::PTP_LOCK_STATE.oran_type().as_bytes();
    let too_big = vec![0x80u8; 70 * 1024];
    let positional = b"\x93\x01\x02\x03".as_slice();
    let bad: Vec<Vec<&[u8]>> = vec![
        vec![os],                                  // one frame
        vec![os, &good.body, b"extra"],            // three frames
        vec![b"Not A Topic", &good.body],          // bad topic
        vec![b"\xff\xfe", &good.body],             // topic not UTF-8
        vec![b"event.sync.made.up", &good.body],   // unknown O-RAN type
        vec![os, b"\xc1garbage"],                  // garbage body
        vec![os, positional],                      // positional array, not a map
        vec![ptp, &good.body],                     // topic does not match body
        vec![b"ptp-broker.heartbeat", &good.body], // the broker's own namespace
        vec![os, b""],                             // empty body
    ];
    // Multi-threaded: the socket's writer task must keep running after block_on returns.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let endpoint = broker.endpoints.emit.clone();
    let count = bad.len() as u64;
    // Fire-and-forget PUSH: the socket must stay open until its writer has
    // sent everything, so it lives until the good event has arrived.
    let mut push = runtime.block_on(async {
        let mut push = PushSocket::new();
        push.connect(&endpoint).await.expect("connect");
        for frames in &bad {
            push.send(message(frames)).await.expect("send bad");
        }
        push.send(message(&[os, &good.body]))
            .await
            .expect("send good");
        push
    });
    probe.wait_for("the good event after the bad ones", |v| {
        v["value"] == "LOCKED"
    });
    // A frame over max_body is refused by the codec from its header: that
    // peer is dropped before its body is buffered; others are unaffected.
    let _big = runtime.block_on(async {
        let mut big = PushSocket::new();
        big.connect(&endpoint).await.expect("connect");
        let _ = big.send(message(&[os, &too_big])).await;
        big
    });
    let holdover = proto::frame::encode_event(&proto::Event::synthetic(
        catalog::OS_CLOCK_SYNC.into(),
        "HOLDOVER".parse().expect("state"),
    ))
    .expect("encode");
    runtime.block_on(async {
        push.send(message(&[os, &holdover.body]))
            .await
            .expect("send good");
    });
    probe.wait_for("a good event after the oversized frame", |v| {
        v["value"] == "HOLDOVER"
    });
    crate::util::wait_until("rejections counted", || {
        broker.stats().get("rejected_emit") == Some(&count)
    });
    let stats = broker.stats();
    assert_eq!(stats["accepted_emit"], 2);
    assert_eq!(
        probe.events().len(),
        2,
        "only the good event: {:?}",
        probe.events()
    );
}

#[test]
fn garbage_on_every_port_does_not_kill_the_broker() {
    let broker = Broker::start(&[]);
    for endpoint in [
        &broker.endpoints.emit,
        &broker.endpoints.publish,
        &broker.endpoints.query,
    ] {
        let addr = endpoint.trim_start_matches("tcp://");
        for junk in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            &[0u8; 4096][..],
            &[0xffu8; 100][..],
        ] {
            let mut stream = TcpStream::connect(addr).expect("connect");
            let _ = stream.write_all(junk);
        }
    }
    // Still serving: a client registers, emits and receives.
    let mut probe = Probe::start(&broker.endpoints, &["SYNC_STATE"], &[]);
    probe.send("emit SYNC_STATE HOLDOVER");
    probe.wait_for("event after garbage", |v| v["value"] == "HOLDOVER");
}

/// Upstream zeromq 0.7.0 reserved whatever frame length a peer announced;
/// a header announcing 2^50 bytes aborted the broker (see
/// broker/vendor/zeromq/PATCH.md).
#[test]
fn a_huge_zmtp_frame_header_does_not_kill_the_broker() {
    let broker = Broker::start(&[]);
    for (endpoint, socket_type) in [
        (&broker.endpoints.emit, &b"PUSH"[..]),
        (&broker.endpoints.publish, &b"SUB"[..]),
        (&broker.endpoints.query, &b"DEALER"[..]),
    ] {
        let mut stream = zmtp_peer(endpoint, socket_type);
        let mut frame = vec![0x02];
        frame.extend((1u64 << 50).to_be_bytes());
        frame.extend([b'x'; 16]);
        let _ = stream.write_all(&frame);
        // The broker drops this peer; reading shows it closed the connection.
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut rest);
    }
    let mut probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    probe.send("emit OS_CLOCK_SYNC FREERUN");
    probe.wait_for("event after the attack", |v| v["value"] == "FREERUN");
}

/// A raw ZMTP 3.0 peer of `socket_type` on `endpoint`, handshake done.
fn zmtp_peer(endpoint: &str, socket_type: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(endpoint.trim_start_matches("tcp://")).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut greeting = vec![0xffu8];
    greeting.extend([0; 8]);
    greeting.push(0x7f);
    greeting.extend([3, 0]);
    greeting.extend(b"NULL");
    greeting.extend([0; 16 + 1 + 31]);
    stream.write_all(&greeting).expect("greeting");
    let mut peer = [0u8; 64];
    std::io::Read::read_exact(&mut stream, &mut peer).expect("peer greeting");
    let mut ready = b"\x05READY\x0bSocket-Type".to_vec();
    ready.extend((socket_type.len() as u32).to_be_bytes());
    ready.extend(socket_type);
    let mut command = vec![0x04, ready.len() as u8];
    command.extend(ready);
    stream.write_all(&command).expect("ready");
    stream
}

/// Is `stream` closed by the broker: a read sees the end (after whatever
/// the broker still sent) within the read timeout?
fn closed_by_broker(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match std::io::Read::read(stream, &mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                );
            }
        }
    }
}

/// Each frame under the limit, but flagged "more" forever: before the
/// vendored codec bounded the whole message (PATCH.md, 3), every frame was
/// buffered. Now the peer is dropped after about twice the frame limit.
#[test]
fn endless_more_frames_drop_the_peer() {
    let broker = Broker::start(&[]);
    for (endpoint, socket_type) in [
        (&broker.endpoints.emit, &b"PUSH"[..]),
        (&broker.endpoints.query, &b"DEALER"[..]),
    ] {
        let mut stream = zmtp_peer(endpoint, socket_type);
        let mut frame = vec![0x03];
        frame.extend(8000u64.to_be_bytes());
        frame.extend([b'x'; 8000]);
        let mut written = 0usize;
        // 64 MB if nobody stops us: far past any bound.
        while written < 64 << 20 {
            if stream.write_all(&frame).is_err() {
                break;
            }
            written += frame.len();
        }
        assert!(written < 16 << 20, "{socket_type:?}: wrote {written} bytes");
        assert!(closed_by_broker(&mut stream), "{socket_type:?}");
    }
    let mut probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    probe.send("emit OS_CLOCK_SYNC FREERUN");
    probe.wait_for("event after the attack", |v| v["value"] == "FREERUN");
}

/// A PUB peer may subscribe to 64 KiB of prefixes in all; past that it is
/// dropped. With `max_subscribers` open, a new connection is closed at once
/// and counted; one that ends makes room again.
#[test]
fn the_pub_socket_bounds_subscriptions_and_connections() {
    let dir = std::env::temp_dir().join(format!("ptp-broker-pubcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("broker.toml");
    std::fs::write(&file, "max_subscribers = 3\nheartbeat_ms = 50\n").expect("config");
    let broker = Broker::start(&["--config", file.to_str().expect("path")]);
    let publish = &broker.endpoints.publish;

    let mut greedy = zmtp_peer(publish, b"SUB");
    let mut subscribe = vec![0x02];
    let topic = [b'a'; 4000];
    subscribe.extend((topic.len() as u64 + 1).to_be_bytes());
    subscribe.push(1);
    subscribe.extend(topic);
    for _ in 0..20 {
        if greedy.write_all(&subscribe).is_err() {
            break;
        }
    }
    assert!(closed_by_broker(&mut greedy), "80 KB of subscriptions");
    drop(greedy);

    // Three connections fill the PUB (one is the probe's).
    let mut probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    let _a = zmtp_peer(publish, b"SUB");
    let b = zmtp_peer(publish, b"SUB");
    crate::util::wait_until("the cap to be reached", || {
        let mut extra = TcpStream::connect(publish.trim_start_matches("tcp://")).expect("connect");
        extra
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        // Refused: closed before the greeting. Admitted: the greeting.
        matches!(std::io::Read::read(&mut extra, &mut buf), Ok(0) | Err(_))
    });
    crate::util::wait_until("the refusal to be counted", || {
        broker
            .stats()
            .get("pub_connections_refused")
            .copied()
            .unwrap_or(0)
            >= 1
    });
    // Events still reach the connected subscriber.
    probe.send("emit OS_CLOCK_SYNC FREERUN");
    probe.wait_for("event at the cap", |v| v["value"] == "FREERUN");
    // One leaves: a new one gets in.
    b.shutdown(std::net::Shutdown::Both).expect("shutdown");
    drop(b);
    crate::util::wait_until("room again", || {
        let mut extra = TcpStream::connect(publish.trim_start_matches("tcp://")).expect("connect");
        extra
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        matches!(std::io::Read::read(&mut extra, &mut buf), Ok(n) if n > 0)
    });
    std::fs::remove_dir_all(&dir).ok();
}

/// The emit (PULL) socket serves at most `max_emitters` connections;
/// a peer that does not finish its handshake in 2 s, or is not a PUSH, is
/// dropped and counted; the emitters it has keep being served.
#[test]
fn the_emit_socket_bounds_connections_and_handshakes() {
    let dir = std::env::temp_dir().join(format!("ptp-broker-emitcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("broker.toml");
    std::fs::write(&file, "max_emitters = 2\n").expect("config");
    let broker = Broker::start(&["--config", file.to_str().expect("path")]);
    let emit = &broker.endpoints.emit;
    let address = emit.trim_start_matches("tcp://");

    // Silent: closed by the broker after the handshake timeout.
    let mut silent = TcpStream::connect(address).expect("connect");
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    assert!(closed_by_broker(&mut silent), "a silent peer");
    // Not a PUSH: closed.
    let mut sub = zmtp_peer(emit, b"SUB");
    assert!(closed_by_broker(&mut sub), "a SUB on the emit socket");
    drop((silent, sub));

    let mut probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    let mut a = zmtp_peer(emit, b"PUSH");
    let b = zmtp_peer(emit, b"PUSH");
    let admitted = |extra: &mut TcpStream| {
        extra
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        // Refused: closed before the greeting. Admitted: the greeting.
        matches!(std::io::Read::read(extra, &mut buf), Ok(n) if n > 0)
    };
    crate::util::wait_until("the cap to be reached", || {
        !admitted(&mut TcpStream::connect(address).expect("connect"))
    });
    crate::util::wait_until("the refusal to be counted", || {
        let stats = broker.stats();
        stats.get("emit_connections_refused").copied().unwrap_or(0) >= 1
    });
    // An emitter at the cap is served: a raw ZMTP message, [topic, body].
    let event = proto::frame::encode_event(&proto::Event::synthetic(
        catalog::OS_CLOCK_SYNC.into(),
        "HOLDOVER".parse().expect("state"),
    ))
    .expect("encode");
    let mut wire = Vec::new();
    proto::zmtp::put_frame(&mut wire, proto::zmtp::MORE, &event.topic);
    proto::zmtp::put_frame(&mut wire, 0, &event.body);
    a.write_all(&wire).expect("send");
    probe.wait_for("the event of an emitter at the cap", |v| {
        v["value"] == "HOLDOVER"
    });
    // One leaves: a new one gets in.
    b.shutdown(std::net::Shutdown::Both).expect("shutdown");
    drop(b);
    crate::util::wait_until("room again", || {
        admitted(&mut TcpStream::connect(address).expect("connect"))
    });
    let stats = broker.stats();
    assert_eq!(stats.get("emit_peers_dropped"), Some(&2), "{stats:?}");
    assert_eq!(stats.get("accepted_emit"), Some(&1), "{stats:?}");
    std::fs::remove_dir_all(&dir).ok();
}
