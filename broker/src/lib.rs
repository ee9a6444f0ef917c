//! placeholder

pub mod upstream;
