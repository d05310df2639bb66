//! An ECS Managed Instances provider's `instanceRequirements` as Karpenter NodePool requirements
//! (pure): ranges as Karpenter's strict `Gt`/`Lt` on its instance labels (vCPU, memory, network
//! and EBS bandwidth, local NVMe, GPUs), manufacturers and their architectures, allowed or
//! excluded types and families, burstable types; what Karpenter labels nothing for is said in
//! the [`Report`]. [`super::node_pool`] assembles the NodePool.

use crate::{
    api::{
        ecs::{BurstablePerformance, CpuManufacturer, InstanceRequirementsRequest, LocalStorage},
        external::karpenter::NodeSelectorRequirement,
    },
    translate::{
        report::{NoteKind, Report},
        spelling::enum_name,
    },
};

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

pub(super) fn refused(field: impl Into<String>, message: impl Into<String>) -> NodePoolError {
    NodePoolError {
        field: field.into(),
        message: message.into(),
    }
}

/// A requirement on `key`.
pub(super) fn req<const N: usize>(key: &str, operator: &str, values: [String; N]) -> NodeSelectorRequirement {
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

const IR: &str = "managedInstancesProvider.instanceLaunchTemplate.instanceRequirements";

/// The requirements of `ir`, added to `out`.
///
/// # Errors
/// A range with max below min, both allowed and excluded types, naming the field.
#[allow(clippy::too_many_lines)]
pub(super) fn instance_requirements(
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
            .map(|m| enum_name(m).replace("amazon-web-services", "aws"))
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
        optional_range(
            &format!("{IR}.totalLocalStorageGB"),
            "karpenter.k8s.aws/instance-local-nvme",
            (gb.min.map(|v| v.ceil() as i64), gb.max.map(|v| v.floor() as i64)),
            out,
            report,
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
        report.note(
            NoteKind::Approximated,
            format!("{IR}.baselineEbsBandwidthMbps"),
            "bounds Karpenter's karpenter.k8s.aws/instance-ebs-bandwidth, the types' maximum EBS bandwidth, not \
             their baseline",
        );
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
    accelerators(ir, out, report)?;
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

/// `min ≤ label ≤ max` on a label only some instance types have (a type without it satisfies
/// no `Lt`): with a positive minimum, as [`range`]; with none, only the types without the label
/// fit `max` 0 (`DoesNotExist`), and a larger `max` is left unbounded, which is said.
fn optional_range(
    field: &str,
    key: &str,
    (min, max): (Option<i64>, Option<i64>),
    out: &mut Vec<NodeSelectorRequirement>,
    report: &mut Report,
) -> Result<(), NodePoolError> {
    if min.is_some_and(|m| m > 0) {
        return range(field, key, min, max, out);
    }
    match max {
        Some(m) if m < 0 => Err(refused(field, format!("max {m} is below 0"))),
        Some(0) => {
            out.push(req(key, "DoesNotExist", []));
            Ok(())
        }
        Some(m) => {
            report.note(
                NoteKind::Approximated,
                format!("{field}.max"),
                format!(
                    "not bounded: types without {key} would fail any bound Karpenter can express, so types above \
                     {m} may be chosen too; give a min of 1 or more to bound both"
                ),
            );
            Ok(())
        }
        None => Ok(()),
    }
}

/// The accelerator requirements: GPUs by Karpenter's GPU labels (count, name, manufacturer), AWS
/// accelerators (Inferentia) by its accelerator labels; what has no label (FPGAs, the other
/// accelerators' count) is said.
fn accelerators(
    ir: &InstanceRequirementsRequest,
    out: &mut Vec<NodeSelectorRequirement>,
    report: &mut Report,
) -> Result<(), NodePoolError> {
    const GPU_MAKERS: [&str; 2] = ["nvidia", "amd"];
    const AWS_ACCELERATORS: [&str; 1] = ["inferentia"];
    if let Some(count) = ir.accelerator_count.as_ref() {
        optional_range(
            &format!("{IR}.acceleratorCount"),
            "karpenter.k8s.aws/instance-gpu-count",
            (count.min.map(Into::into), count.max.map(Into::into)),
            out,
            report,
        )?;
        report.note(
            NoteKind::Approximated,
            format!("{IR}.acceleratorCount"),
            "counts GPUs (karpenter.k8s.aws/instance-gpu-count): Karpenter counts other accelerators apart",
        );
    }
    // GPUs and AWS accelerators are different labels, which a NodePool's requirements can only
    // both require: one kind is kept, the other said.
    let names: Vec<String> = ir.accelerator_names.iter().flatten().map(enum_name).collect();
    let makers: Vec<String> = ir
        .accelerator_manufacturers
        .iter()
        .flatten()
        .map(|m| enum_name(m).replace("amazon-web-services", "aws"))
        .collect();
    let aws_only = (!names.is_empty() || !makers.is_empty())
        && names.iter().all(|n| AWS_ACCELERATORS.contains(&n.as_str()))
        && makers.iter().all(|m| m == "aws");
    /// Whether a value may go in a requirement on the label of the kind chosen.
    type Allowed<'a> = &'a dyn Fn(&str) -> bool;
    let (kind, name_ok, maker_ok): (&str, Allowed<'_>, Allowed<'_>) = if aws_only {
        ("accelerator", &|n| AWS_ACCELERATORS.contains(&n), &|m| m == "aws")
    } else {
        ("gpu", &|n| !AWS_ACCELERATORS.contains(&n) && n != "vu9p", &|m| {
            GPU_MAKERS.contains(&m)
        })
    };
    for (field, values, ok, label) in [
        ("acceleratorNames", &names, name_ok, "name"),
        ("acceleratorManufacturers", &makers, maker_ok, "manufacturer"),
    ] {
        let mut kept = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if ok(v) {
                kept.push(v.clone());
            } else {
                report.note(
                    NoteKind::Ignored,
                    format!("{IR}.{field}[{i}]"),
                    format!(
                        "{v:?}: a NodePool requires {kind}s here (karpenter.k8s.aws/instance-{kind}-{label}), and \
                         Karpenter has no label that allows this one as well"
                    ),
                );
            }
        }
        if !kept.is_empty() {
            out.push(NodeSelectorRequirement {
                key: format!("karpenter.k8s.aws/instance-{kind}-{label}"),
                operator: "In".to_owned(),
                values: kept,
            });
        }
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
