//! The ReplicaSet controller: keeps `spec.replicas` active pods, deleting the least useful
//! pods first when there are too many, and reports counts in status
//! (https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/).

use std::{cmp::Ordering, collections::HashMap, sync::Arc};

use serde_json::{Map, Value, json};

use super::{
    ctx::{Ctx, Kind},
    util::{
        annotation, condition, format_time, i, i_or, is_deleting, parse_time, pod_active, pod_available,
        pod_available_at, pod_ready, push_condition, put_nonzero, remove_condition, s, selector_matches, uid,
    },
};
use crate::api::ApiError;

/// Syncs one ReplicaSet.
pub fn sync(ctx: &mut Ctx<'_>, ns: &str, name: &str) -> Result<(), ApiError> {
    let Some(rs) = ctx.snap.get(Kind::ReplicaSet, ns, name) else {
        return Ok(());
    };
    let desired = usize::try_from(i_or(&rs, "/spec/replicas", 1).max(0)).unwrap_or(0);
    release_unselected(ctx, &rs)?;
    let active: Vec<Arc<Value>> = ctx
        .snap
        .owned(&rs, Kind::Pod)
        .into_iter()
        .filter(|p| pod_active(p))
        .collect();
    let mut failure: Option<(&str, ApiError)> = None;
    // A ReplicaSet being deleted makes no pods (the garbage collector removes them).
    if !is_deleting(&rs) {
        if active.len() < desired {
            let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
            for _ in active.len()..desired {
                if let Err(e) = create_pod(ctx, &rs, &template, &json!({}), &json!({}), None) {
                    failure = Some(("FailedCreate", e));
                    break;
                }
            }
        } else if active.len() > desired {
            for victim in pods_to_delete(&active, active.len() - desired, ctx.now) {
                if let Err(e) = ctx.delete(Kind::Pod, &victim, None) {
                    failure = Some(("FailedDelete", e));
                    break;
                }
            }
        }
    }
    // The status counts the pods as they are after this sync's creations and deletions (the
    // upstream controller counts them on its next sync, a moment later), so a Deployment never
    // scales on counts that are about to change.
    let active: Vec<Arc<Value>> = ctx
        .snap
        .owned(&rs, Kind::Pod)
        .into_iter()
        .filter(|p| pod_active(p))
        .collect();
    let min_ready = i(&rs, "/spec/minReadySeconds");
    let status = calculate_status(&rs, &active, failure.as_ref(), min_ready, ctx.now);
    if let Some(at) = active
        .iter()
        .filter_map(|p| pod_available_at(p, min_ready))
        .filter(|at| *at != i64::MIN && *at >= ctx.now)
        .min()
    {
        ctx.requeue(Kind::ReplicaSet, &rs, at + 1);
    }
    ctx.write_status(Kind::ReplicaSet, &rs, status)?;
    match failure {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// Releases owned pods whose labels no longer match the selector (`ClaimPods`): the owner
/// reference goes, and the ReplicaSet makes a replacement.
fn release_unselected(ctx: &mut Ctx<'_>, rs: &Arc<Value>) -> Result<(), ApiError> {
    let selector = rs.pointer("/spec/selector").cloned().unwrap_or(json!({}));
    for p in ctx.snap.owned(rs, Kind::Pod) {
        let labels = p.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
        if is_deleting(&p) || selector_matches(&selector, &labels) {
            continue;
        }
        let refs: Vec<Value> = p
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter(|r| s(r, "/uid") != uid(rs)).cloned().collect())
            .unwrap_or_default();
        let refs = if refs.is_empty() { Value::Null } else { json!(refs) };
        ctx.merge(Kind::Pod, &p, &json!({"metadata": {"ownerReferences": refs}}))?;
    }
    Ok(())
}

/// `calculateStatus` of the ReplicaSet controller.
fn calculate_status(
    rs: &Value,
    active: &[Arc<Value>],
    failure: Option<&(&str, ApiError)>,
    min_ready: i64,
    now: i64,
) -> Value {
    let template_labels = rs
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let fully_labeled = active
        .iter()
        .filter(|p| {
            template_labels
                .iter()
                .all(|(k, v)| p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
        })
        .count();
    let ready = active.iter().filter(|p| pod_ready(p)).count();
    let available = active.iter().filter(|p| pod_available(p, min_ready, now)).count();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut map = Map::new();
    // `replicas` has no omitempty; the other counts do.
    map.insert("replicas".into(), json!(active.len()));
    put_nonzero(&mut map, "fullyLabeledReplicas", count(fully_labeled));
    put_nonzero(&mut map, "readyReplicas", count(ready));
    put_nonzero(&mut map, "availableReplicas", count(available));
    put_nonzero(&mut map, "observedGeneration", i(rs, "/metadata/generation"));
    let mut status = Value::Object(map);
    if let Some(cs) = rs.pointer("/status/conditions") {
        status["conditions"] = cs.clone();
    }
    let has_failure = rs
        .get("status")
        .and_then(|st| condition(st, "ReplicaFailure"))
        .is_some();
    match failure {
        Some((reason, e)) if !has_failure => push_condition(
            &mut status,
            json!({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": format_time(now), "reason": reason, "message": e.message}),
        ),
        None if has_failure => remove_condition(&mut status, "ReplicaFailure"),
        _ => {}
    }
    status
}

/// Creates a pod from `template` controlled by `owner` (`GetPodFromTemplate`): the template's
/// labels, annotations and finalizers, `generateName` `<owner>-`.
pub fn create_pod(
    ctx: &mut Ctx<'_>,
    owner: &Value,
    template: &Value,
    extra_labels: &Value,
    spec_overrides: &Value,
    node: Option<&str>,
) -> Result<Arc<Value>, ApiError> {
    let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
    if let (Some(l), Some(extra)) = (labels.as_object_mut(), extra_labels.as_object()) {
        l.extend(extra.clone());
    }
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    if let (Some(sp), Some(o)) = (spec.as_object_mut(), spec_overrides.as_object()) {
        sp.extend(o.clone());
    }
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    let mut metadata = json!({
        "generateName": format!("{}-", s(owner, "/metadata/name")),
        "labels": labels,
        "ownerReferences": [super::util::owner_ref(owner)],
    });
    for field in ["annotations", "finalizers"] {
        if let Some(v) = template.pointer(&format!("/metadata/{field}")) {
            metadata[field] = v.clone();
        }
    }
    let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec});
    ctx.create(Kind::Pod, s(owner, "/metadata/namespace"), body)
}

/// Which `n` pods a scale-down deletes, in the order of `controller.ActivePodsWithRanks`
/// (https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#scaling-a-replicaset):
/// unscheduled before scheduled, Pending before Running, not Ready before Ready, lower
/// `controller.kubernetes.io/pod-deletion-cost` first, pods on nodes with more replicas first,
/// more recently Ready first, more restarts first, newer first. (The upstream controller buckets
/// Ready times on a log scale and breaks ties by uid; the simulation compares exact times and
/// names, so its choice is deterministic.)
pub fn pods_to_delete(pods: &[Arc<Value>], n: usize, _now: i64) -> Vec<Arc<Value>> {
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for p in pods {
        *on_node.entry(s(p, "/spec/nodeName")).or_default() += 1;
    }
    let phase = |p: &Value| match s(p, "/status/phase") {
        "" | "Pending" => 0,
        "Unknown" => 1,
        _ => 2,
    };
    let cost = |p: &Value| {
        annotation(p, "controller.kubernetes.io/pod-deletion-cost")
            .and_then(|c| c.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let ready_since = |p: &Value| {
        p.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| s(c, "/type") == "Ready"))
            .and_then(|c| parse_time(s(c, "/lastTransitionTime")))
            .unwrap_or(0)
    };
    let restarts = |p: &Value| {
        p.pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(|c| i(c, "/restartCount")).max().unwrap_or(0))
            .unwrap_or(0)
    };
    let rank = |p: &Value| {
        let node = s(p, "/spec/nodeName");
        if node.is_empty() {
            0
        } else {
            on_node.get(node).copied().unwrap_or(0)
        }
    };
    let mut sorted: Vec<Arc<Value>> = pods.to_vec();
    sorted.sort_by(|a, b| {
        let unassigned = |p: &Value| s(p, "/spec/nodeName").is_empty();
        unassigned(b)
            .cmp(&unassigned(a))
            .then_with(|| phase(a).cmp(&phase(b)))
            .then_with(|| pod_ready(a).cmp(&pod_ready(b)))
            .then_with(|| cost(a).cmp(&cost(b)))
            .then_with(|| rank(b).cmp(&rank(a)))
            .then_with(|| {
                if pod_ready(a) && pod_ready(b) {
                    ready_since(b).cmp(&ready_since(a))
                } else {
                    Ordering::Equal
                }
            })
            .then_with(|| restarts(b).cmp(&restarts(a)))
            .then_with(|| s(b, "/metadata/creationTimestamp").cmp(s(a, "/metadata/creationTimestamp")))
            .then_with(|| uid(a).cmp(uid(b)))
    });
    sorted.truncate(n);
    sorted
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::pods_to_delete;

    #[test]
    fn scale_down_prefers_unready_then_newer_pods() {
        let pod = |n: &str, ready: bool, created: &str| {
            Arc::new(json!({
                "metadata": {"name": n, "uid": n, "creationTimestamp": created},
                "spec": {"nodeName": "node-1"},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": created}]},
            }))
        };
        let pods = vec![
            pod("old-ready", true, "2025-01-01T00:00:00Z"),
            pod("new-ready", true, "2025-01-01T00:01:00Z"),
            pod("unready", false, "2025-01-01T00:00:00Z"),
        ];
        let names = |v: Vec<Arc<serde_json::Value>>| {
            v.iter()
                .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(pods_to_delete(&pods, 2, 0)), ["unready", "new-ready"]);
    }
}
