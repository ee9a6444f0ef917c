//! A live broker, the good stream that must survive an attack, and what is
//! measured around the attack.
//!
//! The good stream is what an application sees: confirmed emits of an
//! application type every 10 ms and a registered callback that must get each
//! of them. Queries (`stats`, 500 ms timeout) every 100 ms tell whether the
//! broker answers; /proc tells its RSS and CPU.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use client::{Client, ClientConfig};
use proto::{Content, Event};

/// The application type of the good stream.
const GOOD: &str = "com.example.abuse.good";

/// How long the broker may take to answer again after an attack ends.
pub const RECOVERY_LIMIT: Duration = Duration::from_secs(2);

/// A `ptp-broker` process, killed on drop.
pub struct Broker {
    child: Child,
    pub emit: String,
    pub publish: String,
    pub query: String,
    pub http: Option<String>,
    /// Lines the broker wrote to stderr so far.
    pub log_lines: Arc<AtomicU64>,
}

impl Broker {
    /// Start `binary args…`, through `sh -c "<prefix>; exec …"` when a
    /// shell prefix (`ulimit -n 256`, `umask 000`) is given.
    pub fn start(binary: &Path, args: &[&str], prefix: Option<&str>) -> anyhow::Result<Broker> {
        Broker::start_with_env(binary, args, prefix, &[])
    }

    /// As [`Broker::start`], with `env` added to the environment.
    pub fn start_with_env(
        binary: &Path,
        args: &[&str],
        prefix: Option<&str>,
        env: &[(&str, String)],
    ) -> anyhow::Result<Broker> {
        let mut command = match prefix {
            Some(prefix) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("{prefix}; exec \"$0\" \"$@\""))
                    .arg(binary);
                c
            }
            None => Command::new(binary),
        };
        command
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PTP_BROKER_API__LISTEN", "127.0.0.1:0")
            .env("PTP_BROKER_MONITOR__LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("stdout"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow::anyhow!("stderr"))?;
        let log_lines = Arc::new(AtomicU64::new(0));
        let counted = log_lines.clone();
        std::thread::spawn(move || {
            for _ in BufReader::new(stderr).lines().map_while(Result::ok) {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut broker = Broker {
            child,
            emit: String::new(),
            publish: String::new(),
            query: String::new(),
            http: None,
            log_lines,
        };
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .map_err(|_| anyhow::anyhow!("no ready line"))?;
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .map(str::to_owned)
        };
        broker.emit = field("emit").ok_or_else(|| anyhow::anyhow!("ready line {line:?}"))?;
        broker.publish = field("pub").ok_or_else(|| anyhow::anyhow!("ready line {line:?}"))?;
        broker.query = field("query").ok_or_else(|| anyhow::anyhow!("ready line {line:?}"))?;
        broker.http = field("http");
        Ok(broker)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then wait (20 s at most) for the exit; true when it exited 0.
    pub fn stop(&mut self) -> bool {
        signal(self.pid(), "TERM");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Send SIG`name` to `pid` with kill(1).
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status();
}

/// What one attack cost.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Good events the broker confirmed.
    pub accepted: u64,
    /// Of those, how many the registered callback never got.
    pub lost: u64,
    /// Longest time without a query answer while the attack ran.
    pub longest_silence_ms: u64,
    /// From the end of the attack to the first answer after it.
    pub recovery_ms: u64,
    /// Highest RSS seen.
    pub peak_rss_kb: u64,
    /// CPU of the broker while the attack ran, % of one core.
    pub cpu_percent: f64,
}

struct Shared {
    stop: AtomicBool,
    accepted: Mutex<HashSet<String>>,
    received: Mutex<HashSet<String>>,
    last_answer: Mutex<Instant>,
    /// When the attack ended, and the first answer after it.
    after_attack: Mutex<(Option<Instant>, Option<Instant>)>,
    longest_silence: Mutex<Duration>,
    peak_rss_kb: AtomicU64,
}

/// The good stream and the samplers, running.
pub struct Watch {
    shared: Arc<Shared>,
    pid: u32,
    query: String,
    threads: Vec<std::thread::JoinHandle<()>>,
    _client: Client,
    begun: Option<(Instant, u64)>,
    ended: Option<(Instant, u64)>,
}

impl Watch {
    /// Register the callback, then start emitting, querying and sampling.
    pub fn start(broker: &Broker) -> anyhow::Result<Watch> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            accepted: Mutex::new(HashSet::new()),
            received: Mutex::new(HashSet::new()),
            last_answer: Mutex::new(Instant::now()),
            after_attack: Mutex::new((None, None)),
            longest_silence: Mutex::new(Duration::ZERO),
            peak_rss_kb: AtomicU64::new(0),
        });
        let config = ClientConfig::with_endpoints(&broker.emit, &broker.publish, &broker.query);
        let client = Client::new(config.clone())?;
        let good = catalog::EventType::new(GOOD)?;
        let received = shared.clone();
        client.register(good.clone(), move |e: &Event| {
            if let Ok(mut set) = received.received.lock() {
                set.insert(e.id.clone());
            }
        })?;
        let mut threads = Vec::new();
        let s = shared.clone();
        let emitter = client.clone();
        threads.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !s.stop.load(Ordering::Relaxed) {
                n += 1;
                let event = Event::synthetic(
                    good.clone(),
                    Content::parse(&n.to_string(), None).unwrap_or(Content::Values(Vec::new())),
                );
                if emitter.emit_event(&event).is_ok()
                    && let Ok(mut set) = s.accepted.lock()
                {
                    set.insert(event.id);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }));
        let s = shared.clone();
        let mut quick = config;
        quick.timeout = Duration::from_millis(500);
        let querier = Client::new(quick)?;
        threads.push(std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                if querier.broker_stats().is_ok() {
                    let now = Instant::now();
                    if let (Ok(mut last), Ok(mut longest)) =
                        (s.last_answer.lock(), s.longest_silence.lock())
                    {
                        *longest = (*longest).max(now.duration_since(*last));
                        *last = now;
                    }
                    if let Ok(mut after) = s.after_attack.lock()
                        && after.0.is_some()
                        && after.1.is_none()
                    {
                        after.1 = Some(now);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
        let s = shared.clone();
        let pid = broker.pid();
        threads.push(std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                s.peak_rss_kb.fetch_max(rss_kb(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        }));
        // Let the stream run a moment before the attack.
        std::thread::sleep(Duration::from_millis(300));
        Ok(Watch {
            shared,
            pid,
            query: broker.query.clone(),
            threads,
            _client: client,
            begun: None,
            ended: None,
        })
    }

    pub fn attack_begins(&mut self) {
        if let Ok(mut longest) = self.shared.longest_silence.lock() {
            *longest = Duration::ZERO;
        }
        self.begun = Some((Instant::now(), cpu_ticks(self.pid)));
    }

    /// The attack is over. CPU is measured over at least one second from
    /// its start: a shorter window is below the clock tick's resolution.
    pub fn attack_ends(&mut self) {
        let end = Instant::now();
        if let Ok(mut after) = self.shared.after_attack.lock() {
            *after = (Some(end), None);
        }
        if let Some((begun, _)) = self.begun {
            let window = begun + Duration::from_secs(1);
            if end < window {
                std::thread::sleep(window - end);
            }
        }
        self.ended = Some((end, cpu_ticks(self.pid)));
    }

    /// Wait for the first answer after the attack (up to 10 s), let the
    /// stream run a little more, stop it, and wait for the deliveries.
    pub fn finish(self) -> Measured {
        let ended = self.ended.map_or_else(Instant::now, |(t, _)| t);
        let start = Instant::now();
        let mut recovery = None;
        while start.elapsed() < Duration::from_secs(10) {
            // The first answer after the attack, not the latest: checks
            // an attack makes after its end must not count as silence.
            if let Ok(after) = self.shared.after_attack.lock()
                && let Some(first) = after.1
            {
                recovery = Some(first.saturating_duration_since(ended));
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(500));
        let silence = self
            .shared
            .longest_silence
            .lock()
            .map(|d| *d)
            .unwrap_or_default();
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        let accepted = self
            .shared
            .accepted
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(5);
        let lost = loop {
            let received = self
                .shared
                .received
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default();
            let lost = accepted.difference(&received).count() as u64;
            if lost == 0 || Instant::now() > deadline {
                break lost;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let cpu_percent = match (self.begun, self.ended) {
            (Some((t0, c0)), Some((t1, c1))) => {
                let ticks = clock_ticks_per_second();
                let secs = t1.duration_since(t0).as_secs_f64().max(1.0);
                (c1.saturating_sub(c0) as f64 / ticks) / secs * 100.0
            }
            _ => 0.0,
        };
        let _ = &self.query;
        Measured {
            accepted: accepted.len() as u64,
            lost,
            longest_silence_ms: silence.as_millis() as u64,
            recovery_ms: recovery.map_or(u64::MAX, |d| d.as_millis() as u64),
            peak_rss_kb: self.shared.peak_rss_kb.load(Ordering::Relaxed),
            cpu_percent,
        }
    }
}

/// VmRSS of `pid` in kB (0 when gone).
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after ") S".
    field(11) + field(12)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}
