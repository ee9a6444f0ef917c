//! HTTP receiver conformance: a real `Server` on port 0, spoken to over HTTP
//! (reqwest, and raw TCP where a client library would smooth the bytes).
//!
//! Good payloads of both vendors must answer 204 and be in the state table;
//! every bad request must get its status code, be counted, and leave the
//! state untouched; a good event after bad ones still gets through.

mod auth;
mod fuzz_finds;
mod payloads;

use std::time::Duration;

use broker::{Broker, Config, Server};
use proto::query::Selector;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use payloads::*;

/// A broker serving in this process on free ports; stops when dropped.
struct Running {
    broker: Broker,
    http: String,
    /// The path pushes are accepted on: `/event` in open mode, the secret
    /// callback's path when following an upstream.
    push_path: String,
    client: reqwest::Client,
    _stop: tokio_util::sync::DropGuard,
}

fn config_on_free_ports() -> Config {
    let mut config = Config {
        emit: "tcp://127.0.0.1:0".into(),
        publish: "tcp://127.0.0.1:0".into(),
        query: "tcp://127.0.0.1:0".into(),
        ..Config::default()
    };
    config.http.listen = "127.0.0.1:0".into();
    config.api.listen = "127.0.0.1:0".into();
    config.monitor.listen = "127.0.0.1:0".into();
    config
}

/// The receiver in open mode (`http.open`, no upstream): conformance of the
/// request handling itself, on `POST /event`.
async fn start() -> Running {
    let mut config = config_on_free_ports();
    config.http.open = true;
    start_with(config).await
}

async fn start_with(config: Config) -> Running {
    config.validate().expect("a valid configuration");
    let server = Server::bind(config).await.expect("bind");
    let http = server.ready().http.clone().expect("http enabled");
    let push_path = match server.callback() {
        Some(callback) => {
            let url = reqwest::Url::parse(callback).expect("callback URL");
            url.path().to_owned()
        }
        None => "/event".to_owned(),
    };
    let broker = server.broker().clone();
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    Running {
        broker,
        http,
        push_path,
        client: {
            broker::install_tls();
            reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client")
        },
        _stop: shutdown.drop_guard(),
    }
}

impl Running {
    async fn post(&self, content_type: Option<&str>, body: &str) -> (StatusCode, String) {
        self.post_to(&self.push_path.clone(), content_type, body)
            .await
    }

    async fn post_to(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> (StatusCode, String) {
        let mut request = self
            .client
            .post(format!("http://{}{path}", self.http))
            .body(body.to_owned());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        answer(request).await
    }

    fn counter(&self, name: &str) -> u64 {
        self.broker.stats().snapshot()[name]
    }

    /// The latest value stored for `event_type` at `resource`.
    fn stored(&self, event_type: &str, resource: &str) -> Option<String> {
        let events = self
            .broker
            .snapshot(&Selector::new(&[event_type.to_owned()], "").expect("selector"))
            .events;
        events
            .iter()
            .find(|e| e.resource_address() == resource)
            .map(|e| e.data.values[0].value.clone())
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, String) {
    let response = request
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("answer");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn real_payloads_of_both_vendors_are_stored() {
    let b = start().await;
    let json = Some("application/json");
    let cases: [(Option<&str>, &str, &str, &str, &str); 10] = [
        (
            json,
            REDHAT_V2,
            PTP,
            "/cluster/node/worker-0/ens1f0/master",
            "LOCKED",
        ),
        (
            json,
            STARLINGX_V2,
            SYNC,
            "/././sync/sync-status/sync-state",
            "HOLDOVER",
        ),
        (
            json,
            STARLINGX_KEYED,
            CLASS,
            "/././sync/ptp-status/clock-class",
            "6",
        ),
        (
            json,
            V1_FIELDS,
            OS,
            "/cluster/node/n1/CLOCK_REALTIME",
            "FREERUN",
        ),
        (
            Some("application/cloudevents+json; charset=utf-8"),
            CE_JSON,
            GNSS,
            "/cluster/node/n1/ens2f0",
            "LOCKED",
        ),
        (
            Some("application/cloudevents-batch+json"),
            BATCH,
            SYNCE,
            "/cluster/node/n1/ens3f0",
            "LOCKED",
        ),
        (
            None,
            NO_CONTENT_TYPE,
            SYNC,
            "/cluster/node/n2/sync",
            "FREERUN",
        ),
        (
            Some("Application/JSON"),
            LOWER_CASE_STATE,
            PTP,
            "/cluster/node/n3/ens1f0/master",
            "HOLDOVER",
        ),
        (
            json,
            SDK_GO_EVENT,
            PTP,
            "/cluster/node/n4/ens1f0/master",
            "FREERUN",
        ),
        (
            json,
            SDK_GO_OLD_NAMES,
            OS,
            "/cluster/node/n4/CLOCK_REALTIME",
            "LOCKED",
        ),
    ];
    for (content_type, body, event_type, resource, want) in cases {
        let (status, text) = b.post(content_type, body).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{event_type}: {text}");
        assert_eq!(
            b.stored(event_type, resource).as_deref(),
            Some(want),
            "{event_type} {resource}"
        );
    }
    // The keyed form and the batch carried two events each.
    assert_eq!(
        b.stored(OS, "/././sync/sync-status/os-clock-sync-state")
            .as_deref(),
        Some("LOCKED")
    );
    assert_eq!(
        b.stored(CLASS, "/cluster/node/n1/ens3f0").as_deref(),
        Some("7")
    );
    assert_eq!(b.counter("accepted_http"), 12);
    assert_eq!(b.counter("rejected_http"), 0);
}

#[tokio::test]
async fn binary_mode_with_ce_headers_is_stored() {
    let b = start().await;
    for (version, id, value) in [("1.0", "b-1", "HOLDOVER"), ("0.3", "b-2", "FREERUN")] {
        let request = b
            .client
            .post(format!("http://{}/event", b.http))
            .header("ce-specversion", version)
            .header("ce-id", id)
            .header("ce-type", OS)
            .header("ce-source", "/sync/sync-status/os-clock-sync-state")
            .header("ce-time", "2022-08-12T19:20:54896244Z")
            .header("content-type", "application/json")
            .body(binary_data(value));
        let (status, text) = answer(request).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{version}: {text}");
        assert_eq!(
            b.stored(OS, "/cluster/node/n1/CLOCK_REALTIME").as_deref(),
            Some(value)
        );
    }
    // A binary event without ce-id is refused.
    let request = b
        .client
        .post(format!("http://{}/event", b.http))
        .header("ce-specversion", "1.0")
        .header("ce-type", OS)
        .header("ce-source", "/x")
        .body(binary_data("LOCKED"));
    let (status, text) = answer(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("ce-id"), "{text}");
    assert_eq!(b.counter("accepted_http"), 2);
    assert_eq!(b.counter("rejected_http"), 1);
}

#[tokio::test]
async fn bad_requests_get_their_status_and_are_counted() {
    let b = start().await;
    let json = Some("application/json");
    let cases: Vec<(Option<&str>, String, StatusCode, &str)> = vec![
        (json, "{".into(), StatusCode::BAD_REQUEST, "malformed JSON"),
        (
            json,
            GARBAGE.into(),
            StatusCode::BAD_REQUEST,
            "malformed JSON",
        ),
        (json, MISSING_ID.into(), StatusCode::BAD_REQUEST, "\"id\""),
        (
            json,
            UNKNOWN_TYPE.into(),
            StatusCode::BAD_REQUEST,
            "unknown event type",
        ),
        (
            json,
            UNKNOWN_ORAN.into(),
            StatusCode::BAD_REQUEST,
            "unknown O-RAN event type",
        ),
        (
            json,
            EMPTY_VALUES.into(),
            StatusCode::BAD_REQUEST,
            "data.values",
        ),
        (json, BAD_TIME.into(), StatusCode::BAD_REQUEST, "time"),
        (json, BAD_BATCH.into(), StatusCode::BAD_REQUEST, "data_type"),
        (json, "[]".into(), StatusCode::BAD_REQUEST, "no event"),
        (json, "\"LOCKED\"".into(), StatusCode::BAD_REQUEST, "object"),
        (
            Some("text/plain"),
            REDHAT_V2.into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            REDHAT_V2.into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported",
        ),
        (
            json,
            format!("{REDHAT_V2}{}", " ".repeat(70_000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than 65536",
        ),
    ];
    let mut refused = 0;
    for (content_type, body, want, reason) in &cases {
        let (status, text) = b.post(*content_type, body).await;
        refused += 1;
        assert_eq!(status, *want, "{}: {text}", &body[..body.len().min(40)]);
        assert!(text.contains(reason), "want {reason:?} in {text:?}");
        assert!(!text.contains('\n'), "one line: {text:?}");
    }
    // Wrong path, wrong method.
    let (status, _) = answer(b.client.post(format!("http://{}/nope", b.http)).body("{}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = b
        .client
        .get(format!("http://{}/event", b.http))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    refused += 2;
    // A chunked body without a length that grows past max_body.
    assert_eq!(huge_chunked_post(&b.http).await, 413);
    refused += 1;
    assert_eq!(b.counter("rejected_http"), refused);
    // Nothing was stored: the bad batch's good first event included.
    assert_eq!(b.broker.seq(), 0);
    assert_eq!(b.counter("accepted_http"), 0);

    // An empty POST (the v1 endpoint check) is fine and stores nothing.
    let (status, _) = b.post(json, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(b.broker.seq(), 0);
    // Health.
    let (status, text) = answer(b.client.get(format!("http://{}/health", b.http))).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));

    // A good event after all that still gets through.
    let (status, text) = b.post(json, REDHAT_V2).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    assert_eq!(b.counter("accepted_http"), 1);
    assert_eq!(b.broker.seq(), 1);
    assert_eq!(b.counter("rejected_http"), refused);
}

#[tokio::test]
async fn bad_values_are_refused_naming_what_is_allowed() {
    let b = start().await;
    let json = Some("application/json");
    let state = |from: &str, to: &str| REDHAT_V2.replace(from, to);
    let cases: Vec<(String, &str)> = vec![
        (
            state("\"LOCKED\"", "\"WOBBLY\""),
            "\"WOBBLY\" is not a PTP_LOCK_STATE state; allowed: LOCKED, HOLDOVER, FREERUN",
        ),
        (
            state("\"LOCKED\"", "\"sleepy\""),
            "\"sleepy\" is not a PTP_LOCK_STATE state",
        ),
        (
            state("\"LOCKED\"", "\"LOCKED\\u202e\\u0000\""),
            "control or formatting character",
        ),
        (
            state("\"-3\"", "\"LOCKED\""),
            "\"LOCKED\" is not a decimal number",
        ),
        (
            STARLINGX_KEYED.replace("\"value\": \"6\"", "\"value\": \"999\""),
            "\"999\" is not a clock class: an integer 0–255",
        ),
        (
            STARLINGX_KEYED.replace("\"value\": \"6\"", "\"value\": \"LOCKED\""),
            "is not a clock class",
        ),
        (
            V1_FIELDS.replace("\"Freerun\"", "\"42\""),
            "\"42\" is not a OS_CLOCK_SYNC state",
        ),
        (
            state(
                "/cluster/node/worker-0/ens1f0/master\",\"data_type\":\"notification",
                &format!("/{}\",\"data_type\":\"notification", "a".repeat(600)),
            ),
            "at most 512 allowed",
        ),
    ];
    for (body, want) in &cases {
        let (status, text) = b.post(json, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert!(text.contains(want), "want {want:?} in {text:?}");
    }
    assert_eq!(b.broker.seq(), 0, "nothing stored");
    assert_eq!(b.counter("rejected_value"), cases.len() as u64);
    assert_eq!(b.counter("rejected_http"), cases.len() as u64);
    let (status, _) = b.post(json, REDHAT_V2).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn raw_garbage_on_the_socket_does_not_hurt() {
    let b = start().await;
    for junk in [
        &b"\x00\x01\x02\xff\xfe garbage\r\n\r\n"[..],
        b"POST /event HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n{}",
        b"POST /event HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ] {
        if let Ok(mut s) = TcpStream::connect(&b.http).await {
            let _ = s.write_all(junk).await;
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut sink)).await;
        }
    }
    let (status, text) = b.post(Some("application/json"), REDHAT_V2).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
}

/// POST a chunked body that never ends on its own (1 MiB at most) and
/// return the status code the receiver answers with.
async fn huge_chunked_post(addr: &str) -> u16 {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let head = "POST /event HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        writer.write_all(head.as_bytes()).await?;
        let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
        for _ in 0..64 {
            writer.write_all(chunk.as_bytes()).await?;
        }
        writer.write_all(b"0\r\n\r\n").await
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    // Read until the status line is complete; the server may close early.
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    writing.abort();
    let line = String::from_utf8_lossy(&answer);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}
