//! The simulated kubelet's per-container life: a test makes one container of a running pod
//! exit (or run), and the pod follows as a kubelet's would
//! (<https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/>):
//!
//! - a container that exits is restarted unless its restart policy says otherwise (the pod's
//!   `restartPolicy`; a native sidecar's is `Always`; `OnFailure` keeps one that exited 0):
//!   restarted, it waits in `CrashLoopBackOff` with `lastState.terminated` and a `restartCount`
//!   one higher; not restarted, it stays `terminated`;
//! - once every main container has terminated, the running sidecars are stopped (exit 0) and
//!   the pod ends: `Succeeded` when every main container exited 0, else `Failed`; until then it
//!   is `Running`, Ready only while every container runs ready.
//!
//! And `activeDeadlineSeconds` (<https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase>
//! and the kubelet's active deadline handler): once `status.startTime` plus the deadline has
//! passed on the simulated clock, the kubelet kills every container still running — SIGTERM,
//! which the double's processes honour: exit 143 — and marks those that never started
//! terminated (137, `ContainerStatusUnknown`, as a terminal pod's containers all are); the pod
//! ends `Failed` with reason `DeadlineExceeded`. A deadline not reached yet is looked at again when it is.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    ctx::{Ctx, Kind},
    util::{format_time, is_deleting, parse_time, s, uid},
};
use crate::api::ApiError;

/// What one container does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerOutcome {
    /// It runs; `ready` sets its readiness.
    Running {
        /// Whether it is ready.
        ready: bool,
    },
    /// It exits with `exit_code` and the kubelet's `reason` (`Completed`, `Error`, `OOMKilled`).
    Exited {
        /// Its exit code.
        exit_code: i32,
        /// The termination reason.
        reason: String,
    },
}

fn terminal(pod: &Value) -> bool {
    matches!(s(pod, "/status/phase"), "Succeeded" | "Failed")
}

/// Sets the containers of a running pod as `outcomes` say (by name; the others as they are),
/// then the pod's phase and readiness, retrying on conflicts.
///
/// # Errors
/// When the pod does not exist, or has no container statuses yet (the kubelet has not started
/// it), or a name is not one of its containers (400).
pub fn set_containers(
    ctx: &mut Ctx<'_>,
    namespace: &str,
    pod_name: &str,
    outcomes: &[(String, ContainerOutcome)],
) -> Result<Value, ApiError> {
    let rt = ctx.rt(Kind::Pod);
    let mut attempts = 0;
    loop {
        let pod = Arc::new(ctx.api.get(&rt, Some(namespace), pod_name, None)?);
        if pod.pointer("/status/containerStatuses").is_none() {
            return Err(ApiError::bad_request(format!(
                "pod {pod_name} has not started: give it an outcome first"
            )));
        }
        let now = format_time(ctx.now);
        let mut status = pod.get("status").cloned().unwrap_or(json!({}));
        for (name, outcome) in outcomes {
            let restart = container_restart_policy(&pod, name)
                .ok_or_else(|| ApiError::bad_request(format!("pod {pod_name} has no container {name}")))?;
            let st = container_status_mut(&mut status, name).ok_or_else(|| {
                ApiError::bad_request(format!("pod {pod_name} has no status of container {name}"))
            })?;
            set_container(st, outcome, &restart, &now);
        }
        settle(&pod, &mut status, &now);
        match ctx.write_status(Kind::Pod, &pod, status) {
            Err(ApiError { code: 409, .. }) if attempts < 10 => attempts += 1,
            Err(e) => return Err(e),
            Ok(written) => {
                ctx.shared
                    .handled
                    .lock()
                    .expect("kubelet lock")
                    .insert(uid(&pod).to_owned());
                return Ok((*written).clone());
            }
        }
    }
}

/// The restart policy of container `name` of `pod`: a sidecar's own, else the pod's; `None`
/// when `pod` has no such container.
fn container_restart_policy(pod: &Value, name: &str) -> Option<String> {
    let pod_policy = match s(pod, "/spec/restartPolicy") {
        "" => "Always",
        p => p,
    };
    let main = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| s(c, "/name") == name);
    if main.is_some() {
        return Some(pod_policy.to_owned());
    }
    pod.pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| s(c, "/name") == name)
        .map(|c| match s(c, "/restartPolicy") {
            "" => "Never".to_owned(),
            p => p.to_owned(),
        })
}

fn container_status_mut<'a>(status: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    for list in ["containerStatuses", "initContainerStatuses"] {
        let found = status
            .get(list)
            .and_then(Value::as_array)
            .and_then(|l| l.iter().position(|c| s(c, "/name") == name));
        if let Some(i) = found {
            return status.get_mut(list).and_then(|l| l.get_mut(i));
        }
    }
    None
}

fn set_container(st: &mut Value, outcome: &ContainerOutcome, restart: &str, now: &str) {
    let started = st
        .pointer("/state/running/startedAt")
        .cloned()
        .unwrap_or_else(|| json!(now));
    match outcome {
        ContainerOutcome::Running { ready } => {
            st["state"] = json!({"running": {"startedAt": now}});
            st["ready"] = json!(ready);
            st["started"] = json!(true);
        }
        ContainerOutcome::Exited { exit_code, reason } => {
            let terminated = json!({"exitCode": exit_code, "reason": reason, "startedAt": started, "finishedAt": now,
                                    "containerID": st.get("containerID").cloned().unwrap_or(Value::Null)});
            let restarts = restart == "Always" || (restart == "OnFailure" && *exit_code != 0);
            st["ready"] = json!(false);
            st["started"] = json!(false);
            if restarts {
                let n = st.get("restartCount").and_then(Value::as_i64).unwrap_or(0) + 1;
                st["restartCount"] = json!(n);
                st["lastState"] = json!({"terminated": terminated});
                st["state"] = json!({"waiting": {"reason": "CrashLoopBackOff",
                    "message": format!("back-off 10s restarting failed container={}", s(st, "/name"))}});
            } else {
                st["state"] = json!({"terminated": terminated});
            }
        }
    }
}

fn is_terminated(st: &Value) -> bool {
    st.pointer("/state/terminated").is_some()
}

/// The pod's phase and readiness from its containers (see the module docs).
fn settle(pod: &Value, status: &mut Value, now: &str) {
    let mains: Vec<Value> = status
        .get("containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let all_main_done = !mains.is_empty() && mains.iter().all(is_terminated);
    if all_main_done {
        let sidecars: Vec<String> = pod
            .pointer("/spec/initContainers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| s(c, "/restartPolicy") == "Always")
            .map(|c| s(c, "/name").to_owned())
            .collect();
        for name in sidecars {
            if let Some(st) = container_status_mut(status, &name)
                && !is_terminated(st)
            {
                set_container(
                    st,
                    &ContainerOutcome::Exited {
                        exit_code: 0,
                        reason: "Completed".into(),
                    },
                    "Never",
                    now,
                );
            }
        }
        let ok = mains
            .iter()
            .all(|c| c.pointer("/state/terminated/exitCode") == Some(&json!(0)));
        status["phase"] = json!(if ok { "Succeeded" } else { "Failed" });
    } else {
        status["phase"] = json!("Running");
    }
    let ready = !all_main_done
        && mains.iter().all(|c| c.get("ready") == Some(&json!(true)))
        && status
            .get("initContainerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .all(|c| c.get("ready") == Some(&json!(true)) || is_terminated(c));
    set_ready(status, ready, all_main_done, now);
}

fn set_ready(status: &mut Value, ready: bool, finished: bool, now: &str) {
    let Some(conds) = status.get_mut("conditions").and_then(Value::as_array_mut) else {
        return;
    };
    for c in conds.iter_mut() {
        let type_ = s(c, "/type").to_owned();
        let want = match type_.as_str() {
            "Ready" | "ContainersReady" => ready,
            "PodReadyToStartContainers" => !finished,
            _ => continue,
        };
        let value = if want { "True" } else { "False" };
        if s(c, "/status") != value {
            c["status"] = json!(value);
            c["lastTransitionTime"] = json!(now);
        }
        if type_ == "Ready" || type_ == "ContainersReady" {
            if want {
                if let Some(o) = c.as_object_mut() {
                    o.remove("reason");
                    o.remove("message");
                }
            } else {
                c["reason"] = json!(if finished {
                    "PodCompleted"
                } else {
                    "ContainersNotReady"
                });
            }
        }
    }
}

/// Enforces `pod`'s `activeDeadlineSeconds` (see the module docs); returns whether it acted.
///
/// # Errors
/// When the status write fails.
pub fn deadline(ctx: &mut Ctx<'_>, pod: &Arc<Value>) -> Result<bool, ApiError> {
    let Some(seconds) = pod.pointer("/spec/activeDeadlineSeconds").and_then(Value::as_i64) else {
        return Ok(false);
    };
    if terminal(pod) || is_deleting(pod) {
        return Ok(false);
    }
    let Some(start) = parse_time(s(pod, "/status/startTime")) else {
        return Ok(false);
    };
    let due = start + seconds * 1000;
    if due > ctx.now {
        ctx.requeue(Kind::Pod, pod, due);
        return Ok(false);
    }
    let now = format_time(ctx.now);
    let mut status = pod.get("status").cloned().unwrap_or(json!({}));
    for list in ["containerStatuses", "initContainerStatuses"] {
        for st in status
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if st.pointer("/state/waiting").is_some() && list == "containerStatuses" {
                // Never started: a terminal pod's containers are all terminated, this one as
                // the kubelet words a container it has no record of.
                st["state"] = json!({"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                    "message": "The container could not be located when the pod was terminated"}});
                st["ready"] = json!(false);
            } else if !is_terminated(st)
                && (list == "containerStatuses" || st.pointer("/state/running").is_some())
            {
                set_container(
                    st,
                    &ContainerOutcome::Exited {
                        exit_code: 143,
                        reason: "Error".into(),
                    },
                    "Never",
                    &now,
                );
            }
        }
    }
    status["phase"] = json!("Failed");
    status["reason"] = json!("DeadlineExceeded");
    status["message"] = json!("Pod was active on the node longer than the specified deadline");
    set_ready(&mut status, false, true, &now);
    ctx.write_status(Kind::Pod, pod, status)?;
    Ok(true)
}
