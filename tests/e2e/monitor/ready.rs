//! `/readyz` and the upstream gauges tell the truth while the upstream
//! goes away and comes back (it used to say 7 subscriptions held while
//! nothing answered).

use super::{get, scrape, value};
use crate::upstream::{SIM_RESOURCES, Sim, wait_subscribed};
use crate::util::{Broker, free_port, wait_until};

/// A config file that checks the upstream every 250 ms; removed on drop.
struct FastConfig(std::path::PathBuf);

impl FastConfig {
    fn new() -> FastConfig {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "ptp-broker-e2e-ready-{}-{n}.toml",
            std::process::id()
        ));
        let text = "[upstream]\nhealth_interval_ms = 250\n[monitor]\nstale_after_ms = 60000\n";
        std::fs::write(&path, text).expect("writing the config");
        FastConfig(path)
    }

    fn as_str(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for FastConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A broker following `url`, checking it every 250 ms.
fn follow(config: &FastConfig, url: &str) -> Broker {
    Broker::start(&[
        "--config",
        config.as_str(),
        "--upstream",
        url,
        "--node",
        "node1",
    ])
}

fn gauge(broker: &Broker, name: &str) -> f64 {
    value(&scrape(broker), name, &[]).unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn readiness_and_the_upstream_gauges_follow_the_upstream_down_and_back() {
    let port = free_port();
    let mut sim = Some(Sim::start(port, "redhat"));
    let config = FastConfig::new();
    let url = sim.as_ref().map(|s| s.url.clone()).unwrap_or_default();
    let broker = follow(&config, &url);
    // Alive at once, ready once subscribed and seeded.
    assert_eq!(get(&broker, "/healthz").status, 200);
    wait_subscribed(sim.as_ref().expect("sim"), &broker, SIM_RESOURCES);
    wait_until("ready", || get(&broker, "/readyz").status == 200);
    let wanted = SIM_RESOURCES as f64;
    assert_eq!(gauge(&broker, "ptp_broker_upstream_connected"), 1.0);
    assert_eq!(gauge(&broker, "ptp_broker_upstream_subscriptions"), wanted);
    assert_eq!(
        gauge(&broker, "ptp_broker_upstream_subscriptions_wanted"),
        wanted
    );
    assert_eq!(gauge(&broker, "ptp_broker_upstream_seeded"), wanted);
    assert_eq!(gauge(&broker, "ptp_broker_ready"), 1.0);
    assert_eq!(broker.stats()["upstream_subscribed"], SIM_RESOURCES as u64);

    // The upstream dies: nothing is held any more, and readiness says why.
    drop(sim.take());
    wait_until("not ready", || get(&broker, "/readyz").status == 503);
    let why = get(&broker, "/readyz").text();
    assert!(why.contains("not reached"), "{why}");
    assert_eq!(gauge(&broker, "ptp_broker_upstream_connected"), 0.0);
    assert_eq!(gauge(&broker, "ptp_broker_upstream_subscriptions"), 0.0);
    assert_eq!(gauge(&broker, "ptp_broker_ready"), 0.0);
    assert_eq!(broker.stats()["upstream_subscribed"], 0);
    // Still alive: liveness is about the process, not the upstream.
    assert_eq!(get(&broker, "/healthz").status, 200);

    // Back on the same port: subscribed, seeded again, ready.
    let sim = Sim::start(port, "redhat");
    wait_subscribed(&sim, &broker, SIM_RESOURCES);
    wait_until("ready again", || get(&broker, "/readyz").status == 200);
    assert_eq!(gauge(&broker, "ptp_broker_upstream_subscriptions"), wanted);
    assert_eq!(gauge(&broker, "ptp_broker_upstream_seeded"), wanted);
    let varz = get(&broker, "/varz").json();
    assert_eq!(varz["upstream"]["connected"], true, "{varz}");
    assert_eq!(varz["upstream"]["subscriptions"], SIM_RESOURCES, "{varz}");
}

#[test]
fn an_upstream_that_never_answers_keeps_the_broker_unready_but_alive() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/api/ocloudNotifications/v2");
    let config = FastConfig::new();
    let broker = follow(&config, &url);
    wait_until("a failed attempt", || broker.stats()["upstream_errors"] > 0);
    let answer = get(&broker, "/readyz");
    assert_eq!(answer.status, 503, "{answer}");
    assert!(answer.text().contains("not reached"), "{answer}");
    assert_eq!(get(&broker, "/healthz").status, 200);
    let m = scrape(&broker);
    assert_eq!(value(&m, "ptp_broker_upstream_followed", &[]), Some(1.0));
    assert_eq!(
        value(&m, "ptp_broker_upstream_subscriptions", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(&m, "ptp_broker_upstream_last_push_age_seconds", &[]),
        None
    );
}
