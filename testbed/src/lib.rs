//! ecs-bridge's test bed (tests only; the operator never links it): an in-process Kubernetes API
//! server double that speaks the HTTP API `kubectl` and kube-rs use, and a tiny simulated cluster
//! on top of it.
//!
//! Where Kubernetes documents a behaviour, the double follows it and cites the document; where it
//! cannot, it fails loudly (HTTP 501 with a message) instead of pretending.

pub mod patch;
pub mod schema;
