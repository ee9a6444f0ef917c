//! Keeps the benchmark suite from rotting: runs `bench --smoke` (a few
//! seconds, tiny sizes) and asserts only correctness — every subscriber got
//! every event — never timing. Needs `ptp-broker` built next to the bench
//! (`cargo test` of the workspace builds it), libzmq headers and
//! nats-server. Without them it fails and says so: `tests/run.sh` (the
//! suite's one command) installs them with `tests/bench/install-deps.sh`.

use std::path::Path;
use std::process::Command;

#[test]
fn bench_smoke_loses_nothing() {
    let bench = Path::new(env!("CARGO_BIN_EXE_bench"));
    let bin_dir = bench.parent().expect("bench has a directory");
    let mut missing = Vec::new();
    if !bin_dir.join("ptp-broker").exists() {
        // `cargo test -p ptp-broker-tests` alone does not build other packages' binaries.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "-q", "-p", "broker", "--bin", "ptp-broker"])
            .status()
            .is_ok_and(|s| s.success());
        if !built {
            missing.push("ptp-broker (cargo build -p broker failed)");
        }
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
        panic!(
            "bench smoke needs {}: run tests/run.sh (or tests/bench/install-deps.sh) first",
            missing.join(", ")
        );
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
