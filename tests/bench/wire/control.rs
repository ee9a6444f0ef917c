//! The subscriber side of the line protocol every subscriber process
//! speaks with the bench driver (`bench-sub`, `bench-client`; the C SUB
//! `zmq_sub.c` speaks the same):
//!
//! - stdout `ready …` once every socket is connected and subscribed;
//! - stdout `warm` once every socket has received an event;
//! - stdin `range FIRST LAST` names the measured events; each socket then
//!   runs until it has seen LAST or has been idle for the drain time;
//! - stdout one JSON line, a list of `SocketReport`, one per socket.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::load::Tally;

/// What the receivers and the driver's stdin share.
#[derive(Default)]
pub struct Control {
    /// Measured range, 0 until the driver sends it.
    pub first: AtomicU64,
    pub last: AtomicU64,
    /// Sockets that have received at least one event.
    pub warm: AtomicUsize,
}

impl Control {
    /// The measured range, once the driver has sent it.
    pub fn range(&self) -> Option<(u64, u64)> {
        match self.last.load(Ordering::Acquire) {
            0 => None,
            last => Some((self.first.load(Ordering::Acquire), last)),
        }
    }

    /// True when the receiver owning `tally` may stop.
    pub fn done(&self, tally: &Tally, idle_since: Instant, drain: Duration) -> bool {
        match self.range() {
            Some((_, last)) => tally.last_n() >= last || idle_since.elapsed() >= drain,
            None => false,
        }
    }
}

/// One line to the driver.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The driver reading our stdout is gone if this fails; stdin EOF ends us.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// After `ready`: read the range from stdin, print `warm` when all sockets
/// have an event. Exits the process if the driver goes away first.
pub fn serve_driver(ctl: &Arc<Control>, sockets: usize) {
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

/// Print the reports of `tallies` for the measured range: the last line.
pub fn report(ctl: &Control, tallies: &[Tally]) -> anyhow::Result<()> {
    let (first, last) = ctl
        .range()
        .ok_or_else(|| anyhow::anyhow!("no range from the driver"))?;
    let reports: Vec<_> = tallies.iter().map(|t| t.report(first, last)).collect();
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &reports)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
