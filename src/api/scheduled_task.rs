//! `ScheduledTask`: an EventBridge rule with ECS targets, in EventBridge's own words (PascalCase).

// kube's printcolumn(...) repeats `type_ = "string"`, which clippy takes for a duplicate.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    condition::conditions_schema,
    ecs::{EbPutRule, EbTarget, SchActionAfterCompletion, SchFlexibleTimeWindow, SchTarget},
};

/// An EventBridge scheduled rule whose targets run ECS tasks.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ecsbridge.io",
    version = "v1alpha1",
    kind = "ScheduledTask",
    namespaced,
    status = "ScheduledTaskStatus",
    shortname = "ecsschedule",
    category = "ecs",
    doc = "An EventBridge scheduled rule with ECS targets (PutRule plus PutTargets, or Scheduler's CreateSchedule; PascalCase).",
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.ScheduleExpression"),
    printcolumn(name = "State", type_ = "string", json_path = ".spec.State"),
    printcolumn(name = "Last", type_ = "date", json_path = ".status.lastScheduleTime"),
    printcolumn(name = "Next", type_ = "date", json_path = ".status.nextScheduleTime"),
    printcolumn(name = "FiredBy", type_ = "string", json_path = ".status.firedBy"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
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
pub struct ScheduledTaskSpec {
    /// The PutRule request, with EventBridge's field names.
    #[serde(flatten)]
    pub rule: EbPutRule,
    /// IANA time zone of cron() and at() schedules (as EventBridge Scheduler has it); UTC when absent.
    #[serde(
        rename = "ScheduleExpressionTimezone",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule_expression_timezone: Option<String>,
    /// The rule's targets (PutTargets) with EcsParameters; or give `Target` (Scheduler's form).
    #[serde(rename = "Targets", default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<EbTarget>,
    /// EventBridge Scheduler's CreateSchedule form: the schedule's one target (not `Targets`).
    #[serde(rename = "Target", default, skip_serializing_if = "Option::is_none")]
    pub target: Option<SchTarget>,
    /// Scheduler: no instant before this date fires (ISO 8601, e.g. `2027-01-01T00:00:00Z`).
    #[serde(rename = "StartDate", default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// Scheduler: no instant after this date fires (ISO 8601).
    #[serde(rename = "EndDate", default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// Scheduler: the window each firing may start in; the operator fires at its start.
    #[serde(
        rename = "FlexibleTimeWindow",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub flexible_time_window: Option<SchFlexibleTimeWindow>,
    /// Scheduler: the schedule group (kept; the namespace groups ScheduledTasks here).
    #[serde(rename = "GroupName", default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// Scheduler: what to do after the last firing (`DELETE` is not done: the object is yours).
    #[serde(
        rename = "ActionAfterCompletion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub action_after_completion: Option<SchActionAfterCompletion>,
    /// Scheduler: the KMS key of the schedule's data (kept; nothing is stored outside the cluster).
    #[serde(rename = "KmsKeyArn", default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// Scheduler: the request's idempotency token (kept).
    #[serde(rename = "ClientToken", default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

/// Observed state of a scheduled task.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledTaskStatus {
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
    /// When the schedule last fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// When the schedule fires next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<Time>,
    /// The rule's state as the operator applies it: ENABLED or DISABLED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// What fires the schedule: `CronJob` (Kubernetes' own cron; each Job it makes becomes the
    /// firing's Tasks) or `Operator` (at the exact instants, where Kubernetes cron cannot say
    /// the schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_by: Option<String>,
    /// The schedule as it was last observed (expression, time zone, state, bounds): when it
    /// changes, only instants after `firesAfter` count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_schedule: Option<String>,
    /// Instants at or before this time do not fire: when the rule was created, enabled, or its
    /// schedule changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fires_after: Option<Time>,
    /// The most recent firings, newest first: their Tasks and how they ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_tasks: Vec<ScheduledRun>,
}

/// One Task a firing started, and how it is doing.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledRun {
    /// The Task's name (`kubectl get ecstask <name>`).
    pub name: String,
    /// The instant the firing was scheduled for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<Time>,
    /// The Task's tasks' `lastStatus` roll-up (PROVISIONING … STOPPED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    /// Its stop code, once every task stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// Running, Succeeded or Failed.
    pub outcome: String,
    /// Why it failed (naming the task and the container), or why it has not started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
