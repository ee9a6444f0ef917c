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
        let mut stream =
            TcpStream::connect(endpoint.trim_start_matches("tcp://")).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
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
