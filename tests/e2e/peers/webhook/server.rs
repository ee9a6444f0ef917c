//! [`Webhook`]: the HTTP/1.1 server (hyper, on its own thread and
//! runtime) that records each request and answers it from the script.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::{Received, Reply, summary};
use crate::util::DEADLINE;

#[derive(Default)]
struct State {
    requests: Vec<Received>,
    script: Vec<Reply>,
    answered: usize,
    /// The request number the script's first entry is for.
    script_from: usize,
    connections: usize,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    released: std::sync::atomic::AtomicBool,
    release: tokio::sync::Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running receiver; stops on drop (answers still sleeping are dropped).
pub struct Webhook {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Webhook {
    /// Every request gets `reply`.
    pub fn always(reply: Reply) -> Webhook {
        Webhook::start(vec![reply])
    }

    /// Request `k` gets `script[k]`; the last entry repeats.
    pub fn start(script: Vec<Reply>) -> Webhook {
        assert!(!script.is_empty(), "a script needs at least one reply");
        let shared = Arc::new(Shared::default());
        shared.lock().script = script;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding the webhook");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("webhook address");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("webhook-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("webhook runtime");
                runtime.block_on(serve(listener, for_thread, stop_rx));
                // Dropping the runtime cancels the answers still sleeping.
            })
            .expect("webhook thread");
        Webhook {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` + `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Replace the script: the next request gets `script[0]`.
    pub fn set_script(&self, script: Vec<Reply>) {
        assert!(!script.is_empty());
        let mut state = self.shared.lock();
        state.script_from = state.answered;
        state.script = script;
    }

    /// Let every held answer go, now and from now on.
    pub fn release(&self) {
        self.shared
            .released
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.shared.release.notify_waiters();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Received> {
        self.shared.lock().requests.clone()
    }

    pub fn count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// Wait until at least `n` requests arrived (fails at the deadline).
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        self.wait_for_within(n, DEADLINE)
    }

    /// As [`Webhook::wait_for`], with an explicit bound.
    pub fn wait_for_within(&self, n: usize, bound: Duration) -> Vec<Received> {
        self.wait_until_within(&format!("{n} requests"), bound, |r| r.len() >= n)
    }

    /// Wait until `pred` holds for the requests so far.
    pub fn wait_until(&self, what: &str, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        self.wait_until_within(what, DEADLINE, pred)
    }

    pub fn wait_until_within(
        &self,
        what: &str,
        bound: Duration,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let start = Instant::now();
        let mut state = self.shared.lock();
        loop {
            if pred(&state.requests) {
                return state.requests.clone();
            }
            let left = bound.checked_sub(start.elapsed()).unwrap_or_else(|| {
                panic!(
                    "webhook {}: timed out after {bound:?} waiting for {what}; got {} requests: {:#?}",
                    self.addr,
                    state.requests.len(),
                    summary(&state.requests)
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

impl Drop for Webhook {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let connection = {
            let mut state = shared.lock();
            state.connections += 1;
            state.connections - 1
        };
        shared.changed.notify_all();
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { answer(request, connection, shared).await }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[derive(Debug)]
struct HangUp;

impl std::fmt::Display for HangUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted hang-up")
    }
}

impl std::error::Error for HangUp {}

async fn answer(
    request: hyper::Request<Incoming>,
    connection: usize,
    shared: Arc<Shared>,
) -> Result<hyper::Response<Full<Bytes>>, HangUp> {
    let at = Instant::now();
    let (head, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => return Err(HangUp),
    };
    let received = Received {
        method: head.method.to_string(),
        path: head
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_else(|| head.uri.to_string()),
        headers: head
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        at,
        connection,
    };
    let reply = {
        let mut state = shared.lock();
        state.requests.push(received);
        let k = (state.answered - state.script_from).min(state.script.len() - 1);
        state.answered += 1;
        state.script[k].clone()
    };
    shared.changed.notify_all();
    if reply.held {
        loop {
            let notified = shared.release.notified();
            if shared.released.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            notified.await;
        }
    }
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    if reply.hang_up {
        return Err(HangUp);
    }
    let mut response = hyper::Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        response = response.header(k, v);
    }
    Ok(response
        .body(Full::new(Bytes::from(reply.body)))
        .expect("scripted response"))
}
