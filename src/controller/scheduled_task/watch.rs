//! What the ScheduledTask controller watches: the ScheduledTasks, the Tasks their firings
//! started and their CronJobs (both owned: a change re-triggers the owner), and the CronJobs'
//! Jobs (each a firing's token, owned by the CronJob: mapped to the ScheduledTask by its
//! [`SCHEDULED_TASK_LABEL`]), all cached in [`super::children::Stores`].

use std::sync::Arc;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::{
    ResourceExt,
    runtime::{
        Controller,
        controller::{self},
        reflector::ObjectRef,
        watcher,
    },
};

use super::{CONTROLLER, children, reconcile};
use crate::{
    api::{ScheduledTask, Task},
    controller::{
        Context,
        caches::{add_scope, reflected, scoped},
        error_policy, with_backoff_reset,
    },
    runtime::Shutdown,
    translate::scheduled_task::firings::SCHEDULED_TASK_LABEL,
};

/// Runs the ScheduledTask controller on `namespace` (`None`: every namespace) until `shutdown`
/// resolves and the reconciles in flight have finished; marks `synced` after the first LIST of
/// ScheduledTasks.
pub async fn run(
    namespace: Option<String>,
    ctx: Arc<Context>,
    synced: crate::runtime::Synced,
    shutdown: Shutdown,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    let config = controller::Config::default().concurrency(ctx.config.concurrency);
    let (own_store, own_changes) =
        crate::controller::caches::own(scoped::<ScheduledTask>(&client, ns), watcher::Config::default());
    let controller = Controller::for_stream(own_changes, own_store)
        .trigger_backoff(crate::controller::caches::watch_backoff());
    let store = controller.store();
    let labelled = || watcher::Config::default().labels(SCHEDULED_TASK_LABEL);
    let (tasks, task_changes) = reflected(scoped::<Task>(&client, ns), labelled());
    let (cron_jobs, cron_job_changes) = reflected(scoped::<CronJob>(&client, ns), labelled());
    let (jobs, job_changes) = reflected(scoped::<Job>(&client, ns), labelled());
    add_scope(
        &ctx.scheduled_task_children,
        children::Stores {
            listed: Default::default(),
            tasks,
            cron_jobs,
            jobs,
        },
    );
    let controller = controller
        .owns_stream(task_changes)
        .owns_stream(cron_job_changes)
        .watches_stream(job_changes, |job: Job| {
            let ns = job.namespace()?;
            job.labels()
                .get(SCHEDULED_TASK_LABEL)
                .map(|name| ObjectRef::<ScheduledTask>::new(name).within(&ns))
        })
        .with_config(config)
        .graceful_shutdown_on(shutdown.clone());
    let results = controller.run(
        |st, ctx| with_backoff_reset(CONTROLLER, reconcile, st, ctx),
        error_policy::<ScheduledTask>,
        ctx,
    );
    crate::controller::drive(CONTROLLER, store, synced, results, shutdown).await;
}
