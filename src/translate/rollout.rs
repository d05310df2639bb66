//! A service's `deploymentConfiguration` and `deploymentController` → the workload's rolling
//! update, the circuit breaker's parameters, and notes (ecs-reference §2.4–2.6; design.md
//! "Rollouts").
//!
//! # ECS's bounds
//!
//! During a deployment ECS keeps at least `minTasks = ceil(desired × minimumHealthyPercent / 100)`
//! tasks RUNNING and healthy and at most `maxTasks = floor(desired × maximumPercent / 100)` tasks
//! RUNNING or PENDING ([`bounds`]). The defaults are 100/200 for REPLICA and 0/100 for DAEMON.
//! ECS's worked examples, which the tests check:
//! - desired 4, minimumHealthyPercent 50: ceil(2) = 2, so 2 old tasks may stop first;
//! - desired 2, minimumHealthyPercent 75: ceil(1.5) = 2, so no old task may stop first;
//! - desired 4, maximumPercent 200: floor(8) = 8, so 4 new tasks may start first;
//! - desired 3, maximumPercent 125: floor(3.75) = 3, so no extra task may start.
//!
//! # REPLICA → Deployment `strategy`
//!
//! `RollingUpdate` with absolute numbers computed from `desiredCount`:
//! `maxSurge = maxTasks − desired` and `maxUnavailable = desired − minTasks`. Kubernetes keeps
//! at least `replicas − maxUnavailable` pods available and at most `replicas + maxSurge` pods,
//! which are then ECS's bounds exactly (a property test checks it). Percentages would not do:
//! Kubernetes rounds a maxSurge percentage **up** where ECS rounds maxTasks **down**
//! (<https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#max-surge>).
//! An absent `desiredCount` counts as 1, the `replicas` Kubernetes then defaults to.
//!
//! With auto scaling the same holds: auto scaling changes the Service's `desiredCount` (through
//! its scale subresource, as AAS changes it with UpdateService), and the Deployment follows with
//! `replicas` and the bounds recomputed for the new count.
//!
//! # DAEMON → DaemonSet `updateStrategy`
//!
//! ECS runs one daemon task per instance and never a second one beside it: `maximumPercent` must
//! be 100 (any other value is an error naming `deploymentConfiguration.maximumPercent`; ECS
//! refuses values above 100 and documents 100 as the only value), so `maxSurge` is 0.
//! `maxUnavailable` comes from `minimumHealthyPercent` over the number `n` of daemon tasks:
//! absolute `n − ceil(n × min / 100)` when `n` is known (`daemon_tasks`, e.g. the DaemonSet's
//! `status.desiredNumberScheduled`), else `(100 − min)%` with an Approximated note, as Kubernetes
//! rounds DaemonSet percentages **up** (so it may stop one task more than ECS). The default
//! minimumHealthyPercent 0 stops every daemon task at once, as ECS does.
//!
//! # When ECS cannot roll at all
//!
//! When no task may stop and none may start (`maxSurge` and `maxUnavailable` both 0, e.g.
//! min = max = 100, or desired 1 with min 100 / max 100, or a DAEMON with min 100), ECS's
//! deployment is stuck and the service reports "(service NAME) was unable to stop or start tasks
//! during a deployment because of the service deployment configuration. Update the
//! minimumHealthyPercent or maximumPercent value and try again." That message is
//! [`Rollout::blocked`], for the controller to act on (an event, a condition, not rolling the
//! template). Kubernetes refuses `maxSurge: 0` with `maxUnavailable: 0`, so the strategy still
//! has to be a valid one. **\[INF\]** The choice, if the workload does roll:
//! - a Deployment gets `maxSurge: 1, maxUnavailable: 0`: one task above maximumPercent for a
//!   while, never one below minimumHealthyPercent. Going over a capacity bound is recoverable, an
//!   outage of a single-task service is not; Kubernetes' own fallback (maxUnavailable 1) would
//!   stop the only task of a service of one.
//! - a DaemonSet gets `maxSurge: 0, maxUnavailable: 1` (Kubernetes' own fallback): a surge would
//!   run two daemon tasks on one node, which ECS never does.
//!
//! With nothing to roll (desired 0, or no daemon task) the rollout is not blocked; the strategy
//! is `maxSurge: 0, maxUnavailable: 1` (a Deployment) or `maxUnavailable: 1` (a DaemonSet), valid
//! and, with no task, the same bounds as ECS's (0 and 0).
//!
//! # Validation **\[INF\]**
//!
//! botocore's model gives no ranges; the developer guide says whole numbers and, for DAEMON,
//! maximumPercent 100. Here `minimumHealthyPercent` must be within 0–100 (above 100 no task could
//! ever be replaced by a rolling update, which Kubernetes cannot express: maxUnavailable ≥ 0) and
//! a REPLICA's `maximumPercent` at least 100 (below, the service could not even run its desired
//! count; maxSurge ≥ 0). min ≤ max then always holds. A negative `desiredCount` is an error.
//!
//! # Circuit breaker
//!
//! `deploymentCircuitBreaker` → [`Breaker`] (the parameters only; the controller counts the
//! failures): with `enable: true`, the failure threshold for a desired count is, by
//! `thresholdConfiguration.type` (default BOUNDED_PERCENT, value 50): BOUNDED_PERCENT
//! `clamp(ceil(value% × desired), 3, 200)`, UNBOUNDED_PERCENT `ceil(value% × desired)` (at least
//! 1), COUNT `value`. **\[INF\]** A `value` below 1 is an error naming the field (a threshold of 0
//! would fail every deployment before it starts). ECS uses "the latest service desired count";
//! [`breaker`], which the controller decides with, takes `desiredCount` (1 when absent: a DAEMON
//! or an auto-scaled service without one).
//!
//! # What is reported
//!
//! - `alarms` (when enabled): Ignored, CloudWatch alarms are not evaluated.
//! - `strategy` BLUE_GREEN / LINEAR / CANARY, `linearConfiguration`, `canaryConfiguration`:
//!   Approximated, the tasks are replaced by the rolling update above; no traffic is shifted.
//!   `bakeTimeInMinutes` and `lifecycleHooks`: Ignored.
//! - `deploymentController` CODE_DEPLOY / EXTERNAL: Approximated, not supported; the operator
//!   still rolls with ECS's rolling update (the bounds above and the circuit breaker).
//!   `deploymentController` ECS and `strategy` ROLLING are what this module does: no note.

use k8s_openapi::{
    api::apps::v1::{
        DaemonSetUpdateStrategy, DeploymentStrategy, RollingUpdateDaemonSet, RollingUpdateDeployment,
    },
    apimachinery::pkg::util::intstr::IntOrString,
};

use super::{NoteKind, Report, service::ServiceError};
use crate::api::{
    ServiceSpec,
    ecs::{
        DeploymentConfiguration, DeploymentControllerType, DeploymentStrategy as EcsStrategy,
        SchedulingStrategy, ThresholdType,
    },
};

/// Fields of the service this module translates (patterns, relative to `spec`).
pub const HANDLED: &[&str] = &[
    "deploymentConfiguration.minimumHealthyPercent",
    "deploymentConfiguration.maximumPercent",
    "deploymentConfiguration.deploymentCircuitBreaker.enable",
    "deploymentConfiguration.deploymentCircuitBreaker.rollback",
    "deploymentConfiguration.deploymentCircuitBreaker.resetOnHealthyTask",
    "deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration.type",
    "deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration.value",
    "deploymentConfiguration.alarms",
    "deploymentConfiguration.strategy",
    "deploymentConfiguration.bakeTimeInMinutes",
    "deploymentConfiguration.lifecycleHooks",
    "deploymentConfiguration.linearConfiguration",
    "deploymentConfiguration.canaryConfiguration",
    "deploymentController",
];

/// ECS's default `minimumHealthyPercent` of a REPLICA service.
pub const REPLICA_MINIMUM_HEALTHY_PERCENT: i32 = 100;
/// ECS's default `maximumPercent` of a REPLICA service.
pub const REPLICA_MAXIMUM_PERCENT: i32 = 200;
/// ECS's default `minimumHealthyPercent` of a DAEMON service (API, CLI and SDKs; the console
/// uses 50).
pub const DAEMON_MINIMUM_HEALTHY_PERCENT: i32 = 0;
/// The only `maximumPercent` of a DAEMON service.
pub const DAEMON_MAXIMUM_PERCENT: i32 = 100;

/// Field of `minimumHealthyPercent`, relative to `spec`.
const MIN_FIELD: &str = "deploymentConfiguration.minimumHealthyPercent";
/// Field of `maximumPercent`, relative to `spec`.
const MAX_FIELD: &str = "deploymentConfiguration.maximumPercent";

/// The bounds ECS keeps during a deployment, in tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskBounds {
    /// Fewest tasks RUNNING and healthy: `ceil(desired × minimumHealthyPercent / 100)`.
    pub min_tasks: i64,
    /// Most tasks RUNNING or PENDING: `floor(desired × maximumPercent / 100)`.
    pub max_tasks: i64,
}

/// ECS's bounds for `desired` tasks and the two percentages (all non-negative).
#[must_use]
pub fn bounds(desired: i64, minimum_healthy_percent: i64, maximum_percent: i64) -> TaskBounds {
    TaskBounds {
        min_tasks: (desired * minimum_healthy_percent + 99) / 100,
        max_tasks: desired * maximum_percent / 100,
    }
}

/// The workload's update strategy.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateStrategy {
    /// A REPLICA service's Deployment `strategy`.
    Deployment(DeploymentStrategy),
    /// A DAEMON service's DaemonSet `updateStrategy`.
    DaemonSet(DaemonSetUpdateStrategy),
}

/// The circuit breaker's parameters for one desired count (ecs-reference §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    /// Failed tasks at which the deployment becomes FAILED (count ≥ threshold).
    pub threshold: u32,
    /// Whether a FAILED deployment goes back to the last COMPLETED one.
    pub rollback: bool,
    /// Whether a task that becomes healthy resets the failure count to 0 (ECS's default).
    pub reset_on_healthy_task: bool,
}

/// What a service's deployment settings become.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// The workload's rolling update (always a valid one; see [`Self::blocked`]).
    pub strategy: UpdateStrategy,
    /// ECS's service event when the settings let no task stop or start, so a deployment cannot
    /// progress: "(service NAME) was unable to stop or start tasks during a deployment because
    /// of the service deployment configuration. ...".
    pub blocked: Option<String>,
    /// Approximations and ignored fields.
    pub report: Report,
}

/// ECS's service event for a deployment that can neither stop nor start a task.
#[must_use]
pub fn blocked_message(service: &str) -> String {
    format!(
        "(service {service}) was unable to stop or start tasks during a deployment because of the service \
         deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
    )
}

fn invalid(field: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::Field {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// An absolute number of pods, saturating at `i32::MAX`.
fn int(n: i64) -> IntOrString {
    IntOrString::Int(i32::try_from(n.max(0)).unwrap_or(i32::MAX))
}

fn percent(p: i64) -> IntOrString {
    IntOrString::String(format!("{p}%"))
}

fn deployment_strategy(max_surge: IntOrString, max_unavailable: IntOrString) -> UpdateStrategy {
    UpdateStrategy::Deployment(DeploymentStrategy {
        type_: Some("RollingUpdate".to_owned()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(max_surge),
            max_unavailable: Some(max_unavailable),
        }),
    })
}

fn daemon_set_strategy(max_unavailable: IntOrString) -> UpdateStrategy {
    UpdateStrategy::DaemonSet(DaemonSetUpdateStrategy {
        type_: Some("RollingUpdate".to_owned()),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_surge: Some(IntOrString::Int(0)),
            max_unavailable: Some(max_unavailable),
        }),
    })
}

/// `(minimumHealthyPercent, maximumPercent)` of `spec`, with ECS's defaults for its scheduling
/// strategy, validated (see the module docs).
///
/// # Errors
/// [`ServiceError::Field`] naming `deploymentConfiguration.minimumHealthyPercent` or
/// `deploymentConfiguration.maximumPercent`.
pub fn percents(spec: &ServiceSpec) -> Result<(i32, i32), ServiceError> {
    let daemon = spec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon);
    let config = spec.service.deployment_configuration.as_ref();
    let (default_min, default_max) = if daemon {
        (DAEMON_MINIMUM_HEALTHY_PERCENT, DAEMON_MAXIMUM_PERCENT)
    } else {
        (REPLICA_MINIMUM_HEALTHY_PERCENT, REPLICA_MAXIMUM_PERCENT)
    };
    let min = config
        .and_then(|c| c.minimum_healthy_percent)
        .unwrap_or(default_min);
    let max = config.and_then(|c| c.maximum_percent).unwrap_or(default_max);
    if !(0..=100).contains(&min) {
        return Err(invalid(
            MIN_FIELD,
            format!(
                "{min} is outside 0–100: it is the share of desiredCount that must stay healthy during a \
                 deployment; use a value from 0 to 100"
            ),
        ));
    }
    if daemon && max != DAEMON_MAXIMUM_PERCENT {
        return Err(invalid(
            MAX_FIELD,
            format!(
                "{max} is not allowed for a DAEMON service: a daemon runs one task per node and never starts a \
                 second one beside it, so maximumPercent must be 100; set it to 100 or remove it"
            ),
        ));
    }
    if max < 100 {
        return Err(invalid(
            MAX_FIELD,
            format!(
                "{max} is below 100: the service could not run its own desiredCount during a deployment; use \
                 100 (stop a task before starting its replacement) or more"
            ),
        ));
    }
    Ok((min, max))
}

/// The circuit breaker of `config` for `desired` tasks: `None` when absent or not enabled.
/// `value` below 1 counts as 1 ([`rollout`] refuses it).
#[must_use]
pub fn circuit_breaker(config: Option<&DeploymentConfiguration>, desired: i32) -> Option<Breaker> {
    let cb = config?
        .deployment_circuit_breaker
        .as_ref()
        .filter(|cb| cb.enable)?;
    let (kind, value) = cb
        .threshold_configuration
        .as_ref()
        .map_or((ThresholdType::BoundedPercent, 50), |t| (t.r#type, t.value));
    let value = i64::from(value.max(1));
    let of_desired = (value * i64::from(desired.max(0)) + 99) / 100;
    let threshold = match kind {
        ThresholdType::BoundedPercent => of_desired.clamp(3, 200),
        ThresholdType::UnboundedPercent => of_desired.max(1),
        ThresholdType::Count => value,
    };
    Some(Breaker {
        threshold: u32::try_from(threshold).unwrap_or(u32::MAX),
        rollback: cb.rollback,
        reset_on_healthy_task: cb.reset_on_healthy_task.unwrap_or(true),
    })
}

/// The circuit breaker of service `spec` as the controller counts it: [`circuit_breaker`] for
/// its `desiredCount` (1 when absent, as for a DAEMON or an auto-scaled service).
#[must_use]
pub fn breaker(spec: &ServiceSpec) -> Option<Breaker> {
    circuit_breaker(
        spec.service.deployment_configuration.as_ref(),
        spec.service.desired_count.unwrap_or(1),
    )
}

/// ECS's message when the deployment settings of service `service` (its name) let no task stop
/// or start ([`Rollout::blocked`], for an unknown number of daemon tasks); `None` when they do,
/// or when they are invalid (the translation reports that).
#[must_use]
pub fn blocked(service: &str, spec: &ServiceSpec) -> Option<String> {
    rollout(service, spec, None).ok().and_then(|r| r.blocked)
}

/// Translates the deployment settings of service `service` (its name, for the blocked message).
/// `daemon_tasks` is the number of a DAEMON service's tasks when known (the DaemonSet's
/// `status.desiredNumberScheduled`).
///
/// # Errors
/// [`ServiceError::Field`] naming the field: percentages out of range, a DAEMON maximumPercent
/// other than 100, a negative desiredCount, a circuit breaker threshold value below 1.
pub fn rollout(
    service: &str,
    spec: &ServiceSpec,
    daemon_tasks: Option<i32>,
) -> Result<Rollout, ServiceError> {
    let (min, max) = percents(spec)?;
    let config = spec.service.deployment_configuration.as_ref();
    if let Some(t) = config
        .and_then(|c| c.deployment_circuit_breaker.as_ref())
        .and_then(|cb| cb.threshold_configuration.as_ref())
        .filter(|t| t.value < 1)
    {
        return Err(invalid(
            "deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration.value",
            format!(
                "{} is below 1: a threshold of 0 failed tasks would fail every deployment before it starts; \
                 use 1 or more",
                t.value
            ),
        ));
    }
    let mut report = Report::default();
    let daemon = spec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon);
    let (strategy, blocked) = if daemon {
        daemon_set(min, daemon_tasks, &mut report)
    } else {
        if let Some(d) = spec.service.desired_count.filter(|d| *d < 0) {
            return Err(invalid(
                "desiredCount",
                format!("{d} is negative: give the number of tasks to keep running, 0 or more"),
            ));
        }
        // (Also with auto scaling: it changes desiredCount, and the Deployment follows with
        // its strategy recomputed for the new count.)
        deployment_absolute(spec.service.desired_count.unwrap_or(1), min, max)
    };
    if let Some(c) = config {
        report_unsupported(c, &mut report);
    }
    if let Some(c) = &spec.service.deployment_controller {
        let what = match c.r#type {
            DeploymentControllerType::Ecs => None,
            DeploymentControllerType::CodeDeploy => {
                Some("CODE_DEPLOY (blue/green deployments through AWS CodeDeploy and task sets)")
            }
            DeploymentControllerType::External => {
                Some("EXTERNAL (task sets managed by another deployment tool)")
            }
        };
        if let Some(what) = what {
            report.note(
                NoteKind::Approximated,
                "deploymentController",
                format!(
                    "{what} is not supported: the operator rolls the tasks out itself with ECS's rolling update \
                     (minimumHealthyPercent, maximumPercent and the deployment circuit breaker), as the ECS \
                     deployment controller does"
                ),
            );
        }
    }
    Ok(Rollout {
        strategy,
        blocked: blocked.then(|| blocked_message(service)),
        report,
    })
}

/// A Deployment's strategy for a known count; whether ECS could not roll.
fn deployment_absolute(desired: i32, min: i32, max: i32) -> (UpdateStrategy, bool) {
    let d = i64::from(desired.max(0));
    let b = bounds(d, i64::from(min), i64::from(max));
    let (surge, unavailable) = (b.max_tasks - d, d - b.min_tasks);
    match (surge, unavailable) {
        // Nothing runs, so nothing rolls; valid, and the same bounds (0 and 0).
        _ if d == 0 => (deployment_strategy(int(0), int(1)), false),
        // ECS is stuck; a valid strategy that never goes below the minimum.
        (0, 0) => (deployment_strategy(int(1), int(0)), true),
        _ => (deployment_strategy(int(surge), int(unavailable)), false),
    }
}

/// A DaemonSet's update strategy; whether ECS could not roll.
fn daemon_set(min: i32, daemon_tasks: Option<i32>, report: &mut Report) -> (UpdateStrategy, bool) {
    let Some(n) = daemon_tasks else {
        let unavailable = 100 - i64::from(min);
        if unavailable == 0 {
            return (daemon_set_strategy(int(1)), true);
        }
        if unavailable < 100 {
            report.note(
                NoteKind::Approximated,
                MIN_FIELD,
                format!(
                    "the number of daemon tasks is not known yet, so the DaemonSet gets maxUnavailable \
                     {unavailable}%: Kubernetes rounds DaemonSet percentages up, where ECS keeps \
                     ceil(tasks × {min} / 100) running, so Kubernetes may stop one task more than ECS would"
                ),
            );
        }
        return (daemon_set_strategy(percent(unavailable)), false);
    };
    let n = i64::from(n.max(0));
    let unavailable = n - bounds(n, i64::from(min), 100).min_tasks;
    match unavailable {
        _ if n == 0 => (daemon_set_strategy(int(1)), false),
        0 => (daemon_set_strategy(int(1)), true),
        u => (daemon_set_strategy(int(u)), false),
    }
}

/// Notes on the deployment settings that have no Kubernetes counterpart here.
fn report_unsupported(c: &DeploymentConfiguration, report: &mut Report) {
    if let Some(alarms) = c.alarms.as_ref().filter(|a| a.enable) {
        report.note(
            NoteKind::Ignored,
            "deploymentConfiguration.alarms",
            format!(
                "CloudWatch alarms ({}) are not evaluated, so they fail no deployment{}: use the deployment \
                 circuit breaker, or Argo Rollouts or Flagger analysis on the same metrics",
                alarms.alarm_names.join(", "),
                if alarms.rollback {
                    " and roll nothing back"
                } else {
                    ""
                }
            ),
        );
    }
    if let Some(s) = c.strategy.filter(|s| *s != EcsStrategy::Rolling) {
        let name = crate::translate::spelling::enum_name(&s);
        report.note(
            NoteKind::Approximated,
            "deploymentConfiguration.strategy",
            format!(
                "{name} becomes a rolling update within minimumHealthyPercent and maximumPercent: a Deployment \
                 replaces tasks and shifts no traffic between revisions; for blue/green, linear or canary \
                 traffic shifting use Argo Rollouts or Flagger"
            ),
        );
    }
    for (present, field) in [
        (
            c.linear_configuration.is_some(),
            "deploymentConfiguration.linearConfiguration",
        ),
        (
            c.canary_configuration.is_some(),
            "deploymentConfiguration.canaryConfiguration",
        ),
    ] {
        if present {
            report.note(
                NoteKind::Approximated,
                field,
                "no traffic steps: the rolling update replaces tasks as minimumHealthyPercent and maximumPercent \
                 allow",
            );
        }
    }
    if let Some(m) = c.bake_time_in_minutes {
        report.note(
            NoteKind::Ignored,
            "deploymentConfiguration.bakeTimeInMinutes",
            format!(
                "no bake time: the old tasks stop as soon as the rolling update has replaced them, not {m} minutes \
                 later"
            ),
        );
    }
    if let Some(hooks) = c.lifecycle_hooks.as_ref().filter(|h| !h.is_empty()) {
        report.note(
            NoteKind::Ignored,
            "deploymentConfiguration.lifecycleHooks",
            format!(
                "{} lifecycle hook(s) (Lambda functions, pauses) are not run: the rolling update has no stages to \
                 hook into",
                hooks.len()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::translate::testing::service_spec as spec;

    /// (maxSurge, maxUnavailable) of a Deployment strategy.
    fn deployment(r: &Rollout) -> (IntOrString, IntOrString) {
        let UpdateStrategy::Deployment(s) = &r.strategy else {
            panic!("expected a Deployment strategy")
        };
        assert_eq!(s.type_.as_deref(), Some("RollingUpdate"));
        let ru = s.rolling_update.as_ref().expect("rollingUpdate");
        (
            ru.max_surge.clone().expect("maxSurge"),
            ru.max_unavailable.clone().expect("maxUnavailable"),
        )
    }

    /// (maxSurge, maxUnavailable) of a DaemonSet strategy.
    fn daemon(r: &Rollout) -> (IntOrString, IntOrString) {
        let UpdateStrategy::DaemonSet(s) = &r.strategy else {
            panic!("expected a DaemonSet strategy")
        };
        assert_eq!(s.type_.as_deref(), Some("RollingUpdate"));
        let ru = s.rolling_update.as_ref().expect("rollingUpdate");
        (
            ru.max_surge.clone().expect("maxSurge"),
            ru.max_unavailable.clone().expect("maxUnavailable"),
        )
    }

    fn replica(desired: i32, min: Option<i32>, max: Option<i32>) -> Rollout {
        let mut config = serde_json::Map::new();
        if let Some(m) = min {
            config.insert("minimumHealthyPercent".into(), json!(m));
        }
        if let Some(m) = max {
            config.insert("maximumPercent".into(), json!(m));
        }
        rollout(
            "web",
            &spec(json!({"desiredCount": desired, "deploymentConfiguration": config})),
            None,
        )
        .expect("valid")
    }

    const I: fn(i32) -> IntOrString = IntOrString::Int;

    fn p(s: &str) -> IntOrString {
        IntOrString::String(s.to_owned())
    }

    #[test]
    fn ecs_worked_examples_of_the_bounds() {
        // desired 4, min 50: ceil(2) = 2 → 2 old tasks may stop first.
        assert_eq!(bounds(4, 50, 200).min_tasks, 2);
        // desired 2, min 75: ceil(1.5) = 2 → none may stop first.
        assert_eq!(bounds(2, 75, 200).min_tasks, 2);
        // desired 4, max 200: floor(8) = 8 → 4 new tasks may start first.
        assert_eq!(bounds(4, 100, 200).max_tasks, 8);
        // desired 3, max 125: floor(3.75) = 3 → no extra task.
        assert_eq!(bounds(3, 100, 125).max_tasks, 3);
    }

    #[test]
    fn ecs_worked_examples_become_absolute_surge_and_unavailability() {
        // 4 tasks, min 50 (max 200 by default): 2 may stop first, 4 may start first.
        assert_eq!(deployment(&replica(4, Some(50), None)), (I(4), I(2)));
        // 2 tasks, min 75: none may stop first (ceil(1.5) = 2); max 200 lets 2 start.
        assert_eq!(deployment(&replica(2, Some(75), None)), (I(2), I(0)));
        // 4 tasks, max 200, default min 100.
        assert_eq!(deployment(&replica(4, None, Some(200))), (I(4), I(0)));
        // 3 tasks, max 125, min 50: floor(3.75) = 3 → no surge; ceil(1.5) = 2 → 1 may stop.
        assert_eq!(deployment(&replica(3, Some(50), Some(125))), (I(0), I(1)));
        for r in [
            replica(4, Some(50), None),
            replica(2, Some(75), None),
            replica(3, Some(50), Some(125)),
        ] {
            assert_eq!(r.blocked, None);
            assert!(r.report.is_empty(), "{:?}", r.report.notes);
        }
    }

    #[test]
    fn defaults_are_ecs_defaults() {
        // REPLICA 100/200: no task stops before its replacement, as many new ones may start.
        assert_eq!(deployment(&replica(3, None, None)), (I(3), I(0)));
        assert_eq!(
            percents(&spec(json!({"schedulingStrategy": "DAEMON"}))).expect("valid"),
            (0, 100)
        );
        assert_eq!(percents(&spec(json!({}))).expect("valid"), (100, 200));
    }

    #[test]
    fn single_task_services() {
        // Default 100/200: the replacement starts first.
        assert_eq!(deployment(&replica(1, None, None)), (I(1), I(0)));
        // min 0 / max 100: the old task stops first.
        assert_eq!(deployment(&replica(1, Some(0), Some(100))), (I(0), I(1)));
        // min 50 / max 150: ceil(0.5) = 1 must stay, floor(1.5) = 1 may run: stuck.
        let r = replica(1, Some(50), Some(150));
        assert_eq!(r.blocked.as_deref(), Some(blocked_message("web").as_str()));
        assert_eq!(deployment(&r), (I(1), I(0)));
        // min 100 / max 100: stuck.
        let r = replica(1, Some(100), Some(100));
        assert!(r.blocked.is_some());
        assert_eq!(deployment(&r), (I(1), I(0)));
    }

    #[test]
    fn min_and_max_100_block_the_rollout_with_the_ecs_message() {
        let r = replica(5, Some(100), Some(100));
        assert_eq!(
            r.blocked.as_deref(),
            Some(
                "(service web) was unable to stop or start tasks during a deployment because of the service \
                 deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
            )
        );
        // Still a valid strategy: never below the minimum.
        assert_eq!(deployment(&r), (I(1), I(0)));
    }

    #[test]
    fn nothing_to_roll_at_zero_tasks() {
        for (min, max) in [(100, 100), (50, 200), (0, 100)] {
            let r = replica(0, Some(min), Some(max));
            assert_eq!(r.blocked, None, "{min}/{max}");
            assert_eq!(deployment(&r), (I(0), I(1)), "{min}/{max}");
        }
    }

    #[test]
    fn auto_scaling_keeps_ecs_bounds_for_the_services_count() {
        let mut v = json!({"desiredCount": 6, "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 150}});
        v["autoScaling"] = json!({"minCapacity": 2, "maxCapacity": 10});
        let r = rollout("web", &spec(v), None).expect("valid");
        // 6 tasks: up to floor(6 × 150 / 100) = 9 running, at least ceil(6 × 50 / 100) = 3 healthy.
        assert_eq!(deployment(&r), (I(3), I(3)));
        assert!(r.report.is_empty(), "{:?}", r.report.notes);
    }

    #[test]
    fn daemons_never_surge_and_stop_what_min_allows() {
        let d = |config: serde_json::Value, n: Option<i32>| {
            rollout(
                "agent",
                &spec(json!({"schedulingStrategy": "DAEMON", "deploymentConfiguration": config})),
                n,
            )
        };
        // Default min 0: every daemon task may stop at once, as in ECS.
        let r = d(json!({}), Some(5)).expect("valid");
        assert_eq!(daemon(&r), (I(0), I(5)));
        // min 50 over 5 tasks: ceil(2.5) = 3 stay, 2 may stop.
        let r = d(json!({"minimumHealthyPercent": 50}), Some(5)).expect("valid");
        assert_eq!(daemon(&r), (I(0), I(2)));
        assert!(r.blocked.is_none() && r.report.is_empty());
        // Unknown count: a percentage, with the rounding note.
        let r = d(json!({"minimumHealthyPercent": 50, "maximumPercent": 100}), None).expect("valid");
        assert_eq!(daemon(&r), (I(0), p("50%")));
        assert_eq!(
            r.report.notes[0].field,
            "deploymentConfiguration.minimumHealthyPercent"
        );
        assert!(
            r.report.notes[0]
                .message
                .contains("rounds DaemonSet percentages up")
        );
        let r = d(json!({}), None).expect("valid");
        assert_eq!(daemon(&r), (I(0), p("100%")));
        assert!(r.report.is_empty());
        // min 100 blocks, known count or not; one task at a time if it rolls anyway.
        for n in [Some(3), None] {
            let r = d(json!({"minimumHealthyPercent": 100}), n).expect("valid");
            assert_eq!(r.blocked.as_deref(), Some(blocked_message("agent").as_str()));
            assert_eq!(daemon(&r), (I(0), I(1)));
        }
        // One node, min 50: ceil(0.5) = 1 must stay: blocked.
        assert!(
            d(json!({"minimumHealthyPercent": 50}), Some(1))
                .expect("valid")
                .blocked
                .is_some()
        );
        // No daemon task: nothing to roll.
        let r = d(json!({"minimumHealthyPercent": 100}), Some(0)).expect("valid");
        assert_eq!((daemon(&r), r.blocked), ((I(0), I(1)), None));
    }

    #[test]
    fn a_daemon_maximum_percent_other_than_100_is_an_error() {
        for max in [200, 50] {
            let e = rollout(
                "agent",
                &spec(json!({"schedulingStrategy": "DAEMON", "deploymentConfiguration": {"maximumPercent": max}})),
                None,
            )
            .expect_err("DAEMON max must be 100");
            assert_eq!(e.field(), "deploymentConfiguration.maximumPercent");
            assert!(e.to_string().contains("must be 100"), "{e}");
        }
    }

    #[test]
    fn out_of_range_percentages_name_the_field_and_the_fix() {
        let e = |config: serde_json::Value| {
            rollout(
                "web",
                &spec(json!({"desiredCount": 2, "deploymentConfiguration": config})),
                None,
            )
            .expect_err("invalid")
        };
        for min in [-1, 101] {
            let err = e(json!({"minimumHealthyPercent": min}));
            assert_eq!(err.field(), "deploymentConfiguration.minimumHealthyPercent");
            assert!(err.to_string().contains("from 0 to 100"), "{err}");
        }
        let err = e(json!({"maximumPercent": 99}));
        assert_eq!(err.field(), "deploymentConfiguration.maximumPercent");
        assert!(err.to_string().contains("use 100"), "{err}");
        let err = e(
            json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true,
            "thresholdConfiguration": {"type": "COUNT", "value": 0}}}),
        );
        assert_eq!(
            err.field(),
            "deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration.value"
        );
        let err = rollout("web", &spec(json!({"desiredCount": -1})), None).expect_err("negative");
        assert_eq!(err.field(), "desiredCount");
    }

    #[test]
    fn circuit_breaker_thresholds() {
        let cb = |v: serde_json::Value, desired: i32| {
            let c: DeploymentConfiguration =
                serde_json::from_value(json!({"deploymentCircuitBreaker": v})).expect("config");
            circuit_breaker(Some(&c), desired)
        };
        let on = json!({"enable": true, "rollback": true});
        // Default BOUNDED_PERCENT 50: clamp(ceil(0.5 × desired), 3, 200).
        let b = cb(on.clone(), 10).expect("enabled");
        assert_eq!(
            b,
            Breaker {
                threshold: 5,
                rollback: true,
                reset_on_healthy_task: true
            }
        );
        assert_eq!(cb(on.clone(), 1).map(|b| b.threshold), Some(3));
        assert_eq!(cb(on.clone(), 7).map(|b| b.threshold), Some(4));
        assert_eq!(cb(on.clone(), 1000).map(|b| b.threshold), Some(200));
        assert_eq!(cb(on.clone(), 0).map(|b| b.threshold), Some(3));
        let with = |kind: &str, value: i32| {
            json!({"enable": true, "rollback": false, "resetOnHealthyTask": false,
                "thresholdConfiguration": {"type": kind, "value": value}})
        };
        let b = cb(with("COUNT", 7), 100).expect("enabled");
        assert_eq!(
            (b.threshold, b.rollback, b.reset_on_healthy_task),
            (7, false, false)
        );
        // UNBOUNDED_PERCENT: no clamp, at least 1.
        assert_eq!(
            cb(with("UNBOUNDED_PERCENT", 50), 1000).map(|b| b.threshold),
            Some(500)
        );
        assert_eq!(cb(with("UNBOUNDED_PERCENT", 10), 3).map(|b| b.threshold), Some(1));
        assert_eq!(cb(with("UNBOUNDED_PERCENT", 50), 0).map(|b| b.threshold), Some(1));
        assert_eq!(
            cb(with("BOUNDED_PERCENT", 25), 100).map(|b| b.threshold),
            Some(25)
        );
        // Off or absent: no breaker.
        assert_eq!(cb(json!({"enable": false, "rollback": true}), 10), None);
        assert_eq!(circuit_breaker(None, 10), None);
    }

    #[test]
    fn the_breaker_of_a_service_counts_its_desired_count() {
        let s = json!({"desiredCount": 10, "deploymentConfiguration":
            {"deploymentCircuitBreaker": {"enable": true, "rollback": true}}});
        assert_eq!(breaker(&spec(s)).map(|b| b.threshold), Some(5));
        // Without desiredCount (DAEMON, or auto scaling), 1 task: the bounded minimum.
        let s = json!({"schedulingStrategy": "DAEMON", "deploymentConfiguration":
            {"deploymentCircuitBreaker": {"enable": true, "rollback": true,
             "thresholdConfiguration": {"type": "UNBOUNDED_PERCENT", "value": 50}}}});
        assert_eq!(breaker(&spec(s)).map(|b| b.threshold), Some(1));
        assert_eq!(breaker(&spec(json!({"desiredCount": 10}))), None);
    }

    #[test]
    fn blocked_is_the_rollouts_and_nothing_for_an_invalid_configuration() {
        let stuck = json!({"desiredCount": 1, "deploymentConfiguration":
            {"minimumHealthyPercent": 100, "maximumPercent": 100}});
        assert_eq!(blocked("web", &spec(stuck)), Some(blocked_message("web")));
        assert_eq!(blocked("web", &spec(json!({"desiredCount": 1}))), None);
        let invalid = json!({"deploymentConfiguration": {"maximumPercent": 50}});
        assert_eq!(blocked("web", &spec(invalid)), None);
    }

    #[test]
    fn unsupported_deployment_features_are_reported() {
        let r = rollout(
            "web",
            &spec(
                json!({"desiredCount": 2, "deploymentController": {"type": "CODE_DEPLOY"},
                "deploymentConfiguration": {
                    "strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0},
                    "bakeTimeInMinutes": 5,
                    "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}],
                    "alarms": {"alarmNames": ["p99"], "enable": true, "rollback": true}}}),
            ),
            None,
        )
        .expect("valid");
        let got: Vec<(NoteKind, &str)> = r
            .report
            .notes
            .iter()
            .map(|n| (n.kind, n.field.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (NoteKind::Ignored, "deploymentConfiguration.alarms"),
                (NoteKind::Approximated, "deploymentConfiguration.strategy"),
                (
                    NoteKind::Approximated,
                    "deploymentConfiguration.canaryConfiguration"
                ),
                (NoteKind::Ignored, "deploymentConfiguration.bakeTimeInMinutes"),
                (NoteKind::Ignored, "deploymentConfiguration.lifecycleHooks"),
                (NoteKind::Approximated, "deploymentController"),
            ]
        );
        let controller = &r.report.notes[5].message;
        assert!(
            controller.contains("not supported") && controller.contains("rolling update"),
            "{controller}"
        );
        assert!(r.report.notes[0].message.contains("p99"));
        // ECS and ROLLING, disabled alarms: nothing to say.
        let r = rollout(
            "web",
            &spec(json!({"desiredCount": 2, "deploymentController": {"type": "ECS"},
                "deploymentConfiguration": {"strategy": "ROLLING",
                    "alarms": {"alarmNames": [], "enable": false, "rollback": false}}})),
            None,
        )
        .expect("valid");
        assert!(r.report.is_empty(), "{:?}", r.report.notes);
    }

    /// The bounds Kubernetes keeps for a Deployment of `replicas` with this strategy (the
    /// deployment controller's `ResolveFenceposts`: maxSurge rounds up, maxUnavailable down, and
    /// both 0 makes maxUnavailable 1): (fewest available, most pods).
    fn kubernetes_bounds(r: &Rollout, replicas: i64) -> (i64, i64) {
        let resolve = |v: &IntOrString, round_up: bool| match v {
            IntOrString::Int(i) => i64::from(*i),
            IntOrString::String(s) => {
                let pct: i64 = s.trim_end_matches('%').parse().expect("percentage");
                if round_up {
                    (replicas * pct + 99) / 100
                } else {
                    replicas * pct / 100
                }
            }
        };
        let (surge, unavailable) = deployment(r);
        let surge = resolve(&surge, true);
        let mut unavailable = resolve(&unavailable, false);
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        ((replicas - unavailable).max(0), replicas + surge)
    }

    mod law {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// With a known count, the Deployment's strategy keeps ECS's bounds exactly.
            #[test]
            fn absolute_strategy_keeps_ecs_bounds(desired in 0..200i32, min in 0..=100i32, max in 100..=400i32) {
                let r = replica(desired, Some(min), Some(max));
                let ecs = bounds(i64::from(desired), i64::from(min), i64::from(max));
                prop_assert_eq!(r.blocked.is_some(), desired > 0 && ecs.min_tasks == i64::from(desired) && ecs.max_tasks == i64::from(desired));
                if r.blocked.is_none() {
                    prop_assert_eq!(kubernetes_bounds(&r, i64::from(desired)), (ecs.min_tasks, ecs.max_tasks));
                }
            }

            /// With auto scaling, the strategy for the Service's current count keeps ECS's bounds
            /// exactly too (auto scaling changes the count; the strategy follows it).
            #[test]
            fn auto_scaling_keeps_ecs_bounds(desired in 0..200i32, min in 0..=100i32, max in 100..=400i32) {
                let r = rollout("web", &spec(json!({"desiredCount": desired,
                    "autoScaling": {"minCapacity": 0, "maxCapacity": 200},
                    "deploymentConfiguration": {"minimumHealthyPercent": min, "maximumPercent": max}})), None).expect("valid");
                prop_assume!(r.blocked.is_none());
                let ecs = bounds(i64::from(desired), i64::from(min), i64::from(max));
                prop_assert_eq!(kubernetes_bounds(&r, i64::from(desired)), (ecs.min_tasks, ecs.max_tasks));
            }
        }
    }
}
