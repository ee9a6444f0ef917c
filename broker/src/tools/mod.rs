//! `ptp-broker emit | watch | state | stats`: the broker from a terminal,
//! through the same client library applications use.

pub mod subscriptions;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use broker::Config;
use catalog::EventType;
use client::{Client, ClientConfig};
use proto::{Content, Event, cloudevent};

/// `ptp-broker emit`.
#[derive(Debug, clap::Args)]
pub struct EmitArgs {
    /// Event type: a constant name (OS_CLOCK_SYNC), an O-RAN type string, or an application type.
    #[arg(value_name = "TYPE", value_parser = parse_type)]
    event_type: EventType,
    /// A sync state (LOCKED, HOLDOVER, FREERUN, … any case) or a number (clock class, offset).
    #[arg(value_name = "VALUE")]
    value: String,
    /// Resource address the value is about [default: the type's resource path].
    #[arg(long, value_name = "PATH")]
    resource: Option<String>,
    /// Offset in ns, sent with a state as a second (metric) value.
    #[arg(long, allow_hyphen_values = true, value_name = "NS")]
    offset: Option<i64>,
}

/// `ptp-broker watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Event types to watch (constant names or type strings) [default: all O-RAN types].
    #[arg(value_name = "TYPE", value_parser = parse_type)]
    types: Vec<EventType>,
    /// One JSON object per line, in the O-RAN CloudEvent shape plus epoch, seq and origin.
    #[arg(long)]
    json: bool,
}

/// `ptp-broker state`.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// Event types to show (constant names or type strings) [default: all].
    #[arg(value_name = "TYPE", value_parser = parse_type)]
    types: Vec<EventType>,
    /// One JSON object per line, as `watch --json`.
    #[arg(long)]
    json: bool,
}

fn parse_type(s: &str) -> Result<EventType, String> {
    EventType::new(s).map_err(|e| {
        // An upper-case name is meant as one of the catalog's constants.
        let constant = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if constant {
            let names: Vec<&str> = catalog::ALL.iter().map(|e| e.name()).collect();
            format!(
                "unknown event type name {s:?}; the names are {} (or give a type string such as event.sync.ptp-status.ptp-state-change, or an application type such as my-app.alarm)",
                names.join(", ")
            )
        } else {
            e.to_string()
        }
    })
}

fn client_for(config: &Config) -> anyhow::Result<Client> {
    let cc = ClientConfig::with_endpoints(&config.emit, &config.publish, &config.query);
    Client::new(cc).context("starting the client")
}

pub async fn emit(config: &Config, args: EmitArgs) -> anyhow::Result<ExitCode> {
    let mut content = Content::parse(&args.value, args.resource).map_err(anyhow::Error::msg)?;
    if let (Some(ns), Content::State { offset, .. }) = (args.offset, &mut content) {
        *offset = Some(ns);
    }
    let event = Event::synthetic(args.event_type, content);
    let client = client_for(config)?;
    let seq = client
        .emit_async(&event)
        .await
        .with_context(|| format!("emitting to {}", config.query))?;
    println!("emitted {} {} as seq {seq}", event.event_type, event.id);
    Ok(ExitCode::SUCCESS)
}

pub async fn watch(config: &Config, args: WatchArgs) -> anyhow::Result<ExitCode> {
    let client = client_for(config)?;
    let types: Vec<EventType> = if args.types.is_empty() {
        catalog::ALL.iter().map(EventType::from).collect()
    } else {
        args.types
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    for t in types {
        let mut stream = client
            .subscribe(t.clone())
            .await
            .with_context(|| format!("subscribing to {t}"))?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(e) = stream.next_event().await {
                if tx.send(e).is_err() {
                    break;
                }
            }
        });
    }
    client.on_status(|s| eprintln!("ptp-broker watch: broker {s}"));
    drop(tx);
    let mut out = std::io::stdout().lock();
    while let Some(event) = rx.recv().await {
        print_event(&mut out, &event, args.json)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn state(config: &Config, args: StateArgs) -> anyhow::Result<ExitCode> {
    let client = client_for(config)?;
    let types = args.types;
    let current = tokio::task::spawn_blocking(move || client.current_state(&types))
        .await?
        .with_context(|| format!("querying {}", config.query))?;
    let mut out = std::io::stdout().lock();
    if current.events.is_empty() && current.unknown.is_empty() && !args.json {
        eprintln!("(no state yet)");
    }
    for event in &current.events {
        print_event(&mut out, event, args.json)?;
    }
    for event_type in &current.unknown {
        if args.json {
            let line = serde_json::json!({"type": event_type.as_str(), "state": "unknown"});
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{event_type} UNKNOWN (the upstream is followed but has not reported it yet)"
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn stats(config: &Config) -> anyhow::Result<ExitCode> {
    let client = client_for(config)?;
    let (counters, connections) = tokio::task::spawn_blocking(move || {
        Ok::<_, client::Error>((client.broker_stats()?, client.broker_connections()?))
    })
    .await?
    .with_context(|| format!("querying {}", config.query))?;
    let mut out = std::io::stdout().lock();
    for (name, value) in counters {
        writeln!(out, "{name} {value}")?;
    }
    // Like nats-server's /connz: one line per PUB subscriber connection.
    writeln!(out, "# {} subscriber connections", connections.len())?;
    for c in connections {
        let subscriptions: Vec<String> = c
            .subscriptions
            .iter()
            .map(|s| {
                if s.is_empty() {
                    "*".to_owned()
                } else {
                    s.clone()
                }
            })
            .collect();
        writeln!(
            out,
            "# {} queue={} dropped={} age={}s subscriptions={}",
            c.peer,
            c.queue_depth,
            c.dropped,
            c.connected_s,
            subscriptions.join(",")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_event(out: &mut impl Write, event: &Event, json: bool) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", cloudevent::to_json(event, true))?;
    } else {
        writeln!(out, "{event}")?;
    }
    out.flush()?;
    Ok(())
}
