//! `ecs-bridge import` of standalone tasks, through the CLI: a RunTask request becomes a Task
//! with that request, whole; describe-tasks output becomes one Task per task that runs it again
//! (what ECS computes dropped, the capacity provider it ran on as its strategy); rendered with
//! its TaskDefinition, a Task becomes its pods. A document of a shape `import` does not take is
//! refused, saying what it looks like.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};

fn scratch(name: &str) -> PathBuf {
    support::cli::scratch("import-tasks", name)
}

use support::cli::{run, write};

/// `aws ecs run-task --cli-input-json`, as the AWS CLI documentation's example writes one.
fn run_task() -> Value {
    json!({
        "cluster": "default",
        "taskDefinition": "sleep360",
        "count": 2,
        "group": "batch",
        "startedBy": "nightly",
        "launchType": "EC2",
        "overrides": {"containerOverrides": [{"name": "sleep", "command": ["sleep", "30"],
                                              "environment": [{"name": "MODE", "value": "quick"}]}]},
        "tags": [{"key": "team", "value": "data"}]
    })
}

#[test]
fn a_run_task_request_becomes_a_task() {
    let dir = scratch("run");
    let file = write(&dir, "nightly.json", &run_task());
    let (docs, stderr, ok) = run(&["import", &file, "--namespace", "batch"]);
    assert!(ok, "{stderr}");
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let task = &docs[0];
    assert_eq!(task["kind"], "Task");
    assert_eq!(task["metadata"]["name"], "nightly", "named after the file");
    assert_eq!(task["metadata"]["namespace"], "batch");
    assert_eq!(task["spec"], run_task(), "the request, whole");
    assert!(stderr.is_empty(), "{stderr}");
}

/// `aws ecs describe-tasks` output of one stopped Fargate Spot task, with what ECS computes.
fn described() -> Value {
    json!({
        "tasks": [{
            "attachments": [],
            "availabilityZone": "us-east-1a",
            "capacityProviderName": "FARGATE_SPOT",
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/default",
            "connectivity": "CONNECTED",
            "containers": [{"name": "sleep", "lastStatus": "STOPPED", "exitCode": 0,
                            "containerArn": "arn:aws:ecs:us-east-1:123456789012:container/default/1/2"}],
            "cpu": "256",
            "createdAt": "2026-12-01T10:00:00Z",
            "desiredStatus": "STOPPED",
            "enableExecuteCommand": false,
            "group": "family:sleep360",
            "lastStatus": "STOPPED",
            "memory": "512",
            "overrides": {"containerOverrides": [{"name": "sleep"}], "inferenceAcceleratorOverrides": []},
            "platformVersion": "1.4.0",
            "startedBy": "nightly",
            "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "tags": [],
            "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/default/0b69d5c0d3ab4c1b8d4d0f6c1e2e3f4a",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/sleep360:4",
            "version": 5
        }],
        "failures": []
    })
}

#[test]
fn described_tasks_become_tasks_that_run_them_again() {
    let dir = scratch("described");
    let file = write(&dir, "tasks.json", &described());
    let (docs, stderr, ok) = run(&["import", &file]);
    assert!(ok, "{stderr}");
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let task = &docs[0];
    assert_eq!(task["kind"], "Task");
    assert_eq!(task["metadata"]["name"], "sleep360-0b69d5c0");
    let spec = &task["spec"];
    assert_eq!(
        spec["taskDefinition"], "sleep360",
        "the source's revision 4 unpinned"
    );
    assert_eq!(
        spec["capacityProviderStrategy"],
        json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1}])
    );
    assert_eq!(spec["group"], "family:sleep360");
    assert_eq!(spec["startedBy"], "nightly");
    assert_eq!(spec["platformVersion"], "1.4.0");
    for computed in [
        "lastStatus",
        "stopCode",
        "containers",
        "cpu",
        "taskArn",
        "createdAt",
    ] {
        assert!(spec.get(computed).is_none(), "{computed} is ECS's: {spec:#}");
    }
    assert!(stderr.contains("pins revision 4"), "{stderr}");
}

#[test]
fn an_imported_task_renders_as_its_pods() {
    let dir = scratch("render");
    let file = write(&dir, "nightly.json", &run_task());
    let (docs, stderr, ok) = run(&["import", &file]);
    assert!(ok, "{stderr}");
    let td = json!({"apiVersion": "ecsbridge.io/v1alpha1", "kind": "TaskDefinition",
                    "metadata": {"name": "sleep360"},
                    "spec": {"family": "sleep360", "containerDefinitions": [
                        {"name": "sleep", "image": "busybox", "command": ["sleep", "360"], "memory": 64}]}});
    let manifests = dir.join("manifests.yaml");
    let text = [td, docs[0].clone()]
        .iter()
        .map(|d| serde_yaml_ng::to_string(d).expect("YAML"))
        .collect::<Vec<_>>()
        .join("---\n");
    std::fs::write(&manifests, text).expect("write");
    let (objects, stderr, ok) = run(&["render", manifests.to_str().expect("path")]);
    assert!(ok, "{stderr}");
    let pods: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Pod").collect();
    assert_eq!(pods.len(), 2, "count 2: {objects:#?}");
    let container = &pods[0]["spec"]["containers"][0];
    assert_eq!(
        container["args"],
        json!(["sleep", "30"]),
        "the command override: {container:#}"
    );
    assert!(
        container["env"]
            .as_array()
            .is_some_and(|e| e.iter().any(|v| v["name"] == "MODE" && v["value"] == "quick")),
        "{container:#}"
    );
    assert_eq!(pods[0]["metadata"]["annotations"]["ecsbridge.io/group"], "batch");
}

#[test]
fn a_document_of_a_shape_not_taken_is_refused_saying_what_it_looks_like() {
    let dir = scratch("refused");
    let task_set = write(
        &dir,
        "taskset.json",
        &json!({"service": "web", "cluster": "prod", "taskDefinition": "web:3", "externalId": "blue",
                "scale": {"value": 100, "unit": "PERCENT"}}),
    );
    let (docs, stderr, ok) = run(&["import", &task_set]);
    assert!(!ok && docs.is_empty(), "{stderr}");
    assert!(stderr.contains("looks like a CreateTaskSet request"), "{stderr}");
    assert!(
        stderr.contains("RunTask input, describe-tasks output")
            && stderr.contains("an ecschedule configuration"),
        "{stderr}"
    );
    let fragment = write(
        &dir,
        "connect.json",
        &json!({"enabled": true, "namespace": "shop", "services": [{"portName": "http"}]}),
    );
    let (_, stderr, ok) = run(&["import", &fragment]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("looks like a serviceConnectConfiguration fragment"),
        "{stderr}"
    );
}
