//! A Task's tasks → its roll-up and its outcome (pure), by the rules of the chart's Argo CD
//! health check for Task (`charts/ecs-bridge/argocd/health/Task.lua`), which
//! `tests/argocd_health.rs` holds to the same answers.
//!
//! A standalone task is a job. ECS has no success field; by the convention ECS users rely on
//! (ecs-reference §6.4) a task **succeeded** when it stopped because its essential containers
//! exited (`EssentialContainerExited`) and every essential container exited with code 0. A
//! non-essential container's exit code is informational (a log router stopped with the task
//! exits 143). Any other stop code (TaskFailedToStart, UserInitiated, SpotInterruption, ...) is
//! a failure.

use crate::api::TaskInstance;

use super::lifecycle::words::{
    ESSENTIAL_CONTAINER_EXITED, PENDING, PROVISIONING, RUNNING, STOPPED, STOPPING,
};

/// What a Task's tasks add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The least advanced `lastStatus` of the tasks not stopped, else STOPPED; `None` without
    /// tasks.
    pub last_status: Option<String>,
    /// Once every task stopped: the first failed task's stop code, else EssentialContainerExited.
    pub stop_code: Option<String>,
    /// Once every task stopped, why the Task failed (naming the task and the container), or
    /// `None` when every task succeeded.
    pub failure: Option<String>,
    /// Whether every task has stopped.
    pub done: bool,
}

fn rank(status: &str) -> u8 {
    match status {
        PROVISIONING => 0,
        PENDING => 1,
        RUNNING => 2,
        STOPPING => 3,
        STOPPED => 5,
        _ => 4,
    }
}

/// Why `task` failed, or `None` when it succeeded (see the module docs). Only meaningful for a
/// stopped task.
#[must_use]
pub fn task_failure(task: &TaskInstance) -> Option<String> {
    let name = &task.task_arn;
    if let Some(code) = task
        .stop_code
        .as_deref()
        .filter(|c| *c != ESSENTIAL_CONTAINER_EXITED)
    {
        let reason = task
            .stopped_reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        return Some(format!("Task {name} stopped: {code}{reason}."));
    }
    task.containers
        .iter()
        .filter(|c| c.essential != Some(false))
        .find(|c| c.exit_code.is_some_and(|e| e != 0))
        .map(|c| {
            let reason = c.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            format!(
                "Task {name}: essential container {} exited with code {}{reason}.",
                c.name,
                c.exit_code.unwrap_or_default()
            )
        })
}

/// The roll-up of `tasks` (see [`Outcome`]).
#[must_use]
pub fn outcome(tasks: &[TaskInstance]) -> Outcome {
    let last_status = tasks
        .iter()
        .map(|t| t.last_status.as_str())
        .min_by_key(|s| rank(s))
        .map(str::to_owned);
    let done = !tasks.is_empty() && tasks.iter().all(|t| t.last_status == STOPPED);
    if !done {
        return Outcome {
            last_status,
            stop_code: None,
            failure: None,
            done,
        };
    }
    let failed = tasks.iter().find_map(|t| task_failure(t).map(|f| (t, f)));
    Outcome {
        last_status,
        stop_code: Some(
            failed
                .as_ref()
                .and_then(|(t, _)| t.stop_code.clone())
                .unwrap_or_else(|| ESSENTIAL_CONTAINER_EXITED.to_owned()),
        ),
        failure: failed.map(|(_, f)| f),
        done,
    }
}
