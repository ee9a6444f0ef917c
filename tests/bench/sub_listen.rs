//! The two `bench-sub` modes that listen instead of connecting, one
//! destination per process: an HTTP webhook (`--mode http`), which the
//! direct fan-out and the broker's webhook sink POST to, and a JSON-RPC
//! receiver (`--mode jsonrpc`), which the broker's JSON-RPC sink connects
//! to. Both bind `--connect` (port 0: any), print the address in the ready
//! line, count every event of every connection in one tally and stop as the
//! socket modes do.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::wire::control::{Control, say, serve_driver};
use crate::wire::load::{Tally, Verify};
use crate::{Args, Mode, wire};

/// How one connection is served.
#[derive(Clone, Copy)]
enum Serve {
    /// HTTP/1.1 POSTs, each answered 204.
    Webhook { stamps: bool },
    /// JSON-RPC 2.0 calls, one per line; with `sync`, each answered.
    JsonRpc {
        stamps: bool,
        sync: bool,
        verify: Verify,
    },
}

/// Bind, say `ready http=ADDR` or `ready jsonrpc=ADDR`, serve every
/// connection until the measured range is in (or the drain timed out).
pub async fn run(args: &Args, ctl: &Arc<Control>) -> anyhow::Result<Vec<Tally>> {
    if args.sockets != 1 {
        bail!("http and jsonrpc modes have one destination per process");
    }
    let (serve, label) = match args.mode {
        Mode::Http => (
            Serve::Webhook {
                stamps: args.stamps,
            },
            "http",
        ),
        Mode::Jsonrpc => (
            Serve::JsonRpc {
                stamps: args.stamps,
                sync: args.sync,
                verify: args.verify,
            },
            "jsonrpc",
        ),
        Mode::Zmq | Mode::Nats | Mode::Tcp => bail!("not an HTTP or JSON-RPC mode"),
    };
    let listener = tokio::net::TcpListener::bind(&args.connect).await?;
    let tally = Arc::new(Mutex::new(Tally::new(args.times)));
    say(&format!("ready {label}={}", listener.local_addr()?));
    serve_driver(ctl, 1);
    let accept_tally = Arc::clone(&tally);
    let accept_ctl = Arc::clone(ctl);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let (tally, ctl) = (Arc::clone(&accept_tally), Arc::clone(&accept_ctl));
            match serve {
                Serve::Webhook { stamps } => {
                    tokio::spawn(serve_webhook(stream, tally, ctl, stamps));
                }
                Serve::JsonRpc {
                    stamps,
                    sync,
                    verify,
                } => {
                    let check = move |line: &[u8]| match verify {
                        Verify::Full => check_call(line, stamps, sync),
                        Verify::Seq => scan_call(line, stamps, sync),
                    };
                    tokio::spawn(serve_jsonrpc(stream, tally, ctl, check));
                }
            }
        }
    });
    let drain = Duration::from_millis(args.drain_ms);
    let mut idle_since = Instant::now();
    let mut seen = 0;
    let mut had_range = false;
    loop {
        {
            // Held only to read; connection handlers lock it per event.
            let tally = tally.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            if tally.ns.len() != seen {
                seen = tally.ns.len();
                idle_since = Instant::now();
            }
            if !had_range && ctl.range().is_some() {
                had_range = true;
                idle_since = Instant::now();
            }
            if ctl.done(&tally, idle_since, drain) {
                return Ok(vec![tally.clone()]);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Count one checked event (or a bad message) in the shared tally.
fn record(tally: &Mutex<Tally>, ctl: &Control, checked: Option<(u64, u64)>) {
    if let Ok(mut tally) = tally.lock() {
        if tally.ns.is_empty() {
            ctl.warm.fetch_add(1, Ordering::AcqRel);
        }
        tally.record(checked);
    }
}

/// One webhook connection: read POSTs, check each event, answer 204.
async fn serve_webhook(
    stream: TcpStream,
    tally: Arc<Mutex<Tally>>,
    ctl: Arc<Control>,
    stamps: bool,
) {
    let mut stream = BufReader::new(stream);
    while let Ok(Some((_, body))) = wire::http::read_message(&mut stream).await {
        record(&tally, &ctl, wire::load::check_json(&body, stamps));
        if stream
            .get_mut()
            .write_all(wire::http::NO_CONTENT)
            .await
            .is_err()
        {
            return;
        }
    }
}

/// One JSON-RPC connection (OpenSIPS `event_stream`, as the broker's sink
/// speaks it): one call per line, each checked by `check`, which returns
/// the request id (sync mode) and the event's `(n, seq)`. Every request is
/// answered `{"jsonrpc":"2.0","result":0,"id":ID}`, after it was counted.
async fn serve_jsonrpc(
    stream: TcpStream,
    tally: Arc<Mutex<Tally>>,
    ctl: Arc<Control>,
    check: impl Fn(&[u8]) -> (Option<u64>, Option<(u64, u64)>),
) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::with_capacity(256 * 1024, read);
    let mut line = Vec::new();
    loop {
        line.clear();
        match read.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (id, checked) = check(&line);
        record(&tally, &ctl, checked);
        if let Some(id) = id {
            let reply = format!("{{\"jsonrpc\":\"2.0\",\"result\":0,\"id\":{id}}}\n");
            if write.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// A call parsed in full: `{"jsonrpc":"2.0","method":TYPE,"params":EVENT}`
/// with an integer `id` exactly when `sync`; `params` checked with `proto`
/// as a webhook body is.
fn check_call(line: &[u8], stamps: bool, sync: bool) -> (Option<u64>, Option<(u64, u64)>) {
    let Ok(call) = serde_json::from_slice::<serde_json::Value>(line) else {
        return (None, None);
    };
    let id = call.get("id").and_then(serde_json::Value::as_u64);
    let shape = call.get("jsonrpc").and_then(serde_json::Value::as_str) == Some("2.0")
        && call.get("method").and_then(serde_json::Value::as_str) == Some(wire::load::topic())
        && id.is_some() == sync
        && call.get("id").is_some() == sync;
    let checked = call
        .get("params")
        .filter(|_| shape)
        .and_then(|params| wire::load::check_value(params, stamps));
    (id.filter(|_| sync), checked)
}

/// A call read by a byte scan ([`wire::load::scan_json`]): the request id
/// is the `"id":` followed by a digit (the event's id is a string).
fn scan_call(line: &[u8], stamps: bool, sync: bool) -> (Option<u64>, Option<(u64, u64)>) {
    let id = line
        .windows(6)
        .enumerate()
        .filter(|(_, w)| w.starts_with(b"\"id\":") && w[5].is_ascii_digit())
        .find_map(|(at, _)| wire::load::json_uint(&line[at..], b"\"id\":"));
    let shape = id.is_some() == sync && line.starts_with(b"{");
    let checked = wire::load::scan_json(line, stamps).filter(|_| shape);
    (id.filter(|_| sync), checked)
}
