//! `abuse`: replays every attack of issue 10 against a live `ptp-broker`
//! while a stream of good events flows, and prints, per attack, the good
//! events lost, how long queries went unanswered, how soon the broker
//! answered after the attack ended, peak RSS and CPU. `--write` puts the
//! table into docs/RELIABILITY.md; `--short` is the seconds-long version the
//! test suite runs (`tests/abuse/smoke.rs`), failing on any verdict "no".
//!
//! Layout: [`watch`] is the good stream and the measurements around an
//! attack (a real client process's view: confirmed emits, a registered
//! callback, stats queries, /proc samples); [`attacks`] are the attacks of
//! the table, [`sockets`] those on the limits added since.

mod attacks;
mod sockets;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Replay the abuse table of issue 10 against a live ptp-broker")]
struct Args {
    /// Small sizes and short holds (seconds in all): what CI runs.
    #[arg(long)]
    short: bool,
    /// Also write the table into docs/RELIABILITY.md (between the
    /// `<!-- abuse:begin -->` and `<!-- abuse:end -->` markers).
    #[arg(long)]
    write: bool,
    /// Rows to run (1–8) [default: all].
    #[arg(long, value_delimiter = ',')]
    rows: Vec<u8>,
}

/// One line of the report.
pub struct Row {
    pub number: u8,
    pub attack: String,
    pub measured: watch::Measured,
    /// What the attack itself observed (connections closed, modes…).
    pub notes: String,
    /// Every criterion of the "done when" that holds.
    pub ok: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let broker = match broker_binary() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("abuse: {e}");
            return ExitCode::from(2);
        }
    };
    let sizes = attacks::Sizes::new(args.short);
    let wanted = |n: u8| args.rows.is_empty() || args.rows.contains(&n);
    let mut rows = Vec::new();
    for (n, run) in attacks::ALL {
        if !wanted(*n) {
            continue;
        }
        eprintln!("abuse: row {n}");
        match run(&broker, &sizes) {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("abuse: row {n} could not run: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    let table = report(&rows, &sizes);
    println!("{table}");
    if args.write
        && let Err(e) = write_docs(&table)
    {
        eprintln!("abuse: cannot write docs/RELIABILITY.md: {e}");
        return ExitCode::from(2);
    }
    match rows.iter().all(|r| r.ok) {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}

/// `ptp-broker` next to this binary (`target/<profile>/`).
fn broker_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().ok_or_else(|| anyhow::anyhow!("no directory"))?;
    let broker = dir.join("ptp-broker");
    anyhow::ensure!(
        broker.exists(),
        "{} not built (cargo build -p broker)",
        broker.display()
    );
    Ok(broker)
}

fn report(rows: &[Row], sizes: &attacks::Sizes) -> String {
    let mut out = String::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = chrono_free_date();
    let exe = std::env::current_exe().ok();
    let build = match exe
        .as_ref()
        .and_then(|e| e.parent())
        .and_then(|d| d.file_name())
    {
        Some(d) if d == "release" => "release build",
        _ => "debug build",
    };
    out.push_str(&format!(
        "Machine: {cpu}, {cores} cores. Date: {date}. Command: `abuse{}` ({build}).\n\n",
        if sizes.short { " --short" } else { "" }
    ));
    out.push_str("| # | attack | good events accepted / lost | longest query silence (ms) | answering after the attack (ms) | peak RSS (MB) | CPU during (% of a core) | observed | met |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---|---|\n");
    for r in rows {
        let m = &r.measured;
        out.push_str(&format!(
            "| {} | {} | {} / {} | {} | {} | {:.1} | {:.0} | {} | {} |\n",
            r.number,
            r.attack,
            m.accepted,
            m.lost,
            m.longest_silence_ms,
            match m.recovery_ms {
                u64::MAX => "— (stopped)".to_owned(),
                ms => ms.to_string(),
            },
            m.peak_rss_kb as f64 / 1024.0,
            m.cpu_percent,
            r.notes,
            if r.ok { "yes" } else { "**no**" }
        ));
    }
    out
}

/// Today as YYYY-MM-DD, from `date` (no date crate needed in this package).
fn chrono_free_date() -> String {
    std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn write_docs(table: &str) -> std::io::Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/RELIABILITY.md");
    let text = std::fs::read_to_string(&path)?;
    let (begin, end) = ("<!-- abuse:begin -->", "<!-- abuse:end -->");
    let (Some(b), Some(e)) = (text.find(begin), text.find(end)) else {
        return Err(std::io::Error::other("markers not found"));
    };
    let updated = format!("{}{begin}\n{table}{}", &text[..b], &text[e..]);
    std::fs::write(path, updated)
}
