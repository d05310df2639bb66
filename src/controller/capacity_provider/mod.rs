//! The CapacityProvider controller (cluster-scoped): a provider's status in ECS's words (its
//! nodes, their allocatable capacity, its tasks and `CapacityProviderReservation`), ECS's name
//! rules, and the finalizer that holds the deletion of a provider Services still use, as ECS
//! refuses `DeleteCapacityProvider` for a provider in use.
//!
//! [`reconcile`] reads as its steps: [`load`] (nodes, tasks and Services from the caches of
//! [`watch`]) → validate (the name) → decide ([`finalizer`]: add it, or let the provider go when
//! nothing uses it) → build and apply the [`headroom`] of managed scaling and the Karpenter
//! [`node_pool`] of a Managed Instances provider → [`status`] (computed, written when it changed).

pub mod finalizer;
pub mod headroom;
pub mod load;
pub mod node_pool;
pub mod status;
pub mod watch;

use std::sync::Arc;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{Resource, ResourceExt, runtime::controller::Action};
use tracing::{Span, field};

use crate::{
    api::CapacityProvider,
    controller::{Context, Error},
    translate::capacity::validate_provider_name,
};

/// Field manager of this controller's writes.
pub const FIELD_MANAGER: &str = "ecsbridge.io/capacity-provider-controller";
/// Name of this controller in logs and metrics.
pub const CONTROLLER: &str = "capacity-provider";

/// Reconciles one CapacityProvider: keeps its finalizer while Services use it (holding its
/// deletion), removes it when none does, and writes its status when it changed.
///
/// # Errors
/// [`Error::Kube`] when a request fails.
#[tracing::instrument(skip_all, fields(controller = CONTROLLER, name = field::Empty))]
pub async fn reconcile(cp: Arc<CapacityProvider>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = cp.name_any();
    Span::current().record("name", name.as_str());
    let loaded = load::load(&ctx, &cp).await?;
    let invalid_name = validate_provider_name(&cp.ecs_name()).err().map(|e| {
        let field = if cp.spec.capacity_provider.name.is_some() {
            "spec.name"
        } else {
            "metadata.name"
        };
        format!("{field}: {e}")
    });
    let deleting = cp.meta().deletion_timestamp.is_some();
    match finalizer::decide(&cp, &loaded.users) {
        finalizer::Step::Add => finalizer::add(&ctx, &cp).await?,
        finalizer::Step::Release => {
            finalizer::release(&ctx, &cp).await?;
            if deleting {
                return Ok(Action::await_change());
            }
        }
        finalizer::Step::Keep => {}
    }
    if deleting && !cp.finalizers().iter().any(|f| f == finalizer::FINALIZER) {
        // (Someone else's finalizer holds it: nothing of ours to write.)
        return Ok(Action::await_change());
    }
    let wanted = headroom::wanted(&cp, &loaded, &ctx.config.headroom_namespace);
    let live = watch::headroom(
        &ctx,
        &crate::translate::capacity::headroom::deployment_name(&name),
    );
    headroom::apply(&ctx, &cp, wanted.as_ref().map(|w| &w.0), live.as_ref()).await?;
    let node_pool = node_pool::reconcile(&ctx, &cp).await?;
    let now = Time(Timestamp::now());
    let decided = status::Decided {
        invalid_name,
        headroom: wanted.map(|w| w.1),
        node_pool,
    };
    status::update(&ctx, &cp, &loaded, &decided, now).await?;
    Ok(Action::requeue(ctx.config.resync_interval))
}
