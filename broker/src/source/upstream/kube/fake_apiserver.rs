//! A fake Kubernetes API server, just enough for `--kube`: the pod list with
//! label and field selectors, and `pods/{name}/portforward` over WebSocket
//! speaking `v4.channel.k8s.io` the way kube-rs's `Portforwarder` reads it.
//!
//! Port-forward wire protocol (one port): binary frames whose first byte is
//! the channel, 0 = data and 1 = error for port index 0. The server opens
//! each channel with a frame carrying the port as 2 bytes little-endian;
//! after that, data frames carry raw bytes and an error frame carries a
//! UTF-8 message. The client sends data as `[0, bytes...]`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_util::sync::{CancellationToken, DropGuard};

/// A pod as the fake knows it; `backend` stands for the container's port.
#[derive(Debug, Clone)]
pub struct FakePod {
    pub name: String,
    pub namespace: String,
    pub node: String,
    pub labels: Vec<(String, String)>,
    pub phase: String,
    /// Being deleted (`metadata.deletionTimestamp` set) but still listed.
    pub terminating: bool,
    pub backend: SocketAddr,
}

impl FakePod {
    /// A Running linuxptp-daemon pod in openshift-ptp.
    pub fn daemon(name: &str, node: &str, backend: SocketAddr) -> FakePod {
        FakePod {
            name: name.to_owned(),
            namespace: "openshift-ptp".to_owned(),
            node: node.to_owned(),
            labels: vec![("app".to_owned(), "linuxptp-daemon".to_owned())],
            phase: "Running".to_owned(),
            terminating: false,
            backend,
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let labels: serde_json::Map<_, _> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        let mut metadata = serde_json::json!({
            "name": self.name,
            "namespace": self.namespace,
            "labels": labels,
            "creationTimestamp": "2025-01-01T00:00:00Z",
        });
        if self.terminating {
            metadata["deletionTimestamp"] = "2025-01-02T00:00:00Z".into();
        }
        serde_json::json!({
            "metadata": metadata,
            "spec": { "nodeName": self.node, "containers": [] },
            "status": { "phase": self.phase },
        })
    }
}

#[derive(Default)]
struct State {
    pods: Vec<FakePod>,
    /// Pod names of every port-forward request, in order, with the status sent.
    forwards: Vec<(String, u16)>,
}

/// The running fake; stops when dropped.
pub struct FakeApiServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _stop: DropGuard,
}

impl FakeApiServer {
    pub async fn start(pods: Vec<FakePod>) -> FakeApiServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind fake API server");
        let addr = listener.local_addr().expect("fake API server address");
        let state = Arc::new(Mutex::new(State {
            pods,
            forwards: Vec::new(),
        }));
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, Arc::clone(&state), stop.clone()));
        FakeApiServer {
            addr,
            state,
            _stop: stop.drop_guard(),
        }
    }

    /// A kube client pointed at the fake over plain http.
    pub fn client(&self) -> ::kube::Client {
        let url = format!("http://{}", self.addr).parse().expect("fake URL");
        ::kube::Client::try_from(::kube::Config::new(url)).expect("kube client for the fake")
    }

    /// Replaces the set of pods, e.g. to simulate a pod being replaced.
    pub fn set_pods(&self, pods: Vec<FakePod>) {
        self.state.lock().expect("fake state").pods = pods;
    }

    /// Every port-forward request so far: pod name and HTTP status answered.
    pub fn forwards(&self) -> Vec<(String, u16)> {
        self.state.lock().expect("fake state").forwards.clone()
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let state = Arc::clone(&state);
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = Arc::clone(&state);
                let stop = stop.clone();
                async move { Ok::<_, Infallible>(route(&state, req, stop)) }
            });
            // Errors here are clients going away; nothing to assert on.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

type Reply = Response<Full<Bytes>>;

fn route(state: &Mutex<State>, req: Request<Incoming>, stop: CancellationToken) -> Reply {
    let path = req.uri().path().to_owned();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api", "v1", "namespaces", ns, "pods"] if req.method() == http::Method::GET => {
            list_pods(state, ns, &query)
        }
        ["api", "v1", "namespaces", ns, "pods", pod, "portforward"] => {
            let (ns, pod) = (ns.to_string(), pod.to_string());
            portforward(state, &ns, &pod, &query, req, stop)
        }
        _ => status(StatusCode::NOT_FOUND, "NotFound", "no such path"),
    }
}

fn list_pods(state: &Mutex<State>, ns: &str, query: &HashMap<String, String>) -> Reply {
    let labels: Vec<(&str, &str)> = query
        .get("labelSelector")
        .map(|s| {
            s.split(',')
                .filter_map(|term| term.split_once('='))
                .collect()
        })
        .unwrap_or_default();
    let node = query
        .get("fieldSelector")
        .and_then(|s| s.strip_prefix("spec.nodeName="));
    let state = state.lock().expect("fake state");
    let items: Vec<_> = state
        .pods
        .iter()
        .filter(|p| p.namespace == ns)
        .filter(|p| node.is_none_or(|n| p.node == n))
        .filter(|p| {
            labels
                .iter()
                .all(|(k, v)| p.labels.iter().any(|(pk, pv)| pk == k && pv == v))
        })
        .map(FakePod::to_json)
        .collect();
    let body = serde_json::json!({
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": { "resourceVersion": "1" },
        "items": items,
    });
    json(StatusCode::OK, &body)
}

fn portforward(
    state: &Mutex<State>,
    ns: &str,
    pod: &str,
    query: &HashMap<String, String>,
    req: Request<Incoming>,
    stop: CancellationToken,
) -> Reply {
    let backend = {
        let mut state = state.lock().expect("fake state");
        let backend = state
            .pods
            .iter()
            .find(|p| p.namespace == ns && p.name == pod)
            .map(|p| p.backend);
        let code = if backend.is_some() { 101 } else { 404 };
        state.forwards.push((pod.to_owned(), code));
        backend
    };
    let Some(backend) = backend else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("pods \"{pod}\" not found"),
        );
    };
    let Some(port) = query.get("ports").and_then(|p| p.parse::<u16>().ok()) else {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "need one port");
    };
    let offers_v4 = req
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.split(',').any(|p| p.trim() == "v4.channel.k8s.io"));
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "not a WebSocket");
    };
    if !offers_v4 {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "need v4.channel.k8s.io",
        );
    }
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        forward_port(ws, port, backend, stop).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            derive_accept_key(key.as_bytes()),
        )
        .header(header::SEC_WEBSOCKET_PROTOCOL, "v4.channel.k8s.io")
        .body(Full::default())
        .expect("101 response")
}

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// What the kubelet does for one forwarded port: announce both channels,
/// dial the container port, then relay until either side closes.
async fn forward_port(mut ws: Ws, port: u16, backend: SocketAddr, stop: CancellationToken) {
    let [lo, hi] = port.to_le_bytes();
    for channel in [0u8, 1] {
        if ws
            .send(Message::binary(vec![channel, lo, hi]))
            .await
            .is_err()
        {
            return;
        }
    }
    let mut tcp = match TcpStream::connect(backend).await {
        Ok(tcp) => tcp,
        Err(e) => {
            let mut frame = vec![1u8];
            frame.extend_from_slice(format!("error forwarding port {port} to pod: {e}").as_bytes());
            let _ = ws.send(Message::binary(frame)).await;
            let _ = ws.close(None).await;
            return;
        }
    };
    let mut buf = vec![0u8; 16 * 1024];
    let mut backend_open = true;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            frame = ws.next() => match frame {
                Some(Ok(Message::Binary(data))) => {
                    if data.first() == Some(&0) && tcp.write_all(&data[1..]).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    let _ = tcp.shutdown().await;
                    return;
                }
                Some(Ok(_)) => {}
            },
            read = tcp.read(&mut buf), if backend_open => match read {
                Ok(0) | Err(_) => {
                    // v4 cannot half-close: the container closing its end
                    // ends the whole stream, as the real kubelet does.
                    backend_open = false;
                    if ws.close(None).await.is_err() {
                        return;
                    }
                }
                Ok(n) => {
                    let mut frame = Vec::with_capacity(n + 1);
                    frame.push(0u8);
                    frame.extend_from_slice(&buf[..n]);
                    if ws.send(Message::binary(frame)).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> Reply {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    json(code, &body)
}

fn json(code: StatusCode, body: &serde_json::Value) -> Reply {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("JSON response")
}

/// A tiny HTTP server standing for cloud-event-proxy: answers every request
/// with `<name> <method> <path>` and closes the connection.
pub struct EchoBackend {
    pub addr: SocketAddr,
    _stop: DropGuard,
}

impl EchoBackend {
    pub async fn start(name: &str) -> EchoBackend {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind echo backend");
        let addr = listener.local_addr().expect("echo backend address");
        let stop = CancellationToken::new();
        tokio::spawn(echo_loop(listener, name.to_owned(), stop.clone()));
        EchoBackend {
            addr,
            _stop: stop.drop_guard(),
        }
    }
}

async fn echo_loop(listener: TcpListener, name: String, stop: CancellationToken) {
    loop {
        let mut stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let name = name.clone();
        tokio::spawn(async move {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&request);
            let mut words = head.split_whitespace();
            let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let body = format!("{name} {method} {path}");
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
