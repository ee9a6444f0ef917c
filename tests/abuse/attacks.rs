//! The six attacks of issue 10's table, each against a fresh broker (rows
//! 7 and 8, on the limits added since, are in `sockets`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Row;
use crate::watch::{Broker, RECOVERY_LIMIT, Watch, signal};

/// RSS every attack must stay under (the state flood included): the
/// bound docs/RELIABILITY.md states.
pub const RSS_BOUND_KB: u64 = 160 * 1024;

/// CPU share above which the broker is spinning rather than working.
const BUSY_PERCENT: f64 = 80.0;

/// How big each attack is.
pub struct Sizes {
    pub short: bool,
    half_open: usize,
    chunked: usize,
    pub(crate) hold: Duration,
    fd_limit: u32,
    fd_connections: usize,
    distinct_emits: usize,
    big_posts: usize,
    big_frames: usize,
    signal_tries: usize,
    pub(crate) pub_flood: usize,
    pub(crate) endless_peers: usize,
}

impl Sizes {
    pub fn new(short: bool) -> Sizes {
        match short {
            false => Sizes {
                short,
                half_open: 1500,
                chunked: 8,
                hold: Duration::from_secs(18),
                fd_limit: 1024,
                fd_connections: 1500,
                distinct_emits: 65_536,
                big_posts: 300,
                big_frames: 8,
                signal_tries: 200,
                pub_flood: 1500,
                endless_peers: 8,
            },
            true => Sizes {
                short,
                half_open: 200,
                chunked: 8,
                hold: Duration::from_secs(3),
                fd_limit: 256,
                fd_connections: 300,
                distinct_emits: 2_000,
                big_posts: 20,
                big_frames: 8,
                signal_tries: 20,
                pub_flood: 300,
                endless_peers: 4,
            },
        }
    }
}

type Attack = fn(&Path, &Sizes) -> anyhow::Result<Row>;

pub const ALL: &[(u8, Attack)] = &[
    (1, half_open_http),
    (2, half_open_http_few_fds),
    (3, state_flood),
    (4, big_frames),
    (5, ipc_modes),
    (6, sigint_after_ready),
    (7, crate::sockets::pub_flood),
    (8, crate::sockets::endless_input),
];

pub(crate) const LOOPBACK: [&str; 6] = [
    "--emit",
    "tcp://127.0.0.1:0",
    "--pub",
    "tcp://127.0.0.1:0",
    "--query",
    "tcp://127.0.0.1:0",
];

pub(crate) fn http_broker(
    binary: &Path,
    sizes: &Sizes,
    prefix: Option<&str>,
) -> anyhow::Result<Broker> {
    let mut args = LOOPBACK.to_vec();
    args.extend(["--http", "127.0.0.1:0", "--http-open"]);
    // The short form holds its connections 3 s: the receiver's timeouts
    // (10 s by default) are shortened to match.
    let env: Vec<(&str, String)> = match sizes.short {
        true => vec![
            ("PTP_BROKER_HTTP__HEADER_TIMEOUT_MS", "1000".into()),
            ("PTP_BROKER_HTTP__BODY_TIMEOUT_MS", "1000".into()),
        ],
        false => Vec::new(),
    };
    Broker::start_with_env(binary, &args, prefix, &env)
}

/// The verdict every row shares: nothing lost, answering within the limit
/// after the attack, RSS under the bound, no busy loop.
pub(crate) fn verdict(m: &crate::watch::Measured) -> bool {
    m.lost == 0
        && m.recovery_ms <= RECOVERY_LIMIT.as_millis() as u64
        && m.peak_rss_kb <= RSS_BOUND_KB
        && m.cpu_percent < BUSY_PERCENT
}

/// Open `n` connections that send half a request, plus `chunked` chunked
/// bodies that never end; hold them; report how many the broker closed.
fn hold_half_open(http: &str, n: usize, chunked: usize, hold: Duration) -> (usize, usize) {
    let mut streams = Vec::new();
    for i in 0..n + chunked {
        let Ok(mut s) = TcpStream::connect(http) else {
            continue;
        };
        let head = match i < n {
            true => "POST /event HTTP/1.1\r\nHost: x\r\n".to_owned(),
            false => "POST /event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n".to_owned(),
        };
        if s.write_all(head.as_bytes()).is_ok() {
            let _ = s.set_read_timeout(Some(Duration::from_millis(1)));
            streams.push(s);
        }
    }
    let opened = streams.len();
    let end = Instant::now() + hold;
    let mut closed = vec![false; streams.len()];
    while Instant::now() < end {
        for (s, c) in streams.iter_mut().zip(closed.iter_mut()) {
            let mut buf = [0u8; 512];
            // EOF, an answer (408/400) or a reset: the broker dealt with it.
            *c = *c
                || match s.read(&mut buf) {
                    Ok(_) => true,
                    Err(e) => !matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                };
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    (opened, closed.iter().filter(|c| **c).count())
}

fn half_open_http(binary: &Path, sizes: &Sizes) -> anyhow::Result<Row> {
    let broker = http_broker(binary, sizes, None)?;
    let http = broker
        .http
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no http"))?;
    let mut watch = Watch::start(&broker)?;
    let logs_before = broker.log_lines.load(std::sync::atomic::Ordering::Relaxed);
    watch.attack_begins();
    let (opened, closed) = hold_half_open(&http, sizes.half_open, sizes.chunked, sizes.hold);
    watch.attack_ends();
    let health = http_health(&http);
    let m = watch.finish();
    let logs = broker.log_lines.load(std::sync::atomic::Ordering::Relaxed) - logs_before;
    Ok(Row {
        number: 1,
        attack: format!(
            "{} half-open HTTP requests + {} endless chunked bodies, held {} s",
            sizes.half_open,
            sizes.chunked,
            sizes.hold.as_secs()
        ),
        ok: verdict(&m) && health && closed == opened,
        notes: format!(
            "{closed} of {opened} closed by the broker; {logs} log lines; /health after: {}",
            ok_word(health)
        ),
        measured: m,
    })
}

fn half_open_http_few_fds(binary: &Path, sizes: &Sizes) -> anyhow::Result<Row> {
    let prefix = format!("ulimit -n {}", sizes.fd_limit);
    let broker = http_broker(binary, sizes, Some(&prefix))?;
    let http = broker
        .http
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no http"))?;
    let mut watch = Watch::start(&broker)?;
    watch.attack_begins();
    let (opened, closed) = hold_half_open(&http, sizes.fd_connections, sizes.chunked, sizes.hold);
    watch.attack_ends();
    let health = http_health(&http);
    let m = watch.finish();
    Ok(Row {
        number: 2,
        attack: format!(
            "row 1 with {} connections under `ulimit -n {}`",
            sizes.fd_connections, sizes.fd_limit
        ),
        ok: verdict(&m) && health,
        notes: format!(
            "{opened} connected, {closed} closed by the broker; /health after: {}",
            ok_word(health)
        ),
        measured: m,
    })
}

fn state_flood(binary: &Path, sizes: &Sizes) -> anyhow::Result<Row> {
    let broker = http_broker(binary, sizes, None)?;
    let http = broker
        .http
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no http"))?;
    let mut watch = Watch::start(&broker)?;
    watch.attack_begins();
    let client = client::Client::new(client::ClientConfig::with_endpoints(
        &broker.emit,
        &broker.publish,
        &broker.query,
    ))?;
    let flood = catalog::EventType::new("com.example.abuse.flood")?;
    let mut refused = 0;
    for i in 0..sizes.distinct_emits {
        let content =
            proto::Content::parse("1", Some(format!("/flood/{i}"))).map_err(anyhow::Error::msg)?;
        if client.emit(flood.clone(), content).is_err() {
            refused += 1;
        }
    }
    let address = "a".repeat(60_000);
    let mut big_refused = 0;
    for _ in 0..sizes.big_posts {
        let body = format!(
            r#"{{"specversion":"1.0","id":"x","source":"/s","type":"event.sync.ptp-status.ptp-state-change","time":"2024-01-01T00:00:00Z","data":{{"version":"1.0","values":[{{"ResourceAddress":"/{address}","data_type":"notification","value_type":"enumeration","value":"LOCKED"}}]}}}}"#
        );
        if post_status(&http, &body) != 204 {
            big_refused += 1;
        }
    }
    watch.attack_ends();
    // What the flood must not lock out: the state table, a new register.
    let state = client.current_all("");
    let registered = client.register(flood, |_| {}).is_ok();
    let m = watch.finish();
    let entries = state.as_ref().map_or(0, Vec::len);
    Ok(Row {
        number: 3,
        attack: format!(
            "{} emits with distinct resources + {} POSTs with 60 KB addresses",
            sizes.distinct_emits, sizes.big_posts
        ),
        ok: verdict(&m) && state.is_ok() && registered,
        notes: format!(
            "{refused} emits refused; {big_refused} big POSTs refused; `state` after: {} ({entries} entries); new register: {}",
            ok_word(state.is_ok()),
            ok_word(registered)
        ),
        measured: m,
    })
}

fn big_frames(binary: &Path, sizes: &Sizes) -> anyhow::Result<Row> {
    let broker = Broker::start(binary, &LOOPBACK, None)?;
    let emit = broker.emit.trim_start_matches("tcp://").to_owned();
    let mut watch = Watch::start(&broker)?;
    watch.attack_begins();
    let mut peers = Vec::new();
    for _ in 0..sizes.big_frames {
        if let Ok(s) = announce_big_frame(&emit, 31 * 1024 * 1024) {
            peers.push(s);
        }
    }
    let dropped = peers.iter_mut().map(stream_closed).filter(|c| *c).count();
    watch.attack_ends();
    drop(peers);
    let m = watch.finish();
    Ok(Row {
        number: 4,
        attack: format!(
            "{} connections each sending one 31 MB ZMQ frame",
            sizes.big_frames
        ),
        ok: verdict(&m),
        notes: format!("{dropped} of {} dropped by the broker", sizes.big_frames),
        measured: m,
    })
}

/// ZMTP 3.0 greeting (NULL), READY as a PUSH, then a long frame header of
/// `len` bytes and as much body as the broker reads (up to `len`).
fn announce_big_frame(addr: &str, len: u64) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(&crate::sockets::zmtp_hello(b"PUSH"))?;
    let mut header = vec![0x02];
    header.extend_from_slice(&len.to_be_bytes());
    s.write_all(&header)?;
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0u64;
    while sent < len {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len() as u64;
    }
    Ok(s)
}

pub(crate) fn stream_closed(s: &mut TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn ipc_modes(binary: &Path, _sizes: &Sizes) -> anyhow::Result<Row> {
    let dir = std::env::temp_dir().join(format!("ptp-abuse-ipc-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = |n: &str| dir.join(n);
    let endpoints: Vec<String> = ["emit", "pub", "query"]
        .iter()
        .map(|n| format!("ipc://{}", path(n).display()))
        .collect();
    let args = [
        "--emit",
        &endpoints[0],
        "--pub",
        &endpoints[1],
        "--query",
        &endpoints[2],
    ];
    let mut broker = Broker::start(binary, &args, Some("umask 000"))?;
    let watch = Watch::start(&broker)?;
    let modes: Vec<String> = ["emit", "pub", "query"]
        .iter()
        .map(|n| match std::fs::metadata(path(n)) {
            Ok(m) if m.file_type().is_socket() => format!("{:o}", m.permissions().mode() & 0o777),
            Ok(_) => "not a socket".into(),
            Err(_) => "missing".into(),
        })
        .collect();
    let m = watch.finish();
    let clean = broker.stop();
    let left: Vec<&str> = ["emit", "pub", "query"]
        .into_iter()
        .filter(|n| path(n).exists())
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Row {
        number: 5,
        attack: "ipc endpoints under umask 000, then SIGTERM".into(),
        ok: modes.iter().all(|m| m == "660") && left.is_empty() && clean && m.lost == 0,
        notes: format!(
            "modes {} (want 660); files left after SIGTERM: {}",
            modes.join("/"),
            if left.is_empty() {
                "none".to_owned()
            } else {
                left.join(", ")
            }
        ),
        measured: m,
    })
}

fn sigint_after_ready(binary: &Path, sizes: &Sizes) -> anyhow::Result<Row> {
    let mut deaths = 0;
    for _ in 0..sizes.signal_tries {
        let mut broker = Broker::start(binary, &LOOPBACK, None)?;
        signal(broker.pid(), "INT");
        if !broker.stop() {
            deaths += 1;
        }
    }
    Ok(Row {
        number: 6,
        attack: format!(
            "SIGINT right after the ready line, {} times",
            sizes.signal_tries
        ),
        ok: deaths == 0,
        notes: format!("{deaths} of {} did not exit 0", sizes.signal_tries),
        measured: Default::default(),
    })
}

fn post_status(http: &str, body: &str) -> u16 {
    let Ok(mut s) = TcpStream::connect(http) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!(
        "POST /event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn http_health(http: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(http) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

pub(crate) fn ok_word(ok: bool) -> &'static str {
    if ok { "ok" } else { "FAILED" }
}
