//! A simulator and a callback receiver, both in-process on port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use upstream_sim::{Config, Flavor};
use warp::Filter;
use warp::http::StatusCode;

/// How long a test waits for something that should happen at once.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A running simulator; stopped when dropped.
pub struct TestSim {
    /// `http://addr<prefix>`.
    pub api: String,
    /// `http://addr`, for `/sim/...`.
    pub root: String,
    pub http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

pub async fn start_sim(flavor: Flavor) -> TestSim {
    let mut config = Config::new(flavor);
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.delivery_timeout = Duration::from_secs(5);
    let bound = upstream_sim::bind(config).await.expect("bind port 0");
    let root = format!("http://{}", bound.local_addr());
    let api = bound.base_url();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(bound.serve(async move {
        let _ = stopped.await;
    }));
    TestSim {
        api,
        root,
        http: {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::new()
        },
        _stop: stop,
    }
}

/// A POST the receiver got.
#[derive(Debug)]
pub struct Received {
    pub path: String,
    pub content_type: Option<String>,
    pub body: Value,
}

/// A callback endpoint that records every POST and answers `status`.
pub struct Receiver {
    pub url: String,
    status: Arc<AtomicU16>,
    got: mpsc::UnboundedReceiver<Received>,
    _stop: oneshot::Sender<()>,
}

pub async fn start_receiver(status: u16) -> Receiver {
    let (tx, got) = mpsc::unbounded_channel();
    let status = Arc::new(AtomicU16::new(status));
    let answer = status.clone();
    let route = warp::post()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::json::<Value>())
        .map(move |path: warp::path::FullPath, content_type, body| {
            let path = path.as_str().to_string();
            let _ = tx.send(Received {
                path,
                content_type,
                body,
            });
            let code = StatusCode::from_u16(answer.load(Ordering::SeqCst))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            warp::reply::with_status(warp::reply(), code)
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}/callback", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        warp::serve(route)
            .incoming(listener)
            .graceful(async move {
                let _ = stopped.await;
            })
            .run(),
    );
    Receiver {
        url,
        status,
        got,
        _stop: stop,
    }
}

impl Receiver {
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Stop the receiver and wait (up to [`DEADLINE`]) until its port
    /// refuses connections, so later deliveries fail deterministically.
    pub async fn stop(self) {
        let addr = self
            .url
            .trim_start_matches("http://")
            .trim_end_matches("/callback")
            .to_string();
        drop(self._stop);
        let refused = async {
            while tokio::net::TcpStream::connect(&addr).await.is_ok() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(DEADLINE, refused)
            .await
            .expect("receiver stops");
    }

    /// The next POST, waiting up to [`DEADLINE`].
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(DEADLINE, self.got.recv())
            .await
            .expect("an event within the deadline")
            .expect("receiver running")
    }

    /// A POST that has already arrived, without waiting.
    pub fn already_received(&mut self) -> Option<Received> {
        self.got.try_recv().ok()
    }
}

impl TestSim {
    pub async fn subscribe(&self, address: &str, endpoint: &str) -> (u16, Value) {
        let body = serde_json::json!({"ResourceAddress": address, "EndpointUri": endpoint});
        self.post_json(&format!("{}/subscriptions", self.api), &body)
            .await
    }

    pub async fn post_json(&self, url: &str, body: &Value) -> (u16, Value) {
        let response = self.http.post(url).json(body).send().await.expect("POST");
        decode(response).await
    }

    pub async fn get(&self, url: &str) -> (u16, Value) {
        decode(self.http.get(url).send().await.expect("GET")).await
    }

    pub async fn delete(&self, url: &str) -> u16 {
        self.http
            .delete(url)
            .send()
            .await
            .expect("DELETE")
            .status()
            .as_u16()
    }

    /// `POST /sim/step`: the events of the step, after delivery.
    pub async fn step(&self) -> Vec<Value> {
        let (status, events) = self
            .post_json(&format!("{}/sim/step", self.root), &Value::Null)
            .await;
        assert_eq!(status, 200);
        events.as_array().cloned().expect("array of events")
    }

    pub async fn stats(&self) -> Value {
        self.get(&format!("{}/sim/stats", self.root)).await.1
    }
}

/// Status and body; a non-JSON body becomes a JSON string.
async fn decode(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}
