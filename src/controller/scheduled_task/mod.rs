//! The ScheduledTask controller: fires an EventBridge rule's schedule — by a CronJob where
//! Kubernetes cron says it exactly, else by the operator at each instant — and runs each firing
//! as Task objects (one per target), which the Task controller runs as it runs any Task; reports
//! the rule's state, its last and next instants and its recent firings in the status.
//!
//! [`reconcile`] reads as its steps, one module each: [`validate`] (the schedule, the targets as
//! RunTask requests; nothing read for a refused rule) → [`load`] (its Tasks, CronJob and tokens,
//! from the caches) → [`decide`] (which firings, which instants count, history) → [`build`] →
//! [`apply`] → [`status`]. What is watched: [`watch`]; the caches: [`children`]. How a firing
//! becomes Tasks: [`crate::translate::scheduled_task::firings`].

pub mod apply;
pub mod build;
pub mod children;
pub mod decide;
pub mod load;
pub mod status;
pub mod validate;
pub mod watch;

#[cfg(test)]
mod decide_tests;
#[cfg(test)]
mod reconcile_tests;

use std::{sync::Arc, time::Duration};

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{ResourceExt, runtime::controller::Action};
use tracing::{Span, field};

use crate::{
    api::ScheduledTask,
    controller::{Context, Error},
};

/// Field manager of this controller's writes.
pub const FIELD_MANAGER: &str = "ecsbridge.io/scheduled-task-controller";
/// Name of this controller in logs and metrics.
pub const CONTROLLER: &str = "scheduled-task";

/// Reconciles one ScheduledTask: turns due firings into Tasks, keeps its CronJob as the rule
/// says, lets old firings' Tasks go, and writes its status when it changed. Builds and applies
/// once.
///
/// Returns a requeue at the next instant when the operator fires the rule, else the periodic
/// resync.
///
/// # Errors
///
/// [`Error::MissingNamespace`] for an object without a namespace, [`Error::Kube`] when a request
/// fails.
#[tracing::instrument(skip_all, fields(controller = CONTROLLER, namespace = field::Empty, name = field::Empty))]
pub async fn reconcile(st: Arc<ScheduledTask>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = st.name_any();
    let namespace = st.namespace().ok_or_else(|| Error::MissingNamespace {
        kind: "ScheduledTask",
        name: name.clone(),
    })?;
    Span::current()
        .record("namespace", namespace.as_str())
        .record("name", name.as_str());
    if st.metadata.deletion_timestamp.is_some() {
        // Why: garbage collection removes its CronJob and its Tasks.
        return Ok(Action::await_change());
    }
    let now = Timestamp::now();
    let resync = ctx.config.resync_interval;
    let validated = match validate::validate(&st) {
        Ok(v) => v,
        Err(invalid) => {
            status::write(&ctx, &st, &namespace, &status::invalid(&st, &invalid, &Time(now))).await?;
            return Ok(Action::requeue(resync));
        }
    };
    let loaded = load::load(&ctx, &st, &namespace).await?;
    let plan = decide::decide(&st, &validated, &loaded, now);
    let desired = build::build(&st, &validated, &plan, loaded.cron_job.as_deref());
    let applied = apply::apply(&ctx, &namespace, desired).await?;
    let desired = status::compute(&st, &validated, &plan, &loaded, &applied, &Time(now));
    status::write(&ctx, &st, &namespace, &desired).await?;
    Ok(match plan.next_check {
        Some(at) => {
            let wait = at.duration_since(now).unsigned_abs().min(resync);
            // (Just after the instant: the clock is not early.)
            Action::requeue(wait + Duration::from_millis(50))
        }
        None => Action::requeue(resync),
    })
}
