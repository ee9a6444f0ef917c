//! `bench-emit`: the load generator. Connects one kind of sender (ZeroMQ
//! PUSH, NATS publish, HTTP POST to one or more URLs, or raw TCP to the
//! loopback probe's receivers), then:
//!
//! - stdout `ready` once connected;
//! - sends warm-up events at `--warm-rate` until stdin says `go`, so the
//!   driver can see every subscriber receive before anything is measured;
//! - sends `--count` events at `--rate`, paced against the clock (`--rate
//!   inf`: as fast as it can, the probe);
//! - takes the end time when the last event has been handed to the socket,
//!   the same rule for every mode; only then waits for the peer where the
//!   mode has a wait (NATS PING/PONG, HTTP answers);
//! - stdout one JSON line, an `EmitReport`; then keep the connection open
//!   until stdin closes, so nothing still queued is lost; exit 0.
//!
//! Every event is numbered (`n`, in the id). With `--stamp-seq` the emitter
//! also sets `meta.seq = n`, for the paths where no broker stamps it.

use std::io::{BufRead, BufWriter, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use tokio::sync::mpsc;

#[path = "wire/mod.rs"]
#[allow(dead_code)] // shared by four binaries; each uses a part
mod wire;

use wire::load::{EmitReport, Maker};

#[derive(Parser)]
#[command(about = "Benchmark emitter: sends numbered events at a paced rate")]
struct Args {
    /// Sender kind.
    #[arg(long, value_enum)]
    mode: Mode,
    /// ZeroMQ PULL endpoint, NATS `host:port`, comma-separated URLs (http)
    /// or `host:port`s (tcp).
    #[arg(long)]
    connect: String,
    /// Measured events per second (`inf`: unpaced).
    #[arg(long)]
    rate: f64,
    /// Measured events.
    #[arg(long)]
    count: u64,
    /// Warm-up events per second, until `go`.
    #[arg(long, default_value_t = 100.0)]
    warm_rate: f64,
    /// Set `meta.seq` to the event number (no broker on the path).
    #[arg(long)]
    stamp_seq: bool,
    /// Report the send time of every measured event (latency runs).
    #[arg(long)]
    times: bool,
    /// tcp: bytes per record (one PUB message's size).
    #[arg(long, default_value_t = 512)]
    record_size: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Zmq,
    Nats,
    Http,
    /// The loopback probe: fixed-size records over raw TCP.
    Tcp,
}

/// Where events go.
enum Sink {
    Zmq(wire::zmtp::Push),
    Nats(wire::nats::Nats),
    /// One queue per URL, each drained by a task with its own connection, as
    /// an upstream with one delivery queue per subscription would do.
    Http {
        queues: Vec<mpsc::UnboundedSender<Arc<Vec<u8>>>>,
        workers: Vec<tokio::task::JoinHandle<anyhow::Result<u64>>>,
    },
    /// The loopback probe: every record written to every receiver through
    /// a 64 KiB buffer each, so the kernel sees 64 KiB writes.
    Tcp {
        conns: Vec<BufWriter<TcpStream>>,
        record: Vec<u8>,
    },
}

impl Sink {
    async fn connect(args: &Args) -> anyhow::Result<Sink> {
        Ok(match args.mode {
            Mode::Zmq => Sink::Zmq(wire::zmtp::Push::connect(&args.connect)?),
            Mode::Nats => Sink::Nats(wire::nats::Nats::connect(&args.connect)?),
            Mode::Http => {
                let (mut queues, mut workers) = (Vec::new(), Vec::new());
                for url in args.connect.split(',') {
                    let mut poster = wire::http::Poster::connect(url)
                        .await
                        .with_context(|| format!("connect {url}"))?;
                    let (tx, mut rx) = mpsc::unbounded_channel::<Arc<Vec<u8>>>();
                    queues.push(tx);
                    workers.push(tokio::spawn(async move {
                        let mut errors = 0;
                        while let Some(body) = rx.recv().await {
                            if poster.post(&body).await? != 204 {
                                errors += 1;
                            }
                        }
                        Ok(errors)
                    }));
                }
                Sink::Http { queues, workers }
            }
            Mode::Tcp => {
                let mut conns = Vec::new();
                for addr in args.connect.split(',') {
                    let stream =
                        TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
                    stream.set_nodelay(true)?;
                    conns.push(BufWriter::with_capacity(64 * 1024, stream));
                }
                anyhow::ensure!(args.record_size >= 8, "--record-size below 8");
                Sink::Tcp {
                    conns,
                    record: vec![0x5a; args.record_size],
                }
            }
        })
    }

    async fn send(&mut self, maker: &mut Maker, n: u64, stamp_seq: bool) -> anyhow::Result<()> {
        if let Sink::Tcp { conns, record } = self {
            // The probe's records are bytes, not events: nothing to encode.
            wire::load::probe_record(record, n);
            for conn in conns {
                conn.write_all(record)?;
            }
            return Ok(());
        }
        let seq = if stamp_seq { n } else { 0 };
        match self {
            Sink::Zmq(push) => push.send(wire::load::topic().as_bytes(), maker.body(n, seq)?)?,
            Sink::Nats(nats) => nats.publish(wire::load::topic(), maker.body(n, seq)?)?,
            Sink::Http { queues, .. } => {
                let body = Arc::new(serde_json::to_vec(&proto::cloudevent::to_json(
                    maker.event(n, seq),
                    stamp_seq,
                ))?);
                for queue in queues {
                    queue.send(Arc::clone(&body)).context("poster ended")?;
                }
            }
            Sink::Tcp { .. } => {}
        }
        Ok(())
    }

    /// Hand what the emitter buffers itself to the socket.
    fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            Sink::Nats(nats) => nats.flush()?,
            Sink::Zmq(push) => push.flush()?,
            Sink::Tcp { conns, .. } => {
                for conn in conns {
                    conn.flush()?;
                }
            }
            Sink::Http { .. } => {}
        }
        Ok(())
    }

    /// After the end time is taken: wait until everything sent has been
    /// processed (NATS: PING/PONG; HTTP: answered); the count of failed
    /// deliveries.
    async fn finish(&mut self) -> anyhow::Result<u64> {
        match self {
            Sink::Zmq(_) | Sink::Tcp { .. } => Ok(0),
            Sink::Nats(nats) => {
                nats.round_trip()?;
                Ok(0)
            }
            Sink::Http { queues, workers } => {
                queues.clear();
                let mut errors = 0;
                for worker in workers.drain(..) {
                    errors += worker.await??;
                }
                Ok(errors)
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&args))
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let mut sink = Sink::connect(args).await?;
    println!("ready");
    std::io::stdout().flush()?;
    let go = Arc::new(AtomicBool::new(false));
    let stdin_go = Arc::clone(&go);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line.as_deref() {
                Ok("go") => stdin_go.store(true, Ordering::Release),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        // The driver is done with us (or gone).
        std::process::exit(0);
    });

    let mut maker = Maker::new();
    let mut n = 1;
    let warm_gap = Duration::from_secs_f64(1.0 / args.warm_rate);
    while !go.load(Ordering::Acquire) {
        maker.refresh();
        sink.send(&mut maker, n, args.stamp_seq).await?;
        sink.flush()?;
        n += 1;
        tokio::time::sleep(warm_gap).await;
    }

    let first = n;
    let keep_times = args.times || matches!(sink, Sink::Http { .. });
    let mut sent_ns = Vec::new();
    let start = Instant::now();
    let start_ns = wire::now_ns();
    let mut sent = 0u64;
    let paced = args.rate.is_finite();
    while sent < args.count {
        let due = if paced {
            ((start.elapsed().as_secs_f64() * args.rate) as u64 + 1).min(args.count)
        } else {
            args.count
        };
        if sent >= due {
            let next = start + Duration::from_secs_f64(sent as f64 / args.rate);
            tokio::time::sleep_until(next.into()).await;
            continue;
        }
        // One time for the batch: its events are sent within microseconds.
        maker.refresh();
        while sent < due {
            if keep_times {
                sent_ns.push(wire::now_ns());
            }
            sink.send(&mut maker, first + sent, args.stamp_seq).await?;
            sent += 1;
        }
        sink.flush()?;
    }
    // The last event is in the socket: the end of sending, for every mode.
    let end_ns = wire::now_ns();
    let errors = sink.finish().await?;
    let report = EmitReport {
        first,
        last: first + args.count - 1,
        start_ns,
        end_ns,
        sent_ns: keep_times.then_some(sent_ns),
        errors,
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &report)?;
    writeln!(out)?;
    out.flush()?;
    drop(out);
    // A ZeroMQ send completes when the message is queued, not delivered:
    // returning now would drop the socket and maybe the tail. Keep it open
    // and the runtime running until the driver closes stdin.
    std::future::pending::<()>().await;
    drop(sink);
    Ok(())
}
