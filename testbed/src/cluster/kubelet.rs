//! The simulated kubelet: sets pod status (phase, conditions, container states) as the test
//! asks, for one pod or for every new pod.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::util::{self, rt, s};
use crate::api::{ApiError, ApiServer, meta_helpers::now};

/// What a pod should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodOutcome {
    /// Leave it Pending (unscheduled).
    Pending,
    /// Running on a node; `ready` sets the Ready condition.
    Running {
        /// Whether the pod is Ready.
        ready: bool,
    },
    /// Every container waiting with `reason` (e.g. `ErrImagePull`, `CrashLoopBackOff`).
    Waiting {
        /// The waiting reason.
        reason: String,
    },
    /// Finished successfully (exit 0).
    Succeeded,
    /// Finished with `exit_code` and `reason` (e.g. `Error`, `OOMKilled`).
    Failed {
        /// Container exit code.
        exit_code: i32,
        /// Termination reason.
        reason: String,
    },
}

/// Drives pods that nobody has touched yet (Pending, no container statuses) to the outcome.
pub fn reconcile(api: &Arc<ApiServer>, outcome: &Mutex<Option<PodOutcome>>) -> Result<(), ApiError> {
    let Some(o) = outcome.lock().expect("kubelet lock").clone() else {
        return Ok(());
    };
    if o == PodOutcome::Pending {
        return Ok(());
    }
    for pod in util::pods(api, None, None)? {
        // A pod nobody has run yet: Pending (or no status at all) and no container statuses.
        let untouched = matches!(s(&pod, "/status/phase"), "" | "Pending")
            && pod.pointer("/status/containerStatuses").is_none();
        if untouched
            && pod
                .pointer("/metadata/deletionTimestamp")
                .is_none_or(Value::is_null)
        {
            write(api, &pod, &o)?;
        }
    }
    Ok(())
}

/// Sets one pod.
pub fn set_pod(api: &Arc<ApiServer>, namespace: &str, name: &str, o: PodOutcome) -> Result<Value, ApiError> {
    let pod = api.get(&rt(api, "", "v1", "Pod"), Some(namespace), name, None)?;
    write(api, &pod, &o)?;
    api.get(&rt(api, "", "v1", "Pod"), Some(namespace), name, None)
}

fn write(api: &Arc<ApiServer>, pod: &Value, o: &PodOutcome) -> Result<(), ApiError> {
    let t = now();
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let cond = |type_: &str, ok: bool| json!({"type": type_, "status": if ok { "True" } else { "False" }, "lastTransitionTime": t});
    let (phase, ready, state): (&str, bool, Value) = match o {
        PodOutcome::Pending => (
            "Pending",
            false,
            json!({"waiting": {"reason": "ContainerCreating"}}),
        ),
        PodOutcome::Running { ready } => ("Running", *ready, json!({"running": {"startedAt": t}})),
        PodOutcome::Waiting { reason } => {
            let phase = if reason == "CrashLoopBackOff" {
                "Running"
            } else {
                "Pending"
            };
            (
                phase,
                false,
                json!({"waiting": {"reason": reason, "message": format!("simulated {reason}")}}),
            )
        }
        PodOutcome::Succeeded => (
            "Succeeded",
            false,
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}}),
        ),
        PodOutcome::Failed { exit_code, reason } => (
            "Failed",
            false,
            json!({"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": t, "finishedAt": t}}),
        ),
    };
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            json!({
                "name": c.get("name"), "image": c.get("image"), "imageID": "",
                "ready": ready, "started": phase == "Running", "restartCount": if matches!(o, PodOutcome::Waiting { reason } if reason == "CrashLoopBackOff") { 3 } else { 0 },
                "state": state,
            })
        })
        .collect();
    let scheduled = !matches!(o, PodOutcome::Pending);
    let mut status = json!({
        "phase": phase,
        "conditions": [cond("PodScheduled", scheduled), cond("Initialized", scheduled), cond("ContainersReady", ready), cond("Ready", ready)],
        "containerStatuses": statuses,
    });
    if scheduled {
        status["startTime"] = json!(t);
        status["hostIP"] = json!("10.0.0.1");
        status["podIP"] = json!(format!("10.1.{}.{}", containers.len(), t.len()));
    }
    let pod_type = rt(api, "", "v1", "Pod");
    let mut body = pod.clone();
    if scheduled && s(pod, "/spec/nodeName").is_empty() {
        // Assign a node (the double does not schedule; the first node, or a made-up one).
        let node = util::list(api, &rt(api, "", "v1", "Node"), None, None)?
            .first()
            .map_or_else(|| "node-1".to_owned(), |n| s(n, "/metadata/name").to_owned());
        body["spec"]["nodeName"] = json!(node);
        body = api
            .update(
                &pod_type,
                pod.pointer("/metadata/namespace").and_then(Value::as_str),
                s(pod, "/metadata/name"),
                None,
                body,
                &super::opts(),
            )?
            .object;
    }
    util::set_status(api, &pod_type, &body, status)
}
