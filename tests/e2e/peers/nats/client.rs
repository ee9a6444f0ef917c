//! [`NatsClient`]: a raw-protocol client (CONNECT with headers, SUB,
//! PUB/HPUB, PING/PONG, request/reply) and the state its reader fills.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::protocol::{NatsMsg, read_loop};
use crate::util::DEADLINE;

#[derive(Default)]
pub(super) struct ClientState {
    pub(super) msgs: Vec<NatsMsg>,
    pub(super) pongs: u64,
    pub(super) errors: Vec<String>,
    pub(super) closed: bool,
}

#[derive(Default)]
pub(super) struct ClientShared {
    state: Mutex<ClientState>,
    pub(super) changed: Condvar,
}

impl ClientShared {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A raw-protocol client: CONNECT with headers, SUB, PUB/HPUB, PING/PONG,
/// and a reader thread that parses `MSG` and `HMSG`.
pub struct NatsClient {
    writer: Arc<Mutex<TcpStream>>,
    shared: Arc<ClientShared>,
    reader: Option<std::thread::JoinHandle<()>>,
    next_sid: AtomicU64,
    pub port: u16,
    pub info: Value,
}

impl NatsClient {
    pub fn connect(port: u16) -> NatsClient {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connecting to nats on {port}: {e}"));
        stream.set_nodelay(true).ok();
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        stream.set_read_timeout(Some(DEADLINE)).ok();
        reader.read_line(&mut line).expect("INFO from nats-server");
        stream.set_read_timeout(None).ok();
        let info: Value = line
            .strip_prefix("INFO ")
            .and_then(|j| serde_json::from_str(j.trim()).ok())
            .unwrap_or_else(|| panic!("expected INFO, got {line:?}"));
        assert_eq!(info["headers"], true, "server without headers: {info}");
        let writer = Arc::new(Mutex::new(stream));
        let shared = Arc::new(ClientShared::default());
        let thread = {
            let (shared, writer) = (shared.clone(), writer.clone());
            std::thread::Builder::new()
                .name(format!("nats-client-{port}"))
                .spawn(move || read_loop(reader, shared, writer))
                .expect("reader thread")
        };
        let client = NatsClient {
            writer,
            shared,
            reader: Some(thread),
            next_sid: AtomicU64::new(1),
            port,
            info,
        };
        client.send(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\
              \"no_responders\":true,\"protocol\":1,\"name\":\"e2e-raw\",\"lang\":\"raw\",\
              \"version\":\"0\"}\r\n",
        );
        client.flush();
        client
    }

    fn send(&self, bytes: &[u8]) {
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write_all(bytes)
            .expect("writing to nats-server");
    }

    /// PING, wait for its PONG: everything sent before is processed.
    pub fn flush(&self) {
        let before = self.shared.lock().pongs;
        self.send(b"PING\r\n");
        self.wait_state("PONG", DEADLINE, |s| s.pongs > before)
            .expect("PONG from nats-server");
    }

    /// SUB; returns the sid. (Not flushed: call [`NatsClient::flush`].)
    pub fn sub(&self, subject: &str) -> u64 {
        let sid = self.next_sid.fetch_add(1, Ordering::Relaxed);
        self.send(format!("SUB {subject} {sid}\r\n").as_bytes());
        sid
    }

    pub fn unsub(&self, sid: u64) {
        self.send(format!("UNSUB {sid}\r\n").as_bytes());
    }

    pub fn publish(&self, subject: &str, reply: Option<&str>, payload: &[u8]) {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let mut frame = format!("PUB {subject}{reply} {}\r\n", payload.len()).into_bytes();
        frame.extend_from_slice(payload);
        frame.extend_from_slice(b"\r\n");
        self.send(&frame);
    }

    /// HPUB with `headers`.
    pub fn publish_headers(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) {
        let mut block = String::from("NATS/1.0\r\n");
        for (k, v) in headers {
            block.push_str(&format!("{k}: {v}\r\n"));
        }
        block.push_str("\r\n");
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let mut frame = format!(
            "HPUB {subject}{reply} {} {}\r\n",
            block.len(),
            block.len() + payload.len()
        )
        .into_bytes();
        frame.extend_from_slice(block.as_bytes());
        frame.extend_from_slice(payload);
        frame.extend_from_slice(b"\r\n");
        self.send(&frame);
    }

    /// Every message so far for `sid`.
    pub fn msgs(&self, sid: u64) -> Vec<NatsMsg> {
        self.shared
            .lock()
            .msgs
            .iter()
            .filter(|m| m.sid == sid)
            .cloned()
            .collect()
    }

    /// `-ERR` lines so far.
    pub fn errors(&self) -> Vec<String> {
        self.shared.lock().errors.clone()
    }

    /// Wait until `sid` got at least `n` messages.
    pub fn wait_msgs(&self, sid: u64, n: usize) -> Vec<NatsMsg> {
        self.wait_msgs_until(&format!("{n} messages on sid {sid}"), sid, |m| m.len() >= n)
    }

    pub fn wait_msgs_until(
        &self,
        what: &str,
        sid: u64,
        pred: impl Fn(&[NatsMsg]) -> bool,
    ) -> Vec<NatsMsg> {
        let ok = self.wait_state(what, DEADLINE, |s| {
            let mine: Vec<NatsMsg> = s.msgs.iter().filter(|m| m.sid == sid).cloned().collect();
            pred(&mine)
        });
        let got = self.msgs(sid);
        if ok.is_err() {
            panic!(
                "nats client on {}: timed out waiting for {what}; got {} on sid {sid}: {:#?}; errors {:?}",
                self.port,
                got.len(),
                got.iter()
                    .map(|m| format!("{} {}", m.subject, String::from_utf8_lossy(&m.payload)))
                    .collect::<Vec<_>>(),
                self.errors()
            );
        }
        got
    }

    fn wait_state(
        &self,
        what: &str,
        bound: Duration,
        pred: impl Fn(&ClientState) -> bool,
    ) -> Result<(), String> {
        let start = Instant::now();
        let mut state = self.shared.lock();
        loop {
            if pred(&state) {
                return Ok(());
            }
            if state.closed {
                return Err(format!(
                    "connection closed waiting for {what}: {:?}",
                    state.errors
                ));
            }
            let Some(left) = bound.checked_sub(start.elapsed()) else {
                return Err(format!("timed out waiting for {what}"));
            };
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Request/reply through a fresh inbox; `None` if nothing answered
    /// within `bound` (a no-responders status is returned as a message).
    pub fn request(&self, subject: &str, payload: &[u8], bound: Duration) -> Option<NatsMsg> {
        static INBOX: AtomicU64 = AtomicU64::new(0);
        let inbox = format!(
            "_INBOX.e2e{}.{}",
            std::process::id(),
            INBOX.fetch_add(1, Ordering::Relaxed)
        );
        let sid = self.sub(&inbox);
        self.publish(subject, Some(&inbox), payload);
        let answered = self.wait_state("reply", bound, |s| s.msgs.iter().any(|m| m.sid == sid));
        self.unsub(sid);
        answered.ok()?;
        self.msgs(sid).into_iter().next()
    }

    /// Wait until the server has propagated this connection's earlier
    /// subscriptions to `publisher`'s server (a cluster): subscribe a
    /// sentinel after them and publish it from `publisher` until it arrives.
    /// Route interest travels in order, so the earlier ones are there too.
    pub fn wait_interest_from(&self, publisher: &NatsClient) {
        static SENTINEL: AtomicU64 = AtomicU64::new(0);
        let subject = format!(
            "_e2e.sentinel.{}.{}",
            std::process::id(),
            SENTINEL.fetch_add(1, Ordering::Relaxed)
        );
        let sid = self.sub(&subject);
        self.flush();
        let start = Instant::now();
        loop {
            publisher.publish(&subject, None, b"?");
            publisher.flush();
            if self
                .wait_state("sentinel", Duration::from_millis(100), |s| {
                    s.msgs.iter().any(|m| m.sid == sid)
                })
                .is_ok()
            {
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "interest never reached the publisher's server"
            );
        }
        self.unsub(sid);
        self.flush();
    }
}

impl Drop for NatsClient {
    fn drop(&mut self) {
        let _ = self
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .shutdown(std::net::Shutdown::Both);
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
    }
}
