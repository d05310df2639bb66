//! The state mapping and the stop codes, as tables from given pods.

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::lifecycle::{failure_reason, placement_failure, task_instance};

/// A pod `job-1` of one essential container `app` and a non-essential `log`, with `status`
/// and the extra `annotations`.
fn pod(bound: bool, status: Value, annotations: Value) -> Pod {
    let mut a = json!({"ecsbridge.io/essential-containers": "app", "ecsbridge.io/group": "family:job",
                       "ecsbridge.io/started-by": "cron"});
    if let (Some(a), Some(extra)) = (a.as_object_mut(), annotations.as_object()) {
        a.extend(extra.clone());
    }
    let mut spec = json!({"containers": [{"name": "app", "image": "x"}, {"name": "log", "image": "y"}],
                          "restartPolicy": "Never"});
    if bound {
        spec["nodeName"] = json!("node-a");
    }
    serde_json::from_value(json!({
        "metadata": {"name": "job-1", "creationTimestamp": "2026-12-07T10:00:00Z", "annotations": a},
        "spec": spec,
        "status": status,
    }))
    .expect("a pod")
}

fn running(started: &str) -> Value {
    json!({"running": {"startedAt": started}})
}

fn terminated(code: i32, reason: &str) -> Value {
    json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": "2026-12-07T10:00:05Z",
                          "finishedAt": "2026-12-07T10:01:00Z"}})
}

fn waiting(reason: &str, message: &str) -> Value {
    json!({"waiting": {"reason": reason, "message": message}})
}

fn statuses(phase: &str, app: Value, log: Value) -> Value {
    json!({"phase": phase, "startTime": "2026-12-07T10:00:02Z", "containerStatuses": [
        {"name": "app", "state": app, "ready": false, "restartCount": 0, "image": "x", "imageID": ""},
        {"name": "log", "state": log, "ready": false, "restartCount": 0, "image": "y", "imageID": ""},
    ]})
}

#[test]
fn last_status_follows_the_pod() {
    let unschedulable = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
        "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu."}]});
    let cases = [
        (
            "waiting for a node",
            pod(false, unschedulable.clone(), json!({})),
            "PROVISIONING",
            "RUNNING",
        ),
        (
            "pulling",
            pod(
                true,
                statuses(
                    "Pending",
                    waiting("ContainerCreating", ""),
                    waiting("ContainerCreating", ""),
                ),
                json!({}),
            ),
            "PENDING",
            "RUNNING",
        ),
        (
            "one started",
            pod(
                true,
                statuses(
                    "Running",
                    running("2026-12-07T10:00:05Z"),
                    waiting("ContainerCreating", ""),
                ),
                json!({}),
            ),
            "PENDING",
            "RUNNING",
        ),
        (
            "all started",
            pod(
                true,
                statuses(
                    "Running",
                    running("2026-12-07T10:00:05Z"),
                    running("2026-12-07T10:00:06Z"),
                ),
                json!({}),
            ),
            "RUNNING",
            "RUNNING",
        ),
        (
            "a log router exited",
            pod(
                true,
                statuses("Running", running("2026-12-07T10:00:05Z"), terminated(1, "Error")),
                json!({}),
            ),
            "RUNNING",
            "RUNNING",
        ),
        (
            "stopped by the operator",
            pod(
                true,
                statuses(
                    "Running",
                    terminated(0, "Completed"),
                    running("2026-12-07T10:00:06Z"),
                ),
                json!({"ecsbridge.io/stop-code": "EssentialContainerExited", "ecsbridge.io/stopped-reason": "Essential container in task exited"}),
            ),
            "STOPPING",
            "STOPPED",
        ),
        (
            "ended",
            pod(
                true,
                statuses(
                    "Succeeded",
                    terminated(0, "Completed"),
                    terminated(0, "Completed"),
                ),
                json!({}),
            ),
            "STOPPED",
            "STOPPED",
        ),
    ];
    for (what, pod, last, desired) in cases {
        let t = task_instance(&pod);
        assert_eq!(
            (t.last_status.as_str(), t.desired_status.as_deref()),
            (last, Some(desired)),
            "{what}"
        );
        assert_eq!(t.task_arn, "job-1");
        assert_eq!(
            (t.group.as_deref(), t.started_by.as_deref()),
            (Some("family:job"), Some("cron"))
        );
    }
    // startedAt is when the last container started, once all have.
    let all = task_instance(&pod(
        true,
        statuses(
            "Running",
            running("2026-12-07T10:00:05Z"),
            running("2026-12-07T10:00:06Z"),
        ),
        json!({}),
    ));
    assert_eq!(
        all.started_at.map(|t| t.0.to_string()).as_deref(),
        Some("2026-12-07T10:00:06Z")
    );
    assert_eq!(all.stopped_at, None);
    let ended = task_instance(&pod(
        true,
        statuses(
            "Succeeded",
            terminated(0, "Completed"),
            terminated(0, "Completed"),
        ),
        json!({}),
    ));
    assert_eq!(
        ended.stopped_at.map(|t| t.0.to_string()).as_deref(),
        Some("2026-12-07T10:01:00Z")
    );
    assert_eq!(ended.containers[0].essential, Some(true));
    assert_eq!(ended.containers[1].essential, Some(false));
}

#[test]
fn stop_codes_and_reasons_in_ecs_words() {
    let cases = [
        (
            "the essential container ended the task",
            pod(
                true,
                statuses("Failed", terminated(2, "Error"), terminated(0, "Completed")),
                json!({}),
            ),
            "EssentialContainerExited",
            "Essential container in task exited",
        ),
        (
            "the operator's record",
            pod(
                true,
                json!({"phase": "Failed", "reason": "DeadlineExceeded"}),
                json!({"ecsbridge.io/stop-code": "UserInitiated", "ecsbridge.io/stopped-reason": "cancelled by ops"}),
            ),
            "UserInitiated",
            "cancelled by ops",
        ),
        (
            "a node drained",
            pod(
                true,
                json!({"phase": "Failed", "conditions": [{"type": "DisruptionTarget", "status": "True",
                "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}]}),
                json!({}),
            ),
            "TerminationNotice",
            "Task stopped by the cluster: Eviction API: evicting",
        ),
        (
            "Spot capacity reclaimed",
            pod(
                true,
                json!({"phase": "Failed", "conditions": [{"type": "DisruptionTarget", "status": "True",
                "reason": "TerminationByKubelet", "message": "node shutdown"}]}),
                json!({"ecsbridge.io/capacity-provider-name": "FARGATE_SPOT"}),
            ),
            "SpotInterruption",
            "Your Spot Task was interrupted.",
        ),
        (
            "a pod deleted by someone",
            {
                let mut p = pod(
                    true,
                    statuses(
                        "Running",
                        running("2026-12-07T10:00:05Z"),
                        running("2026-12-07T10:00:06Z"),
                    ),
                    json!({}),
                );
                p.metadata.deletion_timestamp = p.metadata.creation_timestamp.clone();
                p
            },
            "UserInitiated",
            "Task stopped: its pod was deleted",
        ),
    ];
    for (what, pod, code, reason) in cases {
        let t = task_instance(&pod);
        assert_eq!(
            (t.stop_code.as_deref(), t.stopped_reason.as_deref()),
            (Some(code), Some(reason)),
            "{what}"
        );
    }
}

#[test]
fn container_reasons_in_ecs_words() {
    let oom = task_instance(&pod(
        true,
        statuses("Failed", terminated(137, "OOMKilled"), terminated(0, "Completed")),
        json!({}),
    ));
    assert_eq!(
        oom.containers[0].reason.as_deref(),
        Some("OutOfMemoryError: Container killed due to memory usage")
    );
    assert_eq!(oom.containers[0].exit_code, Some(137));
    let pull = task_instance(&pod(
        true,
        statuses(
            "Pending",
            waiting("ImagePullBackOff", "Back-off pulling image \"x\""),
            running("2026-12-07T10:00:06Z"),
        ),
        json!({}),
    ));
    assert_eq!(
        pull.containers[0].reason.as_deref(),
        Some("CannotPullContainerError: Back-off pulling image \"x\"")
    );
    assert_eq!(pull.containers[0].last_status, "PENDING");
    let secret = task_instance(&pod(
        true,
        statuses(
            "Pending",
            waiting("CreateContainerConfigError", "secret \"db\" not found"),
            running("2026-12-07T10:00:06Z"),
        ),
        json!({}),
    ));
    assert_eq!(
        secret.containers[0].reason.as_deref(),
        Some("ResourceInitializationError: unable to pull secrets or registry auth: secret \"db\" not found")
    );
    // A container of a terminal pod that never ran: no exit code.
    let never = json!({"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown", "finishedAt": "2026-12-07T10:01:00Z"}});
    let t = task_instance(&pod(
        true,
        statuses("Failed", never, terminated(143, "Error")),
        json!({}),
    ));
    assert_eq!(t.containers[0].exit_code, None);
    assert_eq!(t.containers[1].exit_code, Some(143));
}

#[test]
fn placement_failures_in_run_tasks_words() {
    let cases = [
        ("0/3 nodes are available: 3 Insufficient cpu.", "RESOURCE:CPU"),
        (
            "0/2 nodes are available: 2 Insufficient memory.",
            "RESOURCE:MEMORY",
        ),
        (
            "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
            "RESOURCE:GPU",
        ),
        (
            "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
            "RESOURCE:PORTS",
        ),
        (
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
            "MemberOf placement constraint unsatisfied",
        ),
        (
            "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.",
            "DistinctInstance placement constraint unsatisfied",
        ),
        (
            "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.",
            "ATTRIBUTE",
        ),
        (
            "0/1 nodes are available: 1 node(s) had volume node affinity conflict.",
            "LOCATION",
        ),
        ("0/1 nodes are available: something new.", "RESOURCE"),
    ];
    for (message, reason) in cases {
        assert_eq!(failure_reason(message), reason, "{message}");
    }
    let unschedulable = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
        "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu."}]});
    let f = placement_failure(&pod(false, unschedulable, json!({}))).expect("a failure");
    assert_eq!((f.arn.as_str(), f.reason.as_str()), ("job-1", "RESOURCE:CPU"));
    assert_eq!(
        f.detail.as_deref(),
        Some("0/3 nodes are available: 3 Insufficient cpu.")
    );
    assert_eq!(
        placement_failure(&pod(
            true,
            statuses(
                "Running",
                running("2026-12-07T10:00:05Z"),
                running("2026-12-07T10:00:05Z")
            ),
            json!({})
        )),
        None
    );
}
