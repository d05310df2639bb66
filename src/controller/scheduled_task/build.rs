//! Build (pure): the writes a plan asks for — each firing's Tasks (one per target, from
//! [`fired_tasks`], owned by the ScheduledTask), the CronJob (owned, with the applied hash; left
//! out when the live one is current), and what to delete.

use std::sync::Arc;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::Resource;

use super::{decide::Plan, validate::Validated};
use crate::{
    api::{ScheduledTask, Task},
    controller::unchanged,
    translate::scheduled_task::firings::fired_tasks,
};

/// What apply writes.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    /// Tasks to create, owned by the ScheduledTask.
    pub tasks: Vec<Task>,
    /// The CronJob to apply (not current).
    pub cron_job: Option<CronJob>,
    /// Whether the live CronJob of that name is this ScheduledTask's (applied with force);
    /// otherwise another's of the same name is not taken over.
    pub cron_job_ours: bool,
    /// The CronJob to delete.
    pub delete_cron_job: Option<Arc<CronJob>>,
    /// Tokens to delete.
    pub tokens: Vec<Arc<Job>>,
    /// Tasks to delete.
    pub prune: Vec<Arc<Task>>,
}

/// The writes of `plan` for `st` (validated as `v`), the CronJob skipped when `live` is current.
#[must_use]
pub fn build(st: &ScheduledTask, v: &Validated, plan: &Plan, live: Option<&CronJob>) -> Desired {
    let owner = st.controller_owner_ref(&());
    let tasks = plan
        .fire
        .iter()
        .flat_map(|f| fired_tasks(st, &v.runs, &f.name, f.scheduled))
        .map(|mut t| {
            t.metadata.owner_references = owner.clone().map(|o| vec![o]);
            t
        })
        .collect();
    let cron_job = plan.cron_job.clone().and_then(|mut cj| {
        cj.metadata.owner_references = owner.clone().map(|o| vec![o]);
        let hash = unchanged::hash(&cj);
        unchanged::stamp(&mut cj.metadata, hash);
        (!live.is_some_and(|l| unchanged::is_current(&cj, l))).then_some(cj)
    });
    Desired {
        tasks,
        cron_job,
        cron_job_ours: live.is_some(),
        delete_cron_job: plan.delete_cron_job.clone(),
        tokens: plan.tokens_done.clone(),
        prune: plan.prune.clone(),
    }
}
