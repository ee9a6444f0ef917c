//! [`JsonRpc`]: the server on 127.0.0.1 (accept loop, one reader thread
//! per connection, answers per [`Mode`]), stopped and resumed on its port.

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Message, Mode, check};
use crate::util::DEADLINE;

#[derive(Default)]
struct State {
    messages: Vec<Message>,
    problems: Vec<String>,
    connections: usize,
    /// Write halves of the live connections, to close them.
    live: Vec<TcpStream>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    mode: Mutex<Mode>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn problem(&self, text: String) {
        self.lock().problems.push(text);
        self.changed.notify_all();
    }
}

/// The accept loop of one bind of the port.
struct Listening {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// A running server on 127.0.0.1; stops on drop.
pub struct JsonRpc {
    port: u16,
    shared: Arc<Shared>,
    listening: Option<Listening>,
}

impl JsonRpc {
    pub fn start(mode: Mode) -> JsonRpc {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the JSON-RPC server");
        let port = listener.local_addr().expect("address").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            mode: Mutex::new(mode),
        });
        let listening = Some(listen(listener, shared.clone()));
        JsonRpc {
            port,
            shared,
            listening,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `tcp:127.0.0.1:PORT` (the sink URI), with `/method` if given.
    pub fn uri(&self, method: Option<&str>) -> String {
        match method {
            Some(m) => format!("tcp:127.0.0.1:{}/{m}", self.port),
            None => format!("tcp:127.0.0.1:{}", self.port),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap_or_else(|p| p.into_inner()) = mode;
    }

    /// Close every live connection (the port keeps listening).
    pub fn drop_connections(&self) {
        let live = std::mem::take(&mut self.shared.lock().live);
        for s in live {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Stop listening and close every connection: the server is down
    /// (connections to the port are refused) until [`JsonRpc::resume`].
    pub fn stop(&mut self) {
        if let Some(listening) = self.listening.take() {
            listening.stop.store(true, Ordering::SeqCst);
            // Wake the blocking accept; it sees the flag and drops the listener.
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            let _ = listening.thread.join();
        }
        self.drop_connections();
    }

    /// Listen on the same port again (a restarted server).
    pub fn resume(&mut self) {
        assert!(self.listening.is_none(), "already listening");
        let start = Instant::now();
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        start.elapsed() < DEADLINE,
                        "cannot bind port {} again: {e}",
                        self.port
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        self.listening = Some(listen(listener, self.shared.clone()));
    }

    /// Down and up again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.resume();
    }

    pub fn messages(&self) -> Vec<Message> {
        self.shared.lock().messages.clone()
    }

    pub fn count(&self) -> usize {
        self.shared.lock().messages.len()
    }

    /// Connections accepted so far (over restarts).
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// What broke the protocol so far (empty when all was well).
    pub fn problems(&self) -> Vec<String> {
        self.shared.lock().problems.clone()
    }

    /// Wait until at least `n` messages arrived.
    pub fn wait_for(&self, n: usize) -> Vec<Message> {
        self.wait_until(&format!("{n} messages"), |m| m.len() >= n)
    }

    pub fn wait_until(&self, what: &str, pred: impl Fn(&[Message]) -> bool) -> Vec<Message> {
        self.wait_until_within(what, DEADLINE, pred)
    }

    pub fn wait_until_within(
        &self,
        what: &str,
        bound: Duration,
        pred: impl Fn(&[Message]) -> bool,
    ) -> Vec<Message> {
        let start = Instant::now();
        let mut state = self.shared.lock();
        loop {
            if pred(&state.messages) {
                return state.messages.clone();
            }
            let left = bound.checked_sub(start.elapsed()).unwrap_or_else(|| {
                panic!(
                    "JSON-RPC server {}: timed out after {bound:?} waiting for {what}; \
                     {} connections, problems {:?}, messages {:#?}",
                    self.port,
                    state.connections,
                    state.problems,
                    state.messages.iter().map(|m| &m.value).collect::<Vec<_>>()
                )
            });
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Wait until at least `n` problems were recorded.
    pub fn wait_problems(&self, n: usize) -> Vec<String> {
        let start = Instant::now();
        let mut state = self.shared.lock();
        while state.problems.len() < n {
            let left = DEADLINE.checked_sub(start.elapsed()).unwrap_or_else(|| {
                panic!(
                    "JSON-RPC server {}: problems {:?}, waited for {n}",
                    self.port, state.problems
                )
            });
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        state.problems.clone()
    }

    /// Wait until at least `n` connections were accepted.
    pub fn wait_connections(&self, n: usize) {
        let start = Instant::now();
        let mut state = self.shared.lock();
        while state.connections < n {
            let left = DEADLINE.checked_sub(start.elapsed()).unwrap_or_else(|| {
                panic!(
                    "JSON-RPC server {}: {} connections, waited for {n}",
                    self.port, state.connections
                )
            });
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for JsonRpc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn listen(listener: TcpListener, shared: Arc<Shared>) -> Listening {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("jsonrpc-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let connection = {
                    let mut state = shared.lock();
                    state.connections += 1;
                    if let Ok(w) = stream.try_clone() {
                        state.live.push(w);
                    }
                    state.connections - 1
                };
                shared.changed.notify_all();
                let shared = shared.clone();
                let _ = std::thread::Builder::new()
                    .name(format!("jsonrpc-conn-{connection}"))
                    .spawn(move || read_connection(stream, connection, shared));
            }
        })
        .expect("accept thread");
    Listening { stop, thread }
}

/// Read JSON values until EOF or a syntax error; record, check, answer.
fn read_connection(stream: TcpStream, connection: usize, shared: Arc<Shared>) {
    let writer = match stream.try_clone() {
        Ok(w) => Arc::new(Mutex::new(w)),
        Err(_) => return,
    };
    let reader = BufReader::new(stream);
    for value in serde_json::Deserializer::from_reader(reader).into_iter::<Value>() {
        let value = match value {
            Ok(v) => v,
            Err(e) if e.is_eof() => {
                // Only a value cut off by the close is an error here: at a
                // value boundary the iterator just ends.
                shared.problem(format!("connection {connection}: cut off: {e}"));
                return;
            }
            Err(e) if e.is_io() => return,
            Err(e) => {
                shared.problem(format!("connection {connection}: not JSON: {e}"));
                return;
            }
        };
        let mode = shared.mode();
        for p in check(&value, mode.sync()) {
            shared.problem(format!("connection {connection}: {p}: {value}"));
        }
        let id = value.get("id").cloned();
        shared.lock().messages.push(Message {
            value,
            connection,
            at: Instant::now(),
        });
        shared.changed.notify_all();
        let Some(id) = id else { continue };
        let answer = match mode {
            Mode::Notify | Mode::Silent => continue,
            Mode::Answer | Mode::AnswerAfter(_) => {
                json!({"jsonrpc": "2.0", "result": 8, "id": id})
            }
            Mode::WrongId => json!({
                "jsonrpc": "2.0",
                "result": 8,
                "id": id.as_i64().map_or(json!(-1), |i| json!(i.wrapping_add(1_000_003)))
            }),
            Mode::Error => json!({
                "jsonrpc": "2.0",
                "error": {"code": -32000, "message": "scripted failure"},
                "id": id
            }),
        };
        let line = format!("{answer}\n");
        match mode {
            Mode::AnswerAfter(delay) => {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let _ = writer
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .write_all(line.as_bytes());
                });
            }
            _ => {
                let _ = writer
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .write_all(line.as_bytes());
            }
        }
    }
}
