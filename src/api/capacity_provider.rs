//! `CapacityProvider` (cluster-scoped): `spec` is the `CreateCapacityProvider` request plus the
//! Kubernetes side: which nodes are this provider's capacity.

// kube's printcolumn(...) repeats `type_ = "string"`, which clippy takes for a duplicate.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::{api::core::v1::Toleration, apimachinery::pkg::apis::meta::v1::Condition};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{condition::conditions_schema, ecs::CreateCapacityProvider, schema::with_short_descriptions};

fn tolerations_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    with_short_descriptions(generator.subschema_for::<Option<Vec<Toleration>>>())
}

/// An ECS capacity provider: a pool of nodes that tasks can be placed on by strategy.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ecsbridge.io",
    version = "v1alpha1",
    kind = "CapacityProvider",
    status = "CapacityProviderStatus",
    shortname = "ecscp",
    category = "ecs",
    doc = "An ECS capacity provider (cluster-scoped); spec is the CreateCapacityProvider request plus nodeSelector and tolerations.",
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(name = "Nodes", type_ = "integer", json_path = ".status.nodes"),
    printcolumn(name = "Tasks", type_ = "integer", json_path = ".status.runningTasks"),
    printcolumn(
        name = "Reservation",
        type_ = "integer",
        json_path = ".status.capacityProviderReservation"
    ),
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
pub struct CapacityProviderSpec {
    /// The CreateCapacityProvider request, with ECS's field names.
    #[serde(flatten)]
    pub capacity_provider: CreateCapacityProvider,
    /// Node labels that select this provider's nodes.
    #[serde(rename = "nodeSelector", default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Tolerations that let tasks onto this provider's tainted nodes.
    #[serde(rename = "tolerations", default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "tolerations_schema")]
    pub tolerations: Option<Vec<Toleration>>,
}

/// Observed state of a capacity provider.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProviderStatus {
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
    /// ECS status: ACTIVE, or DEPROVISIONING while it is being deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// ECS type: EC2_AUTOSCALING, MANAGED_INSTANCES, FARGATE or FARGATE_SPOT.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// ECS update status: CREATE_COMPLETE, UPDATE_IN_PROGRESS, UPDATE_COMPLETE or DELETE_IN_PROGRESS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_status: Option<String>,
    /// Why the update status is what it is, when not complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_status_reason: Option<String>,
    /// The node selector the provider's tasks get, as `key=value` pairs joined by commas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selects: Option<String>,
    /// Nodes that match the provider's node selector (and are not being deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<i32>,
    /// Allocatable CPU of those nodes, in Kubernetes quantity form (e.g. 3800m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable_cpu: Option<String>,
    /// Allocatable memory of those nodes, in Kubernetes quantity form (e.g. 15Gi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable_memory: Option<String>,
    /// CPU requested by the provider's tasks, running and pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_cpu: Option<String>,
    /// Memory requested by the provider's tasks, running and pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_memory: Option<String>,
    /// The provider's tasks that run on a node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_tasks: Option<i32>,
    /// The provider's tasks waiting for capacity (ECS PROVISIONING: not scheduled yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_tasks: Option<i32>,
    /// ECS's CapacityProviderReservation: nodes needed for its tasks (M) over nodes it has (N), times 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_reservation: Option<i32>,
    /// The spare capacity managed scaling keeps (placeholder tasks), when targetCapacity is below 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headroom: Option<String>,
    /// The Karpenter NodePool the provider owns (Managed Instances), once applied: its tasks
    /// select that pool's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_pool: Option<String>,
    /// The Services (namespace/name) whose strategy names the provider.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

impl CapacityProvider {
    /// The provider's ECS name: `spec.name`, else the object's name (what strategies name).
    #[must_use]
    pub fn ecs_name(&self) -> String {
        self.spec
            .capacity_provider
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }
}
