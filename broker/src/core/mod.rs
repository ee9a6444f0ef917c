//! The core every source writes to and every sink reads from: validation
//! and stamping ([`shared`]), the state table ([`table`]), the counters
//! ([`stats`]) and the emit policy ([`policy`]).

pub mod policy;
pub mod shared;
pub mod stats;
pub mod table;
