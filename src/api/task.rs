//! `Task`: standalone tasks; `spec` is the `RunTask` request.

// kube's printcolumn(...) repeats `type_ = "string"`, which clippy takes for a duplicate.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{condition::conditions_schema, ecs::RunTask};

/// Standalone ECS tasks: `count` copies of a task definition that run to completion.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ecsbridge.io",
    version = "v1alpha1",
    kind = "Task",
    namespaced,
    status = "TaskStatus",
    shortname = "ecstask",
    category = "ecs",
    doc = "Standalone ECS tasks; spec is the RunTask request.",
    printcolumn(name = "TaskDef", type_ = "string", json_path = ".status.taskDefinition"),
    printcolumn(name = "Tasks", type_ = "integer", json_path = ".spec.count"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.lastStatus"),
    printcolumn(name = "StopCode", type_ = "string", json_path = ".status.stopCode"),
    printcolumn(name = "Health", type_ = "string", json_path = ".status.health"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.healthReason"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = 1
    )
)]
pub struct TaskSpec {
    /// The RunTask request, with ECS's field names.
    #[serde(flatten)]
    pub run_task: RunTask,
}

/// Observed state of standalone tasks, in ECS's words (as `aws ecs describe-tasks` reports it).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
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
    /// The task definition revision the tasks run, `family:revision` (resolved once, when the
    /// tasks start, as RunTask resolves it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// The generation whose request started the tasks: a RunTask runs once, so a later change of
    /// the spec starts nothing (the status says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_generation: Option<i64>,
    /// Roll-up of the tasks: the least advanced `lastStatus` of those not stopped, else
    /// STOPPED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    /// Roll-up stop code, once every task has stopped: the first task's that did not succeed,
    /// else EssentialContainerExited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// Each task started for this request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskInstance>,
    /// Tasks that cannot be placed yet, as RunTask's `failures[]` words it (`RESOURCE:CPU`,
    /// `MemberOf placement constraint unsatisfied`, ...), from the scheduler's messages; the
    /// tasks wait for capacity (PROVISIONING) rather than fail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<TaskFailure>,
}

/// One task (one pod) of a standalone task request, as `describe-tasks` shows it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskInstance {
    /// The task's id: its pod's name (`kubectl describe pod <taskArn>`).
    pub task_arn: String,
    /// PROVISIONING (waiting for a node), PENDING (pulling, starting), RUNNING, STOPPING or
    /// STOPPED.
    pub last_status: String,
    /// RUNNING or STOPPED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_status: Option<String>,
    /// HEALTHY, UNHEALTHY or UNKNOWN, from the essential containers' health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<String>,
    /// Why the task stopped: EssentialContainerExited, TaskFailedToStart, UserInitiated,
    /// SpotInterruption, TerminationNotice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// Why the task stopped, in ECS's wording (`Essential container in task exited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// The task group (`family:<family>` unless the request gives one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The request's `startedBy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// The capacity provider the task runs on, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_name: Option<String>,
    /// When the task was created (its pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
    /// When the task reached RUNNING (its last container started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the task began to stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping_at: Option<Time>,
    /// When the task stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Time>,
    /// The task's containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerState>,
}

/// One container of a task.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// Container name.
    pub name: String,
    /// PENDING, RUNNING or STOPPED.
    pub last_status: String,
    /// Whether the task stops when this container stops (ECS `essential`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    /// Exit code, once stopped (none when it never ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why the container stopped or cannot start, in ECS's words
    /// (`OutOfMemoryError: Container killed due to memory usage`, `CannotPullContainerError: ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// HEALTHY, UNHEALTHY or UNKNOWN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<String>,
}

/// A task RunTask could not place, in its `failures[]` form.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskFailure {
    /// The task (its pod's name).
    pub arn: String,
    /// ECS's reason: `RESOURCE:CPU`, `RESOURCE:MEMORY`, `RESOURCE:PORTS`, `RESOURCE:GPU`,
    /// `ATTRIBUTE`, `MemberOf placement constraint unsatisfied`, `DistinctInstance placement
    /// constraint unsatisfied`, or `RESOURCE` when the scheduler names nothing ECS would.
    pub reason: String,
    /// The scheduler's own message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
