//! The broker's own ZMTP sockets against the system libzmq (the C library
//! every other ZeroMQ binding sits on): a libzmq PUSH emits into the
//! broker's PULL and a libzmq SUB reads its PUB, both with ZMTP heartbeats
//! on, so the broker must answer their PINGs or be dropped by them.
//!
//! The peer is `peers/libzmq/peer.c`, compiled here against the system
//! libzmq (`libzmq3-dev`, installed by `tests/bench/install-deps.sh`).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::{Broker, DEADLINE, Probe};

/// `cc -O2 -o peer peer.c -lzmq`, once per test process.
fn peer_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let out = dir.join(format!("libzmq-peer-{}", std::process::id()));
            let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/peers/libzmq/peer.c");
            let status = Command::new("cc")
                .args(["-O2", "-Wall", "-o"])
                .arg(&out)
                .arg(&source)
                .arg("-lzmq")
                .status()
                .expect("run cc");
            assert!(
                status.success(),
                "cc peer.c -lzmq failed: run tests/bench/install-deps.sh (libzmq3-dev)"
            );
            out
        })
        .clone()
}

/// A running libzmq peer, killed on drop.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Peer {
    fn start(broker: &Broker) -> Peer {
        let mut child = Command::new(peer_binary())
            .args([&broker.endpoints.publish, &broker.endpoints.emit])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the libzmq peer");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Peer {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Send one message, a frame per element.
    fn send(&mut self, frames: &[&[u8]]) {
        let mut line = String::from("send");
        for frame in frames {
            line.push(' ');
            if frame.is_empty() {
                line.push('-');
            }
            for b in *frame {
                line.push_str(&format!("{b:02x}"));
            }
        }
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .expect("write to peer");
        self.stdin.flush().expect("flush");
    }

    /// Wait for a line matching `pred`; every line read is kept in `seen`.
    fn wait_for(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("libzmq peer: no {what} in time; saw {:?}", self.seen),
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The frames of a `msg` line.
fn frames(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .skip(1)
        .map(|hex| {
            if hex == "-" {
                return Vec::new();
            }
            (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
                .collect()
        })
        .collect()
}

/// A `msg` line carrying an event of `value`, decoded.
fn event_of(line: &str, value: &str) -> Option<proto::Event> {
    let frames = frames(line);
    match proto::frame::decode_frames(&frames, 1 << 20).ok()? {
        proto::frame::Message::Event(event) => {
            (event.data.values.first()?.value == value).then_some(event)
        }
        _ => None,
    }
}

#[test]
fn libzmq_push_and_sub_talk_to_the_broker_with_heartbeats() {
    let broker = Broker::start(&[]);
    let mut probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    let mut peer = Peer::start(&broker);
    // The SUB reads the broker's heartbeats: handshake and subscription done.
    let heartbeat = hex(catalog::HEARTBEAT.as_str().as_bytes());
    peer.wait_for("heartbeat on the libzmq SUB", |l| {
        l.starts_with(&format!("msg {heartbeat} "))
    });
    let holdover = proto::frame::encode_event(&proto::Event::synthetic(
        catalog::OS_CLOCK_SYNC.into(),
        "HOLDOVER".parse().expect("state"),
    ))
    .expect("encode");
    let locked = proto::frame::encode_event(&proto::Event::synthetic(
        catalog::OS_CLOCK_SYNC.into(),
        "LOCKED".parse().expect("state"),
    ))
    .expect("encode");
    let os = holdover.topic.as_slice();
    // Bad messages first (three frames, a garbage body, an empty topic),
    // then a good one on the same connection: it is taken.
    peer.send(&[os, &holdover.body, b"extra"]);
    peer.send(&[os, b"\xc1garbage"]);
    peer.send(&[b"", &holdover.body]);
    peer.send(&[os, &holdover.body]);
    let line = peer.wait_for("the HOLDOVER on the libzmq SUB", |l| {
        event_of(l, "HOLDOVER").is_some()
    });
    let event = event_of(&line, "HOLDOVER").expect("event");
    assert_eq!(
        event.meta.epoch, broker.endpoints.epoch,
        "stamped by the broker"
    );
    assert!(event.meta.seq > 0, "stamped by the broker");
    probe.wait_for("HOLDOVER through client::register", |v| {
        v["value"] == "HOLDOVER"
    });
    // Several heartbeat timeouts (300 ms) pass: both libzmq sockets keep
    // their connection only if the broker answers their PINGs.
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(1500) {
        peer.wait_for("a heartbeat", |l| {
            l.starts_with(&format!("msg {heartbeat} "))
        });
    }
    peer.send(&[os, &locked.body]);
    peer.wait_for("the LOCKED on the libzmq SUB", |l| {
        event_of(l, "LOCKED").is_some()
    });
    probe.wait_for("LOCKED through client::register", |v| {
        v["value"] == "LOCKED"
    });
    let dropped: Vec<&String> = peer
        .seen
        .iter()
        .filter(|l| l.starts_with("event") && l.ends_with("disconnected"))
        .collect();
    assert!(dropped.is_empty(), "libzmq saw {dropped:?}");
    assert_eq!(
        peer.seen
            .iter()
            .filter(|l| l.ends_with(" connected"))
            .count(),
        2,
        "one handshake each, no reconnects: {:?}",
        peer.seen
    );
    let stats = broker.stats();
    assert_eq!(stats.get("rejected_emit"), Some(&3), "{stats:?}");
    assert_eq!(stats.get("accepted_emit"), Some(&2), "{stats:?}");
    assert_eq!(stats.get("emit_peers_dropped"), Some(&0), "{stats:?}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
