//! Decide, from given Tasks and pods: start once, never again; a gone pod's task stopped;
//! retention; a changed spec.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use serde_json::{Value, json};

use super::decide::*;
use crate::api::{Task, TaskSpec};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_796_637_600 + seconds).expect("a time")
}

fn task(count: i32, generation: i64, status: Option<Value>, annotations: Value) -> Task {
    let mut t = Task::new(
        "job",
        TaskSpec {
            run_task: serde_json::from_value(json!({"taskDefinition": "report", "count": count}))
                .expect("RunTask"),
        },
    );
    t.metadata.generation = Some(generation);
    t.metadata.annotations = serde_json::from_value(annotations).ok();
    t.status = status.map(|s| serde_json::from_value(s).expect("status"));
    t
}

/// Pod `job-<i>`, ended (exit 0) at `ended`, or running when `None`.
fn pod(i: u32, ended: Option<Timestamp>) -> Arc<Pod> {
    let state = match ended {
        Some(t) => {
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": at(0).to_string(), "finishedAt": t.to_string()}})
        }
        None => json!({"running": {"startedAt": at(0).to_string()}}),
    };
    let phase = if ended.is_some() { "Succeeded" } else { "Running" };
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("job-{i}"), "annotations": {"ecsbridge.io/essential-containers": "app"}},
            "spec": {"nodeName": "n", "containers": [{"name": "app", "image": "x"}]},
            "status": {"phase": phase, "startTime": at(0).to_string(), "containerStatuses": [
                {"name": "app", "state": state, "ready": true, "restartCount": 0, "image": "x", "imageID": ""}]},
        }))
        .expect("a pod"),
    )
}

fn loaded(pods: &[(u32, Arc<Pod>)]) -> BTreeMap<u32, Arc<Pod>> {
    pods.iter().cloned().collect()
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn tasks_start_once_and_a_recorded_one_is_never_started_again() {
    let fresh = task(3, 1, None, json!({}));
    let plan = decide(&fresh, &loaded(&[]), at(0), HOUR);
    assert_eq!(plan.start, [1, 2, 3]);
    assert!(plan.tasks.iter().all(|t| t.last_status == "PROVISIONING"));
    // Two of three made it before a restart: only the third is started.
    let plan = decide(
        &fresh,
        &loaded(&[(1, pod(1, None)), (2, pod(2, None))]),
        at(5),
        HOUR,
    );
    assert_eq!(plan.start, [3]);
    // A recorded task whose pod is gone is not started again: it stopped.
    let recorded = task(
        1,
        1,
        Some(json!({"startedGeneration": 1, "tasks": [{"taskArn": "job-1", "lastStatus": "RUNNING"}]})),
        json!({}),
    );
    let plan = decide(&recorded, &loaded(&[]), at(9), HOUR);
    assert!(plan.start.is_empty());
    let t = &plan.tasks[0];
    assert_eq!(
        (t.last_status.as_str(), t.stop_code.as_deref()),
        ("STOPPED", Some("UserInitiated"))
    );
    assert_eq!(
        t.stopped_reason.as_deref(),
        Some("Task stopped: its pod was deleted")
    );
    // A user's stop before the start: nothing starts.
    let stopped = task(2, 1, None, json!({"ecsbridge.io/stop-task": "not today"}));
    assert!(decide(&stopped, &loaded(&[]), at(0), HOUR).start.is_empty());
}

#[test]
fn a_changed_spec_starts_nothing_more() {
    let t = task(
        5,
        2,
        Some(json!({"startedGeneration": 1, "tasks": [{"taskArn": "job-1", "lastStatus": "RUNNING"}]})),
        json!({}),
    );
    assert_eq!(slots(&t), 1);
    let plan = decide(&t, &loaded(&[(1, pod(1, None))]), at(0), HOUR);
    assert!(plan.spec_changed);
    assert!(plan.start.is_empty());
    assert_eq!(plan.tasks.len(), 1);
}

#[test]
fn a_stopped_tasks_pod_goes_after_the_retention_and_the_status_keeps_it() {
    let t = task(
        1,
        1,
        Some(json!({"startedGeneration": 1, "tasks": [{"taskArn": "job-1", "lastStatus": "STOPPED"}]})),
        json!({}),
    );
    let ended = at(100);
    let within = decide(&t, &loaded(&[(1, pod(1, Some(ended)))]), at(100 + 3599), HOUR);
    assert!(within.deletes.is_empty());
    assert_eq!(
        within.next_check,
        Some(at(100 + 3600)),
        "looked at again when the retention ends"
    );
    let after = decide(&t, &loaded(&[(1, pod(1, Some(ended)))]), at(100 + 3600), HOUR);
    assert_eq!(after.deletes.len(), 1);
    assert_eq!(after.tasks[0].last_status, "STOPPED");
    // Once gone, the task stays in the status as it was.
    let gone = decide(&t, &loaded(&[]), at(100 + 4000), HOUR);
    assert_eq!(gone.tasks[0].last_status, "STOPPED");
    assert!(gone.deletes.is_empty() && gone.next_check.is_none());
}
