//! KEDA: where it is installed, CloudWatch policies scale through a ScaledObject on the
//! Service's scale subresource (ALB request counts as the target group's RequestCount per task,
//! customized metrics as values), with the utilisation policies as cpu/memory triggers and the
//! same range and behavior; without it, they are said and the Service is told what to install.

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::{State, keda::Keda, service_scaling};
use crate::api::{ServiceSpec, ecs::RegisterTaskDefinition, external::keda::AuthenticationRef};

const LABEL: &str = "app/shop/50dc6c495c0c9188/targetgroup/web/73e2d6bc24d8a067";

fn spec(policies: Value) -> ServiceSpec {
    serde_json::from_value(json!({
        "taskDefinition": "web", "desiredCount": 3,
        "autoScaling": {"minCapacity": 2, "maxCapacity": 12, "targetTrackingScalingPolicies": policies}
    }))
    .expect("a Service spec")
}

fn task() -> RegisterTaskDefinition {
    serde_json::from_value(json!({"family": "web", "cpu": "1024", "memory": "2048",
        "containerDefinitions": [{"name": "web", "image": "nginx"}]}))
    .expect("a task definition")
}

fn cpu_and_alb() -> ServiceSpec {
    spec(json!([
        {"policyName": "cpu", "targetValue": 60,
         "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}},
        {"policyName": "requests", "targetValue": 500,
         "predefinedMetricSpecification": {"predefinedMetricType": "ALBRequestCountPerTarget", "resourceLabel": LABEL}}
    ]))
}

fn scale(spec: &ServiceSpec, keda: Option<&Keda>) -> super::Scaling {
    scale_with(spec, keda, false)
}

fn scale_with(spec: &ServiceSpec, keda: Option<&Keda>, external_metrics: bool) -> super::Scaling {
    let state = State {
        recorded: None,
        deploying: false,
        hpa: None,
        keda,
        external_metrics,
        now: Timestamp::from_second(1_800_000_000).expect("a time"),
    };
    service_scaling("web", "shop", spec, &task(), &state)
        .expect("valid")
        .expect("auto scaling")
}

fn keda() -> Keda {
    Keda {
        region: Some("us-east-1".into()),
        authentication: Some(AuthenticationRef {
            name: "aws".into(),
            kind: Some("ClusterTriggerAuthentication".into()),
        }),
    }
}

#[test]
fn with_keda_cloudwatch_policies_scale_through_a_scaled_object() {
    let s = scale(&cpu_and_alb(), Some(&keda()));
    assert!(s.hpa.is_none(), "KEDA owns the HPA");
    let so = serde_json::to_value(s.scaled_object.expect("a ScaledObject")).expect("json");
    assert_eq!(
        (&so["apiVersion"], &so["kind"]),
        (&json!("keda.sh/v1alpha1"), &json!("ScaledObject"))
    );
    assert_eq!(
        so["spec"]["scaleTargetRef"],
        json!({"apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web"})
    );
    assert_eq!(
        (&so["spec"]["minReplicaCount"], &so["spec"]["maxReplicaCount"]),
        (&json!(2), &json!(12))
    );
    assert_eq!(
        so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        300
    );
    assert_eq!(
        so["spec"]["triggers"],
        json!([
            // 60% of the task's 1 vCPU, a task on average.
            {"type": "cpu", "metricType": "AverageValue", "metadata": {"value": "600m"}},
            // The target group's requests, 500 a task: AAS's count × per-target / target.
            {"type": "aws-cloudwatch", "metricType": "AverageValue",
             "metadata": {"namespace": "AWS/ApplicationELB", "metricName": "RequestCount",
                "dimensionName": "LoadBalancer;TargetGroup",
                "dimensionValue": "app/shop/50dc6c495c0c9188;targetgroup/web/73e2d6bc24d8a067",
                "metricStat": "Sum", "metricStatPeriod": "60", "targetMetricValue": "500",
                "minMetricValue": "0", "awsRegion": "us-east-1"},
             "authenticationRef": {"name": "aws", "kind": "ClusterTriggerAuthentication"}}
        ])
    );
    assert!(s.report.is_empty(), "{:?}", s.report);
    assert!(s.unserved.is_none());
    assert!(
        s.status.scaling_policies.iter().all(|p| p.state == "Active"),
        "{:?}",
        s.status.scaling_policies
    );
    assert_eq!(s.status.scaled_object.as_deref(), Some("web"));
    assert_eq!(
        s.status.horizontal_pod_autoscaler.as_deref(),
        Some("keda-hpa-web")
    );
}

#[test]
fn a_customized_metric_is_a_value_and_aas_checks_it() {
    let custom = |m: Value| {
        spec(json!([{"policyName": "queue", "targetValue": 100, "customizedMetricSpecification": m}]))
    };
    let s = scale(
        &custom(
            json!({"namespace": "Shop", "metricName": "BacklogPerTask", "statistic": "Average",
            "dimensions": [{"name": "Queue", "value": "orders"}], "unit": "Count"}),
        ),
        Some(&keda()),
    );
    let so = serde_json::to_value(s.scaled_object.expect("a ScaledObject")).expect("json");
    let t = &so["spec"]["triggers"][0];
    assert_eq!(
        t["metricType"], "Value",
        "AAS keeps the metric itself at its target"
    );
    assert_eq!(
        (
            &t["metadata"]["dimensionName"],
            &t["metadata"]["dimensionValue"],
            &t["metadata"]["metricUnit"]
        ),
        (&json!("Queue"), &json!("orders"), &json!("Count"))
    );
    let state = State {
        recorded: None,
        deploying: false,
        hpa: None,
        keda: None,
        external_metrics: false,
        now: Timestamp::UNIX_EPOCH,
    };
    let bad = custom(json!({"namespace": "Shop", "metricName": "X", "statistic": "p99"}));
    let err = service_scaling("web", "shop", &bad, &task(), &state).expect_err("p99");
    assert_eq!(
        err.to_string(),
        "spec.autoScaling.targetTrackingScalingPolicies[0].customizedMetricSpecification.statistic: \"p99\" is not \
         one of Average, Minimum, Maximum, SampleCount, Sum"
    );
    let mut bad_label = cpu_and_alb();
    if let Some(p) = bad_label
        .auto_scaling
        .as_mut()
        .and_then(|a| a.target_tracking_scaling_policies.as_mut())
    {
        p[1].predefined_metric_specification
            .as_mut()
            .expect("predefined")
            .resource_label = Some("web".into());
    }
    let err = service_scaling("web", "shop", &bad_label, &task(), &state).expect_err("a bad label");
    assert!(
        err.to_string().starts_with(
            "spec.autoScaling.targetTrackingScalingPolicies[1].predefinedMetricSpecification.resourceLabel: \"web\" is not"
        ),
        "{err}"
    );
}

#[test]
fn without_keda_the_cpu_policy_scales_and_the_service_is_told_what_to_install() {
    let s = scale(&cpu_and_alb(), None);
    assert!(s.scaled_object.is_none());
    let hpa = s.hpa.expect("the CPU policy's HPA");
    assert_eq!(hpa.spec.and_then(|h| h.metrics).map(|m| m.len()), Some(1));
    assert_eq!(
        s.unserved.as_deref(),
        Some(
            "policies requests read CloudWatch metrics: install KEDA (ecs-bridge then scales through a ScaledObject), \
             or a metrics adapter serving the external metric ecsbridge_cloudwatch (README: Service Auto Scaling); \
             until then they do not scale the Service (its CPU and memory policies do)"
        )
    );
    let states: Vec<(&str, &str)> = s
        .status
        .scaling_policies
        .iter()
        .map(|p| (p.policy_name.as_str(), p.state.as_str()))
        .collect();
    assert_eq!(states, [("cpu", "Active"), ("requests", "NotTranslated")]);
    // Installed, but no region to read the metric in: said, and the CPU trigger still scales.
    let no_region = Keda::default();
    let s = scale(&cpu_and_alb(), Some(&no_region));
    let so = s.scaled_object.expect("a ScaledObject");
    assert_eq!(so.spec.triggers.len(), 1);
    assert!(
        s.report.notes.iter().any(|n| n.message.contains("--aws-region")),
        "{:?}",
        s.report
    );
}

#[test]
fn with_a_metrics_adapter_cloudwatch_policies_are_external_metrics_of_the_hpa() {
    let s = scale_with(&cpu_and_alb(), None, true);
    assert!(s.scaled_object.is_none() && s.unserved.is_none());
    let hpa = serde_json::to_value(s.hpa.expect("an HPA")).expect("json");
    assert_eq!(
        hpa["spec"]["metrics"][1],
        json!({"type": "External", "external": {
            "metric": {"name": "ecsbridge_cloudwatch", "selector": {"matchLabels": {"service": "web", "policy": "requests"}}},
            "target": {"type": "AverageValue", "averageValue": "500"}}})
    );
    assert!(s.report.is_empty(), "{:?}", s.report);
    assert!(s.status.scaling_policies.iter().all(|p| p.state == "Active"));
    assert!(
        s.status.scaling_policies[1]
            .message
            .as_deref()
            .is_some_and(|m| m.contains(
                "AWS/ApplicationELB/RequestCount (Sum) of LoadBalancer=app/shop/50dc6c495c0c9188, \
             TargetGroup=targetgroup/web/73e2d6bc24d8a067"
            )),
        "{:?}",
        s.status.scaling_policies[1]
    );
    // A customized metric alone: the HPA holds it alone, as a Value; a policy name that is no
    // label value is hashed.
    let custom = spec(
        json!([{"policyName": "queue depth", "targetValue": 2.5, "customizedMetricSpecification":
        {"namespace": "Shop", "metricName": "BacklogPerTask", "statistic": "Average"}}]),
    );
    let s = scale_with(&custom, None, true);
    let metrics = s
        .hpa
        .and_then(|h| h.spec)
        .and_then(|h| h.metrics)
        .expect("metrics");
    assert_eq!(metrics.len(), 1);
    let external = metrics[0].external.as_ref().expect("External");
    assert_eq!(external.target.type_, "Value");
    assert_eq!(
        external.target.value.as_ref().map(|q| q.0.as_str()),
        Some("2500m")
    );
    let policy = &external
        .metric
        .selector
        .as_ref()
        .and_then(|s| s.match_labels.clone())
        .expect("labels")["policy"];
    assert!(policy.starts_with("p-") && policy.len() == 18, "{policy}");
}
