//! Pure translation of ECS objects into Kubernetes objects: no client, no I/O, no clock.
//!
//! Each translation returns its objects together with a [`Report`] of every ECS field that was
//! ignored, approximated or not translated, so nothing changes meaning silently: the operator puts
//! the report in the `Translated` condition and `ecs-bridge render` prints it.

pub mod autoscaling;
pub mod capacity;
pub mod kubernetes_version;
pub mod labels;
pub mod networking;
pub mod options;
pub mod pause;
pub mod placement;
pub mod pod;
pub mod reference;
pub mod report;
pub mod rollout;
pub mod schedule;
pub mod scheduled_task;
pub mod service;
pub mod spelling;
pub mod task;

#[cfg(test)]
pub(crate) mod testing;

pub use options::Options;
pub use report::{Handled, Note, NoteKind, Report};
