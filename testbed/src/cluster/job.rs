//! The Job controller (pods until `completions` succeed, failing past `backoffLimit`) and
//! CronJob runs triggered by the test.

use std::sync::Arc;

use serde_json::{Value, json};

use super::util::{self, active, controlled_by, i, rt, s};
use crate::api::{ApiError, ApiServer, meta_helpers::now};

pub fn reconcile(api: &Arc<ApiServer>) -> Result<(), ApiError> {
    let job_type = rt(api, "batch", "v1", "Job");
    let pod_type = rt(api, "", "v1", "Pod");
    let all_pods = util::pods(api, None, None)?;
    for job in util::list(api, &job_type, None, None)? {
        if job
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
        {
            continue;
        }
        let finished = job
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| matches!(s(c, "/type"), "Complete" | "Failed") && s(c, "/status") == "True")
            });
        if finished {
            continue;
        }
        let uid = s(&job, "/metadata/uid");
        let ns = s(&job, "/metadata/namespace");
        let pods: Vec<&Value> = all_pods
            .iter()
            .filter(|p| s(p, "/metadata/namespace") == ns && controlled_by(p, uid))
            .collect();
        let succeeded = pods
            .iter()
            .filter(|p| s(p, "/status/phase") == "Succeeded")
            .count();
        let failed = pods.iter().filter(|p| s(p, "/status/phase") == "Failed").count();
        let running: Vec<&&Value> = pods.iter().filter(|p| active(p)).collect();
        let completions = usize::try_from(
            job.pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1),
        )
        .unwrap_or(1);
        let parallelism = usize::try_from(
            job.pointer("/spec/parallelism")
                .and_then(Value::as_i64)
                .unwrap_or(1),
        )
        .unwrap_or(1);
        let backoff = usize::try_from(
            job.pointer("/spec/backoffLimit")
                .and_then(Value::as_i64)
                .unwrap_or(6),
        )
        .unwrap_or(6);
        let started = job
            .pointer("/status/startTime")
            .cloned()
            .unwrap_or_else(|| json!(now()));
        let mut status = json!({
            "startTime": started,
            "active": running.len(),
            "succeeded": succeeded,
            "failed": failed,
            "ready": running.iter().filter(|p| util::ready(p)).count(),
        });
        if succeeded >= completions {
            let t = now();
            status["completionTime"] = json!(t);
            status["active"] = json!(0);
            status["conditions"] = json!([
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastTransitionTime": t},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastTransitionTime": t},
            ]);
        } else if failed > backoff {
            for p in &running {
                util::delete(api, &pod_type, p)?;
            }
            let t = now();
            status["active"] = json!(0);
            status["conditions"] = json!([
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": t},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": t},
            ]);
        } else {
            let want = parallelism.min(completions - succeeded);
            let template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
            for _ in running.len()..want {
                util::create_pod(
                    api,
                    &job,
                    &template,
                    &json!({"batch.kubernetes.io/job-name": s(&job, "/metadata/name")}),
                    None,
                )?;
            }
        }
        util::set_status(api, &job_type, &job, status)?;
    }
    Ok(())
}

/// Creates a Job from a CronJob's `jobTemplate`, as the CronJob controller does when the
/// schedule fires, and records it in the CronJob's status.
pub fn trigger_cronjob(api: &Arc<ApiServer>, namespace: &str, name: &str) -> Result<Value, ApiError> {
    let cj_type = rt(api, "batch", "v1", "CronJob");
    let cj = api.get(&cj_type, Some(namespace), name, None)?;
    let t = now();
    let minutes = jiff::Timestamp::now().as_second() / 60;
    let job_name = format!("{name}-{minutes}");
    let template = cj.pointer("/spec/jobTemplate").cloned().unwrap_or(json!({}));
    let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
    labels["batch.kubernetes.io/cronjob-name"] = json!(name);
    let body = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": job_name,
            "labels": labels,
            "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or(json!({})),
            "ownerReferences": [util::owner_ref(&cj)],
        },
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    });
    let job = api
        .create(
            &rt(api, "batch", "v1", "Job"),
            Some(namespace),
            body,
            &super::opts(),
        )?
        .object;
    let mut status = cj.get("status").cloned().unwrap_or(json!({}));
    status["lastScheduleTime"] = json!(t);
    let mut act = status
        .get("active")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    act.push(json!({"apiVersion": "batch/v1", "kind": "Job", "name": job_name, "namespace": namespace, "uid": job.pointer("/metadata/uid")}));
    status["active"] = json!(act);
    util::set_status(api, &cj_type, &cj, status)?;
    let _ = i(&job, "/metadata/generation");
    Ok(job)
}
