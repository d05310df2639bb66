//! ECS request shapes, generated from botocore's ECS model (see `hack/gen_ecs_types.py`).

mod capacity_provider;
mod container;
mod eventbridge;
mod run_task;
mod scheduler;
mod service;
mod shared;
mod task_definition;
mod volume;

pub use capacity_provider::*;
pub use container::*;
pub use eventbridge::*;
pub use run_task::*;
pub use scheduler::*;
pub use service::*;
pub use shared::*;
pub use task_definition::*;
pub use volume::*;
