//! Status (compute pure, then write when it changed): the tasks as `describe-tasks` shows
//! them, the roll-up ([`outcome`]), RunTask's `failures[]`, and the conditions Argo CD's health
//! check reads:
//!
//! | tasks | Progressing | Ready | Degraded |
//! |---|---|---|---|
//! | some not stopped | True, TasksRunning | False, TasksPending | — |
//! | all stopped, each succeeded | False, TasksStopped | True, TasksSucceeded | — |
//! | all stopped, one failed | False, TasksStopped | False, TaskFailed | True, TaskFailed (naming the task and container) |
//! | the spec changed after the start | (as above) | (as above) | True, SpecChangedAfterStart |
//! | refused | — | False, the reason | True, the reason (unless waiting for a TaskDefinition) |
//!
//! `Translated` is computed when the tasks start (the translation is not repeated at rest).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};

use super::{FIELD_MANAGER, apply::Applied, decide::Plan, validate::Invalid};
use crate::{
    api::{
        Task, TaskFailure, TaskStatus,
        condition::{self, DEGRADED, PROGRESSING, READY},
    },
    controller::{
        Context, Error,
        status::{MAX_MESSAGE_LEN, cut, same_status, status_patch, translated_condition},
    },
    translate::task::{TaskObjects, lifecycle::words, outcome::outcome},
};

/// Progressing=True: tasks are not all stopped.
pub const REASON_TASKS_RUNNING: &str = "TasksRunning";
/// Progressing=False: every task stopped.
pub const REASON_TASKS_STOPPED: &str = "TasksStopped";
/// Ready=False while tasks run (a waiting reason).
pub const REASON_TASKS_PENDING: &str = "TasksPending";
/// Ready=True: every task succeeded.
pub const REASON_TASKS_SUCCEEDED: &str = "TasksSucceeded";
/// Ready=False, Degraded=True: a task failed.
pub const REASON_TASK_FAILED: &str = "TaskFailed";
/// Degraded=True: the spec changed after the tasks started.
pub const REASON_SPEC_CHANGED: &str = "SpecChangedAfterStart";

/// The status of `task` after `plan`, with what `applied` reported and the translation
/// `objects` (when tasks started in this reconcile), at `now`.
#[must_use]
pub fn compute(
    task: &Task,
    plan: &Plan,
    applied: &Applied,
    objects: Option<&TaskObjects>,
    now: &Time,
) -> TaskStatus {
    let current = task.status.clone().unwrap_or_default();
    let generation = task.metadata.generation;
    // (A task whose pod name is another's is not started yet: not recorded.)
    let mut tasks: Vec<_> = plan
        .tasks
        .iter()
        .filter(|t| !applied.taken.contains(&t.task_arn))
        .cloned()
        .collect();
    let mut failures: Vec<TaskFailure> = plan.failures.clone();
    for r in &applied.refused {
        if let Some(t) = tasks.iter_mut().find(|t| t.task_arn == r.pod) {
            t.last_status = words::STOPPED.to_owned();
            t.desired_status = Some(words::STOPPED.to_owned());
            t.stop_code = Some(words::TASK_FAILED_TO_START.to_owned());
            t.stopped_reason = Some(format!(
                "The cluster refused the task's pod ({}): {}",
                r.reason, r.message
            ));
            t.stopped_at = Some(now.clone());
        }
        failures.push(TaskFailure {
            arn: r.pod.clone(),
            reason: r.reason.clone(),
            detail: Some(r.message.clone()),
        });
    }
    let rolled = outcome(&tasks);
    let mut status = TaskStatus {
        observed_generation: generation,
        conditions: current.conditions.clone(),
        task_definition: objects
            .map(|o| o.task_definition.clone())
            .or_else(|| plan.started.0.clone())
            .or(current.task_definition),
        started_generation: if plan.start.iter().all(|i| {
            applied
                .taken
                .iter()
                .any(|p| p.rsplit_once('-').is_some_and(|(_, n)| n == i.to_string()))
        }) {
            current.started_generation.or(plan.started.1)
        } else {
            generation
        },
        last_status: rolled.last_status.clone(),
        stop_code: rolled.stop_code.clone(),
        tasks,
        failures,
        ..TaskStatus::default()
    };
    let n = status.tasks.len();
    let stopped_by_user_before_start = n == 0 && crate::controller::task::decide::user_stop(task).is_some();
    let set = |conds: &mut Vec<_>, type_: &str, ok: bool, reason: &str, message: String| {
        condition::set(
            conds,
            condition::new(type_, ok, reason, message, generation, now.clone()),
        );
    };
    let conds = &mut status.conditions;
    if rolled.done || stopped_by_user_before_start {
        set(
            conds,
            PROGRESSING,
            false,
            REASON_TASKS_STOPPED,
            stopped_message(n),
        );
        match (&rolled.failure, stopped_by_user_before_start) {
            (None, false) => {
                set(conds, READY, true, REASON_TASKS_SUCCEEDED, succeeded_message(n));
                conds.retain(|c| c.type_ != DEGRADED);
            }
            (failure, _) => {
                let message = failure.clone().unwrap_or_else(|| {
                    "The Task was stopped (ecsbridge.io/stop-task) before its tasks started.".to_owned()
                });
                set(conds, READY, false, REASON_TASK_FAILED, message.clone());
                set(conds, DEGRADED, true, REASON_TASK_FAILED, message);
            }
        }
    } else {
        let mut summary = summary(&status.tasks, &status.failures);
        if let Some(pod) = applied.taken.first() {
            summary.push_str(&format!(
                " Waiting for pod {pod}, another object's (a Task of the same name deleted before?), to go."
            ));
        }
        set(conds, PROGRESSING, true, REASON_TASKS_RUNNING, summary.clone());
        set(conds, READY, false, REASON_TASKS_PENDING, summary);
        conds.retain(|c| c.type_ != DEGRADED);
    }
    if plan.spec_changed {
        set(
            conds,
            DEGRADED,
            true,
            REASON_SPEC_CHANGED,
            format!(
                "The spec changed after the tasks started (generation {}): a Task is a RunTask request and runs \
                 once, so the change starts nothing; make a new Task (or delete and re-create this one) to run again",
                status.started_generation.unwrap_or_default()
            ),
        );
    }
    if let Some(o) = objects {
        let notes: Vec<String> = o
            .report
            .notes
            .iter()
            .map(ToString::to_string)
            .chain(
                o.task_definition_report
                    .notes
                    .iter()
                    .map(|n| format!("TaskDefinition {}: {n}", o.task_definition)),
            )
            .collect();
        let translated = translated_condition(&notes, generation, now.clone());
        condition::set(&mut status.conditions, translated);
    }
    let (health, reason) = condition::health(&status.conditions);
    status.health = Some(health.to_owned());
    status.health_reason = Some(reason);
    status
}

fn stopped_message(n: usize) -> String {
    if n == 1 {
        "The task stopped.".to_owned()
    } else {
        format!("All {n} tasks stopped.")
    }
}

fn succeeded_message(n: usize) -> String {
    if n == 1 {
        "The task stopped successfully.".to_owned()
    } else {
        format!("All {n} tasks stopped successfully.")
    }
}

/// How many tasks are in each state (`1 RUNNING, 1 PROVISIONING`), with the first placement
/// failure.
fn summary(tasks: &[crate::api::TaskInstance], failures: &[TaskFailure]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for t in tasks {
        match counts.iter_mut().find(|(s, _)| *s == t.last_status) {
            Some((_, n)) => *n += 1,
            None => counts.push((&t.last_status, 1)),
        }
    }
    let mut message = if counts.is_empty() {
        "Starting the tasks.".to_owned()
    } else {
        let list: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        format!("Tasks: {}.", list.join(", "))
    };
    if let Some(f) = failures.first() {
        let detail = f.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
        message.push_str(&format!(
            " Task {} cannot be placed yet: {}{detail}.",
            f.arn, f.reason
        ));
    }
    cut(&message, MAX_MESSAGE_LEN)
}

/// The status of `task` refused for `invalid`, at `now`.
#[must_use]
pub fn invalid(task: &Task, invalid: &Invalid, now: &Time) -> TaskStatus {
    let mut status = task.status.clone().unwrap_or_default();
    let generation = task.metadata.generation;
    status.observed_generation = generation;
    condition::set(
        &mut status.conditions,
        condition::new(
            READY,
            false,
            invalid.reason,
            invalid.message.clone(),
            generation,
            now.clone(),
        ),
    );
    if condition::WAITING_REASONS.contains(&invalid.reason) {
        status.conditions.retain(|c| c.type_ != DEGRADED);
    } else {
        condition::set(
            &mut status.conditions,
            condition::new(
                DEGRADED,
                true,
                invalid.reason,
                invalid.message.clone(),
                generation,
                now.clone(),
            ),
        );
    }
    let (health, reason) = condition::health(&status.conditions);
    status.health = Some(health.to_owned());
    status.health_reason = Some(reason);
    status
}

/// Writes `desired` as `task`'s status unless it says what the current one says.
///
/// # Errors
/// [`Error::Kube`] when the API server refuses or cannot be reached.
pub async fn write(ctx: &Context, task: &Task, namespace: &str, desired: &TaskStatus) -> Result<(), Error> {
    if same_status(task.status.as_ref(), desired) {
        return Ok(());
    }
    let api: Api<Task> = Api::namespaced(ctx.client.clone(), namespace);
    api.patch_status(
        &task.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(status_patch::<Task>(desired)),
    )
    .await?;
    if let Some(uid) = task.metadata.uid.as_deref() {
        // (Remembered while tasks run: a Task that is done starts nothing, and is forgotten.)
        if desired.last_status.as_deref() == Some(words::STOPPED) {
            ctx.task_statuses.forget(uid);
        } else {
            ctx.task_statuses.remember(uid, desired);
        }
    }
    tracing::info!(last_status = desired.last_status.as_deref(), "status updated");
    Ok(())
}

/// The statuses this process last wrote, by Task uid: a Task read from the cache before its
/// status write arrived is read with that status instead, so that a task just started (or
/// refused) is not started again and no field is lost. Kept while the Task's tasks run; forgotten
/// once they all stopped, or the Task goes.
#[derive(Debug, Default)]
pub struct Written(std::sync::Mutex<std::collections::HashMap<String, TaskStatus>>);

impl Written {
    /// `task`, with the status this process wrote last when its own is older (it lacks a task
    /// or the start that one records).
    #[must_use]
    pub fn fresher(&self, task: &Task) -> Option<Task> {
        let uid = task.metadata.uid.as_deref()?;
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = map.get(uid)?;
        let current = task.status.clone().unwrap_or_default();
        let stale = (written.started_generation.is_some() && current.started_generation.is_none())
            || written
                .tasks
                .iter()
                .any(|w| !current.tasks.iter().any(|t| t.task_arn == w.task_arn));
        stale.then(|| Task {
            status: Some(written.clone()),
            ..task.clone()
        })
    }

    /// Remembers `status` as written for the Task with `uid`.
    pub fn remember(&self, uid: &str, status: &TaskStatus) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(uid.to_owned(), status.clone());
    }

    /// Forgets the Task with `uid`.
    pub fn forget(&self, uid: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(uid);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_task_read_before_its_status_write_is_read_with_it() {
        let mut task: Task = serde_json::from_value(json!({
            "apiVersion": "ecsbridge.io/v1alpha1", "kind": "Task",
            "metadata": {"name": "nightly", "uid": "u1", "generation": 1},
            "spec": {"taskDefinition": "report"},
        }))
        .expect("a Task");
        let written = Written::default();
        assert!(written.fresher(&task).is_none(), "nothing written yet");
        let status: TaskStatus = serde_json::from_value(json!({
            "startedGeneration": 1, "tasks": [{"taskArn": "nightly-1", "lastStatus": "PROVISIONING"}]}))
        .expect("a status");
        written.remember("u1", &status);
        let fresher = written.fresher(&task).expect("the cached Task is older");
        assert_eq!(
            fresher.status.as_ref().and_then(|s| s.started_generation),
            Some(1)
        );
        // Once the cache has caught up, the Task is read as it is.
        task.status = Some(status);
        assert!(written.fresher(&task).is_none());
        written.forget("u1");
        task.status = None;
        assert!(written.fresher(&task).is_none());
    }
}
