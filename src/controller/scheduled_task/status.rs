//! Status (compute pure, then write when it changed): the rule's state, what fires it, the last
//! and next instants, the recent firings' Tasks and how they ended, and the conditions Argo CD's
//! health check reads:
//!
//! | rule | Ready | Degraded |
//! |---|---|---|
//! | ENABLED, the latest finished firing succeeded (or none finished) | True, Scheduled | — |
//! | DISABLED | True, RuleDisabled (`health`: Suspended, as Argo CD says) | — |
//! | the latest finished firing failed | True, Scheduled | True, TaskFailed (naming the Task, its task and container) |
//! | refused | False, the reason | True, the reason |
//! | a CronJob of its name is another's | False, CronJobConflict | True, CronJobConflict |
//!
//! `Translated` says which of the rule's fields have no equivalent (a target's `RoleArn`,
//! `DeadLetterConfig`, `RetryPolicy`, Scheduler's `ReferenceId`; the rule's `RoleArn`,
//! `EventBusName`, Scheduler's `ActionAfterCompletion: DELETE` and `KmsKeyArn`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};

use super::{
    FIELD_MANAGER,
    apply::Applied,
    decide::{Plan, scheduled_time},
    load::Loaded,
    validate::{Invalid, Validated},
};
use crate::{
    api::{
        ScheduledRun, ScheduledTask, ScheduledTaskStatus, Task,
        condition::{self, DEGRADED, HEALTH_DEGRADED, HEALTHY, READY},
    },
    controller::{
        Context, Error,
        status::{same_status, status_patch, translated_condition},
    },
    translate::scheduled_task::{Firing, firings::HISTORY},
};

/// Ready=True: the rule is enabled and fires.
pub const REASON_SCHEDULED: &str = "Scheduled";
/// Ready=True: the rule is DISABLED.
pub const REASON_RULE_DISABLED: &str = "RuleDisabled";
/// Ready=False, Degraded=True: a CronJob of the ScheduledTask's name is another's.
pub const REASON_CRONJOB_CONFLICT: &str = "CronJobConflict";
/// Degraded=True: the latest finished firing failed.
pub const REASON_TASK_FAILED: &str = "TaskFailed";
/// `health` of a DISABLED rule (Argo CD's Suspended).
pub const HEALTH_SUSPENDED: &str = "Suspended";
/// `outcome` of a firing's Task still running.
pub const RUNNING: &str = "Running";
/// `outcome` of a firing's Task that succeeded.
pub const SUCCEEDED: &str = "Succeeded";
/// `outcome` of a firing's Task that failed (or was refused).
pub const FAILED: &str = "Failed";

/// A firing's Task as the ScheduledTask's status shows it.
#[must_use]
pub fn run_of(task: &Task) -> ScheduledRun {
    let status = task.status.clone().unwrap_or_default();
    let outcome = match status.health.as_deref() {
        Some(h) if h == HEALTHY => SUCCEEDED,
        Some(h) if h == HEALTH_DEGRADED => FAILED,
        _ => RUNNING,
    };
    let message = (outcome == FAILED)
        .then(|| {
            condition::find(&status.conditions, DEGRADED)
                .or_else(|| condition::find(&status.conditions, READY))
                .map(|c| c.message.clone())
        })
        .flatten();
    ScheduledRun {
        name: task.name_any(),
        scheduled_time: scheduled_time(task).map(Time),
        last_status: status.last_status,
        stop_code: status.stop_code,
        outcome: outcome.to_owned(),
        message,
    }
}

/// The status of `st` after `plan`, with what was `loaded` and `applied`, at `now`.
#[must_use]
pub fn compute(
    st: &ScheduledTask,
    v: &Validated,
    plan: &Plan,
    loaded: &Loaded,
    applied: &Applied,
    now: &Time,
) -> ScheduledTaskStatus {
    let current = st.status.clone().unwrap_or_default();
    let generation = st.metadata.generation;
    let mut runs: Vec<ScheduledRun> = loaded.tasks.iter().map(|t| run_of(t)).collect();
    // (Created now, not in the cache yet.)
    let fired: Vec<ScheduledRun> = plan
        .fire
        .iter()
        .flat_map(|f| {
            let names: Vec<String> = (0..v.runs.len())
                .map(|i| crate::translate::scheduled_task::firings::task_name(&f.name, i, v.runs.len()))
                .collect();
            names.into_iter().map(move |name| (name, f.scheduled))
        })
        .filter(|(name, _)| !runs.iter().any(|r| r.name == *name))
        .map(|(name, t)| {
            let refused = applied.refused.iter().find(|(n, _)| *n == name);
            ScheduledRun {
                name,
                scheduled_time: Some(Time(t)),
                outcome: if refused.is_some() { FAILED } else { RUNNING }.to_owned(),
                message: refused.map(|(_, m)| format!("The cluster refused the Task: {m}")),
                ..ScheduledRun::default()
            }
        })
        .collect();
    runs.extend(fired);
    runs.retain(|r| !plan.prune.iter().any(|t| t.name_any() == r.name));
    runs.sort_by(|a, b| {
        b.scheduled_time
            .as_ref()
            .map(|t| t.0)
            .cmp(&a.scheduled_time.as_ref().map(|t| t.0))
            .then_with(|| a.name.cmp(&b.name))
    });
    runs.truncate(HISTORY * v.runs.len().max(1));
    let mut status = ScheduledTaskStatus {
        observed_generation: generation,
        conditions: current.conditions.clone(),
        last_schedule_time: plan.last_schedule_time.map(Time),
        next_schedule_time: plan.next_schedule_time.map(Time),
        state: Some(if plan.enabled { "ENABLED" } else { "DISABLED" }.to_owned()),
        fired_by: Some(
            match v.firing {
                Firing::CronJob { .. } => "CronJob",
                Firing::Operator { .. } => "Operator",
            }
            .to_owned(),
        ),
        observed_schedule: Some(plan.observed_schedule.clone()),
        fires_after: plan.fires_after.map(Time),
        recent_tasks: runs,
        ..ScheduledTaskStatus::default()
    };
    let set = |conds: &mut Vec<_>, type_: &str, ok: bool, reason: &str, message: String| {
        condition::set(
            conds,
            condition::new(type_, ok, reason, message, generation, now.clone()),
        );
    };
    let expression = st.spec.rule.schedule_expression.as_deref().unwrap_or("").trim();
    let how = match &v.firing {
        Firing::CronJob { schedule, time_zone } => format!(
            "CronJob {} fires it (\"{schedule}\" in {}); each firing runs as a Task",
            st.name_any(),
            time_zone.as_deref().unwrap_or("UTC")
        ),
        Firing::Operator { why } => {
            format!("the operator fires it at each instant ({why}); each firing runs as a Task")
        }
    };
    let conds = &mut status.conditions;
    if let Some(conflict) = &applied.cron_job_conflict {
        let message = format!(
            "CronJob {} exists and is not this ScheduledTask's ({conflict}): rename one of them",
            st.name_any()
        );
        set(conds, READY, false, REASON_CRONJOB_CONFLICT, message.clone());
        set(conds, DEGRADED, true, REASON_CRONJOB_CONFLICT, message);
    } else if plan.enabled {
        set(
            conds,
            READY,
            true,
            REASON_SCHEDULED,
            format!("{expression}: {how}."),
        );
    } else {
        set(
            conds,
            READY,
            true,
            REASON_RULE_DISABLED,
            format!("{expression}: the rule is DISABLED, so the schedule starts no task."),
        );
    }
    let latest_finished = status.recent_tasks.iter().find(|r| r.outcome != RUNNING);
    match latest_finished {
        _ if applied.cron_job_conflict.is_some() => {}
        Some(r) if r.outcome == FAILED => set(
            conds,
            DEGRADED,
            true,
            REASON_TASK_FAILED,
            format!(
                "The latest finished firing failed: Task {}: {}",
                r.name,
                r.message.as_deref().unwrap_or("failed")
            ),
        ),
        _ => conds.retain(|c| c.type_ != DEGRADED),
    }
    let notes: Vec<String> = v.report.notes.iter().map(ToString::to_string).collect();
    let translated = translated_condition(&notes, generation, now.clone());
    condition::set(&mut status.conditions, translated);
    let (health, reason) = condition::health(&status.conditions);
    // (As the chart's Argo CD health check says it: a DISABLED rule is Suspended.)
    let health = if !plan.enabled && health != HEALTH_DEGRADED {
        HEALTH_SUSPENDED
    } else {
        health
    };
    status.health = Some(health.to_owned());
    status.health_reason = Some(reason);
    status
}

/// The status of `st` refused for `invalid`, at `now`.
#[must_use]
pub fn invalid(st: &ScheduledTask, invalid: &Invalid, now: &Time) -> ScheduledTaskStatus {
    let mut status = st.status.clone().unwrap_or_default();
    let generation = st.metadata.generation;
    status.observed_generation = generation;
    status.next_schedule_time = None;
    for type_ in [READY, DEGRADED] {
        condition::set(
            &mut status.conditions,
            condition::new(
                type_,
                type_ == DEGRADED,
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

/// Writes `desired` as `st`'s status unless it says what the current one says.
///
/// # Errors
/// [`Error::Kube`] when the API server refuses or cannot be reached.
pub async fn write(
    ctx: &Context,
    st: &ScheduledTask,
    namespace: &str,
    desired: &ScheduledTaskStatus,
) -> Result<(), Error> {
    if same_status(st.status.as_ref(), desired) {
        return Ok(());
    }
    Api::<ScheduledTask>::namespaced(ctx.client.clone(), namespace)
        .patch_status(
            &st.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(status_patch::<ScheduledTask>(desired)),
        )
        .await?;
    Ok(())
}
