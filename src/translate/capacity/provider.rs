//! What a CapacityProvider means to the tasks placed on it (pure): the nodes it selects, the
//! tolerations that let tasks onto them, the annotations of managed termination protection, and
//! the names of a Service's per-provider Deployments; and which strategy a Service runs with
//! (its own, its launch type's, or its cluster's default).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;

use super::ProviderKind;
use crate::{
    api::{
        CapacityProvider,
        ecs::{CapacityProviderStrategyItem, LaunchType, ManagedTerminationProtection},
    },
    names,
};

/// Label on a Service's per-provider Deployments and their pods: the provider's ECS name.
pub const PROVIDER_LABEL: &str = "ecsbridge.io/capacity-provider";
/// Karpenter's label on every node it launches: its NodePool's name (a Managed Instances
/// provider's tasks select their NodePool's nodes by it).
pub const NODE_POOL_LABEL: &str = "karpenter.sh/nodepool";
/// Karpenter's annotation that keeps a pod's node from being disrupted (consolidation, drift).
pub const KARPENTER_DO_NOT_DISRUPT: &str = "karpenter.sh/do-not-disrupt";
/// cluster-autoscaler's annotation that keeps a pod's node from being scaled in.
pub const CLUSTER_AUTOSCALER_SAFE_TO_EVICT: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";

/// One item of a service's strategy with the provider it names.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyProvider {
    /// The strategy item (base, weight).
    pub item: CapacityProviderStrategyItem,
    /// The provider it names.
    pub provider: Provider,
}

/// A capacity provider, as the tasks placed on it see it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provider {
    /// Its ECS name (`spec.name`, else the object's name): what strategies name.
    pub name: String,
    /// Its kind (Fargate, Auto Scaling group, Managed Instances).
    pub kind: Option<ProviderKind>,
    /// Node labels its tasks' pods must match.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations its tasks' pods get.
    pub tolerations: Vec<Toleration>,
    /// `managedTerminationProtection: ENABLED`: the tasks' nodes are not scaled in under them.
    pub termination_protection: bool,
}

impl Provider {
    /// `cp` as its tasks see it.
    #[must_use]
    pub fn of(cp: &CapacityProvider) -> Self {
        let protection = cp
            .spec
            .capacity_provider
            .auto_scaling_group_provider
            .as_ref()
            .and_then(|a| a.managed_termination_protection.as_ref());
        let mut node_selector = cp.spec.node_selector.clone().unwrap_or_default();
        let mut tolerations = cp.spec.tolerations.clone().unwrap_or_default();
        // A Managed Instances provider's own NodePool, once it exists: its tasks go to its nodes,
        // which are tainted for them alone.
        if let Some(pool) = cp.status.as_ref().and_then(|s| s.node_pool.as_ref())
            && cp.spec.capacity_provider.managed_instances_provider.is_some()
        {
            node_selector.insert(NODE_POOL_LABEL.to_owned(), pool.clone());
            tolerations.push(Toleration {
                key: Some(PROVIDER_LABEL.to_owned()),
                operator: Some("Equal".to_owned()),
                value: Some(label_value(&cp.ecs_name())),
                effect: Some("NoSchedule".to_owned()),
                ..Toleration::default()
            });
        }
        Self {
            name: cp.ecs_name(),
            kind: Some(kind(cp)),
            node_selector,
            tolerations,
            termination_protection: protection == Some(&ManagedTerminationProtection::Enabled),
        }
    }

    /// The value of [`PROVIDER_LABEL`] for this provider: its ECS name when that is a valid label
    /// value, else a lower-case form with a hash of the name.
    #[must_use]
    pub fn label_value(&self) -> String {
        label_value(&self.name)
    }

    /// The annotations its tasks' pods carry: with managed termination protection, those that
    /// keep Karpenter and cluster-autoscaler from removing their nodes (ECS protects instances
    /// that run tasks from scale-in the same way).
    #[must_use]
    pub fn pod_annotations(&self) -> BTreeMap<String, String> {
        if !self.termination_protection {
            return BTreeMap::new();
        }
        BTreeMap::from([
            (KARPENTER_DO_NOT_DISRUPT.to_owned(), "true".to_owned()),
            (CLUSTER_AUTOSCALER_SAFE_TO_EVICT.to_owned(), "false".to_owned()),
        ])
    }
}

/// The built-in FARGATE and FARGATE_SPOT providers as the chart installs them (and as `render`
/// uses them when the manifests do not give them): FARGATE selects EKS Fargate's nodes
/// (`eks.amazonaws.com/compute-type: fargate`, whose taint it tolerates; an EKS Fargate profile
/// selecting the pods by the label `ecsbridge.io/capacity-provider: FARGATE` runs them there),
/// FARGATE_SPOT spot nodes (`karpenter.sh/capacity-type: spot`; with managed node groups, edit
/// it to `eks.amazonaws.com/capacityType: SPOT`), with no fallback to on-demand, as in ECS.
#[must_use]
pub fn builtin() -> Vec<CapacityProvider> {
    let provider = |object: &str, name: &str, selector: (&str, &str), toleration: Option<Toleration>| {
        let mut cp = CapacityProvider::new(
            object,
            crate::api::CapacityProviderSpec {
                capacity_provider: crate::api::ecs::CreateCapacityProvider {
                    name: Some(name.to_owned()),
                    ..Default::default()
                },
                node_selector: Some(BTreeMap::from([(selector.0.to_owned(), selector.1.to_owned())])),
                tolerations: toleration.map(|t| vec![t]),
            },
        );
        cp.metadata.labels = Some(BTreeMap::from([(
            crate::translate::labels::MANAGED_BY.to_owned(),
            crate::translate::labels::MANAGED_BY_VALUE.to_owned(),
        )]));
        cp
    };
    vec![
        provider(
            "fargate",
            "FARGATE",
            (FARGATE_NODE_LABEL, "fargate"),
            Some(Toleration {
                key: Some(FARGATE_NODE_LABEL.to_owned()),
                operator: Some("Equal".to_owned()),
                value: Some("fargate".to_owned()),
                effect: Some("NoSchedule".to_owned()),
                ..Toleration::default()
            }),
        ),
        provider(
            "fargate-spot",
            "FARGATE_SPOT",
            ("karpenter.sh/capacity-type", "spot"),
            None,
        ),
    ]
}

/// The label of EKS Fargate's nodes (and the key of their taint).
pub const FARGATE_NODE_LABEL: &str = "eks.amazonaws.com/compute-type";

/// The kind of `cp`: FARGATE and FARGATE_SPOT are Fargate's, a `managedInstancesProvider` is
/// Managed Instances, anything else an Auto Scaling group's (nodes named by a selector).
#[must_use]
pub fn kind(cp: &CapacityProvider) -> ProviderKind {
    let name = cp.ecs_name();
    if super::FARGATE_PROVIDERS.contains(&name.as_str()) {
        ProviderKind::Fargate
    } else if cp.spec.capacity_provider.managed_instances_provider.is_some() {
        ProviderKind::ManagedInstances
    } else {
        ProviderKind::AutoScalingGroup
    }
}

/// ECS's `type` of a provider of `kind` named `name`.
#[must_use]
pub fn ecs_type(kind: ProviderKind, name: &str) -> &'static str {
    match kind {
        ProviderKind::Fargate if name == "FARGATE_SPOT" => "FARGATE_SPOT",
        ProviderKind::Fargate => "FARGATE",
        ProviderKind::AutoScalingGroup => "EC2_AUTOSCALING",
        ProviderKind::ManagedInstances => "MANAGED_INSTANCES",
    }
}

/// The [`PROVIDER_LABEL`] value of the provider named `name` (see [`Provider::label_value`]).
#[must_use]
pub fn label_value(name: &str) -> String {
    if names::is_label_value(name) {
        return name.to_owned();
    }
    let base: String = names::object_name(name)
        .unwrap_or_default()
        .chars()
        .take(46)
        .collect();
    let base = base.trim_end_matches('-');
    format!("{base}-{:016x}", crate::fnv::hash(name.bytes()))
        .trim_start_matches('-')
        .to_owned()
}

/// The name of Service `service`'s Deployment on the provider named `provider`:
/// `<service>-<provider in lower case>`.
#[must_use]
pub fn deployment_name(service: &str, provider: &str) -> String {
    let provider = names::object_name(provider).unwrap_or_else(|| label_value(provider).to_ascii_lowercase());
    let name: String = format!("{service}-{provider}").chars().take(240).collect();
    name.trim_end_matches('-').to_owned()
}

/// Where a Service's strategy comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategySource {
    /// Its `capacityProviderStrategy`.
    Service,
    /// Its `launchType: FARGATE` (the FARGATE provider).
    LaunchType,
    /// The strategy recorded when the Service was first reconciled (its status).
    Recorded,
    /// Its namespace's default strategy.
    ClusterDefault,
}

impl StrategySource {
    /// Its name in a Service's status (`capacityProviderStrategySource`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "Service",
            Self::LaunchType => "LaunchType",
            Self::Recorded | Self::ClusterDefault => "ClusterDefault",
        }
    }
}

/// The strategy a Service runs with: its own `strategy`; else FARGATE for `launchType: FARGATE`,
/// none for another launch type (EC2 and EXTERNAL run on any node, as the tasks of a launch type
/// are no provider's); else the one `recorded` in its status; else its cluster's `default`
/// (ECS copies the cluster's default strategy into a service when it is created, so a later
/// change of the default does not move existing services). `None`: one Deployment on any node.
#[must_use]
pub fn effective_strategy(
    strategy: Option<&[CapacityProviderStrategyItem]>,
    launch_type: Option<&LaunchType>,
    recorded: Option<&[CapacityProviderStrategyItem]>,
    default: Option<&[CapacityProviderStrategyItem]>,
) -> Option<(Vec<CapacityProviderStrategyItem>, StrategySource)> {
    if let Some(items) = strategy {
        return Some((items.to_vec(), StrategySource::Service));
    }
    match launch_type {
        Some(LaunchType::Fargate) => {
            return Some((
                vec![CapacityProviderStrategyItem {
                    capacity_provider: "FARGATE".to_owned(),
                    weight: Some(1),
                    base: None,
                }],
                StrategySource::LaunchType,
            ));
        }
        Some(_) => return None,
        None => {}
    }
    if let Some(items) = recorded.filter(|r| !r.is_empty()) {
        return Some((items.to_vec(), StrategySource::Recorded));
    }
    default
        .filter(|d| !d.is_empty())
        .map(|d| (d.to_vec(), StrategySource::ClusterDefault))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(provider: &str, weight: i32) -> CapacityProviderStrategyItem {
        CapacityProviderStrategyItem {
            capacity_provider: provider.to_owned(),
            weight: Some(weight),
            base: None,
        }
    }

    #[test]
    fn names_and_labels_hold_any_ecs_provider_name() {
        assert_eq!(label_value("FARGATE_SPOT"), "FARGATE_SPOT");
        let long = "p".repeat(80);
        let v = label_value(&long);
        assert!(names::is_label_value(&v) && v.len() <= 63, "{v}");
        assert_ne!(label_value(&"p".repeat(81)), v, "distinct names, distinct labels");
        assert!(names::is_label_value(&label_value("_x_")));
        assert_eq!(deployment_name("web", "FARGATE_SPOT"), "web-fargate-spot");
        assert!(names::is_dns_subdomain(&deployment_name("web", "___")));
    }

    #[test]
    fn the_strategy_comes_from_the_service_its_launch_type_its_record_or_its_cluster() {
        let own = [item("a", 1)];
        let recorded = [item("r", 1)];
        let default = [item("d", 1)];
        let of = |s, l, r, d| {
            effective_strategy(s, l, r, d).map(|(items, src)| (items[0].capacity_provider.clone(), src))
        };
        assert_eq!(
            of(Some(&own[..]), None, Some(&recorded[..]), Some(&default[..])),
            Some(("a".into(), StrategySource::Service))
        );
        assert_eq!(
            of(None, Some(&LaunchType::Fargate), None, Some(&default[..])),
            Some(("FARGATE".into(), StrategySource::LaunchType))
        );
        assert_eq!(of(None, Some(&LaunchType::Ec2), None, Some(&default[..])), None);
        assert_eq!(
            of(None, None, Some(&recorded[..]), Some(&default[..])),
            Some(("r".into(), StrategySource::Recorded))
        );
        assert_eq!(
            of(None, None, None, Some(&default[..])),
            Some(("d".into(), StrategySource::ClusterDefault))
        );
        assert_eq!(
            of(None, None, None, Some(&[][..])),
            None,
            "an empty default is none"
        );
    }

    #[test]
    fn a_managed_instances_providers_tasks_select_its_node_pool_once_it_has_one() {
        let mut cp: CapacityProvider = serde_json::from_value(serde_json::json!({
            "apiVersion": "ecsbridge.io/v1alpha1", "kind": "CapacityProvider",
            "metadata": {"name": "mi"},
            "spec": {"nodeSelector": {"team": "a"}, "managedInstancesProvider": {
                "infrastructureRoleArn": "r",
                "instanceLaunchTemplate": {"ec2InstanceProfileArn": "p", "networkConfiguration": {}}}}
        }))
        .expect("a provider");
        let team = BTreeMap::from([("team".to_owned(), "a".to_owned())]);
        assert_eq!(
            Provider::of(&cp).node_selector,
            team,
            "no NodePool yet: its selector only"
        );
        cp.status = Some(crate::api::CapacityProviderStatus {
            node_pool: Some("mi".into()),
            ..Default::default()
        });
        let mut with_pool = team.clone();
        with_pool.insert("karpenter.sh/nodepool".into(), "mi".into());
        let provider = Provider::of(&cp);
        assert_eq!(provider.node_selector, with_pool);
        assert_eq!(
            provider.tolerations,
            [Toleration {
                key: Some("ecsbridge.io/capacity-provider".into()),
                operator: Some("Equal".into()),
                value: Some("mi".into()),
                effect: Some("NoSchedule".into()),
                ..Toleration::default()
            }],
            "the NodePool's nodes are tainted for the provider's tasks"
        );
        // A provider that is not Managed Instances (any more) selects no NodePool.
        cp.spec.capacity_provider.managed_instances_provider = None;
        assert_eq!(Provider::of(&cp).node_selector, team);
        assert!(Provider::of(&cp).tolerations.is_empty());
    }
}
