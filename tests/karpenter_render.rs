//! ECS Managed Instances providers rendered as Karpenter NodePools: every NodePool `render` makes
//! passes Karpenter's published schema (npm `@kubernetes-models/karpenter`, pinned in
//! `tests/support/karpenter/`, unknown fields refused), and the tasks of a Service on such a
//! provider select the NodePool's nodes.

mod support;

use std::process::Command;

use serde_json::{Value, json};

fn render(dir: &std::path::Path) -> (Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
        .arg("render")
        .arg(dir)
        .args(["-o", "json"])
        .output()
        .expect("run render");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "render failed:\n{stderr}");
    let list: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    (list["items"].as_array().expect("items").clone(), stderr)
}

fn node_pools(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter(|i| i["kind"] == "NodePool")
        .cloned()
        .collect()
}

#[test]
fn the_examples_node_pool_passes_karpenters_schema() {
    let (items, stderr) = render(&support::repo_root().join("examples").join("capacity"));
    let pools = node_pools(&items);
    assert_eq!(pools.len(), 1, "general-pool's: {pools:#?}");
    let report = support::models::validate_node_pools(&pools).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.contains("NodePool general-pool: valid"), "{report}");
    // What the EC2NodeClass holds is said at its place, not dropped.
    assert!(
        stderr.contains(
            "examples/capacity/managed-instances.yaml:14:7: warning: CapacityProvider general-pool: \
             spec.managedInstancesProvider.instanceLaunchTemplate.ec2InstanceProfileArn: ignored"
        ),
        "{stderr}"
    );
}

#[test]
fn the_schema_check_refuses_what_karpenter_would() {
    let (items, _) = render(&support::repo_root().join("examples").join("capacity"));
    let good = node_pools(&items).remove(0);
    let mut cases = Vec::new();
    let mut unknown = good.clone();
    unknown["spec"]["template"]["spec"]["requirements"][0]["minValue"] = json!(2);
    cases.push((unknown, "minValue: not a field"));
    let mut operator = good.clone();
    operator["spec"]["template"]["spec"]["requirements"][0]["operator"] = json!("Above");
    cases.push((operator, "operator: enum"));
    let mut after = good.clone();
    after["spec"]["disruption"]["consolidateAfter"] = json!("10 minutes");
    cases.push((after, "consolidateAfter: pattern"));
    let mut class = good;
    class["spec"]["template"]["spec"]["nodeClassRef"]
        .as_object_mut()
        .expect("nodeClassRef")
        .remove("kind");
    cases.push((class, "nodeClassRef: required"));
    for (pool, expected) in cases {
        let err = support::models::validate_node_pools(&[pool]).expect_err(expected);
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn tasks_on_a_managed_instances_provider_run_on_its_node_pool() {
    let dir = std::env::temp_dir().join(format!("ecs-bridge-karpenter-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let manifests = r#"
apiVersion: ecsbridge.io/v1alpha1
kind: CapacityProvider
metadata: {name: gpu-pool}
spec:
  nodeSelector: {team: ml}
  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
  managedInstancesProvider:
    infrastructureRoleArn: arn:aws:iam::123456789012:role/ecsInfrastructureRole
    instanceLaunchTemplate:
      ec2InstanceProfileArn: arn:aws:iam::123456789012:instance-profile/ecsInstanceRole
      networkConfiguration: {subnets: [subnet-1]}
      instanceRequirements:
        vCpuCount: {min: 4}
        memoryMiB: {min: 16384}
        acceleratorCount: {min: 1, max: 4}
        acceleratorManufacturers: [nvidia]
        acceleratorNames: [a10g, l4]
        localStorage: required
        burstablePerformance: included
        allowedInstanceTypes: ["g5.*", "g6.*"]
    infrastructureOptimization: {scaleInAfter: -1}
---
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata: {name: infer}
spec:
  family: infer
  cpu: "1024"
  memory: "4096"
  containerDefinitions:
    - {name: app, image: public.ecr.aws/nginx/nginx:1.27, essential: true}
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata: {name: infer}
spec:
  taskDefinition: infer
  desiredCount: 2
  capacityProviderStrategy: [{capacityProvider: gpu-pool, weight: 1}]
"#;
    std::fs::write(dir.join("all.yaml"), manifests).expect("write");
    let (items, _) = render(&dir);
    let pools = node_pools(&items);
    let report = support::models::validate_node_pools(&pools).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.contains("NodePool gpu-pool: valid"), "{report}");
    let pool = &pools[0];
    assert_eq!(pool["spec"]["template"]["metadata"]["labels"]["team"], "ml");
    assert_eq!(
        pool["spec"]["template"]["spec"]["taints"],
        json!([
            {"key": "nvidia.com/gpu", "effect": "NoSchedule"},
            {"key": "ecsbridge.io/capacity-provider", "value": "gpu-pool", "effect": "NoSchedule"}
        ])
    );
    assert_eq!(pool["spec"]["disruption"]["consolidateAfter"], "Never");
    let requirements = pool["spec"]["template"]["spec"]["requirements"]
        .as_array()
        .expect("requirements");
    for expected in [
        json!({"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5", "g6"]}),
        json!({"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Lt", "values": ["5"]}),
        json!({"key": "karpenter.k8s.aws/instance-gpu-name", "operator": "In", "values": ["a10g", "l4"]}),
        json!({"key": "karpenter.k8s.aws/instance-local-nvme", "operator": "Exists"}),
    ] {
        assert!(
            requirements.contains(&expected),
            "{expected} not in {requirements:#?}"
        );
    }
    assert!(
        !requirements
            .iter()
            .any(|r| r["key"] == "karpenter.k8s.aws/instance-category"),
        "burstable types included: no category requirement"
    );
    let deployment = items
        .iter()
        .find(|i| {
            i["kind"] == "Deployment"
                && i["metadata"]["labels"]["ecsbridge.io/capacity-provider"] == "gpu-pool"
        })
        .expect("the Service's Deployment on gpu-pool");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["nodeSelector"],
        json!({"karpenter.sh/nodepool": "gpu-pool", "team": "ml"}),
        "{pod:#}"
    );
    // The tasks tolerate the pool's own taint, which keeps every other pod off its nodes.
    assert!(
        pod["tolerations"].as_array().is_some_and(|t| t.contains(&json!({
            "key": "ecsbridge.io/capacity-provider", "operator": "Equal", "value": "gpu-pool", "effect": "NoSchedule"
        }))),
        "{pod:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
