//! Why a task stopped or cannot start, as ECS's `stoppedReason` says it (pure), from the
//! kubelet's container states (and, for a task that cannot be placed, the scheduler's message,
//! [`unschedulable`]): the circuit breaker's message and events carry it, so a user
//! sees why a rollout failed without reading pods.
//!
//! | kubelet | ECS (ecs-reference §6.3) |
//! |---|---|
//! | waiting `ErrImagePull`, `ImagePullBackOff`, `InvalidImageName`, `ErrImageNeverPull` | `CannotPullContainerError: <message>` |
//! | waiting `CreateContainerConfigError` (a Secret or ConfigMap missing) | `ResourceInitializationError: <message>` |
//! | waiting `CreateContainerError`, `RunContainerError` | `CannotStartContainerError: <message>` |
//! | terminated `OOMKilled` (now or last) | `OutOfMemoryError: Container killed due to memory usage` |
//! | terminated with another non-zero code (now or last, as in `CrashLoopBackOff`) | `Essential container in task exited` (exit code N) |

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// The statuses of `pod`'s containers, init containers first.
pub fn container_statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    pod.status.iter().flat_map(|s| {
        s.init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
    })
}

/// The scheduler's message for the first of `pods` that cannot be placed (`PodScheduled=False`,
/// `Unschedulable`), without its final full stop.
#[must_use]
pub fn unschedulable<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Option<String> {
    pods.into_iter().find_map(|p| {
        p.status.as_ref()?.conditions.as_ref()?.iter().find_map(|c| {
            (c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
                .then(|| {
                    let message = c.message.as_deref().unwrap_or_default();
                    message.trim().trim_end_matches('.').to_owned()
                })
        })
    })
}

/// ECS's reason for `pod`'s trouble, from the first container (init containers first) that
/// cannot start or stopped with a failure; `None` for a pod without one.
#[must_use]
pub fn of_pod(pod: &Pod) -> Option<String> {
    container_statuses(pod).find_map(of_container)
}

/// ECS's reason for the trouble of the first of `pods` that has one.
#[must_use]
pub fn of_pods<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Option<String> {
    pods.into_iter().find_map(of_pod)
}

fn of_container(c: &ContainerStatus) -> Option<String> {
    let state = c.state.as_ref();
    if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
        let message = waiting.message.as_deref().unwrap_or("").trim();
        let said = |prefix: &str| {
            if message.is_empty() {
                format!("{prefix}: container {}", c.name)
            } else {
                format!("{prefix}: {message}")
            }
        };
        match waiting.reason.as_deref() {
            Some("ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull") => {
                return Some(said("CannotPullContainerError"));
            }
            Some("CreateContainerConfigError") => return Some(said("ResourceInitializationError")),
            Some("CreateContainerError" | "RunContainerError") => {
                return Some(said("CannotStartContainerError"));
            }
            _ => {}
        }
    }
    let terminated = state
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| c.last_state.as_ref().and_then(|s| s.terminated.as_ref()))?;
    if terminated.reason.as_deref() == Some("OOMKilled") {
        return Some("OutOfMemoryError: Container killed due to memory usage".to_owned());
    }
    (terminated.exit_code != 0).then(|| {
        format!(
            "Essential container in task exited: container {} exited with code {}",
            c.name, terminated.exit_code
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(statuses: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"containerStatuses": statuses}}))
            .expect("a pod")
    }

    #[test]
    fn each_kubelet_trouble_reads_as_ecs_says_it() {
        let cases = [
            (
                json!({"waiting": {"reason": "ErrImagePull", "message": "failed to pull image \"registry.invalid/x\": not found"}}),
                None,
                "CannotPullContainerError: failed to pull image \"registry.invalid/x\": not found",
            ),
            (
                json!({"waiting": {"reason": "ImagePullBackOff"}}),
                None,
                "CannotPullContainerError: container app",
            ),
            (
                json!({"waiting": {"reason": "CreateContainerConfigError", "message": "secret \"db\" not found"}}),
                None,
                "ResourceInitializationError: secret \"db\" not found",
            ),
            (
                json!({"waiting": {"reason": "RunContainerError", "message": "exec: \"nope\": not found"}}),
                None,
                "CannotStartContainerError: exec: \"nope\": not found",
            ),
            (
                json!({"waiting": {"reason": "CrashLoopBackOff"}}),
                Some(json!({"terminated": {"reason": "OOMKilled", "exitCode": 137}})),
                "OutOfMemoryError: Container killed due to memory usage",
            ),
            (
                json!({"terminated": {"reason": "Error", "exitCode": 3}}),
                None,
                "Essential container in task exited: container app exited with code 3",
            ),
        ];
        for (state, last, want) in cases {
            let p = pod(
                json!([{"name": "app", "image": "x", "imageID": "", "ready": false,
                "restartCount": 1, "state": state, "lastState": last}]),
            );
            assert_eq!(of_pod(&p).as_deref(), Some(want), "{state}");
        }
        let fine = pod(json!([{"name": "app", "image": "x", "imageID": "", "ready": true,
            "restartCount": 0, "state": {"running": {}}}]));
        assert_eq!(of_pod(&fine), None);
        let done = pod(
            json!([{"name": "app", "image": "x", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]),
        );
        assert_eq!(of_pod(&done), None);
        assert_eq!(
            of_pods([
                &fine,
                &pod(
                    json!([{"name": "app", "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}])
                )
            ])
            .as_deref(),
            Some("CannotPullContainerError: container app")
        );
    }
}
