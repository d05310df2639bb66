//! What a firing makes (pure): the Tasks each firing starts, the CronJob that is the clock of a
//! schedule Kubernetes cron can say, and which instant is due.
//!
//! **One mechanism for both ways of firing.** Every firing becomes Task objects — one per
//! target, each the target's RunTask request — owned by the ScheduledTask, so that a scheduled
//! task is a task like any other: its pods, placement, capacity split, essential containers,
//! stop codes and retention are the Task controller's. Only the clock differs:
//!
//! - **CronJob**: Kubernetes' own cron fires (time zone, `suspend`, missed schedules). Its Job
//!   template is *suspended* (`suspend: true`: a Job that never makes a pod) — each Job is the
//!   token of one firing, named `<cronjob>-<minutes since the epoch>` by the CronJob controller.
//!   The operator turns each token into the firing's Tasks (named after the Job) and deletes
//!   it; a token that arrives while the operator is down is turned once it is back.
//! - **Operator**: the operator fires at each instant of the shared parser, naming the Tasks the
//!   same way (`<scheduledtask>-<minutes since the epoch>`), so a firing retried after a crash
//!   creates nothing twice.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::{
    api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec},
    api::core::v1::{PodSpec, PodTemplateSpec, ResourceRequirements},
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::ObjectMeta},
};

use super::Firing;
use crate::{
    api::{ScheduledTask, Task, TaskSpec, ecs::RunTask},
    translate::pause::{pause_container, restricted_pod_security},
};

/// Label on every object a ScheduledTask makes (its CronJob, the Jobs the CronJob makes, the
/// Tasks of each firing): the ScheduledTask's name.
pub const SCHEDULED_TASK_LABEL: &str = "ecsbridge.io/scheduled-task";
/// Annotation on a firing's Tasks: the instant the firing was scheduled for (RFC 3339).
pub const SCHEDULED_TIME_ANNOTATION: &str = "ecsbridge.io/scheduled-time";
/// The CronJob controller's annotation on the Jobs it makes: the instant scheduled.
pub const CRONJOB_SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Longest ScheduledTask name: a CronJob's name is at most 52 characters (its Jobs add 11), and
/// a firing's Task name must fit a label value (63).
pub const MAX_NAME_LEN: usize = 52;
/// Most targets of a rule (EventBridge's quota: 5 per rule).
pub const MAX_TARGETS: usize = 5;
/// How many firings' Tasks a ScheduledTask keeps (older ones go once they stopped), as a
/// CronJob keeps its last Jobs.
pub const HISTORY: usize = 5;

/// The labels of what the ScheduledTask `name` makes.
fn labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (SCHEDULED_TASK_LABEL.to_owned(), name.to_owned()),
        (
            crate::translate::labels::MANAGED_BY.to_owned(),
            crate::translate::labels::MANAGED_BY_VALUE.to_owned(),
        ),
    ])
}

/// The name of a firing at `instant`: `<scheduledtask>-<minutes since the epoch>` (as the
/// CronJob controller names its Jobs).
#[must_use]
pub fn firing_name(scheduled_task: &str, instant: Timestamp) -> String {
    format!("{scheduled_task}-{}", instant.as_second().div_euclid(60))
}

/// The name of target `index`'s Task (0-based) of firing `firing`, for a rule with `targets`
/// targets: the firing's name, with `-<index + 1>` when there are several (at most
/// [`MAX_TARGETS`], so one digit).
#[must_use]
pub fn task_name(firing: &str, index: usize, targets: usize) -> String {
    if targets == 1 {
        firing.to_owned()
    } else {
        format!("{firing}-{}", index + 1)
    }
}

/// The `startedBy` of a firing's tasks when the target does not say: EventBridge's
/// `events-rule/<rule name>`.
#[must_use]
pub fn started_by(st: &ScheduledTask) -> String {
    let rule = st
        .spec
        .rule
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| st.metadata.name.clone())
        .unwrap_or_default();
    let mut s = format!("events-rule/{rule}");
    s.truncate(128);
    s
}

/// The Tasks of firing `firing`, scheduled for `scheduled`: one per request of `runs` (the
/// rule's targets, in order), labelled and annotated, without owner references.
#[must_use]
pub fn fired_tasks(st: &ScheduledTask, runs: &[RunTask], firing: &str, scheduled: Timestamp) -> Vec<Task> {
    let name = st.metadata.name.clone().unwrap_or_default();
    runs.iter()
        .enumerate()
        .map(|(i, run)| {
            let mut run = run.clone();
            if run.started_by.is_none() {
                run.started_by = Some(started_by(st));
            }
            let mut task = Task::new(&task_name(firing, i, runs.len()), TaskSpec { run_task: run });
            task.metadata.namespace.clone_from(&st.metadata.namespace);
            task.metadata.labels = Some(labels(&name));
            task.metadata.annotations = Some(BTreeMap::from([(
                SCHEDULED_TIME_ANNOTATION.to_owned(),
                scheduled.to_string(),
            )]));
            task
        })
        .collect()
}

/// The CronJob that is the clock of `st` when it fires by CronJob (`schedule` in `time_zone`):
/// each Job it makes is suspended (a token; see the module docs), `suspend` while the rule is
/// DISABLED, overlaps allowed as in ECS. Without owner references.
#[must_use]
pub fn cron_job(st: &ScheduledTask, schedule: &str, time_zone: Option<&str>, suspend: bool) -> CronJob {
    let name = st.metadata.name.clone().unwrap_or_default();
    let labels = labels(&name);
    let small = BTreeMap::from([
        ("cpu".to_owned(), Quantity("1m".to_owned())),
        ("memory".to_owned(), Quantity("8Mi".to_owned())),
    ]);
    let token = PodSpec {
        restart_policy: Some("Never".to_owned()),
        automount_service_account_token: Some(false),
        security_context: Some(restricted_pod_security()),
        containers: vec![pause_container(
            "token",
            ResourceRequirements {
                requests: Some(small.clone()),
                limits: Some(small),
                ..ResourceRequirements::default()
            },
        )],
        ..PodSpec::default()
    };
    CronJob {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: st.metadata.namespace.clone(),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(CronJobSpec {
            schedule: schedule.to_owned(),
            time_zone: time_zone.map(str::to_owned),
            suspend: Some(suspend),
            concurrency_policy: Some("Allow".to_owned()),
            successful_jobs_history_limit: Some(0),
            failed_jobs_history_limit: Some(0),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(JobSpec {
                    // The token: never makes a pod (resumed by hand, it fails at once).
                    suspend: Some(true),
                    backoff_limit: Some(0),
                    active_deadline_seconds: Some(1),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta {
                            labels: Some(labels),
                            ..ObjectMeta::default()
                        }),
                        spec: Some(token),
                    },
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        }),
        status: None,
    }
}

/// The CronJob schedule and time zone of `firing`, when a CronJob fires it.
#[must_use]
pub fn cron_of(firing: &Firing) -> Option<(&str, Option<&str>)> {
    match firing {
        Firing::CronJob { schedule, time_zone } => Some((schedule, time_zone.as_deref())),
        Firing::Operator { .. } => None,
    }
}
