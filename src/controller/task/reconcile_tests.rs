//! Reconcile tests against a mocked API server: the exact requests of a Task's start, of a
//! Task at rest, and of an essential container's stop, and the bodies sent.

use http::Method;
use serde_json::{Value, json};

use super::*;
use crate::{
    api::TaskSpec,
    controller::{
        revisions,
        testing::{
            self, Handle, assert_no_more_requests, expect_forced_apply, json_body, list_body, next, ok, query,
        },
    },
};

const PODS: &str = "/api/v1/namespaces/team-a/pods";
const STATUS: &str = "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/tasks/nightly/status";

/// The Task `nightly` (generation 1) running `report`, with `status`.
fn task(status: Option<Value>) -> Task {
    let mut t = Task::new(
        "nightly",
        TaskSpec {
            run_task: serde_json::from_value(json!({"taskDefinition": "report", "startedBy": "ops"}))
                .expect("a RunTask"),
        },
    );
    t.metadata.namespace = Some("team-a".into());
    t.metadata.generation = Some(1);
    t.metadata.uid = Some("uid-task".into());
    t.status = status.map(|s| serde_json::from_value(s).expect("a status"));
    t
}

/// The TaskDefinition `report` (revision 2): an essential `app` and a non-essential `log`.
fn report() -> crate::api::TaskDefinition {
    let mut td = testing::with_container(testing::task_definition("team-a", "report", 1), "app", "busybox");
    td = testing::with_container(td, "log", "fluent-bit");
    td.spec.task_definition.container_definitions[1].essential = Some(false);
    testing::registered(td, 2)
}

/// Serves the LIST of the Task's pods with `items`.
async fn expect_pod_list(server: &mut Handle, items: Vec<Value>) {
    let (request, reply) = next(server).await;
    assert_eq!((request.method(), request.uri().path()), (&Method::GET, PODS));
    assert_eq!(
        query(request.uri()).get("labelSelector").map(String::as_str),
        Some("ecsbridge.io/task=nightly")
    );
    ok(reply, &list_body("v1", "PodList", items));
}

/// The pod `nightly-1` as the API server keeps it, running `app` in `app` and `log` in `log`.
fn running_pod(app: Value, log: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "nightly-1", "namespace": "team-a", "uid": "uid-pod", "resourceVersion": "7",
            "creationTimestamp": "2026-12-07T10:00:00Z",
            "labels": {"ecsbridge.io/task": "nightly"},
            "annotations": {"ecsbridge.io/essential-containers": "app", "ecsbridge.io/group": "family:report",
                            "ecsbridge.io/started-by": "ops"},
            "ownerReferences": [{"apiVersion": "ecsbridge.io/v1alpha1", "kind": "Task", "name": "nightly",
                                 "uid": "uid-task", "controller": true}]},
        "spec": {"nodeName": "node-a", "restartPolicy": "Never",
                 "containers": [{"name": "app", "image": "busybox"}, {"name": "log", "image": "fluent-bit"}]},
        "status": {"phase": "Running", "startTime": "2026-12-07T10:00:01Z", "containerStatuses": [
            {"name": "app", "state": app, "ready": true, "restartCount": 0, "image": "busybox", "imageID": ""},
            {"name": "log", "state": log, "ready": true, "restartCount": 0, "image": "fluent-bit", "imageID": ""}]},
    })
}

/// The Task as the API server answers a status write: the object, with `status`.
fn answered(status: &Value) -> Value {
    json!({"apiVersion": "ecsbridge.io/v1alpha1", "kind": "Task",
           "metadata": {"name": "nightly", "namespace": "team-a"},
           "spec": {"taskDefinition": "report"}, "status": status})
}

/// The status of a Task whose one task, started at generation 1, was last seen `last`.
fn started_status(last: &str) -> Value {
    json!({"startedGeneration": 1, "taskDefinition": "report:2",
           "conditions": [{"type": "Translated", "status": "True", "reason": "AllFieldsTranslated",
                           "message": "Every field set has a Kubernetes equivalent.", "observedGeneration": 1,
                           "lastTransitionTime": "2026-12-07T10:00:00Z"}],
           "tasks": [{"taskArn": "nightly-1", "lastStatus": last}]})
}

fn running() -> Value {
    json!({"running": {"startedAt": "2026-12-07T10:00:02Z"}})
}

#[tokio::test]
async fn a_new_task_starts_its_pods_once_and_says_so() {
    let (ctx, mut server) = testing::context();
    let reconciling = tokio::spawn(reconcile(Arc::new(task(None)), ctx));
    expect_pod_list(&mut server, vec![]).await;
    // What starting needs: the TaskDefinitions, the stored revision, the Namespace.
    let (request, reply) = next(&mut server).await;
    assert_eq!(
        request.uri().path(),
        "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/taskdefinitions"
    );
    ok(
        reply,
        &list_body(
            "ecsbridge.io/v1alpha1",
            "TaskDefinitionList",
            vec![serde_json::to_value(report()).expect("json")],
        ),
    );
    let (request, reply) = next(&mut server).await;
    assert_eq!(
        request.uri().path(),
        "/apis/apps/v1/namespaces/team-a/controllerrevisions/report-2"
    );
    let cr = revisions::registered_as(&report(), 2).expect("a revision");
    ok(reply, &serde_json::to_value(cr).expect("json"));
    let (request, reply) = next(&mut server).await;
    assert_eq!(request.uri().path(), "/api/v1/namespaces/team-a");
    ok(
        reply,
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
    );
    // The pod, created (not applied: a task's pod is made once).
    let (request, reply) = next(&mut server).await;
    assert_eq!((request.method(), request.uri().path()), (&Method::POST, PODS));
    let pod = json_body(request).await;
    assert_eq!(pod["metadata"]["name"], "nightly-1");
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "uid-task");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(
        pod["metadata"]["annotations"]["ecsbridge.io/essential-containers"],
        "app"
    );
    ok(reply, &pod);
    let (request, reply) = next(&mut server).await;
    let body = expect_forced_apply(request, STATUS, FIELD_MANAGER).await;
    let status = &body["status"];
    assert_eq!(status["taskDefinition"], "report:2");
    assert_eq!(status["startedGeneration"], 1);
    assert_eq!(status["lastStatus"], "PROVISIONING");
    assert_eq!(status["tasks"][0]["taskArn"], "nightly-1");
    assert_eq!(status["health"], "Progressing");
    ok(reply, &answered(status));
    reconciling.await.expect("join").expect("reconciled");
    assert_no_more_requests(server).await;
}

/// Reconciles `task` whose one pod is `pod`; returns the status written, if any.
async fn reconcile_with_pod(task: Task, pod: Value, stop: Option<&str>) -> Option<Value> {
    let (ctx, mut server) = testing::context();
    let reconciling = tokio::spawn(reconcile(Arc::new(task), ctx));
    expect_pod_list(&mut server, vec![pod]).await;
    if let Some(code) = stop {
        let (request, reply) = next(&mut server).await;
        assert_eq!(
            (request.method(), request.uri().path()),
            (&Method::PATCH, format!("{PODS}/nightly-1").as_str())
        );
        assert_eq!(
            request
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().expect("ascii")),
            Some("application/merge-patch+json")
        );
        let patch = json_body(request).await;
        assert_eq!(patch["metadata"]["annotations"]["ecsbridge.io/stop-code"], code);
        assert!(
            patch["spec"]["activeDeadlineSeconds"]
                .as_i64()
                .is_some_and(|s| s >= 1),
            "{patch}"
        );
        ok(reply, &json!({}));
    }
    let written =
        match tokio::time::timeout(std::time::Duration::from_millis(500), server.next_request()).await {
            Ok(Some((request, reply))) => {
                let body = expect_forced_apply(request, STATUS, FIELD_MANAGER).await;
                ok(reply, &answered(&body["status"]));
                Some(body["status"].clone())
            }
            _ => None,
        };
    reconciling.await.expect("join").expect("reconciled");
    assert_no_more_requests(server).await;
    written
}

#[tokio::test]
async fn a_task_at_rest_writes_nothing_and_starts_nothing_again() {
    let started = started_status("PROVISIONING");
    let pod = running_pod(running(), running());
    let status = reconcile_with_pod(task(Some(started)), pod.clone(), None)
        .await
        .expect("RUNNING is news");
    assert_eq!(status["lastStatus"], "RUNNING");
    // Again, with the status it wrote: one LIST (no caches here; none with them), no write.
    let mut status = status;
    status["startedGeneration"] = json!(1);
    assert_eq!(reconcile_with_pod(task(Some(status)), pod, None).await, None);
}

#[tokio::test]
async fn an_essential_exit_stops_the_task_in_place() {
    let started = started_status("RUNNING");
    let app = json!({"terminated": {"exitCode": 3, "reason": "Error", "startedAt": "2026-12-07T10:00:02Z",
                                    "finishedAt": "2026-12-07T10:05:00Z"}});
    let status = reconcile_with_pod(
        task(Some(started)),
        running_pod(app, running()),
        Some("EssentialContainerExited"),
    )
    .await
    .expect("a status");
    let t = &status["tasks"][0];
    assert_eq!(t["lastStatus"], "STOPPING");
    assert_eq!(t["desiredStatus"], "STOPPED");
    assert_eq!(t["stopCode"], "EssentialContainerExited");
    assert_eq!(t["stoppedReason"], "Essential container in task exited");
    // A non-essential exit: nothing to stop.
    let started = started_status("RUNNING");
    let log = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2026-12-07T10:00:02Z",
                                    "finishedAt": "2026-12-07T10:05:00Z"}});
    let status = reconcile_with_pod(task(Some(started)), running_pod(running(), log), None)
        .await
        .expect("a status");
    assert_eq!(status["tasks"][0]["lastStatus"], "RUNNING");
}
