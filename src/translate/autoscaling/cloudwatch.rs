//! The CloudWatch metrics of target tracking policies that Kubernetes cannot read by itself
//! (pure): `ALBRequestCountPerTarget` and customized metrics, checked as AAS checks them. KEDA's
//! `aws-cloudwatch` scaler reads them ([`super::keda`]).
//!
//! AAS keeps a metric at its target by `count × metric / target`. For a customized metric (a
//! per-task figure, as AAS expects) that is an HPA `Value` target; `ALBRequestCountPerTarget`
//! is read as the target group's total `RequestCount` (Sum per minute) with an `AverageValue`
//! target, which is the same count (`total / target` = `count × per-target / target`).

use super::AutoScalingError;
use crate::api::autoscaling::CustomizedMetricSpecification;

/// A policy's CloudWatch metric.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudWatchMetric {
    /// The policy's name.
    pub policy: String,
    /// The field it comes from, relative to `spec` (for notes).
    pub field: String,
    /// CloudWatch namespace (`AWS/ApplicationELB`).
    pub namespace: String,
    /// Metric name.
    pub metric_name: String,
    /// Dimensions, in order.
    pub dimensions: Vec<(String, String)>,
    /// Statistic: Average, Minimum, Maximum, SampleCount or Sum.
    pub statistic: String,
    /// Unit, when given.
    pub unit: Option<String>,
    /// The target value.
    pub target: f64,
    /// The target is per task (the metric is a total: `AverageValue`), else the metric itself
    /// (`Value`).
    pub per_task: bool,
}

const STATISTICS: [&str; 5] = ["Average", "Minimum", "Maximum", "SampleCount", "Sum"];

fn refused(field: String, message: String) -> AutoScalingError {
    AutoScalingError { field, message }
}

/// The request count of the target group `label` names (`app/<lb>/<id>/targetgroup/<tg>/<id>`),
/// for policy `policy` (at `field`, under `autoScaling`) with `target` requests per task per
/// minute.
///
/// # Errors
/// A label that is not an ALB's target group, naming the field.
pub fn alb(
    policy: &str,
    field: &str,
    label: &str,
    target: f64,
) -> Result<CloudWatchMetric, AutoScalingError> {
    let parts: Vec<&str> = label.split('/').collect();
    let valid = parts.len() == 6
        && parts[0] == "app"
        && parts[3] == "targetgroup"
        && parts.iter().all(|p| !p.is_empty());
    if !valid {
        return Err(refused(
            format!("{field}.predefinedMetricSpecification.resourceLabel"),
            format!(
                "{label:?} is not app/<load-balancer-name>/<load-balancer-id>/targetgroup/<target-group-name>/<target-group-id>"
            ),
        ));
    }
    Ok(CloudWatchMetric {
        policy: policy.to_owned(),
        field: format!("{field}.predefinedMetricSpecification"),
        namespace: "AWS/ApplicationELB".to_owned(),
        metric_name: "RequestCount".to_owned(),
        dimensions: vec![
            ("LoadBalancer".to_owned(), parts[..3].join("/")),
            ("TargetGroup".to_owned(), parts[3..].join("/")),
        ],
        statistic: "Sum".to_owned(),
        unit: None,
        target,
        per_task: true,
    })
}

/// A customized metric, for policy `policy` (at `field`) with `target`.
///
/// # Errors
/// A missing namespace, metric name or statistic, or an unknown statistic, naming the field.
pub fn customized(
    policy: &str,
    field: &str,
    m: &CustomizedMetricSpecification,
    target: f64,
) -> Result<CloudWatchMetric, AutoScalingError> {
    let at = |f: &str| format!("{field}.customizedMetricSpecification.{f}");
    let required = |v: &Option<String>, f: &str| {
        v.clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| refused(at(f), "required".to_owned()))
    };
    let namespace = required(&m.namespace, "namespace")?;
    let metric_name = required(&m.metric_name, "metricName")?;
    let statistic = required(&m.statistic, "statistic")?;
    if !STATISTICS.contains(&statistic.as_str()) {
        return Err(refused(
            at("statistic"),
            format!("{statistic:?} is not one of {}", STATISTICS.join(", ")),
        ));
    }
    Ok(CloudWatchMetric {
        policy: policy.to_owned(),
        field: format!("{field}.customizedMetricSpecification"),
        namespace,
        metric_name,
        dimensions: m
            .dimensions
            .iter()
            .flatten()
            .map(|d| (d.name.clone(), d.value.clone()))
            .collect(),
        statistic,
        unit: m.unit.clone(),
        target,
        per_task: false,
    })
}
