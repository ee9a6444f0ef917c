//! What the bench helper processes share: the load (events and how a
//! subscriber checks them), the subscriber side of the driver's line
//! protocol, a minimal NATS client and a minimal HTTP/1.1 client and
//! server. Each binary includes this module with `#[path]` and
//! uses only part of it.

pub mod control;
pub mod http;
pub mod load;
pub mod nats;
pub mod zmtp;

/// Nanoseconds since the Unix epoch. All helper processes run on one host,
/// so their wall clocks agree; latency is the difference of two such stamps.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
