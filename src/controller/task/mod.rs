//! The Task controller: runs a RunTask request's tasks as pods, stops them as ECS stops a task
//! (an essential container exits, a start fails, a user's StopTask), keeps stopped tasks
//! describable for the retention, and reports them in ECS's words.
//!
//! [`reconcile`] reads as its steps, one module each: [`load`] (the tasks' pods from the cache;
//! what starting needs, only while tasks are to be started) → [`validate`] (RunTask's rules, the
//! translation into pods) → [`decide`] (start, stop, retention) → [`build`] → [`apply`] →
//! [`status`]. What is watched: [`watch`]; the caches: [`children`].

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

use std::sync::Arc;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{ResourceExt, runtime::controller::Action};
use tracing::{Span, field};

use crate::{
    api::Task,
    controller::{Context, Error},
};

/// Field manager of this controller's writes.
pub const FIELD_MANAGER: &str = "ecsbridge.io/task-controller";
/// Name of this controller in logs and metrics.
pub const CONTROLLER: &str = "task";

/// Reconciles one Task: starts its tasks once, stops those ECS would stop, deletes stopped
/// tasks' pods past the retention, and writes its status when it changed. Builds and applies
/// once.
///
/// Returns a requeue at the next thing to look at (a start failure's grace, a retention's end),
/// else the periodic resync (also when the Task is refused: its status says why, and the watches
/// re-trigger it when the Task or a TaskDefinition changes, the resync when a CapacityProvider
/// or Namespace does).
///
/// # Errors
///
/// [`Error::MissingNamespace`] for an object without a namespace, [`Error::Kube`] when a request
/// fails.
#[tracing::instrument(skip_all, fields(controller = CONTROLLER, namespace = field::Empty, name = field::Empty))]
pub async fn reconcile(task: Arc<Task>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = task.name_any();
    let namespace = task.namespace().ok_or_else(|| Error::MissingNamespace {
        kind: "Task",
        name: name.clone(),
    })?;
    Span::current()
        .record("namespace", namespace.as_str())
        .record("name", name.as_str());
    if task.metadata.deletion_timestamp.is_some() {
        // Why: garbage collection stops the tasks (their pods go with the Task).
        if let Some(uid) = task.metadata.uid.as_deref() {
            ctx.task_statuses.forget(uid);
        }
        return Ok(Action::await_change());
    }
    // A Task read before this process's last status write arrived: with that status.
    let task = ctx.task_statuses.fresher(&task).map_or(task, Arc::new);
    let now = Timestamp::now();

    let loaded = load::load(&ctx, &task, &namespace).await?;
    // Once tasks started, a spec refused now (edited, or a stricter release) does not stall
    // them: they are still stopped, retained and reported (the edit is told as such).
    let started = !loaded.pods.is_empty()
        || task
            .status
            .as_ref()
            .is_some_and(|s| s.started_generation.is_some());
    let objects = match validate::validate(&task, loaded.start.as_ref(), &ctx.config.options) {
        Ok(objects) => objects,
        Err(invalid) if started => {
            tracing::info!(reason = invalid.reason, message = %invalid.message, "refused after the start; the tasks go on");
            None
        }
        Err(invalid) => {
            let desired = status::invalid(&task, &invalid, &Time(now));
            status::write(&ctx, &task, &namespace, &desired).await?;
            // (Capacity providers and Namespaces are not watched: look again at the resync.)
            return Ok(Action::requeue(ctx.config.resync_interval));
        }
    };
    let plan = decide::decide(&task, &loaded.pods, now, ctx.config.task_retention);
    let desired = build::build(&task, &plan, objects.as_ref(), now);
    let applied = apply::apply(&ctx, &namespace, desired).await?;
    let desired = status::compute(&task, &plan, &applied, objects.as_ref(), &Time(now));
    status::write(&ctx, &task, &namespace, &desired).await?;
    let resync = ctx.config.resync_interval;
    if !applied.taken.is_empty() {
        return Ok(Action::requeue(std::time::Duration::from_secs(5)));
    }
    Ok(match plan.next_check {
        Some(at) => {
            let wait = at.duration_since(now).unsigned_abs().min(resync);
            Action::requeue(wait.max(std::time::Duration::from_secs(1)))
        }
        None => Action::requeue(resync),
    })
}
