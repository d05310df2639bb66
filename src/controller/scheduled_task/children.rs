//! What the ScheduledTask controller caches: the Tasks its firings started, the CronJobs that are
//! the clocks of schedules Kubernetes cron can say, and the Jobs those CronJobs make (each a
//! firing's token) — all labelled [`SCHEDULED_TASK_LABEL`] — filled by [`super::watch::run`]
//! (one set per watched scope) and read by [`super::load`].

use std::sync::Arc;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::{
    ResourceExt,
    runtime::reflector::{ObjectRef, Store},
};

use crate::{api::Task, translate::scheduled_task::firings::SCHEDULED_TASK_LABEL};

/// The ScheduledTask controller's stores.
#[derive(Clone)]
pub struct Stores {
    /// Whether every store below has listed once (awaited by any number of reconciles).
    pub listed: crate::controller::caches::Listed,
    /// Tasks labelled [`SCHEDULED_TASK_LABEL`].
    pub tasks: Store<Task>,
    /// CronJobs labelled [`SCHEDULED_TASK_LABEL`].
    pub cron_jobs: Store<CronJob>,
    /// Jobs labelled [`SCHEDULED_TASK_LABEL`] (the CronJobs' tokens).
    pub jobs: Store<Job>,
}

impl Stores {
    /// Waits until every store has listed once.
    ///
    /// # Errors
    /// [`crate::controller::caches::Stopped`] when a store's writer was dropped (the controller
    /// is stopping).
    pub async fn ready(&self) -> Result<(), crate::controller::caches::Stopped> {
        let tasks = self.tasks.clone();
        let cron_jobs = self.cron_jobs.clone();
        let jobs = self.jobs.clone();
        self.listed
            .wait(|| async move {
                tasks.wait_until_ready().await.is_ok()
                    && cron_jobs.wait_until_ready().await.is_ok()
                    && jobs.wait_until_ready().await.is_ok()
            })
            .await
    }
}

/// The stores of every scope the controller runs in, once each has listed; `None` when it runs in
/// none (a reconcile outside the controller, as in unit tests).
pub async fn ready_stores(ctx: &crate::controller::Context) -> Option<Vec<Stores>> {
    crate::controller::caches::ready(&ctx.scheduled_task_children, |s: Stores| async move {
        s.ready().await.map(|()| s)
    })
    .await
}

/// Whether `labels` name the ScheduledTask `name`.
fn labelled<K: ResourceExt>(obj: &K, name: &str) -> bool {
    obj.labels().get(SCHEDULED_TASK_LABEL).map(String::as_str) == Some(name)
}

/// Whether `obj` is controlled by the object with uid `uid`.
#[must_use]
pub fn controlled_by<K: ResourceExt>(obj: &K, uid: &str) -> bool {
    obj.owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// Whether `task` is a firing's Task of the ScheduledTask `name` (uid `uid`).
#[must_use]
pub fn is_fired_task(task: &Task, name: &str, uid: &str) -> bool {
    labelled(task, name) && controlled_by(task, uid)
}

/// Whether `job` is a token of the CronJob `name` (uid `cron_job_uid`).
#[must_use]
pub fn is_token(job: &Job, name: &str, cron_job_uid: &str) -> bool {
    labelled(job, name) && controlled_by(job, cron_job_uid)
}

/// The cached Tasks of the ScheduledTask `name` (uid `uid`) in `namespace`.
#[must_use]
pub fn tasks(stores: &[Stores], namespace: &str, name: &str, uid: &str) -> Vec<Arc<Task>> {
    stores
        .iter()
        .flat_map(|s| s.tasks.state())
        .filter(|t| t.namespace().as_deref() == Some(namespace) && is_fired_task(t, name, uid))
        .collect()
}

/// The cached CronJob `name` in `namespace`, when it is the ScheduledTask's (uid `uid`).
#[must_use]
pub fn cron_job(stores: &[Stores], namespace: &str, name: &str, uid: &str) -> Option<Arc<CronJob>> {
    let key = ObjectRef::new(name).within(namespace);
    stores
        .iter()
        .find_map(|s| s.cron_jobs.get(&key))
        .filter(|c| labelled(c.as_ref(), name) && controlled_by(c.as_ref(), uid))
}

/// The cached tokens of the CronJob `name` (uid `cron_job_uid`) in `namespace`.
#[must_use]
pub fn jobs(stores: &[Stores], namespace: &str, name: &str, cron_job_uid: &str) -> Vec<Arc<Job>> {
    stores
        .iter()
        .flat_map(|s| s.jobs.state())
        .filter(|j| j.namespace().as_deref() == Some(namespace) && is_token(j, name, cron_job_uid))
        .collect()
}
