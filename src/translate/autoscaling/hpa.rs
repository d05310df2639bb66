//! A Service's target tracking as a HorizontalPodAutoscaler (`autoscaling/v2`, pure), whose
//! target is the Service itself through its `scale` subresource: a scaling decision becomes the
//! Service's `desiredCount`, split over its capacity providers as `kubectl scale` is, as AAS
//! writes `desiredCount` through UpdateService.
//!
//! - `minCapacity`/`maxCapacity` (as scheduled actions leave them, [`super::scheduled`]) →
//!   `minReplicas`/`maxReplicas`; the HPA keeps the count inside them, as AAS clamps it.
//! - `ECSServiceAverageCPUUtilization` / `...MemoryUtilization` (and their HighResolution
//!   variants) → Resource metrics with an `AverageValue` target: ECS measures a task's use
//!   against what the task reserves (its `cpu`/`memory`, else its containers'), so T% becomes
//!   T% of that reservation in average use per task — the same number whatever requests the pod
//!   template spreads over its containers (Kubernetes' `Utilization` counts container requests).
//! - Several policies: the HPA proposes the largest count of its metrics, so it scales out when
//!   any policy asks and in only when all agree, as AAS combines policies.
//! - Scale-in: `disableScaleIn` on every policy, `dynamicScalingInSuspended`, or an ECS
//!   deployment in progress (AAS suspends scale-in then) → `scaleDown` Disabled; otherwise
//!   stabilised over the longest `scaleInCooldown` (AAS default 300 s): in gradually.
//!   Scale-out: at once (`stabilizationWindowSeconds` 0, the HPA's default rate), Disabled when
//!   `dynamicScalingOutSuspended`.
//!
//! What has no HPA form yet (ALB request counts and CloudWatch metrics, which need an external
//! metrics adapter; step scaling) is said in the [`Report`].

use k8s_openapi::{
    api::autoscaling::v2::{
        CrossVersionObjectReference, HPAScalingRules, HorizontalPodAutoscaler,
        HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
        ResourceMetricSource,
    },
    apimachinery::pkg::api::resource::Quantity,
};

use super::AutoScalingError;
use crate::{
    api::autoscaling::{AutoScaling, PredefinedMetricType, ScalingPolicyStatus},
    translate::{
        labels,
        report::{NoteKind, Report},
        spelling::enum_name,
    },
};

/// AAS's default cooldowns for ECS services, in seconds.
pub const DEFAULT_COOLDOWN: i32 = 300;

fn refused(field: impl Into<String>, message: impl Into<String>) -> AutoScalingError {
    AutoScalingError {
        field: field.into(),
        message: message.into(),
    }
}

/// What the HPA of a Service is made from.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The Service's name (the HPA's, and its target's).
    pub service: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its `autoScaling`.
    pub auto_scaling: &'a AutoScaling,
    /// The capacity range in force (the target's own, or as scheduled actions set it).
    pub range: (i32, i32),
    /// What one task reserves: CPU millicores and memory bytes.
    pub reservation: (Option<i64>, Option<i64>),
    /// An ECS deployment of the Service is in progress (AAS suspends scale-in).
    pub deploying: bool,
}

/// The HPA, if any policy has a Kubernetes metric, and what could not be carried over.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The HPA; `None` when no policy has a Kubernetes metric (yet).
    pub hpa: Option<HorizontalPodAutoscaler>,
    /// Fields translated approximately or not at all.
    pub report: Report,
    /// Each policy (target tracking, then step scaling) with how it is carried out.
    pub policies: Vec<ScalingPolicyStatus>,
    /// The policies' CloudWatch metrics, which only KEDA reads ([`super::keda`]): without it
    /// they are in the report and their policies `NotTranslated`.
    pub cloudwatch: Vec<super::cloudwatch::CloudWatchMetric>,
    /// The range and behavior, for KEDA's HPA too.
    pub scaling: HorizontalPodAutoscalerSpec,
}

/// Why a policy on a CloudWatch metric does not scale without KEDA.
pub const NEEDS_KEDA: &str = "a CloudWatch metric: KEDA (keda.sh ScaledObject) reads it, or a metrics adapter \
                              serving the external metric ecsbridge_cloudwatch, and neither is installed; not scaled on";

/// `TargetTrackingScaling`, as AAS names the policy type.
pub const TARGET_TRACKING: &str = "TargetTrackingScaling";
/// `StepScaling`, as AAS names the policy type.
pub const STEP_SCALING: &str = "StepScaling";
/// A policy's state when the HPA reads its metric.
pub const ACTIVE: &str = "Active";
/// A policy's state when nothing scales on it yet.
pub const NOT_TRANSLATED: &str = "NotTranslated";

fn policy(name: &str, type_: &str, state: &str, message: String) -> ScalingPolicyStatus {
    ScalingPolicyStatus {
        policy_name: name.to_owned(),
        policy_type: type_.to_owned(),
        state: state.to_owned(),
        message: Some(message),
    }
}

/// The HPA of Service `service` in `namespace`, with `spec`.
#[must_use]
pub fn object(service: &str, namespace: &str, spec: HorizontalPodAutoscalerSpec) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: labels::service_object_meta(service, namespace),
        spec: Some(spec),
        status: None,
    }
}

impl Built {
    /// Takes back what was said of the CloudWatch policies (that nothing reads them) when something
    /// reads their metrics after all (KEDA, a metrics adapter): their notes go.
    pub fn unsay_cloudwatch(&mut self) {
        let fields: Vec<String> = self
            .cloudwatch
            .iter()
            .map(|m| format!("autoScaling.{}", m.field))
            .collect();
        self.report.notes.retain(|n| !fields.contains(&n.field));
    }
}

/// Says that the policy of CloudWatch metric `m` does not scale without KEDA ([`NEEDS_KEDA`]);
/// [`super::keda`] takes it back where KEDA is installed.
fn said_unread(
    m: &super::cloudwatch::CloudWatchMetric,
    report: &mut Report,
    statuses: &mut Vec<ScalingPolicyStatus>,
) {
    report.note(
        NoteKind::NotYetTranslated,
        format!("autoScaling.{}", m.field),
        NEEDS_KEDA,
    );
    statuses.push(policy(
        &m.policy,
        TARGET_TRACKING,
        NOT_TRANSLATED,
        NEEDS_KEDA.to_owned(),
    ));
}

/// Checks the scalable target and its policies as AAS does, and builds the HPA.
///
/// # Errors
/// A range or policy AAS would refuse, or a utilisation policy for a task that reserves nothing
/// to measure against, naming the field.
pub fn hpa(input: &Input<'_>) -> Result<Built, AutoScalingError> {
    let a = input.auto_scaling;
    if a.min_capacity < 0 {
        return Err(refused("minCapacity", format!("{} is below 0", a.min_capacity)));
    }
    if a.max_capacity < a.min_capacity {
        return Err(refused(
            "maxCapacity",
            format!("{} is below minCapacity {}", a.max_capacity, a.min_capacity),
        ));
    }
    let mut report = Report::default();
    let policies = a.target_tracking_scaling_policies.as_deref().unwrap_or_default();
    let mut metrics = Vec::new();
    let mut statuses = Vec::new();
    let mut cloudwatch = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    // Each predefined metric with the policy that took it.
    let mut taken: Vec<(String, &str)> = Vec::new();
    for (i, p) in policies.iter().enumerate() {
        let field = format!("targetTrackingScalingPolicies[{i}]");
        if p.policy_name.is_empty() || p.policy_name.chars().count() > 256 {
            return Err(refused(format!("{field}.policyName"), "1 to 256 characters"));
        }
        if names.contains(&p.policy_name.as_str()) {
            return Err(refused(
                format!("{field}.policyName"),
                format!(
                    "{:?} is given twice: AAS keeps one policy per name",
                    p.policy_name
                ),
            ));
        }
        names.push(&p.policy_name);
        if !(p.target_value.is_finite() && p.target_value > 0.0) {
            return Err(refused(
                format!("{field}.targetValue"),
                format!("{}: give a positive value", p.target_value),
            ));
        }
        let predefined = match (
            &p.predefined_metric_specification,
            &p.customized_metric_specification,
        ) {
            (Some(m), None) => m,
            (None, Some(custom)) => {
                let m = super::cloudwatch::customized(&p.policy_name, &field, custom, p.target_value)?;
                said_unread(&m, &mut report, &mut statuses);
                cloudwatch.push(m);
                continue;
            }
            _ => {
                return Err(refused(
                    &field,
                    "give exactly one of predefinedMetricSpecification and customizedMetricSpecification",
                ));
            }
        };
        let kind = enum_name(&predefined.predefined_metric_type);
        if let Some((_, other)) = taken.iter().find(|(k, _)| *k == kind) {
            return Err(refused(
                format!("{field}.predefinedMetricSpecification.predefinedMetricType"),
                format!("{kind} is already policy {other:?}'s metric: AAS takes one policy per metric"),
            ));
        }
        taken.push((kind.clone(), &p.policy_name));
        let (resource, high_resolution) = match predefined.predefined_metric_type {
            PredefinedMetricType::EcsServiceAverageCpuUtilization => ("cpu", false),
            PredefinedMetricType::EcsServiceAverageMemoryUtilization => ("memory", false),
            PredefinedMetricType::EcsServiceAverageCpuUtilizationHighResolution => ("cpu", true),
            PredefinedMetricType::EcsServiceAverageMemoryUtilizationHighResolution => ("memory", true),
            PredefinedMetricType::AlbRequestCountPerTarget => {
                let Some(label) = predefined.resource_label.as_deref().filter(|l| !l.is_empty()) else {
                    return Err(refused(
                        format!("{field}.predefinedMetricSpecification.resourceLabel"),
                        "required with ALBRequestCountPerTarget: app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>",
                    ));
                };
                let m = super::cloudwatch::alb(&p.policy_name, &field, label, p.target_value)?;
                said_unread(&m, &mut report, &mut statuses);
                cloudwatch.push(m);
                continue;
            }
        };
        let target = if resource == "cpu" {
            let millis = input.reservation.0.ok_or_else(|| {
                refused(
                    format!("{field}.predefinedMetricSpecification"),
                    format!("{kind} measures use against the task's cpu, and the task definition reserves none: set its cpu (or its containers')"),
                )
            })?;
            let target = ((millis as f64) * p.target_value / 100.0).round().max(1.0) as i64;
            Quantity(format!("{target}m"))
        } else {
            let bytes = input.reservation.1.ok_or_else(|| {
                refused(
                    format!("{field}.predefinedMetricSpecification"),
                    format!("{kind} measures use against the task's memory, and the task definition reserves none: set its memory (or its containers')"),
                )
            })?;
            let target = ((bytes as f64) * p.target_value / 100.0).round().max(1.0) as i64;
            Quantity(target.to_string())
        };
        if high_resolution {
            report.note(
                NoteKind::Approximated,
                format!("autoScaling.{field}.predefinedMetricSpecification.predefinedMetricType"),
                "high resolution: the HPA reads the metrics server's samples (every 15 s by default), not 20-second \
                 CloudWatch metrics",
            );
        }
        statuses.push(policy(
            &p.policy_name,
            TARGET_TRACKING,
            ACTIVE,
            format!(
                "HorizontalPodAutoscaler {}: {resource} {} per task on average ({}% of what a task reserves)",
                input.service, target.0, p.target_value
            ),
        ));
        metrics.push(MetricSpec {
            type_: "Resource".to_owned(),
            resource: Some(ResourceMetricSource {
                name: resource.to_owned(),
                target: MetricTarget {
                    type_: "AverageValue".to_owned(),
                    average_value: Some(target),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        });
    }
    let steps = a.step_scaling_policies.as_deref().unwrap_or_default();
    if !steps.is_empty() {
        let why = super::steps::NOT_SCALED;
        report.note(NoteKind::NotYetTranslated, "autoScaling.stepScalingPolicies", why);
        statuses.extend(
            steps
                .iter()
                .map(|s| policy(&s.policy_name, STEP_SCALING, NOT_TRANSLATED, why.to_owned())),
        );
    }
    // (What is said of the range and behavior concerns a Service that something scales.)
    let scales = !metrics.is_empty() || !cloudwatch.is_empty();
    let (min, max) = input.range;
    if scales && min == 0 {
        report.note(
            NoteKind::Approximated,
            "autoScaling.minCapacity",
            "0: a HorizontalPodAutoscaler keeps at least 1 task (minReplicas 0 needs Kubernetes' HPAScaleToZero \
             feature gate)",
        );
    }
    let min_replicas = min.max(1);
    let suspended = a.suspended_state.clone().unwrap_or_default();
    let scale_in_off = policies.iter().all(|p| p.disable_scale_in == Some(true))
        || suspended.dynamic_scaling_in_suspended == Some(true)
        || input.deploying;
    if scales && !scale_in_off && policies.iter().any(|p| p.disable_scale_in == Some(true)) {
        report.note(
            NoteKind::Approximated,
            "autoScaling.targetTrackingScalingPolicies",
            "disableScaleIn on some policies only: their metrics still hold scale-in back (a HorizontalPodAutoscaler \
             scales in when every metric allows it), where AAS lets the other policies scale in",
        );
    }
    if scales
        && policies
            .iter()
            .any(|p| p.scale_out_cooldown.is_some_and(|c| c != DEFAULT_COOLDOWN))
    {
        report.note(
            NoteKind::Approximated,
            "autoScaling.targetTrackingScalingPolicies",
            "scaleOutCooldown: the HPA scales out at once, by at most double or 4 tasks per 15 s, with no cooldown",
        );
    }
    let scale_in_window = policies
        .iter()
        .map(|p| p.scale_in_cooldown.unwrap_or(DEFAULT_COOLDOWN))
        .max()
        .unwrap_or(DEFAULT_COOLDOWN)
        .clamp(0, 3600);
    let disabled = |off: bool| off.then(|| "Disabled".to_owned());
    let spec = HorizontalPodAutoscalerSpec {
        scale_target_ref: CrossVersionObjectReference {
            api_version: Some(crate::api::API_VERSION.to_owned()),
            kind: "Service".to_owned(),
            name: input.service.to_owned(),
        },
        min_replicas: Some(min_replicas),
        max_replicas: max.max(min_replicas),
        metrics: Some(metrics),
        behavior: Some(HorizontalPodAutoscalerBehavior {
            scale_up: Some(HPAScalingRules {
                stabilization_window_seconds: Some(0),
                select_policy: disabled(suspended.dynamic_scaling_out_suspended == Some(true)),
                ..HPAScalingRules::default()
            }),
            scale_down: Some(HPAScalingRules {
                stabilization_window_seconds: Some(scale_in_window),
                select_policy: disabled(scale_in_off),
                ..HPAScalingRules::default()
            }),
        }),
    };
    let has_metrics = spec.metrics.as_ref().is_some_and(|m| !m.is_empty());
    let hpa = has_metrics.then(|| object(input.service, input.namespace, spec.clone()));
    Ok(Built {
        hpa,
        report,
        policies: statuses,
        cloudwatch,
        scaling: spec,
    })
}
