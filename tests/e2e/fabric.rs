//! The fabric: emit once, every registered callback in every process runs
//! once with that event, and only for its own type.
//!
//! One SUB stream is ordered, and each registration's callback runs in
//! order, so once a registration's last expected event has arrived,
//! everything before it has too: the lists below are compared exactly.

use serde_json::Value;

use crate::util::{Broker, Probe};

const OS: &str = "event.sync.sync-status.os-clock-sync-state-change";
const PTP: &str = "event.sync.ptp-status.ptp-state-change";
const SYNCE: &str = "event.sync.synce-status.synce-state-change";

/// (registration index, type, first value) of every live delivery.
fn live(probe: &Probe) -> Vec<(u64, String, String)> {
    probe
        .events()
        .into_iter()
        .filter(|e| e["delivery"] == "live")
        .map(|e| {
            (
                e["reg"].as_u64().unwrap_or(99),
                text(&e["type"]),
                text(&e["value"]),
            )
        })
        .collect()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn entry(reg: u64, t: &str, v: &str) -> (u64, String, String) {
    (reg, t.to_owned(), v.to_owned())
}

#[test]
fn every_process_gets_exactly_its_types_once() {
    let broker = Broker::start(&[]);
    let e = &broker.endpoints;
    let mut only_os = Probe::start(e, &["OS_CLOCK_SYNC"], &[]);
    let mut os_and_ptp = Probe::start(e, &["OS_CLOCK_SYNC", "PTP_LOCK_STATE"], &[]);
    // SYNCE_LOCK_STATE's type string is a prefix of the extended one's.
    let mut synce = Probe::start(e, &["SYNCE_LOCK_STATE"], &[]);
    let mut twice = Probe::start(e, &["OS_CLOCK_SYNC", "OS_CLOCK_SYNC"], &[]);

    // Emitted by a separate process, the way a tool or a test would.
    for (t, v) in [
        ("OS_CLOCK_SYNC", "holdover"),
        ("PTP_LOCK_STATE", "LOCKED"),
        ("SYNCE_LOCK_STATE_EXTENDED", "LOCKED"),
        ("SYNCE_LOCK_STATE", "FREERUN"),
        ("OS_CLOCK_SYNC", "Freerun"),
    ] {
        let out = broker.tool(&["emit", t, v]);
        assert!(
            out.status.success(),
            "emit {t}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    only_os.wait_for("last OS event", |v| v["value"] == "FREERUN");
    os_and_ptp.wait_for("last OS event", |v| {
        v["value"] == "FREERUN" && v["type"] == OS
    });
    os_and_ptp.wait_for("PTP event", |v| v["type"] == PTP);
    synce.wait_for("SyncE FREERUN", |v| v["value"] == "FREERUN");
    for reg in [0, 1] {
        twice.wait_for("last OS event, both callbacks", |v| {
            v["value"] == "FREERUN" && v["reg"] == reg
        });
    }

    // States arrive in O-RAN all caps whatever case was emitted.
    assert_eq!(
        live(&only_os),
        [entry(0, OS, "HOLDOVER"), entry(0, OS, "FREERUN")]
    );
    let mut got = live(&os_and_ptp);
    got.sort();
    assert_eq!(
        got,
        [
            entry(0, OS, "FREERUN"),
            entry(0, OS, "HOLDOVER"),
            entry(1, PTP, "LOCKED")
        ]
    );
    assert_eq!(
        live(&synce),
        [entry(0, SYNCE, "FREERUN")],
        "no extended-type event"
    );
    let mut got = live(&twice);
    got.sort();
    assert_eq!(
        got,
        [
            entry(0, OS, "FREERUN"),
            entry(0, OS, "HOLDOVER"),
            entry(1, OS, "FREERUN"),
            entry(1, OS, "HOLDOVER")
        ]
    );
    // Registered before anything was emitted: no initial state was given.
    assert!(only_os.events().iter().all(|e| e["delivery"] == "live"));
}

#[test]
fn events_emitted_by_clients_reach_other_processes_in_order() {
    let broker = Broker::start(&[]);
    let e = &broker.endpoints;
    let mut listener = Probe::start(e, &["PTP_CLOCK_CLASS"], &[]);
    let mut emitter = Probe::start(e, &[], &[]);
    for class in ["6", "7", "135", "165", "248", "6"] {
        emitter.send(&format!("emit PTP_CLOCK_CLASS {class}"));
    }
    crate::util::wait_until("six emit acks", || {
        emitter.drain();
        emitter
            .seen
            .iter()
            .filter(|v| v["kind"] == "emitted")
            .count()
            == 6
    });
    assert!(
        emitter
            .seen
            .iter()
            .filter(|v| v["kind"] == "emitted")
            .all(|v| v["ok"] == true),
        "{:?}",
        emitter.seen
    );
    crate::util::wait_until("six clock-class events", || {
        listener.drain();
        listener.events().len() >= 6
    });
    let values: Vec<String> = listener
        .events()
        .iter()
        .map(|e| text(&e["value"]))
        .collect();
    assert_eq!(values, ["6", "7", "135", "165", "248", "6"]);
    let seqs: Vec<u64> = listener
        .events()
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "contiguous seq: {seqs:?}"
    );
}

#[test]
fn ipc_endpoints_work() {
    let dir = std::env::temp_dir().join(format!("ptp-broker-ipc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let endpoint = |name: &str| format!("ipc://{}", dir.join(name).display());
    let (emit, publish, query) = (endpoint("emit"), endpoint("pub"), endpoint("query"));
    let broker = Broker::start_exact(&["--emit", &emit, "--pub", &publish, "--query", &query]);
    assert_eq!(broker.endpoints.publish, publish);
    let mut probe = Probe::start(&broker.endpoints, &["GNSS_SYNC_STATUS"], &[]);
    let out = broker.tool(&["emit", "GNSS_SYNC_STATUS", "SYNCHRONIZED"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    probe.wait_for("GNSS event over ipc", |v| v["value"] == "SYNCHRONIZED");
    drop(broker);
    // A broker killed with SIGKILL leaves its socket files; the next one
    // must still start on the same paths.
    let again = Broker::start_exact(&["--emit", &emit, "--pub", &publish, "--query", &query]);
    assert_eq!(again.endpoints.emit, emit);
    drop(again);
    std::fs::remove_dir_all(&dir).ok();
}
