//! Log lines: the filter (checked, never silently replaced) and the
//! format (text, or one JSON object a line).

/// A log filter as `log` or `RUST_LOG` give it: comma-separated directives,
/// each a level or `TARGET=LEVEL`. A bare word that is not a level would be
/// taken by tracing as a target logged at trace level: refused instead.
fn parse_filter(what: &str, text: &str) -> anyhow::Result<tracing_subscriber::EnvFilter> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |l: &str| LEVELS.iter().any(|x| x.eq_ignore_ascii_case(l.trim()));
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level_ok = match directive.rsplit_once('=') {
            Some((_, level)) => is_level(level),
            None => is_level(directive),
        };
        anyhow::ensure!(
            level_ok,
            "{what}: {directive:?} is not a level (off, error, warn, info, debug, trace) or TARGET=LEVEL"
        );
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(text)
        .map_err(|e| anyhow::anyhow!("{what}: {text:?} is not a log filter: {e}"))
}

pub fn init(filter: &str, format: broker::config::LogFormat, zeromq: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    // The zeromq crate logs every peer connect/disconnect at info.
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => parse_filter("RUST_LOG", &env)?,
        _ => parse_filter(
            "invalid log (--log, PTP_BROKER_LOG or the config file)",
            filter,
        )?
        .add_directive(format!("zeromq={zeromq}").parse()?),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // A log line that cannot be written (stderr a closed pipe) is lost;
        // by default tracing-subscriber then eprintln!s the error, which
        // panics on the same closed pipe and kills the task that logged:
        // the SIGTERM handler's, so the broker never stopped.
        .log_internal_errors(false);
    match format {
        broker::config::LogFormat::Text => builder.init(),
        broker::config::LogFormat::Json => builder.json().with_ansi(false).init(),
    }
    Ok(())
}
