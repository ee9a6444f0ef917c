//! `bench-sub`: one subscriber process of the benchmark. It opens one or
//! more sockets of one kind (ZeroMQ SUB, NATS, an HTTP webhook, a
//! JSON-RPC receiver, or a raw TCP receiver of the loopback probe), checks
//! every event it receives (count, `seq` contiguity, emitter number), and
//! speaks the line protocol of `wire/control.rs` with the bench driver:
//!
//! - stdout `ready [http=ADDR | jsonrpc=ADDR | tcp=ADDR]` once every socket
//!   is connected and subscribed (or, for the three that listen, bound);
//! - stdout `warm` once every socket has received an event;
//! - stdin `range FIRST LAST` names the measured events; each socket then runs
//!   until it has seen LAST or has been idle for `--drain-ms`;
//! - stdout one JSON line, a list of `SocketReport`, one per socket; exit 0.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

mod sub_listen;
mod sub_probe;
#[path = "wire/mod.rs"]
#[allow(dead_code)] // shared by four binaries; each uses a part
mod wire;

use wire::control::{Control, say, serve_driver};
use wire::load::{Tally, Verify};

#[derive(Parser)]
#[command(about = "Benchmark subscriber: receives, verifies and reports")]
struct Args {
    /// Socket kind.
    #[arg(long, value_enum)]
    mode: Mode,
    /// ZeroMQ endpoint to connect, NATS `host:port`, or (http, jsonrpc, tcp) address to bind.
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
    /// `full` decodes and validates every event (as the client's I/O thread
    /// does); `seq` reads only id and seq.
    #[arg(long, default_value = "full")]
    verify: Verify,
    /// Keep a receive time per event (latency scenario).
    #[arg(long)]
    times: bool,
    /// Stop after this long without an event once the range is known.
    #[arg(long, default_value_t = 1000)]
    drain_ms: u64,
    /// tcp: bytes per record of the loopback probe.
    #[arg(long, default_value_t = 512)]
    record_size: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Zmq,
    Nats,
    Http,
    Jsonrpc,
    /// The loopback probe's receiver: fixed-size records over raw TCP.
    Tcp,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Payload {
    Frame,
    Json,
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
        Mode::Tcp => sub_probe::run(&args, &ctl)?,
    };
    wire::control::report(&ctl, &tallies)
}

async fn run_zmq(args: &Args, ctl: &Arc<Control>) -> anyhow::Result<Vec<Tally>> {
    let mut sockets = Vec::with_capacity(args.sockets);
    for _ in 0..args.sockets {
        let topic = wire::load::topic().as_bytes();
        sockets.push(wire::zmtp::Sub::connect(&args.connect, topic).await?);
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
                let mut frames = wire::load::FrameCheck::new(verify);
                let mut idle_since = Instant::now();
                let mut had_range = false;
                while !ctl.done(&tally, idle_since, drain) {
                    if !had_range && ctl.range().is_some() {
                        had_range = true;
                        idle_since = Instant::now();
                    }
                    let checked = match socket.next()? {
                        Some(parts) => match parts.as_slice() {
                            [topic, body] if parts.count() == 2 => frames.check(topic, body),
                            _ => None,
                        },
                        None => {
                            socket.answer().await?;
                            let wait = Duration::from_millis(50);
                            if let Ok(read) = tokio::time::timeout(wait, socket.fill()).await {
                                anyhow::ensure!(read? > 0, "the publisher closed the connection");
                            }
                            continue;
                        }
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
                let mut frames = wire::load::FrameCheck::new(verify);
                let mut idle_since = Instant::now();
                let mut had_range = false;
                while !ctl.done(&tally, idle_since, drain) {
                    if !had_range && ctl.range().is_some() {
                        had_range = true;
                        idle_since = Instant::now();
                    }
                    let checked = match nats.next_within(Duration::from_millis(50))? {
                        wire::nats::Incoming::Msg {
                            subject,
                            payload: body,
                        } => match payload {
                            Payload::Frame => frames.check(subject, body),
                            Payload::Json => match verify {
                                Verify::Full => wire::load::check_json(body, stamps),
                                Verify::Seq => wire::load::scan_json(body, stamps),
                            },
                        },
                        wire::nats::Incoming::Pong | wire::nats::Incoming::Idle => continue,
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
    threads
        .into_iter()
        .map(|t| t.join().map_err(|_| anyhow::anyhow!("receiver panicked"))?)
        .collect()
}
