//! Status (pure but for the writes; the clock comes in as `now`): [`observe`] what the reconcile
//! did and [`compute`] the status in ECS's words, or [`invalid_status`]; the async [`update`] /
//! [`report_invalid`] write it with server-side apply, only when it changed (ignoring the
//! conditions' transition times, so our own writes cannot loop).

use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::Time};
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::controller::Action,
};

use super::{
    FIELD_MANAGER,
    apply::Applied,
    children::Children,
    decide::Plan,
    events::{self, Happening},
    observed,
    validate::Invalid,
};
use crate::{
    api::{
        Service, ServiceStatus,
        condition::{self, DEGRADED, PROGRESSING, READY},
        ecs::SchedulingStrategy,
        service::ServiceDeployment,
    },
    controller::{
        Context, Error,
        status::{MAX_MESSAGE_LEN, cut, translated_condition},
    },
    translate::{capacity::provider::PROVIDER_LABEL, labels, placement::needs, service::Workload},
};

/// ECS status of a service that exists.
pub const ACTIVE: &str = "ACTIVE";
/// Ready=True: every desired task runs.
pub const REASON_STEADY_STATE: &str = "SteadyState";
/// Ready=False: tasks are missing or not ready yet.
pub const REASON_TASKS_PENDING: &str = "TasksPending";
/// Progressing=True: tasks of the current revision are still replacing older ones.
pub const REASON_ROLLOUT_IN_PROGRESS: &str = "RolloutInProgress";
/// Progressing=False: every task runs the current revision.
pub const REASON_ROLLOUT_COMPLETED: &str = "RolloutCompleted";
/// Degraded=False.
pub const REASON_AS_EXPECTED: &str = "AsExpected";
/// Degraded=True: the circuit breaker failed the PRIMARY deployment.
pub const REASON_DEPLOYMENT_FAILED: &str = "DeploymentFailed";
/// Degraded=True: auto scaling policies read metrics nothing in the cluster serves (KEDA is
/// missing); the tasks keep running.
pub const REASON_METRICS_NOT_SERVED: &str = "MetricsNotServed";
/// Degraded=True: the deployment configuration lets no task be stopped or started.
pub const REASON_ROLLOUT_BLOCKED: &str = "RolloutBlocked";

/// The label selector of a Service's tasks, for the scale subresource.
#[must_use]
pub fn selector(name: &str) -> String {
    format!("{}={name}", labels::SERVICE)
}

/// What the reconcile observed besides the workload: ECS deployments, the tasks, and the
/// rollout's troubles.
#[derive(Debug, Clone, Default)]
pub struct Observation<'a> {
    /// ECS `deployments[]`, PRIMARY first.
    pub deployments: Vec<ServiceDeployment>,
    /// The Service's tasks.
    pub pods: &'a [Pod],
    /// Why the rollout cannot move, if it cannot (the ECS message).
    pub blocked: Option<String>,
    /// The deployment the circuit breaker rolls back to, when it starts doing so now.
    pub rolling_back_to: Option<String>,
    /// While the breaker's rollback is in effect: the failed and the target task definitions.
    pub rolled_back: Option<(String, String)>,
    /// Why the PRIMARY deployment failed, when it did (Degraded's message).
    pub failure: Option<String>,
    /// Why its tasks failed, in ECS's words (`stoppedReason`), when known.
    pub failed_reason: Option<String>,
    /// Why tasks are pending, when one cannot be placed ([`unplaceable`]: the scheduler's
    /// message and what the placement needs of a node) or cannot start (ECS's `stoppedReason`).
    pub why_pending: Option<String>,
}

/// The status `svc` should have after `applied` with nothing else observed (no deployments, no
/// tasks, no failure): see [`compute`].
#[must_use]
pub fn compute_status(svc: &Service, applied: &Applied, now: Time) -> ServiceStatus {
    compute(svc, applied, &Observation::default(), now).0
}

/// The status `svc` should have after `applied` and what was `observed`, starting from its
/// current status (fields and conditions this step does not compute are kept;
/// `lastTransitionTime` only moves on a flip), and what happened since the current status (the
/// new entries of `events[]`, for Kubernetes Events too).
///
/// `now` is the transition time of conditions whose status changes and the time of new events.
#[must_use]
pub fn compute(
    svc: &Service,
    applied: &Applied,
    observed: &Observation<'_>,
    now: Time,
) -> (ServiceStatus, Vec<Happening>) {
    let generation = svc.metadata.generation;
    let name = svc.meta().name.clone().unwrap_or_default();
    let counts = observed::counts(svc, &applied.workload);
    let previous = svc.status.clone().unwrap_or_default();
    let mut status = base_status(svc, &name);
    status.desired_count = Some(counts.desired);
    status.running_count = Some(counts.running);
    status.pending_count = Some(counts.pending);
    status.task_definition = Some(applied.task_definition.clone());
    status.deployments.clone_from(&observed.deployments);
    status.capacity_provider_strategy = applied.strategy.as_ref().map(|s| s.0.clone()).unwrap_or_default();
    status.capacity_provider_strategy_source = applied.strategy.as_ref().map(|s| s.1.as_str().to_owned());
    status.auto_scaling.clone_from(&applied.auto_scaling);

    let kind = match &applied.workload {
        Workload::Deployments(d) if d.len() > 1 => "Deployments",
        Workload::Deployments(_) => "Deployment",
        Workload::DaemonSet(_) => "DaemonSet",
    };
    // The workload's objects: the Service's name, or its Deployments' names when split.
    let objects = match &applied.workload {
        Workload::Deployments(d)
            if d.len() > 1
                || d.iter()
                    .any(|d| d.metadata.name.as_deref() != Some(name.as_str())) =>
        {
            d.iter()
                .filter_map(|d| d.metadata.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => name.clone(),
    };
    let (running, desired, pending) = (counts.running, counts.desired, counts.pending);
    let ready = if !counts.caught_up {
        condition::new(
            READY,
            false,
            REASON_TASKS_PENDING,
            format!(
                "The {kind} has not observed its latest spec yet; {running} of {desired} tasks are running."
            ),
            generation,
            now.clone(),
        )
    } else if running == desired {
        condition::new(
            READY,
            true,
            REASON_STEADY_STATE,
            format!("(service {name}) has reached a steady state: {running} of {desired} tasks are running."),
            generation,
            now.clone(),
        )
    } else {
        let message = match &observed.why_pending {
            Some(why) => format!("{running} of {desired} tasks are running, {pending} pending. {why}"),
            None => format!("{running} of {desired} tasks are running, {pending} pending."),
        };
        condition::new(
            READY,
            false,
            REASON_TASKS_PENDING,
            cut(&message, MAX_MESSAGE_LEN),
            generation,
            now.clone(),
        )
    };
    let progressing = if counts.rolled_out {
        condition::new(
            PROGRESSING,
            false,
            REASON_ROLLOUT_COMPLETED,
            format!("Every task runs {}.", applied.task_definition),
            generation,
            now.clone(),
        )
    } else {
        condition::new(
            PROGRESSING,
            true,
            REASON_ROLLOUT_IN_PROGRESS,
            format!("Rolling out {} ({kind} {objects}).", applied.task_definition),
            generation,
            now.clone(),
        )
    };
    let degraded = match troubles(applied, observed).as_slice() {
        [] => condition::new(
            DEGRADED,
            false,
            REASON_AS_EXPECTED,
            "No failures observed.",
            generation,
            now.clone(),
        ),
        // The gravest trouble names the reason; the message tells every one of them.
        troubles @ [(reason, _), ..] => condition::new(
            DEGRADED,
            true,
            reason,
            troubles
                .iter()
                .map(|(_, message)| message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            generation,
            now.clone(),
        ),
    };
    let translated = translated_condition(&applied.translation.notes(), generation, now.clone());
    // Steadiness (every desired task running the applied spec) is what ECS's steady-state event
    // reports; Ready also needs nothing the user must fix, so a Degraded Service is not Ready.
    let ready_after = ready.status == "True";
    let ready_before = was_steady(&previous);
    let ready = if degraded.status == "True" {
        condition::new(
            READY,
            false,
            &degraded.reason,
            cut(
                &format!(
                    "{running} of {desired} tasks are running, but: {}",
                    degraded.message
                ),
                MAX_MESSAGE_LEN,
            ),
            generation,
            now.clone(),
        )
    } else {
        ready
    };
    for c in [ready, progressing, degraded, translated] {
        condition::set(&mut status.conditions, c);
    }
    let (health, reason) = condition::health(&status.conditions);
    status.health = Some(health.to_owned());
    status.health_reason = Some(reason);
    let happened = events::happenings(&events::Observed {
        service: &name,
        events: &previous.events,
        before: &previous.deployments,
        after: &status.deployments,
        ready_before,
        ready_after,
        pods: observed.pods,
        blocked: observed.blocked.as_deref(),
        rolling_back_to: observed.rolling_back_to.as_deref(),
        rolled_back: observed
            .rolled_back
            .as_ref()
            .map(|(failed, target)| (failed.as_str(), target.as_str())),
        failed_reason: observed.failed_reason.as_deref(),
        replaced: applied
            .replaced_task
            .as_ref()
            .map(|(task, container)| (task.as_str(), container.as_str())),
    });
    status.events = events::record(&name, &previous.events, &happened, &now);
    (status, happened)
}

/// Whether the Service was steady in `previous`: `Ready=True`, or `Ready=False` only because it
/// was Degraded (same reason) while every desired task ran.
fn was_steady(previous: &ServiceStatus) -> bool {
    let ready = condition::find(&previous.conditions, READY);
    let degraded = condition::find(&previous.conditions, DEGRADED).filter(|c| c.status == "True");
    match (ready, degraded) {
        (Some(r), _) if r.status == "True" => true,
        (Some(r), Some(d)) => {
            r.reason == d.reason
                && previous.running_count.is_some()
                && previous.running_count == previous.desired_count
        }
        _ => false,
    }
}

/// What makes the Service `Degraded`, gravest first, as (reason, message): a deployment the
/// circuit breaker failed, then a rollout the deployment configuration blocks, then the
/// networking objects the cluster could not take ([`Applied::problems`]).
fn troubles(applied: &Applied, observed: &Observation<'_>) -> Vec<(&'static str, String)> {
    let mut troubles = Vec::new();
    if let Some(failure) = &observed.failure {
        troubles.push((REASON_DEPLOYMENT_FAILED, failure.clone()));
    }
    if let Some(blocked) = &observed.blocked {
        troubles.push((REASON_ROLLOUT_BLOCKED, blocked.clone()));
    }
    if let Some(unserved) = &applied.unserved_scaling {
        troubles.push((REASON_METRICS_NOT_SERVED, unserved.clone()));
    }
    if !applied.problems.is_empty() {
        // (apply.rs says which objects and why.)
        troubles.push((
            super::apply::REASON_DEPENDENTS_NOT_APPLIED,
            applied.problems.join("; "),
        ));
    }
    troubles
}

/// The status of a Service that cannot be reconciled: `Ready` and `Progressing` False with the
/// reason and message of `invalid`; other fields and conditions are kept.
#[must_use]
pub fn invalid_status(svc: &Service, invalid: &Invalid, now: Time) -> ServiceStatus {
    let generation = svc.metadata.generation;
    let name = svc.meta().name.clone().unwrap_or_default();
    let mut status = base_status(svc, &name);
    for type_ in [READY, PROGRESSING] {
        condition::set(
            &mut status.conditions,
            condition::new(
                type_,
                false,
                invalid.reason,
                invalid.message.clone(),
                generation,
                now.clone(),
            ),
        );
    }
    let (health, reason) = condition::health(&status.conditions);
    status.health = Some(health.to_owned());
    status.health_reason = Some(reason);
    status
}

/// The current status with what every reconcile sets: generation, ECS status, spec count, selector.
fn base_status(svc: &Service, name: &str) -> ServiceStatus {
    let mut status = svc.status.clone().unwrap_or_default();
    status.observed_generation = svc.metadata.generation;
    status.status = Some(ACTIVE.to_owned());
    // With DAEMON (one task per node) the spec's count is not authoritative: keep the last
    // observed one. (Auto scaling changes the spec's count itself, as AAS changes desiredCount.)
    let daemon = svc.spec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon);
    if !daemon && let Some(desired) = svc.spec.service.desired_count {
        status.desired_count = Some(desired);
    }
    status.selector = Some(selector(name));
    status
}

pub use crate::controller::status::same_status;

/// The server-side apply body that sets `status` on a Service.
#[must_use]
pub fn status_patch(status: &ServiceStatus) -> serde_json::Value {
    crate::controller::status::status_patch::<Service>(status)
}

/// Writes `status` to the status subresource of Service `name` with server-side apply (field
/// manager [`FIELD_MANAGER`], forced).
///
/// # Errors
/// [`Error::Kube`] when the API server refuses or cannot be reached.
pub async fn patch_status(api: &Api<Service>, name: &str, status: &ServiceStatus) -> Result<(), Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(name, &params, &Patch::Apply(status_patch(status)))
        .await?;
    Ok(())
}

/// Writes `desired` unless the current status already says the same.
async fn write(ctx: &Context, svc: &Service, namespace: &str, desired: &ServiceStatus) -> Result<(), Error> {
    if same_status(svc.status.as_ref(), desired) {
        tracing::debug!("status up to date");
        return Ok(());
    }
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), namespace);
    patch_status(&api, &svc.meta().name.clone().unwrap_or_default(), desired).await?;
    tracing::info!(generation = desired.observed_generation, "status updated");
    Ok(())
}

/// What the status reports of `plan` and of the `applied` workload of `svc` with its
/// `children`, at `now`: the ECS deployments (those of the circuit breaker's failed task
/// definition FAILED), the tasks, and the rollout's troubles; custom attributes are node labels
/// under `attribute_prefix`.
#[must_use]
pub fn observe<'a>(
    svc: &Service,
    plan: &Plan<'_>,
    applied: &Applied,
    children: &'a Children,
    attribute_prefix: &str,
    now: &Time,
) -> Observation<'a> {
    Observation {
        deployments: observed::of_workload(
            svc,
            &applied.workload,
            &applied.task_definition,
            children,
            plan.history.failed.as_deref(),
            plan.breaker.as_ref(),
            &applied.replaced,
            now,
        ),
        pods: &children.pods,
        blocked: plan.blocked.clone(),
        rolling_back_to: plan.rolling_back_to.clone(),
        rolled_back: plan.rolled_back.clone(),
        failure: plan.failure.clone(),
        failed_reason: plan.history.failed_reason.clone(),
        why_pending: why_pending(&children.pods, &applied.workload, attribute_prefix),
    }
}

/// Why tasks among `pods` are pending: one cannot be placed ([`unplaceable`]), else one cannot
/// start (ECS's `stoppedReason`, [`super::stopped_reason`]).
#[must_use]
pub fn why_pending(pods: &[Pod], workload: &Workload, attribute_prefix: &str) -> Option<String> {
    unplaceable(pods, workload, attribute_prefix)
        .or_else(|| super::stopped_reason::of_pods(pods).map(|r| format!("A task cannot start: {r}.")))
}

/// Why one of `pods` cannot be placed, when one cannot: the scheduler's message, and what the
/// pod template of `workload` needs of a node, in node labels and ECS attributes
/// ([`needs::node_requirements`]).
#[must_use]
pub fn unplaceable(pods: &[Pod], workload: &Workload, attribute_prefix: &str) -> Option<String> {
    // The first pod that cannot be placed, and the capacity provider it is for (split Services).
    let (pod, reason) = pods
        .iter()
        .find_map(|p| super::stopped_reason::unschedulable([p]).map(|r| (p, r)))?;
    let provider = pod.labels().get(PROVIDER_LABEL);
    let template = match workload {
        Workload::Deployments(d) => d
            .iter()
            .find(|d| d.labels().get(PROVIDER_LABEL) == provider)
            .or(d.first())
            .and_then(|d| d.spec.as_ref())
            .map(|s| &s.template),
        Workload::DaemonSet(d) => d.spec.as_ref().map(|s| &s.template),
    };
    let needs = template
        .and_then(|t| t.spec.as_ref())
        .map(|spec| needs::node_requirements(spec, attribute_prefix))
        .unwrap_or_default();
    let on = provider.map_or(String::new(), |p| format!(" on capacity provider {p}"));
    Some(if needs.is_empty() {
        format!("A task cannot be placed{on}: {reason}.")
    } else {
        format!(
            "A task cannot be placed{on}: {reason}. Its placement needs a node with {}.",
            needs.join(", or ")
        )
    })
}

/// Computes the status of `svc` after `plan` and `applied` ([`observe`], [`compute`]), writes it
/// when it changed, then publishes a Kubernetes Event for each new ECS event (best effort: a
/// failed publish is logged; the ECS event is in the status). Returns the status.
///
/// # Errors
/// [`Error::Kube`] when the status write fails.
pub async fn update(
    ctx: &Context,
    svc: &Service,
    namespace: &str,
    plan: &Plan<'_>,
    applied: &Applied,
    children: &Children,
    now: Time,
) -> Result<ServiceStatus, Error> {
    let observed = observe(
        svc,
        plan,
        applied,
        children,
        &ctx.config.options.attribute_prefix,
        &now,
    );
    let (desired, happened) = compute(svc, applied, &observed, now);
    write(ctx, svc, namespace, &desired).await?;
    publish(ctx, svc, &happened).await;
    Ok(desired)
}

/// Publishes `happened` as Kubernetes Events about `svc`.
async fn publish(ctx: &Context, svc: &Service, happened: &[Happening]) {
    let reference = svc.object_ref(&());
    let now = k8s_openapi::jiff::Timestamp::now();
    for h in happened {
        let what = crate::controller::recorder::Occurrence {
            warning: h.warning,
            reason: h.reason,
            action: match h.reason {
                "TasksStarted" => "StartTasks",
                "UnableToPlaceTask" => "PlaceTask",
                "SteadyState" => "Reconcile",
                _ => "Deploy",
            },
            note: &h.message,
        };
        if let Err(e) = ctx.recorder.publish(&reference, what, now).await {
            tracing::warn!(reason = h.reason, error = %e, "could not publish an event");
        }
    }
}

/// Reports `invalid` in the status of `svc` and waits for a change: retrying cannot help, an edit
/// of the Service or of a TaskDefinition re-triggers the reconcile.
///
/// # Errors
/// [`Error::Kube`] when the status write fails.
pub async fn report_invalid(
    ctx: &Context,
    svc: &Service,
    namespace: &str,
    invalid: &Invalid,
    now: Time,
) -> Result<Action, Error> {
    tracing::info!(reason = invalid.reason, message = %invalid.message, "service is not valid");
    let desired = invalid_status(svc, invalid, now);
    write(ctx, svc, namespace, &desired).await?;
    // A Warning Event once per new refusal (not for a wait).
    let told = svc
        .status
        .as_ref()
        .and_then(|s| condition::find(&s.conditions, READY))
        .is_some_and(|c| c.reason == invalid.reason && c.message == invalid.message);
    if !told && !condition::WAITING_REASONS.contains(&invalid.reason) {
        let refused = Happening {
            reason: invalid.reason,
            warning: true,
            message: invalid.message.clone(),
        };
        publish(ctx, svc, std::slice::from_ref(&refused)).await;
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use crate::api::condition::TRANSLATED;
    use k8s_openapi::api::apps::v1::{DaemonSetStatus, DeploymentSpec, DeploymentStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

    use k8s_openapi::{
        api::apps::v1::{DaemonSet, Deployment},
        jiff::Timestamp,
    };

    use super::*;
    use crate::{
        api::autoscaling::AutoScaling,
        controller::{service::build::Translation, testing},
        translate::{NoteKind, Report},
    };

    fn t(seconds: i64) -> Time {
        Time(Timestamp::from_second(1_700_000_000 + seconds).expect("a time"))
    }

    fn cond<'a>(status: &'a ServiceStatus, type_: &str) -> &'a Condition {
        condition::find(&status.conditions, type_).unwrap_or_else(|| panic!("a {type_} condition"))
    }

    /// A Deployment at `generation` whose controller reports these counts.
    fn deployment(generation: i64, observed: i64, replicas: i32, ready: i32, updated: i32) -> Workload {
        let mut d = Deployment::default();
        d.metadata.generation = Some(generation);
        d.spec = Some(DeploymentSpec {
            replicas: Some(3),
            ..Default::default()
        });
        d.status = Some(DeploymentStatus {
            observed_generation: Some(observed),
            replicas: Some(replicas),
            ready_replicas: Some(ready),
            updated_replicas: Some(updated),
            ..Default::default()
        });
        Workload::Deployments(vec![d])
    }

    fn applied(workload: Workload) -> Applied {
        Applied {
            workload,
            task_definition: "web:2".into(),
            translation: Translation::default(),
            problems: Vec::new(),
            strategy: None,
            auto_scaling: None,
            unserved_scaling: None,
            replaced: Default::default(),
            replaced_task: None,
        }
    }

    #[test]
    fn a_degraded_service_is_not_ready_and_its_steady_state_is_told_once() {
        // Every desired task runs, but the deployment failed (the breaker rolled back): ECS's
        // steady-state event, yet Ready=False for the failure, and Argo CD's health Degraded.
        let mut svc = testing::service("team-a", "front", 1, "web");
        let running = applied(deployment(2, 2, 3, 3, 3));
        let failed = Observation {
            failure: Some("(deployment ecs-svc/1) deployment failed: tasks failed to start.".into()),
            ..Observation::default()
        };
        let (status, happened) = compute(&svc, &running, &failed, t(0));
        let ready = cond(&status, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "DeploymentFailed")
        );
        assert_eq!(
            ready.message,
            "3 of 3 tasks are running, but: (deployment ecs-svc/1) deployment failed: tasks failed to start."
        );
        assert_eq!(
            (status.health.as_deref(), status.health_reason.as_deref()),
            (Some("Degraded"), Some("DeploymentFailed"))
        );
        let steady = |h: &[Happening]| h.iter().filter(|h| h.reason == "SteadyState").count();
        assert_eq!(steady(&happened), 1);
        // The next reconcile, still steady and still failed: no second steady-state event.
        svc.status = Some(status);
        let (status, happened) = compute(&svc, &running, &failed, t(10));
        assert_eq!(steady(&happened), 0, "{happened:?}");
        // Fixed: Ready, Healthy, and still no second steady-state event.
        svc.status = Some(status);
        let (status, happened) = compute(&svc, &running, &Observation::default(), t(20));
        assert_eq!(cond(&status, READY).status, "True");
        assert_eq!(status.health.as_deref(), Some("Healthy"));
        assert_eq!(steady(&happened), 0, "{happened:?}");
    }

    #[test]
    fn degraded_names_the_gravest_trouble_and_tells_them_all() {
        let svc = testing::service("team-a", "front", 1, "web");
        let mut networked = applied(deployment(2, 2, 3, 3, 3));
        networked.problems = vec![
            "TargetGroupBinding not served".into(),
            "Service not applied: x".into(),
        ];
        let degraded = |applied: &Applied, observed: &Observation<'_>| {
            let (status, _) = compute(&svc, applied, observed, t(0));
            let c = cond(&status, DEGRADED);
            (c.status.clone(), c.reason.clone(), c.message.clone())
        };
        // Networking problems alone.
        assert_eq!(
            degraded(&networked, &Observation::default()),
            (
                "True".into(),
                "DependentsNotApplied".into(),
                "TargetGroupBinding not served; Service not applied: x".into()
            )
        );
        // A blocked rollout comes first, then the networking.
        let blocked = Observation {
            blocked: Some("unable to stop or start tasks".into()),
            ..Observation::default()
        };
        assert_eq!(
            degraded(&networked, &blocked),
            (
                "True".into(),
                "RolloutBlocked".into(),
                "unable to stop or start tasks; TargetGroupBinding not served; Service not applied: x".into()
            )
        );
        // A failed deployment before everything.
        let failed = Observation {
            failure: Some("circuit breaker".into()),
            ..blocked
        };
        assert_eq!(
            degraded(&networked, &failed),
            (
                "True".into(),
                "DeploymentFailed".into(),
                "circuit breaker; unable to stop or start tasks; TargetGroupBinding not served; \
                 Service not applied: x"
                    .into()
            )
        );
        // Only the failure: its message as it is.
        let only_failed = Observation {
            failure: Some("circuit breaker".into()),
            ..Observation::default()
        };
        assert_eq!(
            degraded(&applied(deployment(2, 2, 3, 3, 3)), &only_failed),
            ("True".into(), "DeploymentFailed".into(), "circuit breaker".into())
        );
        assert_eq!(
            degraded(&applied(deployment(2, 2, 3, 3, 3)), &Observation::default()),
            (
                "False".into(),
                "AsExpected".into(),
                "No failures observed.".into()
            )
        );
    }

    #[test]
    fn steady_state_when_every_desired_task_is_ready() {
        let svc = testing::service("team-a", "front", 4, "web");
        let status = compute_status(&svc, &applied(deployment(7, 7, 3, 3, 3)), t(0));
        assert_eq!(status.observed_generation, Some(4));
        assert_eq!(status.status.as_deref(), Some("ACTIVE"));
        assert_eq!(status.desired_count, Some(3));
        assert_eq!(status.running_count, Some(3));
        assert_eq!(status.pending_count, Some(0));
        assert_eq!(status.task_definition.as_deref(), Some("web:2"));
        assert_eq!(status.selector.as_deref(), Some("ecsbridge.io/service=front"));
        let ready = cond(&status, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "SteadyState")
        );
        assert_eq!(ready.observed_generation, Some(4));
        let progressing = cond(&status, PROGRESSING);
        assert_eq!(
            (progressing.status.as_str(), progressing.reason.as_str()),
            ("False", "RolloutCompleted")
        );
        let degraded = cond(&status, DEGRADED);
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("False", "AsExpected")
        );
        let translated = cond(&status, TRANSLATED);
        assert_eq!(translated.status, "True");
        assert_eq!(status.conditions.len(), 4);
    }

    #[test]
    fn a_task_that_cannot_be_placed_says_which_node_label_it_needs() {
        let svc = testing::service("team-a", "front", 1, "web");
        let Workload::Deployments(mut ds) = deployment(2, 2, 3, 2, 3) else {
            unreachable!()
        };
        let mut d = ds.remove(0);
        let compiled = crate::translate::placement::explain(
            "attribute:stack == linkerd-viz",
            None,
            crate::translate::placement::attributes::DEFAULT_PREFIX,
        )
        .expect("compiles");
        d.spec.as_mut().expect("spec").template.spec = Some(
            serde_json::from_value(serde_json::json!({"containers": [],
                "affinity": {"nodeAffinity": compiled["nodeAffinity"]}}))
            .expect("a pod spec"),
        );
        let workload = Workload::Deployments(vec![d]);
        let pending: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "front-1"},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}
        }))
        .expect("a pod");
        let why = unplaceable(
            std::slice::from_ref(&pending),
            &workload,
            crate::translate::placement::attributes::DEFAULT_PREFIX,
        );
        let observed = Observation {
            why_pending: why,
            ..Observation::default()
        };
        let (status, _) = compute(&svc, &applied(workload), &observed, t(0));
        let ready = cond(&status, READY);
        assert_eq!(ready.reason, "TasksPending");
        assert_eq!(
            ready.message,
            "2 of 3 tasks are running, 1 pending. A task cannot be placed: 0/3 nodes are available: 3 \
             node(s) didn't match Pod's node affinity/selector. Its placement needs a node with node \
             label ecsbridge.io/attr-stack=linkerd-viz (attribute:stack == linkerd-viz)."
        );
    }

    #[test]
    fn a_task_that_cannot_start_says_why_in_ecs_words() {
        let svc = testing::service("team-a", "front", 1, "web");
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "front-1"},
            "spec": {"nodeName": "node-1", "containers": []},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "image": "x",
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "CreateContainerConfigError",
                    "message": "secret \"db\" not found"}}}]}
        }))
        .expect("a pod");
        let workload = deployment(2, 2, 3, 2, 3);
        let why_pending = why_pending(std::slice::from_ref(&pod), &workload, "ecsbridge.io/attr-");
        let observed = Observation {
            why_pending,
            ..Observation::default()
        };
        let (status, _) = compute(&svc, &applied(workload), &observed, t(0));
        assert_eq!(
            cond(&status, READY).message,
            "2 of 3 tasks are running, 1 pending. A task cannot start: ResourceInitializationError: \
             secret \"db\" not found."
        );
    }

    #[test]
    fn tasks_not_ready_are_pending() {
        let svc = testing::service("team-a", "front", 1, "web");
        let status = compute_status(&svc, &applied(deployment(2, 2, 3, 1, 3)), t(0));
        assert_eq!(
            (status.running_count, status.pending_count, status.desired_count),
            (Some(1), Some(2), Some(3))
        );
        let ready = cond(&status, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "TasksPending")
        );
        assert_eq!(ready.message, "1 of 3 tasks are running, 2 pending.");
        // Every task is of the current template, but not running: not COMPLETED yet (ECS
        // completes a deployment when its tasks run, not when they are created).
        let progressing = cond(&status, PROGRESSING);
        assert_eq!(
            (progressing.status.as_str(), progressing.reason.as_str()),
            ("True", "RolloutInProgress")
        );
        let status = compute_status(&svc, &applied(deployment(2, 2, 3, 0, 3)), t(0));
        assert_eq!(cond(&status, PROGRESSING).status, "True", "0 of 3 running");
        assert_eq!(status.health.as_deref(), Some("Progressing"));
    }

    #[test]
    fn not_ready_until_the_deployment_observed_its_generation() {
        let svc = testing::service("team-a", "front", 1, "web");
        // Counts look right, but they describe the previous spec.
        let status = compute_status(&svc, &applied(deployment(3, 2, 3, 3, 3)), t(0));
        let ready = cond(&status, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "TasksPending")
        );
        assert_eq!(cond(&status, PROGRESSING).status, "True");
    }

    #[test]
    fn old_tasks_still_running_mean_progressing() {
        let svc = testing::service("team-a", "front", 1, "web");
        // 3 ready, but only 1 runs the new template and 4 exist (surge).
        let status = compute_status(&svc, &applied(deployment(2, 2, 4, 3, 1)), t(0));
        assert_eq!(cond(&status, READY).status, "True");
        let progressing = cond(&status, PROGRESSING);
        assert_eq!(
            (progressing.status.as_str(), progressing.reason.as_str()),
            ("True", "RolloutInProgress")
        );
        assert_eq!(status.pending_count, Some(1));
    }

    #[test]
    fn a_fresh_deployment_without_status_counts_zero() {
        let svc = testing::service("team-a", "front", 1, "web");
        let mut d = Deployment::default();
        d.metadata.generation = Some(1);
        let status = compute_status(&svc, &applied(Workload::Deployments(vec![d])), t(0));
        assert_eq!(
            (status.desired_count, status.running_count, status.pending_count),
            (Some(3), Some(0), Some(0))
        );
        assert_eq!(cond(&status, READY).status, "False");
    }

    #[test]
    fn auto_scaling_reports_the_services_count() {
        let mut svc = testing::service("team-a", "front", 1, "web");
        svc.spec.service.desired_count = Some(1);
        svc.spec.auto_scaling = Some(AutoScaling {
            min_capacity: 1,
            max_capacity: 5,
            ..Default::default()
        });
        // The HPA scaled the Service to 3 (its scale subresource writes desiredCount) and the
        // Deployment runs 3.
        svc.spec.service.desired_count = Some(3);
        let status = compute_status(&svc, &applied(deployment(1, 1, 3, 3, 3)), t(0));
        assert_eq!(status.desired_count, Some(3));
        assert_eq!(cond(&status, READY).status, "True");
    }

    #[test]
    fn daemon_sets_count_scheduled_and_ready_tasks() {
        let svc = testing::service("team-a", "agent", 1, "web");
        let mut d = DaemonSet::default();
        d.metadata.generation = Some(1);
        d.status = Some(DaemonSetStatus {
            observed_generation: Some(1),
            desired_number_scheduled: 4,
            current_number_scheduled: 4,
            number_ready: 3,
            updated_number_scheduled: Some(4),
            ..Default::default()
        });
        let status = compute_status(&svc, &applied(Workload::DaemonSet(Box::new(d))), t(0));
        assert_eq!(
            (status.desired_count, status.running_count, status.pending_count),
            (Some(4), Some(3), Some(1))
        );
        assert_eq!(cond(&status, READY).reason, "TasksPending");
        // A task of the current template is not ready yet: the rollout is not complete.
        assert_eq!(cond(&status, PROGRESSING).status, "True");
    }

    #[test]
    fn translated_lists_the_notes() {
        let svc = testing::service("team-a", "front", 1, "web");
        let mut a = applied(deployment(1, 1, 3, 3, 3));
        let mut service = Report::default();
        service.note(NoteKind::NotYetTranslated, "loadBalancers", "kept in the spec");
        let mut td = Report::default();
        td.note(NoteKind::Ignored, "cpu", "no task-level limit");
        a.translation = Translation {
            service,
            task_definition: td,
            task_definition_object: "web".into(),
        };
        let status = compute_status(&svc, &a, t(0));
        let translated = cond(&status, TRANSLATED);
        assert_eq!(
            (translated.status.as_str(), translated.reason.as_str()),
            ("False", "FieldsNotTranslated")
        );
        assert_eq!(
            translated.message,
            "2 fields not carried over exactly: spec.loadBalancers: not translated yet: kept in the spec; \
             TaskDefinition web: spec.cpu: ignored: no task-level limit"
        );
    }

    #[test]
    fn unchanged_status_needs_no_patch_and_keeps_transition_times() {
        let mut svc = testing::service("team-a", "front", 1, "web");
        let a = applied(deployment(1, 1, 3, 3, 3));
        svc.status = Some(compute_status(&svc, &a, t(0)));
        let later = compute_status(&svc, &a, t(600));
        assert!(same_status(svc.status.as_ref(), &later));
        assert_eq!(cond(&later, READY).last_transition_time, t(0));
        // A flip moves the time and needs a patch.
        let flipped = compute_status(&svc, &applied(deployment(1, 1, 3, 2, 3)), t(900));
        assert!(!same_status(svc.status.as_ref(), &flipped));
        assert_eq!(cond(&flipped, READY).last_transition_time, t(900));
        assert_eq!(cond(&flipped, DEGRADED).last_transition_time, t(0));
        assert!(!same_status(None, &later));
    }

    #[test]
    fn invalid_status_sets_ready_and_progressing_false() {
        let mut svc = testing::service("team-a", "front", 5, "web");
        let a = applied(deployment(1, 1, 3, 3, 3));
        svc.status = Some(compute_status(&svc, &a, t(0)));
        let invalid = Invalid {
            reason: "TaskDefinitionNotFound",
            message: "spec.taskDefinition \"web\": gone".into(),
        };
        let status = invalid_status(&svc, &invalid, t(60));
        assert_eq!(status.observed_generation, Some(5));
        for type_ in [READY, PROGRESSING] {
            let c = cond(&status, type_);
            assert_eq!(
                (c.status.as_str(), c.reason.as_str(), c.message.as_str()),
                (
                    "False",
                    "TaskDefinitionNotFound",
                    "spec.taskDefinition \"web\": gone"
                ),
                "{type_}"
            );
        }
        assert_eq!(
            cond(&status, READY).last_transition_time,
            t(60),
            "flipped from True"
        );
        assert_eq!(status.running_count, Some(3), "last observed counts are kept");
        assert_eq!(status.selector.as_deref(), Some("ecsbridge.io/service=front"));
        assert_eq!(status.desired_count, Some(3), "spec.desiredCount");

        // DAEMON ignores desiredCount: the last observed count stays.
        svc.spec.service.scheduling_strategy = Some(SchedulingStrategy::Daemon);
        svc.spec.service.desired_count = Some(9);
        assert_eq!(invalid_status(&svc, &invalid, t(60)).desired_count, Some(3));
    }

    #[test]
    fn patch_body_has_api_version_kind_and_status_only() {
        let svc = testing::service("team-a", "front", 1, "web");
        let body = status_patch(&compute_status(&svc, &applied(deployment(1, 1, 3, 3, 3)), t(0)));
        assert_eq!(body["apiVersion"], "ecsbridge.io/v1alpha1");
        assert_eq!(body["kind"], "Service");
        assert_eq!(body["status"]["observedGeneration"], 1);
        assert_eq!(body["status"]["runningCount"], 3);
        assert!(body.get("spec").is_none());
    }
}
