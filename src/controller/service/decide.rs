//! Decide (pure: no client; the clock comes in as `now`): the rollout, once per reconcile and
//! before anything is built.
//!
//! From the validated Service and its children as the caches last saw them, [`decide`] says
//! which task definition revision to build and what the rollout does with it (ecs-reference
//! §2.4):
//!
//! - **Roll out** the revision the Service asks for (`resolved`), as a rule.
//! - **Hold** the running template when the deployment configuration lets no task stop or
//!   start ([`rollout::blocked`]): ECS leaves the old tasks running and says so. A new
//!   Service, or a template that does not change, rolls as usual.
//! - **Trip** the circuit breaker when the PRIMARY deployment runs `resolved`, is still
//!   `IN_PROGRESS` and its failed tasks reach the threshold: the failure is remembered on the
//!   Deployment ([`History`]); with `rollback` the next reconcile (at once) runs the last completed
//!   revision, without it the Deployment is paused (ECS launches no more tasks of a failed
//!   deployment).
//! - **Roll back** while `resolved` is remembered as failed: the last completed revision, read by
//!   [`super::load`] ([`history::rollback_revision`]), or, when it is gone, stay paused and say so.
//!
//! The [`Plan`] also carries what the status reports about it (the failure, the blocked rollout,
//! the rollback) and when to look again ([`Plan::requeue`]).
//!
//! - **Replace** a task whose essential container stopped while another of its containers runs
//!   on (ECS stops the whole task and the service scheduler starts another): its pod is deleted
//!   (gracefully: its containers get their `stopTimeout`) and its ReplicaSet makes a new one.
//!   One per reconcile, looked at again soon after ([`ROLLOUT_RECHECK`]): a throttle, as ECS
//!   throttles the tasks a service keeps replacing. The replaced task counts as a failed task of
//!   its deployment (`replacedTasks`), toward the circuit breaker.
//!
//! Before the rollout, [`scaling`] decides the Service's auto scaling: the range in force after
//! its scheduled actions, going on from what its status recorded, and the count it runs.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::PodTemplateSpec},
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::runtime::controller::Action;

use super::{
    children::Children,
    ecs_deployments::primary_in_progress,
    history::{self, History},
    observed, pace, stopped_reason,
    validate::Invalid,
    validate::ValidatedService,
};
use crate::{
    api::{ServiceStatus, ecs::RegisterTaskDefinition, ecs::SchedulingStrategy, service::ServiceDeployment},
    translate::autoscaling::{self, Scaling},
    translate::rollout::{self, Breaker},
};

/// How soon a rollout watched by a circuit breaker is looked at again, whatever changes: failures
/// accrue with time too (the kubelet's retries).
pub const ROLLOUT_RECHECK: Duration = Duration::from_secs(10);

/// The running template, kept while the rollout cannot move.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// The live Deployment's pod template (the one that remembers the rollouts).
    pub template: PodTemplateSpec,
    /// Every live Deployment's pod template, by Deployment name (one per capacity provider).
    pub templates: std::collections::BTreeMap<String, PodTemplateSpec>,
    /// The task definition it runs, `family:revision` (from its labels).
    pub task_definition: String,
}

/// What this reconcile does with the Service's rollout.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// The revision whose objects are built: `resolved`'s, or the one rolled back to.
    pub revision: i64,
    /// That revision's spec.
    pub spec: &'a RegisterTaskDefinition,
    /// The running template, kept instead of the built one (the rollout is blocked).
    pub hold: Option<Held>,
    /// The task definition that runs after this reconcile, `family:revision`: the held one, else
    /// the one built.
    pub running: String,
    /// What the Deployment's annotations remember after this reconcile.
    pub history: History,
    /// Whether the Deployment is paused: the circuit breaker failed the revision it runs.
    pub paused: bool,
    /// The circuit breaker, when enabled.
    pub breaker: Option<Breaker>,
    /// Why the deployment failed (Degraded's message), when it did.
    pub failure: Option<String>,
    /// ECS's message when the rollout cannot move, while the template is held.
    pub blocked: Option<String>,
    /// The deployment the circuit breaker rolls back to, when it starts doing so now.
    pub rolling_back_to: Option<String>,
    /// While the breaker's rollback is in effect: the failed task definition and the one rolled
    /// back to (`family:revision` each), so that the status announces the rollback even when
    /// the reconcile that tripped the breaker never wrote its status.
    pub rolled_back: Option<(String, String)>,
    /// The breaker tripped now and rolls back: reconcile again at once to run the rollback.
    pub roll_back_now: bool,
    /// The Service's Deployments as they run, for [`super::pace`].
    pub live: Vec<pace::Live>,
    /// A task to replace because an essential container stopped while another container of the
    /// task runs on ([`crate::translate::task::essential::replacement`]); one per reconcile, as a
    /// throttle.
    pub replace: Option<k8s_openapi::api::core::v1::Pod>,
    /// Whether a task waits to be replaced after the throttle (look again soon).
    pub replacing: bool,
}

impl Plan<'_> {
    /// When to reconcile again, given the `status` written: at once to roll back, soon while a
    /// circuit breaker watches a PRIMARY deployment in progress, else after `resync`; and no later
    /// than the next scheduled action (`next_action`, as of `now`), which it then applies.
    #[must_use]
    pub fn requeue(
        &self,
        status: &ServiceStatus,
        resync: Duration,
        next_action: Option<Timestamp>,
        now: Timestamp,
    ) -> Action {
        let after = if self.roll_back_now {
            Duration::ZERO
        } else if self.replace.is_some()
            || self.replacing
            || (self.breaker.is_some() && status.deployments.iter().any(primary_in_progress))
        {
            ROLLOUT_RECHECK
        } else {
            resync
        };
        let until_action =
            next_action.map(|at| Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO));
        Action::requeue(until_action.map_or(after, |u| u.min(after)))
    }
}

/// Reason of `Ready=False` when the auto scaling is refused as AAS would refuse it.
pub const REASON_INVALID_AUTO_SCALING: &str = "InvalidAutoScaling";

/// Decides the auto scaling of `valid` (with what was `loaded` for it) at `now`
/// ([`autoscaling::service_scaling`]): its scalable target goes on from the status the last
/// reconcile wrote, policies on CloudWatch metrics scale through KEDA (as `keda` says) where it
/// is served, its HPA's rescales become scaling activities, scale-in is suspended while an
/// ECS deployment is in progress (its status says the PRIMARY one is), and `valid`'s `desiredCount`
/// becomes the count in force (kept inside the range), which the rollout, the workload and the
/// status then count. `None` without `autoScaling`.
///
/// # Errors
/// [`REASON_INVALID_AUTO_SCALING`] with the field, when AAS would refuse it.
pub fn scaling(
    valid: &mut ValidatedService,
    loaded: &super::load::Loaded,
    keda: &autoscaling::keda::Keda,
    now: &Time,
) -> Result<Option<Scaling>, Invalid> {
    let svc = &valid.service;
    let children = &loaded.children;
    let state = autoscaling::State {
        recorded: svc.status.as_ref().and_then(|s| s.auto_scaling.as_ref()),
        deploying: svc.deployments().iter().any(primary_in_progress),
        keda: loaded.keda.then_some(keda),
        external_metrics: loaded.external_metrics,
        hpa: children.hpa.as_deref().filter(|h| {
            kube::ResourceExt::owner_references(*h)
                .iter()
                .any(|o| o.uid == valid.owner.uid)
        }),
        now: now.0,
    };
    let scaling = autoscaling::service_scaling(
        &valid.name,
        &valid.namespace,
        &svc.spec,
        &valid.task_definition.spec.task_definition,
        &state,
    )
    .map_err(|e| Invalid {
        reason: REASON_INVALID_AUTO_SCALING,
        message: e.to_string(),
    })?;
    if let Some(scaling) = &scaling {
        let count = &mut valid.service.spec.service.desired_count;
        *count = Some(scaling.count(*count));
    }
    Ok(scaling)
}

/// Decides the rollout of `valid`, whose children are `children`, at `now` (see the module
/// docs).
#[must_use]
pub fn decide<'a>(valid: &'a ValidatedService, children: &Children, now: &Time) -> Plan<'a> {
    let svc = &valid.service;
    let family = valid.family();
    let resolved = valid.resolved();
    let breaker = rollout::breaker(&svc.spec);
    let live = children.remembering();
    let mut history = History::of(svc, live, &resolved);

    // Roll back, or stay on, a revision the breaker failed.
    let (mut revision, mut spec) = (valid.revision, &valid.task_definition.spec.task_definition);
    let mut cannot_roll_back = None;
    if history.failed.is_some()
        && let Some(rollback) = valid.rollback.as_ref()
    {
        match &rollback.spec {
            Ok(stored) => (revision, spec) = (rollback.revision, stored),
            Err(invalid) => {
                cannot_roll_back = Some(format!("{resolved}; cannot roll back: {}", invalid.message));
            }
        }
    }
    let built = format!("{family}:{revision}");

    // Hold the running template when no task may stop or start.
    let daemon = svc.spec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon);
    let blocked = rollout::blocked(&valid.name, &svc.spec).filter(|_| !daemon);
    let hold = match (&blocked, live) {
        (Some(_), Some(live)) => held(live, &built).map(|h| Held {
            templates: children
                .deployments
                .iter()
                .filter_map(|d| Some((d.metadata.name.clone()?, d.spec.as_ref()?.template.clone())))
                .collect(),
            ..h
        }),
        _ => None,
    };
    let running = hold
        .as_ref()
        .map_or_else(|| built.clone(), |h| h.task_definition.clone());
    let mut paused = history.failed.is_some() && running == resolved;
    let blocked = blocked.filter(|_| running != resolved);

    // Trip the breaker on the rollout of `resolved`.
    let mut rolling_back_to = None;
    let mut roll_back_now = false;
    if history.failed.is_none() && breaker.is_some() && !daemon && live.is_some() {
        let deployments: Vec<Deployment> = children.deployments.iter().map(|d| (**d).clone()).collect();
        let observed = observed::of_deployments(
            svc,
            &deployments,
            &resolved,
            children,
            None,
            breaker.as_ref(),
            &std::collections::BTreeMap::new(),
            now,
        );
        if history::trips(breaker.as_ref(), &observed, &resolved) {
            rolling_back_to = history
                .rollback_target(breaker.as_ref(), &resolved)
                .map(|c| deployment_of(&observed, c).unwrap_or_else(|| c.to_owned()));
            roll_back_now = rolling_back_to.is_some();
            paused = !roll_back_now;
            history.failed = Some(resolved.clone());
            history.failed_reason = stopped_reason::of_pods(
                children
                    .pods
                    .iter()
                    .filter(|p| history::pod_task_definition(p).as_deref() == Some(resolved.as_str())),
            );
            tracing::warn!(task_definition = %resolved, rollback = roll_back_now, "circuit breaker tripped");
        }
    }
    let rolled_back = history.failed.as_deref().and_then(|failed| {
        let target = history.rollback_target(breaker.as_ref(), failed)?;
        Some((failed.to_owned(), target.to_owned()))
    });
    let failure = history.failed.is_some().then(|| {
        cannot_roll_back.unwrap_or_else(|| {
            failure_message(
                &resolved,
                breaker.as_ref(),
                history.rollback_target(breaker.as_ref(), &resolved),
                history.failed_reason.as_deref(),
            )
        })
    });
    // (A task to replace, looked for once.)
    let to_replace = children
        .pods
        .iter()
        .find(|p| crate::translate::task::essential::replacement(p).is_some());
    Plan {
        revision,
        spec,
        hold,
        running,
        history,
        paused,
        breaker,
        failure,
        blocked,
        rolling_back_to,
        rolled_back,
        roll_back_now,
        live: pace::live(children, &valid.owner.uid),
        replace: to_replace.filter(|_| !replaced_recently(svc, now)).cloned(),
        replacing: to_replace.is_some(),
    }
}

/// Whether the Service replaced a task less than [`ROLLOUT_RECHECK`] before `now` (its status's
/// latest "has stopped 1 running tasks" event): the throttle of replacements.
fn replaced_recently(svc: &crate::api::Service, now: &Time) -> bool {
    svc.status.as_ref().is_some_and(|s| {
        s.events
            .iter()
            .filter(|e| e.message.contains(") has stopped 1 running tasks: (task "))
            .any(|e| now.0.duration_since(e.created_at.0).unsigned_abs() < ROLLOUT_RECHECK)
    })
}

/// `live`'s template, when it runs another task definition than `built`.
fn held(live: &Deployment, built: &str) -> Option<Held> {
    let running = history::template_task_definition(live)?;
    if running == built {
        return None;
    }
    Some(Held {
        template: live.spec.as_ref()?.template.clone(),
        templates: std::collections::BTreeMap::new(),
        task_definition: running,
    })
}

/// The id of the deployment running `task_definition` among `deployments`.
fn deployment_of(deployments: &[ServiceDeployment], task_definition: &str) -> Option<String> {
    deployments
        .iter()
        .find(|d| d.task_definition == task_definition)
        .map(|d| d.id.clone())
}

/// Degraded's message for a failed rollout of `failed`, rolled back to `target`
/// ([`History::rollback_target`]), its tasks having failed for `reason` (ECS's `stoppedReason`).
#[must_use]
pub fn failure_message(
    failed: &str,
    breaker: Option<&Breaker>,
    target: Option<&str>,
    reason: Option<&str>,
) -> String {
    let threshold = breaker.map_or(String::new(), |b| format!(" ({} failed tasks)", b.threshold));
    let threshold = match reason {
        Some(reason) => format!("{threshold}: {reason}"),
        None => threshold,
    };
    let what_now = match (breaker.is_some_and(|b| b.rollback), target) {
        (true, Some(c)) => format!("rolled back to {c}"),
        (true, None) => "no earlier deployment completed, so there is nothing to roll back to".to_owned(),
        (false, _) => "rollback is off, so the deployment is paused".to_owned(),
    };
    format!(
        "ECS deployment circuit breaker: tasks of {failed} failed to start{threshold}; {what_now}. \
         Register a fixed revision (or point spec.taskDefinition at one) to deploy again."
    )
}
