//! Ways of reaching the O-RAN event API that the broker subscribes to.

pub mod kube;
