//! Keeps the benchmark suite from rotting: runs `bench --smoke` (a few
//! seconds, tiny sizes) and asserts only correctness — every subscriber got
//! every event — never timing. Needs `ptp-broker` built next to the bench
//! (`cargo test` of the workspace builds it), libzmq headers and
//! nats-server (`tests/bench/install-deps.sh`). Without them the test is
//! skipped with a message, except under CI (`CI` set), where it fails.

use std::path::Path;
use std::process::Command;

#[test]
fn bench_smoke_loses_nothing() {
    let bench = Path::new(env!("CARGO_BIN_EXE_bench"));
    let bin_dir = bench.parent().expect("bench has a directory");
    let mut missing = Vec::new();
    if !bin_dir.join("ptp-broker").exists() {
        missing.push("ptp-broker (cargo build -p broker)");
    }
    if !Path::new("/usr/include/zmq.h").exists() {
        missing.push("libzmq3-dev");
    }
    if Command::new("nats-server")
        .arg("--version")
        .output()
        .is_err()
    {
        missing.push("nats-server");
    }
    if !missing.is_empty() {
        let msg = format!(
            "bench smoke needs {}; run tests/bench/install-deps.sh",
            missing.join(", ")
        );
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("skipped: {msg}");
        return;
    }
    let out = Command::new(bench)
        .arg("--smoke")
        .output()
        .expect("run bench");
    assert!(
        out.status.success(),
        "bench --smoke failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
