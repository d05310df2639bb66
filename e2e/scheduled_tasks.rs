//! Scheduled tasks (the ScheduledTask kind, an EventBridge rule with ECS targets) end to end:
//! one whose schedule Kubernetes cron says fires by its CronJob, and the firing runs as a Task
//! to a Succeeded outcome; one that only the operator can fire (`at()`) fires at its instant,
//! and an instant missed while the operator was down (of a rule in EventBridge Scheduler's
//! form) fires once it is back.
//!
//! On the double, the test fires the CronJob (the simulated CronJob controller names and
//! annotates the Job as the real one does); on a real cluster, `kubectl create job --from`.

use std::time::Duration;

use serde_json::Value;

use crate::{
    support::{Env, Setup, eventually},
    tasks::{exit, s},
};

const TIMEOUT: Duration = Duration::from_secs(90);

/// Waits until the ScheduledTask `name`'s status satisfies `check`, and returns it.
async fn scheduled_when(env: &Env, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(what, TIMEOUT, || {
        let st = env.get(&["ecsschedule", name]).ok_or("no ScheduledTask")?;
        if check(&st) {
            Ok(st)
        } else {
            Err(format!("{}", st.get("status").cloned().unwrap_or(Value::Null)))
        }
    })
    .await
}

/// The names of the Tasks the ScheduledTask `name` started.
fn fired(env: &Env, name: &str) -> Vec<String> {
    env.get(&["ecstask", "-l", &format!("ecsbridge.io/scheduled-task={name}")])
        .and_then(|l| l["items"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|t| s(t, "/metadata/name").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_schedule_cron_can_say_fires_by_its_cronjob_and_runs_as_a_task() {
    let env = Env::start("schedule-cron").await;
    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("batch"))]);
    let cj = eventually("the CronJob", TIMEOUT, || {
        env.get(&["cronjob", "weekday-report"])
            .ok_or_else(|| "no CronJob".to_owned())
    })
    .await;
    assert_eq!(s(&cj, "/spec/schedule"), "0 6 * * 1-5", "{cj}");
    assert_eq!(s(&cj, "/spec/timeZone"), "Europe/Paris");
    assert_eq!(cj["spec"]["suspend"], false);
    assert_eq!(
        cj["spec"]["jobTemplate"]["spec"]["suspend"], true,
        "each Job is a token: no pod"
    );
    let owner = &cj["metadata"]["ownerReferences"][0];
    assert_eq!(
        (s(owner, "/kind"), s(owner, "/name")),
        ("ScheduledTask", "weekday-report")
    );
    let st = scheduled_when(&env, "weekday-report", "the rule scheduled", |st| {
        s(st, "/status/health") == "Healthy" && st["status"].get("nextScheduleTime").is_some()
    })
    .await;
    assert_eq!(s(&st, "/status/firedBy"), "CronJob", "{st}");
    assert_eq!(s(&st, "/status/state"), "ENABLED");

    // The schedule fires.
    let job = match env.backend.double() {
        Some((_, cluster)) => {
            let job = cluster
                .trigger_cronjob(&env.namespace, "weekday-report")
                .expect("the CronJob fires");
            s(&job, "/metadata/name").to_owned()
        }
        None => {
            env.kubectl_ok(&[
                "create",
                "job",
                "--from=cronjob/weekday-report",
                "weekday-report-now",
            ]);
            "weekday-report-now".to_owned()
        }
    };
    // Its token becomes the firing's Task, named after it, and goes.
    eventually("the firing's Task", TIMEOUT, || {
        env.get(&["ecstask", &job])
            .ok_or(format!("Tasks: {:?}", fired(&env, "weekday-report")))
    })
    .await;
    eventually("the token to go", TIMEOUT, || match env.get(&["job", &job]) {
        Some(_) => Err("the Job is still there".to_owned()),
        None => Ok(()),
    })
    .await;
    let pod = format!("{job}-1");
    eventually("the task's pod", TIMEOUT, || {
        env.get(&["pod", &pod]).ok_or_else(|| "no pod".to_owned())
    })
    .await;
    let pod_value = env.get(&["pod", &pod]).expect("the pod");
    assert_eq!(
        s(&pod_value, "/metadata/annotations/ecsbridge.io~1started-by"),
        "events-rule/weekday-report",
        "started as EventBridge starts it"
    );
    let env_var = pod_value["spec"]["containers"][0]["env"]
        .as_array()
        .and_then(|e| e.iter().find(|v| v["name"] == "PERIOD"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        env_var["value"], "daily",
        "the target's Input overrides: {pod_value}"
    );
    exit(&env, &pod, &[("report", 0, "Completed")]).await;
    let st = scheduled_when(&env, "weekday-report", "the firing to succeed", |st| {
        s(st, "/status/recentTasks/0/outcome") == "Succeeded"
    })
    .await;
    assert_eq!(s(&st, "/status/recentTasks/0/name"), job, "{st}");
    assert_eq!(s(&st, "/status/recentTasks/0/lastStatus"), "STOPPED");
    assert!(st["status"].get("lastScheduleTime").is_some(), "{st}");
    assert_eq!(fired(&env, "weekday-report"), [job], "one firing, one Task");

    // DISABLED suspends the CronJob.
    env.kubectl_ok(&[
        "patch",
        "ecsschedule",
        "weekday-report",
        "--type=merge",
        "-p",
        r#"{"spec":{"State":"DISABLED"}}"#,
    ]);
    eventually("the CronJob suspended", TIMEOUT, || {
        let cj = env.get(&["cronjob", "weekday-report"]).ok_or("no CronJob")?;
        (cj["spec"]["suspend"] == true)
            .then_some(())
            .ok_or_else(|| "not suspended".to_owned())
    })
    .await;
    let st = scheduled_when(&env, "weekday-report", "the rule disabled", |st| {
        s(st, "/status/state") == "DISABLED"
    })
    .await;
    assert!(st["status"].get("nextScheduleTime").is_none(), "{st}");
    assert_eq!(s(&st, "/status/health"), "Suspended", "as Argo CD says it: {st}");
}

/// A ScheduledTask `name` running `report` once, at `at` (UTC, to the second): an EventBridge
/// rule, or in EventBridge Scheduler's form (`scheduler`).
fn once(name: &str, at: jiff::Timestamp, scheduler: bool) -> String {
    let target = if scheduler {
        "  FlexibleTimeWindow:\n    Mode: \"OFF\"\n  Target:\n    Arn: arn:aws:ecs:eu-west-1:123456789012:cluster/batch\n    \
         RoleArn: arn:aws:iam::123456789012:role/scheduler\n    EcsParameters:\n      TaskDefinitionArn: report\n      \
         Tags:\n        - team: data\n"
    } else {
        "  Targets:\n    - Id: report\n      EcsParameters:\n        TaskDefinitionArn: report\n"
    };
    format!(
        "apiVersion: ecsbridge.io/v1alpha1\nkind: ScheduledTask\nmetadata:\n  name: {name}\nspec:\n  \
         ScheduleExpression: at({})\n{target}",
        at.strftime("%Y-%m-%dT%H:%M:%S")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operator_fires_what_cron_cannot_say_and_a_missed_instant_after_a_restart() {
    let env = Env::setup(
        "schedule-at",
        Setup {
            crds: true,
            operator: false,
        },
    )
    .await;
    let example = Env::example("batch").join("taskdefinition.yaml");
    env.kubectl_ok(&["apply", "-f", &Env::s(&example)]);
    let mut operator = env.spawn_operator("e2e-schedule-1");
    // at(): only the operator can fire it.
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(8);
    let file = env.file("once.yaml", &once("once", at, false));
    env.kubectl_ok(&["apply", "-f", &Env::s(&file)]);
    let st = scheduled_when(&env, "once", "the rule scheduled", |st| {
        s(st, "/status/firedBy") == "Operator"
    })
    .await;
    assert!(env.get(&["cronjob", "once"]).is_none(), "no CronJob can say at()");
    assert!(
        fired(&env, "once").is_empty() || jiff::Timestamp::now() >= at,
        "nothing fires before the instant: {st}"
    );
    let instant = jiff::Timestamp::from_second(at.as_second()).expect("a time");
    let task = format!("once-{}", instant.as_second() / 60);
    let st = scheduled_when(&env, "once", "the instant to fire", |st| {
        s(st, "/status/recentTasks/0/name") == task
    })
    .await;
    assert_eq!(
        s(&st, "/status/lastScheduleTime"),
        instant.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "{st}"
    );
    assert!(
        st["status"].get("nextScheduleTime").is_none(),
        "at() fires once: {st}"
    );
    // The firing runs as any Task does.
    eventually("the fired task to run", TIMEOUT, || {
        let t = env.get(&["ecstask", &task]).ok_or("no Task")?;
        (s(&t, "/status/taskDefinition") == "report:1")
            .then_some(())
            .ok_or_else(|| format!("{}", t["status"]))
    })
    .await;

    // An instant that passes while the operator is down fires once it is back.
    operator.terminate();
    operator.exited(TIMEOUT).await;
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2);
    let file = env.file("missed.yaml", &once("missed", at, true));
    env.kubectl_ok(&["apply", "-f", &Env::s(&file)]);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(fired(&env, "missed").is_empty(), "the operator is down");
    let second = env.spawn_operator("e2e-schedule-2");
    let missed = format!("missed-{}", at.as_second() / 60);
    eventually("the missed instant to fire", TIMEOUT, || {
        let st = env.get(&["ecsschedule", "missed"]).ok_or("no ScheduledTask")?;
        if s(&st, "/status/recentTasks/0/name") == missed {
            Ok(st)
        } else {
            Err(format!(
                "{}\n--- operator log ---\n{}",
                st["status"],
                second.log()
            ))
        }
    })
    .await;
    // (In Scheduler's form: its target's tags, as maps, became the Task's.)
    let fired_task = env.get(&["ecstask", &missed]).expect("the Task");
    assert_eq!(
        fired_task["spec"]["tags"],
        serde_json::json!([{"key": "team", "value": "data"}]),
        "{fired_task}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fired(&env, "missed"), [missed], "fired once");
    assert_eq!(fired(&env, "once"), [task], "and the first one not again");
}
