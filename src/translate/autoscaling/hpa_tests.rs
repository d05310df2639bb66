//! Target tracking as an HPA: the metric targets mean ECS's utilisation of the task's
//! reservation, policies combine as AAS combines them, scale-in stops when AAS stops it, and
//! AAS's refusals name the field.

use serde_json::json;

use super::hpa::*;
use crate::api::autoscaling::AutoScaling;

fn scaling(v: serde_json::Value) -> AutoScaling {
    serde_json::from_value(v).expect("autoScaling")
}

fn input<'a>(a: &'a AutoScaling) -> Input<'a> {
    Input {
        service: "web",
        namespace: "shop",
        auto_scaling: a,
        range: (a.min_capacity, a.max_capacity),
        // A 256-unit (250m), 512 MiB task.
        reservation: (Some(250), Some(512 << 20)),
        deploying: false,
    }
}

fn cpu_and_memory() -> AutoScaling {
    scaling(json!({
        "minCapacity": 2, "maxCapacity": 20,
        "targetTrackingScalingPolicies": [
            {"policyName": "cpu", "targetValue": 50.0,
             "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"},
             "scaleInCooldown": 600},
            {"policyName": "memory", "targetValue": 75.0,
             "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageMemoryUtilization"}}
        ]
    }))
}

#[test]
fn utilisation_targets_are_shares_of_what_the_task_reserves() {
    let a = cpu_and_memory();
    let built = hpa(&input(&a)).expect("builds");
    let hpa = serde_json::to_value(built.hpa.expect("an HPA")).expect("json");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web"}),
        "the Service itself, through its scale subresource"
    );
    assert_eq!(
        (
            hpa["spec"]["minReplicas"].clone(),
            hpa["spec"]["maxReplicas"].clone()
        ),
        (json!(2), json!(20))
    );
    // 50% of 250m is 125m a task; 75% of 512 MiB is 384 MiB a task.
    assert_eq!(
        hpa["spec"]["metrics"],
        json!([
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "125m"}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "402653184"}}}
        ])
    );
    // Out at once; in gradually, over the longest scale-in cooldown.
    assert_eq!(
        hpa["spec"]["behavior"]["scaleUp"],
        json!({"stabilizationWindowSeconds": 0})
    );
    assert_eq!(
        hpa["spec"]["behavior"]["scaleDown"],
        json!({"stabilizationWindowSeconds": 600})
    );
    assert!(built.report.is_empty(), "{:?}", built.report);
}

#[test]
fn scale_in_stops_where_aas_stops_it() {
    let a = cpu_and_memory();
    let deploying = Input {
        deploying: true,
        ..input(&a)
    };
    let hpa = hpa(&deploying).expect("builds").hpa.expect("an HPA");
    let behavior = hpa.spec.and_then(|s| s.behavior).expect("behavior");
    assert_eq!(
        behavior.scale_down.and_then(|r| r.select_policy).as_deref(),
        Some("Disabled"),
        "AAS suspends scale-in during an ECS deployment"
    );
    assert_eq!(behavior.scale_up.and_then(|r| r.select_policy), None);

    let mut suspended = cpu_and_memory();
    suspended.suspended_state =
        Some(serde_json::from_value(json!({"dynamicScalingOutSuspended": true})).expect("state"));
    let hpa = super::hpa::hpa(&input(&suspended))
        .expect("builds")
        .hpa
        .expect("an HPA");
    let behavior = hpa.spec.and_then(|s| s.behavior).expect("behavior");
    assert_eq!(
        behavior.scale_up.and_then(|r| r.select_policy).as_deref(),
        Some("Disabled")
    );
    assert_eq!(behavior.scale_down.and_then(|r| r.select_policy), None);

    // disableScaleIn on one policy of two: approximated and said.
    let mut one = cpu_and_memory();
    if let Some(p) = one.target_tracking_scaling_policies.as_mut() {
        p[1].disable_scale_in = Some(true);
    }
    let built = super::hpa::hpa(&input(&one)).expect("builds");
    assert!(
        built
            .report
            .notes
            .iter()
            .any(|n| n.message.starts_with("disableScaleIn on some policies only")),
        "{:?}",
        built.report
    );
    // On every policy: no scale-in at all.
    if let Some(p) = one.target_tracking_scaling_policies.as_mut() {
        p[0].disable_scale_in = Some(true);
    }
    let hpa = super::hpa::hpa(&input(&one))
        .expect("builds")
        .hpa
        .expect("an HPA");
    let down = hpa
        .spec
        .and_then(|s| s.behavior)
        .and_then(|b| b.scale_down)
        .expect("scaleDown");
    assert_eq!(down.select_policy.as_deref(), Some("Disabled"));
}

#[test]
fn what_needs_an_adapter_is_said_and_makes_no_hpa_alone() {
    let a = scaling(json!({
        "minCapacity": 1, "maxCapacity": 4,
        "targetTrackingScalingPolicies": [
            {"policyName": "alb", "targetValue": 1000.0,
             "predefinedMetricSpecification": {"predefinedMetricType": "ALBRequestCountPerTarget",
                "resourceLabel": "app/web/1234/targetgroup/web/5678"}}
        ],
        "stepScalingPolicies": [{"policyName": "steps", "adjustmentType": "ChangeInCapacity",
            "stepAdjustments": [{"metricIntervalLowerBound": 0.0, "scalingAdjustment": 1}]}]
    }));
    let built = hpa(&input(&a)).expect("builds");
    assert_eq!(
        built.hpa, None,
        "no metric Kubernetes can read yet: no HPA that would scale on CPU by default"
    );
    let fields: Vec<&str> = built.report.notes.iter().map(|n| n.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "autoScaling.targetTrackingScalingPolicies[0].predefinedMetricSpecification",
            "autoScaling.stepScalingPolicies"
        ]
    );
}

#[test]
fn aas_refusals_name_the_field() {
    let policy = |kind: &str| {
        json!({"policyName": kind, "targetValue": 50.0,
        "predefinedMetricSpecification": {"predefinedMetricType": kind}})
    };
    let cases = [
        (
            json!({"minCapacity": 5, "maxCapacity": 2}),
            "spec.autoScaling.maxCapacity: 2 is below minCapacity 5",
        ),
        (
            json!({"minCapacity": 1, "maxCapacity": 2, "targetTrackingScalingPolicies": [
                policy("ECSServiceAverageCPUUtilization"),
                {"policyName": "again", "targetValue": 60.0,
                 "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}}]}),
            "spec.autoScaling.targetTrackingScalingPolicies[1].predefinedMetricSpecification.predefinedMetricType: \
             ECSServiceAverageCPUUtilization is already policy \"ECSServiceAverageCPUUtilization\"'s metric",
        ),
        (
            json!({"minCapacity": 1, "maxCapacity": 2, "targetTrackingScalingPolicies": [
                {"policyName": "alb", "targetValue": 50.0,
                 "predefinedMetricSpecification": {"predefinedMetricType": "ALBRequestCountPerTarget"}}]}),
            "spec.autoScaling.targetTrackingScalingPolicies[0].predefinedMetricSpecification.resourceLabel: required",
        ),
        (
            json!({"minCapacity": 1, "maxCapacity": 2, "targetTrackingScalingPolicies": [
                {"policyName": "x", "targetValue": 0.0,
                 "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}}]}),
            "spec.autoScaling.targetTrackingScalingPolicies[0].targetValue: 0: give a positive value",
        ),
    ];
    for (spec, message) in cases {
        let a = scaling(spec);
        let err = hpa(&input(&a)).expect_err(message);
        assert!(err.to_string().starts_with(message), "{err}");
    }
    // A task that reserves no cpu cannot be measured in ECS's terms.
    let a = scaling(json!({"minCapacity": 1, "maxCapacity": 2,
        "targetTrackingScalingPolicies": [policy("ECSServiceAverageCPUUtilization")]}));
    let err = hpa(&Input {
        reservation: (None, Some(1)),
        ..input(&a)
    })
    .expect_err("no cpu reserved");
    assert!(err.to_string().contains("reserves none: set its cpu"), "{err}");
}

#[test]
fn a_min_of_zero_keeps_one_task_and_says_so() {
    let mut a = cpu_and_memory();
    a.min_capacity = 0;
    let built = hpa(&Input {
        range: (0, 20),
        ..input(&a)
    })
    .expect("builds");
    assert_eq!(
        built.hpa.and_then(|h| h.spec).and_then(|s| s.min_replicas),
        Some(1)
    );
    assert!(
        built
            .report
            .notes
            .iter()
            .any(|n| n.field == "autoScaling.minCapacity")
    );
}

#[test]
fn the_reservation_is_the_tasks_else_its_containers() {
    use crate::translate::pod::task_reservation;
    let td = |v: serde_json::Value| -> crate::api::ecs::RegisterTaskDefinition {
        serde_json::from_value(v).expect("a task definition")
    };
    let task = td(json!({"family": "a", "cpu": "1 vCPU", "memory": "2 GB",
        "containerDefinitions": [{"name": "a", "cpu": 256}]}));
    assert_eq!(task_reservation(&task), (Some(1000), Some(2048 << 20)));
    let containers = td(json!({"family": "a", "containerDefinitions": [
        {"name": "a", "cpu": 256, "memoryReservation": 128, "memory": 512},
        {"name": "b", "cpu": 256, "memory": 256}]}));
    assert_eq!(task_reservation(&containers), (Some(500), Some(384 << 20)));
    let none = td(json!({"family": "a", "containerDefinitions": [{"name": "a"}]}));
    assert_eq!(task_reservation(&none), (None, None));
}
