//! Real `nats-server` processes and a subscriber written against the raw
//! NATS text protocol (not async-nats, which the broker uses).
//!
//! Servers listen on random ports (`-p -1`, `-m -1`, `--cluster …:-1`) and
//! say which in their ports file (`--ports_file_dir`), so nothing races for
//! a port. A cluster is ready when every server's `/routez` shows a route to
//! each other one. Processes are killed on drop.
//!
//! - `server`: [`NatsServer`] (one process), [`NatsCluster`] (a full mesh)
//!   and [`http_get_json`] for their monitoring ports;
//! - `client`: [`NatsClient`], the raw-protocol client (CONNECT, SUB,
//!   PUB/HPUB, PING/PONG, request/reply);
//! - `protocol`: the messages it receives ([`NatsMsg`], [`StoredMsg`]) and
//!   the reader thread that parses `MSG` and `HMSG`;
//! - `jetstream`: streams through the JetStream API;
//! - `selftest`: the above against real servers, no broker.

mod client;
mod jetstream;
mod protocol;
mod selftest;
mod server;

pub use client::NatsClient;
pub use protocol::{NatsMsg, StoredMsg};
// Every server item stays at `peers::nats::…`, used or not.
#[allow(unused_imports)]
pub use server::{
    NATS_SERVER, NatsCluster, NatsServer, ServerOptions, http_get_json, require_server,
};
