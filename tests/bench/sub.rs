//! `bench-sub`: one subscriber process of the benchmark. It opens one or
//! more sockets of one kind (ZeroMQ SUB, NATS, an HTTP webhook, or a
//! JSON-RPC receiver), checks every event it receives (count, `seq`
//! contiguity, emitter number), and speaks a line protocol with the bench
//! driver:
//!
//! - stdout `ready [http=ADDR | jsonrpc=ADDR]` once every socket is connected
//!   and subscribed (or, for the two that listen, bound);
//! - stdout `warm` once every socket has received an event;
//! - stdin `range FIRST LAST` names the measured events; each socket then runs
//!   until it has seen LAST or has been idle for `--drain-ms`;
//! - stdout one JSON line, a list of `SocketReport`, one per socket; exit 0.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use zeromq::{Socket, SocketRecv};

mod sub_listen;
#[path = "wire/mod.rs"]
#[allow(dead_code)] // shared by three binaries; each uses a part
mod wire;

use wire::load::{Tally, Verify};

#[derive(Parser)]
#[command(about = "Benchmark subscriber: receives, verifies and reports")]
struct Args {
    /// Socket kind.
    #[arg(long, value_enum)]
    mode: Mode,
    /// ZeroMQ endpoint to connect, NATS `host:port`, or (http, jsonrpc) address to bind.
    #[arg(long)]
    connect: String,
    /// NATS: the subject to subscribe to [default: the bench event's type].
    #[arg(long)]
    subject: Option<String>,
    /// NATS: what a message holds, `frame` (the MessagePack event) or
    /// `json` (CloudEvent JSON, as the broker's NATS sink publishes).
    #[arg(long, value_enum, default_value = "frame")]
    payload: Payload,
    /// JSON bodies must carry the broker's `epoch`, `seq` and `origin`.
    #[arg(long)]
    stamps: bool,
    /// jsonrpc: the calls are requests with ids; answer each with a result.
    #[arg(long)]
    sync: bool,
    /// Sockets to open in this process (zmq and nats).
    #[arg(long, default_value_t = 1)]
    sockets: usize,
    /// `full` decodes and validates every event; `seq` reads only id and seq.
    #[arg(long, default_value = "full")]
    verify: Verify,
    /// Keep a receive time per event (latency scenario).
    #[arg(long)]
    times: bool,
    /// Stop after this long without an event once the range is known.
    #[arg(long, default_value_t = 1000)]
    drain_ms: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Zmq,
    Nats,
    Http,
    Jsonrpc,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Payload {
    Frame,
    Json,
}

/// What the receivers and the driver's stdin share.
#[derive(Default)]
struct Control {
    /// Measured range, 0 until the driver sends it.
    first: AtomicU64,
    last: AtomicU64,
    /// Sockets that have received at least one event.
    warm: AtomicUsize,
}

impl Control {
    fn range(&self) -> Option<(u64, u64)> {
        match self.last.load(Ordering::Acquire) {
            0 => None,
            last => Some((self.first.load(Ordering::Acquire), last)),
        }
    }

    /// True when the receiver owning `tally` may stop.
    fn done(&self, tally: &Tally, idle_since: Instant, drain: Duration) -> bool {
        match self.range() {
            Some((_, last)) => tally.last_n() >= last || idle_since.elapsed() >= drain,
            None => false,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let ctl = Arc::new(Control::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tallies = match args.mode {
        Mode::Zmq => runtime.block_on(run_zmq(&args, &ctl))?,
        Mode::Nats => run_nats(&args, &ctl)?,
        Mode::Http | Mode::Jsonrpc => runtime.block_on(sub_listen::run(&args, &ctl))?,
    };
    let (first, last) = ctl.range().context("no range")?;
    let reports: Vec<_> = tallies.iter().map(|t| t.report(first, last)).collect();
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &reports)?;
    writeln!(out)?;
    Ok(())
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The driver reading our stdout is gone if this fails; stdin EOF ends us.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// After `ready`: read the range from stdin, print `warm` when all sockets
/// have an event. Exits the process if the driver goes away first.
fn serve_driver(ctl: &Arc<Control>, sockets: usize) {
    let stdin_ctl = Arc::clone(ctl);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let mut words = line.split_whitespace();
            if let (Some("range"), Some(a), Some(b)) = (words.next(), words.next(), words.next())
                && let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>())
            {
                stdin_ctl.first.store(a, Ordering::Release);
                stdin_ctl.last.store(b.max(1), Ordering::Release);
                return;
            }
        }
        std::process::exit(3);
    });
    let warm_ctl = Arc::clone(ctl);
    std::thread::spawn(move || {
        while warm_ctl.warm.load(Ordering::Acquire) < sockets {
            std::thread::sleep(Duration::from_millis(5));
        }
        say("warm");
    });
}

async fn run_zmq(args: &Args, ctl: &Arc<Control>) -> anyhow::Result<Vec<Tally>> {
    let mut sockets = Vec::with_capacity(args.sockets);
    for _ in 0..args.sockets {
        let mut socket = zeromq::SubSocket::new();
        socket.connect(&args.connect).await?;
        socket.subscribe(wire::load::topic()).await?;
        sockets.push(socket);
    }
    say("ready");
    serve_driver(ctl, args.sockets);
    let drain = Duration::from_millis(args.drain_ms);
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            let ctl = Arc::clone(ctl);
            let (verify, times) = (args.verify, args.times);
            tokio::spawn(async move {
                let mut tally = Tally::new(times);
                let mut idle_since = Instant::now();
                let mut had_range = false;
                while !ctl.done(&tally, idle_since, drain) {
                    if !had_range && ctl.range().is_some() {
                        had_range = true;
                        idle_since = Instant::now();
                    }
                    let Ok(msg) =
                        tokio::time::timeout(Duration::from_millis(50), socket.recv()).await
                    else {
                        continue;
                    };
                    let msg = msg?;
                    let checked = match (msg.get(0), msg.get(1), msg.len()) {
                        (Some(topic), Some(body), 2) => {
                            wire::load::check_frames(topic, body, verify)
                        }
                        _ => None,
                    };
                    if tally.ns.is_empty() {
                        ctl.warm.fetch_add(1, Ordering::AcqRel);
                    }
                    tally.record(checked);
                    idle_since = Instant::now();
                }
                anyhow::Ok(tally)
            })
        })
        .collect();
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        tallies.push(task.await??);
    }
    Ok(tallies)
}

fn run_nats(args: &Args, ctl: &Arc<Control>) -> anyhow::Result<Vec<Tally>> {
    let mut conns = Vec::with_capacity(args.sockets);
    for sid in 0..args.sockets {
        let mut nats = wire::nats::Nats::connect(&args.connect)?;
        let subject = args.subject.as_deref().unwrap_or(wire::load::topic());
        nats.subscribe(subject, sid as u32 + 1)?;
        conns.push(nats);
    }
    say("ready");
    serve_driver(ctl, args.sockets);
    let drain = Duration::from_millis(args.drain_ms);
    let threads: Vec<_> = conns
        .into_iter()
        .map(|mut nats| {
            let ctl = Arc::clone(ctl);
            let (verify, times) = (args.verify, args.times);
            let (payload, stamps) = (args.payload, args.stamps);
            std::thread::spawn(move || {
                let mut tally = Tally::new(times);
                let mut idle_since = Instant::now();
                let mut had_range = false;
                while !ctl.done(&tally, idle_since, drain) {
                    if !had_range && ctl.range().is_some() {
                        had_range = true;
                        idle_since = Instant::now();
                    }
                    let wire::nats::Incoming::Msg {
                        subject,
                        payload: body,
                    } = nats.next_within(Duration::from_millis(50))?
                    else {
                        continue;
                    };
                    if tally.ns.is_empty() {
                        ctl.warm.fetch_add(1, Ordering::AcqRel);
                    }
                    tally.record(match payload {
                        Payload::Frame => {
                            wire::load::check_frames(subject.as_bytes(), &body, verify)
                        }
                        Payload::Json => match verify {
                            Verify::Full => wire::load::check_json(&body, stamps),
                            Verify::Seq => wire::load::scan_json(&body, stamps),
                        },
                    });
                    idle_since = Instant::now();
                }
                anyhow::Ok(tally)
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().map_err(|_| anyhow::anyhow!("receiver panicked"))?)
        .collect()
}
