//! Who may push: only the upstream, on the secret callback this run
//! registered; nobody at all when no upstream is followed (unless the
//! operator opens the receiver on purpose); nobody outside `http.allow`.

use super::*;

/// Follows an upstream that is not there: the manager retries in the
/// background, the receiver serves, and `Server::callback` names the secret.
fn following() -> Config {
    let mut config = config_on_free_ports();
    config.upstream.url = Some(format!(
        "http://127.0.0.1:{}/api/ocloudNotifications/v2",
        unused_port()
    ));
    config.upstream.node = Some("worker-0".into());
    config.upstream.health_interval_ms = 60_000;
    config
}

fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test]
async fn only_the_secret_callback_takes_upstream_pushes() {
    let b = start_with(following()).await;
    let secret = b
        .push_path
        .strip_prefix("/event/")
        .expect("callback under /event/")
        .to_owned();
    assert_eq!(secret.len(), 32, "128 bits in hex: {secret}");
    let json = Some("application/json");
    // The seed's address, a made-up secret, one a byte short, the prefix of
    // the real one: refused, counted, nothing stored.
    let forged = [
        "/event".to_owned(),
        "/event/".to_owned(),
        format!("/event/{}", "0".repeat(32)),
        format!("/event/{}", &secret[..31]),
        format!("/event/{secret}/x"),
    ];
    for path in &forged {
        let (status, text) = b.post_to(path, json, REDHAT_V2).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {text}");
        assert!(text.contains("not the callback"), "{text}");
    }
    assert_eq!(b.broker.seq(), 0);
    assert_eq!(b.counter("rejected_http_unauthorized"), forged.len() as u64);
    // The upstream's push on the registered callback is taken.
    let (status, text) = b.post(json, REDHAT_V2).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    assert_eq!(
        b.stored(PTP, "/cluster/node/worker-0/ens1f0/master")
            .as_deref(),
        Some("LOCKED")
    );
    let events = b
        .broker
        .snapshot(&Selector::new(&[], "").expect("all"))
        .events;
    assert_eq!(events[0].origin(), proto::Origin::Upstream);
    // A forged FREERUN after it changes nothing.
    let freerun = REDHAT_V2.replace("\"LOCKED\"", "\"FREERUN\"");
    let (status, _) = b.post_to("/event", json, &freerun).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.stored(PTP, "/cluster/node/worker-0/ens1f0/master")
            .as_deref(),
        Some("LOCKED")
    );
}

#[tokio::test]
async fn with_no_upstream_nothing_listens_unless_opened() {
    let server = Server::bind(config_on_free_ports()).await.expect("bind");
    assert_eq!(
        server.ready().http,
        None,
        "no upstream and not open: no receiver"
    );
    assert!(!server.ready().to_string().contains("http="));
}

#[tokio::test]
async fn the_allow_list_refuses_other_networks() {
    let mut config = config_on_free_ports();
    config.http.open = true;
    config.http.allow = vec!["10.0.0.0/8".into()];
    let b = start_with(config).await;
    let (status, text) = b.post(Some("application/json"), REDHAT_V2).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("127.0.0.1 is not in http.allow"), "{text}");
    assert_eq!(b.broker.seq(), 0);
    assert_eq!(b.counter("rejected_http_unauthorized"), 1);

    let mut config = config_on_free_ports();
    config.http.open = true;
    config.http.allow = vec!["127.0.0.0/8".into(), "::1".into()];
    let b = start_with(config).await;
    let (status, text) = b.post(Some("application/json"), REDHAT_V2).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
}
