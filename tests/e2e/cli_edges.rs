//! The rough edges a new user found in the command line, each filed off
//! (issue: operate it like a node daemon).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::util::{Broker, binary, wait_until};

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(binary("ptp-broker"))
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("running ptp-broker");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_env_error_names_the_variable_and_says_it_once() {
    let (code, _, err) = run(&["config"], &[("PTP_BROKER_HEARTBEAT_MS", "abc")]);
    assert_eq!(code, 2);
    assert!(err.contains("PTP_BROKER_HEARTBEAT_MS"), "{err}");
    assert_eq!(err.matches("invalid type").count(), 1, "said twice: {err}");
    let (code, _, err) = run(&["--upstream", "nope", "config"], &[]);
    assert_eq!(code, 2);
    assert_eq!(err.matches("relative URL").count(), 1, "said twice: {err}");
}

#[test]
fn a_bad_log_filter_stops_the_start_and_says_where_it_came_from() {
    let (code, _, err) = run(&["--log", "verbose", "config"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--log") && err.contains("\"verbose\""),
        "{err}"
    );
    let (code, _, err) = run(&["config"], &[("RUST_LOG", "info,zeromq=loud")]);
    assert_eq!(code, 2);
    assert!(err.contains("RUST_LOG"), "{err}");
    let (code, _, _) = run(&["--log", "debug,zeromq=warn", "config"], &[]);
    assert_eq!(code, 0, "a good filter passes");
}

#[test]
fn log_format_json_writes_one_object_a_line() {
    let mut child = Command::new(binary("ptp-broker"))
        .args(["--log-format", "json", "--no-api"])
        .args(["--emit", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0"])
        .args(["--query", "tcp://127.0.0.1:0", "--monitor", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning ptp-broker");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().and_then(Result::ok);
    let _ = child.kill();
    let _ = child.wait();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let first = first.expect("a log line");
    for line in std::iter::once(&first).chain(&rest) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{v}"
        );
    }
    assert!(first.contains("ptp-broker ready"), "{first}");
}

#[test]
fn state_into_a_closed_pipe_ends_quietly() {
    let broker = Broker::start(&[]);
    let client = client::Client::new(client::ClientConfig::with_endpoints(
        &broker.endpoints.emit,
        &broker.endpoints.publish,
        &broker.endpoints.query,
    ))
    .expect("client");
    // Far more than a pipe buffer, so the writer meets the closed pipe.
    for i in 0..400 {
        let content = proto::Content::parse(
            "LOCKED",
            Some(format!("/e2e/pipe/{i:04}/{}", "x".repeat(200))),
        )
        .expect("content");
        client.emit(catalog::OS_CLOCK_SYNC, content).expect("emit");
    }
    let mut child = Command::new(binary("ptp-broker"))
        .args([
            "--query",
            &broker.endpoints.query,
            "--pub",
            &broker.endpoints.publish,
        ])
        .args(["state", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("state");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    drop(stdout); // `| head -1`
    let out = child.wait_with_output().expect("state ends");
    assert!(first.starts_with('{'), "{first}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {err}", out.status);
    assert!(
        !err.contains("Broken pipe") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn mistakes_get_hints_not_puzzles() {
    // A broker flag after a subcommand.
    let (code, _, err) = run(&["watch", "--http", "1.2.3.4:1"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("hint: --http is a flag of the broker itself"),
        "{err}"
    );
    // An upper-case name that is not one lists the names.
    let (code, _, err) = run(&["emit", "FOO_BAR", "1"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("OS_CLOCK_SYNC") && err.contains("PTP_LOCK_STATE"),
        "{err}"
    );
    // --emit does not silently go elsewhere.
    let (code, _, err) = run(
        &[
            "--emit",
            "tcp://127.0.0.1:9",
            "emit",
            "OS_CLOCK_SYNC",
            "LOCKED",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("query endpoint") && err.contains("--query"),
        "{err}"
    );
    // "all" is said as such.
    let (code, out, _) = run(&["config"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("resources = []  # empty: every O-RAN resource"),
        "{out}"
    );
    // --help and --version succeed.
    assert_eq!(run(&["--help"], &[]).0, 0);
    assert_eq!(run(&["--version"], &[]).0, 0);
}

#[test]
fn watch_with_no_broker_names_both_endpoints_and_leaks_no_zeromq_warnings() {
    let (code, _, err) = run(
        &[
            "--pub",
            "tcp://127.0.0.1:9",
            "--query",
            "tcp://127.0.0.1:7",
            "watch",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("tcp://127.0.0.1:9 (PUB) and tcp://127.0.0.1:7 (query)"),
        "{err}"
    );
    for line in err.lines().filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with("ptp-broker"),
            "a line that is not ours: {line:?}\n{err}"
        );
    }
}

#[test]
fn state_labels_its_numbers() {
    let broker = Broker::start(&[]);
    for args in [
        &["emit", "OS_CLOCK_SYNC", "LOCKED", "--offset", "-7"][..],
        &["emit", "PTP_CLOCK_CLASS", "248"],
    ] {
        assert!(broker.tool(args).status.success());
    }
    let mut text = String::new();
    wait_until("both rows", || {
        text = String::from_utf8_lossy(&broker.tool(&["state"]).stdout).into_owned();
        text.lines().count() >= 2
    });
    assert!(text.contains(" LOCKED offset=-7 ns [synthetic]"), "{text}");
    assert!(text.contains(" clock-class=248 [synthetic]"), "{text}");
}

#[test]
fn completions_and_the_man_page_come_from_the_definitions() {
    let (code, out, _) = run(&["completions", "bash"], &[]);
    assert_eq!(code, 0);
    for sub in ["emit", "watch", "state", "stats", "subscribe"] {
        assert!(out.contains(sub), "{sub} in the bash completion");
    }
    let (code, out, _) = run(&["completions", "zsh"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("#compdef ptp-broker"),
        "{}",
        &out[..out.len().min(80)]
    );
    let (code, out, _) = run(&["man"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH ptp-broker 1"), "roff");
    assert!(out.contains("monitor"), "the flags are in it");
}
