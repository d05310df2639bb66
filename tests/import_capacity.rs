//! `ecs-bridge import` of capacity providers and cluster capacity, through the CLI: a
//! CreateCapacityProvider request, describe-capacity-providers output (the built-in Fargate
//! providers left to the chart) and a PutClusterCapacityProviders request become a
//! CapacityProvider and the cluster's Namespace; rendered with a Service that names no strategy,
//! the Service runs with the cluster's default, split as ECS splits it.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};

fn scratch(name: &str) -> PathBuf {
    support::cli::scratch("import-capacity", name)
}

use support::cli::{run, write};

/// `aws ecs create-capacity-provider --cli-input-json` of a Managed Instances provider.
fn create_managed_instances() -> Value {
    json!({
        "name": "General_Pool",
        "cluster": "prod",
        "managedInstancesProvider": {
            "infrastructureRoleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRole",
            "instanceLaunchTemplate": {
                "ec2InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole",
                "networkConfiguration": {"subnets": ["subnet-0a1b2c3d"], "securityGroups": ["sg-0a1b2c3d"]},
                "instanceRequirements": {"vCpuCount": {"min": 2, "max": 8}, "memoryMiB": {"min": 4096}}
            },
            "propagateTags": "CAPACITY_PROVIDER"
        },
        "tags": [{"key": "team", "value": "platform"}]
    })
}

/// `aws ecs describe-capacity-providers` output: the two built-in providers and an Auto Scaling
/// group's, with what ECS computes.
fn described() -> Value {
    json!({
        "capacityProviders": [
            {"capacityProviderArn": "arn:aws:ecs:us-east-1:123456789012:capacity-provider/FARGATE",
             "name": "FARGATE", "status": "ACTIVE", "tags": []},
            {"capacityProviderArn": "arn:aws:ecs:us-east-1:123456789012:capacity-provider/FARGATE_SPOT",
             "name": "FARGATE_SPOT", "status": "ACTIVE", "tags": []},
            {"capacityProviderArn": "arn:aws:ecs:us-east-1:123456789012:capacity-provider/spot-asg",
             "name": "spot-asg", "status": "ACTIVE", "type": "EC2_AUTOSCALING",
             "autoScalingGroupProvider": {
                 "autoScalingGroupArn": "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:57ffcb94:autoScalingGroupName/spot",
                 "managedScaling": {"status": "ENABLED", "targetCapacity": 90, "minimumScalingStepSize": 1,
                                    "maximumScalingStepSize": 10000, "instanceWarmupPeriod": 300},
                 "managedTerminationProtection": "DISABLED",
                 "managedDraining": "ENABLED"
             },
             "updateStatus": "UPDATE_COMPLETE", "tags": []}
        ],
        "failures": []
    })
}

#[test]
fn a_create_capacity_provider_request_becomes_a_capacity_provider() {
    let dir = scratch("create");
    let file = write(&dir, "create.json", &create_managed_instances());
    let (docs, stderr, ok) = run(&["import", &file, "--namespace", "shop"]);
    assert!(ok, "{stderr}");
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let cp = &docs[0];
    assert_eq!(cp["kind"], "CapacityProvider");
    assert_eq!(
        cp["metadata"]["name"], "general-pool",
        "an object name made of the ECS name"
    );
    assert!(cp["metadata"]["namespace"].is_null(), "cluster-scoped: {cp:#}");
    assert_eq!(cp["spec"]["name"], "General_Pool", "strategies name the ECS name");
    // The request, whole: every field kept.
    let mut spec = cp["spec"].clone();
    spec.as_object_mut().expect("spec").remove("nodeSelector");
    assert_eq!(spec, create_managed_instances());
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn described_providers_import_without_what_ecs_computes_and_leave_fargate_to_the_chart() {
    let dir = scratch("described");
    let file = write(&dir, "described.json", &described());
    let (docs, stderr, ok) = run(&["import", &file]);
    assert!(ok, "{stderr}");
    assert_eq!(docs.len(), 1, "only spot-asg: {docs:#?}");
    let cp = &docs[0];
    assert_eq!(cp["metadata"]["name"], "spot-asg");
    for computed in ["capacityProviderArn", "status", "type", "updateStatus"] {
        assert!(cp["spec"].get(computed).is_none(), "{computed} kept: {cp:#}");
    }
    assert_eq!(
        cp["spec"]["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"],
        90
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].contains("described.json:5:")
            && lines[0].contains("capacityProviders[0].name")
            && lines[0].contains("FARGATE is built in: the chart installs it"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("FARGATE_SPOT is built in"), "{}", lines[1]);
    assert!(
        lines[2].contains("capacityProviders[2].autoScalingGroupProvider")
            && lines[2].contains("add spec.nodeSelector to CapacityProvider spot-asg"),
        "{}",
        lines[2]
    );
}

#[test]
fn put_cluster_capacity_providers_becomes_the_clusters_namespace_and_services_run_its_default() {
    let dir = scratch("cluster");
    let put = json!({
        "cluster": "prod",
        "capacityProviders": ["spot-asg", "on-demand-asg"],
        "defaultCapacityProviderStrategy": [
            {"capacityProvider": "on-demand-asg", "base": 2, "weight": 1},
            {"capacityProvider": "spot-asg", "weight": 3}
        ]
    });
    let put_file = write(&dir, "put.json", &put);
    let described_file = write(&dir, "described.json", &described());
    let mut on_demand = described()["capacityProviders"][2].clone();
    on_demand["name"] = json!("on-demand-asg");
    let create_file = write(&dir, "on-demand.json", &on_demand);
    let (docs, stderr, ok) = run(&["import", &put_file, &described_file, &create_file]);
    assert!(ok, "{stderr}");
    let namespace = docs
        .iter()
        .find(|d| d["kind"] == "Namespace")
        .expect("a Namespace");
    assert_eq!(namespace["apiVersion"], "v1");
    assert_eq!(namespace["metadata"]["name"], "prod");
    let annotations = &namespace["metadata"]["annotations"];
    assert_eq!(
        annotations["ecsbridge.io/capacity-providers"],
        "spot-asg,on-demand-asg"
    );
    let strategy: Value = serde_json::from_str(
        annotations["ecsbridge.io/default-capacity-provider-strategy"]
            .as_str()
            .expect("the default strategy"),
    )
    .expect("ECS's JSON");
    assert_eq!(strategy, put["defaultCapacityProviderStrategy"]);

    // The imported objects, a task definition and a Service naming no strategy, rendered: the
    // Service runs with the cluster's default, 4 and 6 of 10 (ECS's documented example). A
    // default that mixed Fargate with these would be refused, as ECS refuses it.
    let mut manifests: String = docs
        .iter()
        .map(|d| format!("---\n{}", serde_yaml_ng::to_string(d).expect("YAML")))
        .collect();
    manifests.push_str(
        r#"---
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata: {name: web, namespace: prod}
spec:
  family: web
  cpu: "256"
  memory: "512"
  containerDefinitions:
    - {name: web, image: public.ecr.aws/nginx/nginx:1.27, essential: true}
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata: {name: web, namespace: prod}
spec:
  taskDefinition: web
  desiredCount: 10
"#,
    );
    let all = dir.join("all.yaml");
    std::fs::write(&all, manifests).expect("write");
    let (rendered, stderr, ok) = run(&["render", all.to_str().expect("path")]);
    assert!(ok, "{stderr}");
    let replicas = |name: &str| {
        rendered
            .iter()
            .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == name)
            .map(|d| d["spec"]["replicas"].clone())
    };
    assert_eq!(replicas("web-on-demand-asg"), Some(json!(4)), "{stderr}");
    assert_eq!(replicas("web-spot-asg"), Some(json!(6)), "{stderr}");
}

#[test]
fn a_default_strategy_naming_a_provider_the_cluster_lacks_is_refused_at_its_place() {
    let dir = scratch("refused");
    let file = dir.join("put.json");
    std::fs::write(
        &file,
        "{\n  \"cluster\": \"prod\",\n  \"capacityProviders\": [\"FARGATE\"],\n  \
         \"defaultCapacityProviderStrategy\": [\n    {\"capacityProvider\": \"FARGATE_SPOT\", \"weight\": 1}\n  ]\n}\n",
    )
    .expect("write");
    let (docs, stderr, ok) = run(&["import", file.to_str().expect("path")]);
    assert!(!ok);
    assert!(docs.is_empty(), "{docs:#?}");
    assert!(
        stderr.contains("put.json:5:")
            && stderr.contains("defaultCapacityProviderStrategy[0].capacityProvider")
            && stderr.contains("\"FARGATE_SPOT\" is not among capacityProviders"),
        "{stderr}"
    );
    // ECS's own rules on the strategy, naming the item.
    std::fs::write(
        &file,
        r#"{"cluster": "prod", "capacityProviders": ["A", "B"],
            "defaultCapacityProviderStrategy": [{"capacityProvider": "A", "base": 1, "weight": 1},
                                                {"capacityProvider": "B", "base": 1, "weight": 1}]}"#,
    )
    .expect("write");
    let (_, stderr, ok) = run(&["import", file.to_str().expect("path")]);
    assert!(!ok);
    assert!(
        stderr.contains("defaultCapacityProviderStrategy[1].base"),
        "{stderr}"
    );
}

#[test]
fn a_namespaces_bad_annotation_is_an_error_at_the_annotation() {
    let dir = scratch("annotation");
    let file = dir.join("ns.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  annotations:\n    \
         ecsbridge.io/default-capacity-provider-strategy: 'FARGATE:1'\n",
    )
    .expect("write");
    let (_, stderr, ok) = run(&["render", file.to_str().expect("path")]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("ns.yaml:6:")
            && stderr.contains("Namespace prod")
            && stderr.contains("ecsbridge.io/default-capacity-provider-strategy")
            && stderr.contains("give ECS's JSON form"),
        "{stderr}"
    );
    // A default breaking ECS's rules: the Service says so, naming the annotation, not its spec.
    std::fs::write(
        &file,
        r#"apiVersion: v1
kind: Namespace
metadata:
  name: prod
  annotations:
    ecsbridge.io/default-capacity-provider-strategy: '[{"capacityProvider":"FARGATE","weight":1},{"capacityProvider":"spot","weight":1}]'
---
apiVersion: ecsbridge.io/v1alpha1
kind: CapacityProvider
metadata: {name: spot}
spec: {autoScalingGroupProvider: {autoScalingGroupArn: spot}}
---
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata: {name: web, namespace: prod}
spec:
  family: web
  containerDefinitions: [{name: web, image: nginx, memory: 128}]
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata: {name: web, namespace: prod}
spec: {taskDefinition: web, desiredCount: 1}
"#,
    )
    .expect("write");
    let (_, stderr, ok) = run(&["render", file.to_str().expect("path")]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(
            "Service prod/web: the Namespace's annotation \
             ecsbridge.io/default-capacity-provider-strategy[1].capacityProvider: \"FARGATE\" and \"spot\": ECS \
             does not mix Fargate and Auto Scaling group providers"
        ),
        "{stderr}"
    );
}

#[test]
fn described_clusters_become_namespaces_keeping_only_their_capacity() {
    let dir = scratch("clusters");
    // `aws ecs describe-clusters --include SETTINGS` output (trimmed to two clusters).
    let described = json!({
        "clusters": [
            {"clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod", "clusterName": "prod",
             "status": "ACTIVE", "registeredContainerInstancesCount": 0, "runningTasksCount": 4,
             "pendingTasksCount": 0, "activeServicesCount": 2, "statistics": [], "tags": [],
             "settings": [{"name": "containerInsights", "value": "enabled"}],
             "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
             "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]},
            {"clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/legacy", "clusterName": "legacy",
             "status": "ACTIVE", "capacityProviders": [], "defaultCapacityProviderStrategy": []}
        ],
        "failures": []
    });
    let file = write(&dir, "clusters.json", &described);
    let (docs, stderr, ok) = run(&["import", &file]);
    assert!(ok, "{stderr}");
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["prod", "legacy"]);
    let prod = &docs[0]["metadata"]["annotations"];
    assert_eq!(prod["ecsbridge.io/capacity-providers"], "FARGATE,FARGATE_SPOT");
    assert!(
        prod["ecsbridge.io/default-capacity-provider-strategy"]
            .as_str()
            .is_some_and(|s| s.contains("FARGATE_SPOT")),
        "{prod:#}"
    );
    let legacy = &docs[1]["metadata"]["annotations"];
    assert_eq!(
        legacy["ecsbridge.io/capacity-providers"], "[]",
        "a cluster without providers: its Services may name none, as in ECS"
    );
    assert!(
        legacy
            .get("ecsbridge.io/default-capacity-provider-strategy")
            .is_none()
    );
    // What ECS computes goes silently; the cluster's other settings are said to go.
    let warnings: Vec<&str> = stderr.lines().collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    for (line, field) in warnings.iter().zip(["clusters[0].settings", "clusters[0].tags"]) {
        assert!(
            line.contains(field) && line.contains("not a capacity setting of the cluster: dropped"),
            "{line}"
        );
    }
}
