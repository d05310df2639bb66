//! Scheduled actions: AAS's checks, each naming the field, and the plan: the range in force is
//! the target's own replaced by the latest firing of each bound, a missed firing applies once,
//! windows bound recurring actions, and the next instant is the earliest of any action.

use jiff::Timestamp;
use serde_json::json;

use super::scheduled::*;
use crate::api::autoscaling::ScheduledAction;

fn utc(s: &str) -> Timestamp {
    s.parse().expect("a timestamp")
}

fn actions(v: serde_json::Value) -> Vec<ScheduledAction> {
    serde_json::from_value(v).expect("scheduled actions")
}

/// Business hours in New York: 10 to 50 tasks from 08:00 on weekdays, back to 2 to 10 at 20:00.
fn business_hours() -> Vec<Action> {
    check(&actions(json!([
        {"scheduledActionName": "morning", "schedule": "cron(0 8 ? * MON-FRI *)",
         "timezone": "America/New_York", "scalableTargetAction": {"minCapacity": 10, "maxCapacity": 50}},
        {"scheduledActionName": "evening", "schedule": "cron(0 20 ? * MON-FRI *)",
         "timezone": "America/New_York", "scalableTargetAction": {"minCapacity": 2, "maxCapacity": 10}}
    ])))
    .expect("valid")
}

#[test]
fn the_latest_firing_sets_the_range_and_the_next_is_requeued_for() {
    let a = business_hours();
    let since = utc("2026-12-01T00:00:00Z");
    let created = since;
    // Monday 2026-12-07 10:00 New York (15:00Z): the morning's range; next, the evening at 20:00.
    let p = plan((1, 4), &a, since, utc("2026-12-07T15:00:00Z"), created);
    assert_eq!((p.min, p.max), (10, 50));
    assert_eq!(p.min_from.as_ref().map(|f| f.action.as_str()), Some("morning"));
    assert_eq!(p.min_from.map(|f| f.at), Some(utc("2026-12-07T13:00:00Z")));
    assert_eq!(
        p.next,
        Some(Fired {
            action: "evening".into(),
            at: utc("2026-12-08T01:00:00Z")
        })
    );
    // Saturday: Friday evening's range holds; next, Monday morning.
    let p = plan((1, 4), &a, since, utc("2026-12-12T12:00:00Z"), created);
    assert_eq!((p.min, p.max), (2, 10));
    assert_eq!(p.next.map(|n| n.at), Some(utc("2026-12-14T13:00:00Z")));
    // Before anything fired since the target was registered: its own range.
    let p = plan(
        (1, 4),
        &a,
        utc("2026-12-07T12:00:00Z"),
        utc("2026-12-07T12:30:00Z"),
        created,
    );
    assert_eq!((p.min, p.max, p.min_from), (1, 4, None));
}

#[test]
fn a_firing_missed_while_the_operator_was_down_applies_once() {
    let a = business_hours();
    let since = utc("2026-12-01T00:00:00Z");
    // Down from Monday 12:00Z to 14:00Z, over the 13:00Z firing: planned at 14:00Z, it is in force.
    let at_restart = plan((1, 4), &a, since, utc("2026-12-07T14:00:00Z"), since);
    assert_eq!((at_restart.min, at_restart.max), (10, 50));
    // Planning again changes nothing: a state, not an event replayed.
    let again = plan((1, 4), &a, since, utc("2026-12-07T14:05:00Z"), since);
    assert_eq!(again.min_from, at_restart.min_from);
}

#[test]
fn min_and_max_are_set_apart_and_a_min_above_the_max_raises_it() {
    let a = check(&actions(json!([
        {"scheduledActionName": "floor", "schedule": "at(2026-12-07T09:00:00)",
         "scalableTargetAction": {"minCapacity": 8}},
        {"scheduledActionName": "ceiling", "schedule": "at(2026-12-07T10:00:00)",
         "scalableTargetAction": {"maxCapacity": 6}}
    ])))
    .expect("valid");
    let since = utc("2026-12-01T00:00:00Z");
    let p = plan((1, 10), &a, since, utc("2026-12-07T09:30:00Z"), since);
    assert_eq!(
        (p.min, p.max, p.raised_max),
        (8, 10, false),
        "only the min so far"
    );
    let p = plan((1, 10), &a, since, utc("2026-12-07T10:30:00Z"), since);
    assert_eq!(
        (p.min, p.max, p.raised_max),
        (8, 8, true),
        "max 6 under min 8: raised to 8"
    );
    assert_eq!(p.next, None, "at() fires once");
}

#[test]
fn windows_bound_recurring_actions() {
    let a = check(&actions(json!([
        {"scheduledActionName": "burst", "schedule": "rate(1 hour)",
         "startTime": "2026-12-24T00:00:00Z", "endTime": "2026-12-26T00:00:00Z",
         "scalableTargetAction": {"minCapacity": 20}}
    ])))
    .expect("valid");
    let since = utc("2026-12-01T00:00:00Z");
    let before = plan((1, 40), &a, since, utc("2026-12-23T12:00:00Z"), since);
    assert_eq!(before.min, 1);
    assert_eq!(
        before.next.map(|n| n.at),
        Some(utc("2026-12-24T00:00:00Z")),
        "the start fires"
    );
    let during = plan((1, 40), &a, since, utc("2026-12-25T10:30:00Z"), since);
    assert_eq!(during.min_from.map(|f| f.at), Some(utc("2026-12-25T10:00:00Z")));
    let after = plan((1, 40), &a, since, utc("2026-12-27T00:00:00Z"), since);
    assert_eq!(
        after.min_from.map(|f| f.at),
        Some(utc("2026-12-26T00:00:00Z")),
        "the last firing, at the end"
    );
    assert_eq!(after.next, None);
}

#[test]
fn aas_checks_name_the_field() {
    let cases = [
        (
            json!([{"scheduledActionName": "a/b", "schedule": "rate(1 hour)", "scalableTargetAction": {"minCapacity": 1}}]),
            "spec.autoScaling.scheduledActions[0].scheduledActionName: \"a/b\": 1 to 256 characters",
        ),
        (
            json!([{"scheduledActionName": "a", "schedule": "rate(1 hour)", "scalableTargetAction": {"minCapacity": 1}},
                   {"scheduledActionName": "a", "schedule": "rate(2 hours)", "scalableTargetAction": {"minCapacity": 1}}]),
            "spec.autoScaling.scheduledActions[1].scheduledActionName: \"a\" is given twice",
        ),
        (
            json!([{"scheduledActionName": "a", "schedule": "cron(0 8 * * * *)", "scalableTargetAction": {"minCapacity": 1}}]),
            "spec.autoScaling.scheduledActions[0].schedule: at character 14: Day-of-week: Day-of-month and Day-of-week cannot both be given",
        ),
        (
            json!([{"scheduledActionName": "a", "schedule": "rate(1 hour)", "timezone": "Mars/Olympus",
                    "scalableTargetAction": {"minCapacity": 1}}]),
            "spec.autoScaling.scheduledActions[0].timezone: \"Mars/Olympus\" is not an IANA time zone",
        ),
        (
            json!([{"scheduledActionName": "a", "schedule": "rate(1 hour)", "startTime": "2026-12-02T00:00:00Z",
                    "endTime": "2026-12-01T00:00:00Z", "scalableTargetAction": {"minCapacity": 1}}]),
            "spec.autoScaling.scheduledActions[0].endTime: 2026-12-01T00:00:00Z is not after startTime",
        ),
        (
            json!([{"scheduledActionName": "a", "schedule": "rate(1 hour)", "startTime": "tomorrow",
                    "scalableTargetAction": {"minCapacity": 1}}]),
            "spec.autoScaling.scheduledActions[0].startTime: \"tomorrow\" is not a time",
        ),
        (
            json!([{"scheduledActionName": "a", "schedule": "rate(1 hour)", "scalableTargetAction": {}}]),
            "spec.autoScaling.scheduledActions[0].scalableTargetAction: set minCapacity, maxCapacity or both",
        ),
        (
            json!([{"scheduledActionName": "a", "schedule": "rate(1 hour)",
                    "scalableTargetAction": {"minCapacity": 5, "maxCapacity": 2}}]),
            "spec.autoScaling.scheduledActions[0].scalableTargetAction.minCapacity: 5 is above maxCapacity 2",
        ),
    ];
    for (spec, message) in cases {
        let err = check(&actions(spec)).expect_err(message);
        assert!(err.to_string().starts_with(message), "{err}");
    }
}
