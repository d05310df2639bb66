//! Service Auto Scaling, in Application Auto Scaling's words (RegisterScalableTarget,
//! PutScalingPolicy and PutScheduledAction, camelCased): the `autoScaling` block of a Service.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The scalable target (`ecs:service:DesiredCount`) with its policies and scheduled actions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoScaling {
    /// The fewest tasks auto scaling may leave running.
    pub min_capacity: i32,
    /// The most tasks auto scaling may run.
    pub max_capacity: i32,
    /// Suspends dynamic scale-in, scale-out or scheduled scaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_state: Option<SuspendedState>,
    /// Target tracking policies (PolicyType TargetTrackingScaling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_tracking_scaling_policies: Option<Vec<TargetTrackingScalingPolicy>>,
    /// Step scaling policies (PolicyType StepScaling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_scaling_policies: Option<Vec<StepScalingPolicy>>,
    /// Scheduled actions that change min and max capacity at given times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_actions: Option<Vec<ScheduledAction>>,
}

impl AutoScaling {
    /// Whether a target tracking policy reads a CloudWatch metric (an ALB request count or a
    /// customized metric), which only KEDA reads.
    #[must_use]
    pub fn reads_cloudwatch(&self) -> bool {
        self.target_tracking_scaling_policies.iter().flatten().any(|p| {
            p.customized_metric_specification.is_some()
                || p.predefined_metric_specification.as_ref().is_some_and(|m| {
                    m.predefined_metric_type == PredefinedMetricType::AlbRequestCountPerTarget
                })
        })
    }
}

/// Which kinds of scaling are suspended.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuspendedState {
    /// No dynamic scale-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_scaling_in_suspended: Option<bool>,
    /// No dynamic scale-out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_scaling_out_suspended: Option<bool>,
    /// No scheduled actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_scaling_suspended: Option<bool>,
}

/// A target tracking policy: keeps a metric near `targetValue`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetTrackingScalingPolicy {
    /// Policy name, unique within the service.
    pub policy_name: String,
    /// The metric value to keep.
    pub target_value: f64,
    /// A predefined ECS metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predefined_metric_specification: Option<PredefinedMetricSpecification>,
    /// A CloudWatch metric of your own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customized_metric_specification: Option<CustomizedMetricSpecification>,
    /// Seconds after a scale-out before another scale-out (AAS default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_out_cooldown: Option<i32>,
    /// Seconds after a scale-in before another scale-in (AAS default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_in_cooldown: Option<i32>,
    /// When true the policy never scales in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_scale_in: Option<bool>,
}

/// A predefined metric for target tracking.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PredefinedMetricSpecification {
    /// The metric.
    pub predefined_metric_type: PredefinedMetricType,
    /// For ALBRequestCountPerTarget: `app/<lb>/<id>/targetgroup/<tg>/<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<String>,
}

/// Predefined metrics of ECS services.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PredefinedMetricType {
    /// Average CPU utilisation of the service's tasks.
    #[serde(rename = "ECSServiceAverageCPUUtilization")]
    EcsServiceAverageCpuUtilization,
    /// Average memory utilisation of the service's tasks.
    #[serde(rename = "ECSServiceAverageMemoryUtilization")]
    EcsServiceAverageMemoryUtilization,
    /// Requests per target per minute on an ALB target group.
    #[serde(rename = "ALBRequestCountPerTarget")]
    AlbRequestCountPerTarget,
    /// Average CPU utilisation at 20-second resolution.
    #[serde(rename = "ECSServiceAverageCPUUtilizationHighResolution")]
    EcsServiceAverageCpuUtilizationHighResolution,
    /// Average memory utilisation at 20-second resolution.
    #[serde(rename = "ECSServiceAverageMemoryUtilizationHighResolution")]
    EcsServiceAverageMemoryUtilizationHighResolution,
}

/// A CloudWatch metric for target tracking.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomizedMetricSpecification {
    /// Metric name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    /// Metric namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Metric dimensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Vec<MetricDimension>>,
    /// Average, Minimum, Maximum, SampleCount or Sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// Metric unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A metric dimension.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricDimension {
    /// Dimension name.
    pub name: String,
    /// Dimension value.
    pub value: String,
}

/// A step scaling policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepScalingPolicy {
    /// Policy name, unique within the service.
    pub policy_name: String,
    /// ChangeInCapacity, PercentChangeInCapacity or ExactCapacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment_type: Option<String>,
    /// Steps, with bounds relative to the alarm threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_adjustments: Option<Vec<StepAdjustment>>,
    /// With PercentChangeInCapacity, the fewest tasks to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_adjustment_magnitude: Option<i32>,
    /// Seconds to wait after a scaling activity (AAS default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<i32>,
    /// Average, Minimum or Maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_aggregation_type: Option<String>,
}

/// One step of a step scaling policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepAdjustment {
    /// Lower bound of the step (metric minus threshold); absent means minus infinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_interval_lower_bound: Option<f64>,
    /// Upper bound of the step (metric minus threshold); absent means plus infinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_interval_upper_bound: Option<f64>,
    /// Tasks (or percent) to add; negative removes.
    pub scaling_adjustment: i32,
}

/// A scheduled action: sets min and/or max capacity at the times of `schedule`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledAction {
    /// Action name, unique within the service.
    pub scheduled_action_name: String,
    /// `at(yyyy-mm-ddThh:mm:ss)`, `rate(value unit)` or `cron(six fields)`.
    pub schedule: String,
    /// IANA time zone for at() and cron(); UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// When a recurring schedule starts (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When a recurring schedule ends (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// The capacities to set.
    pub scalable_target_action: ScalableTargetAction,
}

/// Capacities set by a scheduled action.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalableTargetAction {
    /// New minimum capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_capacity: Option<i32>,
    /// New maximum capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_capacity: Option<i32>,
}

/// Service Auto Scaling as Application Auto Scaling describes it (`describe-scalable-targets`,
/// `describe-scaling-policies`, `describe-scheduled-actions`), with the HorizontalPodAutoscaler
/// that carries it out. The operator keeps here what AAS keeps: the range in force after the
/// scheduled actions, and up to when they were applied, so a restart or a new leader goes on
/// from it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingStatus {
    /// The scalable target.
    pub scalable_target: ScalableTargetStatus,
    /// The scaling policies, each with how it is carried out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling_policies: Vec<ScalingPolicyStatus>,
    /// The scheduled actions, each with when it was put and when it runs next.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scheduled_actions: Vec<ScheduledActionStatus>,
    /// The HorizontalPodAutoscaler that scales the Service (it bears the Service's name), when
    /// one does: none when no policy has a metric it can read, or when the max in force is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizontal_pod_autoscaler: Option<String>,
    /// The KEDA ScaledObject that scales the Service (it bears the Service's name), where KEDA
    /// is installed and a policy reads CloudWatch; KEDA owns the HPA then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_object: Option<String>,
    /// The latest scaling activities, newest first (at most 10), as
    /// `describe-scaling-activities` shows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling_activities: Vec<ScalingActivity>,
}

/// A scaling activity, as `describe-scaling-activities` shows it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingActivity {
    /// The activity's id (stable: derived from its cause and start).
    pub activity_id: String,
    /// What was done, e.g. "Setting desired count to 4.".
    pub description: String,
    /// Why, e.g. "scheduled action name peak was triggered".
    pub cause: String,
    /// When it started.
    pub start_time: Time,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    /// Successful (the only state the operator records: a change it could not make is a
    /// condition).
    pub status_code: String,
}

/// The scalable target `ecs:service:DesiredCount`, as `describe-scalable-targets` shows it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalableTargetStatus {
    /// The min capacity in force: the registered one, or as a scheduled action last set it.
    pub min_capacity: i32,
    /// The max capacity in force: the registered one, or as a scheduled action last set it.
    pub max_capacity: i32,
    /// `spec.autoScaling.minCapacity` as last registered (a change registers the target anew).
    pub registered_min_capacity: i32,
    /// `spec.autoScaling.maxCapacity` as last registered.
    pub registered_max_capacity: i32,
    /// When the target was registered with that range.
    pub creation_time: Time,
    /// Scheduled actions that fired up to this instant are applied to the range in force.
    pub scheduled_through: Time,
    /// The suspended state as last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_state: Option<SuspendedState>,
}

/// A scaling policy, as `describe-scaling-policies` shows it, with how it is carried out.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingPolicyStatus {
    /// The policy's name.
    pub policy_name: String,
    /// TargetTrackingScaling or StepScaling.
    pub policy_type: String,
    /// `Active` when the HorizontalPodAutoscaler reads its metric, `NotTranslated` when nothing
    /// scales on it yet (`message` says why).
    pub state: String,
    /// What carries it out, or why nothing does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A scheduled action, as `describe-scheduled-actions` shows it, with its next run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledActionStatus {
    /// The action as put.
    #[serde(flatten)]
    pub action: ScheduledAction,
    /// When it was put with this definition (its firings count from then; a `rate` counts from
    /// its `startTime`, else from then).
    pub creation_time: Time,
    /// When it next fires; none when it never will again (an `at` past, an `endTime` passed) or
    /// while scheduled scaling is suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<Time>,
}
