//! `TaskDefinition`: a task definition family; `spec` is the `RegisterTaskDefinition` request.

// kube's printcolumn(...) repeats `type_ = "string"`, which clippy takes for a duplicate.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{condition::conditions_schema, ecs::RegisterTaskDefinition};

/// An ECS task definition family: each change of `spec` registers the next revision.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ecsbridge.io",
    version = "v1alpha1",
    kind = "TaskDefinition",
    namespaced,
    status = "TaskDefinitionStatus",
    shortname = "taskdef",
    category = "ecs",
    doc = "An ECS task definition family; spec is the RegisterTaskDefinition request.",
    printcolumn(name = "Revision", type_ = "integer", json_path = ".status.revision"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
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
pub struct TaskDefinitionSpec {
    /// The RegisterTaskDefinition request, with ECS's field names.
    #[serde(flatten)]
    pub task_definition: RegisterTaskDefinition,
}

/// Observed state of a task definition family.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinitionStatus {
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
    /// The latest registered revision (1, 2, 3, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// ECS status of the latest revision: ACTIVE, INACTIVE or DELETE_IN_PROGRESS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The ARN-style name of the latest revision, `family:revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// The retained revisions (ControllerRevisions), ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<i64>,
}

impl TaskDefinition {
    /// The family this object registers: `spec.family`, else `metadata.name`.
    #[must_use]
    pub fn family(&self) -> String {
        self.spec
            .task_definition
            .family
            .clone()
            .or_else(|| self.metadata.name.clone())
            .unwrap_or_default()
    }

    /// The latest registered revision: `status.revision`, 1 until the TaskDefinition controller
    /// publishes one.
    #[must_use]
    pub fn latest_revision(&self) -> i64 {
        self.status.as_ref().and_then(|s| s.revision).unwrap_or(1)
    }

    /// Whether [`family`](Self::family) is `family` (without building it).
    #[must_use]
    pub fn has_family(&self, family: &str) -> bool {
        self.spec
            .task_definition
            .family
            .as_deref()
            .or(self.metadata.name.as_deref())
            .unwrap_or_default()
            == family
    }

    /// The TaskDefinition of `family` among `candidates` (one namespace's): the one whose
    /// [`family`](Self::family) is `family`, else the one named `family`.
    ///
    /// # Errors
    /// A message when several objects register `family` (there must be one object per family).
    pub fn of_family<'a>(candidates: &'a [Self], family: &str) -> Result<Option<&'a Self>, String> {
        let mut by_family: Vec<&Self> = candidates.iter().filter(|td| td.has_family(family)).collect();
        match by_family.len() {
            0 => Ok(candidates
                .iter()
                .find(|td| td.metadata.name.as_deref() == Some(family))),
            1 => Ok(by_family.pop()),
            _ => {
                let mut names: Vec<&str> = by_family
                    .iter()
                    .filter_map(|td| td.metadata.name.as_deref())
                    .collect();
                names.sort_unstable();
                Err(format!(
                    "TaskDefinitions {} all register family {family:?}; keep one object per family",
                    names.join(", ")
                ))
            }
        }
    }
}
