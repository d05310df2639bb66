//! The simulated HPA controller follows upstream's algorithm: a Resource metric with an
//! AverageValue target proposes ceil(ratio × ready pods) outside the 0.1 tolerance; scale-up is
//! limited to max(4 pods, 100%) per 15 s; scale-down waits for the 300 s stabilisation window;
//! `selectPolicy: Disabled` forbids a direction; a target outside [min, max] is brought inside;
//! a rescale goes through the scale subresource and is recorded as a SuccessfulRescale Event.

mod cluster_common;

use std::time::Duration;

use cluster_common::{Bed, NS, condition, deployment};
use ecs_bridge_testbed::{PodOutcome, PodUsage};
use serde_json::{Value, json};

fn hpa(min: i64, max: i64, behavior: Value) -> Value {
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": min, "maxReplicas": max,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "AverageValue", "averageValue": "100m"}}}],
            "behavior": behavior,
        },
    })
}

fn cpu(bed: &Bed, millis: i64) {
    bed.cluster
        .set_usage(
            NS,
            "app=web",
            PodUsage {
                cpu_millis: millis,
                memory_bytes: 1 << 20,
            },
        )
        .expect("selector");
}

async fn replicas_become(bed: &Bed, n: i64) {
    bed.wait_for(&format!("web at {n} replicas"), |b| {
        (b.get("Deployment", "web")["spec"]["replicas"] == n).then_some(())
    })
    .await;
}

async fn ready_pods(bed: &Bed, n: usize) {
    bed.wait_for(&format!("{n} ready pods"), |b| {
        (b.active_pods("app=web")
            .iter()
            .filter(|p| cluster_common::ready(p))
            .count()
            == n)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scales_out_at_the_policy_rate_and_in_after_the_window() {
    let bed = Bed::start().await;
    bed.cluster
        .add_node("node-a", &json!({}), "64", "256Gi", &json!([]))
        .expect("node");
    bed.cluster.kubelet(PodOutcome::Running { ready: true });
    bed.create(deployment("web", 2, "nginx:1.27"));
    ready_pods(&bed, 2).await;
    cpu(&bed, 100);
    bed.create(hpa(1, 20, json!({})));
    // At the target: no change, and the status says so.
    let status = bed
        .wait_for("the HPA's status", |b| {
            let h = b.get("HorizontalPodAutoscaler", "web");
            (h["status"]["desiredReplicas"] == 2).then_some(h)
        })
        .await;
    assert_eq!(
        condition(&status, "ScalingActive").expect("ScalingActive")["reason"],
        "ValidMetricFound"
    );
    assert_eq!(
        status["status"]["currentMetrics"][0]["resource"]["current"]["averageValue"],
        "100m"
    );

    // 5× the target: ceil(5 × 2) = 10 wanted, but at most max(2 + 4, 2 × 2) = 6 now.
    cpu(&bed, 500);
    replicas_become(&bed, 6).await;
    // (The controller writes the scale, then its status, as upstream does: wait for the second.)
    bed.wait_for("ScalingLimited: ScaleUpLimit", |b| {
        let h = b.get("HorizontalPodAutoscaler", "web");
        (condition(&h, "ScalingLimited").is_some_and(|c| c["reason"] == "ScaleUpLimit")).then_some(())
    })
    .await;
    let events = bed.list("Event", "");
    assert!(
        events.iter().any(|e| e["reason"] == "SuccessfulRescale"
            && e["message"] == "New size: 6; reason: cpu resource above target"),
        "{events:#?}"
    );
    // 15 s later, the rest: ceil(5 × 6) = 30, at most 20 (and 6 + 6 = 12 first).
    ready_pods(&bed, 6).await;
    bed.cluster.advance_clock(Duration::from_secs(16));
    replicas_become(&bed, 12).await;
    ready_pods(&bed, 12).await;
    bed.cluster.advance_clock(Duration::from_secs(16));
    replicas_become(&bed, 20).await;
    ready_pods(&bed, 20).await;

    // Idle: the proposal is 1 task, held by the 300 s scale-down window.
    cpu(&bed, 5);
    bed.cluster.advance_clock(Duration::from_secs(16));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bed.get("Deployment", "web")["spec"]["replicas"], 20, "stabilised");
    bed.cluster.advance_clock(Duration::from_secs(300));
    replicas_become(&bed, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_direction_never_moves_and_the_bounds_always_hold() {
    let bed = Bed::start().await;
    bed.cluster
        .add_node("node-a", &json!({}), "64", "256Gi", &json!([]))
        .expect("node");
    bed.cluster.kubelet(PodOutcome::Running { ready: true });
    bed.create(deployment("web", 3, "nginx:1.27"));
    ready_pods(&bed, 3).await;
    cpu(&bed, 10);
    bed.create(hpa(2, 5, json!({"scaleDown": {"selectPolicy": "Disabled"}})));
    bed.cluster.advance_clock(Duration::from_secs(600));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bed.get("Deployment", "web")["spec"]["replicas"], 3, "no scale-in");
    // Below the min (someone scaled it by hand): back to the min, whatever the metrics.
    bed.patch("Deployment", "web", json!({"spec": {"replicas": 1}}));
    bed.cluster.advance_clock(Duration::from_secs(16));
    replicas_become(&bed, 2).await;
    // A target at 0 is left alone.
    bed.patch("Deployment", "web", json!({"spec": {"replicas": 0}}));
    bed.cluster.advance_clock(Duration::from_secs(16));
    let h = bed
        .wait_for("ScalingDisabled", |b| {
            let h = b.get("HorizontalPodAutoscaler", "web");
            condition(&h, "ScalingActive")
                .is_some_and(|c| c["reason"] == "ScalingDisabled")
                .then_some(h)
        })
        .await;
    assert_eq!(h["status"]["desiredReplicas"], 0);
    assert_eq!(bed.get("Deployment", "web")["spec"]["replicas"], 0);
}
