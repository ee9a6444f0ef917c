//! `bench-client`: a subscriber process that receives through the client
//! library, as an application on the node does: `client::register` with a
//! callback for the bench's event type, the endpoints from the environment
//! (`PTP_BROKER_PUB`, `PTP_BROKER_QUERY`, set by the driver). The callback
//! runs on the client's own thread for every event; it records the event's
//! emitter number and `seq` and the time it ran, in the same tally as
//! `bench-sub`, so the client path and the raw SUB path are measured by one
//! yardstick: POST (or send) → callback.
//!
//! It speaks `bench-sub`'s line protocol (wire/control.rs). `ready` comes
//! once `register` has returned: the registration is in effect. Every event
//! the client hands over has been decoded and validated by `proto` (what
//! `bench-sub --verify full` does); one not delivered live (repaired after
//! a loss, or "state unknown") counts as bad, so a loss the client
//! repaired is still a loss here.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use proto::{Delivery, Event};

#[path = "wire/mod.rs"]
#[allow(dead_code)] // shared by four binaries; each uses a part
mod wire;

use wire::control::{Control, say, serve_driver};
use wire::load::{Tally, n_from_id};

#[derive(Parser)]
#[command(about = "Benchmark subscriber through client::register callbacks")]
struct Args {
    /// Registrations in this process (one: the default client).
    #[arg(long, default_value_t = 1)]
    sockets: usize,
    /// Accepted for the driver's sake: the client always decodes in full.
    #[arg(long, default_value = "full")]
    verify: String,
    /// Keep a receive time per event (latency scenario).
    #[arg(long)]
    times: bool,
    /// Stop after this long without an event once the range is known.
    #[arg(long, default_value_t = 1000)]
    drain_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.sockets == 1,
        "bench-client: one registration per process (the default client)"
    );
    let ctl = Arc::new(Control::default());
    let tally = Arc::new(Mutex::new(Tally::new(args.times)));
    let (callback_tally, callback_ctl) = (Arc::clone(&tally), Arc::clone(&ctl));
    client::register(catalog::PTP_LOCK_STATE, move |event: &Event| {
        let checked = match event.delivery {
            Delivery::Live => n_from_id(&event.id).map(|n| (n, event.meta.seq)),
            _ => None,
        };
        // Only this callback thread writes; the main thread reads briefly.
        if let Ok(mut tally) = callback_tally.lock() {
            if tally.ns.is_empty() && tally.bad == 0 {
                callback_ctl
                    .warm
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            }
            tally.record(checked);
        }
    })?;
    say("ready");
    serve_driver(&ctl, 1);

    let drain = Duration::from_millis(args.drain_ms);
    let (mut idle_since, mut seen, mut had_range) = (Instant::now(), 0, false);
    let done = loop {
        {
            let tally = tally.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            let events = tally.ns.len() + tally.bad as usize;
            if events != seen {
                seen = events;
                idle_since = Instant::now();
            }
            if !had_range && ctl.range().is_some() {
                had_range = true;
                idle_since = Instant::now();
            }
            if ctl.done(&tally, idle_since, drain) {
                break tally.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stats = client::default_client()?.stats();
    eprintln!(
        "bench-client: delivered {} gaps {} repaired {} overflows {} bad frames {}",
        stats.delivered, stats.gaps, stats.repaired, stats.overflows, stats.bad_frames
    );
    wire::control::report(&ctl, &[done])
}
