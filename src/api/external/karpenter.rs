//! Karpenter's `NodePool` (`karpenter.sh/v1`), as far as ecs-bridge writes it: the CapacityProvider
//! controller makes one for a `managedInstancesProvider` where Karpenter is installed
//! ([`crate::translate::capacity::node_pool`] builds it).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Taint;
use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// `NodePoolSpec` of Karpenter (`karpenter.sh/v1`, cluster-scoped): the fields ecs-bridge sets.
/// Others (`limits`, `weight`, disruption `budgets`, ...) are left to their defaults.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "karpenter.sh",
    version = "v1",
    kind = "NodePool",
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolSpec {
    /// What the nodes Karpenter launches for this pool are.
    pub template: NodeClaimTemplate,
    /// When Karpenter may remove or replace the pool's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption: Option<Disruption>,
}

/// `spec.template` of a NodePool.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct NodeClaimTemplate {
    /// Labels (and annotations) of the launched nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    /// The launched nodes' class, requirements and taints.
    pub spec: NodeClaimTemplateSpec,
}

/// `spec.template.metadata` of a NodePool.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct TemplateMetadata {
    /// Labels every launched node carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// `spec.template.spec` of a NodePool.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaimTemplateSpec {
    /// The cloud provider's node class (an `EC2NodeClass` on AWS): AMI, subnets, security
    /// groups, instance profile.
    pub node_class_ref: NodeClassReference,
    /// What an instance type must satisfy (well-known node labels and operators).
    pub requirements: Vec<NodeSelectorRequirement>,
    /// Taints of the launched nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
}

/// `spec.template.spec.nodeClassRef` of a NodePool.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct NodeClassReference {
    /// The node class's API group (`karpenter.k8s.aws`).
    pub group: String,
    /// Its kind (`EC2NodeClass`).
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// One requirement of a NodePool: a node label, an operator and values.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeSelectorRequirement {
    /// The node label.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.
    pub operator: String,
    /// The values (one integer for `Gt` and `Lt`, none for `Exists` and `DoesNotExist`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// `spec.disruption` of a NodePool.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Disruption {
    /// `WhenEmpty` or `WhenEmptyOrUnderutilized`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidation_policy: Option<String>,
    /// How long a node stays empty or underused before Karpenter consolidates it (`300s`), or
    /// `Never`.
    pub consolidate_after: String,
}
