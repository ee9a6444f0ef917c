//! Writes the fuzzers' seed corpora from the real payloads in
//! `tests/fuzz/corpus/cloudevent/` (Red Hat cloud-event-proxy, StarlingX
//! ptp-notification, sdk-go; taken from proto's tests): each payload as a
//! frame, a binary-mode request, an HTTP request and an emit query, plus
//! a libzmq-style ZMTP handshake. `tests/fuzz/run.sh` runs it first;
//! what the fuzzers find is added to the same directories.

use std::path::PathBuf;

use proto::frame::WireEvent;
use proto::query::{self, Request};

/// The secret path the `http` target's receiver uses.
const SECRET: &str = "/event/0123456789abcdef0123456789abcdef";

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "tests/fuzz/corpus".into()),
    );
    let json = root.join("cloudevent");
    let mut payloads = Vec::new();
    for entry in std::fs::read_dir(&json)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("seed-") && name.ends_with(".json") {
            payloads.push((
                name.trim_end_matches(".json").to_owned(),
                std::fs::read(&path)?,
            ));
        }
    }
    payloads.sort();
    let mut written = 0;
    let mut put = |target: &str, name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)?;
        written += 1;
        Ok(())
    };
    for (name, body) in &payloads {
        let text = String::from_utf8_lossy(body);
        for (mode, path) in [(0u8, SECRET), (1, "/event")] {
            let mut request = vec![mode];
            request.extend_from_slice(
                format!(
                    "POST {path} HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                    body.len()
                )
                .as_bytes(),
            );
            put("http", &format!("{name}-{mode}"), &request)?;
        }
        let Ok(events) = proto::cloudevent::parse_structured(body) else {
            continue;
        };
        for (i, event) in events.iter().enumerate() {
            let frames = proto::frame::encode_event(event)?;
            let mut frame = vec![u8::try_from(frames.topic.len())?];
            frame.extend_from_slice(&frames.topic);
            frame.extend_from_slice(&frames.body);
            put("frame", &format!("{name}-{i}"), &frame)?;
            let emit = Request::Emit {
                event: Box::new(WireEvent::from(event)),
            };
            put(
                "query",
                &format!("{name}-{i}"),
                &query::encode_request(&emit),
            )?;
            let data = serde_json::to_vec(&proto::cloudevent::to_json(event, false)["data"])?;
            let mut binary = format!(
                "ce-specversion: 1.0\nce-id: {}\nce-type: {}\nce-source: {}\nce-time: 2024-09-02T13:49:07Z\n\n",
                event.id, event.event_type, event.source
            )
            .into_bytes();
            binary.extend_from_slice(&data);
            put("cloudevent_binary", &format!("{name}-{i}"), &binary)?;
        }
    }
    for (i, request) in [
        Request::State {
            types: vec!["OS_CLOCK_SYNC".into()],
            prefix: String::new(),
            after: 0,
        },
        Request::State {
            types: vec![],
            prefix: "event.sync.".into(),
            after: 12,
        },
        Request::Sync {
            token: "t-1".into(),
        },
        Request::Stats,
    ]
    .iter()
    .enumerate()
    {
        put(
            "query",
            &format!("seed-request-{i}"),
            &query::encode_request(request),
        )?;
    }
    put(
        "http",
        "seed-health",
        b"\x00GET /health HTTP/1.1\r\nHost: node\r\n\r\n",
    )?;
    put(
        "http",
        "seed-chunked",
        b"\x00POST /event/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: node\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    )?;
    put("zmtp", "seed-sub-handshake", &zmtp_handshake())?;
    println!("wrote {written} seeds under {}", root.display());
    Ok(())
}

/// What a libzmq SUB sends: greeting (NULL), READY, SUBSCRIBE "", PING.
fn zmtp_handshake() -> Vec<u8> {
    let mut out = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0];
    out.extend_from_slice(b"NULL");
    out.resize(64, 0);
    let mut ready = vec![5];
    ready.extend_from_slice(b"READY");
    ready.push(11);
    ready.extend_from_slice(b"Socket-Type");
    ready.extend_from_slice(&3u32.to_be_bytes());
    ready.extend_from_slice(b"SUB");
    command(&mut out, &ready);
    let mut subscribe = vec![9];
    subscribe.extend_from_slice(b"SUBSCRIBE");
    command(&mut out, &subscribe);
    let mut ping = vec![4];
    ping.extend_from_slice(b"PING");
    ping.extend_from_slice(&[0, 10, b'c', b't', b'x']);
    command(&mut out, &ping);
    out
}

fn command(out: &mut Vec<u8>, body: &[u8]) {
    out.push(0x04);
    out.push(u8::try_from(body.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(body);
}
