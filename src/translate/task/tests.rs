//! RunTask's rules, the overrides, the pods of a Task, and the roll-up.

use serde_json::json;

use super::{TaskError, TaskInput, as_service_strategy, outcome::outcome, request, task_pods};
use crate::{
    api::{
        ContainerState, TaskInstance,
        ecs::{RegisterTaskDefinition, RunTask},
    },
    translate::{Options, service::TaskDefinitionRevision},
};

fn td() -> RegisterTaskDefinition {
    serde_json::from_value(json!({
        "family": "report",
        "taskRoleArn": "arn:aws:iam::123456789012:role/report",
        "tags": [{"key": "team", "value": "data"}],
        "containerDefinitions": [
            {"name": "report", "image": "busybox", "essential": true, "command": ["run"], "cpu": 256, "memory": 256,
             "environment": [{"name": "MODE", "value": "full"}, {"name": "LEVEL", "value": "info"}]},
            {"name": "log", "image": "fluent-bit", "essential": false, "memory": 64}
        ]
    }))
    .expect("a task definition")
}

fn run(v: serde_json::Value) -> RunTask {
    serde_json::from_value(v).expect("a RunTask")
}

fn refused(v: serde_json::Value) -> String {
    request::validate(&run(v)).expect_err("refused").to_string()
}

#[test]
fn run_task_rules_name_the_field() {
    let cases = [
        (
            json!({"taskDefinition": "report", "count": 11}),
            "spec.count: 11 is out of range",
        ),
        (
            json!({"taskDefinition": "report", "count": 0}),
            "spec.count: 0 is out of range",
        ),
        (
            json!({"taskDefinition": "report", "startedBy": "cron job"}),
            "spec.startedBy: ' ' is not allowed",
        ),
        (
            json!({"taskDefinition": "report", "propagateTags": "SERVICE"}),
            "spec.propagateTags: SERVICE is for services",
        ),
        (
            json!({"taskDefinition": "report", "launchType": "FARGATE", "capacityProviderStrategy": [{"capacityProvider": "FARGATE"}]}),
            "spec.launchType: launchType and capacityProviderStrategy cannot both be given",
        ),
        (
            json!({"taskDefinition": "report", "clientToken": "has space"}),
            "spec.clientToken: up to 64 ASCII",
        ),
        (
            json!({"taskDefinition": "report", "tags": [{"value": "x"}]}),
            "spec.tags[0].key: required",
        ),
        (json!({"taskDefinition": ""}), "spec.taskDefinition: required"),
        (
            json!({"taskDefinition": "report", "overrides": {"containerOverrides": [{"name": "report", "command": ["x".repeat(9000)]}]}}),
            "spec.overrides: 9",
        ),
    ];
    for (v, want) in cases {
        let got = refused(v.clone());
        assert!(got.starts_with(want), "{v}: {got}");
    }
    assert_eq!(
        request::validate(&run(
            json!({"taskDefinition": "report:3", "count": 10, "startedBy": "ops/nightly_1"})
        )),
        Ok(())
    );
    assert_eq!(request::count(&run(json!({"taskDefinition": "report"}))), 1);
    assert_eq!(
        request::group(&run(json!({"taskDefinition": "report"})), "report"),
        "family:report"
    );
    assert_eq!(
        request::group(
            &run(json!({"taskDefinition": "report", "group": "etl"})),
            "report"
        ),
        "etl"
    );
}

#[test]
fn overrides_replace_and_add_as_ecs_applies_them() {
    let o = run(json!({"taskDefinition": "report", "overrides": {
        "cpu": "1024", "memory": "2048", "taskRoleArn": "arn:aws:iam::123456789012:role/other",
        "ephemeralStorage": {"sizeInGiB": 30},
        "containerOverrides": [{"name": "report", "command": ["run", "--since", "yesterday"],
            "environment": [{"name": "LEVEL", "value": "debug"}, {"name": "DAY", "value": "mon"}],
            "cpu": 512, "memory": 1024, "memoryReservation": 512}]}}));
    let got = request::apply_overrides(&td(), o.overrides.as_ref()).expect("applied");
    let c = &got.container_definitions[0];
    assert_eq!(
        c.command.as_deref(),
        Some(&["run".to_owned(), "--since".to_owned(), "yesterday".to_owned()][..])
    );
    let env: Vec<(String, String)> = c
        .environment
        .iter()
        .flatten()
        .map(|e| {
            (
                e.name.clone().unwrap_or_default(),
                e.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        env,
        [("MODE", "full"), ("LEVEL", "debug"), ("DAY", "mon")].map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(
        (c.cpu, c.memory, c.memory_reservation),
        (Some(512), Some(1024), Some(512))
    );
    assert_eq!(
        got.container_definitions[1],
        td().container_definitions[1],
        "the other container is untouched"
    );
    assert_eq!(
        got.task_role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/other")
    );
    assert_eq!(got.ephemeral_storage.map(|e| e.size_in_gib), Some(30));
    let unknown =
        run(json!({"taskDefinition": "report", "overrides": {"containerOverrides": [{"name": "nope"}]}}));
    let e = request::apply_overrides(&td(), unknown.overrides.as_ref()).expect_err("refused");
    assert_eq!(e.field, "overrides.containerOverrides[0].name");
    assert!(e.message.contains("its containers: report, log"), "{}", e.message);
}

fn input<'a>(run: &'a RunTask, spec: &'a RegisterTaskDefinition) -> TaskInput<'a> {
    TaskInput {
        name: "nightly",
        namespace: "batch",
        run,
        task_definition: TaskDefinitionRevision {
            object: "report",
            spec,
            revision: 4,
        },
        nodes: None,
        strategy: None,
    }
}

#[test]
fn a_task_becomes_count_pods_that_never_restart() {
    let spec = td();
    let r = run(
        json!({"taskDefinition": "report", "count": 3, "startedBy": "ops", "propagateTags": "TASK_DEFINITION",
                       "tags": [{"key": "run", "value": "7"}],
                       "placementConstraints": [{"type": "distinctInstance"}]}),
    );
    let objects = task_pods(&input(&r, &spec), &Options::default()).expect("pods");
    let names: Vec<_> = objects
        .pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["nightly-1", "nightly-2", "nightly-3"]);
    assert_eq!(objects.task_definition, "report:4");
    for pod in &objects.pods {
        let spec = pod.spec.as_ref().expect("spec");
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        let labels = pod.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels["ecsbridge.io/task"], "nightly");
        assert_eq!(labels["ecsbridge.io/group"], "family.report");
        assert_eq!(labels["ecsbridge.io/revision"], "4");
        let a = pod.metadata.annotations.as_ref().expect("annotations");
        assert_eq!(a["ecsbridge.io/group"], "family:report");
        assert_eq!(a["ecsbridge.io/started-by"], "ops");
        assert_eq!(a["ecsbridge.io/essential-containers"], "report");
        let tags: serde_json::Value = serde_json::from_str(&a["ecsbridge.io/tags"]).expect("tags");
        assert_eq!(tags, json!({"team": "data", "run": "7"}));
        // distinctInstance: one task per node, among the group's tasks.
        let anti = spec
            .affinity
            .as_ref()
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref())
            .expect("required anti-affinity");
        assert_eq!(anti[0].topology_key, "kubernetes.io/hostname");
        // RunTask's default placement is random: no spread.
        assert!(spec.topology_spread_constraints.is_none());
    }
    // The task definition's own role: its TaskDefinition's ServiceAccount, nothing of the Task's.
    assert!(objects.service_account.is_none());
    assert_eq!(
        objects.pods[0]
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.as_deref()),
        Some("ecs-report")
    );
}

#[test]
fn an_overridden_task_role_gets_the_tasks_own_service_account() {
    let spec = td();
    let r = run(
        json!({"taskDefinition": "report", "overrides": {"taskRoleArn": "arn:aws:iam::123456789012:role/other"}}),
    );
    let objects = task_pods(&input(&r, &spec), &Options::default()).expect("pods");
    let sa = objects.service_account.expect("a ServiceAccount");
    let name = super::task_service_account("nightly");
    assert!(
        name.starts_with("ecs-task-nightly-") && name.len() == "ecs-task-nightly-".len() + 8,
        "{name}"
    );
    assert_ne!(
        name,
        crate::translate::pod::pod_template("task-nightly", &spec, 1)
            .ok()
            .and_then(|t| t.template.spec.and_then(|s| s.service_account_name))
            .unwrap_or_default()
    );
    assert_eq!(sa["metadata"]["name"], name.as_str());
    assert_eq!(
        sa["metadata"]["labels"],
        json!({"app.kubernetes.io/managed-by": "ecs-bridge", "ecsbridge.io/task": "nightly"})
    );
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/other"
    );
    assert_eq!(
        objects.pods[0]
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.as_deref()),
        Some(name.as_str())
    );
}

#[test]
fn errors_name_the_field() {
    let spec = td();
    let r = run(
        json!({"taskDefinition": "report", "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.instance-type =="}]}),
    );
    let Err(TaskError::Request(e)) = task_pods(&input(&r, &spec), &Options::default()) else {
        panic!("refused")
    };
    assert!(e.field.starts_with("placementConstraints[0].expression"), "{e}");
    let long = "x".repeat(64);
    let r = run(json!({"taskDefinition": "report"}));
    let mut i = input(&r, &spec);
    i.name = &long;
    let Err(TaskError::Request(e)) = task_pods(&i, &Options::default()) else {
        panic!("refused")
    };
    assert_eq!(e.field, "metadata.name");
    // Only the strategy fields go to the capacity rules.
    let s = as_service_strategy(&run(
        json!({"taskDefinition": "report", "launchType": "FARGATE", "count": 3}),
    ));
    assert_eq!(s.service.launch_type, Some(crate::api::ecs::LaunchType::Fargate));
    assert_eq!(s.service.desired_count, None);
}

fn stopped(name: &str, code: &str, exits: &[(&str, bool, i32)]) -> TaskInstance {
    TaskInstance {
        task_arn: name.to_owned(),
        last_status: "STOPPED".to_owned(),
        stop_code: Some(code.to_owned()),
        containers: exits
            .iter()
            .map(|(n, essential, code)| ContainerState {
                name: (*n).to_owned(),
                last_status: "STOPPED".to_owned(),
                essential: Some(*essential),
                exit_code: Some(*code),
                ..ContainerState::default()
            })
            .collect(),
        ..TaskInstance::default()
    }
}

#[test]
fn the_roll_up_is_the_least_advanced_task_and_the_first_failure() {
    let running = TaskInstance {
        task_arn: "j-2".into(),
        last_status: "RUNNING".into(),
        ..TaskInstance::default()
    };
    let provisioning = TaskInstance {
        task_arn: "j-3".into(),
        last_status: "PROVISIONING".into(),
        ..TaskInstance::default()
    };
    let ok = stopped(
        "j-1",
        "EssentialContainerExited",
        &[("app", true, 0), ("log", false, 143)],
    );
    let o = outcome(&[ok.clone(), running.clone(), provisioning]);
    assert_eq!(
        (o.last_status.as_deref(), o.done, o.stop_code),
        (Some("PROVISIONING"), false, None)
    );
    let o = outcome(&[ok.clone(), running]);
    assert_eq!(o.last_status.as_deref(), Some("RUNNING"));
    let o = outcome(&[ok.clone(), ok.clone()]);
    assert_eq!(
        (o.done, o.failure, o.stop_code.as_deref()),
        (true, None, Some("EssentialContainerExited"))
    );
    let bad = stopped("j-2", "EssentialContainerExited", &[("app", true, 1)]);
    let o = outcome(&[ok.clone(), bad]);
    assert_eq!(
        o.failure.as_deref(),
        Some("Task j-2: essential container app exited with code 1.")
    );
    let spot = stopped("j-2", "SpotInterruption", &[("app", true, 143)]);
    let o = outcome(&[ok, spot]);
    assert_eq!(o.stop_code.as_deref(), Some("SpotInterruption"));
    assert_eq!(o.failure.as_deref(), Some("Task j-2 stopped: SpotInterruption."));
    assert_eq!(outcome(&[]).last_status, None);
}
