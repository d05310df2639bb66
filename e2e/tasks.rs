//! Standalone tasks (the Task kind, ECS RunTask) end to end: the batch example runs to STOPPED
//! and is Healthy; an essential container that exits stops its task while another container
//! runs (EssentialContainerExited, the other container stopped by the kubelet); a
//! non-essential container's exit leaves its task RUNNING; an image that cannot be pulled gives
//! TaskFailedToStart with CannotPullContainerError; a user's stop gives UserInitiated.
//!
//! On the double, the test makes the containers exit (the simulated kubelet runs no process);
//! on a real cluster their commands do the same by themselves.

use std::time::Duration;

use ecs_bridge_testbed::ContainerOutcome;
use serde_json::Value;

use crate::support::{Env, eventually};

const TIMEOUT: Duration = Duration::from_secs(90);

pub(crate) fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Waits until the Task `name`'s status satisfies `check`, and returns the Task.
async fn task_when(env: &Env, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(what, TIMEOUT, || {
        let task = env.get(&["ecstask", name]).ok_or("no Task")?;
        if check(&task) {
            Ok(task)
        } else {
            Err(format!("{}", task.get("status").cloned().unwrap_or(Value::Null)))
        }
    })
    .await
}

fn container<'a>(task: &'a Value, index: usize, name: &str) -> &'a Value {
    task["status"]["tasks"][index]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| s(c, "/name") == name))
        .unwrap_or(&Value::Null)
}

/// On the double, makes containers of `pod` exit as `exits` say, once the pod runs.
pub(crate) async fn exit(env: &Env, pod: &str, exits: &[(&str, i32, &str)]) {
    let Some((_, cluster)) = env.backend.double() else {
        return;
    };
    let outcomes: Vec<(&str, ContainerOutcome)> = exits
        .iter()
        .map(|(name, code, reason)| {
            (
                *name,
                ContainerOutcome::Exited {
                    exit_code: *code,
                    reason: (*reason).to_owned(),
                },
            )
        })
        .collect();
    let ns = env.namespace.clone();
    eventually("the containers to exit", TIMEOUT, || {
        cluster
            .set_containers(&ns, pod, &outcomes)
            .map_err(|e| e.to_string())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_batch_example_runs_to_stopped_and_is_healthy() {
    let env = Env::start("batch").await;
    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("batch"))]);
    let task = task_when(&env, "report-once", "the task RUNNING", |t| {
        s(t, "/status/lastStatus") == "RUNNING"
    })
    .await;
    assert_eq!(s(&task, "/status/taskDefinition"), "report:1", "{task}");
    assert_eq!(s(&task, "/status/health"), "Progressing", "{task}");
    let one = &task["status"]["tasks"][0];
    assert_eq!(s(one, "/taskArn"), "report-once-1");
    assert_eq!(s(one, "/group"), "family:report");
    assert_eq!(s(one, "/startedBy"), "readme");
    assert_eq!(s(one, "/desiredStatus"), "RUNNING");
    let pod = env.get(&["pod", "report-once-1"]).expect("the task's pod");
    assert_eq!(s(&pod, "/spec/restartPolicy"), "Never");
    let owner = &pod["metadata"]["ownerReferences"][0];
    assert_eq!((s(owner, "/kind"), s(owner, "/name")), ("Task", "report-once"));
    assert_eq!(owner["controller"], true);

    exit(&env, "report-once-1", &[("report", 0, "Completed")]).await;
    let task = task_when(&env, "report-once", "the task STOPPED", |t| {
        s(t, "/status/lastStatus") == "STOPPED" && s(t, "/status/health") == "Healthy"
    })
    .await;
    let one = &task["status"]["tasks"][0];
    assert_eq!(s(one, "/stopCode"), "EssentialContainerExited", "{task}");
    assert_eq!(s(one, "/stoppedReason"), "Essential container in task exited");
    assert_eq!(container(&task, 0, "report")["exitCode"], 0);
    assert!(one.get("stoppedAt").is_some(), "{one}");
    env.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        "ecstask/report-once",
        "--timeout=30s",
    ]);
    // kubectl's columns say it in ECS's words.
    let table = env.kubectl_ok(&["get", "ecstask", "report-once"]);
    assert!(table.contains("STOPPED") && table.contains("Healthy"), "{table}");
    // The pod stays, describable, for the retention.
    assert!(env.get(&["pod", "report-once-1"]).is_some());
}

/// A task definition with an essential `main` and a non-essential `logger`, and a Task of it.
fn two_containers(main: &str, logger: &str) -> String {
    format!(
        r#"apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: pair
spec:
  family: pair
  containerDefinitions:
    - name: main
      image: public.ecr.aws/docker/library/busybox:1.36
      essential: true
      entryPoint: ["sh", "-c"]
      command: ["{main}"]
      memory: 64
    - name: logger
      image: public.ecr.aws/docker/library/busybox:1.36
      essential: false
      entryPoint: ["sh", "-c"]
      command: ["{logger}"]
      memory: 64
      stopTimeout: 2
---
apiVersion: ecsbridge.io/v1alpha1
kind: Task
metadata:
  name: pair
spec:
  taskDefinition: pair
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_essential_container_that_exits_stops_its_task() {
    let env = Env::start("essential").await;
    let file = env.file(
        "pair.yaml",
        &two_containers(
            "sleep 8; exit 3",
            "trap 'exit 143' TERM; while true; do sleep 1; done",
        ),
    );
    env.kubectl_ok(&["apply", "-f", &Env::s(&file)]);
    task_when(&env, "pair", "the task RUNNING", |t| {
        s(t, "/status/lastStatus") == "RUNNING"
    })
    .await;
    exit(&env, "pair-1", &[("main", 3, "Error")]).await;
    let task = task_when(&env, "pair", "the task STOPPED", |t| {
        s(t, "/status/lastStatus") == "STOPPED"
    })
    .await;
    let one = &task["status"]["tasks"][0];
    assert_eq!(s(one, "/stopCode"), "EssentialContainerExited", "{task}");
    assert_eq!(s(one, "/stoppedReason"), "Essential container in task exited");
    assert_eq!(container(&task, 0, "main")["exitCode"], 3, "{task}");
    // The operator stopped the logger: the kubelet ended it (SIGTERM) at the pod's deadline.
    let logger = container(&task, 0, "logger");
    assert_eq!(s(logger, "/lastStatus"), "STOPPED", "{task}");
    assert_eq!(logger["exitCode"], 143, "{task}");
    let pod = env.get(&["pod", "pair-1"]).expect("the pod stays");
    assert_eq!(
        s(&pod, "/metadata/annotations/ecsbridge.io~1stop-code"),
        "EssentialContainerExited"
    );
    assert_eq!(s(&pod, "/status/phase"), "Failed");
    // Exit code 3: the Task failed, naming the task and the container.
    assert_eq!(s(&task, "/status/health"), "Degraded", "{task}");
    let degraded = task["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| s(c, "/type") == "Degraded"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        s(&degraded, "/message"),
        "Task pair-1: essential container main exited with code 3.",
        "{task}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_non_essential_exit_leaves_the_task_running() {
    let env = Env::start("nonessential").await;
    let file = env.file("pair.yaml", &two_containers("sleep 20", "exit 1"));
    env.kubectl_ok(&["apply", "-f", &Env::s(&file)]);
    task_when(&env, "pair", "the task RUNNING", |t| {
        s(t, "/status/lastStatus") == "RUNNING"
    })
    .await;
    exit(&env, "pair-1", &[("logger", 1, "Error")]).await;
    let task = task_when(&env, "pair", "the logger STOPPED", |t| {
        s(container(t, 0, "logger"), "/lastStatus") == "STOPPED"
    })
    .await;
    assert_eq!(s(&task, "/status/lastStatus"), "RUNNING", "{task}");
    assert_eq!(container(&task, 0, "logger")["exitCode"], 1);
    assert_eq!(s(container(&task, 0, "main"), "/lastStatus"), "RUNNING");
    let pod = env.get(&["pod", "pair-1"]).expect("the pod");
    assert!(pod.pointer("/spec/activeDeadlineSeconds").is_none(), "{pod}");
    // The main container ends the task; the logger's exit code is informational.
    exit(&env, "pair-1", &[("main", 0, "Completed")]).await;
    let task = task_when(&env, "pair", "the task STOPPED", |t| {
        s(t, "/status/lastStatus") == "STOPPED"
    })
    .await;
    assert_eq!(s(&task, "/status/health"), "Healthy", "{task}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_that_cannot_be_pulled_fails_the_start() {
    let env = Env::start("pull").await;
    let file = env.file(
        "pull.yaml",
        r#"apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: broken
spec:
  family: broken
  containerDefinitions:
    - name: app
      image: registry.invalid/nope:1
      memory: 64
---
apiVersion: ecsbridge.io/v1alpha1
kind: Task
metadata:
  name: broken
spec:
  taskDefinition: broken
"#,
    );
    env.kubectl_ok(&["apply", "-f", &Env::s(&file)]);
    let task = task_when(&env, "broken", "the task STOPPED", |t| {
        s(t, "/status/lastStatus") == "STOPPED"
    })
    .await;
    let one = &task["status"]["tasks"][0];
    assert_eq!(s(one, "/stopCode"), "TaskFailedToStart", "{task}");
    assert!(
        s(one, "/stoppedReason").starts_with("CannotPullContainerError: "),
        "{task}"
    );
    assert!(
        s(container(&task, 0, "app"), "/reason").starts_with("CannotPullContainerError: "),
        "{task}"
    );
    assert!(one.get("startedAt").is_none(), "it never started: {one}");
    assert!(
        one.get("stoppedAt").is_some(),
        "stopped, though no container ran: {one}"
    );
    assert_eq!(
        container(&task, 0, "app").get("exitCode"),
        None,
        "it never ran: {task}"
    );
    assert_eq!(s(&task, "/status/health"), "Degraded", "{task}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_stops_a_task_as_stop_task_does() {
    let env = Env::start("stoptask").await;
    let file = env.file("pair.yaml", &two_containers("sleep 3600", "sleep 3600"));
    env.kubectl_ok(&["apply", "-f", &Env::s(&file)]);
    task_when(&env, "pair", "the task RUNNING", |t| {
        s(t, "/status/lastStatus") == "RUNNING"
    })
    .await;
    env.kubectl_ok(&[
        "annotate",
        "ecstask",
        "pair",
        "ecsbridge.io/stop-task=cancelled by ops",
    ]);
    let task = task_when(&env, "pair", "the task STOPPED", |t| {
        s(t, "/status/lastStatus") == "STOPPED"
    })
    .await;
    let one = &task["status"]["tasks"][0];
    assert_eq!(s(one, "/stopCode"), "UserInitiated", "{task}");
    assert_eq!(s(one, "/stoppedReason"), "cancelled by ops");
    assert_eq!(s(&task, "/status/health"), "Degraded", "{task}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_task_whose_essential_container_exits_is_replaced_and_counted() {
    let env = Env::start("svcessential").await;
    let td = two_containers(
        "sleep 5; exit 3",
        "trap 'exit 143' TERM; while true; do sleep 1; done",
    );
    // The pair's task definition, run by a Service (not a Task).
    let td = td.split("---").next().unwrap_or_default().to_owned();
    let file = env.file(
        "service.yaml",
        &format!(
            "{td}---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata:
  name: pair
spec:
  taskDefinition: pair
  desiredCount: 1
  deploymentConfiguration:
    deploymentCircuitBreaker: {{enable: true, rollback: false}}
"
        ),
    );
    env.kubectl_ok(&["apply", "-f", &Env::s(&file)]);
    let first = eventually("the service's task", TIMEOUT, || {
        let pods = env
            .get(&["pods", "-l", "ecsbridge.io/service=pair"])
            .ok_or("no pods")?;
        pods["items"]
            .as_array()
            .and_then(|items| items.iter().find(|p| s(p, "/status/phase") == "Running"))
            .map(|p| s(p, "/metadata/name").to_owned())
            .ok_or_else(|| "no running pod".to_owned())
    })
    .await;
    if let Some((_, cluster)) = env.backend.double() {
        // The essential container exits: the kubelet restarts it in place (restartPolicy Always).
        let ns = env.namespace.clone();
        cluster
            .set_containers(
                &ns,
                &first,
                &[(
                    "main",
                    ContainerOutcome::Exited {
                        exit_code: 3,
                        reason: "Error".into(),
                    },
                )],
            )
            .expect("the container exits");
    }
    // The operator replaces the whole task: the pod goes, another comes.
    let svc = eventually("the task replaced and counted", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "pair"]).ok_or("no Service")?;
        let replaced = svc["status"]["deployments"][0]["replacedTasks"]
            .as_i64()
            .unwrap_or(0);
        (replaced >= 1)
            .then_some(svc.clone())
            .ok_or_else(|| format!("{}", svc["status"]))
    })
    .await;
    assert!(
        svc["status"]["deployments"][0]["failedTasks"]
            .as_i64()
            .unwrap_or(0)
            >= 1,
        "{}",
        svc["status"]
    );
    let events: Vec<&str> = svc["status"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        events.iter().any(|m| m.contains(&format!(
            "has stopped 1 running tasks: (task {first}). Essential container in task exited: main"
        ))),
        "{events:?}"
    );
    eventually("the replacement to run", TIMEOUT, || {
        let pods = env
            .get(&["pods", "-l", "ecsbridge.io/service=pair"])
            .ok_or("no pods")?;
        pods["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| s(p, "/metadata/name") != first && s(p, "/status/phase") == "Running")
            .then_some(())
            .ok_or_else(|| "no other running pod".to_owned())
    })
    .await;
}
