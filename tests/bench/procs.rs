//! Child processes the bench owns: spawned with piped stdio, read line by
//! line with deadlines, and always killed. [`Proc`]'s `Drop` kills and
//! reaps, so every path out of a scenario, a `?` or a panic, leaves no
//! process behind.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

/// A running child process and its stdout, as lines.
pub struct Proc {
    /// Short name for messages and the log file.
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    /// Lines of stdout, read by a thread so waits can have deadlines.
    lines: mpsc::Receiver<String>,
    /// Where stderr goes, named in errors.
    log: PathBuf,
}

impl Proc {
    /// Spawn `command` with stdin/stdout piped and stderr to `logs/<name>.log`.
    pub fn spawn(name: &str, mut command: Command, logs: &Path) -> anyhow::Result<Proc> {
        std::fs::create_dir_all(logs)?;
        let log = logs.join(format!("{name}.log"));
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("spawn {name}: {command:?}"))?;
        let stdout = child.stdout.take().context("stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Proc {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            log,
        })
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line, waiting until `deadline`.
    pub fn line(&mut self, deadline: Instant) -> anyhow::Result<String> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(line) => Ok(line),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bail!(
                    "{}: no output in time (see {})",
                    self.name,
                    self.log.display()
                )
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().ok();
                bail!(
                    "{}: exited ({status:?}) (see {})",
                    self.name,
                    self.log.display()
                )
            }
        }
    }

    /// Wait for a line starting with `prefix`; other lines are skipped.
    pub fn expect(&mut self, prefix: &str, deadline: Instant) -> anyhow::Result<String> {
        loop {
            let line = self.line(deadline)?;
            if line.starts_with(prefix) {
                return Ok(line);
            }
        }
    }

    /// Wait for a line containing `text` (log lines of third-party servers).
    pub fn expect_containing(&mut self, text: &str, deadline: Instant) -> anyhow::Result<String> {
        loop {
            let line = self.line(deadline)?;
            if line.contains(text) {
                return Ok(line);
            }
        }
    }

    /// Send one line to stdin.
    pub fn tell(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| anyhow!("stdin closed"))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .with_context(|| format!("{}: write stdin", self.name))
    }

    /// Current resident set size, bytes.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        rss_bytes(self.pid())
    }
}

/// Resident set size of `pid`, bytes (`VmRSS` in /proc/PID/status).
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

/// CPU time used by `pid`, user + system (/proc/PID/stat fields 14 and 15).
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; fields after it don't.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields.get(i).context("stat field")?.parse().context("stat")
    };
    // `after` starts at field 3, so field 14 is index 11.
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_secs_f64(total as f64 / clock_ticks() as f64))
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kernel clock ticks per second for /proc times (`getconf CLK_TCK`).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// A value of the form `key=VALUE` in a ready line.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}
