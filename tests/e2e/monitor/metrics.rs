//! `/metrics` is valid Prometheus text, and every number in it is true.

use std::io::Write;
use std::process::{Command, Stdio};

use super::{get, scrape, value};
use crate::util::{Broker, Probe, wait_until};

const OS: &str = "event.sync.sync-status.os-clock-sync-state-change";
const CLASS: &str = "event.sync.ptp-status.ptp-clock-class-change";

/// `promtool check metrics` (Debian's prometheus package, installed by the
/// suite's command): Prometheus's own parser and linter.
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: run tests/bench/install-deps.sh (the suite's command installs prometheus)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("writing to promtool");
    let out = child.wait_with_output().expect("promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && said.trim().is_empty(), said)
}

#[test]
fn the_exposition_passes_promtool_with_states_sinks_and_subscribers() {
    let broker = Broker::start(&[]);
    // A sink subscription (to nowhere), so sink families have a series.
    let out = broker.tool(&["subscribe", "tcp:127.0.0.1:9/m", "--type", "OS_CLOCK_SYNC"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    for args in [
        &["emit", "OS_CLOCK_SYNC", "HOLDOVER", "--offset", "-1500"][..],
        &["emit", "PTP_CLOCK_CLASS", "248"],
        &["emit", "GNSS_SYNC_STATUS", "ANTENNA-DISCONNECTED"],
    ] {
        let out = broker.tool(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let answer = get(&broker, "/metrics");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = answer.text();
    let (ok, said) = promtool(&text);
    assert!(
        ok,
        "promtool check metrics: {said}\n--- exposition ---\n{text}"
    );

    // Every family is documented: in docs/OPERATIONS.md by name, or a
    // `stats` counter as ptp_broker_<counter>_total.
    let doc = include_str!("../../../docs/OPERATIONS.md");
    let stats = broker.stats();
    for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = family.split(' ').next().unwrap_or_default();
        let counter = name
            .strip_prefix("ptp_broker_")
            .and_then(|n| n.strip_suffix("_total"))
            .is_some_and(|c| stats.contains_key(c));
        assert!(
            counter || doc.contains(&format!("`{name}`")),
            "{name} is not in docs/OPERATIONS.md"
        );
    }

    let m = super::samples(&text);
    let resource = |t: &str| {
        m.iter()
            .find(|s| s.name == "ptp_broker_sync_state" && s.labels["type"] == t)
            .map(|s| s.labels["resource"].clone())
    };
    let os = resource(OS).expect("a sync_state series for OS_CLOCK_SYNC");
    let labels = [("type", OS), ("resource", os.as_str())];
    assert_eq!(
        value(&m, "ptp_broker_sync_state", &labels),
        Some(2.0),
        "HOLDOVER is 2"
    );
    assert_eq!(value(&m, "ptp_broker_sync_badness", &labels), Some(1.0));
    assert_eq!(
        value(&m, "ptp_broker_offset_seconds", &labels),
        Some(-1.5e-6)
    );
    let gnss = m
        .iter()
        .find(|s| s.name == "ptp_broker_sync_state" && s.labels["type"].contains("gnss"))
        .expect("GNSS series");
    assert_eq!(gnss.value, 8.0, "ANTENNA-DISCONNECTED is 8");
    let class = m
        .iter()
        .find(|s| s.name == "ptp_broker_clock_class" && s.labels["type"] == CLASS)
        .expect("clock class series");
    assert_eq!(class.value, 248.0);
    // The counters are the ones `stats` prints, by the same names.
    let emits = value(&m, "ptp_broker_accepted_emit_total", &[]).expect("accepted_emit");
    assert_eq!(emits, stats["accepted_emit"] as f64);
    assert_eq!(emits, 3.0);
    assert_eq!(value(&m, "ptp_broker_state_entries", &[]), Some(3.0));
    assert_eq!(value(&m, "ptp_broker_upstream_followed", &[]), Some(0.0));
    assert_eq!(value(&m, "ptp_broker_ready", &[]), Some(1.0));
    assert_eq!(value(&m, "ptp_broker_subscribers", &[]), Some(1.0));
    assert!(
        m.iter()
            .any(|s| s.name == "ptp_broker_subscriber_queue_depth"),
        "a queue depth per subscriber"
    );
    // The sink's queue and counters, labelled by its id.
    assert!(
        m.iter()
            .any(|s| s.name == "ptp_broker_sink_failed_total" && s.labels.contains_key("id")),
        "per-sink counters"
    );
    // Three events went to PUB: the histogram counted each.
    let published = value(&m, "ptp_broker_publish_latency_seconds_count", &[]).expect("histogram");
    assert_eq!(published, 3.0);
    let info = m
        .iter()
        .find(|s| s.name == "ptp_broker_info")
        .expect("info");
    assert_eq!(info.labels["epoch"], broker.endpoints.epoch.to_string());
}

#[test]
fn a_state_change_shows_in_the_next_scrape() {
    let broker = Broker::start(&[]);
    let state = |broker: &Broker| {
        scrape(broker)
            .iter()
            .find(|s| s.name == "ptp_broker_sync_state" && s.labels["type"] == OS)
            .map(|s| s.value)
    };
    assert_eq!(state(&broker), None, "no series before any state");
    let out = broker.tool(&["emit", "OS_CLOCK_SYNC", "LOCKED"]);
    assert!(out.status.success());
    assert_eq!(state(&broker), Some(1.0));
    let out = broker.tool(&["emit", "OS_CLOCK_SYNC", "FREERUN"]);
    assert!(out.status.success());
    assert_eq!(state(&broker), Some(0.0));
    wait_until("the age to grow", || {
        scrape(&broker)
            .iter()
            .any(|s| s.name == "ptp_broker_state_age_seconds" && s.value > 0.0)
    });
}

#[test]
fn the_monitor_only_reads_and_says_what_it_serves() {
    let broker = Broker::start(&[]);
    let addr = super::address(&broker);
    let index = get(&broker, "/");
    assert_eq!(index.status, 200);
    for path in ["/metrics", "/healthz", "/readyz", "/varz", "/connz", "/ui"] {
        assert!(index.text().contains(path), "{path} in {index}");
    }
    assert_eq!(get(&broker, "/healthz").status, 200);
    assert_eq!(get(&broker, "/nope").status, 404);
    let post = crate::oran::http::post_raw(&addr, "/metrics", b"x");
    assert_eq!(post.status, 405, "{post}");
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let varz = get(&broker, "/varz").json();
    assert_eq!(varz["epoch"], broker.endpoints.epoch);
    assert_eq!(varz["ready"], true);
    assert!(varz["counters"]["heartbeats"].as_u64().is_some(), "{varz}");
    let page = get(&broker, "/ui");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.header("content-security-policy")
            .is_some_and(|p| p.starts_with("default-src 'none'")),
        "{page:?}"
    );
}

#[test]
fn without_the_monitor_nothing_listens_and_a_bad_address_fails_the_start() {
    let broker = Broker::start(&["--no-monitor"]);
    assert_eq!(broker.endpoints.monitor, None);
    let err = Broker::try_start(&["--monitor", "nonsense"])
        .err()
        .expect("a bad monitor.listen fails the start");
    assert!(err.contains("monitor.listen"), "{err}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let err = Broker::try_start(&["--monitor", &addr])
        .err()
        .expect("a taken port fails the start");
    assert!(
        err.contains(&format!(
            "cannot bind monitor endpoint {addr}: address already in use"
        )),
        "{err}"
    );
}
