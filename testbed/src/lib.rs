//! ecs-bridge's test bed (tests only; the operator never links it): an in-process Kubernetes API
//! server double that speaks the HTTP API `kubectl` and kube-rs use, and a tiny simulated cluster
//! on top of it.
//!
//! Where Kubernetes documents a behaviour, the double follows it and cites the document; where it
//! cannot, it fails loudly (HTTP 501 with a message) instead of pretending.

// The API errors carry the Status details; they are the rare path of a test double.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod cluster;
pub mod faults;
pub mod gc;
pub mod http;
pub mod patch;
pub mod registry;
pub mod schema;
pub mod server;
pub mod store;

pub use cluster::{ContainerOutcome, PodOutcome, PodUsage, SimCluster};
pub use server::TestApiServer;
