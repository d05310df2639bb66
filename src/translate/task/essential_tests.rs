//! When a task must stop, from given pods.

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use serde_json::{Value, json};

use super::essential::{START_TIMEOUT_SECONDS, Verdict, verdict};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_796_637_600 + seconds).expect("a time")
}

/// A running pod with main containers `app` (essential unless listed otherwise) and `log`, an
/// essential native sidecar `proxy`, created at `at(0)`.
fn pod(essential: &str, app: Value, log: Value, proxy: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "job-1", "creationTimestamp": at(0).to_string(),
                     "annotations": {"ecsbridge.io/essential-containers": essential}},
        "spec": {"nodeName": "node-a", "restartPolicy": "Never",
                 "initContainers": [{"name": "proxy", "image": "p", "restartPolicy": "Always"}],
                 "containers": [{"name": "app", "image": "x"}, {"name": "log", "image": "y"}]},
        "status": {"phase": "Running", "startTime": at(1).to_string(),
            "initContainerStatuses": [proxy_status(proxy)],
            "containerStatuses": [
                {"name": "app", "state": app, "ready": true, "restartCount": 0, "image": "x", "imageID": ""},
                {"name": "log", "state": log, "ready": true, "restartCount": 0, "image": "y", "imageID": ""}]},
    }))
    .expect("a pod")
}

fn proxy_status(state: Value) -> Value {
    let mut st = json!({"name": "proxy", "ready": true, "restartCount": 0, "image": "p", "imageID": ""});
    if state.get("restarted").is_some() {
        st["restartCount"] = json!(1);
        st["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "Error"}});
        st["state"] = json!({"running": {"startedAt": at(9).to_string()}});
    } else {
        st["state"] = state;
    }
    st
}

fn run() -> Value {
    json!({"running": {"startedAt": at(2).to_string()}})
}

fn exited(code: i32) -> Value {
    json!({"terminated": {"exitCode": code, "reason": "Error"}})
}

fn wait(reason: &str) -> Value {
    json!({"waiting": {"reason": reason, "message": "why"}})
}

/// The essential container that exited, and its exit code.
type Exited = Option<(String, Option<i32>)>;

fn code(v: &Verdict) -> Option<(&'static str, Exited)> {
    match v {
        Verdict::Stop(s) => Some((s.code, s.container.clone())),
        _ => None,
    }
}

#[test]
fn an_essential_container_that_exits_stops_the_task_a_non_essential_one_does_not() {
    let now = at(30);
    // The essential app exited 3 while the log router runs: stop, naming it.
    let v = verdict(&pod("app,proxy", exited(3), run(), run()), None, now);
    assert_eq!(
        code(&v),
        Some(("EssentialContainerExited", Some(("app".to_owned(), Some(3)))))
    );
    // The non-essential log router exited: the task runs on.
    assert_eq!(
        verdict(&pod("app,proxy", run(), exited(1), run()), None, now),
        Verdict::Run
    );
    // Every container but the proxy sidecar has ended: still the essential app's exit.
    assert!(
        code(&verdict(
            &pod("app,proxy", exited(0), exited(0), run()),
            None,
            now
        ))
        .is_some()
    );
    // An essential sidecar that restarted in place has stopped once: stop the task.
    let v = verdict(
        &pod("app,proxy", run(), run(), json!({"restarted": true})),
        None,
        now,
    );
    assert_eq!(
        code(&v),
        Some(("EssentialContainerExited", Some(("proxy".to_owned(), Some(137)))))
    );
    // A non-essential sidecar that restarted: nothing.
    assert_eq!(
        verdict(&pod("app", run(), run(), json!({"restarted": true})), None, now),
        Verdict::Run
    );
}

#[test]
fn a_start_that_fails_stops_the_task_a_pull_at_once_the_rest_after_the_timeout() {
    let pull = |message: &str| {
        let mut p = pod("app", wait("ErrImagePull"), run(), run());
        p.status
            .as_mut()
            .expect("status")
            .container_statuses
            .as_mut()
            .expect("statuses")[0]
            .state
            .as_mut()
            .and_then(|s| s.waiting.as_mut())
            .expect("waiting")
            .message = Some(message.to_owned());
        p
    };
    let missing = "failed to pull and unpack image \"registry.invalid/x:1\": dial tcp: lookup registry.invalid: no such host";
    let v = verdict(&pull(missing), None, at(2));
    assert_eq!(code(&v).map(|c| c.0), Some("TaskFailedToStart"));
    let Verdict::Stop(stop) = v else { unreachable!() };
    assert_eq!(stop.reason, format!("CannotPullContainerError: {missing}"));
    // A rate limit may pass: the task waits as for other start failures.
    let limited = verdict(&pull("429 Too Many Requests: toomanyrequests"), None, at(2));
    assert_eq!(limited, Verdict::RecheckAt(at(START_TIMEOUT_SECONDS)));
    // A missing Secret may still come (an ExternalSecret syncing): wait, then stop.
    let early = verdict(
        &pod("app", wait("CreateContainerConfigError"), run(), run()),
        None,
        at(10),
    );
    assert_eq!(early, Verdict::RecheckAt(at(START_TIMEOUT_SECONDS)));
    let late = verdict(
        &pod("app", wait("CreateContainerConfigError"), run(), run()),
        None,
        at(START_TIMEOUT_SECONDS),
    );
    assert_eq!(code(&late).map(|c| c.0), Some("TaskFailedToStart"));
    // Ordinary waiting is no failure.
    assert_eq!(
        verdict(&pod("app", wait("ContainerCreating"), run(), run()), None, at(2)),
        Verdict::Run
    );
}

#[test]
fn a_user_stop_wins_and_a_stopping_pod_is_left_alone() {
    let v = verdict(&pod("app", run(), run(), run()), Some("cancelled"), at(5));
    let Verdict::Stop(stop) = v else { panic!("a stop") };
    assert_eq!((stop.code, stop.reason.as_str()), ("UserInitiated", "cancelled"));
    let Verdict::Stop(stop) = verdict(&pod("app", run(), run(), run()), Some(" "), at(5)) else {
        panic!("a stop")
    };
    assert_eq!(stop.reason, "Task stopped by user");
    let mut stopping = pod("app", exited(3), run(), run());
    stopping
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert("ecsbridge.io/stop-code".into(), "EssentialContainerExited".into());
    assert_eq!(verdict(&stopping, Some("again"), at(5)), Verdict::Run);
    let mut ended = pod("app", exited(0), exited(0), run());
    ended.status.as_mut().expect("status").phase = Some("Succeeded".into());
    assert_eq!(verdict(&ended, Some("too late"), at(5)), Verdict::Run);
}

#[test]
fn a_service_task_is_replaced_only_when_another_container_runs_on() {
    use super::essential::replacement;
    // Restarted in place while the log router runs: replace the task.
    let mut restarted = pod("app", run(), run(), run());
    {
        let st = &mut restarted
            .status
            .as_mut()
            .expect("status")
            .container_statuses
            .as_mut()
            .expect("statuses")[0];
        st.restart_count = 1;
        st.last_state =
            serde_json::from_value(json!({"terminated": {"exitCode": 2, "reason": "Error"}})).ok();
    }
    let stop = replacement(&restarted).expect("replaced");
    assert_eq!(stop.container, Some(("app".to_owned(), Some(2))));
    // The only container of a task, restarted in place: the kubelet's restart stands for it.
    let mut alone: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web-1", "annotations": {"ecsbridge.io/essential-containers": "app"}},
        "spec": {"containers": [{"name": "app", "image": "x"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 1, "image": "x", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]},
    }))
    .expect("a pod");
    assert_eq!(replacement(&alone), None);
    // A non-essential container restarted: nothing.
    let mut log = pod("app", run(), run(), run());
    {
        let st = &mut log
            .status
            .as_mut()
            .expect("status")
            .container_statuses
            .as_mut()
            .expect("statuses")[1];
        st.restart_count = 1;
        st.last_state =
            serde_json::from_value(json!({"terminated": {"exitCode": 1, "reason": "Error"}})).ok();
    }
    assert_eq!(replacement(&log), None);
    // Being deleted already: not again.
    restarted.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(40)));
    assert_eq!(replacement(&restarted), None);
    alone.metadata.name = None;
}
