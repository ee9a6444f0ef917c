//! What a [`super::NatsClient`] receives: messages ([`NatsMsg`]), stored
//! JetStream messages ([`StoredMsg`]), and the reader thread that parses
//! `MSG` and `HMSG` off the connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use super::client::ClientShared;

/// One message as delivered (`MSG` or `HMSG`).
#[derive(Debug, Clone)]
pub struct NatsMsg {
    pub subject: String,
    pub sid: u64,
    pub reply: Option<String>,
    /// The header block's first line (`NATS/1.0`, `NATS/1.0 503`), if any.
    pub status: Option<String>,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
    pub at: Instant,
}

impl NatsMsg {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| {
            panic!(
                "payload on {} is not JSON ({e}): {:?}",
                self.subject,
                String::from_utf8_lossy(&self.payload)
            )
        })
    }

    /// A status-only answer such as no responders (`503`).
    pub fn status_code(&self) -> Option<u16> {
        self.status
            .as_deref()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

/// A stored JetStream message (`$JS.API.STREAM.MSG.GET`).
#[derive(Debug, Clone)]
pub struct StoredMsg {
    pub subject: String,
    pub seq: u64,
    pub headers: Vec<(String, String)>,
    pub data: Vec<u8>,
}

impl StoredMsg {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.data).expect("stored data is JSON")
    }
}

/// `NATS/1.0[ status]` line and `Name: value` headers of a header block.
pub(super) fn parse_header_block(block: &[u8]) -> (Option<String>, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(block);
    let mut lines = text.split("\r\n");
    let status = lines.next().map(|l| l.trim().to_owned());
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

pub(super) fn read_loop(
    mut reader: BufReader<TcpStream>,
    shared: Arc<ClientShared>,
    writer: Arc<Mutex<TcpStream>>,
) {
    let fail = |shared: &ClientShared, why: String| {
        let mut s = shared.lock();
        s.errors.push(why);
        s.closed = true;
        drop(s);
        shared.changed.notify_all();
    };
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => {
                shared.lock().closed = true;
                shared.changed.notify_all();
                return;
            }
            Ok(_) => {}
        }
        let text = line.trim_end_matches(['\r', '\n']);
        let mut words = text.split_whitespace();
        let op = words.next().unwrap_or_default().to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        match op.as_str() {
            "PING" => {
                let _ = writer
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .write_all(b"PONG\r\n");
            }
            "PONG" => {
                shared.lock().pongs += 1;
                shared.changed.notify_all();
            }
            "+OK" | "INFO" => {}
            "-ERR" => {
                shared.lock().errors.push(text.to_owned());
                shared.changed.notify_all();
            }
            "MSG" | "HMSG" => {
                // MSG <subject> <sid> [reply] <bytes>
                // HMSG <subject> <sid> [reply] <header bytes> <total bytes>
                let fixed = if op == "MSG" { 3 } else { 4 };
                if args.len() != fixed && args.len() != fixed + 1 {
                    return fail(&shared, format!("bad {op} line {text:?}"));
                }
                let reply = (args.len() == fixed + 1).then(|| args[2].to_owned());
                let sizes: Vec<usize> = args[args.len() - (fixed - 2)..]
                    .iter()
                    .filter_map(|n| n.parse().ok())
                    .collect();
                let (Ok(sid), true) = (args[1].parse::<u64>(), sizes.len() == fixed - 2) else {
                    return fail(&shared, format!("bad {op} line {text:?}"));
                };
                let (header_len, total) = if op == "MSG" {
                    (0, sizes[0])
                } else {
                    (sizes[0], sizes[1])
                };
                if header_len > total {
                    return fail(&shared, format!("bad sizes in {text:?}"));
                }
                let mut body = vec![0u8; total + 2];
                if reader.read_exact(&mut body).is_err() {
                    return fail(&shared, format!("connection closed inside {text:?}"));
                }
                if &body[total..] != b"\r\n" {
                    return fail(&shared, format!("no CRLF after the payload of {text:?}"));
                }
                let (status, headers) = if op == "HMSG" {
                    parse_header_block(&body[..header_len])
                } else {
                    (None, Vec::new())
                };
                let msg = NatsMsg {
                    subject: args[0].to_owned(),
                    sid,
                    reply,
                    status,
                    headers,
                    payload: body[header_len..total].to_vec(),
                    at: Instant::now(),
                };
                shared.lock().msgs.push(msg);
                shared.changed.notify_all();
            }
            "" => {}
            other => return fail(&shared, format!("unknown operation {other:?} in {text:?}")),
        }
    }
}
