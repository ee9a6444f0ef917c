//! `bench-sub --mode tcp`: a receiver of the loopback probe, the physical
//! limit the fan-out systems are compared with. It binds `--connect`,
//! says `ready tcp=ADDR`, accepts the one sender (`bench-emit --mode
//! tcp`), and reads fixed-size records (`--record-size`, one PUB message's
//! size) with large reads, checking that each record's number is the
//! previous plus one. No framing, no decoding, no per-message wake-up:
//! what is left is what the kernel's loopback costs on this machine.

use std::io::{self, Read};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::wire::control::{Control, say, serve_driver};
use crate::wire::load::{Tally, probe_n};
use crate::{Args, wire};

/// Bind, accept the sender, count records until the range is in (or the
/// drain timed out).
pub fn run(args: &Args, ctl: &Arc<Control>) -> anyhow::Result<Vec<Tally>> {
    if args.sockets != 1 {
        bail!("tcp mode has one connection per process");
    }
    let size = args.record_size;
    if size < 8 {
        bail!("--record-size {size}: a record holds at least its 8-byte number");
    }
    let listener = TcpListener::bind(&args.connect).context("bind")?;
    say(&format!("ready tcp={}", listener.local_addr()?));
    serve_driver(ctl, 1);
    let (mut stream, _) = listener.accept().context("accept the sender")?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let drain = Duration::from_millis(args.drain_ms);
    // Many records per read, as a subscriber library reads many messages.
    let mut buf = vec![0u8; (256 * 1024 / size).max(1) * size];
    let mut have = 0;
    let mut tally = Tally::new(args.times);
    let mut idle_since = Instant::now();
    let mut had_range = false;
    while !ctl.done(&tally, idle_since, drain) {
        if !had_range && ctl.range().is_some() {
            had_range = true;
            idle_since = Instant::now();
        }
        let read = match stream.read(&mut buf[have..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e).context("read"),
        };
        have += read;
        let now = wire::now_ns();
        let whole = have / size * size;
        for record in buf[..whole].chunks_exact(size) {
            if tally.ns.is_empty() {
                ctl.warm.fetch_add(1, Ordering::AcqRel);
            }
            tally.record_at(probe_n(record).map(|n| (n, n)), now);
        }
        buf.copy_within(whole..have, 0);
        have -= whole;
        idle_since = Instant::now();
    }
    Ok(vec![tally])
}
