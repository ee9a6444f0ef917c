//! The core every source writes to and every sink reads from: validation
//! and stamping ([`shared`]), the state table ([`table`]), the counters
//! ([`stats`]), what `/readyz` and the metrics read ([`health`]), the emit policy ([`policy`]), and what the sinks read:
//! each subscription's [`filter`] and queue ([`outbox`]).

pub mod filter;
pub mod health;
pub mod outbox;
pub mod policy;
pub mod shared;
pub mod stats;
pub mod table;
pub mod wire;
