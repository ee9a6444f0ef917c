//! `bench-sub`: one subscriber process of the benchmark. It opens one or
//! more sockets of one kind (ZeroMQ SUB, NATS, or an HTTP webhook), checks
//! every event it receives (count, `seq` contiguity, emitter number), and
//! speaks a line protocol with the bench driver:
//!
//! - stdout `ready [http=ADDR]` once every socket is connected and subscribed;
//! - stdout `warm` once every socket has received an event;
//! - stdin `range FIRST LAST` names the measured events; each socket then runs
//!   until it has seen LAST or has been idle for `--drain-ms`;
//! - stdout one JSON line, a list of `SocketReport`, one per socket; exit 0.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use tokio::io::{AsyncWriteExt, BufReader};
use zeromq::{Socket, SocketRecv};

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
    /// ZeroMQ endpoint to connect, NATS `host:port`, or (http) address to bind.
    #[arg(long)]
    connect: String,
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
        Mode::Http => runtime.block_on(run_http(&args, &ctl))?,
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
        nats.subscribe(wire::load::topic(), sid as u32 + 1)?;
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
            std::thread::spawn(move || {
                let mut tally = Tally::new(times);
                let mut idle_since = Instant::now();
                let mut had_range = false;
                while !ctl.done(&tally, idle_since, drain) {
                    if !had_range && ctl.range().is_some() {
                        had_range = true;
                        idle_since = Instant::now();
                    }
                    let wire::nats::Incoming::Msg { subject, payload } =
                        nats.next_within(Duration::from_millis(50))?
                    else {
                        continue;
                    };
                    if tally.ns.is_empty() {
                        ctl.warm.fetch_add(1, Ordering::AcqRel);
                    }
                    tally.record(wire::load::check_frames(
                        subject.as_bytes(),
                        &payload,
                        verify,
                    ));
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

async fn run_http(args: &Args, ctl: &Arc<Control>) -> anyhow::Result<Vec<Tally>> {
    if args.sockets != 1 {
        bail!("http mode has one webhook per process");
    }
    let listener = tokio::net::TcpListener::bind(&args.connect).await?;
    let tally = Arc::new(Mutex::new(Tally::new(args.times)));
    say(&format!("ready http={}", listener.local_addr()?));
    serve_driver(ctl, 1);
    let accept_tally = Arc::clone(&tally);
    let accept_ctl = Arc::clone(ctl);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve_webhook(
                stream,
                Arc::clone(&accept_tally),
                Arc::clone(&accept_ctl),
            ));
        }
    });
    let drain = Duration::from_millis(args.drain_ms);
    let mut idle_since = Instant::now();
    let mut seen = 0;
    let mut had_range = false;
    loop {
        {
            // Held only to read; webhook handlers lock it per event.
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

/// One webhook connection: read POSTs, check each event, answer 204.
async fn serve_webhook(stream: tokio::net::TcpStream, tally: Arc<Mutex<Tally>>, ctl: Arc<Control>) {
    let mut stream = BufReader::new(stream);
    while let Ok(Some((_, body))) = wire::http::read_message(&mut stream).await {
        let checked = wire::load::check_json(&body);
        if let Ok(mut tally) = tally.lock() {
            if tally.ns.is_empty() {
                ctl.warm.fetch_add(1, Ordering::AcqRel);
            }
            tally.record(checked);
        }
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
