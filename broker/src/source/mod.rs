//! Where events come from: the ZeroMQ PULL socket ([`pull`]), the HTTP
//! receiver the upstream POSTs to ([`http`]), the query socket's confirmed
//! emits ([`query`], which also answers state, stats and subscription
//! requests) and the upstream follower ([`upstream`]).

pub mod http;
pub mod pull;
pub mod query;
pub mod upstream;
