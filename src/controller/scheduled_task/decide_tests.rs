//! Decisions from given rules, caches and clocks: which firing is due (the latest, once), which
//! instants count after a change, tokens, DISABLED, and the history.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use serde_json::json;

use super::{
    decide::{decide, past_history},
    load::Loaded,
    validate::validate,
};
use crate::api::{ScheduledTask, Task};

fn t(s: &str) -> Timestamp {
    s.parse().expect("a timestamp")
}

/// The ScheduledTask `nightly` created at `created`, with `spec` (Targets added when absent)
/// and `status`.
fn st(spec: serde_json::Value, created: &str, status: serde_json::Value) -> ScheduledTask {
    let mut spec = spec;
    if spec.get("Targets").is_none() && spec.get("Target").is_none() {
        spec["Targets"] = json!([{"Id": "report", "EcsParameters": {"TaskDefinitionArn": "report"}}]);
    }
    serde_json::from_value(json!({
        "apiVersion": "ecsbridge.io/v1alpha1", "kind": "ScheduledTask",
        "metadata": {"name": "nightly", "namespace": "team-a", "uid": "uid-st", "generation": 1,
                     "creationTimestamp": created},
        "spec": spec, "status": status,
    }))
    .expect("a ScheduledTask")
}

fn fired(s: &ScheduledTask, loaded: &Loaded, now: &str) -> Vec<(String, Timestamp)> {
    let v = validate(s).expect("valid");
    decide(s, &v, loaded, t(now))
        .fire
        .into_iter()
        .map(|f| (f.name, f.scheduled))
        .collect()
}

#[test]
fn the_operator_fires_what_kubernetes_cron_cannot_say_at_its_instant() {
    // The last day of the month at 10:00 (L): no CronJob can say it.
    let s = st(
        json!({"ScheduleExpression": "cron(0 10 L * ? *)"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    let v = validate(&s).expect("valid");
    let plan = decide(&s, &v, &Loaded::default(), t("2027-01-30T12:00:00Z"));
    assert!(plan.fire.is_empty());
    assert_eq!(plan.next_schedule_time, Some(t("2027-01-31T10:00:00Z")));
    assert_eq!(
        plan.next_check, plan.next_schedule_time,
        "the operator looks again at the instant"
    );
    assert!(plan.cron_job.is_none());
    let at = t("2027-01-31T10:00:00Z");
    assert_eq!(
        fired(&s, &Loaded::default(), "2027-01-31T10:00:01Z"),
        [(format!("nightly-{}", at.as_second() / 60), at)]
    );
}

#[test]
fn a_rule_first_seen_long_after_its_creation_does_not_fire_its_past() {
    // Applied a week before this controller ran (or before an upgrade): the at() it missed by
    // days does not fire; one missed by minutes (made while the operator was down) does.
    let s = st(
        json!({"ScheduleExpression": "at(2027-01-02T08:00:00)"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    assert!(fired(&s, &Loaded::default(), "2027-01-08T00:00:00Z").is_empty());
    assert_eq!(fired(&s, &Loaded::default(), "2027-01-02T08:05:00Z").len(), 1);
}

#[test]
fn several_tokens_waiting_fire_once_the_latest() {
    let s = st(
        json!({"ScheduleExpression": "rate(1 minute)"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    let v = validate(&s).expect("valid");
    let loaded = Loaded {
        jobs: vec![
            token("nightly-28401601", "2027-01-01T00:01:00Z"),
            token("nightly-28401603", "2027-01-01T00:03:00Z"),
            token("nightly-28401602", "2027-01-01T00:02:00Z"),
        ],
        ..Loaded::default()
    };
    let plan = decide(&s, &v, &loaded, t("2027-01-01T00:03:05Z"));
    assert_eq!(
        plan.fire,
        [super::decide::Fire {
            name: "nightly-28401603".into(),
            scheduled: t("2027-01-01T00:03:00Z")
        }]
    );
    assert_eq!(plan.tokens_done.len(), 3, "every token goes");
}

#[test]
fn a_rate_is_a_period_and_a_time_zone_is_spelt_as_the_tz_database_does() {
    let s = st(
        json!({"ScheduleExpression": "rate(1 day)", "ScheduleExpressionTimezone": "Europe/Paris"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    let v = validate(&s).expect("valid");
    let cj = decide(&s, &v, &Loaded::default(), t("2027-01-01T00:00:05Z"))
        .cron_job
        .expect("a CronJob");
    assert_eq!(cj.spec.expect("spec").time_zone, None, "24 h, whatever DST does");
    let s = st(
        json!({"ScheduleExpression": "cron(0 10 * * ? *)", "ScheduleExpressionTimezone": "europe/paris"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    let v = validate(&s).expect("valid");
    let cj = decide(&s, &v, &Loaded::default(), t("2027-01-01T00:00:05Z"))
        .cron_job
        .expect("a CronJob");
    assert_eq!(cj.spec.expect("spec").time_zone.as_deref(), Some("Europe/Paris"));
}

#[test]
fn a_missed_instant_is_the_latest_even_across_days_without_firings() {
    // Twice on the first Monday of a month; down from Dec 1 17:00 to Jan 8: the latest missed
    // is Jan 5 17:00, not 09:00 (which a day-by-day search that stops early would give).
    let s = st(
        json!({"ScheduleExpression": "cron(0 9,17 ? * 2#1 *)"}),
        "2025-11-01T00:00:00Z",
        json!({"lastScheduleTime": "2025-12-01T17:00:00Z",
               "observedSchedule": "cron(0 9,17 ? * 2#1 *) in UTC, ENABLED", "firesAfter": "2025-11-01T00:00:00Z"}),
    );
    assert_eq!(
        fired(&s, &Loaded::default(), "2026-01-08T12:00:00Z")
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>(),
        [t("2026-01-05T17:00:00Z")]
    );
}

#[test]
fn missed_instants_fire_once_the_latest() {
    let s = st(
        json!({"ScheduleExpression": "rate(7 minutes)"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    // Down for 50 minutes: 7 instants passed; only the latest (00:49) fires.
    let due = fired(&s, &Loaded::default(), "2027-01-01T00:50:00Z");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].1, t("2027-01-01T00:49:00Z"));
    // ... and once: a status that says so fires nothing more.
    let s = st(
        json!({"ScheduleExpression": "rate(7 minutes)"}),
        "2027-01-01T00:00:00Z",
        json!({"lastScheduleTime": "2027-01-01T00:49:00Z",
               "observedSchedule": "rate(7 minutes) in UTC, ENABLED", "firesAfter": "2027-01-01T00:00:00Z"}),
    );
    assert!(fired(&s, &Loaded::default(), "2027-01-01T00:55:00Z").is_empty());
    // Down for a year: still one firing, found without walking every instant.
    let due = fired(&s, &Loaded::default(), "2028-01-01T00:00:30Z");
    assert_eq!(due.len(), 1);
    assert!(due[0].1 <= t("2028-01-01T00:00:30Z") && due[0].1 > t("2027-12-31T23:53:00Z"));
}

#[test]
fn a_firing_whose_tasks_exist_is_not_created_again() {
    let s = st(
        json!({"ScheduleExpression": "at(2027-03-01T08:00:00)"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    let at = t("2027-03-01T08:00:00Z");
    let mut task = Task::new(
        &format!("nightly-{}", at.as_second() / 60),
        crate::api::TaskSpec {
            run_task: serde_json::from_value(json!({"taskDefinition": "report"})).expect("a RunTask"),
        },
    );
    task.metadata.namespace = Some("team-a".into());
    let loaded = Loaded {
        tasks: vec![Arc::new(task)],
        ..Loaded::default()
    };
    let v = validate(&s).expect("valid");
    let plan = decide(&s, &v, &loaded, t("2027-03-01T08:00:05Z"));
    assert!(plan.fire.is_empty(), "made before a crash or by a stale read");
    assert_eq!(plan.last_schedule_time, Some(at), "... and recorded as fired");
    assert_eq!(plan.next_schedule_time, None, "at() fires once");
}

#[test]
fn a_stale_status_does_not_lose_the_last_firing() {
    // The token was turned into its Task and deleted; the ScheduledTask read next predates the
    // status write that recorded it: its Task still tells the last firing.
    let s = st(
        json!({"ScheduleExpression": "cron(0 10 * * ? *)"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    let task: Task = serde_json::from_value(json!({
        "apiVersion": "ecsbridge.io/v1alpha1", "kind": "Task",
        "metadata": {"name": "nightly-28401600", "namespace": "team-a",
                     "annotations": {"ecsbridge.io/scheduled-time": "2027-01-01T10:00:00Z"}},
        "spec": {"taskDefinition": "report"},
    }))
    .expect("a Task");
    let loaded = Loaded {
        tasks: vec![Arc::new(task)],
        ..Loaded::default()
    };
    let v = validate(&s).expect("valid");
    let plan = decide(&s, &v, &loaded, t("2027-01-01T10:00:05Z"));
    assert!(plan.fire.is_empty());
    assert_eq!(plan.last_schedule_time, Some(t("2027-01-01T10:00:00Z")));
}

#[test]
fn instants_before_the_rule_or_its_last_change_do_not_fire() {
    // An at() already past when the rule is made never fires.
    let s = st(
        json!({"ScheduleExpression": "at(2026-01-01T08:00:00)"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    assert!(fired(&s, &Loaded::default(), "2027-01-01T00:00:05Z").is_empty());
    // A schedule changed at 00:30: the instants before do not count.
    let s = st(
        json!({"ScheduleExpression": "rate(10 minutes)"}),
        "2027-01-01T00:00:00Z",
        json!({"lastScheduleTime": "2027-01-01T00:05:00Z",
               "observedSchedule": "rate(5 minutes) in UTC, ENABLED", "firesAfter": "2027-01-01T00:00:00Z"}),
    );
    let v = validate(&s).expect("valid");
    let plan = decide(&s, &v, &Loaded::default(), t("2027-01-01T00:30:30Z"));
    assert!(plan.fire.is_empty());
    assert_eq!(plan.fires_after, Some(t("2027-01-01T00:30:30Z")));
    assert_eq!(plan.next_schedule_time, Some(t("2027-01-01T00:40:00Z")));
}

fn token(name: &str, scheduled: &str) -> Arc<Job> {
    Arc::new(
        serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "team-a", "uid": format!("uid-{name}"),
                         "annotations": {"batch.kubernetes.io/cronjob-scheduled-timestamp": scheduled}},
        }))
        .expect("a Job"),
    )
}

#[test]
fn a_cronjob_fires_what_it_can_say_and_each_token_becomes_the_firings_tasks() {
    let s = st(
        json!({"ScheduleExpression": "cron(0 10 * * ? *)", "ScheduleExpressionTimezone": "Europe/Paris",
               "Targets": [{"EcsParameters": {"TaskDefinitionArn": "report"}},
                           {"EcsParameters": {"TaskDefinitionArn": "audit", "TaskCount": 2}}]}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    let v = validate(&s).expect("valid");
    let loaded = Loaded {
        jobs: vec![token("nightly-28401540", "2027-01-01T09:00:00Z")],
        ..Loaded::default()
    };
    let plan = decide(&s, &v, &loaded, t("2027-01-01T09:00:02Z"));
    let cj = plan.cron_job.clone().expect("a CronJob");
    let spec = cj.spec.expect("spec");
    assert_eq!(spec.schedule, "0 10 * * *");
    assert_eq!(spec.time_zone.as_deref(), Some("Europe/Paris"));
    assert_eq!(spec.suspend, Some(false));
    assert_eq!(
        spec.concurrency_policy.as_deref(),
        Some("Allow"),
        "overlaps are allowed, as in ECS"
    );
    let job = spec.job_template.spec.expect("job spec");
    assert_eq!(job.suspend, Some(true), "a token makes no pod");
    assert_eq!(plan.fire.len(), 1);
    assert_eq!(plan.fire[0].name, "nightly-28401540");
    assert_eq!(plan.fire[0].scheduled, t("2027-01-01T09:00:00Z"));
    assert_eq!(plan.tokens_done.len(), 1);
    assert_eq!(
        plan.next_schedule_time,
        Some(t("2027-01-02T09:00:00Z")),
        "10:00 in Paris"
    );
    let desired = super::build::build(&s, &v, &plan, None);
    let names: Vec<_> = desired
        .tasks
        .iter()
        .map(|t| t.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["nightly-28401540-1", "nightly-28401540-2"],
        "one Task per target"
    );
    assert_eq!(desired.tasks[1].spec.run_task.count, Some(2));
    assert_eq!(
        desired.tasks[0].spec.run_task.started_by.as_deref(),
        Some("events-rule/nightly"),
        "as EventBridge starts them"
    );
}

#[test]
fn a_disabled_rule_suspends_its_cronjob_and_fires_nothing() {
    let s = st(
        json!({"ScheduleExpression": "cron(0 10 * * ? *)", "State": "DISABLED"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    let v = validate(&s).expect("valid");
    let loaded = Loaded {
        jobs: vec![token("nightly-28401600", "2027-01-01T10:00:00Z")],
        ..Loaded::default()
    };
    let plan = decide(&s, &v, &loaded, t("2027-01-01T10:00:02Z"));
    assert_eq!(
        plan.cron_job.and_then(|c| c.spec).and_then(|s| s.suspend),
        Some(true)
    );
    assert!(plan.fire.is_empty());
    assert_eq!(
        plan.tokens_done.len(),
        1,
        "a token made as it was disabled goes without firing"
    );
    assert_eq!(plan.next_schedule_time, None);
    let s = st(
        json!({"ScheduleExpression": "rate(5 minutes)", "State": "DISABLED"}),
        "2027-01-01T00:00:00Z",
        json!({}),
    );
    assert!(fired(&s, &Loaded::default(), "2027-01-01T10:00:02Z").is_empty());
}

#[test]
fn the_history_keeps_the_latest_firings_and_running_tasks() {
    let task = |minute: u32, health: &str| -> Arc<Task> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "ecsbridge.io/v1alpha1", "kind": "Task",
                "metadata": {"name": format!("nightly-{minute}"), "namespace": "team-a",
                             "annotations": {"ecsbridge.io/scheduled-time": format!("2027-01-01T00:{minute:02}:00Z")}},
                "spec": {"taskDefinition": "report"}, "status": {"health": health},
            }))
            .expect("a Task"),
        )
    };
    let tasks = vec![
        task(1, "Progressing"),
        task(2, "Degraded"),
        task(3, "Healthy"),
        task(4, "Healthy"),
        task(5, "Healthy"),
        task(6, "Healthy"),
        task(7, "Healthy"),
    ];
    let pruned: Vec<_> = past_history(&tasks)
        .iter()
        .map(|t| t.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        pruned,
        ["nightly-2"],
        "older than the 5 latest and stopped; nightly-1 still runs"
    );
}

#[test]
fn rules_that_cannot_run_name_the_field() {
    let refused = |spec: serde_json::Value| {
        validate(&st(spec, "2027-01-01T00:00:00Z", json!({}))).expect_err("refused")
    };
    let e = refused(json!({"EventPattern": "{\"source\": [\"aws.ec2\"]}"}));
    assert_eq!(e.reason, super::validate::REASON_NOT_TRANSLATABLE);
    assert!(e.message.contains("spec.EventPattern"), "{}", e.message);
    let e = refused(json!({"ScheduleExpression": "cron(0 25 * * ? *)"}));
    assert!(e.message.contains("spec.ScheduleExpression"), "{}", e.message);
    let e = refused(json!({"ScheduleExpression": "rate(5 minutes)",
                           "Targets": [{"EcsParameters": {"TaskDefinitionArn": "report", "TaskCount": 11}}]}));
    assert!(
        e.message.contains("spec.Targets[0].EcsParameters") && e.message.contains("count"),
        "{}",
        e.message
    );
    let e = refused(json!({"ScheduleExpression": "rate(5 minutes)", "Targets": []}));
    assert!(e.message.contains("spec.Targets"), "{}", e.message);
}

#[test]
fn the_scheduler_form_runs_its_target_within_its_start_and_end_dates() {
    // EventBridge Scheduler's CreateSchedule: one Target, tags as maps, bounded by dates.
    let spec = json!({
        "ScheduleExpression": "cron(0 10 * * ? *)",
        "ScheduleExpressionTimezone": "UTC",
        "StartDate": "2027-01-03T00:00:00Z",
        "EndDate": "2027-01-05T12:00:00",
        "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/batch",
            "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
            "EcsParameters": {"TaskDefinitionArn": "report:2", "TaskCount": 2,
                              "Tags": [{"team": "data"}, {"cost-center": "42"}], "ReferenceId": "nightly"},
            "Input": "{\"containerOverrides\": [{\"name\": \"app\", \"command\": [\"run\"]}]}"
        }
    });
    // (Seen since its creation: instants count from then.)
    let seen = st(spec.clone(), "2027-01-01T00:00:00Z", json!({}));
    let status = json!({"observedSchedule": super::decide::observed_schedule(&seen),
                        "firesAfter": "2027-01-01T00:00:00Z"});
    let s = st(spec.clone(), "2027-01-01T00:00:00Z", status);
    let v = validate(&s).expect("valid");
    assert!(
        matches!(&v.firing, crate::translate::scheduled_task::Firing::Operator { why } if why.contains("StartDate")),
        "a CronJob cannot bound its instants: {:?}",
        v.firing
    );
    // Before the start: nothing fires, and the first instant is the start's.
    let plan = decide(&s, &v, &Loaded::default(), t("2027-01-02T10:00:30Z"));
    assert!(plan.fire.is_empty());
    assert_eq!(plan.next_schedule_time, Some(t("2027-01-03T10:00:00Z")));
    // Within: it fires; its Task is the target's request.
    let plan = decide(&s, &v, &Loaded::default(), t("2027-01-04T10:00:01Z"));
    assert_eq!(plan.fire.len(), 1);
    let task = &super::build::build(&s, &v, &plan, None).tasks[0];
    let run = serde_json::to_value(&task.spec.run_task).expect("json");
    assert_eq!(run["taskDefinition"], "report:2");
    assert_eq!(run["count"], 2);
    assert_eq!(
        run["tags"],
        json!([{"key": "team", "value": "data"}, {"key": "cost-center", "value": "42"}])
    );
    assert_eq!(
        run["overrides"]["containerOverrides"][0]["command"],
        json!(["run"])
    );
    assert_eq!(plan.next_schedule_time, Some(t("2027-01-05T10:00:00Z")));
    // After the end: nothing more.
    let plan = decide(&s, &v, &Loaded::default(), t("2027-01-06T10:00:01Z"));
    assert_eq!(
        plan.fire.iter().map(|f| f.scheduled).collect::<Vec<_>>(),
        [t("2027-01-05T10:00:00Z")],
        "only the last instant within the dates (missed, so fired once), none after the end"
    );
    assert_eq!(plan.next_schedule_time, None);
    // What has no equivalent is said.
    let status = super::status::compute(
        &s,
        &v,
        &plan,
        &Loaded::default(),
        &super::apply::Applied::default(),
        &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t("2027-01-06T10:00:01Z")),
    );
    let translated = crate::api::condition::find(&status.conditions, "Translated").expect("Translated");
    for field in ["Target.RoleArn", "ReferenceId", "ActionAfterCompletion"] {
        assert!(
            translated.message.contains(field),
            "{field}: {}",
            translated.message
        );
    }
    // Refusals name the Scheduler form's fields.
    let mut both = spec.clone();
    both["Targets"] = json!([{"EcsParameters": {"TaskDefinitionArn": "report"}}]);
    let e = validate(&st(both, "2027-01-01T00:00:00Z", json!({}))).expect_err("refused");
    assert!(
        e.message.contains("spec.Target:") && e.message.contains("not both"),
        "{}",
        e.message
    );
    let mut backwards = spec.clone();
    backwards["EndDate"] = json!("2026-12-31T00:00:00Z");
    let e = validate(&st(backwards, "2027-01-01T00:00:00Z", json!({}))).expect_err("refused");
    assert!(e.message.contains("spec.EndDate"), "{}", e.message);
    let mut count = spec;
    count["Target"]["EcsParameters"]["TaskCount"] = json!(11);
    let e = validate(&st(count, "2027-01-01T00:00:00Z", json!({}))).expect_err("refused");
    assert!(e.message.contains("spec.Target.EcsParameters"), "{}", e.message);
}
