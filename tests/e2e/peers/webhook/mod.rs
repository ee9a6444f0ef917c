//! A webhook receiver: HTTP/1.1 on 127.0.0.1:0 (hyper), on its own thread
//! and runtime. Records every request (method, path, headers, body, when it
//! arrived) and answers from a script: request `k` (in arrival order, over
//! every path) gets `script[k]`, the last entry repeating.
//!
//! This file holds what is scripted and recorded: a [`Reply`], a
//! [`Received`] request, [`summary`]; `server` the [`Webhook`] itself
//! (hyper on its own runtime); `selftest` a raw client against it.

mod selftest;
mod server;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use server::Webhook;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long (after the request's body arrived) before answering.
    pub delay: Duration,
    /// Close the connection without an answer (after `delay`).
    pub hang_up: bool,
    /// Answer only once [`Webhook::release`] was called.
    pub held: bool,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            hang_up: false,
            held: false,
        }
    }

    /// Answer only once the test calls [`Webhook::release`].
    pub fn held(mut self) -> Reply {
        self.held = true;
        self
    }

    /// No answer: the connection is closed.
    pub fn hang_up() -> Reply {
        Reply {
            hang_up: true,
            ..Reply::status(0)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: &[u8]) -> Reply {
        self.body = body.to_vec();
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Header names lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When its head arrived.
    pub at: Instant,
    /// Which connection (0, 1, …) it came on.
    pub connection: usize,
}

impl Received {
    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every header as a map (for assertion messages).
    pub fn header_map(&self) -> BTreeMap<String, String> {
        self.headers.iter().cloned().collect()
    }

    /// The body as JSON; panics with the body if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body of {} {} is not JSON ({e}): {:?}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Method, path and body of each request, short (for failure messages).
pub fn summary(requests: &[Received]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let body = String::from_utf8_lossy(&r.body);
            let body: String = body.chars().take(400).collect();
            format!("{} {} {body}", r.method, r.path)
        })
        .collect()
}
