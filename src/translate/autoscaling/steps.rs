//! Step scaling policies, checked as AAS's PutScalingPolicy checks them (pure), naming the field
//! (ecs-reference §5.2): the adjustment type, the steps' bounds (relative to the alarm threshold:
//! no overlap, no gap, at most one open end each way, an open end wherever a bound crosses the
//! threshold), `ExactCapacity` at 0 or more, `minAdjustmentMagnitude` only with
//! `PercentChangeInCapacity`, the cooldown and the aggregation.
//!
//! A step policy acts when the CloudWatch alarm that names it fires; that alarm (its metric and
//! threshold) is created apart from the service and is not part of it, so nothing here can read
//! it: the policies are checked and said ([`NOT_SCALED`]), never half-applied.

use super::AutoScalingError;
use crate::api::autoscaling::StepScalingPolicy;

/// Why a step scaling policy does not scale the Service.
pub const NOT_SCALED: &str = "step scaling acts when the CloudWatch alarm that names the policy fires, and that \
                              alarm (its metric and threshold) is not part of the Service: not scaled on; give a \
                              target tracking policy on the alarm's metric instead";

const ADJUSTMENT_TYPES: [&str; 3] = ["ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity"];
const AGGREGATIONS: [&str; 3] = ["Average", "Minimum", "Maximum"];

/// Checks `policies` as AAS does; `taken` are the names of the target tracking policies.
///
/// # Errors
/// The first rule broken, naming the field (under `spec.autoScaling.`).
pub fn check(policies: &[StepScalingPolicy], taken: &[&str]) -> Result<(), AutoScalingError> {
    let mut names: Vec<&str> = taken.to_vec();
    for (i, p) in policies.iter().enumerate() {
        let at = |f: &str| format!("stepScalingPolicies[{i}]{f}");
        let refuse = |f: &str, message: String| AutoScalingError {
            field: at(f),
            message,
        };
        if p.policy_name.is_empty() || p.policy_name.chars().count() > 256 {
            return Err(refuse(".policyName", "1 to 256 characters".to_owned()));
        }
        if names.contains(&p.policy_name.as_str()) {
            return Err(refuse(
                ".policyName",
                format!(
                    "{:?} is given twice: AAS keeps one policy per name",
                    p.policy_name
                ),
            ));
        }
        names.push(&p.policy_name);
        let kind = p.adjustment_type.as_deref().unwrap_or_default();
        if !ADJUSTMENT_TYPES.contains(&kind) {
            return Err(refuse(
                ".adjustmentType",
                format!("{kind:?}: give one of {}", ADJUSTMENT_TYPES.join(", ")),
            ));
        }
        if let Some(m) = p.min_adjustment_magnitude {
            if kind != "PercentChangeInCapacity" {
                return Err(refuse(
                    ".minAdjustmentMagnitude",
                    format!("only with PercentChangeInCapacity, not {kind}"),
                ));
            }
            if m < 1 {
                return Err(refuse(".minAdjustmentMagnitude", format!("{m} is below 1")));
            }
        }
        if let Some(c) = p.cooldown.filter(|c| *c < 0) {
            return Err(refuse(".cooldown", format!("{c} is below 0")));
        }
        if let Some(a) = p
            .metric_aggregation_type
            .as_deref()
            .filter(|a| !AGGREGATIONS.contains(a))
        {
            return Err(refuse(
                ".metricAggregationType",
                format!("{a:?}: give one of {}", AGGREGATIONS.join(", ")),
            ));
        }
        check_steps(p, kind, &at)?;
    }
    Ok(())
}

/// The steps of `p` (adjustment type `kind`): see the module docs.
fn check_steps(
    p: &StepScalingPolicy,
    kind: &str,
    at: &dyn Fn(&str) -> String,
) -> Result<(), AutoScalingError> {
    let steps = p.step_adjustments.as_deref().unwrap_or_default();
    let refuse = |f: String, message: String| AutoScalingError {
        field: at(&f),
        message,
    };
    if steps.is_empty() {
        return Err(refuse(
            ".stepAdjustments".to_owned(),
            "give at least one step".to_owned(),
        ));
    }
    for (j, s) in steps.iter().enumerate() {
        let step = format!(".stepAdjustments[{j}]");
        match (s.metric_interval_lower_bound, s.metric_interval_upper_bound) {
            (None, None) => {
                return Err(refuse(
                    step,
                    "give a metricIntervalLowerBound or a metricIntervalUpperBound (both open is every value)"
                        .to_owned(),
                ));
            }
            (Some(lo), Some(hi)) if lo >= hi => {
                return Err(refuse(
                    format!("{step}.metricIntervalUpperBound"),
                    format!("{hi} is not above metricIntervalLowerBound {lo}"),
                ));
            }
            _ => {}
        }
        if kind == "ExactCapacity" && s.scaling_adjustment < 0 {
            return Err(refuse(
                format!("{step}.scalingAdjustment"),
                format!("{}: an ExactCapacity is 0 or more", s.scaling_adjustment),
            ));
        }
    }
    let open_low = steps
        .iter()
        .filter(|s| s.metric_interval_lower_bound.is_none())
        .count();
    let open_high = steps
        .iter()
        .filter(|s| s.metric_interval_upper_bound.is_none())
        .count();
    if open_low > 1 || open_high > 1 {
        return Err(refuse(
            ".stepAdjustments".to_owned(),
            format!(
                "{} steps have no {}: at most one may be open that way",
                open_low.max(open_high),
                if open_low > 1 {
                    "metricIntervalLowerBound"
                } else {
                    "metricIntervalUpperBound"
                }
            ),
        ));
    }
    if open_low == 0
        && steps
            .iter()
            .any(|s| s.metric_interval_lower_bound.is_some_and(|b| b < 0.0))
    {
        return Err(refuse(
            ".stepAdjustments".to_owned(),
            "a lower bound is below the threshold, so one step must have no metricIntervalLowerBound"
                .to_owned(),
        ));
    }
    if open_high == 0
        && steps
            .iter()
            .any(|s| s.metric_interval_upper_bound.is_some_and(|b| b > 0.0))
    {
        return Err(refuse(
            ".stepAdjustments".to_owned(),
            "an upper bound is above the threshold, so one step must have no metricIntervalUpperBound"
                .to_owned(),
        ));
    }
    // In order of their lower bounds, each step starts where the one before ends.
    let mut order: Vec<(usize, f64, f64)> = steps
        .iter()
        .enumerate()
        .map(|(j, s)| {
            (
                j,
                s.metric_interval_lower_bound.unwrap_or(f64::NEG_INFINITY),
                s.metric_interval_upper_bound.unwrap_or(f64::INFINITY),
            )
        })
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    for pair in order.windows(2) {
        let ((i, _, end), (j, start, _)) = (pair[0], pair[1]);
        if start < end {
            return Err(refuse(
                format!(".stepAdjustments[{j}]"),
                format!("overlaps step {i}: it starts at {start}, before step {i} ends at {end}"),
            ));
        }
        if start > end {
            return Err(refuse(
                format!(".stepAdjustments[{j}]"),
                format!("leaves a gap: step {i} ends at {end} and this one starts at {start}"),
            ));
        }
    }
    Ok(())
}
