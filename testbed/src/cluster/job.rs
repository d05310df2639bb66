//! The Job controller (https://kubernetes.io/docs/concepts/workloads/controllers/job/): runs up
//! to `parallelism` pods until `completions` succeed (or, with no `completions` and a
//! `parallelism`, until one succeeds and the rest stop: a work queue); fails the Job past
//! `backoffLimit` failed pods (for `restartPolicy: OnFailure`, container restarts) or
//! `activeDeadlineSeconds` (#pod-backoff-failure-policy, #job-termination-and-cleanup);
//! `suspend` deletes the active pods (#suspending-a-job); `ttlSecondsAfterFinished` deletes the
//! finished Job (https://kubernetes.io/docs/concepts/workloads/controllers/ttlafterfinished/).
//!
//! Terminal conditions come as kube-controller-manager 1.33 writes them: `SuccessCriteriaMet`
//! then `Complete` (reason CompletionsReached), `FailureTarget` then `Failed` (reason
//! BackoffLimitExceeded or DeadlineExceeded) (#terminal-job-conditions).
//!
//! Differences: failed pods are replaced at once (kube-controller-manager waits 10 s, 20 s,
//! 40 s, ... between them); the counts come from the pods (never going down) rather than from
//! the `batch.kubernetes.io/job-tracking` finalizer, which the simulation does not add;
//! `completionMode: Indexed` is run as NonIndexed.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{
    ctx::{Ctx, Kind},
    replicaset::{create_pod, pods_to_delete},
    util::{
        condition, format_time, i, i_or, is_deleting, name, parse_time, pod_active, pod_ready, put_nonzero,
        s, uid,
    },
};
use crate::api::ApiError;

/// When the Job finished (`completionTime`, or its `Failed` condition's time), if it did.
pub fn finished_at(job: &Value) -> Option<i64> {
    let st = job.get("status")?;
    let done = |t: &str| condition(st, t).filter(|c| s(c, "/status") == "True");
    if done("Complete").is_some() {
        return parse_time(s(st, "/completionTime")).or(Some(0));
    }
    done("Failed").map(|c| parse_time(s(c, "/lastTransitionTime")).unwrap_or(0))
}

/// Whether the Job completed successfully.
pub fn succeeded(job: &Value) -> bool {
    job.get("status")
        .and_then(|st| condition(st, "Complete"))
        .is_some_and(|c| s(c, "/status") == "True")
}

fn job_condition(type_: &str, status: &str, reason: &str, message: &str, t: &str) -> Value {
    json!({"type": type_, "status": status, "lastProbeTime": t, "lastTransitionTime": t, "reason": reason, "message": message})
}

/// Sets a condition of the Job status, keeping it when its status and reason are the same.
fn ensure_condition(status: &mut Value, c: Value) {
    let type_ = s(&c, "/type").to_owned();
    if condition(status, &type_)
        .is_some_and(|cur| s(cur, "/status") == s(&c, "/status") && s(cur, "/reason") == s(&c, "/reason"))
    {
        return;
    }
    super::util::remove_condition(status, &type_);
    super::util::push_condition(status, c);
}

/// Syncs one Job.
pub fn sync(ctx: &mut Ctx<'_>, ns: &str, job_name: &str) -> Result<(), ApiError> {
    let Some(job) = ctx.snap.get(Kind::Job, ns, job_name) else {
        return Ok(());
    };
    if is_deleting(&job) {
        return Ok(());
    }
    if let Some(at) = finished_at(&job) {
        return expire(ctx, &job, at);
    }
    let t = format_time(ctx.now);
    let pods = ctx.snap.owned(&job, Kind::Pod);
    let active: Vec<Arc<Value>> = pods.iter().filter(|p| pod_active(p)).cloned().collect();
    let phase_count =
        |ph: &str| i64::try_from(pods.iter().filter(|p| s(p, "/status/phase") == ph).count()).unwrap_or(0);
    let succeeded = phase_count("Succeeded").max(i(&job, "/status/succeeded"));
    let mut failed = phase_count("Failed").max(i(&job, "/status/failed"));
    let spec_completions = job.pointer("/spec/completions").and_then(Value::as_i64);
    let spec_parallelism = job.pointer("/spec/parallelism").and_then(Value::as_i64);
    // Defaulting: with neither set, both are 1; with only parallelism, a work queue.
    let completions = match (spec_completions, spec_parallelism) {
        (Some(c), _) => Some(c),
        (None, None) => Some(1),
        (None, Some(_)) => None,
    };
    let parallelism = spec_parallelism.unwrap_or(1).max(0);
    let backoff_limit = i_or(&job, "/spec/backoffLimit", 6);
    let suspended = job.pointer("/spec/suspend") == Some(&json!(true));
    let mut status = job.get("status").cloned().unwrap_or(json!({}));
    if !status.is_object() {
        status = json!({});
    }

    let was_suspended = condition(&status, "Suspended").is_some_and(|c| s(c, "/status") == "True");
    if suspended {
        ensure_condition(
            &mut status,
            job_condition("Suspended", "True", "JobSuspended", "Job suspended", &t),
        );
    } else if was_suspended {
        ensure_condition(
            &mut status,
            job_condition("Suspended", "False", "JobResumed", "Job resumed", &t),
        );
        // A resumed Job's startTime is reset (#suspending-a-job).
        status["startTime"] = json!(t);
    } else if status.get("startTime").is_none_or(Value::is_null) {
        status["startTime"] = json!(t);
    }
    let start = parse_time(s(&status, "/startTime"));
    let restarts: i64 = active
        .iter()
        .flat_map(|p| {
            ["containerStatuses", "initContainerStatuses"]
                .into_iter()
                .filter_map(|k| {
                    p.pointer(&format!("/status/{k}"))
                        .and_then(Value::as_array)
                        .cloned()
                })
                .flatten()
        })
        .map(|c| i(&c, "/restartCount"))
        .sum();
    let past_backoff_on_failure = s(&job, "/spec/template/spec/restartPolicy") == "OnFailure"
        && if backoff_limit == 0 {
            restarts > 0
        } else {
            restarts >= backoff_limit
        };
    let deadline = job.pointer("/spec/activeDeadlineSeconds").and_then(Value::as_i64);
    let past_deadline =
        !suspended && matches!((deadline, start), (Some(d), Some(st)) if ctx.now - st >= d * 1000);
    let failure = if failed > backoff_limit || past_backoff_on_failure {
        Some((
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ))
    } else if past_deadline {
        Some((
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        ))
    } else {
        None
    };
    let complete = match completions {
        Some(c) => succeeded >= c,
        None => succeeded > 0 && active.is_empty(),
    };

    if let Some((reason, message)) = failure {
        // The active pods are terminated and count as failed.
        for p in &active {
            ctx.delete(Kind::Pod, p, None)?;
        }
        failed += i64::try_from(active.len()).unwrap_or(0);
        ensure_condition(
            &mut status,
            job_condition("FailureTarget", "True", reason, message, &t),
        );
        ensure_condition(&mut status, job_condition("Failed", "True", reason, message, &t));
    } else if suspended {
        for p in &active {
            ctx.delete(Kind::Pod, p, None)?;
        }
    } else if complete {
        for p in &active {
            ctx.delete(Kind::Pod, p, None)?;
        }
        let message = "Reached expected number of succeeded pods";
        ensure_condition(
            &mut status,
            job_condition("SuccessCriteriaMet", "True", "CompletionsReached", message, &t),
        );
        ensure_condition(
            &mut status,
            job_condition("Complete", "True", "CompletionsReached", message, &t),
        );
        status["completionTime"] = json!(t);
    } else {
        let running = i64::try_from(active.len()).unwrap_or(0);
        let want = match completions {
            Some(c) => (c - succeeded).min(parallelism).max(0),
            None if succeeded > 0 => running,
            None => parallelism,
        };
        if running < want {
            let template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let labels = json!({
                "batch.kubernetes.io/controller-uid": uid(&job), "batch.kubernetes.io/job-name": name(&job),
                "controller-uid": uid(&job), "job-name": name(&job),
            });
            for _ in running..want {
                create_pod(ctx, &job, &template, &labels, &json!({}), None)?;
            }
        } else if running > want {
            let extra = usize::try_from(running - want).unwrap_or(0);
            for p in pods_to_delete(&active, extra, ctx.now) {
                ctx.delete(Kind::Pod, &p, None)?;
            }
        }
    }

    let active_now: Vec<Arc<Value>> = ctx
        .snap
        .owned(&job, Kind::Pod)
        .into_iter()
        .filter(|p| pod_active(p))
        .collect();
    let mut map: Map<String, Value> = status.as_object().cloned().unwrap_or_default();
    for f in ["active", "succeeded", "failed"] {
        map.remove(f);
    }
    put_nonzero(&mut map, "active", i64::try_from(active_now.len()).unwrap_or(0));
    put_nonzero(&mut map, "succeeded", succeeded);
    put_nonzero(&mut map, "failed", failed);
    map.insert(
        "ready".into(),
        json!(active_now.iter().filter(|p| pod_ready(p)).count()),
    );
    map.insert("terminating".into(), json!(0));
    map.insert("uncountedTerminatedPods".into(), json!({}));
    let status = Value::Object(map);
    if let (Some(d), Some(st), None) = (deadline, start, failure) {
        ctx.requeue(Kind::Job, &job, st + d * 1000);
    }
    let written = ctx.write_status(Kind::Job, &job, status)?;
    if let Some(at) = finished_at(&written) {
        expire(ctx, &written, at)?;
    }
    Ok(())
}

/// `ttlSecondsAfterFinished`: deletes the finished Job (in the foreground, as the TTL
/// controller does) once the time has passed.
fn expire(ctx: &mut Ctx<'_>, job: &Arc<Value>, finished: i64) -> Result<(), ApiError> {
    let Some(ttl) = job
        .pointer("/spec/ttlSecondsAfterFinished")
        .and_then(Value::as_i64)
    else {
        return Ok(());
    };
    let at = finished + ttl * 1000;
    if ctx.now >= at {
        ctx.delete(Kind::Job, job, Some("Foreground"))
    } else {
        ctx.requeue(Kind::Job, job, at);
        Ok(())
    }
}
