//! Protocol-level tests against the fake API server: real kube client, real
//! WebSocket port-forward frames, real TCP backends.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::fake_apiserver::{EchoBackend, FakeApiServer, FakePod};
use super::*;

/// Upper bound for any single step; generous because CI machines are slow.
const DEADLINE: Duration = Duration::from_secs(10);

/// Shows the module's logs when a test fails (`cargo test -- --nocapture`).
fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("broker=debug")
        .with_test_writer()
        .try_init();
}

fn settings_for(node: &str) -> KubeSettings {
    KubeSettings {
        node_name: Some(node.to_owned()),
        ..KubeSettings::default()
    }
}

/// Sends one HTTP request through `addr` and returns the response body.
async fn http_get(addr: SocketAddr, path: &str) -> String {
    let exchange = async {
        let mut tcp = TcpStream::connect(addr).await.expect("connect to forward");
        let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes())
            .await
            .expect("send request");
        // No half-close: the v4 stream protocol would drop the answer.
        let mut response = Vec::new();
        tcp.read_to_end(&mut response).await.expect("read response");
        String::from_utf8(response).expect("utf-8 response")
    };
    let response = tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("response within the deadline");
    assert!(
        response.starts_with("HTTP/1.1 200 OK"),
        "unexpected response {response:?}"
    );
    let (_, body) = response.split_once("\r\n\r\n").expect("response body");
    body.to_owned()
}

#[tokio::test]
async fn discovery_picks_the_daemon_pod_on_the_node() {
    let backend: SocketAddr = (Ipv4Addr::LOCALHOST, 9).into();
    let mut other_app = FakePod::daemon("other-app", "n1", backend);
    other_app.labels = vec![("app".to_owned(), "something-else".to_owned())];
    let mut other_ns = FakePod::daemon("other-ns", "n1", backend);
    other_ns.namespace = "default".to_owned();
    let mut pending = FakePod::daemon("daemon-n1-new", "n1", backend);
    pending.phase = "Pending".to_owned();
    let fake = FakeApiServer::start(vec![
        FakePod::daemon("daemon-n2", "n2", backend),
        other_app,
        other_ns,
        pending,
        FakePod::daemon("daemon-n1", "n1", backend),
    ])
    .await;
    let client = fake.client();

    let n1 = find_daemon_pod(&client, &settings_for("n1")).await;
    assert_eq!(n1.expect("pod on n1"), "daemon-n1");
    let n2 = find_daemon_pod(&client, &settings_for("n2")).await;
    assert_eq!(n2.expect("pod on n2"), "daemon-n2");
}

#[tokio::test]
async fn discovery_without_a_pod_says_what_it_looked_for() {
    let backend: SocketAddr = (Ipv4Addr::LOCALHOST, 9).into();
    let fake = FakeApiServer::start(vec![FakePod::daemon("daemon-n2", "n2", backend)]).await;

    let error = find_daemon_pod(&fake.client(), &settings_for("n1"))
        .await
        .expect_err("no pod on n1");
    assert!(matches!(error, KubeError::NoPod { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "no pod matching app=linuxptp-daemon on node n1 in namespace openshift-ptp"
    );

    let start = PortForward::start(fake.client(), settings_for("n1"), CancellationToken::new());
    assert!(matches!(start.await, Err(KubeError::NoPod { .. })));
}

#[tokio::test]
async fn requests_go_through_the_forward_and_back() {
    let backend = EchoBackend::start("pod-a").await;
    let fake = FakeApiServer::start(vec![FakePod::daemon("pod-a", "n1", backend.addr)]).await;
    let shutdown = CancellationToken::new();
    let forward = PortForward::start(fake.client(), settings_for("n1"), shutdown.clone())
        .await
        .expect("port-forward starts");
    assert!(forward.local_addr().ip().is_loopback());
    assert_eq!(forward.pod_name().as_deref(), Some("pod-a"));

    for i in 0..3 {
        let body = http_get(forward.local_addr(), &format!("/sequential/{i}")).await;
        assert_eq!(body, format!("pod-a GET /sequential/{i}"));
    }

    let concurrent = (0..8).map(|i| {
        let addr = forward.local_addr();
        async move { (i, http_get(addr, &format!("/concurrent/{i}")).await) }
    });
    for (i, body) in futures::future::join_all(concurrent).await {
        assert_eq!(body, format!("pod-a GET /concurrent/{i}"));
    }

    // One WebSocket per local connection, each on the right pod and port.
    let forwards = fake.forwards();
    assert_eq!(forwards.len(), 11);
    assert!(forwards.iter().all(|f| *f == ("pod-a".to_owned(), 101)));
    shutdown.cancel();
}

#[tokio::test]
async fn a_replaced_pod_is_found_again_without_restarting() {
    init_logs();
    let old = EchoBackend::start("pod-a").await;
    let new = EchoBackend::start("pod-b").await;
    let fake = FakeApiServer::start(vec![FakePod::daemon("pod-a", "n1", old.addr)]).await;
    let shutdown = CancellationToken::new();
    let forward = PortForward::start(fake.client(), settings_for("n1"), shutdown.clone())
        .await
        .expect("port-forward starts");
    assert_eq!(
        http_get(forward.local_addr(), "/before").await,
        "pod-a GET /before"
    );

    // The DaemonSet replaced the pod: the old name now answers 404.
    fake.set_pods(vec![FakePod::daemon("pod-b", "n1", new.addr)]);

    assert_eq!(
        http_get(forward.local_addr(), "/after").await,
        "pod-b GET /after"
    );
    assert_eq!(forward.pod_name().as_deref(), Some("pod-b"));
    let forwards = fake.forwards();
    assert_eq!(
        forwards[1..],
        [("pod-a".to_owned(), 404), ("pod-b".to_owned(), 101)]
    );
    // Later connections go straight to the new pod.
    assert_eq!(
        http_get(forward.local_addr(), "/later").await,
        "pod-b GET /later"
    );
    assert_eq!(fake.forwards().len(), 4);
}

#[tokio::test]
async fn a_pod_error_closes_the_connection_and_the_pod_is_looked_up_again() {
    init_logs();
    // A port nobody listens on: the fake kubelet reports it on channel 1.
    let dead = {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        listener.local_addr().expect("address")
    };
    let fake = FakeApiServer::start(vec![FakePod::daemon("pod-a", "n1", dead)]).await;
    let forward = PortForward::start(fake.client(), settings_for("n1"), CancellationToken::new())
        .await
        .expect("port-forward starts");

    let mut tcp = TcpStream::connect(forward.local_addr())
        .await
        .expect("connect");
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("send");
    let mut response = Vec::new();
    let read = tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut response)).await;
    assert!(
        read.is_ok(),
        "the local connection must be closed, not left hanging"
    );
    assert!(response.is_empty());

    // The old pod is still listed while it terminates, and still accepts
    // the WebSocket; its replacement runs beside it. Only looking the pod
    // up again after the error leads to the new one.
    let backend = EchoBackend::start("pod-b").await;
    let mut terminating = FakePod::daemon("pod-a", "n1", dead);
    terminating.terminating = true;
    fake.set_pods(vec![
        terminating,
        FakePod::daemon("pod-b", "n1", backend.addr),
    ]);
    assert_eq!(http_get(forward.local_addr(), "/x").await, "pod-b GET /x");
    assert_eq!(forward.pod_name().as_deref(), Some("pod-b"));
    assert_eq!(
        fake.forwards(),
        [("pod-a".to_owned(), 101), ("pod-b".to_owned(), 101)]
    );
}

#[tokio::test]
async fn dropping_the_handle_stops_the_listener() {
    let backend = EchoBackend::start("pod-a").await;
    let fake = FakeApiServer::start(vec![FakePod::daemon("pod-a", "n1", backend.addr)]).await;
    let forward = PortForward::start(fake.client(), settings_for("n1"), CancellationToken::new())
        .await
        .expect("port-forward starts");
    let addr = forward.local_addr();
    drop(forward);
    let refused = async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(DEADLINE, refused)
        .await
        .expect("listener closed after drop");
}

#[test]
fn outbound_ip_towards_loopback_is_loopback() {
    let ip = outbound_ip((Ipv4Addr::LOCALHOST, 6443).into()).expect("route to loopback");
    assert_eq!(ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
}

#[tokio::test]
async fn api_server_addr_reads_the_cluster_url() {
    let explicit = api_server_addr(&"https://127.0.0.1:6443".parse().expect("uri")).await;
    assert_eq!(explicit.expect("addr"), (Ipv4Addr::LOCALHOST, 6443).into());
    let default_port = api_server_addr(&"https://localhost".parse().expect("uri")).await;
    let default_port = default_port.expect("localhost resolves");
    assert!(default_port.ip().is_loopback());
    assert_eq!(default_port.port(), 443);
    let v6 = api_server_addr(&"http://[::1]:8080".parse().expect("uri")).await;
    assert_eq!(v6.expect("addr").to_string(), "[::1]:8080");
}

#[test]
fn service_url_names_the_per_node_service() {
    assert_eq!(
        service_url(&KubeSettings::default(), "worker-0"),
        "http://ptp-event-publisher-service-worker-0.openshift-ptp.svc.cluster.local:9043"
    );
}

#[test]
fn settings_default_and_reject_unknown_fields() {
    let parsed: KubeSettings = serde_json::from_str(r#"{"node_name":"n1"}"#).expect("settings");
    assert_eq!(parsed, settings_for("n1"));
    let typo = serde_json::from_str::<KubeSettings>(r#"{"namspace":"x"}"#);
    assert!(typo.is_err());
}

#[tokio::test]
async fn connect_reads_the_kubeconfig_named_in_the_settings() {
    let backend: SocketAddr = (Ipv4Addr::LOCALHOST, 9).into();
    let fake = FakeApiServer::start(vec![FakePod::daemon("daemon-n1", "n1", backend)]).await;
    let dir = std::env::temp_dir().join(format!("ptp-broker-kube-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("kubeconfig-{}", fake.addr.port()));
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\n\
         clusters: [{{name: fake, cluster: {{server: \"http://{}\"}}}}]\n\
         users: [{{name: nobody, user: {{}}}}]\n\
         contexts: [{{name: fake, context: {{cluster: fake, user: nobody}}}}]\n\
         current-context: fake\n",
        fake.addr
    );
    std::fs::write(&path, kubeconfig).expect("write kubeconfig");
    let settings = KubeSettings {
        kubeconfig: Some(path.clone()),
        ..settings_for("n1")
    };

    let config = load_config(&settings).await.expect("kubeconfig loads");
    assert_eq!(
        api_server_addr(&config.cluster_url).await.expect("addr"),
        fake.addr
    );
    let client = connect(&settings).await.expect("client from kubeconfig");
    assert_eq!(
        find_daemon_pod(&client, &settings).await.expect("pod"),
        "daemon-n1"
    );
    std::fs::remove_file(&path).expect("remove kubeconfig");

    let missing = load_config(&settings).await.expect_err("the file is gone");
    assert!(
        matches!(missing, KubeError::Kubeconfig { .. }),
        "{missing:?}"
    );
    assert!(missing.to_string().contains(&path.display().to_string()));
}
