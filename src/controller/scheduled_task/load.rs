//! Load (async, read-only): what a ScheduledTask's reconcile reads — the Tasks its firings
//! started, its CronJob and that CronJob's tokens (Jobs), all from the controller's caches (a
//! LIST or GET each only when it runs without them, as in unit tests). At rest: no request.

use std::sync::Arc;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::{Api, ResourceExt, api::ListParams};

use super::children;
use crate::{
    api::{ScheduledTask, Task},
    controller::{Context, Error},
    translate::scheduled_task::firings::SCHEDULED_TASK_LABEL,
};

/// What a ScheduledTask's reconcile read.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The Tasks its firings started (labelled, controlled by it).
    pub tasks: Vec<Arc<Task>>,
    /// Its CronJob, when it has one.
    pub cron_job: Option<Arc<CronJob>>,
    /// That CronJob's tokens: the firings not turned into Tasks yet.
    pub jobs: Vec<Arc<Job>>,
}

/// Reads what `st` (in `namespace`) made.
///
/// # Errors
/// [`Error::Kube`] when a request fails.
pub async fn load(ctx: &Context, st: &ScheduledTask, namespace: &str) -> Result<Loaded, Error> {
    let name = st.name_any();
    let uid = st.uid().unwrap_or_default();
    if let Some(stores) = children::ready_stores(ctx).await {
        let cron_job = children::cron_job(&stores, namespace, &name, &uid);
        let jobs = cron_job
            .as_ref()
            .map(|c| children::jobs(&stores, namespace, &name, &c.uid().unwrap_or_default()))
            .unwrap_or_default();
        return Ok(Loaded {
            tasks: children::tasks(&stores, namespace, &name, &uid),
            cron_job,
            jobs,
        });
    }
    let selector = ListParams::default().labels(&format!("{SCHEDULED_TASK_LABEL}={name}"));
    let tasks = Api::<Task>::namespaced(ctx.client.clone(), namespace)
        .list(&selector)
        .await?
        .items
        .into_iter()
        .filter(|t| children::is_fired_task(t, &name, &uid))
        .map(Arc::new)
        .collect();
    let cron_job = Api::<CronJob>::namespaced(ctx.client.clone(), namespace)
        .get_opt(&name)
        .await?
        .filter(|c| children::controlled_by(c, &uid))
        .map(Arc::new);
    let jobs = match &cron_job {
        Some(c) => {
            let cj_uid = c.uid().unwrap_or_default();
            Api::<Job>::namespaced(ctx.client.clone(), namespace)
                .list(&selector)
                .await?
                .items
                .into_iter()
                .filter(|j| children::is_token(j, &name, &cj_uid))
                .map(Arc::new)
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Loaded {
        tasks,
        cron_job,
        jobs,
    })
}
