//! `--kube` wired into the broker: a `Server` with `kube.enabled` finds the
//! daemon pod through the fake API server, subscribes through the
//! port-forward to a fake O-RAN API behind the pod, and receives what the
//! "daemon" POSTs to the callback it registered.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::http::{Method, StatusCode};

use super::fake_apiserver::{FakeApiServer, FakePod};
use crate::config::Config;
use crate::server::Server;
use crate::source::upstream::KubeMode;

const PREFIX: &str = "/api/ocloudNotifications/v2";

/// Subscriptions the fake O-RAN API holds: (id, ResourceAddress, EndpointUri).
type Subscriptions = Arc<Mutex<Vec<(String, String, String)>>>;

/// A minimal v2 API: health, list, subscribe (no initial notification),
/// CurrentState 404. Enough to see the manager work through the tunnel.
async fn fake_oran_api() -> (SocketAddr, Subscriptions) {
    let subscriptions: Subscriptions = Arc::default();
    let state = Arc::clone(&subscriptions);
    let routes = warp::method()
        .and(warp::path::full())
        .and(warp::body::bytes())
        .map(move |method: Method, path: warp::path::FullPath, body: Bytes| {
            let tail = path.as_str().strip_prefix(PREFIX).unwrap_or("");
            let mut subs = state.lock().expect("fake state");
            let (status, body) = match (method, tail) {
                (Method::GET, "/health") => (StatusCode::OK, Value::from("OK")),
                (Method::GET, "/subscriptions") => (
                    StatusCode::OK,
                    subs.iter()
                        .map(|(id, r, e)| json!({"SubscriptionId": id, "ResourceAddress": r, "EndpointUri": e}))
                        .collect(),
                ),
                (Method::POST, "/subscriptions") => {
                    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let resource = request["ResourceAddress"].as_str().unwrap_or("").to_owned();
                    let endpoint = request["EndpointUri"].as_str().unwrap_or("").to_owned();
                    let id = format!("sub-{}", subs.len());
                    subs.push((id.clone(), resource.clone(), endpoint.clone()));
                    (
                        StatusCode::CREATED,
                        json!({"SubscriptionId": id, "ResourceAddress": resource, "EndpointUri": endpoint}),
                    )
                }
                _ => (StatusCode::NOT_FOUND, Value::from("not found")),
            };
            warp::reply::with_status(warp::reply::json(&body), status)
        });
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind fake O-RAN API");
    let addr = listener.local_addr().expect("fake O-RAN address");
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    (addr, subscriptions)
}

fn kubeconfig(fake: &FakeApiServer) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ptp-broker-wiring-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("kubeconfig-{}", fake.addr.port()));
    let text = format!(
        "apiVersion: v1\nkind: Config\n\
         clusters: [{{name: fake, cluster: {{server: \"http://{}\"}}}}]\n\
         users: [{{name: nobody, user: {{}}}}]\n\
         contexts: [{{name: fake, context: {{cluster: fake, user: nobody}}}}]\n\
         current-context: fake\n",
        fake.addr
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

fn kube_config(fake: &FakeApiServer, mode: KubeMode) -> Config {
    let mut config = Config {
        emit: "tcp://127.0.0.1:0".into(),
        publish: "tcp://127.0.0.1:0".into(),
        query: "tcp://127.0.0.1:0".into(),
        ..Config::default()
    };
    // Bound to every interface, so the callback IP is the outbound-IP guess
    // towards the API server (here 127.0.0.1).
    config.http.listen = "0.0.0.0:0".into();
    config.api.listen = "127.0.0.1:0".into();
    config.monitor.listen = "127.0.0.1:0".into();
    config.kube.enabled = true;
    config.kube.mode = mode;
    config.kube.node_name = Some("n1".into());
    config.kube.kubeconfig = Some(kubeconfig(fake));
    config.upstream.resources = vec!["PTP_LOCK_STATE".into(), "OS_CLOCK_SYNC".into()];
    config.upstream.health_interval_ms = 100;
    config
}

#[tokio::test]
async fn kube_port_forward_mode_subscribes_through_the_tunnel() {
    let (backend, subscriptions) = fake_oran_api().await;
    let fake = FakeApiServer::start(vec![FakePod::daemon("daemon-n1", "n1", backend)]).await;
    let server = Server::bind(kube_config(&fake, KubeMode::PortForward))
        .await
        .expect("bind with --kube");
    let http_port = server
        .ready()
        .http
        .as_deref()
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .map(|a| a.port())
        .expect("http address");
    // The receiver's address with this run's 128-bit secret as last segment.
    let callback = server.callback().expect("a callback").to_owned();
    let secret = callback
        .strip_prefix(&format!("http://127.0.0.1:{http_port}/event/"))
        .unwrap_or_else(|| panic!("callback {callback}"));
    assert!(
        secret.len() == 32 && secret.bytes().all(|b| b.is_ascii_hexdigit()),
        "{secret}"
    );
    let broker = server.broker().clone();
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    tokio::spawn(server.run(shutdown));

    let start = Instant::now();
    while broker.stats().snapshot()["upstream_subscribed"] < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "not subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let subs = subscriptions.lock().expect("fake state").clone();
    let resources: Vec<&str> = subs.iter().map(|(_, r, _)| r.as_str()).collect();
    assert_eq!(
        resources,
        [
            "/cluster/node/n1/sync/ptp-status/lock-state",
            "/cluster/node/n1/sync/sync-status/os-clock-sync-state"
        ]
    );
    assert!(
        !fake.forwards().is_empty(),
        "REST calls went through pods/portforward"
    );
}

#[tokio::test]
async fn kube_service_mode_uses_the_service_url_and_fails_nothing_at_start() {
    let backend: SocketAddr = (Ipv4Addr::LOCALHOST, 9).into();
    let fake = FakeApiServer::start(vec![FakePod::daemon("daemon-n1", "n1", backend)]).await;
    // The Service name does not resolve outside a cluster: the manager
    // retries in the background; the start itself succeeds.
    let server = Server::bind(kube_config(&fake, KubeMode::Service))
        .await
        .expect("bind in service mode");
    assert!(
        server
            .callback()
            .is_some_and(|c| c.starts_with("http://127.0.0.1:"))
    );
    assert!(
        fake.forwards().is_empty(),
        "no port-forward in service mode"
    );
}

#[tokio::test]
async fn kube_without_a_daemon_pod_fails_the_start() {
    let fake = FakeApiServer::start(Vec::new()).await;
    let err = Server::bind(kube_config(&fake, KubeMode::PortForward))
        .await
        .err()
        .expect("no pod: the start fails")
        .to_string();
    assert!(err.contains("no pod matching"), "{err}");
}
