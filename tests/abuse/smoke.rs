//! The short version of `abuse` (seconds): every attack of issue 10's table
//! against a live broker, failing on any good event lost, a broker that does
//! not answer within 2 s of an attack's end, RSS over its bound, a busy loop,
//! wrong ipc socket modes or a death by signal. Measurements, not timings:
//! the verdicts are the "done when" criteria.

use std::path::Path;
use std::process::Command;

#[test]
fn every_attack_is_survived() {
    let abuse = Path::new(env!("CARGO_BIN_EXE_abuse"));
    let bin_dir = abuse.parent().expect("abuse has a directory");
    if !bin_dir.join("ptp-broker").exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "-q", "-p", "broker", "--bin", "ptp-broker"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(built, "cargo build -p broker failed");
    }
    let out = Command::new(abuse)
        .arg("--short")
        .output()
        .expect("run abuse");
    assert!(
        out.status.success(),
        "abuse --short failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
