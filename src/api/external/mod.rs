//! Types of other projects' kinds that ecs-bridge writes: only the fields it sets, with their
//! upstream names. Their schemas are vendored under `testdata/` (or pinned, for Karpenter's and
//! KEDA's, in `tests/support/models/`) from the projects' registry packages, and the tests
//! validate what ecs-bridge makes against them.

pub mod karpenter;
pub mod keda;
pub mod target_group_binding;

pub use karpenter::{NodePool, NodePoolSpec};
pub use keda::{ScaledObject, ScaledObjectSpec};
pub use target_group_binding::{ServiceReference, TargetGroupBinding, TargetGroupBindingSpec, TargetType};
