//! Types of other projects' kinds that ecs-bridge writes: only the fields it sets, with their
//! upstream names. Their CRDs are vendored under `testdata/` from the projects' releases, and the
//! tests validate what ecs-bridge makes against them.

pub mod target_group_binding;

pub use target_group_binding::{ServiceReference, TargetGroupBinding, TargetGroupBindingSpec, TargetType};
