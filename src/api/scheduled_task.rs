//! `ScheduledTask`: an EventBridge rule with ECS targets, in EventBridge's own words (PascalCase).

// kube's printcolumn(...) repeats `type_ = "string"`, which clippy takes for a duplicate.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    condition::conditions_schema,
    ecs::{EbPutRule, EbTarget},
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
    doc = "An EventBridge scheduled rule with ECS targets (PutRule plus PutTargets, PascalCase).",
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.ScheduleExpression"),
    printcolumn(name = "State", type_ = "string", json_path = ".spec.State"),
    printcolumn(name = "Last", type_ = "date", json_path = ".status.lastScheduleTime"),
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
    /// The rule's targets (PutTargets), each with EcsParameters.
    #[serde(rename = "Targets")]
    pub targets: Vec<EbTarget>,
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
}
