//! CRD types only: the five kinds of `ecsbridge.io/v1alpha1`, whose `spec`s are ECS's own requests.
//!
//! No client and no I/O here. Every field carries a doc comment, which becomes its description in
//! the generated CRD (keep them to one short sentence: each CRD must stay under 256 KiB).

pub mod autoscaling;
pub mod capacity_provider;
pub mod condition;
pub mod ecs;
pub mod external;
mod free_form;
mod number_or_string;
pub mod scheduled_task;
mod schema;
pub mod service;
pub mod task;
pub mod task_definition;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub use capacity_provider::{CapacityProvider, CapacityProviderSpec, CapacityProviderStatus};
pub use free_form::FreeForm;
pub use number_or_string::NumberOrString;
pub use scheduled_task::{ScheduledRun, ScheduledTask, ScheduledTaskSpec, ScheduledTaskStatus};
pub use service::{Service, ServiceSpec, ServiceStatus};
pub use task::{ContainerState, Task, TaskFailure, TaskInstance, TaskSpec, TaskStatus};
pub use task_definition::{TaskDefinition, TaskDefinitionSpec, TaskDefinitionStatus};

/// API group of every kind.
pub const GROUP: &str = "ecsbridge.io";
/// API version of every kind.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every kind.
pub const API_VERSION: &str = "ecsbridge.io/v1alpha1";
/// Category shared by every kind: `kubectl get ecs` lists them all.
pub const CATEGORY: &str = "ecs";

/// Every CRD, in a stable order (the order of `crds/` and of `ecs-bridge crdgen`).
#[must_use]
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![
        CapacityProvider::crd(),
        ScheduledTask::crd(),
        Service::crd(),
        Task::crd(),
        TaskDefinition::crd(),
    ]
}
