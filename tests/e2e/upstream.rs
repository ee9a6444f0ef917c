//! Following a real PTP source: the upstream simulator (a separate process
//! that shares no code with the broker), a real `ptp-broker --upstream`, and
//! real client processes. The faults are real too: SIGKILL of the upstream
//! and of the broker, restarts on the same port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Broker, DEADLINE, Probe, binary, free_port, wait_until};

/// O-RAN resources the simulator offers (all of the catalog but
/// lock-state-extended, which it answers 404).
pub const SIM_RESOURCES: usize = 7;

/// The types the probes register.
const TYPES: [&str; 4] = [
    "PTP_LOCK_STATE",
    "PTP_CLOCK_CLASS",
    "OS_CLOCK_SYNC",
    "SYNC_STATE",
];

/// A running `upstream-sim`, killed on drop.
pub struct Sim {
    child: Child,
    port: u16,
    /// The API URL it printed.
    pub url: String,
}

impl Sim {
    pub fn start(port: u16, flavor: &str) -> Sim {
        let mut child = Command::new(binary("examples/upstream-sim"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--flavor",
                flavor,
                "--node",
                "node1",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning upstream-sim");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(DEADLINE).expect("upstream-sim ready line");
        let url = line
            .trim()
            .strip_prefix("upstream-sim listening on ")
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .to_owned();
        Sim { child, port, url }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Our subscriptions as the simulator holds them.
    fn subscriptions(&self) -> Vec<Value> {
        match request(self.port, "GET", "/sim/subscriptions") {
            Some((200, body)) => serde_json::from_str::<Vec<Value>>(&body).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Play one scenario step; the ids of the events pushed, per type.
    pub fn step(&self) -> Vec<(String, String)> {
        let (status, body) = request(self.port, "POST", "/sim/step").expect("POST /sim/step");
        assert_eq!(status, 200, "{body}");
        let events: Vec<Value> = serde_json::from_str(&body).expect("step events");
        events
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap_or_default().to_owned(),
                    e["id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A minimal HTTP/1.1 request (the tests package has no HTTP client):
/// status and body, or `None` when nothing answers.
fn request(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(DEADLINE)).ok()?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    // The simulator answers with Content-Length or chunked; undo chunking.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Wait until the simulator holds exactly `want` subscriptions to `broker`'s
/// receiver (and none to anyone else); returns how long it took.
pub fn wait_subscribed(sim: &Sim, broker: &Broker, want: usize) -> Duration {
    let start = Instant::now();
    let http = broker
        .endpoints
        .http
        .clone()
        .expect("http in the ready line");
    wait_until(&format!("{want} subscriptions to {http}"), || {
        let subs = sim.subscriptions();
        subs.len() == want
            && subs
                .iter()
                .all(|s| s["EndpointUri"].as_str().is_some_and(|e| e.contains(&http)))
    });
    start.elapsed()
}

/// Every probe sees every event of `ids` live, in the order of `ids` per
/// type, with increasing sequence numbers.
fn assert_delivered_in_order(probes: &mut [Probe], ids: &[(String, String)]) {
    for probe in probes.iter_mut() {
        for (_, id) in ids {
            probe.wait_for(&format!("event {id}"), |v| {
                v["id"] == id.as_str() && v["delivery"] == "live"
            });
        }
        for t in TYPES.iter().filter_map(|t| catalog::EventType::new(t).ok()) {
            let want: Vec<&str> = ids
                .iter()
                .filter(|(ty, _)| ty == t.as_str())
                .map(|(_, id)| id.as_str())
                .collect();
            let got: Vec<&str> = probe
                .events()
                .into_iter()
                .filter(|e| e["type"] == t.as_str())
                .filter_map(|e| e["id"].as_str())
                .filter(|id| want.contains(id))
                .collect();
            assert_eq!(got, want, "order of {t:?}");
        }
        // Each registration has its own callback thread, so only the order
        // within one type is promised.
        for t in TYPES.iter().filter_map(|t| catalog::EventType::new(t).ok()) {
            let seqs: Vec<u64> = probe
                .events()
                .iter()
                .filter(|e| e["delivery"] == "live" && e["type"] == t.as_str())
                .filter_map(|e| e["seq"].as_u64())
                .collect();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "live sequence numbers of {t:?} increase: {seqs:?}"
            );
        }
    }
}

fn start_probes(broker: &Broker, n: usize) -> Vec<Probe> {
    (0..n)
        .map(|_| Probe::start(&broker.endpoints, &TYPES, &[]))
        .collect()
}

#[test]
fn redhat_events_reach_every_client_and_survive_an_upstream_restart() {
    let port = free_port();
    let mut sim = Sim::start(port, "redhat");
    let broker = Broker::start(&["--upstream", &sim.url, "--node", "node1"]);
    wait_subscribed(&sim, &broker, SIM_RESOURCES);
    let mut probes = start_probes(&broker, 3);
    for probe in &probes {
        // The initial notification's state, taken at subscribe time.
        assert!(probe.events().iter().any(|e| e["type"]
            == "event.sync.ptp-status.ptp-state-change"
            && e["value"] == "LOCKED"));
    }
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.extend(sim.step());
    }
    assert_eq!(ids.len(), 12, "three steps of four events: {ids:?}");
    assert_delivered_in_order(&mut probes, &ids);

    // The upstream dies and comes back on the same port, having forgotten
    // every subscription; the broker is not touched.
    sim.kill9();
    let mut sim = Sim::start(port, "redhat");
    let took = wait_subscribed(&sim, &broker, SIM_RESOURCES);
    eprintln!("re-subscribed {took:?} after the upstream restart");
    let ids = sim.step();
    assert!(!ids.is_empty());
    assert_delivered_in_order(&mut probes, &ids);
    let stats = broker.stats();
    assert!(
        stats["upstream_resubscribes"] >= SIM_RESOURCES as u64,
        "{stats:?}"
    );
    assert_eq!(stats["upstream_subscribed"], SIM_RESOURCES as u64);
    assert_eq!(stats["rejected_http"], 0);
    sim.kill9();
}

#[test]
fn a_restarted_broker_replaces_the_earlier_runs_subscriptions() {
    let sim = Sim::start(free_port(), "redhat");
    let http = format!("127.0.0.1:{}", free_port());
    let mut first = Broker::start(&["--upstream", &sim.url, "--node", "node1", "--http", &http]);
    wait_subscribed(&sim, &first, SIM_RESOURCES);
    let endpoints = |subs: &[Value]| {
        let mut e: Vec<String> = subs
            .iter()
            .filter_map(|s| s["EndpointUri"].as_str().map(str::to_owned))
            .collect();
        e.sort();
        e.dedup();
        e
    };
    let before = endpoints(&sim.subscriptions());
    assert_eq!(
        before.len(),
        1,
        "one callback for every resource: {before:?}"
    );
    // A crash: nothing deleted upstream, and the first run's secret is gone.
    first.kill9();
    let second = Broker::start(&["--upstream", &sim.url, "--node", "node1", "--http", &http]);
    wait_until(
        "the earlier run's subscriptions replaced by the new run's",
        || {
            let subs = sim.subscriptions();
            let now = endpoints(&subs);
            subs.len() == SIM_RESOURCES && now.len() == 1 && now != before
        },
    );
    let after = endpoints(&sim.subscriptions());
    let secret = |e: &str| e.rsplit('/').next().unwrap_or_default().to_owned();
    assert_ne!(
        secret(&after[0]),
        secret(&before[0]),
        "a new secret per run"
    );
    assert!(
        after[0].starts_with(&format!("http://{http}/event/")),
        "{after:?}"
    );
    // And events flow to the new broker.
    let mut probes = start_probes(&second, 1);
    let ids = sim.step();
    assert_delivered_in_order(&mut probes, &ids);
    assert_eq!(second.stats()["upstream_subscribed"], SIM_RESOURCES as u64);
}

#[test]
fn a_stopped_broker_deletes_its_subscriptions() {
    let sim = Sim::start(free_port(), "redhat");
    let mut child = Command::new(binary("ptp-broker"))
        .args([
            "--emit",
            "tcp://127.0.0.1:0",
            "--pub",
            "tcp://127.0.0.1:0",
            "--query",
            "tcp://127.0.0.1:0",
        ])
        .args([
            "--http",
            "127.0.0.1:0",
            "--upstream",
            &sim.url,
            "--node",
            "node1",
        ])
        .env("PTP_BROKER_API__LISTEN", "127.0.0.1:0")
        .env("PTP_BROKER_MONITOR__LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning ptp-broker");
    let guard = KillOnDrop(&mut child);
    wait_until("7 subscriptions", || {
        sim.subscriptions().len() == SIM_RESOURCES
    });
    let status = Command::new("kill")
        .args(["-TERM", &guard.0.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = guard.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(start.elapsed() < DEADLINE, "broker did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        sim.subscriptions().len(),
        0,
        "every subscription deleted at shutdown"
    );
}

/// Kills the child if the test fails before it exits.
struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn starlingx_is_followed_from_a_url_without_prefix() {
    let sim = Sim::start(free_port(), "starlingx");
    // No prefix: the broker probes the known ones and finds StarlingX's.
    let base = format!("http://127.0.0.1:{}", sim.port);
    let broker = Broker::start(&[
        "--upstream",
        &base,
        "--flavor",
        "starlingx",
        "--node",
        "node1",
    ]);
    wait_subscribed(&sim, &broker, SIM_RESOURCES);
    let subs = sim.subscriptions();
    assert!(
        subs.iter().all(|s| s["ResourceAddress"]
            .as_str()
            .is_some_and(|r| r.starts_with("/./node1/sync/"))),
        "{subs:#?}"
    );
    let mut probes = start_probes(&broker, 2);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.extend(sim.step());
    }
    assert_delivered_in_order(&mut probes, &ids);
    assert_eq!(broker.stats()["rejected_http"], 0);
}

#[test]
fn an_upstream_that_starts_after_the_broker_is_followed() {
    let port = free_port();
    // Nothing listens there yet: the broker starts anyway and retries.
    let url = format!("http://127.0.0.1:{port}/api/ocloudNotifications/v2");
    let broker = Broker::start(&["--upstream", &url, "--node", "node1"]);
    wait_until("a failed attempt", || broker.stats()["upstream_errors"] > 0);
    let sim = Sim::start(port, "redhat");
    let took = wait_subscribed(&sim, &broker, SIM_RESOURCES);
    eprintln!("subscribed {took:?} after the late upstream started");
    let mut probes = start_probes(&broker, 1);
    let ids = sim.step();
    assert_delivered_in_order(&mut probes, &ids);
}
