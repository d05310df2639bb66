//! Decide (pure; the clock comes in as `now`): which tasks to start, which to stop and how,
//! which stopped tasks' pods have outlived the retention, and what each task now is.
//!
//! - **Start** once: tasks `1..=count` that have neither a pod nor a record in the status, for
//!   the generation that started them ([`to_start`]). A task the status records is never started
//!   again, even when its pod is gone (ECS never restarts a standalone task); a spec changed
//!   after the start starts nothing (RunTask is not editable: make a new Task).
//! - **Stop** as [`essential::verdict`] says (an essential container exited, a failed start, the
//!   user's [`STOP_TASK_ANNOTATION`]): a task on a node is stopped in place (its pod stays,
//!   describable), one not on a node yet is deleted (nothing runs).
//! - **Retention**: the pod of a task stopped longer than the retention ago is deleted; the
//!   status keeps the task.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use k8s_openapi::{
    api::core::v1::Pod,
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::{SignedDuration, Timestamp},
};
use kube::ResourceExt;

use crate::{
    api::{Task, TaskFailure, TaskInstance},
    translate::task::{
        STARTED_GENERATION_ANNOTATION, STOP_TASK_ANNOTATION, TASK_DEFINITION_ANNOTATION,
        essential::{self, Stop, Verdict},
        lifecycle::{self, words},
        pod_name, request,
    },
};

/// A task to stop in place.
#[derive(Debug, Clone, PartialEq)]
pub struct PodStop {
    /// Its pod.
    pub pod: Arc<Pod>,
    /// Why.
    pub stop: Stop,
}

/// Every decision of one reconcile of a Task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// The tasks to start (1-based indices).
    pub start: Vec<u32>,
    /// The tasks to stop in place.
    pub stops: Vec<PodStop>,
    /// Pods to delete: stopped past the retention, or stopped before reaching a node.
    pub deletes: Vec<Arc<Pod>>,
    /// The tasks as the status will show them.
    pub tasks: Vec<TaskInstance>,
    /// Tasks that cannot be placed, in RunTask's `failures[]` form.
    pub failures: Vec<TaskFailure>,
    /// When to look again (a start failure's grace, a retention's end).
    pub next_check: Option<Timestamp>,
    /// Whether the spec changed after the tasks started (nothing more starts).
    pub spec_changed: bool,
    /// The revision the tasks run and the generation that started them, as their pods say.
    pub started: (Option<String>, Option<i64>),
}

/// The user's stop reason, when the Task carries [`STOP_TASK_ANNOTATION`].
#[must_use]
pub fn user_stop(task: &Task) -> Option<&str> {
    task.annotations().get(STOP_TASK_ANNOTATION).map(String::as_str)
}

fn recorded<'a>(task: &'a Task, name: &str) -> Option<&'a TaskInstance> {
    task.status
        .as_ref()
        .and_then(|s| s.tasks.iter().find(|t| t.task_arn == name))
}

/// Whether the status records the task whose pod is `name` as not stopped.
#[must_use]
pub fn recorded_alive(task: &Task, name: &str) -> bool {
    recorded(task, name).is_some_and(|t| t.last_status != words::STOPPED)
}

/// Whether the spec changed after the tasks started (by the status).
#[must_use]
pub fn spec_changed(task: &Task) -> bool {
    let started = task.status.as_ref().and_then(|s| s.started_generation);
    started.is_some() && started != task.metadata.generation
}

/// What the pods say of the start: the revision they run and the generation that started them
/// (the status may not say it yet: a Task read before its status was written, or written after
/// a crash between the create and the status write).
#[must_use]
pub fn started_by_pods(pods: &BTreeMap<u32, Arc<Pod>>) -> (Option<String>, Option<i64>) {
    let annotation = |key: &str| pods.values().find_map(|p| p.annotations().get(key).cloned());
    (
        annotation(TASK_DEFINITION_ANNOTATION),
        annotation(STARTED_GENERATION_ANNOTATION).and_then(|g| g.parse().ok()),
    )
}

/// How many task slots a Task has: its request's `count` (for the generation that started
/// them), and at least every task its status records.
#[must_use]
pub fn slots(task: &Task) -> u32 {
    let recorded = task
        .status
        .as_ref()
        .map(|s| {
            s.tasks
                .iter()
                .filter_map(|t| {
                    t.task_arn
                        .rsplit_once('-')
                        .and_then(|(_, i)| i.parse::<u32>().ok())
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    if spec_changed(task) {
        return recorded;
    }
    request::count(&task.spec.run_task).max(recorded)
}

/// The tasks still to start: those without a pod or a record (see the module docs).
#[must_use]
pub fn to_start(task: &Task, pods: &BTreeMap<u32, Arc<Pod>>) -> Vec<u32> {
    let started_earlier = started_by_pods(pods)
        .1
        .is_some_and(|g| Some(g) != task.metadata.generation);
    if user_stop(task).is_some() || spec_changed(task) || started_earlier {
        return Vec::new();
    }
    let name = task.name_any();
    (1..=request::count(&task.spec.run_task))
        .filter(|i| !pods.contains_key(i) && recorded(task, &pod_name(&name, *i)).is_none())
        .collect()
}

fn time_of(t: Timestamp) -> Time {
    Time(t)
}

/// Decides one reconcile of `task` from its tasks' `pods` (by index, as load read them), at
/// `now`, keeping stopped tasks' pods for `retention`.
#[must_use]
pub fn decide(task: &Task, pods: &BTreeMap<u32, Arc<Pod>>, now: Timestamp, retention: Duration) -> Plan {
    let name = task.name_any();
    let started = started_by_pods(pods);
    let changed_since_pods = started.1.is_some_and(|g| Some(g) != task.metadata.generation);
    let mut plan = Plan {
        start: to_start(task, pods),
        spec_changed: spec_changed(task) || changed_since_pods,
        started,
        ..Plan::default()
    };
    let retention = SignedDuration::try_from(retention).unwrap_or(SignedDuration::from_hours(1));
    let next = |at: Timestamp, plan: &mut Plan| {
        plan.next_check = Some(plan.next_check.map_or(at, |n| n.min(at)));
    };
    for index in 1..=slots(task) {
        let pod_name = pod_name(&name, index);
        if plan.start.contains(&index) {
            plan.tasks.push(TaskInstance {
                task_arn: pod_name,
                last_status: words::PROVISIONING.to_owned(),
                desired_status: Some(words::RUNNING.to_owned()),
                created_at: Some(time_of(now)),
                ..TaskInstance::default()
            });
            continue;
        }
        let Some(pod) = pods.get(&index) else {
            // Gone: what the status knew, stopped.
            if let Some(t) = recorded(task, &pod_name) {
                plan.tasks.push(gone(t, now));
            }
            continue;
        };
        let mut instance = lifecycle::task_instance(pod);
        if let Some(t) = recorded(task, &pod_name) {
            keep_start_failures(&mut instance, t);
        }
        if let Some(failure) = lifecycle::placement_failure(pod) {
            plan.failures.push(failure);
        }
        match essential::verdict(pod, user_stop(task), now) {
            Verdict::Run => {}
            Verdict::RecheckAt(at) => next(at, &mut plan),
            Verdict::Stop(stop) => {
                instance.desired_status = Some(words::STOPPED.to_owned());
                instance.stop_code = Some(stop.code.to_owned());
                instance.stopped_reason = Some(stop.reason.clone());
                instance.stopping_at = Some(time_of(now));
                if pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                    instance.last_status = words::STOPPING.to_owned();
                    plan.stops.push(PodStop {
                        pod: pod.clone(),
                        stop,
                    });
                } else {
                    instance.last_status = words::STOPPED.to_owned();
                    instance.stopped_at = Some(time_of(now));
                    plan.failures.retain(|f| f.arn != pod_name);
                    plan.deletes.push(pod.clone());
                }
            }
        }
        if instance.last_status == words::STOPPED
            && let Some(stopped) = instance.stopped_at.as_ref().map(|t| t.0)
            && !plan.deletes.iter().any(|p| p.name_any() == pod_name)
        {
            let expires = stopped.checked_add(retention).unwrap_or(stopped);
            if expires <= now {
                plan.deletes.push(pod.clone());
            } else {
                next(expires, &mut plan);
            }
        }
        plan.tasks.push(instance);
    }
    plan
}

/// A task whose pod is gone, as the status last knew it, stopped.
fn gone(t: &TaskInstance, now: Timestamp) -> TaskInstance {
    let mut t = t.clone();
    if t.last_status != words::STOPPED {
        t.last_status = words::STOPPED.to_owned();
        t.desired_status = Some(words::STOPPED.to_owned());
        t.stopped_at = Some(time_of(now));
        if t.stop_code.is_none() {
            t.stop_code = Some(words::USER_INITIATED.to_owned());
            t.stopped_reason = Some("Task stopped: its pod was deleted".to_owned());
        }
        for c in &mut t.containers {
            if c.last_status != words::STOPPED {
                c.last_status = words::STOPPED.to_owned();
            }
        }
    }
    t
}

/// Keeps in `instance` the reasons `recorded` gave containers that never ran (a failed pull, a
/// missing secret): once the task is stopped, the kubelet no longer says why they never started.
fn keep_start_failures(instance: &mut TaskInstance, recorded: &TaskInstance) {
    for c in &mut instance.containers {
        if c.reason.is_none()
            && c.exit_code.is_none()
            && let Some(r) = recorded
                .containers
                .iter()
                .find(|r| r.name == c.name && r.exit_code.is_none())
        {
            c.reason.clone_from(&r.reason);
        }
    }
}
