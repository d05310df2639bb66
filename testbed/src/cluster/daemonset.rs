//! The DaemonSet controller (https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/):
//! one pod on every node the pod template's nodeSelector, required node affinity and
//! tolerations allow (daemon pods also tolerate the node-condition taints, e.g. a cordon);
//! failed pods are replaced; pods on nodes that no longer qualify are removed (a `NoSchedule`
//! taint added later does not evict, `NoExecute` does). A RollingUpdate replaces pods of an
//! older template node by node, at most `maxUnavailable` nodes (default 1, percentages round up)
//! without an available pod at a time, or with `maxSurge` starts the new pod before removing the
//! old one (https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/). Each template
//! is recorded as a ControllerRevision whose hash labels the pods (`controller-revision-hash`).

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Map, Value, json};

use super::{
    ctx::{Ctx, Kind},
    replicaset::create_pod,
    scheduling::{add_daemon_tolerations, daemon_should_run},
    util::{
        i, i_or, is_deleting, label, name, namespace, owner_ref, pod_available, pod_available_at, pod_ready,
        put_nonzero, s, scaled_value, template_hash,
    },
};
use crate::api::ApiError;

const HASH_LABEL: &str = "controller-revision-hash";

fn terminal(p: &Value) -> bool {
    matches!(s(p, "/status/phase"), "Succeeded" | "Failed")
}

/// `podByCreationTimestampAndPhase`: scheduled first, then oldest.
fn oldest_first(pods: &mut [Arc<Value>]) {
    pods.sort_by(|a, b| {
        s(a, "/spec/nodeName")
            .is_empty()
            .cmp(&s(b, "/spec/nodeName").is_empty())
            .then_with(|| s(a, "/metadata/creationTimestamp").cmp(s(b, "/metadata/creationTimestamp")))
            .then_with(|| name(a).cmp(name(b)))
    });
}

/// The DaemonSet's pods by node (`getNodesToDaemonPods`, leaving out deleted finished pods).
fn pods_by_node(ctx: &Ctx<'_>, ds: &Value) -> BTreeMap<String, Vec<Arc<Value>>> {
    let mut map: BTreeMap<String, Vec<Arc<Value>>> = BTreeMap::new();
    for p in ctx.snap.owned(ds, Kind::Pod) {
        if is_deleting(&p) && terminal(&p) {
            continue;
        }
        map.entry(s(&p, "/spec/nodeName").to_owned()).or_default().push(p);
    }
    map
}

/// Syncs one DaemonSet.
pub fn sync(ctx: &mut Ctx<'_>, ns: &str, ds_name: &str) -> Result<(), ApiError> {
    let Some(ds) = ctx.snap.get(Kind::DaemonSet, ns, ds_name) else {
        return Ok(());
    };
    if is_deleting(&ds) {
        return Ok(());
    }
    let template = ds.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let collision = ds.pointer("/status/collisionCount").and_then(Value::as_i64);
    let hash = template_hash(&template, collision);
    record_history(ctx, &ds, &template, &hash)?;
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    add_daemon_tolerations(&mut spec);
    let nodes = ctx.snap.list(Kind::Node);
    let surge_allowed = rolling(&ds)
        && scaled_value(
            ds.pointer("/spec/updateStrategy/rollingUpdate/maxSurge"),
            "0",
            1,
            true,
        ) > 0;
    let min_ready = i(&ds, "/spec/minReadySeconds");

    // `manage`: `podsShouldBeOnNode` for every node.
    let by_node = pods_by_node(ctx, &ds);
    let mut create_on: Vec<String> = Vec::new();
    let mut delete: Vec<Arc<Value>> = Vec::new();
    for node in &nodes {
        let (should_run, should_continue) = daemon_should_run(&spec, node);
        let on_node = by_node.get(name(node)).cloned().unwrap_or_default();
        if should_run && on_node.is_empty() {
            create_on.push(name(node).to_owned());
        } else if should_continue {
            let mut running: Vec<Arc<Value>> = Vec::new();
            for p in on_node.into_iter().filter(|p| !is_deleting(p)) {
                if terminal(&p) {
                    // A failed (or finished) daemon pod is deleted and made again.
                    delete.push(p);
                } else {
                    running.push(p);
                }
            }
            oldest_first(&mut running);
            if !surge_allowed {
                delete.extend(running.into_iter().skip(1));
            } else if running.is_empty() {
                if should_run {
                    create_on.push(name(node).to_owned());
                }
            } else if running.len() > 1 {
                // Two pods (one per template) only while the new one is not yet available.
                let mut oldest_new = None;
                let mut oldest_old = None;
                for p in running {
                    let slot = if label(&p, HASH_LABEL) == Some(hash.as_str()) {
                        &mut oldest_new
                    } else {
                        &mut oldest_old
                    };
                    if slot.is_none() {
                        *slot = Some(p);
                    } else {
                        delete.push(p);
                    }
                }
                if let (Some(new), Some(old)) = (oldest_new, oldest_old)
                    && (!pod_ready(&old) || pod_available(&new, min_ready, ctx.now))
                {
                    delete.push(old);
                }
            }
        } else {
            delete.extend(on_node.into_iter().filter(|p| !is_deleting(p)));
        }
    }
    // Pods bound to nodes that are gone (the pod garbage collector deletes them).
    for (node, pods) in &by_node {
        if !nodes.iter().any(|n| name(n) == node) {
            delete.extend(pods.iter().filter(|p| !is_deleting(p)).cloned());
        }
    }
    let acted = !create_on.is_empty() || !delete.is_empty();
    for p in delete {
        ctx.delete(Kind::Pod, &p, None)?;
    }
    for node in create_on {
        create_daemon_pod(ctx, &ds, &template, &spec, &node, &hash)?;
    }
    // Like the upstream controller's expectations: a rolling step waits until the pods just
    // created or deleted have been observed.
    if !acted && rolling(&ds) {
        rolling_update(ctx, &ds, &template, &spec, &nodes, &hash)?;
    }
    write_status(ctx, &ds, &spec, &nodes, &hash, min_ready)
}

fn rolling(ds: &Value) -> bool {
    s(ds, "/spec/updateStrategy/type") != "OnDelete"
}

fn create_daemon_pod(
    ctx: &mut Ctx<'_>,
    ds: &Value,
    template: &Value,
    spec: &Value,
    node: &str,
    hash: &str,
) -> Result<Arc<Value>, ApiError> {
    // The pod is pinned to its node with a required node affinity on `metadata.name`
    // (`ReplaceDaemonSetPodNodeNameNodeAffinity`); the double has no scheduler, so the
    // simulation binds it at once.
    let mut spec = spec.clone();
    spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}],
    });
    let mut template = template.clone();
    template["spec"] = spec;
    create_pod(
        ctx,
        ds,
        &template,
        &json!({HASH_LABEL: hash}),
        &json!({}),
        Some(node),
    )
}

/// A node's pod of the current template and pod of an older one.
type NewAndOld = (Option<Arc<Value>>, Option<Arc<Value>>);

/// `findUpdatedPodsOnNode`: the node's new and old pod, or None when it has more than one of
/// either.
fn updated_and_old(pods: &[Arc<Value>], hash: &str) -> Option<NewAndOld> {
    let (mut new, mut old) = (None, None);
    for p in pods.iter().filter(|p| !is_deleting(p)) {
        let slot = if label(p, HASH_LABEL) == Some(hash) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(p.clone());
    }
    Some((new, old))
}

/// `rollingUpdate`.
fn rolling_update(
    ctx: &mut Ctx<'_>,
    ds: &Arc<Value>,
    template: &Value,
    spec: &Value,
    nodes: &[Arc<Value>],
    hash: &str,
) -> Result<(), ApiError> {
    let min_ready = i(ds, "/spec/minReadySeconds");
    let mut by_node = pods_by_node(ctx, ds);
    let mut desired = 0;
    for node in nodes {
        if daemon_should_run(spec, node).0 {
            desired += 1;
            by_node.entry(name(node).to_owned()).or_default();
        }
    }
    let field = |f: &str| ds.pointer(&format!("/spec/updateStrategy/rollingUpdate/{f}"));
    let max_surge = scaled_value(field("maxSurge"), "0", desired, true);
    let mut max_unavailable = scaled_value(field("maxUnavailable"), "1", desired, true);
    if desired > 0 && max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    let now = ctx.now;
    let available = |p: &Value| pod_available(p, min_ready, now);
    if max_surge == 0 {
        let mut unavailable = 0;
        let mut replace: Vec<Arc<Value>> = Vec::new();
        let mut candidates: Vec<Arc<Value>> = Vec::new();
        for pods in by_node.values() {
            match updated_and_old(pods, hash) {
                None | Some((None, None) | (Some(_), Some(_))) => unavailable += 1,
                Some((Some(new), None)) => {
                    if !available(&new) {
                        unavailable += 1;
                    }
                }
                Some((None, Some(old))) => {
                    if !available(&old) {
                        replace.push(old);
                    } else if unavailable < max_unavailable {
                        candidates.push(old);
                    }
                }
            }
        }
        let room = usize::try_from((max_unavailable - unavailable).max(0)).unwrap_or(0);
        candidates.truncate(room);
        for p in replace.into_iter().chain(candidates) {
            ctx.delete(Kind::Pod, &p, None)?;
        }
        return Ok(());
    }
    // With maxSurge: start the new pod next to an available old one, delete the old one when
    // the new one is available.
    let mut surging = 0;
    let mut delete: Vec<Arc<Value>> = Vec::new();
    let mut allowed: Vec<String> = Vec::new();
    let mut candidates: Vec<String> = Vec::new();
    for (node_name, pods) in &by_node {
        let should_run = nodes
            .iter()
            .find(|n| name(n) == node_name)
            .is_some_and(|n| daemon_should_run(spec, n).0);
        match updated_and_old(pods, hash) {
            None => surging += 1,
            Some((_, None)) => {}
            Some((None, Some(old))) => {
                if !should_run {
                    delete.push(old);
                } else if !available(&old) {
                    allowed.push(node_name.clone());
                } else if surging < max_surge {
                    candidates.push(node_name.clone());
                }
            }
            Some((Some(new), Some(old))) => {
                if available(&new) {
                    delete.push(old);
                } else {
                    surging += 1;
                }
            }
        }
    }
    let room = usize::try_from((max_surge - surging).max(0)).unwrap_or(0);
    candidates.truncate(room);
    for p in delete {
        ctx.delete(Kind::Pod, &p, None)?;
    }
    for node in allowed.into_iter().chain(candidates) {
        create_daemon_pod(ctx, ds, template, spec, &node, hash)?;
    }
    Ok(())
}

/// `updateDaemonSetStatus`, counting the oldest pod on each node.
fn write_status(
    ctx: &mut Ctx<'_>,
    ds: &Arc<Value>,
    spec: &Value,
    nodes: &[Arc<Value>],
    hash: &str,
    min_ready: i64,
) -> Result<(), ApiError> {
    let by_node = pods_by_node(ctx, ds);
    let (mut desired, mut current, mut misscheduled, mut ready, mut available, mut updated) =
        (0, 0, 0, 0, 0, 0);
    let mut wake = None;
    for node in nodes {
        let should_run = daemon_should_run(spec, node).0;
        let mut pods = by_node.get(name(node)).cloned().unwrap_or_default();
        if should_run {
            desired += 1;
            if pods.is_empty() {
                continue;
            }
            current += 1;
            oldest_first(&mut pods);
            let pod = &pods[0];
            if pod_ready(pod) {
                ready += 1;
                if pod_available(pod, min_ready, ctx.now) {
                    available += 1;
                } else if let Some(at) = pod_available_at(pod, min_ready) {
                    wake = Some(wake.map_or(at, |w: i64| w.min(at)));
                }
            }
            if label(pod, HASH_LABEL) == Some(hash) {
                updated += 1;
            }
        } else if !pods.is_empty() {
            misscheduled += 1;
        }
    }
    if let Some(at) = wake {
        ctx.requeue(Kind::DaemonSet, ds, at + 1);
    }
    let mut map = Map::new();
    map.insert("currentNumberScheduled".into(), json!(current));
    map.insert("numberMisscheduled".into(), json!(misscheduled));
    map.insert("desiredNumberScheduled".into(), json!(desired));
    map.insert("numberReady".into(), json!(ready));
    put_nonzero(&mut map, "observedGeneration", i(ds, "/metadata/generation"));
    put_nonzero(&mut map, "updatedNumberScheduled", updated);
    put_nonzero(&mut map, "numberAvailable", available);
    put_nonzero(&mut map, "numberUnavailable", desired - available);
    for f in ["collisionCount", "conditions"] {
        if let Some(v) = ds.pointer(&format!("/status/{f}")) {
            map.insert(f.into(), v.clone());
        }
    }
    ctx.write_status(Kind::DaemonSet, ds, Value::Object(map))
        .map(|_| ())
}

/// Records the template as a ControllerRevision (`constructHistory`): a new template gets the
/// next revision; going back to an earlier one gives its revision the next number; revisions
/// beyond `revisionHistoryLimit` that no pod uses are deleted.
fn record_history(ctx: &mut Ctx<'_>, ds: &Arc<Value>, template: &Value, hash: &str) -> Result<(), ApiError> {
    let revisions = ctx.snap.owned(ds, Kind::ControllerRevision);
    let max = revisions.iter().map(|r| i(r, "/revision")).max().unwrap_or(0);
    match revisions.iter().find(|r| label(r, HASH_LABEL) == Some(hash)) {
        Some(cur) if i(cur, "/revision") < max => {
            let mut bumped = (**cur).clone();
            bumped["revision"] = json!(max + 1);
            ctx.update(Kind::ControllerRevision, bumped)?;
        }
        Some(_) => {}
        None => {
            let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
            labels[HASH_LABEL] = json!(hash);
            let mut data_template = template.clone();
            data_template["$patch"] = json!("replace");
            let body = json!({
                "apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": format!("{}-{hash}", name(ds)), "labels": labels, "ownerReferences": [owner_ref(ds)]},
                "data": {"spec": {"template": data_template}},
                "revision": max + 1,
            });
            match ctx.create(Kind::ControllerRevision, namespace(ds), body) {
                Ok(_) | Err(ApiError { code: 409, .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let limit = usize::try_from(i_or(ds, "/spec/revisionHistoryLimit", 10).max(0)).unwrap_or(10);
    let live: Vec<String> = ctx
        .snap
        .owned(ds, Kind::Pod)
        .iter()
        .filter_map(|p| label(p, HASH_LABEL).map(str::to_owned))
        .collect();
    let mut old: Vec<Arc<Value>> = ctx
        .snap
        .owned(ds, Kind::ControllerRevision)
        .into_iter()
        .filter(|r| label(r, HASH_LABEL).is_some_and(|h| h != hash && !live.iter().any(|l| l == h)))
        .collect();
    if old.len() > limit {
        old.sort_by_key(|r| i(r, "/revision"));
        let excess = old.len() - limit;
        for r in old.into_iter().take(excess) {
            ctx.delete(Kind::ControllerRevision, &r, None)?;
        }
    }
    Ok(())
}
