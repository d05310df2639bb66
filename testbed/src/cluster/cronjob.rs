//! CronJobs (https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/): the test
//! fires the schedule ([`trigger`]); the controller keeps `status.active` and
//! `status.lastSuccessfulTime` in step with the Jobs, and deletes finished Jobs beyond
//! `successfulJobsHistoryLimit` (3) and `failedJobsHistoryLimit` (1) (#jobs-history-limits).

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    ctx::{Ctx, Kind},
    job::{finished_at, succeeded},
    util::{format_time, i_or, is_deleting, name, owner_ref, parse_time, s, uid},
};
use crate::api::ApiError;

/// Syncs one CronJob.
pub fn sync(ctx: &mut Ctx<'_>, ns: &str, cj_name: &str) -> Result<(), ApiError> {
    let Some(cj) = ctx.snap.get(Kind::CronJob, ns, cj_name) else {
        return Ok(());
    };
    if is_deleting(&cj) {
        return Ok(());
    }
    let jobs = ctx.snap.owned(&cj, Kind::Job);
    let mut status = cj.get("status").cloned().unwrap_or(json!({}));
    // A finished or vanished Job leaves `active`.
    let active: Vec<Value> = status
        .get("active")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| {
            jobs.iter()
                .find(|j| uid(j) == s(r, "/uid"))
                .is_some_and(|j| finished_at(j).is_none())
        })
        .collect();
    set_active(&mut status, active);
    // The latest completion of a successful Job.
    let last = parse_time(s(&status, "/lastSuccessfulTime"));
    if let Some((t, text)) = jobs
        .iter()
        .filter(|j| succeeded(j))
        .filter_map(|j| {
            parse_time(s(j, "/status/completionTime")).map(|t| (t, s(j, "/status/completionTime").to_owned()))
        })
        .max()
        && last.is_none_or(|l| t > l)
    {
        status["lastSuccessfulTime"] = json!(text);
    }
    // History limits, oldest first.
    for (want_success, field, default) in [
        (true, "successfulJobsHistoryLimit", 3),
        (false, "failedJobsHistoryLimit", 1),
    ] {
        let limit = usize::try_from(i_or(&cj, &format!("/spec/{field}"), default).max(0)).unwrap_or(0);
        let mut done: Vec<&Arc<Value>> = jobs
            .iter()
            .filter(|j| !is_deleting(j) && finished_at(j).is_some() && succeeded(j) == want_success)
            .collect();
        if done.len() > limit {
            done.sort_by_key(|j| {
                let start = s(j, "/status/startTime");
                let start = if start.is_empty() {
                    s(j, "/metadata/creationTimestamp")
                } else {
                    start
                };
                (start.to_owned(), name(j).to_owned())
            });
            let excess = done.len() - limit;
            for j in done.into_iter().take(excess) {
                ctx.delete(Kind::Job, j, Some("Background"))?;
            }
        }
    }
    ctx.write_status(Kind::CronJob, &cj, status).map(|_| ())
}

fn set_active(status: &mut Value, active: Vec<Value>) {
    if !status.is_object() {
        *status = json!({});
    }
    if active.is_empty() {
        if let Some(o) = status.as_object_mut() {
            o.remove("active");
        }
    } else {
        status["active"] = json!(active);
    }
}

/// Starts a Job as the CronJob controller does when the schedule fires: the time is now on
/// the simulated clock, at the minute (the next minute after `lastScheduleTime` if that one is
/// taken); the Job is named `<cronjob>-<minutes since the epoch>`, gets the jobTemplate's
/// labels, annotations and spec, the `batch.kubernetes.io/cronjob-scheduled-timestamp`
/// annotation and a controller reference; `concurrencyPolicy` Forbid refuses while a Job is
/// active (403) and Replace deletes the active Jobs first; a suspended CronJob refuses (403).
/// The CronJob's `status.active` and `lastScheduleTime` record the run.
pub fn trigger(ctx: &mut Ctx<'_>, namespace: &str, cj_name: &str) -> Result<Value, ApiError> {
    let cj_rt = ctx.rt(Kind::CronJob);
    let job_rt = ctx.rt(Kind::Job);
    let cj = ctx.api.get(&cj_rt, Some(namespace), cj_name, None)?;
    if cj.pointer("/spec/suspend") == Some(&json!(true)) {
        return Err(ApiError::forbidden(format!(
            "cronjobs.batch \"{cj_name}\" is suspended: the CronJob controller starts no Job"
        )));
    }
    let active: Vec<Value> = cj
        .pointer("/status/active")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match s(&cj, "/spec/concurrencyPolicy") {
        "Forbid" if !active.is_empty() => {
            return Err(ApiError::forbidden(format!(
                "cronjobs.batch \"{cj_name}\" has concurrencyPolicy Forbid and Job \"{}\" is still active",
                s(&active[0], "/name")
            )));
        }
        "Replace" => {
            for r in &active {
                if let Ok(j) = ctx.api.get(&job_rt, Some(namespace), s(r, "/name"), None) {
                    ctx.delete(Kind::Job, &j, Some("Background"))?;
                }
            }
        }
        _ => {}
    }
    let mut scheduled = ctx.now - ctx.now.rem_euclid(60_000);
    // The controller schedules only instants after the CronJob was made (its `earliestTime` is
    // the creationTimestamp until a first run): the first minute after it, at the earliest.
    if let Some(created) = parse_time(s(&cj, "/metadata/creationTimestamp"))
        && scheduled <= created
    {
        scheduled = created - created.rem_euclid(60_000) + 60_000;
    }
    if let Some(last) = parse_time(s(&cj, "/status/lastScheduleTime"))
        && last >= scheduled
    {
        scheduled = last + 60_000;
    }
    let scheduled_text = format_time(scheduled);
    let template = cj.pointer("/spec/jobTemplate").cloned().unwrap_or(json!({}));
    let mut annotations = template
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or(json!({}));
    annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = json!(scheduled_text);
    let job_name = format!("{}-{}", name(&cj), scheduled / 60_000);
    let mut metadata = json!({
        "name": job_name,
        "annotations": annotations,
        "ownerReferences": [owner_ref(&cj)],
    });
    if let Some(labels) = template.pointer("/metadata/labels") {
        metadata["labels"] = labels.clone();
    }
    let body = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    });
    let job = ctx.create(Kind::Job, namespace, body)?;
    let reference = json!({
        "apiVersion": "batch/v1", "kind": "Job", "name": job_name, "namespace": namespace,
        "uid": uid(&job), "resourceVersion": s(&job, "/metadata/resourceVersion"),
    });
    // The controller may be writing the status too: retry on conflicts.
    let mut attempts = 0;
    loop {
        let cj = Arc::new(ctx.api.get(&cj_rt, Some(namespace), cj_name, None)?);
        let mut status = cj.get("status").cloned().unwrap_or(json!({}));
        let mut active: Vec<Value> = status
            .get("active")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if s(cj.as_ref(), "/spec/concurrencyPolicy") == "Replace" {
            active.clear();
        }
        active.retain(|r| s(r, "/uid") != uid(&job));
        active.push(reference.clone());
        set_active(&mut status, active);
        status["lastScheduleTime"] = json!(scheduled_text);
        match ctx.write_status(Kind::CronJob, &cj, status) {
            Err(ApiError { code: 409, .. }) if attempts < 10 => attempts += 1,
            Err(e) => return Err(e),
            Ok(_) => return Ok((*job).clone()),
        }
    }
}
