//! Scaling activities, as `describe-scaling-activities` shows them (pure): a scheduled action
//! that fired ("Setting min capacity to 5 and max capacity to 8.", caused by "scheduled action
//! name peak was triggered"), and a rescale by the HPA ("Setting desired count to 4.", caused by
//! the metric that asked for it and its policy, at the HPA's `lastScaleTime`). Newest first, at
//! most [`MAX_ACTIVITIES`]; an activity is recorded once (its id derives from its cause and
//! start), so recording again what was recorded changes nothing, and one older than all those
//! kept is not brought back.

use k8s_openapi::{
    api::autoscaling::v2::HorizontalPodAutoscaler, apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp,
};

use super::scheduled::{Action, Fired};
use crate::api::autoscaling::{AutoScaling, PredefinedMetricType, ScalingActivity};
use crate::translate::capacity::usage::quantity;

/// How many activities the status keeps.
pub const MAX_ACTIVITIES: usize = 10;
/// The status code of an activity done.
pub const SUCCESSFUL: &str = "Successful";

/// The Service's HPA as last seen, and the Service's `desiredCount`.
#[derive(Debug, Clone, Copy)]
pub struct Rescaled<'a> {
    /// The HPA.
    pub hpa: &'a HorizontalPodAutoscaler,
    /// The Service's `desiredCount`.
    pub count: i32,
}

fn activity(description: String, cause: String, start: Timestamp, end: Timestamp) -> ScalingActivity {
    let id = crate::fnv::hash(format!("{cause}@{start}").bytes());
    ScalingActivity {
        activity_id: format!("{id:016x}"),
        description,
        cause,
        start_time: Time(start),
        end_time: Some(Time(end)),
        status_code: SUCCESSFUL.to_owned(),
    }
}

/// What a firing of `action` did.
fn fired_description(action: &Action) -> String {
    match (action.min, action.max) {
        (Some(min), Some(max)) => format!("Setting min capacity to {min} and max capacity to {max}."),
        (Some(min), None) => format!("Setting min capacity to {min}."),
        (None, Some(max)) => format!("Setting max capacity to {max}."),
        (None, None) => "Setting nothing.".to_owned(),
    }
}

/// The HPA's last rescale, when the Service runs what it set (its `desiredReplicas` is the
/// Service's count).
fn rescale(auto_scaling: &AutoScaling, change: &Rescaled<'_>) -> Option<ScalingActivity> {
    let status = change.hpa.status.as_ref()?;
    let start = status.last_scale_time.as_ref()?.0;
    if status.desired_replicas != change.count {
        return None;
    }
    let name = change.hpa.metadata.name.as_deref().unwrap_or_default();
    // The metric furthest above (or, scaling in, least below) its target asked for the count.
    let targets = change.hpa.spec.as_ref().and_then(|s| s.metrics.as_ref());
    let mut reasons: Vec<(f64, String)> = Vec::new();
    for current in status.current_metrics.iter().flatten() {
        let Some(resource) = current.resource.as_ref() else {
            continue;
        };
        let Some(value) = resource.current.average_value.as_ref() else {
            continue;
        };
        let target = targets
            .into_iter()
            .flatten()
            .filter_map(|m| m.resource.as_ref())
            .find(|m| m.name == resource.name)
            .and_then(|m| m.target.average_value.as_ref());
        let Some(target) = target else { continue };
        let ratio = quantity(&value.0) / quantity(&target.0).max(f64::MIN_POSITIVE);
        let policy = policy_of(auto_scaling, &resource.name)
            .map(|p| format!(" (policy {p})"))
            .unwrap_or_default();
        reasons.push((
            ratio,
            format!(
                "{} {} per task on average against a target of {}{policy}",
                resource.name, value.0, target.0
            ),
        ));
    }
    reasons.sort_by(|a, b| b.0.total_cmp(&a.0));
    let why = reasons
        .into_iter()
        .next()
        .map_or_else(|| "its metrics".to_owned(), |(_, r)| r);
    Some(activity(
        format!("Setting desired count to {}.", change.count),
        format!("HorizontalPodAutoscaler {name}: {why}"),
        start,
        start,
    ))
}

/// The policy whose predefined metric is the HPA's resource `resource`.
fn policy_of<'a>(auto_scaling: &'a AutoScaling, resource: &str) -> Option<&'a str> {
    auto_scaling
        .target_tracking_scaling_policies
        .iter()
        .flatten()
        .find(|p| {
            let kind = p
                .predefined_metric_specification
                .as_ref()
                .map(|m| m.predefined_metric_type);
            match resource {
                "cpu" => matches!(
                    kind,
                    Some(
                        PredefinedMetricType::EcsServiceAverageCpuUtilization
                            | PredefinedMetricType::EcsServiceAverageCpuUtilizationHighResolution
                    )
                ),
                "memory" => matches!(
                    kind,
                    Some(
                        PredefinedMetricType::EcsServiceAverageMemoryUtilization
                            | PredefinedMetricType::EcsServiceAverageMemoryUtilizationHighResolution
                    )
                ),
                _ => false,
            }
        })
        .map(|p| p.policy_name.as_str())
}

/// `recorded` with what happened since, newest first: the firings `fired` of `actions` (applied
/// `now`), and the HPA's last rescale (`rescaled`).
#[must_use]
pub fn record(
    recorded: &[ScalingActivity],
    auto_scaling: &AutoScaling,
    (fired, actions): (&[Fired], &[Action]),
    rescaled: Option<&Rescaled<'_>>,
    now: Timestamp,
) -> Vec<ScalingActivity> {
    let mut new: Vec<ScalingActivity> = fired
        .iter()
        .filter_map(|f| {
            let action = actions.iter().find(|a| a.name == f.action)?;
            Some(activity(
                fired_description(action),
                format!("scheduled action name {} was triggered", f.action),
                f.at,
                now,
            ))
        })
        .collect();
    new.extend(rescaled.and_then(|c| rescale(auto_scaling, c)));
    new.retain(|a| !recorded.iter().any(|r| r.activity_id == a.activity_id));
    let mut all: Vec<ScalingActivity> = recorded.iter().cloned().chain(new).collect();
    // Newest first (a stable sort: the same start keeps its order).
    all.sort_by_key(|a| std::cmp::Reverse(a.start_time.0));
    all.truncate(MAX_ACTIVITIES);
    all
}
