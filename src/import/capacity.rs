//! Capacity providers and cluster capacity, imported: CreateCapacityProvider input,
//! create-capacity-provider and describe-capacity-providers output become CapacityProviders
//! (cluster-scoped); PutClusterCapacityProviders and CreateCluster input and describe-clusters
//! output become the cluster's Namespace with the annotations that hold its providers and
//! default strategy ([`crate::translate::capacity::cluster`]); the rest of a cluster is dropped
//! with a warning naming each field.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, ImportResult, Imported, strip};
use crate::{
    api::{
        CapacityProvider, CapacityProviderSpec,
        ecs::{CapacityProviderStrategyItem, CreateCapacityProvider},
    },
    manifest::{Diagnostic, FieldPath, position_of},
    translate::capacity::{
        FARGATE_PROVIDERS,
        cluster::{DEFAULT_STRATEGY_ANNOTATION, PROVIDERS_ANNOTATION},
        validate, validate_provider_name,
    },
};

/// Fields of describe-capacity-providers output that ECS computes: not part of the request.
pub const CAPACITY_PROVIDER_READ_ONLY: &[&str] = &[
    "capacityProviderArn",
    "status",
    "type",
    "updateStatus",
    "updateStatusReason",
];

/// Fields of describe-clusters output that ECS computes: not part of any request.
pub const CLUSTER_READ_ONLY: &[&str] = &[
    "activeServicesCount",
    "attachments",
    "attachmentsStatus",
    "clusterArn",
    "pendingTasksCount",
    "registeredContainerInstancesCount",
    "runningTasksCount",
    "statistics",
    "status",
];

/// A cluster's capacity: the PutClusterCapacityProviders request, or what a CreateCluster
/// request or a described cluster says of it (`clusterName`); the rest of those is `other`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterRequest {
    #[serde(alias = "clusterName")]
    cluster: String,
    #[serde(default)]
    capacity_providers: Vec<String>,
    #[serde(default)]
    default_capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

impl Ctx<'_> {
    /// The provider at `base` (a request, or a described provider).
    pub(super) fn capacity_provider(&self, base: &FieldPath, value: &Value, result: &mut ImportResult) {
        let mut request = value.clone();
        strip(&mut request, CAPACITY_PROVIDER_READ_ONLY);
        let spec: CreateCapacityProvider = match self.typed_at(base, &request) {
            Ok(s) => s,
            Err(e) => return result.diagnostics.push(e),
        };
        if !self.kept(base, &request, &spec, "CreateCapacityProvider", result) {
            return;
        }
        let field = base.key("name");
        let Some(ecs_name) = spec.name.clone() else {
            return result.diagnostics.push(Diagnostic::error(
                self.path,
                position_of(self.doc, base).or(Some((1, 1))),
                Some(field),
                "required: the capacity provider's name (what strategies name)",
            ));
        };
        if FARGATE_PROVIDERS.contains(&ecs_name.as_str())
            && spec.auto_scaling_group_provider.is_none()
            && spec.managed_instances_provider.is_none()
        {
            return result.diagnostics.push(Diagnostic::warning(
                self.path,
                position_of(self.doc, &field),
                Some(field),
                format!("{ecs_name} is built in: the chart installs it (kubectl get ecscp); not imported"),
            ));
        }
        if let Err(e) = validate_provider_name(&ecs_name) {
            return result.diagnostics.push(Diagnostic::error(
                self.path,
                position_of(self.doc, &field),
                Some(field),
                e,
            ));
        }
        let Some(name) = self.name_from(Some(&ecs_name), &field, result) else {
            return;
        };
        let cp = CapacityProvider {
            // Cluster-scoped: no namespace, whatever --namespace says.
            metadata: ObjectMeta {
                name: Some(name),
                ..ObjectMeta::default()
            },
            spec: CapacityProviderSpec {
                capacity_provider: spec,
                node_selector: None,
                tolerations: None,
            },
            status: None,
        };
        if cp.spec.capacity_provider.auto_scaling_group_provider.is_some() {
            result.diagnostics.push(Diagnostic::warning(
                self.path,
                position_of(self.doc, &base.key("autoScalingGroupProvider")),
                Some(base.key("autoScalingGroupProvider")),
                format!(
                    "the Auto Scaling group's nodes are not known here: add spec.nodeSelector to \
                     CapacityProvider {} (e.g. eks.amazonaws.com/nodegroup: <node group>), or its tasks \
                     may run on any node",
                    cp.metadata.name.as_deref().unwrap_or_default()
                ),
            ));
        }
        result.objects.push(Imported::CapacityProvider(Box::new(cp)));
    }

    /// describe-capacity-providers output: each provider.
    pub(super) fn described_capacity_providers(&self, value: &Value, result: &mut ImportResult) {
        let providers = value["capacityProviders"].as_array().cloned().unwrap_or_default();
        if providers.is_empty() {
            let field = FieldPath::root().key("capacityProviders");
            result.diagnostics.push(Diagnostic::warning(
                self.path,
                position_of(self.doc, &field),
                Some(field),
                "no capacity provider in the document: nothing imported",
            ));
        }
        for (i, cp) in providers.iter().enumerate() {
            self.capacity_provider(&FieldPath::root().key("capacityProviders").index(i), cp, result);
        }
    }

    /// describe-clusters output: each cluster's Namespace.
    pub(super) fn described_clusters(&self, value: &Value, result: &mut ImportResult) {
        let clusters = value["clusters"].as_array().cloned().unwrap_or_default();
        for (i, cluster) in clusters.iter().enumerate() {
            self.cluster_capacity(&FieldPath::root().key("clusters").index(i), cluster, result);
        }
    }

    /// PutClusterCapacityProviders or CreateCluster input, or a described cluster, at `base`:
    /// the cluster's Namespace, with its providers and default strategy as annotations.
    pub(super) fn cluster_capacity(&self, base: &FieldPath, value: &Value, result: &mut ImportResult) {
        let mut value = value.clone();
        strip(&mut value, CLUSTER_READ_ONLY);
        let put: ClusterRequest = match self.typed_at(base, &value) {
            Ok(p) => p,
            Err(e) => return result.diagnostics.push(e),
        };
        for key in put.other.keys() {
            let field = base.key(key);
            result.diagnostics.push(Diagnostic::warning(
                self.path,
                position_of(self.doc, &field),
                Some(field),
                "not a capacity setting of the cluster: dropped (the cluster's Namespace holds its capacity \
                 providers and default strategy)",
            ));
        }
        let strategy_field = "defaultCapacityProviderStrategy";
        if !put.default_capacity_provider_strategy.is_empty()
            && let Err(e) = validate(strategy_field, &put.default_capacity_provider_strategy)
        {
            let field = base.key(strategy_field);
            return result.diagnostics.push(Diagnostic::error(
                self.path,
                position_of(self.doc, &field),
                Some(field),
                e.to_string(),
            ));
        }
        for (i, item) in put.default_capacity_provider_strategy.iter().enumerate() {
            if !put.capacity_providers.contains(&item.capacity_provider) {
                let field = FieldPath::root()
                    .key(strategy_field)
                    .index(i)
                    .key("capacityProvider");
                return result.diagnostics.push(Diagnostic::error(
                    self.path,
                    position_of(self.doc, &field),
                    Some(field),
                    format!(
                        "{:?} is not among capacityProviders: ECS refuses a default strategy naming a \
                         provider the cluster does not have; add it there",
                        item.capacity_provider
                    ),
                ));
            }
        }
        let name = match &self.options.namespace {
            Some(ns) => Some(ns.clone()),
            None => self.name_from(Some(&put.cluster), &base.key("cluster"), result),
        };
        let Some(name) = name else { return };
        let providers = if put.capacity_providers.is_empty() {
            "[]".to_owned()
        } else {
            put.capacity_providers.join(",")
        };
        let mut annotations = BTreeMap::from([(PROVIDERS_ANNOTATION.to_owned(), providers)]);
        if !put.default_capacity_provider_strategy.is_empty() {
            annotations.insert(
                DEFAULT_STRATEGY_ANNOTATION.to_owned(),
                serde_json::to_string(&put.default_capacity_provider_strategy).unwrap_or_default(),
            );
        }
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        result.objects.push(Imported::Namespace(Box::new(namespace)));
    }
}
