//! Process guards and polling helpers for the end-to-end tests.
//!
//! Every child process lives in a guard whose `Drop` kills and reaps it, so
//! a failing assertion never leaves a broker or a client behind. Nothing
//! sleeps to synchronize: tests wait for a line or a condition, with a
//! deadline.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Held by the tests that load both cores for seconds (thousands of emits,
/// fifty client processes), so that they do not run at the same time: each
/// is a test of behaviour under its own load, not of the scheduler.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Path of a binary of this workspace, built by `cargo test --workspace`
/// (`target/<profile>/NAME`; examples under `examples/`). Builds it if missing,
/// so `cargo test -p ptp-broker-tests` alone works too.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_path_buf();
    let path = profile_dir.join(name);
    if !path.exists() {
        let (package, kind) = match name {
            "ptp-broker" => ("broker", "--bin"),
            "probe-client" => ("ptp-broker-tests", "--bin"),
            n if n.starts_with("examples/") => ("ptp-broker-examples", "--example"),
            other => panic!("unknown binary {other}"),
        };
        let target = name.trim_start_matches("examples/");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", package, kind, target])
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building {name} failed");
    }
    path
}

/// A free TCP port on 127.0.0.1 for tests that must restart on the same
/// port. It is below the kernel's ephemeral range, so that between a kill
/// and the restart neither a `:0` bind of another test nor a client's
/// source port can take it (a client reconnecting to a dead local port in
/// that range can even connect to itself, which holds the port).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const LOW: u16 = 10_000;
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let span = ephemeral.saturating_sub(LOW).max(1);
    // Each test process starts at its own place, then counts up.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % u32::from(span)) as u16;
    let _ = NEXT.compare_exchange(0, start.max(1), Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..span {
        let port = LOW + NEXT.fetch_add(1, Ordering::Relaxed) % span;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{ephemeral}");
}

/// Poll `condition` until it holds or the deadline passes.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The endpoints a running broker printed in its ready line.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub emit: String,
    pub publish: String,
    pub query: String,
    pub http: Option<String>,
    /// The O-RAN v2 API listener (`api=`), when served.
    pub api: Option<String>,
    /// The monitor listener (`monitor=`): metrics, health, the live page.
    pub monitor: Option<String>,
    pub epoch: u64,
}

impl Endpoints {
    /// The environment a client needs to find this broker.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PTP_BROKER_EMIT", self.emit.clone()),
            ("PTP_BROKER_PUB", self.publish.clone()),
            ("PTP_BROKER_QUERY", self.query.clone()),
        ]
    }

    fn parse(line: &str) -> Option<Endpoints> {
        let rest = line.strip_prefix("ptp-broker ready ")?;
        let mut e = Endpoints::default();
        for field in rest.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            match k {
                "emit" => e.emit = v.to_owned(),
                "pub" => e.publish = v.to_owned(),
                "query" => e.query = v.to_owned(),
                "http" => e.http = Some(v.to_owned()),
                "api" => e.api = Some(v.to_owned()),
                "monitor" => e.monitor = Some(v.to_owned()),
                "epoch" => e.epoch = v.parse().ok()?,
                _ => {}
            }
        }
        Some(e)
    }
}

/// A running `ptp-broker`, killed on drop.
pub struct Broker {
    child: Child,
    pub endpoints: Endpoints,
    stderr: mpsc::Receiver<String>,
    /// Its own state directory (unless `--state-dir` was given), removed
    /// on drop: nothing a test subscribes may outlive it or reach another
    /// test's broker through the user's default state directory.
    state_dir: PathBuf,
}

impl Broker {
    /// Start with every endpoint on a free port of 127.0.0.1 (HTTP too),
    /// plus `args`, and wait for the ready line.
    pub fn start(args: &[&str]) -> Broker {
        let mut full = vec![
            "--emit",
            "tcp://127.0.0.1:0",
            "--pub",
            "tcp://127.0.0.1:0",
            "--query",
            "tcp://127.0.0.1:0",
        ];
        full.extend_from_slice(args);
        Broker::start_exact(&full)
    }

    /// Start with exactly `args` (HTTP still on a free port unless set).
    pub fn start_exact(args: &[&str]) -> Broker {
        Broker::try_start(args).unwrap_or_else(|e| panic!("broker did not start: {e}"))
    }

    /// Start, or say why not (the exit code and stderr).
    pub fn try_start(args: &[&str]) -> Result<Broker, String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let state_dir = std::env::temp_dir().join(format!(
            "ptp-broker-e2e-state-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let mut command = Command::new(binary("ptp-broker"));
        // The environment beats a config file: a test that gives one may
        // set state_dir there, so it keeps that (or the default).
        if !args.contains(&"--config") {
            command.env("PTP_BROKER_STATE_DIR", &state_dir);
        }
        let mut child = command
            .args(args)
            .env("PTP_BROKER_HTTP__LISTEN", "127.0.0.1:0")
            .env("PTP_BROKER_API__LISTEN", "127.0.0.1:0")
            .env("PTP_BROKER_MONITOR__LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning ptp-broker");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if err_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut broker = Broker {
            child,
            endpoints: Endpoints::default(),
            stderr: err_rx,
            state_dir,
        };
        match rx.recv_timeout(DEADLINE) {
            Ok(line) => match Endpoints::parse(&line) {
                Some(endpoints) => {
                    broker.endpoints = endpoints;
                    Ok(broker)
                }
                None => Err(format!("unexpected first line {line:?}")),
            },
            Err(_) => {
                // Exited (or hung: then killed); its stderr is complete at EOF.
                let status = broker.child.try_wait().ok().flatten();
                let _ = broker.child.kill();
                let _ = broker.child.wait();
                let err: Vec<String> = broker.stderr.iter().collect();
                Err(format!("exit {status:?}, stderr: {}", err.join("\n")))
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait (with the deadline) for the broker to exit on its own; its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            assert!(start.elapsed() < DEADLINE, "broker did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Run `ptp-broker <args>` as a terminal tool against this broker.
    pub fn tool(&self, args: &[&str]) -> std::process::Output {
        Command::new(binary("ptp-broker"))
            .args([
                "--emit",
                &self.endpoints.emit,
                "--pub",
                &self.endpoints.publish,
                "--query",
                &self.endpoints.query,
            ])
            .args(args)
            .output()
            .expect("running ptp-broker tool")
    }

    /// The broker's counters, via `ptp-broker stats`.
    pub fn stats(&self) -> std::collections::BTreeMap<String, u64> {
        let out = self.tool(&["stats"]);
        assert!(
            out.status.success(),
            "stats failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// A running `probe-client`, killed on drop. Collects its JSON lines.
pub struct Probe {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    /// Every line read so far.
    pub seen: Vec<Value>,
}

impl Probe {
    /// Start a probe that registers `types` against `endpoints`; returns once
    /// it printed `ready` (every registration in effect).
    pub fn start(endpoints: &Endpoints, types: &[&str], extra: &[&str]) -> Probe {
        let mut probe = Probe::spawn(endpoints, types, extra);
        probe.wait_for("ready", |v| v["kind"] == "ready");
        probe
    }

    /// Start without waiting for `ready`.
    pub fn spawn(endpoints: &Endpoints, types: &[&str], extra: &[&str]) -> Probe {
        let mut command = Command::new(binary("probe-client"));
        for t in types {
            command.args(["--register", t]);
        }
        command
            .args(extra)
            .envs(endpoints.env())
            .env("RUST_LOG", "warn");
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning probe-client");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Probe {
            child,
            stdin,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Read lines until one satisfies `pred`; returns it. Fails on an
    /// `error` line or at the deadline.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_after(0, what, pred)
    }

    /// As [`Probe::wait_for`], looking only at lines from index `from` on.
    pub fn wait_for_after(
        &mut self,
        from: usize,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(v) = self.seen.iter().skip(from).find(|v| pred(v)) {
            return v.clone();
        }
        let start = Instant::now();
        loop {
            let left = DEADLINE.checked_sub(start.elapsed()).unwrap_or_default();
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    assert_ne!(
                        v["kind"], "error",
                        "probe reported an error while waiting for {what}: {:#?}",
                        self.seen
                    );
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "timed out waiting for {what}; probe printed {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// How many lines were read so far (for [`Probe::wait_for_after`]).
    pub fn lines_seen(&mut self) -> usize {
        self.drain();
        self.seen.len()
    }

    /// Read whatever has arrived, without waiting.
    pub fn drain(&mut self) {
        self.seen.extend(self.lines.try_iter());
    }

    /// Send a command line.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("writing to probe");
        stdin.flush().expect("flushing probe stdin");
    }

    /// The event lines seen so far.
    pub fn events(&self) -> Vec<&Value> {
        self.seen.iter().filter(|v| v["kind"] == "event").collect()
    }

    /// Ask for the client's counters and wait for them.
    pub fn stats(&mut self) -> Value {
        let from = self.seen.len();
        self.send("stats");
        self.wait_for_after(from, "stats", |v| v["kind"] == "stats")
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
