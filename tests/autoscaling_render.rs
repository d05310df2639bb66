//! Service Auto Scaling rendered offline: a Service with target tracking on CPU (and on ALB
//! request counts, which need an adapter) renders an HPA (`autoscaling/v2`) on the Service's
//! scale subresource that passes kubernetes-validate for the oldest and newest Kubernetes
//! versions supported; its target is ECS's utilisation of the task's reservation; what needs an
//! adapter is said at its line; a bad schedule is an error at its position.

mod support;

use std::process::Command;

use serde_json::{Value, json};

fn render(manifests: &str, name: &str) -> (Vec<Value>, String, bool) {
    render_with(manifests, name, &[])
}

fn render_with(manifests: &str, name: &str, flags: &[&str]) -> (Vec<Value>, String, bool) {
    let dir = std::env::temp_dir().join(format!("ecs-bridge-autoscaling-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("all.yaml");
    std::fs::write(&file, manifests).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
        .args(["render", "-o", "json"])
        .args(flags)
        .arg(&file)
        .output()
        .expect("run render");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let items = serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|l| l["items"].as_array().cloned())
        .unwrap_or_default();
    (items, stderr, out.status.success())
}

const TASK_DEFINITION: &str = r#"
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata: {name: web, namespace: shop}
spec:
  family: web
  cpu: "1 vCPU"
  memory: "2 GB"
  containerDefinitions:
    - {name: web, image: public.ecr.aws/nginx/nginx:1.27, essential: true, cpu: 256}
    - {name: sidecar, image: public.ecr.aws/nginx/nginx:1.27, essential: false}
"#;

const SERVICE: &str = r#"
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  taskDefinition: web
  desiredCount: 3
  autoScaling:
    minCapacity: 2
    maxCapacity: 12
    targetTrackingScalingPolicies:
      - policyName: cpu
        targetValue: 60
        predefinedMetricSpecification: {predefinedMetricType: ECSServiceAverageCPUUtilization}
      - policyName: requests
        targetValue: 500
        predefinedMetricSpecification:
          predefinedMetricType: ALBRequestCountPerTarget
          resourceLabel: app/web/50dc6c495c0c9188/targetgroup/web/73e2d6bc24d8a067
    scheduledActions:
      - scheduledActionName: nights
        schedule: cron(0 22 ? * * *)
        timezone: Europe/Paris
        scalableTargetAction: {minCapacity: 1, maxCapacity: 4}
"#;

#[test]
fn target_tracking_renders_a_valid_hpa_on_the_service() {
    let (items, stderr, ok) = render(&format!("{TASK_DEFINITION}{SERVICE}"), "valid");
    assert!(ok, "{stderr}");
    let hpas: Vec<&Value> = items
        .iter()
        .filter(|i| i["kind"] == "HorizontalPodAutoscaler")
        .collect();
    assert_eq!(hpas.len(), 1, "{items:#?}");
    let hpa = hpas[0];
    assert_eq!(hpa["metadata"]["namespace"], "shop");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web"})
    );
    // 60% of the task's 1 vCPU (its own cpu, not the 256 units one container asks for): 600m a task.
    assert_eq!(
        hpa["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "600m"}}}])
    );
    assert_eq!(
        (
            hpa["spec"]["minReplicas"].as_i64(),
            hpa["spec"]["maxReplicas"].as_i64()
        ),
        (Some(2), Some(12))
    );
    // The ALB policy needs KEDA: said, at its line, and what to install.
    assert!(
        stderr.contains("all.yaml:29:9:")
            && stderr.contains("a CloudWatch metric: KEDA (keda.sh ScaledObject) reads it"),
        "{stderr}"
    );
    assert!(
        stderr.contains("policies requests read CloudWatch metrics: install KEDA"),
        "{stderr}"
    );
    // Every autoScaling field is translated or said: no blanket "not translated yet".
    assert!(
        !stderr.contains("spec.autoScaling: not translated yet"),
        "{stderr}"
    );
    let dir = std::env::temp_dir().join(format!("ecs-bridge-autoscaling-{}-valid", std::process::id()));
    let file = dir.join("hpa.yaml");
    std::fs::write(&file, serde_yaml_ng::to_string(hpa).expect("yaml")).expect("write");
    for version in support::KUBERNETES_VERSIONS {
        if let Err(e) = support::kubernetes_validate(&[&file], version) {
            panic!("the HPA is invalid for Kubernetes {version}:\n{e}");
        }
    }
}

#[test]
fn a_bad_schedule_is_an_error_at_its_position() {
    let service = SERVICE.replace("cron(0 22 ? * * *)", "cron(0 22 * * * *)");
    let (_, stderr, ok) = render(&format!("{TASK_DEFINITION}{service}"), "bad");
    assert!(!ok);
    assert!(
        stderr.contains(
            "spec.autoScaling.scheduledActions[0].schedule: at character 15: Day-of-week: Day-of-month and \
             Day-of-week cannot both be given"
        ) && stderr.contains("all.yaml:34:9:"),
        "{stderr}"
    );
}

#[test]
fn with_keda_the_service_scales_through_a_valid_scaled_object() {
    let flags = [
        "--keda",
        "true",
        "--aws-region",
        "us-east-1",
        "--keda-authentication",
        "ClusterTriggerAuthentication/aws",
    ];
    let (items, stderr, ok) = render_with(&format!("{TASK_DEFINITION}{SERVICE}"), "keda", &flags);
    assert!(ok, "{stderr}");
    assert!(
        !items.iter().any(|i| i["kind"] == "HorizontalPodAutoscaler"),
        "KEDA makes the HPA: {items:#?}"
    );
    let objects: Vec<Value> = items
        .iter()
        .filter(|i| i["kind"] == "ScaledObject")
        .cloned()
        .collect();
    assert_eq!(objects.len(), 1, "{items:#?}");
    let types: Vec<&str> = objects[0]["spec"]["triggers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["type"].as_str())
        .collect();
    assert_eq!(types, ["cpu", "aws-cloudwatch"]);
    assert!(
        !stderr.contains("KEDA"),
        "nothing left to say about KEDA: {stderr}"
    );
    let report = support::models::validate_scaled_objects(&objects).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.contains("ScaledObject web: valid"), "{report}");
}

#[test]
fn keda_schema_check_refuses_what_keda_would_not_take() {
    let (items, _, _) = render_with(
        &format!("{TASK_DEFINITION}{SERVICE}"),
        "keda-neg",
        &["--keda", "true", "--aws-region", "us-east-1"],
    );
    let good = items
        .into_iter()
        .find(|i| i["kind"] == "ScaledObject")
        .expect("a ScaledObject");
    for (pointer, value, expected) in [
        (
            "/spec/triggers/0/bogus",
            json!(1),
            "/spec/triggers/0/bogus: not a field of ScaledObject",
        ),
        (
            "/spec/minReplicaCount",
            json!("two"),
            "/spec/minReplicaCount: type",
        ),
        ("/spec/scaleTargetRef/name", Value::Null, "/spec/scaleTargetRef"),
    ] {
        let mut bad = good.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        let obj = bad
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect("parent");
        if value.is_null() {
            obj.remove(key);
        } else {
            obj.insert(key.to_owned(), value);
        }
        let err = support::models::validate_scaled_objects(&[bad]).expect_err(expected);
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn with_a_metrics_adapter_the_hpa_reads_an_external_metric_and_is_valid() {
    let (items, stderr, ok) = render_with(
        &format!("{TASK_DEFINITION}{SERVICE}"),
        "external",
        &["--external-metrics", "true"],
    );
    assert!(ok, "{stderr}");
    let hpa = items
        .iter()
        .find(|i| i["kind"] == "HorizontalPodAutoscaler")
        .expect("an HPA");
    let kinds: Vec<&str> = hpa["spec"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["type"].as_str())
        .collect();
    assert_eq!(kinds, ["Resource", "External"]);
    assert!(!stderr.contains("CloudWatch"), "nothing left to say: {stderr}");
    let dir = std::env::temp_dir().join(format!("ecs-bridge-autoscaling-{}-external", std::process::id()));
    let file = dir.join("hpa.yaml");
    std::fs::write(&file, serde_yaml_ng::to_string(hpa).expect("yaml")).expect("write");
    for version in support::KUBERNETES_VERSIONS {
        if let Err(e) = support::kubernetes_validate(&[&file], version) {
            panic!("the HPA is invalid for Kubernetes {version}:\n{e}");
        }
    }
}
