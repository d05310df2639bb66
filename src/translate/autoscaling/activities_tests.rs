//! Scaling activities: a fired scheduled action and an HPA rescale in AAS's words, each once,
//! newest first, at most ten.

use k8s_openapi::{api::autoscaling::v2::HorizontalPodAutoscaler, jiff::Timestamp};
use serde_json::json;

use super::{
    activities::{MAX_ACTIVITIES, Rescaled, record},
    scheduled::{Fired, check},
};
use crate::api::autoscaling::AutoScaling;

fn utc(s: &str) -> Timestamp {
    s.parse().expect("a timestamp")
}

fn auto_scaling() -> AutoScaling {
    serde_json::from_value(json!({
        "minCapacity": 2, "maxCapacity": 8,
        "targetTrackingScalingPolicies": [{"policyName": "cpu50", "targetValue": 50,
            "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}}],
        "scheduledActions": [{"scheduledActionName": "peak", "schedule": "cron(0 8 * * ? *)",
            "scalableTargetAction": {"minCapacity": 5, "maxCapacity": 8}}]
    }))
    .expect("auto scaling")
}

/// The HPA `web` after a rescale to `desired` at `at`, reading 500m a task against 250m.
fn hpa(desired: i32, at: &str) -> HorizontalPodAutoscaler {
    serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "Service", "name": "web"}, "maxReplicas": 8,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "AverageValue", "averageValue": "250m"}}}]},
        "status": {"desiredReplicas": desired, "currentReplicas": 2, "lastScaleTime": at,
            "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                "current": {"averageValue": "500m"}}}]}
    }))
    .expect("an HPA")
}

#[test]
fn a_fired_action_and_a_rescale_are_said_as_aas_says_them_once() {
    let a = auto_scaling();
    let actions = check(a.scheduled_actions.as_deref().unwrap_or_default()).expect("valid");
    let fired = [Fired {
        action: "peak".into(),
        at: utc("2026-12-07T08:00:00Z"),
    }];
    let now = utc("2026-12-07T08:00:02Z");
    let h = hpa(4, "2026-12-07T07:59:00Z");
    let rescaled = Rescaled { hpa: &h, count: 4 };
    let got = record(&[], &a, (&fired, &actions), Some(&rescaled), now);
    let said: Vec<(&str, &str)> = got
        .iter()
        .map(|x| (x.description.as_str(), x.cause.as_str()))
        .collect();
    assert_eq!(
        said,
        [
            (
                "Setting min capacity to 5 and max capacity to 8.",
                "scheduled action name peak was triggered"
            ),
            (
                "Setting desired count to 4.",
                "HorizontalPodAutoscaler web: cpu 500m per task on average against a target of 250m (policy cpu50)"
            ),
        ],
        "newest first"
    );
    assert!(got.iter().all(|x| x.status_code == "Successful"));
    assert_eq!(
        got[1].start_time.0,
        utc("2026-12-07T07:59:00Z"),
        "the HPA's lastScaleTime"
    );
    // Recorded again (the next reconcile sees the same HPA): nothing new.
    let again = record(
        &got,
        &a,
        (&[], &actions),
        Some(&rescaled),
        utc("2026-12-07T08:05:00Z"),
    );
    assert_eq!(again, got);
}

#[test]
fn a_count_the_hpa_did_not_set_is_no_activity_of_its() {
    let a = auto_scaling();
    let h = hpa(4, "2026-12-07T07:59:00Z");
    // Someone set 3 since: the HPA's last rescale is not what runs.
    let rescaled = Rescaled { hpa: &h, count: 3 };
    assert!(record(&[], &a, (&[], &[]), Some(&rescaled), utc("2026-12-07T08:00:00Z")).is_empty());
}

#[test]
fn ten_are_kept_and_an_older_one_is_not_brought_back() {
    let a = auto_scaling();
    let actions = check(a.scheduled_actions.as_deref().unwrap_or_default()).expect("valid");
    let h = hpa(4, "2026-12-01T00:00:00Z");
    let rescaled = Rescaled { hpa: &h, count: 4 };
    let mut kept = record(
        &[],
        &a,
        (&[], &actions),
        Some(&rescaled),
        utc("2026-12-01T00:00:01Z"),
    );
    for day in 2..=12 {
        let at = utc(&format!("2026-12-{day:02}T08:00:00Z"));
        let fired = [Fired {
            action: "peak".into(),
            at,
        }];
        kept = record(&kept, &a, (&fired, &actions), Some(&rescaled), at);
    }
    assert_eq!(kept.len(), MAX_ACTIVITIES);
    assert_eq!(kept[0].start_time.0, utc("2026-12-12T08:00:00Z"));
    assert!(
        kept.iter().all(|x| x.cause.starts_with("scheduled action")),
        "the HPA's old rescale fell off and stays off"
    );
}
