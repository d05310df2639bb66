//! ecs-bridge: Amazon ECS's application model on Kubernetes.
//!
//! The CRDs in [`api`] take ECS's own requests as their `spec`; the operator reconciles them into
//! native Kubernetes objects.
#![forbid(unsafe_code)]

pub mod api;
pub mod controller;
pub mod crdgen;
pub mod fnv;
pub mod import;
pub mod manifest;
pub mod names;
pub mod render;
pub mod run;
pub mod runtime;
pub mod translate;
pub mod yaml;
