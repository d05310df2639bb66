//! `ecs-bridge render` of services with load balancers, Cloud Map registries and Service Connect:
//! the Services validate against the upstream Kubernetes schemas (`kubernetes-validate
//! --strict`), and the TargetGroupBindings — a custom resource `kubernetes-validate` does not
//! know — against the AWS Load Balancer Controller's published CRD (`testdata/`, see
//! `hack/vendor_tgb_crd.py`), strictly.

mod support;

use std::{path::PathBuf, process::Command};

use serde_json::Value;

/// Services in every network mode, with several target groups, ports by name and number, UDP,
/// a Cloud Map registry and Service Connect.
const SERVICES: &str = r#"
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata: {name: edge, namespace: team-a}
spec:
  family: edge
  networkMode: bridge
  containerDefinitions:
    - name: proxy
      image: haproxy:3.0
      memory: 256
      portMappings:
        - {containerPort: 80, hostPort: 0}
        - {name: stats_port, containerPort: 8404}
        - {containerPort: 53, protocol: udp}
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata: {name: edge, namespace: team-a}
spec:
  taskDefinition: edge
  desiredCount: 2
  role: ecsServiceRole
  loadBalancers:
    - {targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/edge-http/0a1b2c3d4e5f6a7b", containerName: proxy, containerPort: 80}
    - {targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/Edge-Stats/1a1b2c3d4e5f6a7b", containerName: proxy, containerPort: 8404}
    - {targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/edge-dns/2a1b2c3d4e5f6a7b", containerName: proxy, containerPort: 53}
  serviceRegistries:
    - {registryArn: "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-edge", containerName: proxy, containerPort: 80}
---
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata: {name: cache, namespace: team-a}
spec:
  family: cache
  networkMode: host
  containerDefinitions:
    - name: redis
      image: redis:7
      memory: 512
      portMappings:
        - {name: redis, containerPort: 6379}
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata: {name: cache, namespace: team-a}
spec:
  taskDefinition: cache
  schedulingStrategy: DAEMON
  loadBalancers:
    - {targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/cache/3a1b2c3d4e5f6a7b", containerName: redis, containerPort: 6379}
  serviceConnectConfiguration:
    enabled: true
    services:
      - portName: redis
        clientAliases: [{port: 6379, dnsName: redis.team-a.local}]
---
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata: {name: api, namespace: team-a}
spec:
  family: api
  networkMode: awsvpc
  containerDefinitions:
    - name: api
      image: public.ecr.aws/nginx/nginx:1.27
      memory: 256
      portMappings:
        - {name: grpc, containerPort: 50051, appProtocol: grpc}
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata: {name: api, namespace: team-a}
spec:
  taskDefinition: api
  desiredCount: 1
  loadBalancers:
    - {targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/4a1b2c3d4e5f6a7b", containerName: api, containerPort: 50051}
  serviceRegistries:
    - {registryArn: "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-api"}
  serviceConnectConfiguration:
    enabled: true
    namespace: team-a
    services:
      - {portName: grpc, discoveryName: api-grpc, clientAliases: [{port: 443}]}
"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ecs-bridge-networking-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Renders `input` (a file or directory) and writes the objects to `out` as YAML; returns them.
fn render_to(input: &std::path::Path, out: &std::path::Path) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
        .arg("render")
        .arg(input)
        .args(["-o", "json"])
        .output()
        .expect("run ecs-bridge render");
    assert!(
        output.status.success(),
        "render failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let list: Value = serde_json::from_slice(&output.stdout).expect("JSON list");
    let items = list["items"].as_array().expect("items").clone();
    let yaml: String = items
        .iter()
        .map(|i| format!("---\n{}", serde_yaml_ng::to_string(i).expect("yaml")))
        .collect();
    std::fs::write(out, yaml).expect("write objects");
    items
}

fn named<'a>(items: &'a [Value], kind: &str, name: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["kind"] == kind && i["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} among the rendered objects"))
}

#[test]
fn rendered_services_and_target_group_bindings_validate_against_their_schemas() {
    let dir = scratch("valid");
    let input = dir.join("services.yaml");
    std::fs::write(&input, SERVICES).expect("write input");
    let objects = dir.join("objects.yaml");
    let items = render_to(&input, &objects);

    let kinds: Vec<String> = items
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["kind"].as_str().unwrap_or(""),
                i["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    for expected in [
        "Service/edge-lb",
        "Service/edge-discovery",
        "TargetGroupBinding/edge.edge-http",
        "TargetGroupBinding/edge.edge-stats",
        "TargetGroupBinding/edge.edge-dns",
        "Service/cache-lb",
        "Service/redis",
        "TargetGroupBinding/cache.cache",
        "Service/api-lb",
        "Service/api-discovery",
        "Service/api-grpc",
        "TargetGroupBinding/api.api",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "{expected} missing from {kinds:?}"
        );
    }
    assert_eq!(named(&items, "Service", "edge-lb")["spec"]["type"], "NodePort");
    assert_eq!(
        named(&items, "TargetGroupBinding", "edge.edge-dns")["spec"]["targetType"],
        "instance"
    );
    assert_eq!(
        named(&items, "TargetGroupBinding", "api.api")["spec"]["targetType"],
        "ip"
    );
    assert_eq!(
        named(&items, "Service", "api-grpc")["spec"]["ports"][0]["appProtocol"],
        "kubernetes.io/h2c"
    );

    for version in support::KUBERNETES_VERSIONS {
        if let Err(e) = support::kubernetes_validate(&[&objects], version) {
            panic!("rendered objects invalid for Kubernetes {version}:\n{e}");
        }
    }
    let report = support::validate_custom_resources(&support::target_group_binding_crd(), &[&objects])
        .unwrap_or_else(|e| panic!("TargetGroupBindings invalid against the published CRD:\n{e}"));
    assert!(
        report.contains("5 TargetGroupBinding objects checked, 0 errors"),
        "{report}"
    );
}

#[test]
fn the_example_target_group_binding_validates_against_the_published_crd() {
    let dir = scratch("examples");
    let objects = dir.join("objects.yaml");
    let items = render_to(&support::repo_root().join("examples"), &objects);
    assert!(
        items.iter().any(|i| i["kind"] == "TargetGroupBinding"),
        "an example binds a target group"
    );
    support::validate_custom_resources(&support::target_group_binding_crd(), &[&objects])
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The check would catch what the API server refuses: a wrong field name, a target type the CRD
/// does not know, an unknown field, a name that is no DNS subdomain.
#[test]
fn the_crd_check_refuses_what_the_api_server_would() {
    let dir = scratch("invalid");
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        r"
apiVersion: elbv2.k8s.aws/v1beta1
kind: TargetGroupBinding
metadata: {name: Web_TG}
spec:
  targetGroupArn: arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1
  targetType: pod
  serviceRef: {name: web-lb, port: http, namespace: other}
",
    )
    .expect("write");
    let report = support::validate_custom_resources(&support::target_group_binding_crd(), &[&file])
        .expect_err("invalid");
    for expected in [
        "'targetGroupARN' is a required property",
        "'pod' is not one of ['instance', 'ip']",
        "'namespace' was unexpected",
        "metadata.name: not a DNS subdomain",
    ] {
        assert!(report.contains(expected), "{expected:?} not in:\n{report}");
    }
}
