//! What the broker knows about its own health, for `/readyz`, `/metrics`
//! and the live page: since when it serves, and how the upstream is
//! followed. The subscription manager and the HTTP receiver write it; the
//! monitor reads it. Every field is the truth as of its last change: a
//! gauge that says "subscribed" while the upstream is unreachable would be
//! a lie, so losing the upstream clears it.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus::{Histogram, HistogramOpts};

/// The upstream as the subscription manager last saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamView {
    /// An upstream is followed at all.
    pub followed: bool,
    /// Its API base (the URL it was found at), for people.
    pub url: String,
    /// The last pass reached it (health check and subscription list answered).
    pub connected: bool,
    /// Resources wanted (those it does not offer left out).
    pub wanted: u64,
    /// Of those, subscribed now (0 while it is unreachable).
    pub subscribed: u64,
    /// Of the subscribed ones, seeded from CurrentState since subscribing
    /// or since it came back.
    pub seeded: u64,
    /// When it last answered us (a pass) or pushed to us.
    pub last_contact: Option<Instant>,
    /// When it last pushed an event we took.
    pub last_push: Option<Instant>,
}

/// The broker's health (one per broker, in its shared state).
#[derive(Debug)]
pub struct Health {
    started: Instant,
    serving: std::sync::atomic::AtomicBool,
    upstream: Mutex<UpstreamView>,
    /// Time from accepting an event to having it queued for every PUB
    /// subscriber, in seconds.
    pub publish_latency: Histogram,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

/// Buckets of [`Health::publish_latency`]: 5 µs to 100 ms.
const LATENCY_BUCKETS: [f64; 14] = [
    5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
    100e-3,
];

impl Health {
    /// Started now, not serving yet, no upstream.
    pub fn new() -> Health {
        let opts = HistogramOpts::new(
            "ptp_broker_publish_latency_seconds",
            "Time from accepting an event to having it queued for every PUB subscriber.",
        )
        .buckets(LATENCY_BUCKETS.to_vec());
        Health {
            started: Instant::now(),
            serving: Default::default(),
            upstream: Mutex::default(),
            // The options are constant and valid: a name, a help, sorted
            // buckets. Failing here is a programming error caught by every test.
            publish_latency: Histogram::with_opts(opts).expect("valid histogram options"),
        }
    }

    /// Since the broker started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Every socket is bound and every task runs.
    pub fn set_serving(&self, serving: bool) {
        self.serving
            .store(serving, std::sync::atomic::Ordering::Release);
    }

    /// See [`Health::set_serving`].
    pub fn serving(&self) -> bool {
        self.serving.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The upstream now.
    pub fn upstream(&self) -> UpstreamView {
        self.lock().clone()
    }

    /// Change the upstream's view.
    pub fn update_upstream(&self, change: impl FnOnce(&mut UpstreamView)) {
        change(&mut self.lock());
    }

    /// The upstream pushed events that were taken.
    pub fn pushed(&self) {
        let now = Instant::now();
        let mut view = self.lock();
        view.last_push = Some(now);
        view.last_contact = Some(now);
    }

    fn lock(&self) -> MutexGuard<'_, UpstreamView> {
        // Every update is a plain assignment: a poisoned lock is consistent.
        self.upstream.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why the broker is not ready, given its health and `stale_after`; empty:
/// ready. Ready means every socket bound and, when following an upstream:
/// reached, subscribed to every resource it offers, each seeded, and heard
/// from within `stale_after`.
pub fn not_ready(health: &Health, stale_after: Duration) -> Vec<String> {
    let mut reasons = Vec::new();
    if !health.serving() {
        reasons.push("starting: not every task runs yet".to_owned());
    }
    let up = health.upstream();
    if !up.followed {
        return reasons;
    }
    if !up.connected {
        reasons.push(format!("upstream {} not reached", up.url));
    }
    if up.subscribed < up.wanted {
        reasons.push(format!(
            "upstream subscriptions: {} of {} held",
            up.subscribed, up.wanted
        ));
    } else if up.seeded < up.subscribed {
        reasons.push(format!(
            "state not seeded: {} of {} resources read from CurrentState",
            up.seeded, up.subscribed
        ));
    }
    match up.last_contact {
        None => reasons.push("upstream never heard from".to_owned()),
        Some(t) if t.elapsed() > stale_after => reasons.push(format!(
            "state stale: upstream last heard from {:.1} s ago (monitor.stale_after_ms = {})",
            t.elapsed().as_secs_f64(),
            stale_after.as_millis()
        )),
        Some(_) => {}
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_serving_and_without_an_upstream_nothing_else() {
        let health = Health::new();
        assert_eq!(not_ready(&health, Duration::from_secs(1)).len(), 1);
        health.set_serving(true);
        assert!(not_ready(&health, Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn a_followed_upstream_must_be_reached_subscribed_seeded_and_fresh() {
        let health = Health::new();
        health.set_serving(true);
        health.update_upstream(|u| {
            u.followed = true;
            u.url = "http://up".into();
            u.wanted = 7;
        });
        let reasons = not_ready(&health, Duration::from_secs(10));
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        health.update_upstream(|u| {
            u.connected = true;
            u.subscribed = 7;
            u.seeded = 6;
            u.last_contact = Some(Instant::now());
        });
        let reasons = not_ready(&health, Duration::from_secs(10));
        assert_eq!(
            reasons,
            ["state not seeded: 6 of 7 resources read from CurrentState"]
        );
        health.update_upstream(|u| u.seeded = 7);
        assert!(not_ready(&health, Duration::from_secs(10)).is_empty());
        let long_ago = Instant::now().checked_sub(Duration::from_secs(2));
        health.update_upstream(|u| u.last_contact = long_ago);
        let reasons = not_ready(&health, Duration::from_secs(1));
        assert!(reasons[0].starts_with("state stale"), "{reasons:?}");
    }
}
