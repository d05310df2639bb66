//! Tests of [`decide`]: the rollout, the circuit breaker and the rollback, decided once from the
//! Service and its children as the caches saw them.

use std::time::Duration;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, ReplicaSet},
        core::v1::Pod,
    },
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::{
    children::Children,
    decide::{Plan, ROLLOUT_RECHECK, decide},
    history::{COMPLETED, FAILED},
    validate::{Invalid, Rollback, validated},
};
use crate::{
    api::{Service, ServiceStatus, TaskDefinition, service::ServiceDeployment},
    controller::testing,
};

const NOW: i64 = 1_800_000_000;

fn now() -> Time {
    Time(Timestamp::from_second(NOW).expect("a time"))
}

/// TaskDefinition `web` at revision `revision` running `image`.
fn td(revision: i64, image: &str) -> TaskDefinition {
    let mut td = testing::with_container(testing::task_definition("team-a", "web", revision), "app", image);
    td.status = Some(crate::api::TaskDefinitionStatus {
        revision: Some(revision),
        ..Default::default()
    });
    td
}

/// Service `web` (2 tasks) of `web` with `deploymentConfiguration` `config`.
fn service(config: Value) -> Service {
    let mut svc = testing::service("team-a", "web", 1, "web");
    svc.spec.service.desired_count = Some(2);
    svc.spec.service.deployment_configuration = serde_json::from_value(config).expect("config");
    svc
}

/// The Service's Deployment running `web:<revision>` (Kubernetes revision `k8s_revision`), with
/// `annotations` (its rollout history).
fn deployment(revision: i64, k8s_revision: &str, annotations: &[(&str, &str)]) -> Deployment {
    let mut annotations: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    annotations.insert("deployment.kubernetes.io/revision".into(), json!(k8s_revision));
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "team-a", "uid": "uid-deploy", "generation": 2,
            "annotations": annotations},
        "spec": {"replicas": 2, "selector": {},
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": "web",
                "ecsbridge.io/revision": revision.to_string()}},
                "spec": {"containers": [{"name": "app", "image": format!("nginx:{revision}")}]}}},
        "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "readyReplicas": 0,
            "availableReplicas": 0}
    }))
    .expect("a Deployment")
}

/// The ReplicaSet `hash` of the Deployment, for `web:<revision>` at Kubernetes revision
/// `k8s_revision`.
fn replica_set(hash: &str, revision: i64, k8s_revision: &str) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": format!("web-{hash}"), "namespace": "team-a", "uid": format!("uid-{hash}"),
            "labels": {"pod-template-hash": hash, "ecsbridge.io/service": "web"},
            "annotations": {"deployment.kubernetes.io/revision": k8s_revision},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                "uid": "uid-deploy", "controller": true}],
            "creationTimestamp": "2027-01-15T08:00:00Z"},
        "spec": {"replicas": 2, "selector": {}, "template": {"metadata": {"labels": {
            "app.kubernetes.io/name": "web", "ecsbridge.io/revision": revision.to_string()}}}},
        "status": {"replicas": 2, "readyReplicas": 0}
    }))
    .expect("a ReplicaSet")
}

/// A task of ReplicaSet `hash` whose container restarted `restarts` times (not Ready).
/// A task of `web:<revision>` (ReplicaSet `hash`) whose container restarted `restarts` times,
/// each time killed for its memory.
fn pod(hash: &str, revision: i64, i: usize, restarts: i32) -> Pod {
    let last = (restarts > 0).then(|| json!({"terminated": {"reason": "OOMKilled", "exitCode": 137}}));
    serde_json::from_value(json!({
        "metadata": {"name": format!("web-{hash}-{i}"), "namespace": "team-a",
            "labels": {"pod-template-hash": hash, "ecsbridge.io/service": "web",
                "app.kubernetes.io/name": "web", "ecsbridge.io/revision": revision.to_string()},
            "creationTimestamp": "2027-01-15T08:00:00Z"},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "image": "x", "imageID": "",
            "ready": false, "restartCount": restarts, "lastState": last}]}
    }))
    .expect("a pod")
}

/// A Deployment running `web:<revision>` whose two tasks have restarted `restarts` times each.
fn failing(revision: i64, annotations: &[(&str, &str)], restarts: i32) -> Children {
    Children {
        deployments: vec![std::sync::Arc::new(deployment(revision, "3", annotations))],
        replica_sets: vec![replica_set("new", revision, "3")],
        pods: vec![
            pod("new", revision, 0, restarts),
            pod("new", revision, 1, restarts),
        ],
        ..Children::default()
    }
}

fn image(plan: &Plan<'_>) -> String {
    plan.spec.container_definitions[0]
        .image
        .clone()
        .unwrap_or_default()
}

#[test]
fn a_first_rollout_runs_the_revision_the_service_asks_for() {
    let svc = service(json!({}));
    let v = validated(&svc, td(3, "nginx:3"));
    let plan = decide(&v, &Children::default(), &now());
    assert_eq!(v.resolved(), "web:3");
    assert_eq!((plan.revision, image(&plan)), (3, "nginx:3".to_owned()));
    assert_eq!(plan.running, "web:3");
    assert!(!plan.paused && plan.hold.is_none() && plan.failure.is_none() && plan.blocked.is_none());
    assert_eq!(plan.breaker, None);
    let resync = Duration::from_secs(300);
    assert_eq!(
        plan.requeue(&ServiceStatus::default(), resync, None, Timestamp::UNIX_EPOCH),
        Action::requeue(resync)
    );
}

#[test]
fn the_next_scheduled_action_brings_the_requeue_forward() {
    let svc = service(json!({}));
    let v = validated(&svc, td(3, "nginx:3"));
    let plan = decide(&v, &Children::default(), &now());
    let (resync, at) = (Duration::from_secs(300), now().0);
    let requeue = |seconds: i64| {
        let next = at + k8s_openapi::jiff::SignedDuration::from_secs(seconds);
        plan.requeue(&ServiceStatus::default(), resync, Some(next), at)
    };
    assert_eq!(
        requeue(90),
        Action::requeue(Duration::from_secs(90)),
        "at the action"
    );
    assert_eq!(requeue(3600), Action::requeue(resync), "the resync comes first");
    assert_eq!(
        requeue(-5),
        Action::requeue(Duration::ZERO),
        "already due: at once"
    );
}

#[test]
fn a_blocked_rollout_holds_the_running_template_and_says_so() {
    let svc = service(json!({"minimumHealthyPercent": 100, "maximumPercent": 100}));
    let v = validated(&svc, td(4, "nginx:4"));
    let live = Children {
        deployments: vec![std::sync::Arc::new(deployment(3, "1", &[]))],
        ..Children::default()
    };
    let plan = decide(&v, &live, &now());
    let held = plan.hold.as_ref().expect("held");
    assert_eq!(held.task_definition, "web:3");
    assert_eq!(
        held.template.spec.as_ref().expect("spec").containers[0]
            .image
            .as_deref(),
        Some("nginx:3")
    );
    assert_eq!(plan.running, "web:3");
    assert!(
        plan.blocked
            .as_deref()
            .is_some_and(|m| m.contains("unable to stop or start tasks")),
        "{:?}",
        plan.blocked
    );
    // Nothing running yet, or the same revision running: it rolls as usual.
    assert!(decide(&v, &Children::default(), &now()).hold.is_none());
    let same = Children {
        deployments: vec![std::sync::Arc::new(deployment(4, "1", &[]))],
        ..Children::default()
    };
    let plan = decide(&v, &same, &now());
    assert!(plan.hold.is_none() && plan.blocked.is_none());
}

#[test]
fn the_breaker_trips_on_the_rollout_of_the_resolved_revision_and_rolls_back_at_once() {
    let svc = service(json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true}}));
    let v = validated(&svc, td(4, "nginx:4"));
    // web:3 completed earlier; web:4's two tasks restarted twice each: 4 failures ≥ 3.
    let children = failing(4, &[(COMPLETED, "web:3")], 2);
    let plan = decide(&v, &children, &now());
    assert_eq!(plan.history.failed.as_deref(), Some("web:4"));
    assert!(plan.roll_back_now && !plan.paused);
    assert_eq!(
        plan.revision, 4,
        "this reconcile remembers; the next one rolls back"
    );
    assert_eq!(plan.rolling_back_to.as_deref(), Some("web:3"));
    assert!(
        plan.failure
            .as_deref()
            .is_some_and(|m| m.contains("web:4") && m.contains("rolled back to web:3")),
        "{:?}",
        plan.failure
    );
    // Why, in ECS's words: remembered (the failed tasks go with the rollback) and told.
    let why = "OutOfMemoryError: Container killed due to memory usage";
    assert_eq!(plan.history.failed_reason.as_deref(), Some(why));
    assert!(
        plan.failure
            .as_deref()
            .is_some_and(|m| m.contains(&format!("(3 failed tasks): {why};"))),
        "{:?}",
        plan.failure
    );
    assert_eq!(
        plan.requeue(
            &ServiceStatus::default(),
            Duration::from_secs(300),
            None,
            Timestamp::UNIX_EPOCH
        ),
        Action::requeue(Duration::ZERO)
    );
    // Below the threshold: still rolling, looked at again soon.
    let plan = decide(&v, &failing(4, &[(COMPLETED, "web:3")], 1), &now());
    assert_eq!(plan.history.failed, None);
    let in_progress = ServiceStatus {
        deployments: vec![ServiceDeployment {
            status: "PRIMARY".into(),
            rollout_state: Some("IN_PROGRESS".into()),
            ..ServiceDeployment::default()
        }],
        ..ServiceStatus::default()
    };
    assert_eq!(
        plan.requeue(
            &in_progress,
            Duration::from_secs(300),
            None,
            Timestamp::UNIX_EPOCH
        ),
        Action::requeue(ROLLOUT_RECHECK)
    );
}

#[test]
fn without_rollback_or_anything_completed_the_deployment_is_paused() {
    let off = service(json!({"deploymentCircuitBreaker": {"enable": true, "rollback": false}}));
    let v = validated(&off, td(4, "nginx:4"));
    let plan = decide(&v, &failing(4, &[(COMPLETED, "web:3")], 2), &now());
    assert_eq!(plan.history.failed.as_deref(), Some("web:4"));
    assert!(plan.paused && !plan.roll_back_now);
    assert!(plan.failure.as_deref().is_some_and(|m| m.contains("paused")));
    let on = service(json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true}}));
    let v = validated(&on, td(4, "nginx:4"));
    let plan = decide(&v, &failing(4, &[], 2), &now());
    assert!(plan.paused && !plan.roll_back_now);
    assert!(
        plan.failure
            .as_deref()
            .is_some_and(|m| m.contains("nothing to roll back to"))
    );
}

#[test]
fn failures_of_another_revision_do_not_fail_the_one_the_service_asks_for() {
    let svc = service(json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true}}));
    // web:5 is registered while web:4's tasks keep failing: web:5 rolls out.
    let v = validated(&svc, td(5, "nginx:5"));
    let plan = decide(&v, &failing(4, &[(COMPLETED, "web:3")], 9), &now());
    assert_eq!(plan.history.failed, None);
    assert_eq!((plan.revision, plan.paused), (5, false));
}

#[test]
fn a_remembered_failure_rolls_back_to_the_stored_completed_revision() {
    let svc = service(json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true}}));
    let mut v = validated(&svc, td(4, "nginx:4"));
    v.rollback = Some(Rollback {
        revision: 3,
        spec: Ok(td(3, "nginx:3").spec.task_definition),
    });
    let children = failing(4, &[(COMPLETED, "web:3"), (FAILED, "web:4")], 9);
    let plan = decide(&v, &children, &now());
    assert_eq!((plan.revision, image(&plan)), (3, "nginx:3".to_owned()));
    assert_eq!(plan.running, "web:3");
    assert_eq!(plan.history.failed.as_deref(), Some("web:4"));
    assert!(!plan.paused && !plan.roll_back_now);
    assert!(
        plan.failure
            .as_deref()
            .is_some_and(|m| m.contains("rolled back to web:3"))
    );

    // The completed revision is gone: stay on the failed one, paused, and say why.
    v.rollback = Some(Rollback {
        revision: 3,
        spec: Err(Invalid {
            reason: "TaskDefinitionNotFound",
            message: "revision web:3 is not registered".into(),
        }),
    });
    let plan = decide(&v, &children, &now());
    assert_eq!(plan.revision, 4);
    assert!(plan.paused);
    assert_eq!(
        plan.failure.as_deref(),
        Some("web:4; cannot roll back: revision web:3 is not registered")
    );
}

#[test]
fn load_reads_the_revision_decide_rolls_back_to() {
    let svc = service(json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true}}));
    let live = deployment(4, "3", &[(COMPLETED, "web:3"), (FAILED, "web:4")]);
    assert_eq!(
        super::history::rollback_revision(&svc, Some(&live), "web:4"),
        Some(3)
    );
    // A new revision, no remembered failure, or no rollback: nothing to read.
    assert_eq!(
        super::history::rollback_revision(&svc, Some(&live), "web:5"),
        None
    );
    let healthy = deployment(4, "3", &[(COMPLETED, "web:3")]);
    assert_eq!(
        super::history::rollback_revision(&svc, Some(&healthy), "web:4"),
        None
    );
    let off = service(json!({"deploymentCircuitBreaker": {"enable": true, "rollback": false}}));
    assert_eq!(
        super::history::rollback_revision(&off, Some(&live), "web:4"),
        None
    );
}
