//! An `https://` webhook with a private CA (`ca_file`): delivered when the
//! CA is given, refused by certificate verification when it is not. The
//! server is rustls with a certificate rcgen signs for `localhost`.

use std::sync::Arc;
use std::time::Duration;

use broker::Config;
use proto::subscription::Spec;
use proto::{Content, Event, Origin};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_util::sync::CancellationToken;

/// A TLS server on 127.0.0.1 that answers 204 to each request and sends
/// the request bodies it read; and the CA's PEM.
async fn tls_server() -> (u16, String, mpsc::UnboundedReceiver<String>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = tls.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if body.len() < len {
                        continue;
                    }
                    let _ = tx.send(body[..len].to_owned());
                    let _ = tls.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
                    buf.clear();
                }
            });
        }
    });
    (port, ca_cert.pem(), rx)
}

async fn broker_with(spec: Spec) -> (broker::Broker, CancellationToken) {
    let dir = std::env::temp_dir().join(format!("ptp-broker-tls-{}", std::process::id()));
    let mut config = Config {
        emit: "tcp://127.0.0.1:0".into(),
        publish: "tcp://127.0.0.1:0".into(),
        query: "tcp://127.0.0.1:0".into(),
        state_dir: dir.display().to_string(),
        subscription: vec![spec],
        ..Config::default()
    };
    config.api.enabled = false;
    config.monitor.enabled = false;
    let server = broker::Server::bind(config).await.expect("bind");
    let broker = server.broker().clone();
    let stop = CancellationToken::new();
    tokio::spawn(server.run(stop.clone()));
    (broker, stop)
}

fn locked() -> Event {
    Event::synthetic(
        catalog::OS_CLOCK_SYNC.into(),
        Content::parse("LOCKED", None).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_webhook_with_a_private_ca_gets_events_only_with_ca_file() {
    let (port, ca_pem, mut bodies) = tls_server().await;
    let ca_path =
        std::env::temp_dir().join(format!("ptp-broker-tls-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_path, &ca_pem).unwrap();
    let url = format!("https://localhost:{port}/hook");

    // With the CA: delivered.
    let (broker, stop) = broker_with(Spec {
        id: Some("tls".into()),
        uri: url.clone(),
        ca_file: Some(ca_path.display().to_string()),
        ..Spec::default()
    })
    .await;
    broker.accept(locked(), Origin::Synthetic).unwrap();
    let body = tokio::time::timeout(Duration::from_secs(20), bodies.recv())
        .await
        .expect("delivered within 20 s")
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["data"]["values"][0]["value"], "LOCKED");
    assert_eq!(json["seq"], 1);
    stop.cancel();

    // Without it: the certificate is refused, nothing arrives, it fails.
    let (broker, stop) = broker_with(Spec {
        id: Some("untrusted".into()),
        uri: url,
        retry: Some(0),
        ..Spec::default()
    })
    .await;
    broker.accept(locked(), Origin::Synthetic).unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(3), bodies.recv())
            .await
            .is_err(),
        "an untrusted certificate must not get the event"
    );
    stop.cancel();
    let _ = std::fs::remove_file(&ca_path);
}
