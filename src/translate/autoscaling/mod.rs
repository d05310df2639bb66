//! Service Auto Scaling (pure): what Application Auto Scaling does to an ECS service, for the
//! Service controller and `render` (ecs-reference §5). [`service_scaling`] is the one entry both
//! call: the scalable target with the range the scheduled actions leave in force ([`target`],
//! [`scheduled`]), target tracking on the tasks' CPU and memory as an HPA ([`hpa`]), and the
//! count the Service runs ([`Scaling::count`]).

pub mod activities;
#[cfg(test)]
mod activities_tests;
pub mod cloudwatch;
pub mod external;
pub mod hpa;
#[cfg(test)]
mod hpa_tests;
pub mod keda;
#[cfg(test)]
mod keda_tests;
pub mod scheduled;
#[cfg(test)]
mod scheduled_tests;
pub mod steps;
#[cfg(test)]
mod steps_tests;
pub mod target;
#[cfg(test)]
mod target_tests;

use jiff::Timestamp;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

use crate::api::external::ScaledObject;

use crate::{
    api::{
        ServiceSpec,
        autoscaling::AutoScalingStatus,
        ecs::{RegisterTaskDefinition, SchedulingStrategy},
    },
    translate::{pod::task_reservation, report::Report},
};

/// Fields of the Service this module translates (patterns, relative to `spec`): all of
/// `autoScaling`; what has no Kubernetes form yet is in its [`Report`].
pub const HANDLED: &[&str] = &["autoScaling.*"];

/// Why a Service's auto scaling is refused, as AAS refuses it: the field (under
/// `spec.autoScaling.`) and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec.autoScaling{}{field}: {message}", if field.is_empty() { "" } else { "." })]
pub struct AutoScalingError {
    /// The field, relative to `spec.autoScaling` (empty: the block itself).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Where a Service's auto scaling stands when it is translated.
#[derive(Debug, Clone, Copy)]
pub struct State<'a> {
    /// What the last reconcile recorded (`status.autoScaling`); `None` the first time, and
    /// offline (`render`), where the target is as just registered.
    pub recorded: Option<&'a AutoScalingStatus>,
    /// An ECS deployment of the Service is in progress (AAS suspends scale-in).
    pub deploying: bool,
    /// The Service's HPA as last seen, for its rescales (none offline).
    pub hpa: Option<&'a HorizontalPodAutoscaler>,
    /// KEDA, when installed: policies on CloudWatch metrics scale through a ScaledObject.
    pub keda: Option<&'a keda::Keda>,
    /// Without KEDA, a metrics adapter serves the external metric [`external::METRIC`]: those
    /// policies become External metrics of the HPA.
    pub external_metrics: bool,
    /// The instant of the translation.
    pub now: Timestamp,
}

/// A Service's auto scaling, translated.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// The HPA on the Service's scale subresource; `None` when no policy has a metric it can
    /// read, when KEDA scales the Service instead, or when the max in force is 0 (nothing runs,
    /// nothing to track).
    pub hpa: Option<HorizontalPodAutoscaler>,
    /// The KEDA ScaledObject, where KEDA is installed and a policy reads CloudWatch.
    pub scaled_object: Option<ScaledObject>,
    /// Why policies do not scale though they could (a CloudWatch metric, and KEDA not
    /// installed): what to install, for `Degraded`.
    pub unserved: Option<String>,
    /// What the status records (and the next translation goes on from): the range in force is
    /// its `scalableTarget`'s.
    pub status: AutoScalingStatus,
    /// The next instant a scheduled action fires, and which: the controller requeues for it.
    pub next: Option<scheduled::Fired>,
    /// Fields translated approximately or not at all.
    pub report: Report,
}

impl Scaling {
    /// The count the Service runs for a `desiredCount` of `desired`: kept inside the range in
    /// force, as AAS keeps it (scaling out to a new min, in to a new max).
    #[must_use]
    pub fn count(&self, desired: Option<i32>) -> i32 {
        let t = &self.status.scalable_target;
        desired
            .unwrap_or(1)
            .clamp(t.min_capacity, t.max_capacity.max(t.min_capacity))
    }
}

/// Translates the auto scaling of Service `name` in `namespace` (its `spec`), whose tasks run
/// `task`, at `state`: checks it as AAS does, advances its scalable target, and builds its HPA.
/// `None` without `autoScaling`.
///
/// # Errors
/// What AAS would refuse (a range, a policy, a scheduled action, a DAEMON service), naming the
/// field.
pub fn service_scaling(
    name: &str,
    namespace: &str,
    spec: &ServiceSpec,
    task: &RegisterTaskDefinition,
    state: &State<'_>,
) -> Result<Option<Scaling>, AutoScalingError> {
    let Some(auto_scaling) = spec.auto_scaling.as_ref() else {
        return Ok(None);
    };
    if spec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon) {
        return Err(AutoScalingError {
            field: String::new(),
            message: "a DAEMON service runs one task per instance and has no desiredCount to scale: remove \
                      autoScaling, or use schedulingStrategy REPLICA"
                .to_owned(),
        });
    }
    let tracking: Vec<&str> = auto_scaling
        .target_tracking_scaling_policies
        .iter()
        .flatten()
        .map(|p| p.policy_name.as_str())
        .collect();
    steps::check(
        auto_scaling.step_scaling_policies.as_deref().unwrap_or_default(),
        &tracking,
    )?;
    let checked = scheduled::check(auto_scaling.scheduled_actions.as_deref().unwrap_or_default())?;
    let target = target::advance(auto_scaling, &checked, state.recorded, state.now);
    let mut built = hpa::hpa(&hpa::Input {
        service: name,
        namespace,
        auto_scaling,
        range: target.range(),
        reservation: task_reservation(task),
        deploying: state.deploying,
    })?;
    let runs = target.status.max_capacity > 0;
    let scaled_object = match state.keda {
        Some(k) if runs && !built.cloudwatch.is_empty() => {
            keda::scaled_object(name, namespace, &mut built, k)
        }
        _ => None,
    };
    let external = state.keda.is_none() && state.external_metrics && !built.cloudwatch.is_empty();
    if external && runs {
        external::add(name, namespace, &mut built);
    }
    let hpa = built.hpa.take().filter(|_| runs && scaled_object.is_none());
    let unserved = (state.keda.is_none() && !external && !built.cloudwatch.is_empty()).then(|| {
        let names: Vec<&str> = built.cloudwatch.iter().map(|m| m.policy.as_str()).collect();
        format!(
            "policies {} read CloudWatch metrics: install KEDA (ecs-bridge then scales through a ScaledObject), or \
             a metrics adapter serving the external metric {} (README: Service Auto Scaling); until then they do \
             not scale the Service{}",
            names.join(", "),
            external::METRIC,
            if hpa.is_some() { " (its CPU and memory policies do)" } else { ", which keeps its count" }
        )
    });
    let rescaled = state.hpa.map(|hpa| activities::Rescaled {
        hpa,
        count: spec.service.desired_count.unwrap_or(1),
    });
    let scaling_activities = activities::record(
        state.recorded.map_or(&[][..], |r| &r.scaling_activities),
        auto_scaling,
        (&target.fired, &checked),
        rescaled.as_ref(),
        state.now,
    );
    let status = AutoScalingStatus {
        scalable_target: target.status,
        scaling_policies: built.policies,
        scheduled_actions: target.actions,
        horizontal_pod_autoscaler: hpa
            .as_ref()
            .and_then(|h| h.metadata.name.clone())
            .or_else(|| scaled_object.as_ref().map(|_| keda::hpa_name(name))),
        scaled_object: scaled_object.as_ref().and_then(|s| s.metadata.name.clone()),
        scaling_activities,
    };
    Ok(Some(Scaling {
        hpa,
        scaled_object,
        unserved,
        status,
        next: target.next,
        report: built.report,
    }))
}
