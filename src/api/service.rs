//! `Service`: an ECS service; `spec` is the `CreateService` request plus Service Auto Scaling.

// kube's printcolumn(...) repeats `type_ = "string"`, which clippy takes for a duplicate.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    autoscaling::AutoScaling,
    condition::conditions_schema,
    ecs::{CapacityProviderStrategyItem, CreateService},
};

/// An ECS service: keeps `desiredCount` tasks of a task definition running.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ecsbridge.io",
    version = "v1alpha1",
    kind = "Service",
    namespaced,
    status = "ServiceStatus",
    shortname = "ecssvc",
    category = "ecs",
    doc = "An ECS service; spec is the CreateService request plus autoScaling.",
    scale(
        spec_replicas_path = ".spec.desiredCount",
        status_replicas_path = ".status.runningCount",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".status.desiredCount"),
    printcolumn(name = "Running", type_ = "integer", json_path = ".status.runningCount"),
    printcolumn(name = "Pending", type_ = "integer", json_path = ".status.pendingCount"),
    printcolumn(name = "TaskDef", type_ = "string", json_path = ".status.taskDefinition"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Health", type_ = "string", json_path = ".status.health"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.healthReason"),
    printcolumn(
        name = "Rollout",
        type_ = "string",
        json_path = ".status.deployments[?(@.status==\"PRIMARY\")].rolloutState"
    ),
    printcolumn(
        name = "Failed",
        type_ = "integer",
        json_path = ".status.deployments[?(@.status==\"PRIMARY\")].failedTasks"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(
        name = "Launch",
        type_ = "string",
        json_path = ".spec.launchType",
        priority = 1
    ),
    printcolumn(
        name = "Providers",
        type_ = "string",
        json_path = ".status.capacityProviderStrategy[*].capacityProvider",
        priority = 1
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = 1
    )
)]
pub struct ServiceSpec {
    /// The CreateService request, with ECS's field names.
    #[serde(flatten)]
    pub service: CreateService,
    /// Service Auto Scaling in Application Auto Scaling's words; when set it owns the task count.
    #[serde(rename = "autoScaling", default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling: Option<AutoScaling>,
}

impl Service {
    /// Whether it runs on the capacity provider named `provider`: its strategy, the one its
    /// status records, or its launch type FARGATE names it.
    #[must_use]
    pub fn uses_capacity_provider(&self, provider: &str) -> bool {
        let own = self.spec.service.capacity_provider_strategy.iter().flatten();
        let recorded = self
            .status
            .iter()
            .flat_map(|s| s.capacity_provider_strategy.iter());
        own.chain(recorded).any(|i| i.capacity_provider == provider)
            || (provider == "FARGATE"
                && self.spec.service.launch_type == Some(super::ecs::LaunchType::Fargate))
    }

    /// The deployments its status last reported: none before the first status.
    #[must_use]
    pub fn deployments(&self) -> &[ServiceDeployment] {
        self.status
            .as_ref()
            .map(|s| s.deployments.as_slice())
            .unwrap_or_default()
    }
}

/// Observed state of a service, in ECS's words (as `aws ecs describe-services` reports it).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Progressing, Degraded and Translated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// What Argo CD's health check says of the object: Healthy, Progressing or Degraded (the
    /// rules of the chart's Argo CD health checks, applied to the conditions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// Why, in a word: the reason of the condition that decided `health`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_reason: Option<String>,
    /// ECS service status: ACTIVE, DRAINING or INACTIVE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Tasks the service wants (from spec or from auto scaling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_count: Option<i32>,
    /// Tasks in RUNNING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_count: Option<i32>,
    /// Tasks in PENDING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_count: Option<i32>,
    /// The task definition of the primary deployment, `family:revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// Label selector of the service's pods, for the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// The capacity provider strategy the tasks run with: the Service's own, its launch type's, or its cluster's default as recorded when first used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    /// Where capacityProviderStrategy comes from: Service, LaunchType or ClusterDefault (kept when the default changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_strategy_source: Option<String>,
    /// Deployments, PRIMARY first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<ServiceDeployment>,
    /// Service events, newest first, in ECS's wording.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ServiceEvent>,
    /// Service Auto Scaling in Application Auto Scaling's words: the scalable target with the
    /// range in force, the policies and how each is carried out, the scheduled actions with their
    /// next run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling: Option<super::autoscaling::AutoScalingStatus>,
}

/// One deployment of a service, as ECS reports it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDeployment {
    /// Deployment id, `ecs-svc/<digits>`.
    pub id: String,
    /// PRIMARY (newest), ACTIVE (being replaced) or INACTIVE.
    pub status: String,
    /// The deployment's task definition, `family:revision`.
    pub task_definition: String,
    /// Tasks this deployment wants.
    pub desired_count: i32,
    /// Tasks of this deployment in PENDING.
    pub pending_count: i32,
    /// Tasks of this deployment in RUNNING.
    pub running_count: i32,
    /// Consecutive tasks that failed to start or became unhealthy.
    pub failed_tasks: i32,
    /// Tasks of this deployment the operator replaced because an essential container stopped
    /// (counted in `failedTasks`: a replaced task's pod is gone, so the count is kept here).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replaced_tasks: i32,
    /// The capacity provider strategy of the deployment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    /// IN_PROGRESS, COMPLETED or FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_state: Option<String>,
    /// Why the rollout is in its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_state_reason: Option<String>,
    /// When the deployment was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
    /// When the deployment last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Time>,
}

/// A service event, as ECS reports it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEvent {
    /// Event id.
    pub id: String,
    /// When the event happened.
    pub created_at: Time,
    /// The message, e.g. "(service web) has reached a steady state.".
    pub message: String,
}

/// Whether `n` is 0 (a count left out of the status).
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &i32) -> bool {
    *n == 0
}
