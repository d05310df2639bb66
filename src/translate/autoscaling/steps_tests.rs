//! Step scaling policies: AAS's rules, each refusal naming the field.

use serde_json::{Value, json};

use super::steps::check;
use crate::api::autoscaling::StepScalingPolicy;

fn policy(adjustment: &str, steps: Value) -> Value {
    json!({"policyName": "out", "adjustmentType": adjustment, "stepAdjustments": steps})
}

fn checked(policies: Value) -> Result<(), String> {
    let p: Vec<StepScalingPolicy> = serde_json::from_value(policies).expect("policies");
    check(&p, &["cpu"]).map_err(|e| e.to_string())
}

#[test]
fn aws_examples_pass() {
    // Threshold 50: +1 from 50 to 60, +2 from 60 to 70, +3 above; -1 from 40 to 50, -2 below.
    let out = policy(
        "ChangeInCapacity",
        json!([
            {"metricIntervalLowerBound": 0, "metricIntervalUpperBound": 10, "scalingAdjustment": 1},
            {"metricIntervalLowerBound": 10, "metricIntervalUpperBound": 20, "scalingAdjustment": 2},
            {"metricIntervalLowerBound": 20, "scalingAdjustment": 3}
        ]),
    );
    let mut inn = policy(
        "PercentChangeInCapacity",
        json!([
            {"metricIntervalLowerBound": -10, "metricIntervalUpperBound": 0, "scalingAdjustment": -25},
            {"metricIntervalUpperBound": -10, "scalingAdjustment": -50}
        ]),
    );
    inn["policyName"] = json!("in");
    inn["minAdjustmentMagnitude"] = json!(2);
    inn["metricAggregationType"] = json!("Maximum");
    assert_eq!(checked(json!([out, inn])), Ok(()));
}

#[test]
fn aas_refusals_name_the_field() {
    let step = |lo: Value, hi: Value| json!({"metricIntervalLowerBound": lo, "metricIntervalUpperBound": hi, "scalingAdjustment": 1});
    let cases = [
        (
            policy(
                "ChangeInCapacity",
                json!([step(json!(0), json!(10)), step(json!(5), Value::Null)]),
            ),
            "spec.autoScaling.stepScalingPolicies[0].stepAdjustments[1]: overlaps step 0: it starts at 5, before step 0 ends at 10",
        ),
        (
            policy(
                "ChangeInCapacity",
                json!([step(json!(0), json!(10)), step(json!(20), Value::Null)]),
            ),
            "spec.autoScaling.stepScalingPolicies[0].stepAdjustments[1]: leaves a gap: step 0 ends at 10 and this one starts at 20",
        ),
        (
            policy("ChangeInCapacity", json!([step(json!(0), json!(10))])),
            "spec.autoScaling.stepScalingPolicies[0].stepAdjustments: an upper bound is above the threshold, so one step must have no metricIntervalUpperBound",
        ),
        (
            policy("ChangeInCapacity", json!([step(json!(-10), json!(0))])),
            "spec.autoScaling.stepScalingPolicies[0].stepAdjustments: a lower bound is below the threshold, so one step must have no metricIntervalLowerBound",
        ),
        (
            policy("ChangeInCapacity", json!([step(Value::Null, Value::Null)])),
            "spec.autoScaling.stepScalingPolicies[0].stepAdjustments[0]: give a metricIntervalLowerBound or a metricIntervalUpperBound",
        ),
        (
            policy("ChangeInCapacity", json!([step(json!(10), json!(5))])),
            "spec.autoScaling.stepScalingPolicies[0].stepAdjustments[0].metricIntervalUpperBound: 5 is not above metricIntervalLowerBound 10",
        ),
        (
            policy(
                "ExactCapacity",
                json!([{"metricIntervalLowerBound": 0, "scalingAdjustment": -1}]),
            ),
            "spec.autoScaling.stepScalingPolicies[0].stepAdjustments[0].scalingAdjustment: -1: an ExactCapacity is 0 or more",
        ),
        (
            policy("Grow", json!([step(json!(0), Value::Null)])),
            "spec.autoScaling.stepScalingPolicies[0].adjustmentType: \"Grow\": give one of ChangeInCapacity, PercentChangeInCapacity, ExactCapacity",
        ),
        (
            policy("ChangeInCapacity", json!([])),
            "spec.autoScaling.stepScalingPolicies[0].stepAdjustments: give at least one step",
        ),
    ];
    for (p, message) in cases {
        let err = checked(json!([p])).expect_err(message);
        assert!(err.starts_with(message), "{err}\nwanted: {message}");
    }
    let mut magnitude = policy("ChangeInCapacity", json!([step(json!(0), Value::Null)]));
    magnitude["minAdjustmentMagnitude"] = json!(2);
    assert_eq!(
        checked(json!([magnitude])),
        Err("spec.autoScaling.stepScalingPolicies[0].minAdjustmentMagnitude: only with PercentChangeInCapacity, not ChangeInCapacity".into())
    );
    let mut named = policy("ChangeInCapacity", json!([step(json!(0), Value::Null)]));
    named["policyName"] = json!("cpu");
    assert_eq!(
        checked(json!([named])),
        Err("spec.autoScaling.stepScalingPolicies[0].policyName: \"cpu\" is given twice: AAS keeps one policy per name".into()),
        "a target tracking policy has the name"
    );
}
