//! The TaskDefinition controller: registers revisions and publishes status.
//!
//! Each change of `spec` registers the next revision as an immutable `apps/v1`
//! ControllerRevision owned by the TaskDefinition ([`revisions`], pure); an unchanged spec
//! registers nothing. Retention keeps the latest revision, those Services use and the newest
//! [`crate::run::RunConfig::revision_history_limit`]. Status: `revision`, `revisions`,
//! `taskDefinitionArn`, `status: ACTIVE`, `Ready` and `Translated`.

pub mod dependents;
pub mod revisions;
pub mod status;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use k8s_openapi::{
    api::apps::v1::ControllerRevision, apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp,
};
use kube::{
    Api, ResourceExt,
    api::{ListParams, PostParams},
    runtime::{
        Controller,
        controller::{self, Action},
        watcher,
    },
};
use tracing::{Span, field};

pub use status::{Registration, compute_status, compute_status_with, patch_status, same_status};

use super::{Context, Error, Shutdown, error_policy, with_backoff_reset};
use crate::{
    api::{ScheduledTask, Service, Task, TaskDefinition},
    controller::service::validate::family_of,
};

/// Field manager of this controller's server-side applies.
pub const FIELD_MANAGER: &str = "ecsbridge.io/task-definition-controller";
/// Name of this controller in logs and metrics.
pub const CONTROLLER: &str = "task-definition";

/// Reconciles one TaskDefinition: registers its spec as a new revision when it changed, deletes
/// the revisions retention lets go, and writes its status when it changed.
///
/// Returns a periodic requeue ([`crate::run::RunConfig::resync_interval`]) as a level-triggered
/// safety net (it also catches Services that stopped using an old revision).
///
/// # Errors
///
/// [`Error::MissingNamespace`] for an object without a namespace, [`Error::Kube`] when a request
/// fails.
#[tracing::instrument(skip_all, fields(controller = CONTROLLER, namespace = field::Empty, name = field::Empty))]
pub async fn reconcile(td: Arc<TaskDefinition>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = td.name_any();
    let namespace = td.namespace().ok_or_else(|| Error::MissingNamespace {
        kind: "TaskDefinition",
        name: name.clone(),
    })?;
    Span::current()
        .record("namespace", namespace.as_str())
        .record("name", name.as_str());
    if td.metadata.deletion_timestamp.is_some() {
        // Why: garbage collection removes the revisions; registering now could add one.
        return Ok(Action::await_change());
    }

    let options = ctx.pod_options(&namespace);
    let (registration, retained) = register(&ctx, &td, &namespace).await?;
    let objects = dependents::desired(&td, &namespace, &retained, &options);
    let missing = dependents::apply(&ctx, &objects).await?;
    let problem = (!missing.is_empty()).then(|| {
        missing
            .iter()
            .map(|m| m.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    });
    let desired = compute_status_with(
        &td,
        &registration,
        &options,
        problem.as_deref(),
        Time(Timestamp::now()),
    );
    if same_status(td.status.as_ref(), &desired) {
        tracing::debug!("status up to date");
    } else {
        let api: Api<TaskDefinition> = Api::namespaced(ctx.client.clone(), &namespace);
        patch_status(&api, &name, &desired).await?;
        tracing::info!(
            generation = desired.observed_generation,
            revision = desired.revision,
            "status updated"
        );
    }
    Ok(Action::requeue(ctx.config.resync_interval))
}

/// Registers `td`'s spec when it changed since its latest revision, then applies retention.
/// Returns the outcome and the retained revisions (ascending).
///
/// Requests: one LIST of the object's ControllerRevisions; a CREATE for a new revision; only
/// when more revisions exist than retention keeps without asking, a LIST of the namespace's
/// Services, Tasks and ScheduledTasks, a DELETE per revision let go and one per
/// PersistentVolume of that revision.
async fn register(
    ctx: &Context,
    td: &TaskDefinition,
    namespace: &str,
) -> Result<(Registration, Vec<dependents::Retained>), Error> {
    let name = td.name_any();
    if name.len() > revisions::MAX_NAME_LEN {
        return Ok((
            Registration::Refused {
                reason: status::REASON_NAME_TOO_LONG,
                message: format!(
                    "metadata.name: {name:?} is longer than {} characters, so it cannot label its \
                 revisions (ecsbridge.io/task-definition); use a shorter name and spec.family for \
                 the ECS family",
                    revisions::MAX_NAME_LEN
                ),
            },
            Vec::new(),
        ));
    }
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), namespace);
    let listed = api
        .list(&ListParams::default().labels(&revisions::selector(&name)))
        .await?
        .items;
    let Some(plan) = revisions::plan(td, &listed) else {
        return Ok((
            Registration::Refused {
                reason: status::REASON_MISSING_UID,
                message:
                    "metadata.uid: required to own revisions; the object did not come from the API server"
                        .to_owned(),
            },
            Vec::new(),
        ));
    };
    let uid = td.uid().unwrap_or_default();
    let mut stored: BTreeMap<i64, ControllerRevision> = listed
        .iter()
        .filter(|cr| revisions::controlled_by(cr, &uid))
        .map(|cr| (cr.revision, cr.clone()))
        .collect();
    if let Some(cr) = &plan.register {
        let created = api.create(&PostParams::default(), cr).await?;
        tracing::info!(revision = plan.latest, "revision registered");
        stored.insert(created.revision, created);
    }

    let limit = ctx.config.revision_history_limit;
    let mut retained = plan.owned.clone();
    if !revisions::to_delete(&plan.owned, plan.latest, limit, &BTreeSet::new()).is_empty() {
        let referrers = revisions::Referrers {
            services: Api::<Service>::namespaced(ctx.client.clone(), namespace)
                .list(&ListParams::default())
                .await?
                .items,
            tasks: Api::<Task>::namespaced(ctx.client.clone(), namespace)
                .list(&ListParams::default())
                .await?
                .items,
            scheduled_tasks: Api::<ScheduledTask>::namespaced(ctx.client.clone(), namespace)
                .list(&ListParams::default())
                .await?
                .items,
        };
        let in_use = revisions::in_use(&referrers, &family_of(td), &name);
        let options = ctx.pod_options(namespace);
        for revision in revisions::to_delete(&plan.owned, plan.latest, limit, &in_use) {
            let Some(cr) = stored.get(&revision).cloned() else {
                continue;
            };
            if super::delete::delete_seen(&api, &cr).await? {
                tracing::info!(revision, "revision deleted by retention");
            } else {
                tracing::debug!(revision, "revision already gone or replaced");
            }
            // Its namespaced dependents go with it (garbage collection); its cluster-scoped
            // PersistentVolumes cannot be owned by it.
            if let Some(r) = dependents::Retained::from_controller_revision(&cr) {
                dependents::delete_volumes(ctx, &dependents::volumes_of(td, &r, &options)).await?;
            }
            retained.retain(|r| *r != revision);
            stored.remove(&revision);
        }
    }
    let kept = retained
        .iter()
        .filter_map(|r| stored.get(r))
        .filter_map(dependents::Retained::from_controller_revision)
        .collect();
    Ok((
        Registration::Registered {
            latest: plan.latest,
            retained,
        },
        kept,
    ))
}

/// Runs the TaskDefinition controller on `api` (one namespace or all) until `shutdown` resolves
/// and the reconciles in flight have finished; marks `synced` after its first LIST.
pub async fn run(
    api: Api<TaskDefinition>,
    ctx: Arc<Context>,
    synced: crate::runtime::Synced,
    shutdown: Shutdown,
) {
    let config = controller::Config::default().concurrency(ctx.config.concurrency);
    // NB: no generation predicate yet: kube-runtime only offers one through `Controller::for_stream`
    // (feature `unstable-runtime-stream-control`). Our own status write therefore triggers one more
    // reconcile, which finds the status up to date and writes nothing.
    let controller = Controller::new(api, watcher::Config::default())
        .with_config(config)
        .graceful_shutdown_on(shutdown.clone());
    let store = controller.store();
    let results = controller.run(
        |td, ctx| with_backoff_reset(CONTROLLER, reconcile, td, ctx),
        error_policy::<TaskDefinition>,
        ctx,
    );
    super::drive(CONTROLLER, store, synced, results, shutdown).await;
}

#[cfg(test)]
mod tests;
