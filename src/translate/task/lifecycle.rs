//! A task's pod → the task as `describe-tasks` shows it (pure: the pod is all it reads).
//!
//! `lastStatus` (ecs-reference §6.2) as far as the pod tells it:
//!
//! | pod | lastStatus |
//! |---|---|
//! | not bound to a node (waiting for capacity, or unschedulable) | PROVISIONING |
//! | bound, a container not started yet (image pull, volumes) | PENDING |
//! | every container started | RUNNING |
//! | being deleted, or stopped by the operator, with a container still running | STOPPING |
//! | `Succeeded` or `Failed`, or every container stopped | STOPPED |
//!
//! ACTIVATING and DEACTIVATING (load balancer registration) and DEPROVISIONING (ENI cleanup)
//! have no pod counterpart for a standalone task and are not reported.
//!
//! `stopCode` and `stoppedReason`: the operator's own record on the pod when it stopped the task
//! ([`super::STOP_CODE_ANNOTATION`], [`super::STOPPED_REASON_ANNOTATION`]: an essential container
//! that exited while others ran, a failed start, a user's stop); else a node disruption
//! (`DisruptionTarget`, an eviction): TerminationNotice, or SpotInterruption on a Spot capacity
//! provider; else a container that could not start: TaskFailedToStart; else the task ended on its
//! own because its essential containers did: EssentialContainerExited, "Essential container in
//! task exited".
//!
//! A container's `reason` is ECS's: `OutOfMemoryError: Container killed due to memory usage` for an
//! OOM kill, `CannotPullContainerError: <the kubelet's message>` for a pull that failed,
//! `ResourceInitializationError: <message>` for secrets or config maps that are missing,
//! `CannotStartContainerError: <message>` for a container the runtime could not start.

use std::collections::BTreeSet;

use k8s_openapi::{
    api::core::v1::{ContainerStatus, Pod},
    apimachinery::pkg::apis::meta::v1::Time,
};

use crate::api::{ContainerState, TaskFailure, TaskInstance};

/// ECS's words for a task's or container's state.
pub mod words {
    /// Waiting for a node.
    pub const PROVISIONING: &str = "PROVISIONING";
    /// On a node, starting.
    pub const PENDING: &str = "PENDING";
    /// Running.
    pub const RUNNING: &str = "RUNNING";
    /// Stopping.
    pub const STOPPING: &str = "STOPPING";
    /// Stopped.
    pub const STOPPED: &str = "STOPPED";
    /// Stop code: an essential container exited.
    pub const ESSENTIAL_CONTAINER_EXITED: &str = "EssentialContainerExited";
    /// Stop code: the task never got running.
    pub const TASK_FAILED_TO_START: &str = "TaskFailedToStart";
    /// Stop code: StopTask (a user, or the Task deleted).
    pub const USER_INITIATED: &str = "UserInitiated";
    /// Stop code: the service scheduler replaced the task.
    pub const SERVICE_SCHEDULER_INITIATED: &str = "ServiceSchedulerInitiated";
    /// Stop code: Spot capacity was reclaimed.
    pub const SPOT_INTERRUPTION: &str = "SpotInterruption";
    /// Stop code: the infrastructure went away under the task.
    pub const TERMINATION_NOTICE: &str = "TerminationNotice";
    /// ECS's stoppedReason of a task whose essential container exited.
    pub const ESSENTIAL_EXITED_REASON: &str = "Essential container in task exited";
    /// ECS's container reason of an OOM kill.
    pub const OUT_OF_MEMORY: &str = "OutOfMemoryError: Container killed due to memory usage";
}

use words::*;

/// Kubelet waiting reasons of an image that cannot be pulled.
pub const PULL_FAILURES: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];
/// Kubelet waiting reasons of a container whose configuration (Secret, ConfigMap) is missing.
pub const CONFIG_FAILURES: &[&str] = &["CreateContainerConfigError"];
/// Kubelet waiting reasons of a container the runtime could not create or start.
pub const START_FAILURES: &[&str] = &["CreateContainerError", "RunContainerError"];

/// The containers of a pod that are part of the task: the native sidecars (init containers
/// with `restartPolicy: Always`) and the main containers, in that order, with their statuses.
#[must_use]
pub fn task_containers(pod: &Pod) -> Vec<(String, Option<&ContainerStatus>, bool)> {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    fn find<'p>(list: Option<&'p Vec<ContainerStatus>>, name: &str) -> Option<&'p ContainerStatus> {
        list.and_then(|l| l.iter().find(|s| s.name == name))
    }
    let sidecars = spec
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| {
            let st = find(status.and_then(|s| s.init_container_statuses.as_ref()), &c.name);
            (c.name.clone(), st, true)
        });
    let main = spec.map(|s| &s.containers).into_iter().flatten().map(|c| {
        let st = find(status.and_then(|s| s.container_statuses.as_ref()), &c.name);
        (c.name.clone(), st, false)
    });
    sidecars.chain(main).collect()
}

/// The essential containers that `pod`'s [`crate::translate::pod::ESSENTIAL_ANNOTATION`] lists;
/// `None` without the annotation.
#[must_use]
pub fn listed_essential_containers(pod: &Pod) -> Option<BTreeSet<String>> {
    let list = pod
        .metadata
        .annotations
        .as_ref()?
        .get(crate::translate::pod::ESSENTIAL_ANNOTATION)?;
    Some(
        list.split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// The essential containers of a task's pod, from [`crate::translate::pod::ESSENTIAL_ANNOTATION`]
/// (every main container when the annotation is missing).
#[must_use]
pub fn essential_containers(pod: &Pod) -> BTreeSet<String> {
    match listed_essential_containers(pod) {
        Some(listed) => listed,
        None => pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .map(|c| c.name.clone())
            .collect(),
    }
}

/// One container as ECS describes it.
#[must_use]
pub fn container_state(name: &str, status: Option<&ContainerStatus>, essential: bool) -> ContainerState {
    let mut out = ContainerState {
        name: name.to_owned(),
        last_status: PENDING.to_owned(),
        essential: Some(essential),
        ..ContainerState::default()
    };
    let Some(st) = status else {
        return out;
    };
    let state = st.state.as_ref();
    if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
        out.last_status = STOPPED.to_owned();
        // (The kubelet's word for a container of a terminal pod it has no run of: it never
        // ran, so it has no exit code.)
        if t.reason.as_deref() == Some("ContainerStatusUnknown") && t.started_at.is_none() {
            return out;
        }
        out.exit_code = Some(t.exit_code);
        out.reason = terminated_reason(t.reason.as_deref(), t.message.as_deref());
    } else if state.and_then(|s| s.running.as_ref()).is_some() {
        out.last_status = RUNNING.to_owned();
        if st.ready {
            out.health_status = Some("HEALTHY".to_owned());
        }
    } else if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
        out.reason = waiting_reason(w.reason.as_deref().unwrap_or_default(), w.message.as_deref());
        // (A restarting sidecar waits with its last run's end in lastState.)
        if let Some(t) = st.last_state.as_ref().and_then(|l| l.terminated.as_ref()) {
            out.exit_code = Some(t.exit_code);
        }
    }
    out
}

/// ECS's reason for a container that ended with the kubelet's `reason` and `message`.
fn terminated_reason(reason: Option<&str>, message: Option<&str>) -> Option<String> {
    match reason {
        Some("OOMKilled") => Some(OUT_OF_MEMORY.to_owned()),
        Some("ContainerCannotRun" | "StartError") => Some(format!(
            "CannotStartContainerError: {}",
            message.unwrap_or("the container runtime could not start the container")
        )),
        _ => None,
    }
}

/// ECS's reason for a container waiting with the kubelet's `reason`, when it is a failure.
#[must_use]
pub fn waiting_reason(reason: &str, message: Option<&str>) -> Option<String> {
    let message = message.unwrap_or(reason);
    if PULL_FAILURES.contains(&reason) {
        Some(format!("CannotPullContainerError: {message}"))
    } else if CONFIG_FAILURES.contains(&reason) {
        Some(format!(
            "ResourceInitializationError: unable to pull secrets or registry auth: {message}"
        ))
    } else if START_FAILURES.contains(&reason) {
        Some(format!("CannotStartContainerError: {message}"))
    } else {
        None
    }
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn parse_time(text: &str) -> Option<Time> {
    text.parse().ok().map(Time)
}

/// The pod's condition `type_`, when True.
fn condition_true<'a>(pod: &'a Pod, type_: &str) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_ && c.status == "True"))
}

/// The task that `pod` is, as `describe-tasks` shows it (see the module docs).
#[must_use]
pub fn task_instance(pod: &Pod) -> TaskInstance {
    let essential = essential_containers(pod);
    let statuses = task_containers(pod);
    let containers: Vec<ContainerState> = statuses
        .iter()
        .map(|(name, st, _)| container_state(name, *st, essential.contains(name)))
        .collect();
    let bound = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some();
    let all_stopped = !containers.is_empty() && containers.iter().all(|c| c.last_status == STOPPED);
    let stopped = is_terminal(pod) || all_stopped;
    let stop_asked =
        annotation(pod, super::STOP_CODE_ANNOTATION).is_some() || pod.metadata.deletion_timestamp.is_some();
    let any_running = containers.iter().any(|c| c.last_status == RUNNING);
    let all_started = containers.iter().all(|c| c.last_status != PENDING);
    let last_status = if stopped {
        STOPPED
    } else if stop_asked && (any_running || bound) {
        STOPPING
    } else if !bound {
        PROVISIONING
    } else if all_started {
        RUNNING
    } else {
        PENDING
    };
    let started_times = statuses.iter().filter_map(|(_, st, _)| {
        let state = st.and_then(|s| s.state.as_ref())?;
        state
            .running
            .as_ref()
            .and_then(|r| r.started_at.clone())
            .or_else(|| state.terminated.as_ref().and_then(|t| t.started_at.clone()))
    });
    let started_at = if all_started
        && containers
            .iter()
            .any(|c| c.exit_code.is_some() || c.last_status == RUNNING)
    {
        started_times.max_by_key(|t| t.0)
    } else {
        None
    };
    let finished_at = statuses
        .iter()
        .filter_map(|(_, st, _)| (*st)?.state.as_ref()?.terminated.as_ref()?.finished_at.clone())
        .max_by_key(|t| t.0);
    let first_essential_end = statuses
        .iter()
        .filter(|(n, _, _)| essential.contains(n))
        .filter_map(|(_, st, _)| (*st)?.state.as_ref()?.terminated.as_ref()?.finished_at.clone())
        .min_by_key(|t| t.0);
    let (stop_code, stopped_reason) = if stopped || last_status == STOPPING {
        stop_cause(pod, &containers)
    } else {
        (None, None)
    };
    let stopping_at = annotation(pod, super::STOPPING_AT_ANNOTATION)
        .and_then(parse_time)
        .or_else(|| pod.metadata.deletion_timestamp.clone())
        .or_else(|| stopped.then(|| first_essential_end.clone()).flatten());
    let health_status = containers
        .iter()
        .filter(|c| c.essential == Some(true))
        .all(|c| c.health_status.as_deref() == Some("HEALTHY"))
        .then_some("HEALTHY")
        .filter(|_| last_status == RUNNING && pod_has_probes(pod))
        .unwrap_or("UNKNOWN");
    TaskInstance {
        task_arn: pod.metadata.name.clone().unwrap_or_default(),
        last_status: last_status.to_owned(),
        desired_status: Some(if stopped || stop_asked { STOPPED } else { RUNNING }.to_owned()),
        health_status: Some(health_status.to_owned()),
        stop_code,
        stopped_reason,
        group: annotation(pod, crate::translate::labels::GROUP_ANNOTATION).map(str::to_owned),
        started_by: annotation(pod, super::STARTED_BY_ANNOTATION).map(str::to_owned),
        capacity_provider_name: annotation(pod, super::CAPACITY_PROVIDER_ANNOTATION).map(str::to_owned),
        created_at: pod.metadata.creation_timestamp.clone(),
        started_at,
        // (Containers that never ran have no finishedAt: then when the stop began, else when the
        // pod stopped being Ready.)
        stopped_at: if stopped {
            finished_at
                .or_else(|| stopping_at.clone())
                .or_else(|| condition_time(pod, "Ready"))
        } else {
            None
        },
        stopping_at,
        containers,
    }
}

/// When the pod's condition `type_` last changed.
fn condition_time(pod: &Pod, type_: &str) -> Option<Time> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)?
        .last_transition_time
        .clone()
}

fn pod_has_probes(pod: &Pod) -> bool {
    pod.spec.as_ref().is_some_and(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .any(|c| c.readiness_probe.is_some() || c.startup_probe.is_some())
    })
}

/// Why the task of `pod` stops (see the module docs).
fn stop_cause(pod: &Pod, containers: &[ContainerState]) -> (Option<String>, Option<String>) {
    if let Some(code) = annotation(pod, super::STOP_CODE_ANNOTATION) {
        let reason = annotation(pod, super::STOPPED_REASON_ANNOTATION).map(str::to_owned);
        return (Some(code.to_owned()), reason);
    }
    let evicted = pod.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted");
    if let Some(c) = condition_true(pod, "DisruptionTarget") {
        return disruption(pod, c.message.as_deref().or(c.reason.as_deref()));
    }
    if evicted {
        return disruption(pod, pod.status.as_ref().and_then(|s| s.message.as_deref()));
    }
    if let Some(reason) = containers.iter().filter_map(|c| c.reason.as_deref()).find(|r| {
        r.starts_with("CannotPullContainerError")
            || r.starts_with("ResourceInitializationError")
            || r.starts_with("CannotStartContainerError")
    }) {
        return (Some(TASK_FAILED_TO_START.to_owned()), Some(reason.to_owned()));
    }
    if pod.metadata.deletion_timestamp.is_some()
        && !containers
            .iter()
            .any(|c| c.essential == Some(true) && c.last_status == STOPPED)
    {
        return (
            Some(USER_INITIATED.to_owned()),
            Some("Task stopped: its pod was deleted".to_owned()),
        );
    }
    (
        Some(ESSENTIAL_CONTAINER_EXITED.to_owned()),
        Some(ESSENTIAL_EXITED_REASON.to_owned()),
    )
}

/// A task stopped by its node going away: on a Spot capacity provider, ECS's Spot interruption;
/// otherwise a termination notice, with the cluster's message.
fn disruption(pod: &Pod, message: Option<&str>) -> (Option<String>, Option<String>) {
    let spot = annotation(pod, super::CAPACITY_PROVIDER_ANNOTATION)
        .is_some_and(|p| p.to_ascii_uppercase().contains("SPOT"));
    if spot {
        return (
            Some(SPOT_INTERRUPTION.to_owned()),
            Some("Your Spot Task was interrupted.".to_owned()),
        );
    }
    (
        Some(TERMINATION_NOTICE.to_owned()),
        Some(format!(
            "Task stopped by the cluster: {}",
            message.unwrap_or("its node is going away")
        )),
    )
}

/// RunTask's failure for `pod` when the scheduler cannot place it: ECS's reason for the
/// scheduler's message (see [`TaskFailure::reason`]), the message as the detail.
#[must_use]
pub fn placement_failure(pod: &Pod) -> Option<TaskFailure> {
    let c = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())?
        .iter()
        .find(|c| {
            c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable")
        })?;
    let message = c.message.clone().unwrap_or_default();
    Some(TaskFailure {
        arn: pod.metadata.name.clone().unwrap_or_default(),
        reason: failure_reason(&message).to_owned(),
        detail: Some(message),
    })
}

/// ECS's failure reason for a scheduler message (the first that applies, most specific first).
#[must_use]
pub fn failure_reason(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    let table: &[(&str, &str)] = &[
        ("volume node affinity", "LOCATION"),
        ("insufficient cpu", "RESOURCE:CPU"),
        ("insufficient memory", "RESOURCE:MEMORY"),
        ("insufficient nvidia.com/gpu", "RESOURCE:GPU"),
        ("free ports", "RESOURCE:PORTS"),
        (
            "anti-affinity",
            "DistinctInstance placement constraint unsatisfied",
        ),
        ("affinity", "MemberOf placement constraint unsatisfied"),
        ("node selector", "MemberOf placement constraint unsatisfied"),
        ("untolerated taint", "ATTRIBUTE"),
    ];
    table
        .iter()
        .find(|(needle, _)| m.contains(needle))
        .map_or("RESOURCE", |(_, reason)| reason)
}
