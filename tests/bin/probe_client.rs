//! A client process for the end-to-end tests, built on the free functions
//! (`client::register`, `client::emit`) and configured like an application:
//! by `PTP_BROKER_EMIT`, `PTP_BROKER_PUB`, `PTP_BROKER_QUERY`.
//!
//! `probe-client [--register TYPE]... [--stall-ms N | --stall-until-release]`
//!
//! Prints one JSON object per line on stdout: `{"kind":"ready"}` once every
//! registration returned, one `{"kind":"event",…}` per callback call, one
//! `{"kind":"status",…}` per status change. Reads commands on stdin:
//! `emit TYPE VALUE [RESOURCE]`, `emit-value TYPE VALUE_TYPE VALUE` (one
//! value exactly as given, to try values the broker must refuse), `stats`,
//! `release` (ends a `--stall-until-release` stall), `quit`. Logs the client library's warnings on stderr (`RUST_LOG`).

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client::Status;
use proto::{Content, Delivery, Event};
use serde_json::json;

fn main() {
    // The client library's warnings (repairs that fail, gaps) on stderr, as
    // an application would log them: a failing test then says why.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .init();
    let mut registrations = Vec::new();
    let mut stall_ms = 0u64;
    // The first live event's callback waits for `release` on stdin: a stall
    // as long as the test needs, whatever the machine's speed.
    let release = Arc::new((Mutex::new(true), std::sync::Condvar::new()));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--stall-until-release" {
            *release.0.lock().unwrap_or_else(|p| p.into_inner()) = false;
            continue;
        }
        match (arg.as_str(), args.next()) {
            ("--register", Some(t)) => registrations.push(t),
            ("--stall-ms", Some(n)) => stall_ms = n.parse().unwrap_or(0),
            (other, _) => fail(&format!("unknown argument {other}")),
        }
    }
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let print = {
        let out = out.clone();
        move |value: serde_json::Value| {
            let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(out, "{value}");
            let _ = out.flush();
        }
    };
    let on_status = print.clone();
    if let Err(e) = client::on_status(move |s| {
        on_status(match s {
            Status::Connected { epoch } => {
                json!({"kind": "status", "status": "connected", "epoch": epoch})
            }
            Status::Restarted { previous, epoch } => {
                json!({"kind": "status", "status": "restarted", "previous": previous, "epoch": epoch})
            }
            Status::Lost { .. } => json!({"kind": "status", "status": "lost"}),
            _ => json!({"kind": "status", "status": "connecting"}),
        })
    }) {
        fail(&e.to_string());
    }
    for (index, name) in registrations.iter().enumerate() {
        let event_type = catalog::EventType::new(name).unwrap_or_else(|e| fail(&e.to_string()));
        let print = print.clone();
        let stalled = AtomicBool::new(false);
        let release = release.clone();
        let result = client::register(event_type, move |e: &Event| {
            if e.delivery == Delivery::Live && !stalled.swap(true, Ordering::Relaxed) {
                if stall_ms > 0 {
                    std::thread::sleep(Duration::from_millis(stall_ms));
                }
                let (released, wake) = &*release;
                let mut released = released.lock().unwrap_or_else(|p| p.into_inner());
                while !*released {
                    released = wake.wait(released).unwrap_or_else(|p| p.into_inner());
                }
            }
            print(json!({
                "kind": "event", "reg": index, "type": e.event_type.as_str(), "seq": e.meta.seq,
                "epoch": e.meta.epoch, "id": e.id, "resource": e.resource_address(),
                "value": e.data.values.first().map(|v| v.value.clone()),
                "origin": e.origin().as_str(),
                "delivery": match e.delivery {
                    Delivery::Initial => "initial",
                    Delivery::Repaired => "repaired",
                    Delivery::Unknown => "unknown",
                    _ => "live",
                },
            }));
        });
        if let Err(e) = result {
            fail(&format!("register {name}: {e}"));
        }
    }
    print(json!({"kind": "ready"}));
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["emit", t, value, rest @ ..] => {
                let result = catalog::EventType::new(t)
                    .map_err(|e| e.to_string())
                    .and_then(|t| {
                        Ok((
                            t,
                            Content::parse(value, rest.first().map(|r| r.to_string()))?,
                        ))
                    })
                    .and_then(|(t, c)| client::emit(t, c).map_err(|e| e.to_string()));
                print(json!({"kind": "emitted", "ok": result.is_ok(), "error": result.err()}));
            }
            ["emit-value", t, value_type, value] => {
                let result = catalog::EventType::new(t)
                    .map_err(|e| e.to_string())
                    .and_then(|t| {
                        let value_type = proto::ValueType::parse(value_type)
                            .ok_or_else(|| format!("unknown value type {value_type}"))?;
                        let data_type = match value_type {
                            proto::ValueType::Enumeration => proto::DataType::Notification,
                            _ => proto::DataType::Metric,
                        };
                        let resource = t
                            .oran()
                            .map_or_else(|| format!("/{t}"), |o| o.resource().to_owned());
                        let content = Content::Values(vec![proto::Value {
                            resource_address: resource,
                            data_type,
                            value_type,
                            value: value.to_string(),
                        }]);
                        client::emit(t, content).map_err(|e| e.to_string())
                    });
                print(json!({"kind": "emitted", "ok": result.is_ok(), "error": result.err()}));
            }
            ["release"] => {
                let (released, wake) = &*release;
                *released.lock().unwrap_or_else(|p| p.into_inner()) = true;
                wake.notify_all();
            }
            ["stats"] => {
                let s = client::default_client()
                    .map(|c| c.stats())
                    .unwrap_or_default();
                print(
                    json!({"kind": "stats", "gaps": s.gaps, "restarts": s.restarts, "repaired": s.repaired, "unknown": s.unknown,
                    "overflows": s.overflows, "skipped": s.skipped, "delivered": s.delivered, "panics": s.panics}),
                );
            }
            ["quit"] => break,
            _ => print(json!({"kind": "error", "error": format!("unknown command {line:?}")})),
        }
    }
}

fn fail(message: &str) -> ! {
    println!("{}", json!({"kind": "error", "error": message}));
    std::process::exit(1);
}
