//! `ecs-bridge import` of scheduled tasks, through the CLI: EventBridge put-rule input with its
//! put-targets input (two files, matched by the rule's name, or one document), Scheduler's
//! create-schedule input and get-schedule output, and an ecschedule configuration each become
//! ScheduledTasks; what each imports is then rendered (a CronJob, or the operator's instants).
//! A rule without targets, targets without their rule, and a templated ecschedule file are
//! refused, naming what to give.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};

use support::cli::{run, write};

fn scratch(name: &str) -> PathBuf {
    support::cli::scratch("import-schedules", name)
}

/// `aws events put-rule --cli-input-json`.
fn put_rule() -> Value {
    json!({"Name": "nightly-report", "ScheduleExpression": "cron(0 3 * * ? *)", "State": "ENABLED",
           "Description": "the nightly report"})
}

/// `aws events put-targets --cli-input-json`, an ECS target as the EventBridge documentation
/// writes one.
fn put_targets() -> Value {
    json!({"Rule": "nightly-report", "Targets": [{
        "Id": "report",
        "Arn": "arn:aws:ecs:us-east-1:123456789012:cluster/batch",
        "RoleArn": "arn:aws:iam::123456789012:role/ecsEventsRole",
        "EcsParameters": {"TaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/report:7",
                          "TaskCount": 1, "LaunchType": "FARGATE",
                          "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["subnet-1"],
                                                                           "AssignPublicIp": "DISABLED"}}},
        "Input": "{\"containerOverrides\": [{\"name\": \"report\", \"command\": [\"run\", \"--nightly\"]}]}"
    }]})
}

#[test]
fn put_rule_and_put_targets_become_one_scheduled_task() {
    let dir = scratch("rule");
    let rule = write(&dir, "rule.json", &put_rule());
    let targets = write(&dir, "targets.json", &put_targets());
    let (docs, stderr, ok) = run(&["import", &rule, &targets, "--namespace", "batch"]);
    assert!(ok, "{stderr}");
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let st = &docs[0];
    assert_eq!(st["kind"], "ScheduledTask");
    assert_eq!(st["metadata"]["name"], "nightly-report");
    assert_eq!(st["metadata"]["namespace"], "batch");
    assert_eq!(st["spec"]["ScheduleExpression"], "cron(0 3 * * ? *)");
    assert_eq!(
        st["spec"]["Targets"],
        put_targets()["Targets"],
        "the targets, whole"
    );
    // One document with both works the same.
    let mut both = put_rule();
    both["Targets"] = put_targets()["Targets"].clone();
    let one = write(&dir, "both.json", &both);
    let (docs, stderr, ok) = run(&["import", &one]);
    assert!(ok, "{stderr}");
    assert_eq!(docs[0]["spec"]["Targets"], put_targets()["Targets"]);
}

#[test]
fn a_rule_without_targets_and_targets_without_a_rule_are_refused() {
    let dir = scratch("alone");
    let rule = write(&dir, "rule.json", &put_rule());
    let (docs, stderr, ok) = run(&["import", &rule]);
    assert!(!ok && docs.is_empty(), "{stderr}");
    assert!(
        stderr.contains("has no targets") && stderr.contains("put-targets"),
        "{stderr}"
    );
    let targets = write(&dir, "targets.json", &put_targets());
    let (_, stderr, ok) = run(&["import", &targets]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("targets of rule \"nightly-report\"") && stderr.contains("put-rule"),
        "{stderr}"
    );
}

/// `aws scheduler get-schedule` output (create-schedule input plus what Scheduler computes).
fn get_schedule() -> Value {
    json!({
        "Arn": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/month-end",
        "CreationDate": "2026-11-02T10:00:00Z",
        "LastModificationDate": "2026-11-02T10:00:00Z",
        "GroupName": "default",
        "Name": "month-end",
        "ScheduleExpression": "cron(0 18 L * ? *)",
        "ScheduleExpressionTimezone": "Europe/Paris",
        "StartDate": "2027-01-01T00:00:00Z",
        "State": "ENABLED",
        "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
        "ActionAfterCompletion": "NONE",
        "Target": {
            "Arn": "arn:aws:ecs:us-east-1:123456789012:cluster/batch",
            "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
            "EcsParameters": {"TaskDefinitionArn": "close-books", "TaskCount": 1,
                              "Tags": [{"team": "finance"}]},
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}
        }
    })
}

#[test]
fn a_scheduler_schedule_becomes_a_scheduled_task_the_operator_fires() {
    let dir = scratch("schedule");
    let file = write(&dir, "month-end.json", &get_schedule());
    let (docs, stderr, ok) = run(&["import", &file, "--namespace", "batch"]);
    assert!(ok, "{stderr}");
    let st = &docs[0];
    assert_eq!(st["metadata"]["name"], "month-end");
    assert!(
        st["spec"].get("Arn").is_none() && st["spec"].get("CreationDate").is_none(),
        "{st}"
    );
    assert_eq!(
        st["spec"]["Target"]["EcsParameters"]["Tags"],
        json!([{"team": "finance"}])
    );
    assert_eq!(st["spec"]["FlexibleTimeWindow"]["Mode"], "FLEXIBLE");
    // Rendered with a task definition: the last day of the month is the operator's to fire.
    let td = write(
        &dir,
        "close-books.json",
        &json!({"family": "close-books", "containerDefinitions": [
            {"name": "app", "image": "public.ecr.aws/docker/library/busybox:1.36", "memory": 64}]}),
    );
    let (imported, stderr, ok) = run(&["import", &td, &file, "--namespace", "batch"]);
    assert!(ok, "{stderr}");
    let manifests: String = imported
        .iter()
        .map(|d| format!("---\n{}", serde_yaml_ng::to_string(d).expect("yaml")))
        .collect();
    let manifests_file = dir.join("manifests.yaml");
    std::fs::write(&manifests_file, manifests).expect("write");
    let (rendered, stderr, ok) = run(&["render", manifests_file.to_str().expect("path")]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("fired by the operator") && stderr.contains("L or W"),
        "{stderr}"
    );
    // What has no equivalent is said, as the controller's Translated condition says it.
    for field in ["spec.Target.RoleArn: ignored", "spec.Target.RetryPolicy: ignored"] {
        assert!(stderr.contains(field), "{field}: {stderr}");
    }
    assert!(
        !rendered.iter().any(|o| o["kind"] == "CronJob"),
        "no CronJob can say it"
    );
    let pod = rendered
        .iter()
        .find(|o| o["kind"] == "Pod")
        .expect("the next firing's pod");
    assert_eq!(
        pod["metadata"]["annotations"]["ecsbridge.io/started-by"],
        "events-rule/month-end"
    );
}

#[test]
fn an_ecschedule_configuration_becomes_one_scheduled_task_per_rule() {
    let dir = scratch("ecschedule");
    let config = "region: us-east-1
cluster: api
role: ecsEventsRole
rules:
- name: hourly-sync
  description: sync every hour
  scheduleExpression: rate(1 hour)
  taskDefinition: sync
  taskCount: 2
  group: sync
  launch_type: FARGATE
  platform_version: 1.4.0
  network_configuration:
    aws_vpc_configuration:
      subnets: [subnet-01234567]
      security_groups: [sg-11111111]
      assign_public_ip: ENABLED
  taskOverride:
    cpu: \"1024\"
  containerOverrides:
  - name: app
    command: [sync, --all]
    environment:
      MODE: full
      DEBUG: \"on\"
  propagateTags: TASK_DEFINITION
- name: weekly-report
  scheduleExpression: cron(0 6 ? * MON *)
  taskDefinition: report
  disabled: true
";
    let file = dir.join("ecschedule.yaml");
    std::fs::write(&file, config).expect("write");
    let (docs, stderr, ok) = run(&["import", file.to_str().expect("path")]);
    assert!(ok, "{stderr}");
    assert_eq!(docs.len(), 2, "{docs:#?}");
    let hourly = &docs[0]["spec"];
    assert_eq!(docs[0]["metadata"]["name"], "hourly-sync");
    assert_eq!(hourly["ScheduleExpression"], "rate(1 hour)");
    assert_eq!(hourly["State"], "ENABLED");
    let target = &hourly["Targets"][0];
    assert_eq!(target["RoleArn"], "ecsEventsRole", "the configuration's role");
    assert_eq!(target["Arn"], "api", "the configuration's cluster");
    let params = &target["EcsParameters"];
    assert_eq!(params["TaskDefinitionArn"], "sync");
    assert_eq!(params["TaskCount"], 2);
    assert_eq!(params["LaunchType"], "FARGATE");
    assert_eq!(
        params["NetworkConfiguration"]["awsvpcConfiguration"],
        json!({"Subnets": ["subnet-01234567"], "SecurityGroups": ["sg-11111111"], "AssignPublicIp": "ENABLED"})
    );
    let input: Value = serde_json::from_str(target["Input"].as_str().expect("Input")).expect("JSON");
    assert_eq!(input["cpu"], "1024");
    assert_eq!(
        input["containerOverrides"][0]["command"],
        json!(["sync", "--all"])
    );
    assert_eq!(
        input["containerOverrides"][0]["environment"],
        json!([{"name": "DEBUG", "value": "on"}, {"name": "MODE", "value": "full"}])
    );
    assert_eq!(docs[1]["spec"]["State"], "DISABLED");
    // A templated configuration is refused, naming the line.
    let templated = dir.join("templated.yaml");
    std::fs::write(
        &templated,
        "cluster: api\nrules:\n- name: x\n  scheduleExpression: rate(1 hour)\n  taskDefinition: {{ must_env `TD` }}\n",
    )
    .expect("write");
    let (_, stderr, ok) = run(&["import", templated.to_str().expect("path")]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("template expressions") && stderr.contains(":5:"),
        "{stderr}"
    );
}
