//! Reconcile tests against a mocked API server: the exact requests of a CronJob token turned
//! into the firing's Task, and the bodies sent.

use http::Method;
use serde_json::{Value, json};

use super::*;
use crate::controller::testing::{self, assert_no_more_requests, json_body, list_body, next, ok, query};

const NS: &str = "/apis/ecsbridge.io/v1alpha1/namespaces/team-a";

/// The ScheduledTask `nightly`, made a minute ago.
fn nightly() -> ScheduledTask {
    let created = Timestamp::now() - jiff::SignedDuration::from_secs(60);
    serde_json::from_value(json!({
        "apiVersion": "ecsbridge.io/v1alpha1", "kind": "ScheduledTask",
        "metadata": {"name": "nightly", "namespace": "team-a", "uid": "uid-st", "generation": 1,
                     "creationTimestamp": created.to_string()},
        "spec": {"ScheduleExpression": "cron(0 10 * * ? *)",
                 "Targets": [{"Id": "report", "EcsParameters": {"TaskDefinitionArn": "report:3"},
                              "Input": "{\"containerOverrides\": [{\"name\": \"app\", \"command\": [\"run\"]}]}"}]},
    }))
    .expect("a ScheduledTask")
}

#[tokio::test]
async fn a_cronjob_token_becomes_the_firings_task_and_goes() {
    let (ctx, mut server) = testing::context();
    let st = nightly();
    // The CronJob as the operator applied it (current: not applied again).
    let v = validate::validate(&st).expect("valid");
    let plan = decide::decide(&st, &v, &load::Loaded::default(), Timestamp::now());
    let mut cj = build::build(&st, &v, &plan, None).cron_job.expect("a CronJob");
    cj.metadata.uid = Some("uid-cj".into());
    let reconciling = tokio::spawn(reconcile(Arc::new(st), ctx));

    let (request, reply) = next(&mut server).await;
    assert_eq!(
        (request.method(), request.uri().path()),
        (&Method::GET, &*format!("{NS}/tasks"))
    );
    assert_eq!(
        query(request.uri()).get("labelSelector").map(String::as_str),
        Some("ecsbridge.io/scheduled-task=nightly")
    );
    ok(reply, &list_body("ecsbridge.io/v1alpha1", "TaskList", vec![]));
    let (request, reply) = next(&mut server).await;
    assert_eq!(
        request.uri().path(),
        "/apis/batch/v1/namespaces/team-a/cronjobs/nightly"
    );
    ok(reply, &serde_json::to_value(&cj).expect("json"));
    let (request, reply) = next(&mut server).await;
    assert_eq!(request.uri().path(), "/apis/batch/v1/namespaces/team-a/jobs");
    let minutes = |t: Timestamp| t.as_second() / 60 * 60;
    let before = Timestamp::from_second(minutes(Timestamp::now()) - 2 * 86_400).expect("a time");
    let scheduled = Timestamp::from_second(minutes(Timestamp::now())).expect("a time");
    let token = |t: Timestamp, uid: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": format!("nightly-{}", t.as_second() / 60), "namespace": "team-a", "uid": uid,
                         "labels": {"ecsbridge.io/scheduled-task": "nightly"},
                         "annotations": {"batch.kubernetes.io/cronjob-scheduled-timestamp": t.to_string()},
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly",
                                              "uid": "uid-cj", "controller": true}]}})
    };
    // (One scheduled before the rule was made: turned into nothing. One after it:)
    ok(
        reply,
        &list_body(
            "batch/v1",
            "JobList",
            vec![token(before, "uid-job"), token(scheduled, "uid-job-2")],
        ),
    );
    let job = format!("nightly-{}", scheduled.as_second() / 60);

    // The firing's Task: named after the token, owned by the ScheduledTask, the target's
    // request with its Input as the overrides.
    let (request, reply) = next(&mut server).await;
    assert_eq!(
        (request.method(), request.uri().path()),
        (&Method::POST, &*format!("{NS}/tasks"))
    );
    let body = json_body(request).await;
    assert_eq!(body["metadata"]["name"], job.as_str());
    assert_eq!(
        body["metadata"]["labels"]["ecsbridge.io/scheduled-task"],
        "nightly"
    );
    assert_eq!(
        body["metadata"]["annotations"]["ecsbridge.io/scheduled-time"],
        scheduled.to_string()
    );
    assert_eq!(body["metadata"]["ownerReferences"][0]["uid"], "uid-st");
    assert_eq!(body["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(body["spec"]["taskDefinition"], "report:3");
    assert_eq!(body["spec"]["startedBy"], "events-rule/nightly");
    assert_eq!(
        body["spec"]["overrides"]["containerOverrides"][0]["command"],
        json!(["run"])
    );
    ok(reply, &body);
    // Both tokens go, each exactly as seen.
    for uid in ["uid-job", "uid-job-2"] {
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::DELETE);
        assert!(
            request
                .uri()
                .path()
                .starts_with("/apis/batch/v1/namespaces/team-a/jobs/nightly-29")
        );
        let body = json_body(request).await;
        assert_eq!(body["preconditions"]["uid"], uid);
        ok(
            reply,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        );
    }
    // The status: the firing, running.
    let (request, reply) = next(&mut server).await;
    assert_eq!(
        request.uri().path(),
        format!("{NS}/scheduledtasks/nightly/status")
    );
    let body = json_body(request).await;
    let status = &body["status"];
    assert_eq!(status["firedBy"], "CronJob");
    assert_eq!(status["state"], "ENABLED");
    assert_eq!(status["lastScheduleTime"], scheduled.to_string());
    assert_eq!(
        status["recentTasks"],
        json!([{"name": job, "scheduledTime": scheduled.to_string(), "outcome": "Running"}])
    );
    assert_eq!(status["health"], "Healthy");
    let mut answered = serde_json::to_value(nightly()).expect("json");
    answered["status"] = status.clone();
    ok(reply, &answered);
    reconciling.await.expect("joined").expect("reconciled");
    assert_no_more_requests(server).await;
}

#[tokio::test]
async fn a_refused_rule_reads_nothing_and_says_why() {
    let (ctx, mut server) = testing::context();
    let mut st = nightly();
    st.spec.rule.schedule_expression = None;
    st.spec.rule.event_pattern = Some("{\"source\": [\"aws.ec2\"]}".into());
    let reconciling = tokio::spawn(reconcile(Arc::new(st), ctx));
    let (request, reply) = next(&mut server).await;
    assert_eq!(
        request.uri().path(),
        format!("{NS}/scheduledtasks/nightly/status")
    );
    let body: Value = json_body(request).await;
    let ready = body["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .expect("Ready");
    assert_eq!(ready["reason"], "EventPatternNotTranslatable");
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.EventPattern"))
    );
    ok(reply, &serde_json::to_value(nightly()).expect("json"));
    reconciling.await.expect("joined").expect("reconciled");
    assert_no_more_requests(server).await;
}
