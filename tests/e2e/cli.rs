//! The binary as a user meets it: defaults, configuration errors, a taken
//! address, --help, and the terminal tools.

use std::process::Command;

use crate::util::{Broker, Probe, binary, free_port};

fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(binary("ptp-broker"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run ptp-broker")
}

#[test]
fn config_prints_the_defaults_and_layers_env_and_flags() {
    let out = run(&["config"], &[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "emit = \"tcp://127.0.0.1:9000\"",
        "pub = \"tcp://127.0.0.1:9001\"",
        "query = \"tcp://127.0.0.1:9002\"",
        "listen = \"0.0.0.0:8989\"",
        "path = \"/event\"",
    ] {
        assert!(text.contains(want), "missing {want} in:\n{text}");
    }
    let out = run(
        &["config", "--emit", "ipc:///tmp/x"],
        &[("PTP_BROKER_PUB", "tcp://127.0.0.1:7001")],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("emit = \"ipc:///tmp/x\"") && text.contains("pub = \"tcp://127.0.0.1:7001\""),
        "{text}"
    );
}

/// Arguments, environment, and the text the failure must mention.
type Case<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn configuration_mistakes_fail_the_start_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("ptp-broker-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "heartbeat_ms = 1000\nemitt = \"tcp://127.0.0.1:1\"\n",
    )
    .expect("write");
    let cases: Vec<Case<'_>> = vec![
        (
            vec!["--config".into(), file.display().to_string()],
            vec![],
            "emitt",
        ),
        (
            vec!["--emit".into(), "udp://1.2.3.4:5".into()],
            vec![],
            "not tcp://",
        ),
        (
            vec![],
            vec![("PTP_BROKER_HEARTBEAT_MS", "0")],
            "heartbeat_ms",
        ),
        (vec![], vec![("PTP_BROKER_NONSENSE", "1")], "nonsense"),
        (
            vec!["--config".into(), "/nonexistent/broker.toml".into()],
            vec![],
            "broker.toml",
        ),
    ];
    for (args, env, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args, &env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
        assert!(
            err.contains(want),
            "{args:?} {env:?}: wanted {want:?} in {err}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_address_in_use_is_a_clear_error() {
    let first = Broker::start(&[]);
    let taken = first.endpoints.publish.clone();
    let err = Broker::try_start(&[
        "--emit",
        "tcp://127.0.0.1:0",
        "--pub",
        &taken,
        "--query",
        "tcp://127.0.0.1:0",
    ])
    .err()
    .expect("second broker must not start");
    assert!(
        err.contains("cannot bind pub endpoint") && err.contains("already in use"),
        "{err}"
    );
}

#[test]
fn help_tells_the_truth() {
    let out = run(&["--help"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "emit",
        "watch",
        "state",
        "stats",
        "config",
        "--config",
        "PTP_BROKER_",
        "tcp://127.0.0.1:9000",
    ] {
        assert!(text.contains(want), "--help lacks {want}:\n{text}");
    }
    let out = run(&["emit", "--help"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("OS_CLOCK_SYNC") && text.contains("--resource"),
        "{text}"
    );
}

#[test]
fn emit_watch_and_state_from_a_terminal() {
    let broker = Broker::start(&[]);
    let mut probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    let mut watch = Command::new(binary("ptp-broker"))
        .args([
            "--pub",
            &broker.endpoints.publish,
            "--query",
            &broker.endpoints.query,
            "watch",
            "OS_CLOCK_SYNC",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("watch");
    let out = broker.tool(&[
        "emit",
        "OS_CLOCK_SYNC",
        "HOLDOVER",
        "--offset",
        "-42",
        "--resource",
        "/cluster/node/n1/CLOCK_REALTIME",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    probe.wait_for("emitted event", |v| v["value"] == "HOLDOVER");
    let out = broker.tool(&["state", "--json"]);
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::to_owned)
        .expect("one state line");
    let state: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert_eq!(
        state["type"],
        "event.sync.sync-status.os-clock-sync-state-change"
    );
    assert_eq!(
        state["data"]["values"][0]["ResourceAddress"],
        "/cluster/node/n1/CLOCK_REALTIME"
    );
    assert_eq!(state["data"]["values"][1]["value"], "-42");
    assert_eq!(state["seq"], 1);
    // watch registered after the emit: it prints the current state first.
    let stdout = watch.stdout.take().expect("watch stdout");
    let first = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .next()
        .and_then(Result::ok);
    let _ = watch.kill();
    let _ = watch.wait();
    let first: serde_json::Value =
        serde_json::from_str(&first.expect("watch printed")).expect("json");
    assert_eq!(first["data"]["values"][0]["value"], "HOLDOVER");
    let out = broker.tool(&["emit", "OS_CLOCK_SYNC", "sideways"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither a sync state"));
    let _ = free_port;
}
