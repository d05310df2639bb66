//! ECS Managed Instances as a Karpenter NodePool (pure): a CapacityProvider with a
//! `managedInstancesProvider` owns a NodePool whose requirements come from the launch template's
//! `instanceRequirements` and `capacityOptionType`, whose consolidation delay is
//! `infrastructureOptimization.scaleInAfter`, and which names the `EC2NodeClass` given to the
//! operator (`--karpenter-node-class`): ECS Managed Instances chooses instance types by attribute
//! and removes idle instances, as Karpenter does.
//!
//! Karpenter labels every node with the NodePool that launched it (`karpenter.sh/nodepool`), so
//! once the pool exists the provider's tasks select its nodes by that label
//! ([`super::provider::Provider::of`] reads the pool's name from the provider's status).
//!
//! What has no Karpenter form is said in the [`Report`], field by field.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Taint;
use kube::ResourceExt;

use crate::{
    api::{
        CapacityProvider,
        ecs::{CapacityOptionType, CreateManagedInstancesProviderConfiguration},
        external::{
            NodePool, NodePoolSpec,
            karpenter::{
                Disruption, NodeClaimTemplate, NodeClaimTemplateSpec, NodeClassReference, TemplateMetadata,
            },
        },
    },
    translate::{
        capacity::{
            instance_requirements::{instance_requirements, refused, req},
            provider::{PROVIDER_LABEL, label_value},
        },
        labels,
        report::{NoteKind, Report},
    },
};

pub use super::{instance_requirements::NodePoolError, provider::NODE_POOL_LABEL};

/// Karpenter's label of a node's capacity type (`on-demand`, `spot`, `reserved`).
pub const CAPACITY_TYPE_LABEL: &str = "karpenter.sh/capacity-type";
/// `apiVersion` of Karpenter's NodePool.
pub const API_VERSION: &str = "karpenter.sh/v1";
/// Plural of Karpenter's NodePool.
pub const PLURAL: &str = "nodepools";
/// API group of Karpenter's AWS node class.
pub const NODE_CLASS_GROUP: &str = "karpenter.k8s.aws";
/// Kind of Karpenter's AWS node class.
pub const NODE_CLASS_KIND: &str = "EC2NodeClass";
/// The `EC2NodeClass` NodePools name unless the operator is told another
/// (`--karpenter-node-class`): the name Karpenter's getting-started guide gives it.
pub const DEFAULT_NODE_CLASS: &str = "default";
/// Largest `scaleInAfter` ECS accepts, in seconds.
pub const MAX_SCALE_IN_AFTER: i32 = 3600;

/// A provider's NodePool and what its translation could not carry over.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The NodePool (no owner reference, no applied hash: the controller adds them).
    pub node_pool: NodePool,
    /// Fields translated approximately or not at all.
    pub report: Report,
}

/// The name of `cp`'s NodePool: the provider object's own name (a valid NodePool name, being a
/// valid object name).
#[must_use]
pub fn name(cp: &CapacityProvider) -> String {
    cp.name_any()
}

/// The NodePool of `cp` naming the `EC2NodeClass` `node_class`; `None` when `cp` has no
/// `managedInstancesProvider`.
///
/// # Errors
/// A field ECS would refuse (a range with max below min, `scaleInAfter` out of −1..3600, both
/// allowed and excluded instance types), naming it.
pub fn node_pool(cp: &CapacityProvider, node_class: &str) -> Result<Option<Built>, NodePoolError> {
    let Some(mi) = cp.spec.capacity_provider.managed_instances_provider.as_ref() else {
        return Ok(None);
    };
    let mut report = Report::default();
    let mut requirements = Vec::new();
    // (Karpenter refuses node labels under kubernetes.io, as app.kubernetes.io/managed-by is: the
    // NodePool carries that label, its nodes do not.)
    let mut labels_out = BTreeMap::new();
    let template = &mi.instance_launch_template;
    let capacity = match template.capacity_option_type.as_ref() {
        None | Some(CapacityOptionType::OnDemand) => "on-demand",
        Some(CapacityOptionType::Spot) => "spot",
        Some(CapacityOptionType::Reserved) => {
            report.note(
                NoteKind::Approximated,
                "managedInstancesProvider.instanceLaunchTemplate.capacityOptionType",
                "RESERVED is Karpenter's `reserved` capacity type: it needs Karpenter's ReservedCapacity feature \
                 and the reservations selected in the EC2NodeClass (capacityReservationSelectorTerms)",
            );
            "reserved"
        }
    };
    requirements.push(req(CAPACITY_TYPE_LABEL, "In", [capacity.to_owned()]));
    // The provider's node selector: well-known labels Karpenter sets itself become requirements,
    // the others labels of the launched nodes; either way its nodes match what tasks select.
    for (key, value) in cp.spec.node_selector.iter().flatten() {
        let field = format!("nodeSelector.{key}");
        match label_kind(key) {
            LabelKind::WellKnown if key == CAPACITY_TYPE_LABEL && value != capacity => {
                return Err(refused(
                    field,
                    format!(
                        "{value:?} contradicts managedInstancesProvider.instanceLaunchTemplate.capacityOptionType \
                         ({capacity} capacity): leave the selector out, or make them agree"
                    ),
                ));
            }
            LabelKind::WellKnown if key == CAPACITY_TYPE_LABEL => {}
            LabelKind::WellKnown => requirements.push(req(key, "In", [value.clone()])),
            LabelKind::Own => {
                labels_out.insert(key.clone(), value.clone());
            }
            LabelKind::Restricted(why) => return Err(refused(field, why)),
        }
    }
    if let Some(ir) = template.instance_requirements.as_ref() {
        instance_requirements(ir, &mut requirements, &mut report)?;
    } else {
        // ECS's own default for burstable performance types is `excluded`.
        requirements.push(req(
            "karpenter.k8s.aws/instance-category",
            "NotIn",
            ["t".to_owned()],
        ));
    }
    let mut taints = taints(cp, &mut report);
    // The nodes are the provider's alone, as ECS keeps a capacity provider's instances for its
    // tasks: the provider's tasks tolerate this taint (`Provider::of`), no other pod does.
    taints.push(Taint {
        key: PROVIDER_LABEL.to_owned(),
        value: Some(label_value(&cp.ecs_name())),
        effect: "NoSchedule".to_owned(),
        time_added: None,
    });
    let disruption = disruption(mi)?;
    ignored(mi, node_class, &mut report);
    let node_pool = NodePool {
        metadata: kube::api::ObjectMeta {
            name: Some(name(cp)),
            labels: Some(BTreeMap::from([(
                labels::MANAGED_BY.to_owned(),
                labels::MANAGED_BY_VALUE.to_owned(),
            )])),
            ..Default::default()
        },
        spec: NodePoolSpec {
            template: NodeClaimTemplate {
                metadata: (!labels_out.is_empty()).then_some(TemplateMetadata {
                    labels: Some(labels_out),
                }),
                spec: NodeClaimTemplateSpec {
                    node_class_ref: NodeClassReference {
                        group: NODE_CLASS_GROUP.to_owned(),
                        kind: NODE_CLASS_KIND.to_owned(),
                        name: node_class.to_owned(),
                    },
                    requirements,
                    taints: Some(taints),
                },
            },
            disruption: Some(disruption),
        },
    };
    Ok(Some(Built { node_pool, report }))
}

/// What a node label is to a NodePool.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelKind {
    /// A well-known label Karpenter sets itself: a NodePool constrains it by a requirement.
    WellKnown,
    /// A label of the user's own: a NodePool's template sets it on its nodes.
    Own,
    /// A label Karpenter neither sets nor lets a NodePool set: why, and what to do.
    Restricted(String),
}

/// Karpenter's well-known labels a provider may select (it sets them on every node it launches).
const WELL_KNOWN: &[&str] = &[
    "kubernetes.io/arch",
    "kubernetes.io/os",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    CAPACITY_TYPE_LABEL,
];
/// Label domains Karpenter keeps to itself and Kubernetes (a NodePool may set no label there).
const RESTRICTED_DOMAINS: &[&str] = &["kubernetes.io", "k8s.io", "karpenter.sh", "karpenter.k8s.aws"];
/// Subdomains of those that NodePools may still set labels in.
const DOMAIN_EXCEPTIONS: &[&str] = &[
    "kops.k8s.io",
    "node.kubernetes.io",
    "node-restriction.kubernetes.io",
];

/// What node label `key` is to a NodePool, as Karpenter's NodePool validation has it.
fn label_kind(key: &str) -> LabelKind {
    if WELL_KNOWN.contains(&key) || key.starts_with("karpenter.k8s.aws/instance-") {
        return LabelKind::WellKnown;
    }
    if key == NODE_POOL_LABEL {
        return LabelKind::Restricted(
            "Karpenter sets it to the NodePool's name (the provider's own name): leave it out".to_owned(),
        );
    }
    let domain = key.split_once('/').map_or("", |(d, _)| d);
    let under = |d: &str| domain == d || domain.ends_with(&format!(".{d}"));
    if !DOMAIN_EXCEPTIONS.iter().any(|d| under(d))
        && let Some(d) = RESTRICTED_DOMAINS.iter().find(|d| under(d))
    {
        return LabelKind::Restricted(format!(
            "Karpenter neither sets this label nor lets a NodePool set labels under {d}: select a well-known \
             label or one of your own"
        ));
    }
    LabelKind::Own
}

/// The provider's tolerations as taints of its nodes, so that only its tasks (which tolerate
/// them) land there.
fn taints(cp: &CapacityProvider, report: &mut Report) -> Vec<Taint> {
    let mut out = Vec::new();
    for (i, t) in cp.spec.tolerations.iter().flatten().enumerate() {
        match (t.key.as_deref(), t.effect.as_deref()) {
            (Some(key), Some(effect)) if !key.is_empty() && !effect.is_empty() => out.push(Taint {
                key: key.to_owned(),
                value: (t.operator.as_deref() != Some("Exists"))
                    .then(|| t.value.clone())
                    .flatten(),
                effect: effect.to_owned(),
                time_added: None,
            }),
            _ => report.note(
                NoteKind::Ignored,
                format!("tolerations[{i}]"),
                "not a taint of the NodePool's nodes: a toleration needs a key and an effect to name one",
            ),
        }
    }
    out
}

/// `infrastructureOptimization.scaleInAfter` as Karpenter's consolidation: after that many
/// seconds idle or underused (`null`: Karpenter's default, at once), or never (`-1`).
fn disruption(mi: &CreateManagedInstancesProviderConfiguration) -> Result<Disruption, NodePoolError> {
    let after = mi
        .infrastructure_optimization
        .as_ref()
        .and_then(|o| o.scale_in_after);
    let consolidate_after = match after {
        None => "0s".to_owned(),
        Some(-1) => "Never".to_owned(),
        Some(s) if (0..=MAX_SCALE_IN_AFTER).contains(&s) => format!("{s}s"),
        Some(s) => {
            return Err(refused(
                "managedInstancesProvider.infrastructureOptimization.scaleInAfter",
                format!("{s}: must be -1 (no optimization) or 0 to {MAX_SCALE_IN_AFTER} seconds"),
            ));
        }
    };
    Ok(Disruption {
        consolidation_policy: Some("WhenEmptyOrUnderutilized".to_owned()),
        consolidate_after,
    })
}

/// Notes for what the EC2NodeClass, not the NodePool, holds, and what Karpenter does itself.
fn ignored(mi: &CreateManagedInstancesProviderConfiguration, node_class: &str, report: &mut Report) {
    let class = format!(
        "the EC2NodeClass {node_class:?} (--karpenter-node-class) holds the instance profile, subnets, security groups \
         and storage of Karpenter's nodes; set it there"
    );
    let t = &mi.instance_launch_template;
    let lt = "managedInstancesProvider.instanceLaunchTemplate";
    report.note(
        NoteKind::Ignored,
        "managedInstancesProvider.infrastructureRoleArn",
        &class,
    );
    report.note(NoteKind::Ignored, format!("{lt}.ec2InstanceProfileArn"), &class);
    report.note(NoteKind::Ignored, format!("{lt}.networkConfiguration"), &class);
    let optional: [(&str, bool); 7] = [
        ("storageConfiguration", t.storage_configuration.is_some()),
        (
            "localStorageConfiguration",
            t.local_storage_configuration.is_some(),
        ),
        ("monitoring", t.monitoring.is_some()),
        ("fipsEnabled", t.fips_enabled.is_some()),
        (
            "instanceMetadataTagsPropagation",
            t.instance_metadata_tags_propagation.is_some(),
        ),
        ("capacityReservations", t.capacity_reservations.is_some()),
        ("nitroEnclavesEnabled", t.nitro_enclaves_enabled.is_some()),
    ];
    for (field, set) in optional {
        if set {
            report.note(NoteKind::Ignored, format!("{lt}.{field}"), &class);
        }
    }
    if mi.propagate_tags.is_some() {
        report.note(
            NoteKind::Ignored,
            "managedInstancesProvider.propagateTags",
            "tag Karpenter's instances with the EC2NodeClass's tags",
        );
    }
    if mi.auto_repair_configuration.is_some() {
        report.note(
            NoteKind::Ignored,
            "managedInstancesProvider.autoRepairConfiguration",
            "Karpenter's node repair (its NodeRepair feature gate) replaces unhealthy nodes",
        );
    }
}
