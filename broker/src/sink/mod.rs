//! Where events go: the PUB socket ([`publish`], over our ZMTP fan-out
//! [`fanout`]).

pub mod fanout;
pub mod publish;
