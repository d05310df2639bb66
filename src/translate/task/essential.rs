//! When a task must stop (pure): ECS's essential-container rule, a start that failed, and a
//! user's stop, for a task's pod as the cluster last showed it (ecs-reference §6.3, §6.4).
//!
//! - **An essential container stopped** while another container of the task still runs: ECS
//!   stops the task (`EssentialContainerExited`, "Essential container in task exited"). A
//!   Kubernetes pod keeps its other containers running (and under `restartPolicy: Always`
//!   restarts the one that stopped), so the controllers stop the task themselves. An essential
//!   native sidecar counts as stopped once it has restarted (its `lastState` is terminated). A
//!   non-essential container that stops changes nothing.
//! - **The task never gets running**: an image the kubelet cannot pull because it does not exist,
//!   its registry's host does not resolve or the registry refuses the credentials
//!   (`CannotPullContainerError`) stops it at once, as ECS's agent gives up on such a pull; a
//!   pull that failed otherwise (a rate limit, a timeout), a Secret or ConfigMap that is missing
//!   (`ResourceInitializationError`) or a container the runtime cannot create
//!   (`CannotStartContainerError`) stops it once the task has waited [`START_TIMEOUT_SECONDS`]
//!   (the kubelet retries; an ExternalSecret may still be syncing the Secret):
//!   `TaskFailedToStart`.
//! - **A user stops it** (StopTask): `UserInitiated`, with the user's reason.
//!
//! How the stop is carried out is the controller's: a standalone task's pod is stopped in place
//! (it stays, describable), a service's is replaced.

use std::collections::BTreeSet;

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};

use super::lifecycle::{self, CONFIG_FAILURES, PULL_FAILURES, START_FAILURES, words};

/// How long a task may wait for a missing Secret or ConfigMap, or for a container the runtime
/// cannot create, before it is stopped as failed to start.
pub const START_TIMEOUT_SECONDS: i64 = 120;

/// Why a task stops, as its status will say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// ECS's stop code.
    pub code: &'static str,
    /// ECS's stopped reason.
    pub reason: String,
    /// The essential container that exited, and its exit code, for EssentialContainerExited.
    pub container: Option<(String, Option<i32>)>,
}

/// What to do about a task's pod now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Leave it running.
    Run,
    /// Stop it.
    Stop(Stop),
    /// Look again at this time (a start failure within its grace period).
    RecheckAt(Timestamp),
}

/// Whether the task of `pod` must stop at `now` (see the module docs); `user_stop` is the
/// reason of a user's stop, when one was asked. A pod that is stopping or stopped already, or
/// being deleted, is left alone.
#[must_use]
pub fn verdict(pod: &Pod, user_stop: Option<&str>, now: Timestamp) -> Verdict {
    let terminal = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    let stopping = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(super::STOP_CODE_ANNOTATION));
    if terminal || stopping || pod.metadata.deletion_timestamp.is_some() {
        return Verdict::Run;
    }
    if let Some(reason) = user_stop {
        return Verdict::Stop(Stop {
            code: words::USER_INITIATED,
            reason: if reason.trim().is_empty() {
                "Task stopped by user".to_owned()
            } else {
                reason.to_owned()
            },
            container: None,
        });
    }
    let essential = lifecycle::essential_containers(pod);
    if let Some((stop, _)) = essential_exit(pod, &essential) {
        return Verdict::Stop(stop);
    }
    start_failure(pod, now)
}

/// A service's task to replace, as the service scheduler replaces one: an essential container
/// stopped (and, under `restartPolicy: Always`, was restarted in place) while another container
/// of the task runs on. A task of one essential container restarted in place is not replaced:
/// the kubelet's restart, with its back-off, stands for ECS's replacement (its pod keeps its
/// name and IP), and counts as a failed task where the circuit breaker counts them.
#[must_use]
pub fn replacement(pod: &Pod) -> Option<Stop> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let essential = lifecycle::essential_containers(pod);
    essential_exit(pod, &essential)
        .filter(|(_, others_alive)| *others_alive)
        .map(|(stop, _)| stop)
}

/// The essential container that stopped while another of the task's containers runs on (or,
/// restarted in place, runs again itself), and whether another does.
fn essential_exit(pod: &Pod, essential: &BTreeSet<String>) -> Option<(Stop, bool)> {
    let containers = lifecycle::task_containers(pod);
    let ended = |st: Option<&k8s_openapi::api::core::v1::ContainerStatus>| -> Option<Option<i32>> {
        let st = st?;
        if let Some(t) = st.state.as_ref().and_then(|s| s.terminated.as_ref()) {
            return Some(Some(t.exit_code));
        }
        // Restarted in place (a sidecar, or a container under restartPolicy Always): it stopped.
        st.last_state
            .as_ref()
            .and_then(|l| l.terminated.as_ref())
            .map(|t| Some(t.exit_code))
    };
    let (name, code) = containers
        .iter()
        .filter(|(n, _, _)| essential.contains(n))
        .find_map(|(n, st, _)| ended(*st).map(|code| (n.clone(), code)))?;
    let others_alive = containers.iter().any(|(n, st, _)| {
        *n != name
            && st
                .and_then(|s| s.state.as_ref())
                .is_none_or(|s| s.terminated.is_none())
    });
    // (A pod whose containers all stopped has ended on its own: nothing to stop. Under a
    // restart policy that restarts it, the container itself is alive again: stop the task.)
    let restarted = containers
        .iter()
        .find(|(n, _, _)| *n == name)
        .and_then(|(_, st, _)| *st)
        .is_some_and(|s| s.state.as_ref().is_none_or(|s| s.terminated.is_none()));
    (others_alive || restarted).then(|| {
        (
            Stop {
                code: words::ESSENTIAL_CONTAINER_EXITED,
                reason: words::ESSENTIAL_EXITED_REASON.to_owned(),
                container: Some((name, code)),
            },
            others_alive,
        )
    })
}

/// Whether a failed pull will fail again: an image name that is invalid or must not be pulled,
/// or a registry that says the image or its host does not exist, or refuses the credentials. (A
/// rate limit, a timeout or a registry that is down may pass: those wait as other start failures
/// do.)
fn permanent_pull_failure(reason: &str, message: Option<&str>) -> bool {
    const PERMANENT: &[&str] = &[
        "not found",
        "no such host",
        "manifest unknown",
        "name unknown",
        "unauthorized",
        "denied",
        "forbidden",
        "invalid reference",
    ];
    matches!(reason, "InvalidImageName" | "ErrImageNeverPull")
        || message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            PERMANENT.iter().any(|p| m.contains(p))
        })
}

/// A task that cannot start: at once for a pull that will fail again, after
/// [`START_TIMEOUT_SECONDS`] from the pod's creation for the other failures.
fn start_failure(pod: &Pod, now: Timestamp) -> Verdict {
    let waiting = lifecycle::task_containers(pod)
        .into_iter()
        .find_map(|(_, st, _)| {
            let w = st?.state.as_ref()?.waiting.as_ref()?;
            let reason = w.reason.clone().unwrap_or_default();
            let known = PULL_FAILURES.contains(&reason.as_str())
                || CONFIG_FAILURES.contains(&reason.as_str())
                || START_FAILURES.contains(&reason.as_str());
            known.then(|| (reason, w.message.clone()))
        });
    let Some((reason, message)) = waiting else {
        return Verdict::Run;
    };
    let Some(ecs_reason) = lifecycle::waiting_reason(&reason, message.as_deref()) else {
        return Verdict::Run;
    };
    let stop = Verdict::Stop(Stop {
        code: words::TASK_FAILED_TO_START,
        reason: ecs_reason,
        container: None,
    });
    if PULL_FAILURES.contains(&reason.as_str()) && permanent_pull_failure(&reason, message.as_deref()) {
        return stop;
    }
    let created = pod.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let deadline = created
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(
            START_TIMEOUT_SECONDS,
        ))
        .unwrap_or(now);
    if deadline <= now {
        stop
    } else {
        Verdict::RecheckAt(deadline)
    }
}
