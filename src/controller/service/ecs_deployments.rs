//! ECS `deployments[]` of a REPLICA Service, observed from its children (pure: no client; the
//! clock comes in as `now`).
//!
//! Each ReplicaSet of the Service's Deployment is one ECS deployment: the one the Deployment's
//! current pod template runs is `PRIMARY`, older ones that still have tasks are `ACTIVE`, and
//! those scaled to zero (ECS `INACTIVE`) are left out, as `describe-services` leaves them out.
//!
//! | ECS | from |
//! |---|---|
//! | `id` | `ecs-svc/` and 19 digits derived from the ReplicaSet's uid and its `deployment.kubernetes.io/revision` (stable while it runs; a rollback to an older ReplicaSet gives it a new revision, so a new id: a new deployment, as in ECS) |
//! | `taskDefinition` | the template's `app.kubernetes.io/name` (family) and `ecsbridge.io/revision` labels |
//! | `desiredCount` | PRIMARY: the Service's; ACTIVE: the ReplicaSet's `spec.replicas` (falling to 0) |
//! | `runningCount` / `pendingCount` | the ReplicaSet's ready pods / its other pods |
//! | `failedTasks` | [`failed_tasks`] of the ReplicaSet's pods |
//! | `rolloutState` | PRIMARY: `IN_PROGRESS`, then `COMPLETED` once every task runs it (and it stays so), or `FAILED` when the circuit breaker failed its task definition; ACTIVE: what it was as PRIMARY |
//! | `createdAt` | the ReplicaSet's creation |
//! | `updatedAt` | the last time any of the above changed (kept otherwise, so that an unchanged Service writes nothing) |
//!
//! # Failed tasks (\[INF\])
//!
//! ECS counts a task that stops before RUNNING, or is stopped by a failing health check, as one
//! failure, and starts another task. Kubernetes restarts the container in the same pod instead,
//! so a failure is one restart of an essential container (a non-essential container's exit fails
//! no task), a task the operator replaced because an essential container stopped while others
//! ran (`replacedTasks`, kept in the status: its pod is gone), or, for a container that cannot start at all (its
//! image cannot be pulled, its configuration is invalid), one failure per attempt the kubelet
//! makes: it retries after 10 s, doubling up to 300 s ([`attempts_after`]). With
//! `resetOnHealthyTask` (ECS's default), a healthy task resets ECS's count: only pods that are
//! not Ready count.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, Deployment, ReplicaSet},
        core::v1::Pod,
    },
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};

use super::children::Children;
use crate::{
    api::{Service, service::ServiceDeployment},
    translate::{labels, rollout::Breaker},
};

/// `status` of the deployment whose pod template the Deployment runs.
pub const PRIMARY: &str = "PRIMARY";
/// `status` of an older deployment whose tasks are being replaced.
pub const ACTIVE: &str = "ACTIVE";
/// `rolloutState` while tasks of the deployment are starting.
pub const IN_PROGRESS: &str = "IN_PROGRESS";
/// `rolloutState` once every task runs the deployment's task definition.
pub const COMPLETED: &str = "COMPLETED";
/// `rolloutState` after the circuit breaker tripped.
pub const FAILED: &str = "FAILED";

/// Whether `d` is the PRIMARY deployment and still in progress.
#[must_use]
pub fn primary_in_progress(d: &ServiceDeployment) -> bool {
    d.status == PRIMARY && d.rollout_state.as_deref() == Some(IN_PROGRESS)
}

/// The annotation of Kubernetes' Deployment controller that numbers a Deployment's templates.
const K8S_REVISION: &str = "deployment.kubernetes.io/revision";
/// The label Kubernetes puts on a ReplicaSet and its pods.
const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Waiting reasons of a container that cannot start (each kubelet attempt is one ECS failure).
const CANNOT_START: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Task counts of a Service's workload, in ECS's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Tasks the service wants.
    pub desired: i32,
    /// Tasks ready (ECS RUNNING).
    pub running: i32,
    /// Tasks that exist but are not ready (ECS PENDING).
    pub pending: i32,
    /// The workload controller has observed the workload's latest spec.
    pub caught_up: bool,
    /// Every task runs the workload's latest pod template.
    pub rolled_out: bool,
}

/// The counts of one Deployment of `svc`.
#[must_use]
pub fn deployment_counts(svc: &Service, d: &Deployment) -> Counts {
    let replicas = d.spec.as_ref().and_then(|s| s.replicas);
    // The spec's count (auto scaling changes it through the scale subresource); 1 is
    // Kubernetes' default for `replicas`.
    let desired = svc.spec.service.desired_count.or(replicas).unwrap_or(1);
    let status = d.status.clone().unwrap_or_default();
    let running = status.ready_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let caught_up = status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    Counts {
        desired,
        running,
        pending: (total - running).max(0),
        caught_up,
        // (ECS: COMPLETED once every task of the deployment runs; created is not enough.)
        rolled_out: caught_up && updated >= desired && total <= updated && running >= desired,
    }
}

/// The counts of a DAEMON Service's DaemonSet.
#[must_use]
pub fn daemon_set_counts(d: &DaemonSet) -> Counts {
    let status = d.status.clone().unwrap_or_default();
    let caught_up = status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    Counts {
        desired: status.desired_number_scheduled,
        running: status.number_ready,
        pending: (status.current_number_scheduled - status.number_ready).max(0),
        caught_up,
        rolled_out: caught_up
            && status.updated_number_scheduled.unwrap_or(0) >= status.desired_number_scheduled
            && status.number_ready >= status.desired_number_scheduled,
    }
}

/// The ECS deployments of `svc`'s one Deployment `deployment` (see
/// [`super::observed::of_workload`]).
#[must_use]
pub fn of_deployment(
    svc: &Service,
    deployment: &Deployment,
    children: &Children,
    failed: Option<&str>,
    breaker: Option<&Breaker>,
    replaced: &BTreeMap<String, i32>,
    now: &Time,
) -> Vec<ServiceDeployment> {
    let counts = deployment_counts(svc, deployment);
    observe(
        deployment,
        &children.replica_sets,
        &children.pods,
        &Inputs {
            desired: counts.desired,
            failed_task_definition: failed,
            reset_on_healthy_task: breaker.is_none_or(|b| b.reset_on_healthy_task),
            rolled_out: counts.rolled_out,
            previous: svc.deployments(),
            replaced,
            now,
        },
    )
}

/// The ECS id of the deployment a ReplicaSet stands for: `ecs-svc/` and 19 digits, from its uid
/// and its Kubernetes revision (see the module docs).
#[must_use]
pub fn replica_set_deployment_id(rs: &ReplicaSet) -> String {
    let uid = rs.metadata.uid.as_deref().unwrap_or_default();
    match rs.metadata.annotations.as_ref().and_then(|a| a.get(K8S_REVISION)) {
        Some(revision) => deployment_id(&format!("{uid}/{revision}")),
        None => deployment_id(uid),
    }
}

/// An ECS deployment id: `ecs-svc/` and 19 digits derived from `key`.
#[must_use]
pub fn deployment_id(key: &str) -> String {
    let h = crate::fnv::hash(key.bytes());
    format!("ecs-svc/{:019}", h % 10_000_000_000_000_000_000)
}

/// How many times the kubelet has tried to start a container `elapsed_seconds` after the first
/// try: at 0 s, then after back-offs of 10 s doubling up to 300 s (the kubelet's image pull and
/// container start back-off).
#[must_use]
pub fn attempts_after(elapsed_seconds: i64) -> i32 {
    let mut attempts = 1;
    let mut at = 0_i64;
    let mut backoff = 10_i64;
    loop {
        at += backoff;
        if at > elapsed_seconds {
            return attempts;
        }
        attempts += 1;
        backoff = (backoff * 2).min(300);
    }
}

/// ECS task failures one pod stands for at `now` (see the module docs).
#[must_use]
pub fn pod_failures(pod: &Pod, now: Timestamp) -> i32 {
    let Some(status) = pod.status.as_ref() else {
        return 0;
    };
    if status.phase.as_deref() == Some("Failed") {
        return 1;
    }
    let started = pod.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let elapsed = now.duration_since(started).as_secs();
    // (A non-essential container that stops fails no task: ECS lets the task run on. Without
    // the annotation, every container counts.)
    let essential = crate::translate::task::lifecycle::listed_essential_containers(pod);
    super::stopped_reason::container_statuses(pod)
        .filter(|c| essential.as_ref().is_none_or(|e| e.contains(&c.name)))
        .map(|c| {
            let cannot_start = c
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref())
                .is_some_and(|r| CANNOT_START.contains(&r));
            if cannot_start {
                c.restart_count + attempts_after(elapsed)
            } else {
                c.restart_count
            }
        })
        .sum()
}

/// Whether `pod` has the Ready condition True.
#[must_use]
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// ECS's `failedTasks` of a deployment whose pods are `pods`: with `reset_on_healthy_task`,
/// only pods not Ready count.
#[must_use]
pub fn failed_tasks(pods: &[&Pod], reset_on_healthy_task: bool, now: Timestamp) -> i32 {
    pods.iter()
        .filter(|p| !reset_on_healthy_task || !is_ready(p))
        .map(|p| pod_failures(p, now))
        .sum()
}

/// `updatedAt` of `d` (computed with `updatedAt` unset): `before`'s when nothing else changed
/// since, else `now`.
pub(super) fn updated_at(
    before: Option<&ServiceDeployment>,
    d: &ServiceDeployment,
    now: &Time,
) -> Option<Time> {
    match before {
        Some(b)
            if ServiceDeployment {
                updated_at: None,
                ..b.clone()
            } == *d =>
        {
            b.updated_at.clone()
        }
        _ => Some(now.clone()),
    }
}

/// `family:revision` of the task definition a pod template runs, from its labels.
fn task_definition_of(labels: Option<&BTreeMap<String, String>>) -> String {
    let get = |k: &str| labels.and_then(|l| l.get(k)).map_or("", String::as_str);
    format!("{}:{}", get(labels::NAME), get(labels::REVISION))
}

/// The `rolloutState` of a deployment running `task_definition` whose entry in the current
/// status is `before`. PRIMARY: `FAILED` when the circuit breaker failed it (`failed`),
/// `COMPLETED` once `rolled_out` (and it stays so while PRIMARY), else `IN_PROGRESS`. ACTIVE:
/// what it was (a deployment replaced before it completed did not complete).
#[must_use]
pub fn rollout_state<'a>(
    primary: bool,
    task_definition: &str,
    failed: Option<&str>,
    rolled_out: bool,
    before: Option<&'a ServiceDeployment>,
) -> Option<&'a str> {
    if !primary {
        return before.and_then(|d| d.rollout_state.as_deref());
    }
    let completed =
        before.is_some_and(|d| d.status == PRIMARY && d.rollout_state.as_deref() == Some(COMPLETED));
    Some(if failed == Some(task_definition) {
        FAILED
    } else if completed || rolled_out {
        COMPLETED
    } else {
        IN_PROGRESS
    })
}

/// ECS's `rolloutStateReason` for `state` of the deployment `id`.
#[must_use]
pub fn rollout_state_reason(state: &str, id: &str) -> String {
    match state {
        COMPLETED => format!("ECS deployment {id} completed."),
        FAILED => "ECS deployment circuit breaker: tasks failed to start.".to_owned(),
        _ => format!("ECS deployment {id} in progress."),
    }
}

/// What [`observe`] needs besides the children.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The Service's desired task count.
    pub desired: i32,
    /// The task definition whose rollout the circuit breaker failed (`family:revision`).
    pub failed_task_definition: Option<&'a str>,
    /// The circuit breaker's `resetOnHealthyTask` (true when there is no breaker).
    pub reset_on_healthy_task: bool,
    /// Every task runs the Deployment's current template and the Deployment observed its spec.
    pub rolled_out: bool,
    /// The deployments of the current status, for what is kept (`updatedAt`, states, the
    /// replaced tasks).
    pub previous: &'a [ServiceDeployment],
    /// Tasks replaced in this reconcile because an essential container stopped, by their pods'
    /// `pod-template-hash`.
    pub replaced: &'a BTreeMap<String, i32>,
    /// Now.
    pub now: &'a Time,
}

/// The ECS deployments of `deployment`, PRIMARY first then ACTIVE newest first, from its
/// ReplicaSets and their pods (`replica_sets` and `pods` may hold others: only those the
/// Deployment owns count).
#[must_use]
pub fn observe(
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    inputs: &Inputs<'_>,
) -> Vec<ServiceDeployment> {
    let uid = deployment.metadata.uid.as_deref().unwrap_or_default();
    let current = deployment
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(K8S_REVISION));
    let mut out: Vec<ServiceDeployment> = Vec::new();
    for rs in replica_sets.iter().filter(|rs| {
        rs.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.uid == uid && o.controller == Some(true))
    }) {
        let primary = current.is_some()
            && rs.metadata.annotations.as_ref().and_then(|a| a.get(K8S_REVISION)) == current;
        let spec_replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
        let status = rs.status.clone().unwrap_or_default();
        if !primary && spec_replicas == 0 && status.replicas == 0 {
            continue; // INACTIVE
        }
        let hash = rs.metadata.labels.as_ref().and_then(|l| l.get(POD_TEMPLATE_HASH));
        let own: Vec<&Pod> = pods
            .iter()
            .filter(|p| {
                hash.is_some() && p.metadata.labels.as_ref().and_then(|l| l.get(POD_TEMPLATE_HASH)) == hash
            })
            .collect();
        // (A pod being deleted counts no more: a replaced task is counted in `replaced`.)
        let alive: Vec<&Pod> = own
            .iter()
            .copied()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let newly = hash.and_then(|h| inputs.replaced.get(h)).copied().unwrap_or(0);
        let id = replica_set_deployment_id(rs);
        let replaced = inputs
            .previous
            .iter()
            .find(|d| d.id == id)
            .map_or(0, |b| b.replaced_tasks)
            + newly;
        let task_definition = task_definition_of(
            rs.spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
        );
        let before = inputs.previous.iter().find(|d| d.id == id);
        let rollout_state = rollout_state(
            primary,
            &task_definition,
            inputs.failed_task_definition,
            inputs.rolled_out,
            before,
        );
        let rollout_state_reason = rollout_state.map(|s| rollout_state_reason(s, &id));
        let mut d = ServiceDeployment {
            id,
            status: if primary { PRIMARY } else { ACTIVE }.to_owned(),
            task_definition,
            desired_count: if primary { inputs.desired } else { spec_replicas },
            pending_count: (status.replicas - status.ready_replicas.unwrap_or(0)).max(0),
            running_count: status.ready_replicas.unwrap_or(0),
            failed_tasks: failed_tasks(&alive, inputs.reset_on_healthy_task, inputs.now.0) + replaced,
            replaced_tasks: replaced,
            capacity_provider_strategy: Vec::new(),
            rollout_state: rollout_state.map(str::to_owned),
            rollout_state_reason,
            created_at: rs.metadata.creation_timestamp.clone(),
            updated_at: None,
        };
        d.updated_at = updated_at(before, &d, inputs.now);
        out.push(d);
    }
    sort(&mut out);
    out
}

/// PRIMARY first, then newest first.
pub(super) fn sort(out: &mut [ServiceDeployment]) {
    out.sort_by(|a, b| {
        (b.status == PRIMARY)
            .cmp(&(a.status == PRIMARY))
            .then_with(|| {
                b.created_at
                    .as_ref()
                    .map(|t| t.0)
                    .cmp(&a.created_at.as_ref().map(|t| t.0))
            })
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The ECS deployment of a DAEMON Service's DaemonSet, running `task_definition`: PRIMARY only
/// (a DaemonSet replaces its pods node by node without a ReplicaSet per template, so older
/// templates are not listed as ACTIVE deployments).
#[must_use]
pub fn observe_daemon_set(
    daemon_set: &DaemonSet,
    task_definition: &str,
    previous: &[ServiceDeployment],
    now: &Time,
) -> ServiceDeployment {
    let uid = daemon_set.metadata.uid.as_deref().unwrap_or_default();
    let id = deployment_id(&format!("{uid}/{task_definition}"));
    let status = daemon_set.status.clone().unwrap_or_default();
    let caught_up = status.observed_generation.unwrap_or(0) >= daemon_set.metadata.generation.unwrap_or(0);
    let rolled_out = caught_up
        && status.updated_number_scheduled.unwrap_or(0) >= status.desired_number_scheduled
        && status.number_ready >= status.desired_number_scheduled;
    let before = previous.iter().find(|d| d.id == id);
    let completed = rolled_out || before.is_some_and(|d| d.rollout_state.as_deref() == Some(COMPLETED));
    let state = if completed { COMPLETED } else { IN_PROGRESS };
    let mut d = ServiceDeployment {
        rollout_state_reason: Some(if completed {
            format!("ECS deployment {id} completed.")
        } else {
            format!("ECS deployment {id} in progress.")
        }),
        id,
        status: PRIMARY.to_owned(),
        task_definition: task_definition.to_owned(),
        desired_count: status.desired_number_scheduled,
        pending_count: (status.current_number_scheduled - status.number_ready).max(0),
        running_count: status.number_ready,
        failed_tasks: 0,
        replaced_tasks: 0,
        capacity_provider_strategy: Vec::new(),
        rollout_state: Some(state.to_owned()),
        created_at: before
            .and_then(|b| b.created_at.clone())
            .or_else(|| Some(now.clone())),
        updated_at: None,
    };
    d.updated_at = updated_at(before, &d, now);
    d
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::{
            apps::v1::{ReplicaSetSpec, ReplicaSetStatus},
            core::v1::{
                ContainerState, ContainerStateWaiting, ContainerStatus, PodCondition, PodStatus,
                PodTemplateSpec,
            },
        },
        apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
    };

    use super::*;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + seconds).expect("time"))
    }

    fn deployment(revision: &str) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("web".into()),
                uid: Some("uid-deploy".into()),
                annotations: Some(BTreeMap::from([(K8S_REVISION.into(), revision.into())])),
                ..ObjectMeta::default()
            },
            ..Deployment::default()
        }
    }

    fn replica_set(
        hash: &str,
        revision: &str,
        td_revision: &str,
        replicas: i32,
        ready: i32,
        created: i64,
    ) -> ReplicaSet {
        let labels = BTreeMap::from([(POD_TEMPLATE_HASH.to_owned(), hash.to_owned())]);
        let template_labels = BTreeMap::from([
            (labels::NAME.to_owned(), "web".to_owned()),
            (labels::REVISION.to_owned(), td_revision.to_owned()),
            (POD_TEMPLATE_HASH.to_owned(), hash.to_owned()),
        ]);
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("web-{hash}")),
                uid: Some(format!("uid-rs-{hash}")),
                labels: Some(labels),
                annotations: Some(BTreeMap::from([(K8S_REVISION.into(), revision.into())])),
                owner_references: Some(vec![OwnerReference {
                    uid: "uid-deploy".into(),
                    controller: Some(true),
                    ..OwnerReference::default()
                }]),
                creation_timestamp: Some(at(created)),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(template_labels),
                        ..ObjectMeta::default()
                    }),
                    spec: None,
                }),
                ..ReplicaSetSpec::default()
            }),
            status: Some(ReplicaSetStatus {
                replicas,
                ready_replicas: Some(ready),
                ..ReplicaSetStatus::default()
            }),
        }
    }

    fn pod(hash: &str, created: i64, ready: bool, restarts: i32, waiting: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(format!("web-{hash}-{created}-{restarts}")),
                labels: Some(BTreeMap::from([(POD_TEMPLATE_HASH.to_owned(), hash.to_owned())])),
                creation_timestamp: Some(at(created)),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some("Running".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..PodCondition::default()
                }]),
                container_statuses: Some(vec![ContainerStatus {
                    name: "app".into(),
                    restart_count: restarts,
                    state: waiting.map(|r| ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some(r.into()),
                            message: None,
                        }),
                        ..ContainerState::default()
                    }),
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
        }
    }

    /// No task replaced.
    static NONE_REPLACED: BTreeMap<String, i32> = BTreeMap::new();

    fn ctx<'a>(previous: &'a [ServiceDeployment], now: &'a Time) -> Inputs<'a> {
        Inputs {
            desired: 4,
            failed_task_definition: None,
            reset_on_healthy_task: true,
            rolled_out: false,
            previous,
            replaced: &NONE_REPLACED,
            now,
        }
    }

    #[test]
    fn ids_look_like_ecs_and_are_stable() {
        let id = deployment_id("0b6c9a4e-1f7e-4a59-9d47-2f0c8f2a1d11");
        assert_eq!(id, deployment_id("0b6c9a4e-1f7e-4a59-9d47-2f0c8f2a1d11"));
        assert_ne!(id, deployment_id("0b6c9a4e-1f7e-4a59-9d47-2f0c8f2a1d12"));
        let digits = id.strip_prefix("ecs-svc/").expect("prefix");
        assert_eq!(digits.len(), 19);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn kubelet_attempts_follow_its_back_off() {
        // Tries at 0, 10, 30, 70, 150, 310, 610, 910 s.
        for (elapsed, attempts) in [
            (0, 1),
            (9, 1),
            (10, 2),
            (29, 2),
            (30, 3),
            (70, 4),
            (150, 5),
            (310, 6),
            (609, 6),
            (610, 7),
            (910, 8),
        ] {
            assert_eq!(attempts_after(elapsed), attempts, "after {elapsed} s");
        }
    }

    #[test]
    fn failures_are_restarts_and_start_attempts() {
        let now = at(100).0;
        // A container restarted twice: two failures.
        assert_eq!(
            pod_failures(&pod("a", 0, false, 2, Some("CrashLoopBackOff")), now),
            2
        );
        // An image that cannot be pulled for 100 s: tried at 0, 10, 30 and 70 s.
        assert_eq!(
            pod_failures(&pod("a", 0, false, 0, Some("ImagePullBackOff")), now),
            4
        );
        // Still creating: no failure.
        assert_eq!(
            pod_failures(&pod("a", 0, false, 0, Some("ContainerCreating")), now),
            0
        );
        let ready = pod("a", 0, true, 3, None);
        let crashing = pod("a", 0, false, 2, Some("CrashLoopBackOff"));
        // A healthy task resets the count (ECS's default); without reset, every failure counts.
        assert_eq!(failed_tasks(&[&ready, &crashing], true, now), 2);
        assert_eq!(failed_tasks(&[&ready, &crashing], false, now), 5);
    }

    #[test]
    fn a_rollout_shows_primary_and_active_until_done() {
        let now = at(60);
        let d = deployment("2");
        let old = replica_set("old", "1", "3", 2, 2, 0);
        let new = replica_set("new", "2", "4", 3, 1, 50);
        let gone = replica_set("gone", "0", "2", 0, 0, -100);
        assert_eq!(replica_set_deployment_id(&old), deployment_id("uid-rs-old/1"));
        let pods = [
            pod("new", 50, true, 0, None),
            pod("new", 50, false, 1, Some("CrashLoopBackOff")),
        ];
        let previous = [ServiceDeployment {
            id: deployment_id("uid-rs-old/1"),
            status: PRIMARY.into(),
            task_definition: "web:3".into(),
            rollout_state: Some(COMPLETED.into()),
            ..ServiceDeployment::default()
        }];
        let got = observe(&d, &[gone, old, new], &pods, &ctx(&previous, &now));
        assert_eq!(got.len(), 2, "{got:#?}");
        let (p, a) = (&got[0], &got[1]);
        assert_eq!(
            (p.status.as_str(), p.task_definition.as_str()),
            (PRIMARY, "web:4")
        );
        assert_eq!(
            (p.desired_count, p.running_count, p.pending_count, p.failed_tasks),
            (4, 1, 2, 1)
        );
        assert_eq!(p.rollout_state.as_deref(), Some(IN_PROGRESS));
        assert_eq!(
            p.rollout_state_reason.as_deref(),
            Some(format!("ECS deployment {} in progress.", p.id).as_str())
        );
        assert_eq!(p.created_at, Some(at(50)));
        assert_eq!(p.updated_at, Some(now.clone()));
        assert_eq!((a.status.as_str(), a.task_definition.as_str()), (ACTIVE, "web:3"));
        assert_eq!((a.desired_count, a.running_count, a.pending_count), (2, 2, 0));
        assert_eq!(
            a.rollout_state.as_deref(),
            Some(COMPLETED),
            "kept from when it was PRIMARY"
        );
    }

    #[test]
    fn a_rollback_to_an_older_replica_set_is_a_new_deployment() {
        // web:3 completed in revision 1; web:4 (revision 2) failed; Kubernetes rolls back by
        // making the web:3 ReplicaSet current again, as revision 3.
        let completed = replica_set("old", "1", "3", 2, 2, 0);
        let before = observe(
            &deployment("1"),
            std::slice::from_ref(&completed),
            &[],
            &Inputs {
                rolled_out: true,
                ..ctx(&[], &at(10))
            },
        );
        assert_eq!(before[0].rollout_state.as_deref(), Some(COMPLETED));
        let rolled_back = replica_set("old", "3", "3", 2, 0, 0);
        let failed = replica_set("new", "2", "4", 1, 0, 50);
        let after = observe(
            &deployment("3"),
            &[rolled_back, failed],
            &[],
            &Inputs {
                failed_task_definition: Some("web:4"),
                ..ctx(&before, &at(100))
            },
        );
        let primary = &after[0];
        assert_eq!(
            (primary.status.as_str(), primary.task_definition.as_str()),
            (PRIMARY, "web:3")
        );
        assert_ne!(
            primary.id, before[0].id,
            "ECS starts a new deployment to roll back"
        );
        assert_eq!(primary.rollout_state.as_deref(), Some(IN_PROGRESS));
        assert_eq!(after[1].task_definition, "web:4");
    }

    #[test]
    fn completed_stays_completed_and_unchanged_deployments_keep_their_time() {
        let d = deployment("2");
        let rs = [replica_set("new", "2", "4", 4, 4, 50)];
        let first = observe(
            &d,
            &rs,
            &[],
            &Inputs {
                rolled_out: true,
                ..ctx(&[], &at(60))
            },
        );
        assert_eq!(first[0].rollout_state.as_deref(), Some(COMPLETED));
        // Later a task crashes: ECS keeps the deployment COMPLETED; nothing else changed but the
        // failure count, so updatedAt moves.
        let later = at(120);
        let pods = [pod("new", 50, false, 1, Some("CrashLoopBackOff"))];
        let second = observe(&d, &rs, &pods, &ctx(&first, &later));
        assert_eq!(second[0].rollout_state.as_deref(), Some(COMPLETED));
        assert_eq!(second[0].updated_at, Some(later));
        // Nothing changes: the same object, time included.
        let third = observe(&d, &rs, &pods, &ctx(&second, &at(180)));
        assert_eq!(third, second);
    }

    #[test]
    fn the_failed_task_definition_is_failed() {
        let d = deployment("2");
        let rs = [replica_set("new", "2", "4", 1, 0, 50)];
        let got = observe(
            &d,
            &rs,
            &[],
            &Inputs {
                failed_task_definition: Some("web:4"),
                ..ctx(&[], &at(60))
            },
        );
        assert_eq!(got[0].rollout_state.as_deref(), Some(FAILED));
        assert_eq!(
            got[0].rollout_state_reason.as_deref(),
            Some("ECS deployment circuit breaker: tasks failed to start.")
        );
    }

    #[test]
    fn replica_sets_of_other_deployments_do_not_count() {
        let d = deployment("1");
        let mut other = replica_set("x", "1", "1", 1, 1, 0);
        other.metadata.owner_references.as_mut().expect("owners")[0].uid = "uid-other".into();
        assert!(observe(&d, &[other], &[], &ctx(&[], &at(0))).is_empty());
    }
}
