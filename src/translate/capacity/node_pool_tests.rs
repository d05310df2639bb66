//! Tests of [`super::node_pool`]: instance requirements as Karpenter requirements, ECS's refusals,
//! and what is reported rather than dropped.

use serde_json::{Value, json};

use super::node_pool::*;
use crate::api::{CapacityProvider, external::NodePool};

fn provider(mi: &Value, extra: &Value) -> CapacityProvider {
    let mut spec = json!({ "name": "mi-pool", "managedInstancesProvider": mi });
    for (k, v) in extra.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    serde_json::from_value(json!({
        "apiVersion": "ecsbridge.io/v1alpha1", "kind": "CapacityProvider",
        "metadata": {"name": "mi-pool"}, "spec": spec
    }))
    .expect("a provider")
}

fn minimal(template_extra: &Value) -> Value {
    let mut template = json!({
        "ec2InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole",
        "networkConfiguration": {"subnets": ["subnet-1"]}
    });
    for (k, v) in template_extra.as_object().into_iter().flatten() {
        template[k] = v.clone();
    }
    json!({
        "infrastructureRoleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRole",
        "instanceLaunchTemplate": template
    })
}

fn requirement<'a>(np: &'a NodePool, key: &str) -> Vec<(&'a str, Vec<&'a str>)> {
    np.spec
        .template
        .spec
        .requirements
        .iter()
        .filter(|r| r.key == key)
        .map(|r| (r.operator.as_str(), r.values.iter().map(String::as_str).collect()))
        .collect()
}

fn built(mi: &Value, extra: &Value) -> Built {
    node_pool(&provider(mi, extra), "default")
        .expect("translates")
        .expect("a NodePool")
}

#[test]
fn a_provider_without_managed_instances_has_no_node_pool() {
    let cp: CapacityProvider = serde_json::from_value(json!({
        "apiVersion": "ecsbridge.io/v1alpha1", "kind": "CapacityProvider",
        "metadata": {"name": "asg"},
        "spec": {"autoScalingGroupProvider": {"autoScalingGroupArn": "asg"}}
    }))
    .expect("a provider");
    assert_eq!(node_pool(&cp, "default"), Ok(None));
}

#[test]
fn ranges_become_karpenters_strict_bounds_on_its_instance_labels() {
    let b = built(
        &minimal(&json!({"instanceRequirements": {
            "vCpuCount": {"min": 2, "max": 8},
            "memoryMiB": {"min": 4096},
            "networkBandwidthGbps": {"min": 12.5},
            "baselineEbsBandwidthMbps": {"max": 10000}
        }})),
        &json!({}),
    );
    let np = &b.node_pool;
    // 2 ≤ vCPUs ≤ 8 is vCPUs > 1 and < 9.
    assert_eq!(
        requirement(np, "karpenter.k8s.aws/instance-cpu"),
        [("Gt", vec!["1"]), ("Lt", vec!["9"])]
    );
    assert_eq!(
        requirement(np, "karpenter.k8s.aws/instance-memory"),
        [("Gt", vec!["4095"])]
    );
    assert_eq!(
        requirement(np, "karpenter.k8s.aws/instance-network-bandwidth"),
        [("Gt", vec!["12499"])],
        "Gbps to Karpenter's Mbps"
    );
    assert_eq!(
        requirement(np, "karpenter.k8s.aws/instance-ebs-bandwidth"),
        [("Lt", vec!["10001"])]
    );
    // On-demand by default, burstable types excluded by default (ECS's defaults).
    assert_eq!(requirement(np, CAPACITY_TYPE_LABEL), [("In", vec!["on-demand"])]);
    assert_eq!(
        requirement(np, "karpenter.k8s.aws/instance-category"),
        [("NotIn", vec!["t"])]
    );
    let class = &np.spec.template.spec.node_class_ref;
    assert_eq!(
        (class.group.as_str(), class.kind.as_str(), class.name.as_str()),
        ("karpenter.k8s.aws", "EC2NodeClass", "default")
    );
    assert_eq!(np.metadata.name.as_deref(), Some("mi-pool"));
}

#[test]
fn manufacturers_give_the_architectures_and_spot_the_capacity_type() {
    let b = built(
        &minimal(&json!({"capacityOptionType": "SPOT", "instanceRequirements": {
            "vCpuCount": {"min": 1}, "memoryMiB": {"min": 0},
            "cpuManufacturers": ["amazon-web-services"]
        }})),
        &json!({}),
    );
    let np = &b.node_pool;
    assert_eq!(requirement(np, CAPACITY_TYPE_LABEL), [("In", vec!["spot"])]);
    assert_eq!(
        requirement(np, "karpenter.k8s.aws/instance-cpu-manufacturer"),
        [("In", vec!["aws"])]
    );
    assert_eq!(requirement(np, "kubernetes.io/arch"), [("In", vec!["arm64"])]);
    assert_eq!(
        requirement(np, "karpenter.k8s.aws/instance-memory"),
        [],
        "a minimum of 0 bounds nothing"
    );
    let both = built(
        &minimal(&json!({"instanceRequirements": {
            "vCpuCount": {"min": 1}, "memoryMiB": {"min": 1},
            "cpuManufacturers": ["intel", "amazon-web-services"]
        }})),
        &json!({}),
    );
    assert_eq!(
        requirement(&both.node_pool, "kubernetes.io/arch"),
        [("In", vec!["amd64", "arm64"])]
    );
}

#[test]
fn instance_types_and_families_are_matched_and_other_wildcards_reported() {
    let b = built(
        &minimal(&json!({"instanceRequirements": {
            "vCpuCount": {"min": 1}, "memoryMiB": {"min": 1},
            "excludedInstanceTypes": ["m5.large", "c5.*", "*3*"]
        }})),
        &json!({}),
    );
    assert_eq!(
        requirement(&b.node_pool, "node.kubernetes.io/instance-type"),
        [("NotIn", vec!["m5.large"])]
    );
    assert_eq!(
        requirement(&b.node_pool, "karpenter.k8s.aws/instance-family"),
        [("NotIn", vec!["c5"])]
    );
    let note = b
        .report
        .notes
        .iter()
        .find(|n| n.field.ends_with("excludedInstanceTypes[2]"))
        .expect("the wildcard is reported at its position");
    assert!(note.message.contains("\"*3*\""), "{}", note.message);

    let mixed = built(
        &minimal(&json!({"instanceRequirements": {
            "vCpuCount": {"min": 1}, "memoryMiB": {"min": 1},
            "allowedInstanceTypes": ["m5.large", "c6i.*"]
        }})),
        &json!({}),
    );
    assert_eq!(
        requirement(&mixed.node_pool, "karpenter.k8s.aws/instance-family"),
        [("In", vec!["c6i", "m5"])],
        "two In requirements would both have to hold: the type's family is allowed instead"
    );
    assert!(requirement(&mixed.node_pool, "node.kubernetes.io/instance-type").is_empty());
}

#[test]
fn refusals_name_the_field() {
    let cases = [
        (
            json!({"instanceRequirements": {"vCpuCount": {"min": 8, "max": 4}, "memoryMiB": {"min": 1}}}),
            "spec.managedInstancesProvider.instanceLaunchTemplate.instanceRequirements.vCpuCount: max 4 is below min 8",
        ),
        (
            json!({"instanceRequirements": {"vCpuCount": {"min": 1}, "memoryMiB": {"min": 1},
                "allowedInstanceTypes": ["m5.large"], "excludedInstanceTypes": ["c5.large"]}}),
            "spec.managedInstancesProvider.instanceLaunchTemplate.instanceRequirements.allowedInstanceTypes: set \
             allowedInstanceTypes or excludedInstanceTypes, not both (EC2 refuses both)",
        ),
    ];
    for (template, message) in cases {
        let err = node_pool(&provider(&minimal(&template), &json!({})), "default").expect_err("refused");
        assert_eq!(err.to_string(), message);
    }
    let mut mi = minimal(&json!({}));
    mi["infrastructureOptimization"] = json!({"scaleInAfter": 7200});
    let err = node_pool(&provider(&mi, &json!({})), "default").expect_err("refused");
    assert_eq!(
        err.to_string(),
        "spec.managedInstancesProvider.infrastructureOptimization.scaleInAfter: 7200: must be -1 (no optimization) \
         or 0 to 3600 seconds"
    );
}

#[test]
fn scale_in_after_is_the_consolidation_delay() {
    for (after, expected) in [(json!(null), "0s"), (json!(-1), "Never"), (json!(600), "600s")] {
        let mut mi = minimal(&json!({}));
        mi["infrastructureOptimization"] = json!({ "scaleInAfter": after });
        let b = built(&mi, &json!({}));
        let d = b.node_pool.spec.disruption.expect("a disruption");
        assert_eq!(d.consolidate_after, expected, "scaleInAfter {after}");
        assert_eq!(
            d.consolidation_policy.as_deref(),
            Some("WhenEmptyOrUnderutilized")
        );
    }
}

#[test]
fn the_providers_selector_and_tolerations_shape_its_nodes() {
    let b = built(
        &minimal(&json!({"capacityOptionType": "SPOT"})),
        &json!({
            "nodeSelector": {"team": "batch", "karpenter.sh/capacity-type": "spot",
                             "topology.kubernetes.io/zone": "us-east-1a"},
            "tolerations": [
                {"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"},
                {"operator": "Exists"}
            ]
        }),
    );
    let np = &b.node_pool;
    let labels = np
        .spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .expect("labels");
    assert_eq!(labels.get("team").map(String::as_str), Some("batch"));
    assert!(
        !labels.contains_key("karpenter.sh/capacity-type"),
        "Karpenter sets its own labels: a requirement instead"
    );
    assert_eq!(
        requirement(np, CAPACITY_TYPE_LABEL),
        [("In", vec!["spot"])],
        "the selector's capacity type, once"
    );
    assert_eq!(
        requirement(np, "topology.kubernetes.io/zone"),
        [("In", vec!["us-east-1a"])]
    );
    let taints: Vec<(&str, Option<&str>, &str)> = np
        .spec
        .template
        .spec
        .taints
        .iter()
        .flatten()
        .map(|t| (t.key.as_str(), t.value.as_deref(), t.effect.as_str()))
        .collect();
    assert_eq!(
        taints,
        [
            ("dedicated", Some("batch"), "NoSchedule"),
            ("ecsbridge.io/capacity-provider", Some("mi-pool"), "NoSchedule"),
        ],
        "the provider's tolerations, and its own taint: its nodes are its tasks' alone"
    );
    assert!(
        b.report.notes.iter().any(|n| n.field == "tolerations[1]"),
        "{:?}",
        b.report.notes
    );
}

#[test]
fn what_the_node_class_holds_is_reported_not_dropped() {
    let b = built(
        &minimal(&json!({"storageConfiguration": {"storageSizeGiB": 100}})),
        &json!({}),
    );
    let fields: Vec<&str> = b.report.notes.iter().map(|n| n.field.as_str()).collect();
    for field in [
        "managedInstancesProvider.infrastructureRoleArn",
        "managedInstancesProvider.instanceLaunchTemplate.ec2InstanceProfileArn",
        "managedInstancesProvider.instanceLaunchTemplate.networkConfiguration",
        "managedInstancesProvider.instanceLaunchTemplate.storageConfiguration",
    ] {
        assert!(fields.contains(&field), "{field} not in {fields:?}");
    }
    assert!(
        b.report.notes[0].message.contains("EC2NodeClass \"default\""),
        "{}",
        b.report.notes[0].message
    );
}

#[test]
fn selectors_karpenter_would_refuse_or_that_contradict_are_errors_naming_the_key() {
    for (selector, message) in [
        (
            json!({"karpenter.sh/capacity-type": "spot"}),
            "spec.nodeSelector.karpenter.sh/capacity-type: \"spot\" contradicts \
             managedInstancesProvider.instanceLaunchTemplate.capacityOptionType (on-demand capacity)",
        ),
        (
            json!({"kubernetes.io/hostname": "n1"}),
            "spec.nodeSelector.kubernetes.io/hostname: Karpenter neither sets this label nor lets a NodePool set \
             labels under kubernetes.io",
        ),
        (
            json!({"node-role.kubernetes.io/worker": ""}),
            "spec.nodeSelector.node-role.kubernetes.io/worker: Karpenter neither sets",
        ),
        (
            json!({"karpenter.sh/nodepool": "other"}),
            "spec.nodeSelector.karpenter.sh/nodepool: Karpenter sets it to the NodePool's name",
        ),
    ] {
        let err = node_pool(
            &provider(&minimal(&json!({})), &json!({"nodeSelector": selector})),
            "default",
        )
        .expect_err("refused");
        assert!(err.to_string().starts_with(message), "{err}");
    }
    // Labels of one's own, and in the domains Karpenter leaves to nodes, are the nodes' labels.
    let b = built(
        &minimal(&json!({})),
        &json!({"nodeSelector": {"node.kubernetes.io/pool": "a", "example.com/team": "b"}}),
    );
    let labels = b
        .node_pool
        .spec
        .template
        .metadata
        .and_then(|m| m.labels)
        .expect("labels");
    assert_eq!(labels.len(), 2, "{labels:?}");
}

#[test]
fn accelerators_use_karpenters_gpu_or_accelerator_labels_and_say_what_they_cannot() {
    let b = built(
        &minimal(&json!({"instanceRequirements": {
            "vCpuCount": {"min": 1}, "memoryMiB": {"min": 1},
            "acceleratorCount": {"max": 2},
            "acceleratorNames": ["a10g", "inferentia"],
            "acceleratorManufacturers": ["nvidia"]
        }})),
        &json!({}),
    );
    let np = &b.node_pool;
    assert_eq!(
        requirement(np, "karpenter.k8s.aws/instance-gpu-count"),
        [],
        "a max without a min cannot be bounded: types without GPUs have no count"
    );
    assert_eq!(
        requirement(np, "karpenter.k8s.aws/instance-gpu-name"),
        [("In", vec!["a10g"])]
    );
    assert_eq!(
        requirement(np, "karpenter.k8s.aws/instance-gpu-manufacturer"),
        [("In", vec!["nvidia"])]
    );
    let fields: Vec<&str> = b.report.notes.iter().map(|n| n.field.as_str()).collect();
    for field in ["acceleratorCount.max", "acceleratorNames[1]"] {
        assert!(
            fields.iter().any(|f| f.ends_with(field)),
            "{field} not in {fields:?}"
        );
    }
    let aws = built(
        &minimal(&json!({"instanceRequirements": {
            "vCpuCount": {"min": 1}, "memoryMiB": {"min": 1},
            "acceleratorNames": ["inferentia"], "acceleratorManufacturers": ["amazon-web-services"],
            "acceleratorCount": {"max": 0}
        }})),
        &json!({}),
    );
    assert_eq!(
        requirement(&aws.node_pool, "karpenter.k8s.aws/instance-accelerator-name"),
        [("In", vec!["inferentia"])]
    );
    assert_eq!(
        requirement(
            &aws.node_pool,
            "karpenter.k8s.aws/instance-accelerator-manufacturer"
        ),
        [("In", vec!["aws"])]
    );
    assert_eq!(
        requirement(&aws.node_pool, "karpenter.k8s.aws/instance-gpu-count"),
        [("DoesNotExist", vec![])],
        "max 0: no GPU"
    );
}
