//! Apply (async, writes): creates each firing's Tasks (one that exists already is the same
//! firing's: the names come from the instant, so nothing is created twice), then deletes the
//! tokens they came from (only after, so a crash in between fires again — into the same names),
//! applies or deletes the CronJob, and deletes Tasks past the history (exactly those seen).

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};

use super::{FIELD_MANAGER, build::Desired};
use crate::{
    api::Task,
    controller::{Context, Error, delete::delete_seen},
};

/// A Task the API server refused to create (admission, quota, validation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applied {
    /// (Task name, the API server's message) of each refused Task.
    pub refused: Vec<(String, String)>,
    /// Why the CronJob could not be applied: one of that name is another's (the API server's
    /// conflict message).
    pub cron_job_conflict: Option<String>,
}

/// Writes `desired` in `namespace`.
///
/// # Errors
/// [`Error::Kube`] when a request fails for another reason than a Task that exists already or
/// is refused (reported in [`Applied`]), or an object already gone.
pub async fn apply(ctx: &Context, namespace: &str, desired: Desired) -> Result<Applied, Error> {
    let tasks: Api<Task> = Api::namespaced(ctx.client.clone(), namespace);
    let mut applied = Applied::default();
    for task in desired.tasks {
        match tasks.create(&PostParams::default(), &task).await {
            Ok(_) => {}
            // (This firing's, made before: its name comes from the instant.)
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(kube::Error::Api(e)) if matches!(e.code, 400 | 403 | 422) => {
                applied.refused.push((task.name_any(), e.message.clone()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), namespace);
    for token in desired.tokens {
        delete_seen(&jobs, &token).await?;
    }
    let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), namespace);
    if let Some(cj) = desired.cron_job {
        // (Forced only over our own: a CronJob of that name that is another's is not taken.)
        let params = if desired.cron_job_ours {
            PatchParams::apply(FIELD_MANAGER).force()
        } else {
            PatchParams::apply(FIELD_MANAGER)
        };
        match cron_jobs.patch(&cj.name_any(), &params, &Patch::Apply(&cj)).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => applied.cron_job_conflict = Some(e.message.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(cj) = desired.delete_cron_job {
        delete_seen(&cron_jobs, &cj).await?;
    }
    for task in desired.prune {
        delete_seen(&tasks, &task).await?;
    }
    Ok(applied)
}
