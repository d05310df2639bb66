//! Decide (pure; the clock comes in as `now`): which firings to turn into Tasks, which tokens
//! and old Tasks go, what the CronJob is, and when the schedule fires next.
//!
//! - **Which instants count.** Those after `firesAfter`: the rule's creation (at most
//!   [`FIRST_SIGHT`] before the controller first saw it), or the moment its schedule, time zone,
//!   state or bounds last changed (an instant passed while a rule was DISABLED, or before it
//!   said this schedule, never fires — as in EventBridge, which skips them).
//! - **Fired by the operator**: the latest due instant after both `firesAfter` and the last
//!   firing (the shared parser's [`last_in_window`]). After an outage (a restart, a leader change) several may be due: the
//!   latest fires **once**, the others are skipped, as a CronJob does without a starting
//!   deadline. The firing's Task names come from the instant, so a firing repeated (a crash
//!   before the status write, a stale read) creates nothing twice.
//! - **Fired by the CronJob**: a token (a Job the CronJob made) becomes the firing's Tasks,
//!   named after it, and is deleted; several waiting (made while the operator was down) fire
//!   once, the latest; a token scheduled before `firesAfter` (made as the rule was being
//!   disabled) is deleted without firing.
//! - **The last firing** is the latest of the status's, this reconcile's and its Tasks' (a
//!   ScheduledTask read before its last status write arrived still tells it).
//! - **Scheduler's bounds**: no instant before `StartDate` or after `EndDate` fires (such a
//!   rule is always fired by the operator).
//! - **History**: the Tasks of the [`HISTORY`] latest firings stay; older ones go once stopped
//!   (a Task still running is never cut short).

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::ResourceExt;

use super::{load::Loaded, validate::Validated};
use crate::{
    api::{ScheduledTask, Task, condition::HEALTH_PROGRESSING},
    translate::schedule::{last_in_window, next_in_window},
    translate::scheduled_task::{
        Firing,
        firings::{
            CRONJOB_SCHEDULED_TIMESTAMP, HISTORY, SCHEDULED_TIME_ANNOTATION, cron_job, cron_of, firing_name,
            task_name,
        },
        rule::enabled,
    },
};

/// One firing to turn into Tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    /// Its name (the Tasks are named after it).
    pub name: String,
    /// The instant it was scheduled for.
    pub scheduled: Timestamp,
}

/// Every decision of one reconcile of a ScheduledTask.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Firings to turn into Tasks (those whose Tasks do not all exist yet).
    pub fire: Vec<Fire>,
    /// CronJob tokens to delete (turned into Tasks, or not to fire).
    pub tokens_done: Vec<Arc<Job>>,
    /// Tasks of firings past the history, stopped.
    pub prune: Vec<Arc<Task>>,
    /// The CronJob to apply, when a CronJob fires the rule.
    pub cron_job: Option<CronJob>,
    /// The CronJob to delete (the rule is now fired by the operator).
    pub delete_cron_job: Option<Arc<CronJob>>,
    /// Whether the rule is ENABLED.
    pub enabled: bool,
    /// The schedule as observed now (see [`observed_schedule`]).
    pub observed_schedule: String,
    /// Instants at or before it do not fire.
    pub fires_after: Option<Timestamp>,
    /// The last firing, this one's included.
    pub last_schedule_time: Option<Timestamp>,
    /// The next instant, while enabled.
    pub next_schedule_time: Option<Timestamp>,
    /// When to look again (the operator fires at the next instant).
    pub next_check: Option<Timestamp>,
}

/// How far back an instant that passed before the controller first saw a rule may be and
/// still fire (a rule made while the operator was down fires its missed instant; one applied
/// long before this controller existed does not fire its past).
pub const FIRST_SIGHT: jiff::SignedDuration = jiff::SignedDuration::from_secs(15 * 60);

/// The schedule, time zone, state and bounds as one string: when it changes, instants count
/// anew.
#[must_use]
pub fn observed_schedule(st: &ScheduledTask) -> String {
    let rule = &st.spec.rule;
    let mut s = format!(
        "{} in {}, {}",
        rule.schedule_expression.as_deref().unwrap_or("").trim(),
        st.spec.schedule_expression_timezone.as_deref().unwrap_or("UTC"),
        if enabled(&st.spec) { "ENABLED" } else { "DISABLED" }
    );
    for (word, date) in [("from", &st.spec.start_date), ("until", &st.spec.end_date)] {
        if let Some(d) = date {
            s.push_str(&format!(", {word} {d}"));
        }
    }
    s
}

/// The instant a token (Job) of the CronJob was scheduled for: the CronJob controller's
/// annotation, else the minutes its name ends with.
#[must_use]
pub fn token_time(job: &Job) -> Option<Timestamp> {
    job.annotations()
        .get(CRONJOB_SCHEDULED_TIMESTAMP)
        .and_then(|t| t.parse().ok())
        .or_else(|| {
            job.name_any()
                .rsplit_once('-')
                .and_then(|(_, m)| m.parse::<i64>().ok())
                .and_then(|m| Timestamp::from_second(m.saturating_mul(60)).ok())
        })
}

/// The instant a firing's Task was scheduled for (its annotation).
#[must_use]
pub fn scheduled_time(task: &Task) -> Option<Timestamp> {
    task.annotations()
        .get(SCHEDULED_TIME_ANNOTATION)
        .and_then(|t| t.parse().ok())
}

fn time(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<Timestamp> {
    t.map(|t| t.0)
}

/// The plan for `st`, validated as `v`, with what was `loaded`, at `now`.
#[must_use]
pub fn decide(st: &ScheduledTask, v: &Validated, loaded: &Loaded, now: Timestamp) -> Plan {
    let status = st.status.clone().unwrap_or_default();
    let created = time(st.metadata.creation_timestamp.as_ref()).unwrap_or(now);
    let observed = observed_schedule(st);
    let fires_after = match &status.observed_schedule {
        Some(o) if *o == observed => time(status.fires_after.as_ref()).unwrap_or(created),
        Some(_) => now,
        // First seen: from its creation, but no further back than FIRST_SIGHT (a rule applied
        // before this controller ran, days ago, does not fire what it never fired then).
        None => created.max(now - FIRST_SIGHT),
    };
    let enabled = enabled(&st.spec);
    let name = st.name_any();
    let targets = v.runs.len();
    let all_exist = |firing: &str| {
        (0..targets).all(|i| {
            let wanted = task_name(firing, i, targets);
            loaded.tasks.iter().any(|t| t.name_any() == wanted)
        })
    };
    let last = time(status.last_schedule_time.as_ref());
    let mut plan = Plan {
        enabled,
        observed_schedule: observed,
        fires_after: Some(fires_after),
        last_schedule_time: last,
        ..Plan::default()
    };
    let mut fired = Vec::new();
    match cron_of(&v.firing) {
        None => {
            plan.delete_cron_job.clone_from(&loaded.cron_job);
            let after = last.map_or(fires_after, |l| l.max(fires_after));
            // (Scheduler's StartDate and EndDate bound it; a rate counts from the StartDate.)
            if enabled && let Some(t) = last_in_window(&v.schedule, (after, now), &v.tz, v.bounds, created) {
                fired.push(Fire {
                    name: firing_name(&name, t),
                    scheduled: t,
                });
            }
        }
        Some((schedule, time_zone)) => {
            plan.cron_job = Some(cron_job(st, schedule, time_zone, !enabled));
            // Several tokens waiting (made while the operator was down, or while the rule was
            // refused) fire once: the latest, as the operator fires the latest missed instant.
            let latest = loaded
                .jobs
                .iter()
                .map(|job| (token_time(job).unwrap_or(now), job))
                .filter(|(scheduled, _)| enabled && *scheduled > fires_after)
                .max_by_key(|(scheduled, job)| (*scheduled, job.name_any()));
            if let Some((scheduled, job)) = latest {
                fired.push(Fire {
                    name: job.name_any(),
                    scheduled,
                });
            }
            plan.tokens_done.extend(loaded.jobs.iter().cloned());
        }
    }
    // The last firing: the status's, this reconcile's, or its Tasks' (a status read before the
    // last write arrived may lack it; the Tasks tell it).
    let instants = fired
        .iter()
        .map(|f| f.scheduled)
        .chain(loaded.tasks.iter().filter_map(|t| scheduled_time(t)));
    for t in instants {
        plan.last_schedule_time = Some(plan.last_schedule_time.map_or(t, |l| l.max(t)));
    }
    plan.fire = fired.into_iter().filter(|f| !all_exist(&f.name)).collect();
    if enabled {
        let from = plan
            .last_schedule_time
            .map_or(now, |l| l.max(now))
            .max(fires_after);
        plan.next_schedule_time = next_in_window(&v.schedule, from, &v.tz, v.bounds, created);
    }
    if matches!(v.firing, Firing::Operator { .. }) {
        plan.next_check = plan.next_schedule_time;
    }
    plan.prune = past_history(&loaded.tasks);
    plan
}

/// The stopped Tasks of firings older than the [`HISTORY`] latest.
#[must_use]
pub fn past_history(tasks: &[Arc<Task>]) -> Vec<Arc<Task>> {
    let mut times: Vec<Timestamp> = tasks.iter().filter_map(|t| scheduled_time(t)).collect();
    times.sort_unstable_by(|a, b| b.cmp(a));
    times.dedup();
    let Some(oldest_kept) = times.get(HISTORY.saturating_sub(1)).copied() else {
        return Vec::new();
    };
    tasks
        .iter()
        .filter(|t| scheduled_time(t).is_some_and(|s| s < oldest_kept))
        .filter(|t| {
            t.status
                .as_ref()
                .and_then(|s| s.health.as_deref())
                .is_some_and(|h| h != HEALTH_PROGRESSING)
        })
        .cloned()
        .collect()
}
