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
        ecs::{
            BurstablePerformance, CapacityOptionType, CpuManufacturer,
            CreateManagedInstancesProviderConfiguration, InstanceRequirementsRequest, LocalStorage,
        },
        external::{
            NodePool, NodePoolSpec,
            karpenter::{
                Disruption, NodeClaimTemplate, NodeClaimTemplateSpec, NodeClassReference,
                NodeSelectorRequirement, TemplateMetadata,
            },
        },
    },
    translate::{
        labels,
        report::{NoteKind, Report},
    },
};

/// Karpenter's label on every node it launches: the NodePool's name.
pub const NODE_POOL_LABEL: &str = "karpenter.sh/nodepool";
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

/// Why a provider's `managedInstancesProvider` cannot become a NodePool: the field (under `spec.`)
/// and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec.{field}: {message}")]
pub struct NodePoolError {
    /// The field, relative to `spec`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn refused(field: impl Into<String>, message: impl Into<String>) -> NodePoolError {
    NodePoolError {
        field: field.into(),
        message: message.into(),
    }
}

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
    // The provider's node selector: well-known labels Karpenter sets itself become requirements,
    // the others labels of the launched nodes; either way its nodes match what tasks select.
    for (key, value) in cp.spec.node_selector.iter().flatten() {
        if karpenter_sets(key) {
            requirements.push(req(key, "In", [value.clone()]));
        } else {
            labels_out.insert(key.clone(), value.clone());
        }
    }
    let template = &mi.instance_launch_template;
    let capacity = match template.capacity_option_type.as_ref() {
        None | Some(CapacityOptionType::OnDemand) => "on-demand",
        Some(CapacityOptionType::Spot) => "spot",
        Some(CapacityOptionType::Reserved) => "reserved",
    };
    if !requirements.iter().any(|r| r.key == CAPACITY_TYPE_LABEL) {
        requirements.push(req(CAPACITY_TYPE_LABEL, "In", [capacity.to_owned()]));
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
    let taints = taints(cp, &mut report);
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
                    taints: (!taints.is_empty()).then_some(taints),
                },
            },
            disruption: Some(disruption),
        },
    };
    Ok(Some(Built { node_pool, report }))
}

/// Whether Karpenter sets node label `key` itself (well-known labels, which a NodePool may only
/// constrain through requirements, not set in its template).
fn karpenter_sets(key: &str) -> bool {
    let domain = key.split_once('/').map_or("", |(d, _)| d);
    ["kubernetes.io", "k8s.io", "karpenter.sh", "karpenter.k8s.aws"]
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
}

fn req<const N: usize>(key: &str, operator: &str, values: [String; N]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.to_owned(),
        operator: operator.to_owned(),
        values: values.into(),
    }
}

/// `min ≤ label ≤ max` as Karpenter's strict `Gt`/`Lt` on an integer label.
fn range(
    field: &str,
    key: &str,
    min: Option<i64>,
    max: Option<i64>,
    out: &mut Vec<NodeSelectorRequirement>,
) -> Result<(), NodePoolError> {
    if let (Some(min), Some(max)) = (min, max)
        && max < min
    {
        return Err(refused(field, format!("max {max} is below min {min}")));
    }
    if let Some(min) = min.filter(|m| *m > 0) {
        out.push(req(key, "Gt", [(min - 1).to_string()]));
    }
    if let Some(max) = max {
        out.push(req(key, "Lt", [(max + 1).to_string()]));
    }
    Ok(())
}

/// A string form of an ECS enumeration value (its JSON name).
fn ecs_value(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

const IR: &str = "managedInstancesProvider.instanceLaunchTemplate.instanceRequirements";

#[allow(clippy::too_many_lines)]
fn instance_requirements(
    ir: &InstanceRequirementsRequest,
    out: &mut Vec<NodeSelectorRequirement>,
    report: &mut Report,
) -> Result<(), NodePoolError> {
    if ir.v_cpu_count.min < 0 {
        return Err(refused(format!("{IR}.vCpuCount.min"), "must be 0 or more"));
    }
    range(
        &format!("{IR}.vCpuCount"),
        "karpenter.k8s.aws/instance-cpu",
        Some(ir.v_cpu_count.min.into()),
        ir.v_cpu_count.max.map(Into::into),
        out,
    )?;
    if ir.memory_mib.min < 0 {
        return Err(refused(format!("{IR}.memoryMiB.min"), "must be 0 or more"));
    }
    range(
        &format!("{IR}.memoryMiB"),
        "karpenter.k8s.aws/instance-memory",
        Some(ir.memory_mib.min.into()),
        ir.memory_mib.max.map(Into::into),
        out,
    )?;
    if let Some(makers) = ir.cpu_manufacturers.as_ref().filter(|m| !m.is_empty()) {
        let karpenter: Vec<String> = makers
            .iter()
            .map(|m| ecs_value(m).replace("amazon-web-services", "aws"))
            .collect();
        let arm = makers.contains(&CpuManufacturer::AmazonWebServices);
        let x86 = makers.iter().any(|m| *m != CpuManufacturer::AmazonWebServices);
        out.push(NodeSelectorRequirement {
            key: "karpenter.k8s.aws/instance-cpu-manufacturer".to_owned(),
            operator: "In".to_owned(),
            values: karpenter,
        });
        let arch: Vec<String> = [(x86, "amd64"), (arm, "arm64")]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, a)| a.to_owned())
            .collect();
        out.push(NodeSelectorRequirement {
            key: "kubernetes.io/arch".to_owned(),
            operator: "In".to_owned(),
            values: arch,
        });
    }
    instance_types(ir, out, report)?;
    match ir.burstable_performance {
        Some(BurstablePerformance::Included) => {}
        Some(BurstablePerformance::Required) => {
            out.push(req("karpenter.k8s.aws/instance-category", "In", ["t".to_owned()]));
        }
        // ECS's default is `excluded`.
        Some(BurstablePerformance::Excluded) | None => {
            out.push(req(
                "karpenter.k8s.aws/instance-category",
                "NotIn",
                ["t".to_owned()],
            ));
        }
    }
    match ir.local_storage {
        Some(LocalStorage::Required) => {
            out.push(req("karpenter.k8s.aws/instance-local-nvme", "Exists", []));
            report.note(
                NoteKind::Approximated,
                format!("{IR}.localStorage"),
                "required as NVMe instance store (karpenter.k8s.aws/instance-local-nvme); Karpenter does not label HDD \
                 instance store",
            );
        }
        Some(LocalStorage::Excluded) => {
            out.push(req("karpenter.k8s.aws/instance-local-nvme", "DoesNotExist", []))
        }
        Some(LocalStorage::Included) | None => {}
    }
    if let Some(gb) = ir.total_local_storage_gb.as_ref() {
        range(
            &format!("{IR}.totalLocalStorageGB"),
            "karpenter.k8s.aws/instance-local-nvme",
            gb.min.map(|v| v.ceil() as i64),
            gb.max.map(|v| v.floor() as i64),
            out,
        )?;
    }
    if let Some(ebs) = ir.baseline_ebs_bandwidth_mbps.as_ref() {
        range(
            &format!("{IR}.baselineEbsBandwidthMbps"),
            "karpenter.k8s.aws/instance-ebs-bandwidth",
            ebs.min.map(Into::into),
            ebs.max.map(Into::into),
            out,
        )?;
    }
    if let Some(net) = ir.network_bandwidth_gbps.as_ref() {
        range(
            &format!("{IR}.networkBandwidthGbps"),
            "karpenter.k8s.aws/instance-network-bandwidth",
            net.min.map(|v| (v * 1000.0).ceil() as i64),
            net.max.map(|v| (v * 1000.0).floor() as i64),
            out,
        )?;
    }
    if let Some(count) = ir.accelerator_count.as_ref() {
        range(
            &format!("{IR}.acceleratorCount"),
            "karpenter.k8s.aws/instance-gpu-count",
            count.min.map(Into::into),
            count.max.map(Into::into),
            out,
        )?;
        if count.max == Some(0) {
            // No accelerator at all: Karpenter has no gpu-count label on such types.
            out.retain(|r| r.key != "karpenter.k8s.aws/instance-gpu-count");
            out.push(req("karpenter.k8s.aws/instance-gpu-count", "DoesNotExist", []));
        }
    }
    if let Some(names) = ir.accelerator_names.as_ref().filter(|n| !n.is_empty()) {
        out.push(NodeSelectorRequirement {
            key: "karpenter.k8s.aws/instance-gpu-name".to_owned(),
            operator: "In".to_owned(),
            values: names.iter().map(ecs_value).collect(),
        });
    }
    if let Some(makers) = ir.accelerator_manufacturers.as_ref().filter(|n| !n.is_empty()) {
        out.push(NodeSelectorRequirement {
            key: "karpenter.k8s.aws/instance-gpu-manufacturer".to_owned(),
            operator: "In".to_owned(),
            values: makers
                .iter()
                .map(|m| ecs_value(m).replace("amazon-web-services", "aws"))
                .collect(),
        });
    }
    let unlabelled: [(&str, bool, &str); 10] = [
        (
            "memoryGiBPerVCpu",
            ir.memory_gib_per_v_cpu.is_some(),
            "Karpenter labels no memory-per-vCPU ratio; vCpuCount and memoryMiB bound the types",
        ),
        (
            "instanceGenerations",
            ir.instance_generations.is_some(),
            "Karpenter labels the generation number (karpenter.k8s.aws/instance-generation), not current or previous",
        ),
        (
            "bareMetal",
            ir.bare_metal.is_some(),
            "Karpenter launches bare metal types only when nothing else fits",
        ),
        (
            "spotMaxPricePercentageOverLowestPrice",
            ir.spot_max_price_percentage_over_lowest_price.is_some(),
            "Karpenter launches the cheapest types that fit and has no price ceiling",
        ),
        (
            "onDemandMaxPricePercentageOverLowestPrice",
            ir.on_demand_max_price_percentage_over_lowest_price.is_some(),
            "Karpenter launches the cheapest types that fit and has no price ceiling",
        ),
        (
            "maxSpotPriceAsPercentageOfOptimalOnDemandPrice",
            ir.max_spot_price_as_percentage_of_optimal_on_demand_price
                .is_some(),
            "Karpenter launches the cheapest types that fit and has no price ceiling",
        ),
        (
            "requireHibernateSupport",
            ir.require_hibernate_support.is_some(),
            "Karpenter labels no hibernation support",
        ),
        (
            "networkInterfaceCount",
            ir.network_interface_count.is_some(),
            "Karpenter labels no network interface count",
        ),
        (
            "localStorageTypes",
            ir.local_storage_types.is_some(),
            "Karpenter labels NVMe instance store only (karpenter.k8s.aws/instance-local-nvme)",
        ),
        (
            "acceleratorTotalMemoryMiB",
            ir.accelerator_total_memory_mib.is_some(),
            "Karpenter labels the memory of one GPU (karpenter.k8s.aws/instance-gpu-memory), not the total",
        ),
    ];
    for (field, set, why) in unlabelled {
        if set {
            report.note(NoteKind::Ignored, format!("{IR}.{field}"), why);
        }
    }
    if ir.accelerator_types.as_ref().is_some_and(|t| !t.is_empty()) {
        report.note(
            NoteKind::Ignored,
            format!("{IR}.acceleratorTypes"),
            "Karpenter labels GPUs by count, name and manufacturer (use acceleratorCount, acceleratorNames, \
             acceleratorManufacturers)",
        );
    }
    Ok(())
}

/// `allowedInstanceTypes` and `excludedInstanceTypes`: exact names as `node.kubernetes.io/instance-type`,
/// `<family>.*` as `karpenter.k8s.aws/instance-family`; other wildcards have no Karpenter form.
fn instance_types(
    ir: &InstanceRequirementsRequest,
    out: &mut Vec<NodeSelectorRequirement>,
    report: &mut Report,
) -> Result<(), NodePoolError> {
    let allowed = ir.allowed_instance_types.as_deref().unwrap_or_default();
    let excluded = ir.excluded_instance_types.as_deref().unwrap_or_default();
    if !allowed.is_empty() && !excluded.is_empty() {
        return Err(refused(
            format!("{IR}.allowedInstanceTypes"),
            "set allowedInstanceTypes or excludedInstanceTypes, not both (EC2 refuses both)",
        ));
    }
    let (field, list, operator) = if allowed.is_empty() {
        ("excludedInstanceTypes", excluded, "NotIn")
    } else {
        ("allowedInstanceTypes", allowed, "In")
    };
    let mut types = Vec::new();
    let mut families = Vec::new();
    for (i, t) in list.iter().enumerate() {
        match t.strip_suffix(".*") {
            None if !t.contains('*') => types.push(t.clone()),
            Some(family) if !family.contains('*') && !family.is_empty() => families.push(family.to_owned()),
            _ => report.note(
                NoteKind::Ignored,
                format!("{IR}.{field}[{i}]"),
                format!(
                    "{t:?}: Karpenter matches exact instance types and families; write a type (m5.large) or a \
                     family (m5.*)"
                ),
            ),
        }
    }
    if operator == "In" && !types.is_empty() && !families.is_empty() {
        // Two In requirements would both have to hold: allow the named types' families instead.
        report.note(
            NoteKind::Approximated,
            format!("{IR}.{field}"),
            "types and families together: every listed type's whole family is allowed",
        );
        for t in types.drain(..) {
            let family = t.split('.').next().unwrap_or_default().to_owned();
            if !families.contains(&family) {
                families.push(family);
            }
        }
    }
    if !types.is_empty() {
        out.push(NodeSelectorRequirement {
            key: "node.kubernetes.io/instance-type".to_owned(),
            operator: operator.to_owned(),
            values: types,
        });
    }
    if !families.is_empty() {
        out.push(NodeSelectorRequirement {
            key: "karpenter.k8s.aws/instance-family".to_owned(),
            operator: operator.to_owned(),
            values: families,
        });
    }
    Ok(())
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
