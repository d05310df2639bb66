//! How a rule fires and what it runs, from given rules.

use jiff::{Timestamp, tz::TimeZone};
use serde_json::json;

use super::*;
use crate::translate::schedule;

fn spec(v: serde_json::Value) -> ScheduledTaskSpec {
    serde_json::from_value(v).expect("a ScheduledTask spec")
}

fn cron(expression: &str) -> Result<String, String> {
    match schedule::parse(expression).expect("parses") {
        Schedule::Cron(c) => kubernetes_cron(&c),
        other => panic!("not a cron: {other:?}"),
    }
}

#[test]
fn aws_cron_becomes_kubernetes_cron_where_it_can() {
    let cases = [
        ("cron(0 10 * * ? *)", "0 10 * * *"),
        ("cron(0 18 ? * MON-FRI *)", "0 18 * * 1-5"),
        ("cron(0 8 1 * ? *)", "0 8 1 * *"),
        (
            "cron(0/5 8-17 ? * MON-FRI *)",
            "0,5,10,15,20,25,30,35,40,45,50,55 8-17 * * 1-5",
        ),
        ("cron(15 2 ? JAN,JUL SUN *)", "15 2 * 1,7 0"),
        ("cron(30 6 ? * SAT,SUN *)", "30 6 * * 0,6"),
        ("cron(0 0 1,15 * ? *)", "0 0 1,15 * *"),
    ];
    for (aws, k8s) in cases {
        assert_eq!(cron(aws).as_deref(), Ok(k8s), "{aws}");
    }
    for (aws, why) in [
        ("cron(0 10 L * ? *)", "L or W"),
        ("cron(0 10 15W * ? *)", "L or W"),
        ("cron(0 10 ? * 6L *)", "L or #"),
        ("cron(0 10 ? * 3#2 *)", "L or #"),
        ("cron(0 10 * * ? 2027)", "Year"),
    ] {
        assert!(cron(aws).is_err_and(|e| e.contains(why)), "{aws}");
    }
}

#[test]
fn the_kubernetes_cron_fires_when_aws_cron_does() {
    // The law, checked on every minute of a week: the five fields say the same instants.
    let expressions = [
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(15 2 ? * SUN,WED *)",
        "cron(0 0 1,15 * ? *)",
    ];
    let start = Timestamp::from_second(1_798_761_600).expect("2027-01-01"); // a Friday
    for aws in expressions {
        let parsed = schedule::parse(aws).expect("parses");
        let k8s = match &parsed {
            Schedule::Cron(c) => kubernetes_cron(c).expect("expressible"),
            _ => unreachable!(),
        };
        let fields: Vec<&str> = k8s.split(' ').collect();
        let number = |s: &str| s.parse::<i64>().expect("a number");
        let matches = |f: &str, v: i64| {
            f == "*"
                || f.split(',').any(|p| match p.split_once('-') {
                    Some((a, b)) => (number(a)..=number(b)).contains(&v),
                    None => number(p) == v,
                })
        };
        for minute in 0..(7 * 24 * 60 + 15 * 24 * 60) {
            let t = start + jiff::SignedDuration::from_mins(minute);
            let z = t.to_zoned(TimeZone::UTC);
            let k8s_fires = matches(fields[0], i64::from(z.minute()))
                && matches(fields[1], i64::from(z.hour()))
                && matches(fields[2], i64::from(z.day()))
                && matches(fields[3], i64::from(z.month()))
                && matches(fields[4], i64::from(z.weekday().to_sunday_zero_offset()));
            let before = t - jiff::SignedDuration::from_secs(1);
            let aws_fires = parsed.next_after(before, &TimeZone::UTC, start) == Some(t);
            assert_eq!(k8s_fires, aws_fires, "{aws} ({k8s}) at {t}");
        }
    }
}

#[test]
fn rates_that_divide_an_hour_or_a_day_become_cron() {
    let rule = |e: &str| spec(json!({"ScheduleExpression": e, "Targets": []}));
    let cases = [
        ("rate(1 minute)", Some("* * * * *")),
        ("rate(15 minutes)", Some("*/15 * * * *")),
        ("rate(1 hour)", Some("0 * * * *")),
        ("rate(6 hours)", Some("0 */6 * * *")),
        ("rate(1 day)", Some("0 0 * * *")),
        ("rate(7 minutes)", None),
        ("rate(5 hours)", None),
        ("rate(2 days)", None),
    ];
    for (e, want) in cases {
        let (_, _, firing) = firing(&rule(e)).expect("a firing");
        match (want, firing) {
            (Some(w), Firing::CronJob { schedule, time_zone }) => {
                assert_eq!(schedule, w, "{e}");
                assert_eq!(time_zone, None);
            }
            (None, Firing::Operator { why }) => assert!(why.contains("divides neither"), "{e}: {why}"),
            (w, f) => panic!("{e}: want {w:?}, got {f:?}"),
        }
    }
    let (_, _, at) = firing(&rule("at(2027-03-01T09:00:00)")).expect("a firing");
    assert!(
        matches!(at, Firing::Operator { ref why } if why.contains("once")),
        "{at:?}"
    );
}

#[test]
fn the_time_zone_goes_with_the_cron_and_errors_name_the_field() {
    let zoned = spec(json!({"ScheduleExpression": "cron(0 9 ? * MON-FRI *)",
                            "ScheduleExpressionTimezone": "Europe/Paris", "Targets": []}));
    let (_, tz, f) = firing(&zoned).expect("a firing");
    assert_eq!(
        f,
        Firing::CronJob {
            schedule: "0 9 * * 1-5".into(),
            time_zone: Some("Europe/Paris".into())
        }
    );
    assert_eq!(tz.iana_name(), Some("Europe/Paris"));
    let bad_zone = spec(json!({"ScheduleExpression": "rate(5 minutes)",
                               "ScheduleExpressionTimezone": "Mars/Olympus", "Targets": []}));
    assert_eq!(
        firing(&bad_zone).expect_err("refused").field,
        "ScheduleExpressionTimezone"
    );
    let bad = spec(json!({"ScheduleExpression": "cron(0 10 * * * *)", "Targets": []}));
    let e = firing(&bad).expect_err("refused");
    assert_eq!(e.field, "ScheduleExpression");
    assert!(e.message.contains("at character"), "{e}");
    let events = spec(json!({"EventPattern": "{\"source\": [\"aws.ec2\"]}", "Targets": []}));
    let e = firing(&events).expect_err("refused");
    assert_eq!(e.field, "EventPattern");
    assert!(e.message.contains("cannot run"), "{e}");
}

#[test]
fn a_target_is_a_run_task_request_with_its_input_as_overrides() {
    let target: EbTarget = serde_json::from_value(json!({
        "Id": "nightly", "Arn": "arn:aws:ecs:us-east-1:123456789012:cluster/default",
        "EcsParameters": {
            "TaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/report:3",
            "TaskCount": 2, "LaunchType": "FARGATE", "Group": "reports", "PropagateTags": "TASK_DEFINITION",
            "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["subnet-1"], "AssignPublicIp": "DISABLED"}},
            "PlacementConstraints": [{"Type": "distinctInstance"}],
            "CapacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            "Tags": [{"Key": "team", "Value": "data"}]
        },
        "Input": "{\"containerOverrides\": [{\"name\": \"report\", \"command\": [\"run\", \"--full\"]}]}"
    }))
    .expect("a target");
    let run = run_task(&target, 0).expect("a request");
    assert_eq!(
        run.task_definition,
        "arn:aws:ecs:us-east-1:123456789012:task-definition/report:3"
    );
    assert_eq!(run.count, Some(2));
    assert_eq!(run.group.as_deref(), Some("reports"));
    assert_eq!(run.tags.as_ref().map(|t| t[0].key.as_deref()), Some(Some("team")));
    assert_eq!(
        run.capacity_provider_strategy
            .as_ref()
            .map(|s| s[0].capacity_provider.as_str()),
        Some("FARGATE_SPOT")
    );
    let o = run.overrides.expect("overrides");
    assert_eq!(
        o.container_overrides.expect("containers")[0].command.as_deref(),
        Some(&["run".to_owned(), "--full".to_owned()][..])
    );
    let lambda: EbTarget =
        serde_json::from_value(json!({"Id": "x", "Arn": "arn:aws:lambda:us-east-1:1:function:f"}))
            .expect("target");
    assert_eq!(
        run_task(&lambda, 1).expect_err("refused").field,
        "Targets[1].EcsParameters"
    );
    let bad_input: EbTarget = serde_json::from_value(json!({"Id": "x", "Arn": "a",
        "EcsParameters": {"TaskDefinitionArn": "report"}, "Input": "[1]"}))
    .expect("target");
    assert_eq!(
        run_task(&bad_input, 0).expect_err("refused").field,
        "Targets[0].Input"
    );
}

#[test]
fn next_instants_follow_the_schedule() {
    let parsed = schedule::parse("rate(6 hours)").expect("parses");
    let anchor = Timestamp::from_second(1_798_761_600).expect("a time");
    let next = next_instants(&parsed, &TimeZone::UTC, anchor, (None, None), anchor, 5);
    let hours: Vec<i64> = next.iter().map(|t| t.duration_since(anchor).as_hours()).collect();
    assert_eq!(hours, [6, 12, 18, 24, 30]);
    let once = schedule::parse("at(2027-01-02T00:00:00)").expect("parses");
    assert_eq!(
        next_instants(&once, &TimeZone::UTC, anchor, (None, None), anchor, 5).len(),
        1
    );
}
