//! The simulated Job controller and CronJob runs
//! (https://kubernetes.io/docs/concepts/workloads/controllers/job/ and
//! https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/).

mod cluster_common;

use std::time::Duration;

use cluster_common::{Bed, PodFollower, active, condition, name};
use ecs_bridge_testbed::PodOutcome;
use serde_json::{Value, json};

fn job(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["template"] = json!({
        "metadata": {"labels": {"app": name}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox"}]},
    });
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec})
}

fn terminal_conditions(job: &Value) -> Vec<(String, String, String)> {
    job["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let f = |k: &str| c[k].as_str().unwrap_or("").to_owned();
                    (f("type"), f("status"), f("reason"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_runs_parallelism_pods_until_completions_succeed() {
    let bed = Bed::start().await;
    let follower = PodFollower::start(&bed, |pods| {
        let running = pods
            .values()
            .filter(|p| p["metadata"]["labels"]["app"] == "batch" && active(p))
            .count();
        let n = i64::try_from(running).unwrap_or(0);
        (
            (n, 0),
            (running > 2).then(|| format!("{running} pods active at once")),
        )
    });
    bed.create(job("batch", json!({"completions": 3, "parallelism": 2})));
    let pods = bed
        .wait_for("2 pods", |b| {
            let pods = b.active_pods("app=batch");
            (pods.len() == 2).then_some(pods)
        })
        .await;
    let j = bed
        .wait_for("active 2", |b| {
            let j = b.get("Job", "batch");
            (j["status"]["active"] == 2).then_some(j)
        })
        .await;
    let st = &j["status"];
    assert!(st["startTime"].is_string(), "{st}");
    assert_eq!(
        (&st["ready"], &st["terminating"], &st["uncountedTerminatedPods"]),
        (&json!(0), &json!(0), &json!({}))
    );
    assert!(
        st.get("succeeded").is_none() && st.get("conditions").is_none(),
        "{st}"
    );
    let p = &pods[0];
    assert_eq!(p["metadata"]["labels"]["batch.kubernetes.io/job-name"], "batch");
    assert_eq!(
        p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"],
        j["metadata"]["uid"]
    );
    assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "Job");
    assert!(name(p).starts_with("batch-"));

    bed.cluster
        .set_pod("default", &name(&pods[0]), PodOutcome::Running { ready: true })
        .expect("set pod");
    bed.wait_for("ready 1", |b| {
        (b.get("Job", "batch")["status"]["ready"] == 1).then_some(())
    })
    .await;
    bed.cluster
        .set_pod("default", &name(&pods[0]), PodOutcome::Succeeded)
        .expect("set pod");
    // One succeeded; two completions left, so a third pod starts next to the second.
    let first_two: Vec<String> = pods.iter().map(name).collect();
    bed.wait_for("a third pod", |b| {
        let j = b.get("Job", "batch");
        let pods = b.active_pods("app=batch");
        (j["status"]["succeeded"] == 1
            && j["status"]["active"] == 2
            && pods.len() == 2
            && pods.iter().any(|p| !first_two.contains(&name(p))))
        .then_some(())
    })
    .await;
    bed.cluster.kubelet(PodOutcome::Succeeded);
    for p in bed.active_pods("app=batch") {
        bed.cluster
            .set_pod("default", &name(&p), PodOutcome::Succeeded)
            .expect("set pod");
    }
    let j = bed
        .wait_for("Complete", |b| {
            let j = b.get("Job", "batch");
            condition(&j, "Complete").is_some().then_some(j)
        })
        .await;
    let st = &j["status"];
    assert_eq!(st["succeeded"], 3, "{st}");
    assert!(st.get("active").is_none() && st.get("failed").is_none(), "{st}");
    assert!(st["completionTime"].is_string());
    assert_eq!(
        terminal_conditions(&j),
        [
            (
                "SuccessCriteriaMet".into(),
                "True".into(),
                "CompletionsReached".into()
            ),
            ("Complete".into(), "True".into(), "CompletionsReached".into())
        ]
    );
    assert_eq!(
        condition(&j, "Complete").expect("Complete")["message"],
        "Reached expected number of succeeded pods"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(bed.list("Pod", "app=batch").len(), 3, "no pod after completion");
    let seen = follower.finish().await;
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_pods_keep_failing_fails_past_its_backoff_limit() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(PodOutcome::Failed {
        exit_code: 1,
        reason: "Error".into(),
    });
    bed.create(job("flaky", json!({"backoffLimit": 2})));
    let j = bed
        .wait_for("Failed", |b| {
            let j = b.get("Job", "flaky");
            condition(&j, "Failed").is_some().then_some(j)
        })
        .await;
    let st = &j["status"];
    assert_eq!(
        st["failed"], 3,
        "backoffLimit 2: the third failure fails the Job: {st}"
    );
    assert!(
        st.get("active").is_none() && st.get("succeeded").is_none() && st.get("completionTime").is_none(),
        "{st}"
    );
    assert_eq!(
        terminal_conditions(&j),
        [
            (
                "FailureTarget".into(),
                "True".into(),
                "BackoffLimitExceeded".into()
            ),
            ("Failed".into(), "True".into(), "BackoffLimitExceeded".into())
        ]
    );
    assert_eq!(
        condition(&j, "Failed").expect("Failed")["message"],
        "Job has reached the specified backoff limit"
    );
    let pods = bed.list("Pod", "app=flaky");
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Failed"
        && p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(bed.list("Pod", "app=flaky").len(), 3, "no pod after failure");
}

#[tokio::test(flavor = "multi_thread")]
async fn active_deadline_and_ttl_after_finished_follow_the_simulated_clock() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(PodOutcome::Running { ready: true });
    bed.create(job(
        "slow",
        json!({"activeDeadlineSeconds": 60, "ttlSecondsAfterFinished": 300}),
    ));
    bed.wait_for("a running pod", |b| {
        (b.get("Job", "slow")["status"]["ready"] == 1).then_some(())
    })
    .await;
    bed.cluster.advance_clock(Duration::from_secs(61));
    let j = bed
        .wait_for("DeadlineExceeded", |b| {
            let j = b.get("Job", "slow");
            (condition(&j, "Failed")?["reason"] == "DeadlineExceeded").then_some(j)
        })
        .await;
    assert_eq!(
        condition(&j, "Failed").expect("Failed")["message"],
        "Job was active longer than specified deadline"
    );
    assert_eq!(
        j["status"]["failed"], 1,
        "the running pod was terminated: {}",
        j["status"]
    );
    assert!(bed.active_pods("app=slow").is_empty());
    bed.cluster.advance_clock(Duration::from_secs(301));
    bed.wait_for("the Job to be deleted", |b| {
        b.try_get("Job", "slow").is_none().then_some(())
    })
    .await;
}

fn cronjob(policy: &str) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "concurrencyPolicy": policy,
            "jobTemplate": {
                "metadata": {"labels": {"team": "data"}, "annotations": {"owner": "ops"}},
                "spec": {"backoffLimit": 0, "template": {
                    "metadata": {"labels": {"app": "nightly"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "run", "image": "busybox"}]},
                }},
            },
        },
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cron_job_trigger_runs_a_job_and_its_completion_is_recorded() {
    let bed = Bed::start().await;
    let cj = bed.create(cronjob("Forbid"));
    let j = bed
        .cluster
        .trigger_cronjob("default", "nightly")
        .expect("trigger");
    let job_name = name(&j);
    let minutes: i64 = job_name
        .trim_start_matches("nightly-")
        .parse()
        .expect("nightly-<minutes>");
    assert!(minutes > 27_000_000, "{job_name}");
    assert_eq!(j["metadata"]["labels"]["team"], "data");
    assert_eq!(j["metadata"]["annotations"]["owner"], "ops");
    let scheduled = j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        .as_str()
        .expect("scheduled");
    assert!(scheduled.ends_with(":00Z"), "on the minute: {scheduled}");
    let o = &j["metadata"]["ownerReferences"][0];
    assert_eq!(
        (o["kind"].as_str(), o["uid"].as_str(), o["controller"].as_bool()),
        (Some("CronJob"), cj["metadata"]["uid"].as_str(), Some(true))
    );
    assert_eq!(j["spec"]["backoffLimit"], 0);
    let c = bed.get("CronJob", "nightly");
    assert_eq!(c["status"]["lastScheduleTime"], scheduled);
    let active = c["status"]["active"].as_array().expect("active");
    assert_eq!(active.len(), 1);
    assert_eq!(
        (
            active[0]["name"].as_str(),
            active[0]["uid"].as_str(),
            active[0]["kind"].as_str()
        ),
        (
            Some(job_name.as_str()),
            j["metadata"]["uid"].as_str(),
            Some("Job")
        )
    );

    // Forbid: no second run while one is active.
    let refused = bed
        .cluster
        .trigger_cronjob("default", "nightly")
        .expect_err("Forbid");
    assert_eq!(refused.code, 403, "{refused}");

    let pod = bed
        .wait_for("the Job's pod", |b| {
            b.active_pods("app=nightly").into_iter().next()
        })
        .await;
    bed.cluster
        .set_pod("default", &name(&pod), PodOutcome::Succeeded)
        .expect("set pod");
    let (c, done) = bed
        .wait_for("the CronJob to see the completion", |b| {
            let c = b.get("CronJob", "nightly");
            let done = b.get("Job", &job_name);
            (c["status"].get("active").is_none() && c["status"]["lastSuccessfulTime"].is_string())
                .then_some((c, done))
        })
        .await;
    assert_eq!(
        c["status"]["lastSuccessfulTime"],
        done["status"]["completionTime"]
    );

    // The next run gets the next minute even within the same one.
    let again = bed
        .cluster
        .trigger_cronjob("default", "nightly")
        .expect("second trigger");
    assert_ne!(name(&again), job_name);
    let c = bed.get("CronJob", "nightly");
    assert_eq!(c["status"]["active"].as_array().map(Vec::len), Some(1));
    assert_ne!(c["status"]["lastScheduleTime"], scheduled);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cron_job_keeps_its_failed_jobs_history_limit() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(PodOutcome::Failed {
        exit_code: 2,
        reason: "Error".into(),
    });
    bed.create(cronjob("Allow"));
    let mut names = Vec::new();
    for _ in 0..3 {
        let j = bed
            .cluster
            .trigger_cronjob("default", "nightly")
            .expect("trigger");
        let n = name(&j);
        bed.wait_for("the Job to fail", |b| {
            b.try_get("Job", &n)
                .is_none_or(|j| condition(&j, "Failed").is_some())
                .then_some(())
        })
        .await;
        names.push(n);
    }
    // failedJobsHistoryLimit defaults to 1.
    let left = bed
        .wait_for("one failed Job left", |b| {
            let jobs = b.list("Job", "team=data");
            (jobs.len() == 1).then_some(jobs)
        })
        .await;
    assert_eq!(name(&left[0]), names[2]);
    // The CronJob controller notices the last Job's failure on its own pass: wait for it.
    let c = bed
        .wait_for("the CronJob without active Jobs", |b| {
            let c = b.get("CronJob", "nightly");
            c["status"].get("active").is_none().then_some(c)
        })
        .await;
    assert!(c["status"].get("lastSuccessfulTime").is_none(), "{}", c["status"]);
}
