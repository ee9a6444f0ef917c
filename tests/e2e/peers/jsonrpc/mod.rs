//! A JSON-RPC 2.0 over TCP server as OpenSIPS `event_stream` talks to
//! (seed 004): JSON values straight on the connection, one after another.
//!
//! The stream is parsed value by value (`serde_json::StreamDeserializer`),
//! so a newline between objects is neither needed nor required. Every
//! message is checked against the seed and docs/SINKS.md: `jsonrpc` is
//! `"2.0"`, `method` a string, `params` an object (named parameters); in
//! sync mode an integer `id`, in notification mode no `id` member at all.
//! What does not hold is recorded in [`JsonRpc::problems`], never panicked
//! on in a server thread.
//!
//! This file holds the protocol side: the [`Mode`] the server runs in, a
//! [`Message`] as it arrived, and [`check`]; `server` the [`JsonRpc`]
//! server itself; `selftest` the seed's examples against it.

mod selftest;
mod server;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use server::JsonRpc;

/// How the server treats what arrives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Notifications expected (no `id`); nothing is answered.
    Notify,
    /// Requests expected; `{"jsonrpc":"2.0","result":8,"id":<id>}` at once.
    Answer,
    /// Requests expected; the same answer, this much later.
    AnswerAfter(Duration),
    /// Requests expected; answered with an `error` object.
    Error,
    /// Requests expected; never answered.
    Silent,
    /// Requests expected; answered with a result, but for another id.
    WrongId,
}

impl Mode {
    fn sync(self) -> bool {
        self != Mode::Notify
    }
}

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Message {
    pub value: Value,
    /// Which accepted connection (0, 1, …, over restarts) it came on.
    pub connection: usize,
    pub at: Instant,
}

impl Message {
    pub fn method(&self) -> &str {
        self.value["method"].as_str().unwrap_or_default()
    }

    pub fn params(&self) -> &Value {
        &self.value["params"]
    }

    pub fn id(&self) -> Option<i64> {
        self.value.get("id").and_then(Value::as_i64)
    }
}

/// What is wrong with one message (seed 004, docs/SINKS.md).
pub fn check(value: &Value, sync: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(object) = value.as_object() else {
        return vec!["not an object".into()];
    };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        problems.push("jsonrpc is not \"2.0\"".into());
    }
    if !object.get("method").is_some_and(Value::is_string) {
        problems.push("method is not a string".into());
    }
    if !object.get("params").is_some_and(Value::is_object) {
        problems.push("params is not an object".into());
    }
    match (sync, object.get("id")) {
        (true, Some(id)) if id.is_i64() || id.is_u64() => {}
        (true, other) => problems.push(format!("sync mode, id is not an integer: {other:?}")),
        (false, None) => {}
        (false, Some(id)) => problems.push(format!("a notification has an id ({id})")),
    }
    problems
}
