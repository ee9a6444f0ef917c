//! Real receivers for the sink tests (docs/SINKS.md), written from the
//! protocols, not from the broker:
//!
//! - `webhook`: an HTTP/1.1 server that records every request and answers
//!   from a script (204, "503 then 204", 400, slow, 429 with Retry-After…);
//! - `jsonrpc`: a JSON-RPC 2.0 over TCP server as OpenSIPS `event_stream`
//!   talks to (seed 004): notifications, sync requests answered at once,
//!   late, with an error, or never;
//! - `nats`: real `nats-server` processes (one, JetStream, a cluster of
//!   three) and a subscriber that speaks the raw NATS text protocol.
//!
//! Every peer runs on its own threads, so the synchronous tests use it
//! directly, and stops (threads joined, processes killed) on drop. Waits
//! poll with [`crate::util::DEADLINE`].

#![allow(dead_code)]

pub mod jsonrpc;
pub mod nats;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory unique to one test (pid, name, counter), removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("ptp-broker-e2e-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path/name` as a string (for command lines and config files).
    pub fn join(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }

    pub fn as_str(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Standard base64 (RFC 4648, padding optional, whitespace ignored): for
/// `ptperrordata` and JetStream's stored messages.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let body = clean
        .iter()
        .position(|&c| c == b'=')
        .map_or(&clean[..], |i| &clean[..i]);
    if clean[body.len()..].iter().any(|&c| c != b'=') || clean.len() - body.len() > 2 {
        return Err(format!("bad base64 padding in {text:?}"));
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        if chunk.len() == 1 {
            return Err(format!("truncated base64 {text:?}"));
        }
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = sextet(c).ok_or_else(|| format!("bad base64 character {c:?} in {text:?}"))?;
            acc |= v << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

#[test]
fn base64_decodes_what_encoders_write() {
    assert_eq!(base64_decode("").unwrap(), b"");
    assert_eq!(base64_decode("Zg==").unwrap(), b"f");
    assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
    assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
    assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
    assert_eq!(base64_decode("Zm9vYg").unwrap(), b"foob");
    assert_eq!(base64_decode("+/8=").unwrap(), [0xfb, 0xff]);
    assert!(base64_decode("Zm9v!").is_err());
}
