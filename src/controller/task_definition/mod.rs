//! The TaskDefinition controller: registers revisions, makes what their tasks need, and
//! publishes status.
//!
//! [`reconcile`] reads as its steps, one module each: [`validate`] (first: it needs nothing
//! loaded, and a name that cannot label revisions could not select them) → [`load`] (the
//! revisions, and what may use them) → [`decide`] (registration and retention) → [`build`] (the
//! revision to register, those to delete, the dependents) → [`apply`] → [`status`]. Beside them:
//! what is watched ([`watch`]) and the caches of the dependents ([`children`]).
//!
//! Each change of `spec` registers the next revision as an immutable `apps/v1`
//! ControllerRevision owned by the TaskDefinition ([`crate::controller::revisions`]); an
//! unchanged spec registers nothing. A family's numbers are never reused, even after the object
//! is deleted and applied again ([`families`]). Retention keeps the latest revision, those Services use and
//! the newest [`crate::controller::Config::revision_history_limit`]. Status: `revision`,
//! `revisions`, `taskDefinitionArn`, `status: ACTIVE`, `Ready`, `Degraded` (while dependents
//! cannot be made) and `Translated`.

pub mod apply;
pub mod build;
pub mod children;
pub mod decide;
pub mod families;
pub mod load;
pub mod status;
pub mod validate;
pub mod watch;

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod families_tests;
#[cfg(test)]
mod reconcile_tests;

use std::sync::Arc;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{ResourceExt, runtime::controller::Action};
use tracing::{Span, field};

use crate::{
    api::TaskDefinition,
    controller::{Context, Error},
};

/// Field manager of this controller's server-side applies.
pub const FIELD_MANAGER: &str = "ecsbridge.io/task-definition-controller";
/// Name of this controller in logs and metrics.
pub const CONTROLLER: &str = "task-definition";

/// Reconciles one TaskDefinition: registers its spec as a new revision when it changed, deletes
/// the revisions retention lets go, applies the dependents that changed, and writes its status
/// when it changed.
///
/// Returns a periodic requeue ([`crate::controller::Config::resync_interval`]) as a
/// level-triggered safety net (it also catches Services that stopped using an old revision).
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
        if let Some(uid) = td.uid() {
            ctx.task_definition_registered.forget(&uid);
        }
        return Ok(Action::await_change());
    }
    let now = Time(Timestamp::now());
    let limit = ctx.config.revision_history_limit;

    let valid = match validate::validate(&td, &namespace, &ctx.config.options) {
        Ok(valid) => valid,
        Err(refused) => {
            let registration = status::Registration::refused(refused);
            status::update(&ctx, &td, &namespace, &registration, &[], now).await?;
            return Ok(Action::requeue(ctx.config.resync_interval));
        }
    };
    let loaded = load::load(&ctx, &valid, limit).await?;
    let plan = decide::decide(
        &valid,
        &loaded.revisions,
        loaded.registration.as_ref(),
        loaded.referrers.as_ref(),
        limit,
    );
    let desired = build::build(&valid, &plan, &ctx.config.options);
    let missing = apply::apply(&ctx, &valid, desired, &loaded).await?;
    status::update(
        &ctx,
        &td,
        &namespace,
        &status::Registration::registered(&plan),
        &missing,
        now,
    )
    .await?;
    Ok(Action::requeue(ctx.config.resync_interval))
}
