//! The Service controller: keeps a Deployment (REPLICA) or DaemonSet (DAEMON) running the
//! Service's task definition, with the Kubernetes Services and TargetGroupBindings of its load
//! balancers, Cloud Map registry and Service Connect, and reports it in ECS's words.
//!
//! [`reconcile`] reads as its steps, one module each: [`load`] (children and references, from the
//! caches) → [`validate`] → [`decide`] (the rollout, the circuit breaker and the rollback, once) →
//! [`build`] → [`apply`] → [`status`]. Beside them: what is watched ([`watch`]), the caches
//! ([`children`]), the rollout memory on the Deployment ([`history`]), the ECS deployments observed
//! from the ReplicaSets ([`ecs_deployments`]) and the ECS events ([`events`]). Auto scaling is
//! decided before the rollout ([`decide::scaling`]) and built as an HPA with the other objects.

pub mod apply;
pub mod build;
pub mod children;
pub mod decide;
pub mod ecs_deployments;
pub mod events;
pub mod history;
pub mod load;
pub mod observed;
pub mod pace;
pub mod replace;
pub mod status;
pub mod stopped_reason;
pub mod validate;
pub mod watch;

#[cfg(test)]
mod decide_tests;
#[cfg(test)]
mod reconcile_tests;

use std::sync::Arc;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{Resource, ResourceExt, runtime::controller::Action};
use tracing::{Span, field};

use crate::{
    api::Service,
    controller::{Context, Error},
};

/// Field manager of this controller's server-side applies.
pub const FIELD_MANAGER: &str = "ecsbridge.io/service-controller";
/// Name of this controller in logs and metrics.
pub const CONTROLLER: &str = "service";

/// Reconciles one Service: resolves its TaskDefinition, decides its rollout, applies its
/// workload and networking objects (those that changed), prunes the workload of the other
/// scheduling strategy and the networking objects no longer wanted, and writes its status when
/// it changed. Builds and applies once.
///
/// Returns a periodic requeue ([`crate::controller::Config::resync_interval`]) as a
/// level-triggered safety net (sooner while a circuit breaker watches a rollout, at once to roll
/// back), or [`Action::await_change`] when the Service is invalid (its status says why; the
/// watches re-trigger it when the Service or a TaskDefinition changes).
///
/// # Errors
///
/// [`Error::MissingNamespace`] for an object without a namespace, [`Error::Kube`] when a request
/// fails.
#[tracing::instrument(skip_all, fields(controller = CONTROLLER, namespace = field::Empty, name = field::Empty))]
pub async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = svc.name_any();
    let namespace = svc.namespace().ok_or_else(|| Error::MissingNamespace {
        kind: "Service",
        name: name.clone(),
    })?;
    Span::current()
        .record("namespace", namespace.as_str())
        .record("name", name.as_str());
    if svc.meta().deletion_timestamp.is_some() {
        // Why: garbage collection removes the children; applying now could recreate them.
        if let Some(uid) = svc.meta().uid.as_deref() {
            ctx.target_group_bindings.forget(uid);
        }
        return Ok(Action::await_change());
    }
    let now = Time(Timestamp::now());

    let loaded = load::load(&ctx, &svc, &namespace).await?;
    let mut valid = match validate::validate(&svc, &loaded) {
        Ok(valid) => valid,
        Err(invalid) => return status::report_invalid(&ctx, &svc, &namespace, &invalid, now).await,
    };
    let scaling = match decide::scaling(&mut valid, &loaded, &ctx.config.options.keda_settings(), &now) {
        Ok(scaling) => scaling,
        Err(invalid) => return status::report_invalid(&ctx, &svc, &namespace, &invalid, now).await,
    };
    let plan = decide::decide(&valid, &loaded.children, &now);
    let options = &ctx.config.options;
    let desired = match build::build(&valid, &plan, scaling.as_ref(), loaded.nodes.as_deref(), options) {
        Ok(desired) => desired,
        Err(invalid) => return status::report_invalid(&ctx, &svc, &namespace, &invalid, now).await,
    };
    let applied = apply::apply(&ctx, &valid, desired, &loaded.children).await?;
    // (The Service as counted: with auto scaling, its desiredCount is the count in force.)
    let status = status::update(
        &ctx,
        &valid.service,
        &namespace,
        &plan,
        &applied,
        &loaded.children,
        now.clone(),
    )
    .await?;
    let next_scaling = scaling.as_ref().and_then(|s| s.next.as_ref()).map(|n| n.at);
    Ok(plan.requeue(&status, ctx.config.resync_interval, next_scaling, now.0))
}
