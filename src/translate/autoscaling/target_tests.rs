//! The scalable target over time: registered, advanced by the scheduled actions that fired since
//! the last reconcile (a missed one once), unchanged at rest, registered anew when its range
//! changes, and frozen while scheduled scaling is suspended.

use jiff::Timestamp;
use serde_json::json;

use super::{
    scheduled::check,
    target::{Target, advance},
};
use crate::api::autoscaling::{AutoScaling, AutoScalingStatus};

fn utc(s: &str) -> Timestamp {
    s.parse().expect("a timestamp")
}

/// 2 to 10 tasks; 20 to 40 from 08:00 UTC every day, back to 1 to 4 at 20:00.
fn daily() -> AutoScaling {
    serde_json::from_value(json!({
        "minCapacity": 2, "maxCapacity": 10,
        "scheduledActions": [
            {"scheduledActionName": "day", "schedule": "cron(0 8 * * ? *)",
             "scalableTargetAction": {"minCapacity": 20, "maxCapacity": 40}},
            {"scheduledActionName": "night", "schedule": "cron(0 20 * * ? *)",
             "scalableTargetAction": {"minCapacity": 1, "maxCapacity": 4}}
        ]
    }))
    .expect("auto scaling")
}

/// Advances `a` from `recorded` at `now`, and the status that records it.
fn step(a: &AutoScaling, recorded: Option<&AutoScalingStatus>, now: &str) -> (Target, AutoScalingStatus) {
    let checked = check(a.scheduled_actions.as_deref().unwrap_or_default()).expect("valid");
    let t = advance(a, &checked, recorded, utc(now));
    let status = AutoScalingStatus {
        scalable_target: t.status.clone(),
        scaling_policies: Vec::new(),
        scheduled_actions: t.actions.clone(),
        horizontal_pod_autoscaler: None,
        scaled_object: None,
        scaling_activities: Vec::new(),
    };
    (t, status)
}

#[test]
fn registration_starts_with_the_targets_range_and_the_next_firing() {
    let (t, _) = step(&daily(), None, "2026-12-07T06:30:00.750Z");
    assert_eq!(t.range(), (2, 10));
    assert!(t.fired.is_empty(), "nothing fires at registration");
    assert_eq!(
        t.status.creation_time.0,
        utc("2026-12-07T06:30:00Z"),
        "whole seconds"
    );
    assert_eq!(t.status.scheduled_through.0, utc("2026-12-07T06:30:00Z"));
    let next = t.next.expect("a next firing");
    assert_eq!(
        (next.action.as_str(), next.at),
        ("day", utc("2026-12-07T08:00:00Z"))
    );
    let runs: Vec<_> = t
        .actions
        .iter()
        .map(|a| a.next_run.as_ref().map(|r| r.0))
        .collect();
    assert_eq!(
        runs,
        [
            Some(utc("2026-12-07T08:00:00Z")),
            Some(utc("2026-12-07T20:00:00Z"))
        ]
    );
}

#[test]
fn a_firing_sets_the_range_once_and_the_target_then_rests() {
    let a = daily();
    let (_, registered) = step(&a, None, "2026-12-07T06:30:00Z");
    let (t, fired) = step(&a, Some(&registered), "2026-12-07T08:00:00Z");
    assert_eq!(t.range(), (20, 40));
    let names: Vec<&str> = t.fired.iter().map(|f| f.action.as_str()).collect();
    assert_eq!(names, ["day"], "the same action set both bounds: said once");
    assert_eq!(t.status.scheduled_through.0, utc("2026-12-07T08:00:00Z"));
    assert_eq!(t.next.map(|n| n.action), Some("night".to_owned()));
    // Later, with nothing firing, the status is the same: nothing to write at rest.
    let (rest, again) = step(&a, Some(&fired), "2026-12-07T12:34:56Z");
    assert!(rest.fired.is_empty());
    assert_eq!(again, fired);
    // The same step taken twice (the first status write lost) gives the same result.
    let (_, twice) = step(&a, Some(&registered), "2026-12-07T08:00:00Z");
    assert_eq!(twice, fired);
}

#[test]
fn firings_missed_while_down_apply_once_the_latest_winning() {
    let a = daily();
    let (_, registered) = step(&a, None, "2026-12-07T06:30:00Z");
    // Down from 07:00 Monday to 21:00 Tuesday: day and night fired twice each; night last.
    let (t, _) = step(&a, Some(&registered), "2026-12-08T21:00:00Z");
    assert_eq!(t.range(), (1, 4));
    assert_eq!(t.fired.len(), 1);
    assert_eq!(t.fired[0].at, utc("2026-12-08T20:00:00Z"));
}

#[test]
fn a_new_range_registers_the_target_anew() {
    let a = daily();
    let (_, registered) = step(&a, None, "2026-12-07T06:30:00Z");
    let (_, day) = step(&a, Some(&registered), "2026-12-07T09:00:00Z");
    let mut wider = a.clone();
    wider.max_capacity = 12;
    let (t, _) = step(&wider, Some(&day), "2026-12-07T10:00:00Z");
    assert_eq!(
        t.range(),
        (2, 12),
        "RegisterScalableTarget sets the range in force"
    );
    assert_eq!(t.status.creation_time.0, utc("2026-12-07T10:00:00Z"));
    assert!(t.fired.is_empty(), "the day action fired before the registration");
}

#[test]
fn an_action_put_later_fires_only_after_it_was_put() {
    let mut a = daily();
    let (_, registered) = step(&a, None, "2026-12-07T06:30:00Z");
    // At 09:00 a 08:30 action is added: its 08:30 firing of today is before it was put.
    a.scheduled_actions.get_or_insert_default().push(
        serde_json::from_value(
            json!({"scheduledActionName": "half", "schedule": "cron(30 8 * * ? *)",
            "scalableTargetAction": {"minCapacity": 5}}),
        )
        .expect("action"),
    );
    let (t, put) = step(&a, Some(&registered), "2026-12-07T09:00:00Z");
    assert_eq!(t.range(), (20, 40), "day fired; half was not put yet at 08:30");
    assert_eq!(t.actions[2].creation_time.0, utc("2026-12-07T09:00:00Z"));
    assert_eq!(t.actions[0].creation_time.0, utc("2026-12-07T06:30:00Z"), "kept");
    // Next morning, it fires after day: min 5 with day's max.
    let (t, _) = step(&a, Some(&put), "2026-12-08T09:00:00Z");
    assert_eq!(t.range(), (5, 40));
    // A changed definition is put anew.
    let mut changed = a.clone();
    changed.scheduled_actions.get_or_insert_default()[2].schedule = "cron(45 8 * * ? *)".into();
    let (t, _) = step(&changed, Some(&put), "2026-12-07T09:30:00Z");
    assert_eq!(t.actions[2].creation_time.0, utc("2026-12-07T09:30:00Z"));
}

#[test]
fn a_min_above_the_max_in_force_raises_the_max() {
    let a: AutoScaling = serde_json::from_value(json!({
        "minCapacity": 1, "maxCapacity": 4,
        "scheduledActions": [{"scheduledActionName": "peak", "schedule": "at(2026-12-07T12:00:00)",
            "scalableTargetAction": {"minCapacity": 8}}]
    }))
    .expect("auto scaling");
    let (_, registered) = step(&a, None, "2026-12-07T11:00:00Z");
    let (t, _) = step(&a, Some(&registered), "2026-12-07T12:00:01Z");
    assert_eq!(t.range(), (8, 8));
    assert!(t.raised_max);
    assert!(t.next.is_none(), "an at() fires once");
}

#[test]
fn suspended_scheduled_scaling_freezes_the_range_and_skips_what_fired_meanwhile() {
    let a = daily();
    let (_, registered) = step(&a, None, "2026-12-07T06:30:00Z");
    let mut suspended = a.clone();
    suspended.suspended_state = Some(crate::api::autoscaling::SuspendedState {
        scheduled_scaling_suspended: Some(true),
        ..Default::default()
    });
    let (t, frozen) = step(&suspended, Some(&registered), "2026-12-07T09:00:00Z");
    assert_eq!(t.range(), (2, 10), "day did not fire");
    assert!(t.next.is_none() && t.actions.iter().all(|a| a.next_run.is_none()));
    // Resumed at 21:00: day and night fired while suspended; neither applies.
    let (t, resumed) = step(&a, Some(&frozen), "2026-12-07T21:00:00Z");
    assert_eq!(t.range(), (2, 10));
    assert_eq!(t.status.scheduled_through.0, utc("2026-12-07T21:00:00Z"));
    // The next morning's day fires as usual.
    let (t, _) = step(&a, Some(&resumed), "2026-12-08T08:00:00Z");
    assert_eq!(t.range(), (20, 40));
}
