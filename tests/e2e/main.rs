//! End-to-end tests: real `ptp-broker` processes, real client processes
//! (`probe-client`), real sockets.
//!
//! - `browser`: the live page in headless chromium;
//! - `api`: the client library in-process: unregister, streams, pull, errors;
//! - `fabric`: every process gets exactly its types, once (issue: the fabric);
//! - `libzmq`: the broker's PULL and PUB against libzmq's PUSH and SUB,
//!   with ZMTP heartbeats;
//! - `bounds`: a state table of many pages, a full table;
//! - `bad_input`: wrong frames, garbage and attacks are counted, never fatal;
//! - `cli`: the terminal tools and configuration errors; `cli_edges`: the
//!   rough edges a new user found (hints, pipes, labels, completions);
//! - `resilience`: late joiners, gaps, broker restarts, many clients;
//! - `truth`: forged pushes, bad values, the emit policy, origin, no stale
//!   state after a restart;
//! - `upstream`: following the upstream simulator, through its restarts and ours.
//! - `sinks`: subscriptions delivering to webhooks, JSON-RPC over TCP and NATS
//!   (docs/SINKS.md), against the real receivers in `peers`.
//! - `monitor`: metrics (checked by promtool), health, readiness through
//!   upstream loss, `/connz`, the live page's event stream;
//! - `oran`: the O-RAN v2 REST API served to local consumers
//!   (docs/ORAN-API.md), Red Hat and StarlingX, written from the upstreams.

mod api;
mod bad_input;
mod bounds;
mod browser;
mod cli;
mod cli_edges;
mod fabric;
mod libzmq;
mod monitor;
mod oran;
mod peers;
mod resilience;
mod sinks;
mod truth;
mod upstream;
mod util;
