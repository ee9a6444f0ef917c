//! Rows 7 and 8: the socket limits added after the table — the PUB
//! connection cap and handshake deadline, the bound on a multipart ZeroMQ
//! message, and the HTTP write deadline.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Row;
use crate::attacks::{LOOPBACK, Sizes, http_broker, ok_word, stream_closed, verdict};
use crate::watch::{Broker, Watch};

/// Row 7: a PUB flood in two halves, with `max_subscribers` at half the
/// flood: first subscribers that complete the handshake, subscribe to
/// everything and never read (they fill the cap and their queues), then
/// connections that never say a word. The ones over the cap are closed at
/// once, the silent ones in any case by the 2 s handshake deadline; the
/// good subscriber keeps getting everything, RSS stays bounded, and a new
/// client can register once the flood is gone.
pub fn pub_flood(binary: &Path, sizes: &Sizes) -> anyhow::Result<Row> {
    let cap = (sizes.pub_flood / 2).to_string();
    let env = [("PTP_BROKER_MAX_SUBSCRIBERS", cap.clone())];
    let broker = Broker::start_with_env(binary, &LOOPBACK, None, &env)?;
    let publish = broker.publish.trim_start_matches("tcp://").to_owned();
    let mut watch = Watch::start(&broker)?;
    watch.attack_begins();
    let half = sizes.pub_flood / 2;
    let deaf: Vec<TcpStream> = (0..half)
        .filter_map(|_| deaf_subscriber(&publish).ok())
        .collect();
    let mut silent: Vec<TcpStream> = (0..sizes.pub_flood - half)
        .filter_map(|_| TcpStream::connect(&publish).ok())
        .collect();
    let opened = deaf.len() + silent.len();
    // Past the handshake deadline, every silent one must be gone.
    std::thread::sleep(Duration::from_secs(3));
    let closed = silent.iter_mut().map(stream_closed).filter(|c| *c).count();
    // The refusals are copied into the counters once a heartbeat.
    std::thread::sleep(Duration::from_millis(1100));
    watch.attack_ends();
    let stats = client::Client::new(client::ClientConfig::with_endpoints(
        &broker.emit,
        &broker.publish,
        &broker.query,
    ))?
    .broker_stats()
    .unwrap_or_default();
    let refused = stats.get("pub_connections_refused").copied().unwrap_or(0);
    drop(deaf);
    drop(silent);
    let client = client::Client::new(client::ClientConfig::with_endpoints(
        &broker.emit,
        &broker.publish,
        &broker.query,
    ))?;
    let registered = client.register(catalog::OS_CLOCK_SYNC, |_| {}).is_ok();
    let m = watch.finish();
    Ok(Row {
        number: 7,
        attack: format!(
            "{} PUB connections with `max_subscribers` {cap}: half subscribe and never read, half never handshake",
            sizes.pub_flood
        ),
        ok: verdict(&m) && closed == sizes.pub_flood - half && registered && refused > 0,
        notes: format!(
            "{opened} connected; {closed} of {} silent ones closed by the broker; {refused} refused at once over the cap; new register after: {}",
            sizes.pub_flood - half,
            ok_word(registered)
        ),
        measured: m,
    })
}

/// A SUB that completes the handshake, subscribes to everything, and never
/// reads a byte.
fn deaf_subscriber(addr: &str) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    s.write_all(&zmtp_hello(b"SUB"))?;
    // ZMTP 3.0 subscribe: one frame, 0x01 then the (empty) prefix.
    s.write_all(&[0x00, 0x01, 0x01])?;
    Ok(s)
}

/// Greeting (NULL) and READY as `kind`: what every raw ZMTP peer of the
/// attacks sends first.
pub fn zmtp_hello(kind: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0];
    out.extend_from_slice(b"NULL");
    out.resize(64, 0);
    let mut ready = vec![5];
    ready.extend_from_slice(b"READY");
    ready.push(11);
    ready.extend_from_slice(b"Socket-Type");
    ready.extend_from_slice(&(kind.len() as u32).to_be_bytes());
    ready.extend_from_slice(kind);
    out.extend_from_slice(&[0x04, ready.len() as u8]);
    out.extend_from_slice(&ready);
    out
}

/// Row 8: peers that never end their input — ZeroMQ frames flagged "more"
/// forever on emit and query, and HTTP requests pipelined by a peer that
/// never reads an answer.
pub fn endless_input(binary: &Path, sizes: &Sizes) -> anyhow::Result<Row> {
    let broker = http_broker(binary, sizes, None)?;
    let http = broker
        .http
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no http"))?;
    let mut watch = Watch::start(&broker)?;
    watch.attack_begins();
    let targets: Vec<(String, &'static [u8])> = vec![
        (broker.emit.trim_start_matches("tcp://").to_owned(), b"PUSH"),
        (
            broker.query.trim_start_matches("tcp://").to_owned(),
            b"DEALER",
        ),
    ];
    let peers: Vec<_> = (0..sizes.endless_peers)
        .map(|i| {
            let (addr, kind) = targets[i % targets.len()].clone();
            std::thread::spawn(move || endless_more_frames(&addr, kind))
        })
        .collect();
    let pipeliner = std::thread::spawn({
        let http = http.clone();
        let hold = sizes.hold;
        move || pipeline_without_reading(&http, hold)
    });
    let sent: Vec<Option<u64>> = peers.into_iter().map(|p| p.join().ok().flatten()).collect();
    let http_closed = pipeliner.join().unwrap_or(false);
    watch.attack_ends();
    let m = watch.finish();
    let dropped = sent.iter().filter(|s| s.is_some()).count();
    let most = sent.iter().flatten().max().copied().unwrap_or(0);
    Ok(Row {
        number: 8,
        attack: format!(
            "{} peers sending ZeroMQ frames flagged \"more\" forever (emit, query) + an HTTP peer pipelining requests and never reading",
            sizes.endless_peers
        ),
        ok: verdict(&m) && dropped == sent.len() && http_closed,
        notes: format!(
            "{dropped} of {} ZeroMQ peers dropped (each wrote at most {} KB, socket buffers included); HTTP peer closed by the broker: {}",
            sent.len(),
            most / 1024,
            ok_word(http_closed)
        ),
        measured: m,
    })
}

/// Handshake as `kind`, then 8 KB frames flagged "more" until the broker
/// drops us; the bytes it took, or `None` if it took 64 MB (not bounded).
fn endless_more_frames(addr: &str, kind: &[u8]) -> Option<u64> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(&zmtp_hello(kind)).ok()?;
    let mut frame = vec![0x03];
    frame.extend_from_slice(&8192u64.to_be_bytes());
    frame.extend_from_slice(&[b'x'; 8192]);
    let mut sent = 0u64;
    while sent < 64 << 20 {
        if s.write_all(&frame).is_err() {
            return Some(sent);
        }
        sent += frame.len() as u64;
    }
    None
}

/// Pipeline `GET /health` requests and read nothing; true if the broker
/// closed the connection within `hold` plus its write deadline.
fn pipeline_without_reading(http: &str, hold: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect(http) else {
        return false;
    };
    let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
    let end = Instant::now() + hold;
    // Write until the broker stops reading (its answers fill our buffer).
    while Instant::now() < end && s.write_all(&request).is_ok() {}
    // Then wait for it to give up on us: the read side sees the end.
    let deadline = Instant::now() + hold;
    while Instant::now() < deadline {
        let _ = s.set_write_timeout(Some(Duration::from_millis(100)));
        match s.write(b"x") {
            Err(e)
                if e.kind() == std::io::ErrorKind::BrokenPipe
                    || e.kind() == std::io::ErrorKind::ConnectionReset =>
            {
                return true;
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    false
}
