//! The Deployment controller, following kube-controller-manager's (`pkg/controller/deployment`)
//! and https://kubernetes.io/docs/concepts/workloads/controllers/deployment/:
//!
//! - one ReplicaSet per pod template, named `<deployment>-<pod-template-hash>`, whose selector,
//!   template and pods carry the `pod-template-hash` label
//!   (#pod-template-hash-label);
//! - RollingUpdate: the new ReplicaSet grows while the total stays within `replicas + maxSurge`;
//!   old ReplicaSets shrink only while at least `replicas - maxUnavailable` pods stay available;
//!   percentages round up for maxSurge and down for maxUnavailable, and when both resolve to 0
//!   maxUnavailable is 1 (#max-surge, #max-unavailable);
//! - Recreate: old ReplicaSets go to 0 and their pods away before the new one is created or
//!   scaled up (#recreate-deployment);
//! - scaling during a rollout is proportional (#proportional-scaling);
//! - the `deployment.kubernetes.io/revision` annotation counts rollouts; going back to an
//!   earlier template reuses its ReplicaSet and gives it the next revision (#rolling-back-a-deployment);
//! - old ReplicaSets beyond `revisionHistoryLimit` are deleted (#clean-up-policy);
//! - status: counts from the ReplicaSets, `Available` (MinimumReplicasAvailable /
//!   MinimumReplicasUnavailable) and `Progressing` (NewReplicaSetCreated, FoundNewReplicaSet,
//!   ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded, DeploymentPaused,
//!   DeploymentResumed, ReplicaSetCreateError), with `lastUpdateTime` moving only on progress, so a
//!   rollout that makes none for `progressDeadlineSeconds` fails (#deployment-status,
//!   #progress-deadline-seconds, #failed-deployment).
//!
//! One difference: before scaling, the simulated controller waits until every ReplicaSet has
//! observed its latest spec (`status.observedGeneration`), so no step acts on counts that are
//! about to change. kube-controller-manager does not wait, and usually its ReplicaSet controller
//! wins that race anyway.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{
    ctx::{Ctx, Kind},
    util::{
        annotation, condition, controller_ref, format_time, i, i_or, is_deleting, name, namespace, owner_ref,
        parse_time, push_condition, put_nonzero, remove_condition, s, scaled_value, template_hash, uid,
        without_nulls,
    },
};
use crate::api::ApiError;

const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const HASH_LABEL: &str = "pod-template-hash";
/// Deployment annotations never copied to its ReplicaSets.
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
const RS_UPDATED: &str = "ReplicaSetUpdated";
const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
const TIMED_OUT: &str = "ProgressDeadlineExceeded";
const PAUSED: &str = "DeploymentPaused";
const RESUMED: &str = "DeploymentResumed";
const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";

/// The Deployment's spec with the API server's defaults applied (the double does not default).
#[derive(Debug)]
struct Spec {
    replicas: i64,
    recreate: bool,
    /// maxSurge resolved against replicas (rounding up).
    surge: i64,
    /// `MaxSurge(d)`: 0 for Recreate.
    max_surge: i64,
    /// `MaxUnavailable(d)`: 0 for Recreate or no replicas, at most replicas.
    max_unavailable: i64,
    /// None when `progressDeadlineSeconds` is MaxInt32 (no deadline).
    progress_deadline: Option<i64>,
    min_ready: i64,
    /// None when MaxInt32.
    history_limit: Option<i64>,
    paused: bool,
}

impl Spec {
    fn of(d: &Value) -> Self {
        let replicas = i_or(d, "/spec/replicas", 1).max(0);
        let recreate = s(d, "/spec/strategy/type") == "Recreate";
        let field = |f: &str| d.pointer(&format!("/spec/strategy/rollingUpdate/{f}"));
        // `ResolveFenceposts`.
        let surge = scaled_value(field("maxSurge"), "25%", replicas, true);
        let mut unavailable = scaled_value(field("maxUnavailable"), "25%", replicas, false);
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        let max_int32 = i64::from(i32::MAX);
        Self {
            replicas,
            recreate,
            surge,
            max_surge: if recreate { 0 } else { surge },
            max_unavailable: if recreate || replicas == 0 {
                0
            } else {
                unavailable.min(replicas)
            },
            progress_deadline: Some(i_or(d, "/spec/progressDeadlineSeconds", 600))
                .filter(|v| *v != max_int32),
            min_ready: i(d, "/spec/minReadySeconds"),
            history_limit: Some(i_or(d, "/spec/revisionHistoryLimit", 10)).filter(|v| *v != max_int32),
            paused: d.pointer("/spec/paused") == Some(&json!(true)),
        }
    }
}

fn rs_spec(rs: &Value) -> i64 {
    i_or(rs, "/spec/replicas", 1)
}

fn rs_available(rs: &Value) -> i64 {
    i(rs, "/status/availableReplicas")
}

fn revision(rs: &Value) -> i64 {
    annotation(rs, REVISION).and_then(|r| r.parse().ok()).unwrap_or(0)
}

fn creation(rs: &Value) -> (String, String) {
    (
        s(rs, "/metadata/creationTimestamp").to_owned(),
        name(rs).to_owned(),
    )
}

/// Whether two pod templates are equal but for the `pod-template-hash` label
/// (`EqualIgnoreHash`).
fn equal_ignore_hash(a: &Value, b: &Value) -> bool {
    fn strip(t: &Value) -> Value {
        let mut t = without_nulls(t);
        if let Some(meta) = t.get_mut("metadata").and_then(Value::as_object_mut) {
            if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut) {
                labels.remove(HASH_LABEL);
                if labels.is_empty() {
                    meta.remove("labels");
                }
            }
            if meta.is_empty()
                && let Some(o) = t.as_object_mut()
            {
                o.remove("metadata");
            }
        }
        t
    }
    strip(a) == strip(b)
}

/// Syncs one Deployment.
pub fn sync(ctx: &mut Ctx<'_>, ns: &str, name: &str) -> Result<(), ApiError> {
    let Some(d) = ctx.snap.get(Kind::Deployment, ns, name) else {
        return Ok(());
    };
    let selector_empty = d
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .is_none_or(|sel| {
            sel.values()
                .all(|v| v.as_object().is_some_and(Map::is_empty) || v.as_array().is_some_and(Vec::is_empty))
        });
    if selector_empty {
        // "This deployment will select all pods": kube-controller-manager does nothing but
        // record that it saw the generation.
        let mut status = d.get("status").cloned().unwrap_or(json!({}));
        if i(&d, "/status/observedGeneration") < i(&d, "/metadata/generation") {
            status["observedGeneration"] = json!(i(&d, "/metadata/generation"));
        }
        return ctx.write_status(Kind::Deployment, &d, status).map(|_| ());
    }
    let rs: Vec<Arc<Value>> = ctx.snap.owned(&d, Kind::ReplicaSet);
    let mut sync = Sync {
        spec: Spec::of(&d),
        status: d.get("status").cloned().unwrap_or(json!({})),
        revision: None,
        rs,
        d,
        ctx,
    };
    let result = sync.run();
    // Persist what was learned even when a step failed (collisionCount, a failed condition).
    let written = sync.finish();
    result.and(written)
}

/// The state of one Deployment sync: the Deployment as read, its status being built, the
/// revision to record, and its ReplicaSets (kept current as they are written).
struct Sync<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    d: Arc<Value>,
    spec: Spec,
    status: Value,
    revision: Option<String>,
    rs: Vec<Arc<Value>>,
}

impl Sync<'_, '_> {
    fn run(&mut self) -> Result<(), ApiError> {
        if is_deleting(&self.d) {
            // `syncStatusOnly`.
            let (new, old) = self.get_all_replica_sets(false)?;
            self.sync_deployment_status(&old, new);
            return Ok(());
        }
        self.check_paused_conditions();
        if self.spec.paused {
            return self.sync_scale();
        }
        if self.is_scaling_event()? {
            return self.sync_scale();
        }
        if self.spec.recreate {
            self.rollout_recreate()
        } else {
            self.rollout_rolling()
        }
    }

    /// Records the revision on the Deployment and writes its status, each only if changed.
    fn finish(&mut self) -> Result<(), ApiError> {
        let mut d = self.d.clone();
        if let Some(rev) = self.revision.clone()
            && annotation(&d, REVISION) != Some(rev.as_str())
        {
            // kube-controller-manager sends it with the status update (the Deployment status
            // strategy keeps annotations); the double's status subresource keeps only status.
            d = self.ctx.merge(
                Kind::Deployment,
                &d,
                &json!({"metadata": {"annotations": {REVISION: rev}}}),
            )?;
        }
        let status = std::mem::take(&mut self.status);
        self.ctx.write_status(Kind::Deployment, &d, status).map(|_| ())
    }

    fn has_deadline(&self) -> bool {
        self.spec.progress_deadline.is_some()
    }

    fn now(&self) -> String {
        format_time(self.ctx.now)
    }

    fn new_condition(&self, type_: &str, status: &str, reason: &str, message: String) -> Value {
        let t = self.now();
        json!({"type": type_, "status": status, "lastUpdateTime": t, "lastTransitionTime": t, "reason": reason, "message": message})
    }

    /// The ReplicaSet that names the Deployment in a condition message.
    fn subject(&self, new: Option<usize>) -> String {
        match new {
            Some(n) => format!("ReplicaSet \"{}\"", name(&self.rs[n])),
            None => format!("Deployment \"{}\"", name(&self.d)),
        }
    }

    /// Every ReplicaSet with spec.replicas > 0 among `idx`.
    fn active(&self, idx: &[usize]) -> Vec<usize> {
        idx.iter()
            .copied()
            .filter(|&k| rs_spec(&self.rs[k]) > 0)
            .collect()
    }

    fn sum(&self, idx: &[usize], f: impl Fn(&Value) -> i64) -> i64 {
        idx.iter().map(|&k| f(&self.rs[k])).sum()
    }

    fn sort_by_creation(&self, idx: &mut [usize]) {
        idx.sort_by_key(|&k| creation(&self.rs[k]));
    }

    /// Whether some ReplicaSet has not yet observed its latest spec.
    fn waiting_for_replica_sets(&self) -> bool {
        self.rs
            .iter()
            .any(|r| !is_deleting(r) && i(r, "/metadata/generation") > i(r, "/status/observedGeneration"))
    }

    /// `FindNewReplicaSet`: the oldest ReplicaSet whose template is the Deployment's.
    fn find_new(&self) -> Option<usize> {
        let template = self.d.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let mut idx: Vec<usize> = (0..self.rs.len()).collect();
        self.sort_by_creation(&mut idx);
        idx.into_iter().find(|&k| {
            equal_ignore_hash(
                self.rs[k].pointer("/spec/template").unwrap_or(&Value::Null),
                &template,
            )
        })
    }

    /// `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet (created when asked and missing)
    /// and all old ones; syncs the new one's annotations and the Deployment's revision.
    fn get_all_replica_sets(&mut self, create: bool) -> Result<(Option<usize>, Vec<usize>), ApiError> {
        let existing = self.find_new();
        let old: Vec<usize> = (0..self.rs.len()).filter(|k| Some(*k) != existing).collect();
        let new_revision = old.iter().map(|&k| revision(&self.rs[k])).max().unwrap_or(0) + 1;
        if let Some(n) = existing {
            let mut rs = (*self.rs[n]).clone();
            let annotations_changed = self.set_new_rs_annotations(&mut rs, new_revision, true);
            let min_ready_changed = i(&rs, "/spec/minReadySeconds") != self.spec.min_ready;
            if annotations_changed || min_ready_changed {
                set_min_ready(&mut rs, self.spec.min_ready);
                self.rs[n] = self.ctx.update(Kind::ReplicaSet, rs)?;
            }
            self.revision = annotation(&self.rs[n], REVISION).map(str::to_owned);
            if self.has_deadline() && condition(&self.status, "Progressing").is_none() {
                let msg = format!("Found new replica set \"{}\"", name(&self.rs[n]));
                let c = self.new_condition("Progressing", "True", FOUND_NEW_RS, msg);
                set_condition(&mut self.status, c);
            }
            return Ok((Some(n), old));
        }
        if !create {
            return Ok((None, old));
        }
        self.create_new_replica_set(&old, new_revision)
            .map(|n| (Some(n), old))
    }

    fn create_new_replica_set(&mut self, old: &[usize], new_revision: i64) -> Result<usize, ApiError> {
        let d = self.d.clone();
        let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let collision = self.status.get("collisionCount").and_then(Value::as_i64);
        let hash = template_hash(&template, collision);
        let mut rs_template = template.clone();
        rs_template["metadata"]["labels"][HASH_LABEL] = json!(hash);
        let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
        selector["matchLabels"][HASH_LABEL] = json!(hash);
        let rs_name = format!("{}-{hash}", name(&d));
        let replicas = self.new_rs_new_replicas(old, 0);
        let mut rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "labels": rs_template["metadata"]["labels"],
                "ownerReferences": [owner_ref(&d)],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": rs_template},
        });
        set_min_ready(&mut rs, self.spec.min_ready);
        self.set_new_rs_annotations(&mut rs, new_revision, false);
        let ns = namespace(&d).to_owned();
        let (idx, already_existed) = match self.ctx.create(Kind::ReplicaSet, &ns, rs) {
            Ok(created) => {
                self.rs.push(created);
                (self.rs.len() - 1, false)
            }
            Err(e) if e.reason == "AlreadyExists" => {
                let rt = self.ctx.rt(Kind::ReplicaSet);
                let found = self.ctx.api.get(&rt, Some(&ns), &rs_name, None)?;
                let ours = controller_ref(&found).is_some_and(|r| s(r, "/uid") == uid(&d))
                    && equal_ignore_hash(found.pointer("/spec/template").unwrap_or(&Value::Null), &template);
                if !ours {
                    // A hash collision: `collisionCount` changes the next hash.
                    self.status["collisionCount"] = json!(collision.unwrap_or(0) + 1);
                    return Err(e);
                }
                let found = Arc::new(found);
                self.ctx.snap.put(Kind::ReplicaSet, found.clone());
                self.rs.push(found);
                (self.rs.len() - 1, true)
            }
            Err(e) => {
                if self.has_deadline() {
                    let msg = format!("Failed to create new replica set \"{rs_name}\": {}", e.message);
                    let c = self.new_condition("Progressing", "False", FAILED_RS_CREATE, msg);
                    set_condition(&mut self.status, c);
                }
                return Err(e);
            }
        };
        self.revision = Some(new_revision.to_string());
        if !already_existed && self.has_deadline() {
            let msg = format!("Created new replica set \"{}\"", name(&self.rs[idx]));
            let c = self.new_condition("Progressing", "True", NEW_RS_CREATED, msg);
            set_condition(&mut self.status, c);
        }
        Ok(idx)
    }

    /// `SetNewReplicaSetAnnotations`: copies the Deployment's annotations, raises the revision
    /// (keeping the earlier ones in `revision-history` on a rollback), and on creation sets the
    /// replica annotations. Returns whether anything changed.
    fn set_new_rs_annotations(&self, rs: &mut Value, new_revision: i64, exists: bool) -> bool {
        let mut changed = false;
        if !rs["metadata"]["annotations"].is_object() {
            rs["metadata"]["annotations"] = json!({});
        }
        let d_annotations = self
            .d
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let ann = rs["metadata"]["annotations"].as_object_mut().expect("an object");
        for (k, v) in d_annotations {
            if NOT_COPIED.contains(&k.as_str()) || ann.get(&k) == Some(&v) {
                continue;
            }
            ann.insert(k, v);
            changed = true;
        }
        let old = ann.get(REVISION).and_then(Value::as_str).map(str::to_owned);
        let old_revision = match &old {
            None => 0,
            Some(r) => match r.parse::<i64>() {
                Ok(n) => n,
                Err(_) => return false,
            },
        };
        if old_revision < new_revision {
            ann.insert(REVISION.into(), json!(new_revision.to_string()));
            changed = true;
            if let Some(old) = old {
                let history = match ann.get(REVISION_HISTORY).and_then(Value::as_str) {
                    Some(h) if !h.is_empty() => format!("{h},{old}"),
                    _ => old,
                };
                ann.insert(REVISION_HISTORY.into(), json!(history));
            }
        }
        if !exists {
            changed |= self.set_replicas_annotations(rs);
        }
        changed
    }

    /// Sets `desired-replicas` and `max-replicas`; returns whether they changed.
    fn set_replicas_annotations(&self, rs: &mut Value) -> bool {
        let desired = self.spec.replicas.to_string();
        let max = (self.spec.replicas + self.spec.max_surge).to_string();
        if annotation(rs, DESIRED_REPLICAS) == Some(desired.as_str())
            && annotation(rs, MAX_REPLICAS) == Some(max.as_str())
        {
            return false;
        }
        if !rs["metadata"]["annotations"].is_object() {
            rs["metadata"]["annotations"] = json!({});
        }
        rs["metadata"]["annotations"][DESIRED_REPLICAS] = json!(desired);
        rs["metadata"]["annotations"][MAX_REPLICAS] = json!(max);
        true
    }

    /// `scaleReplicaSet`: sets the size and replica annotations; returns whether the size
    /// changed.
    fn scale_rs(&mut self, k: usize, size: i64) -> Result<bool, ApiError> {
        let mut rs = (*self.rs[k]).clone();
        let size_changed = rs_spec(&rs) != size;
        let annotations_changed = self.set_replicas_annotations(&mut rs);
        if size_changed || annotations_changed {
            rs["spec"]["replicas"] = json!(size);
            self.rs[k] = self.ctx.update(Kind::ReplicaSet, rs)?;
        }
        Ok(size_changed)
    }

    /// `scaleReplicaSetAndRecordEvent`: scales only if the size differs.
    fn scale_if_needed(&mut self, k: usize, size: i64) -> Result<bool, ApiError> {
        if rs_spec(&self.rs[k]) == size {
            return Ok(false);
        }
        self.scale_rs(k, size)
    }

    /// `NewRSNewReplicas`: how big the new ReplicaSet may be now.
    fn new_rs_new_replicas(&self, others: &[usize], new_size: i64) -> i64 {
        if self.spec.recreate {
            return self.spec.replicas;
        }
        let current = self.sum(others, rs_spec) + new_size;
        let max_total = self.spec.replicas + self.spec.surge;
        if current >= max_total {
            return new_size;
        }
        new_size + (max_total - current).min(self.spec.replicas - new_size).max(0)
    }

    fn rollout_rolling(&mut self) -> Result<(), ApiError> {
        let (new, old) = self.get_all_replica_sets(true)?;
        let new = new.expect("the new ReplicaSet exists after getAllReplicaSets(create)");
        let mut all = old.clone();
        all.push(new);
        if self.waiting_for_replica_sets() {
            self.sync_rollout_status(&all, Some(new));
            return Ok(());
        }
        if self.reconcile_new_replica_set(&old, new)? {
            self.sync_rollout_status(&all, Some(new));
            return Ok(());
        }
        let active_old = self.active(&old);
        if self.reconcile_old_replica_sets(&all, active_old, new)? {
            self.sync_rollout_status(&all, Some(new));
            return Ok(());
        }
        if self.complete_before_sync() {
            self.cleanup(&old)?;
        }
        self.sync_rollout_status(&all, Some(new));
        Ok(())
    }

    fn reconcile_new_replica_set(&mut self, old: &[usize], new: usize) -> Result<bool, ApiError> {
        let size = rs_spec(&self.rs[new]);
        if size == self.spec.replicas {
            return Ok(false);
        }
        if size > self.spec.replicas {
            return self.scale_if_needed(new, self.spec.replicas);
        }
        let target = self.new_rs_new_replicas(old, size);
        self.scale_if_needed(new, target)
    }

    /// `reconcileOldReplicaSets`: scales old ReplicaSets down as far as availability allows,
    /// unhealthy replicas first.
    fn reconcile_old_replica_sets(
        &mut self,
        all: &[usize],
        mut old: Vec<usize>,
        new: usize,
    ) -> Result<bool, ApiError> {
        if self.sum(&old, rs_spec) == 0 {
            return Ok(false);
        }
        let all_pods = self.sum(all, rs_spec);
        let min_available = self.spec.replicas - self.spec.max_unavailable;
        let new_unavailable = rs_spec(&self.rs[new]) - rs_available(&self.rs[new]);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        self.sort_by_creation(&mut old);
        // `cleanupUnhealthyReplicas`.
        let mut cleaned = 0;
        for &k in &old {
            if cleaned >= max_scaled_down {
                break;
            }
            let (size, available) = (rs_spec(&self.rs[k]), rs_available(&self.rs[k]));
            if size == 0 || size == available {
                continue;
            }
            let n = (max_scaled_down - cleaned).min(size - available);
            self.scale_if_needed(k, size - n)?;
            cleaned += n;
        }
        // `scaleDownOldReplicaSetsForRollingUpdate`.
        let mut with_new = old.clone();
        with_new.push(new);
        let available = self.sum(&with_new, rs_available);
        let mut scaled = 0;
        if available > min_available {
            let total = available - min_available;
            for &k in &old {
                if scaled >= total {
                    break;
                }
                let size = rs_spec(&self.rs[k]);
                if size == 0 {
                    continue;
                }
                let n = size.min(total - scaled);
                self.scale_if_needed(k, size - n)?;
                scaled += n;
            }
        }
        Ok(cleaned + scaled > 0)
    }

    fn rollout_recreate(&mut self) -> Result<(), ApiError> {
        let (mut new, mut old) = self.get_all_replica_sets(false)?;
        let mut all = old.clone();
        all.extend(new);
        if self.waiting_for_replica_sets() {
            self.sync_rollout_status(&all, new);
            return Ok(());
        }
        let mut scaled_down = false;
        for k in self.active(&old) {
            scaled_down |= self.scale_if_needed(k, 0)?;
        }
        if scaled_down || self.old_pods_running(new, &old) {
            self.sync_rollout_status(&all, new);
            return Ok(());
        }
        if new.is_none() {
            (new, old) = self.get_all_replica_sets(true)?;
            all = old.clone();
            all.extend(new);
        }
        if let Some(n) = new {
            self.scale_if_needed(n, self.spec.replicas)?;
        }
        if self.complete_before_sync() {
            self.cleanup(&old)?;
        }
        self.sync_rollout_status(&all, new);
        Ok(())
    }

    /// Whether pods of old ReplicaSets still run (Recreate waits for them to be gone).
    fn old_pods_running(&self, new: Option<usize>, old: &[usize]) -> bool {
        if self.sum(old, |r| i(r, "/status/replicas")) > 0 {
            return true;
        }
        self.rs.iter().enumerate().any(|(k, rs)| {
            Some(k) != new
                && self
                    .ctx
                    .snap
                    .owned(rs, Kind::Pod)
                    .iter()
                    .any(|p| !matches!(s(p, "/status/phase"), "Succeeded" | "Failed"))
        })
    }

    /// `isScalingEvent`: a ReplicaSet's `desired-replicas` annotation differs from
    /// spec.replicas.
    fn is_scaling_event(&mut self) -> Result<bool, ApiError> {
        let (new, old) = self.get_all_replica_sets(false)?;
        let mut all = old;
        all.extend(new);
        Ok(self.active(&all).into_iter().any(|k| {
            annotation(&self.rs[k], DESIRED_REPLICAS)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|desired| desired != self.spec.replicas)
        }))
    }

    /// `sync`: scaling (also of a paused Deployment), then the status.
    fn sync_scale(&mut self) -> Result<(), ApiError> {
        let (new, old) = self.get_all_replica_sets(false)?;
        if !self.waiting_for_replica_sets() {
            self.scale(new, &old)?;
            if self.spec.paused {
                self.cleanup(&old)?;
            }
        }
        self.sync_deployment_status(&old, new);
        Ok(())
    }

    /// `scale`: a single active ReplicaSet takes the new size; a saturated new ReplicaSet
    /// makes the old ones go to 0; otherwise the change is spread proportionally.
    fn scale(&mut self, new: Option<usize>, old: &[usize]) -> Result<(), ApiError> {
        if let Some(k) = self.active_or_latest(new, old) {
            self.scale_if_needed(k, self.spec.replicas)?;
            return Ok(());
        }
        if let Some(n) = new
            && self.is_saturated(n)
        {
            for k in self.active(old) {
                self.scale_if_needed(k, 0)?;
            }
            return Ok(());
        }
        if self.spec.recreate {
            return Ok(());
        }
        let mut all = old.to_vec();
        all.extend(new);
        let mut all = self.active(&all);
        let current = self.sum(&all, rs_spec);
        let allowed = if self.spec.replicas > 0 {
            self.spec.replicas + self.spec.max_surge
        } else {
            0
        };
        let to_add = allowed - current;
        if to_add > 0 {
            // `ReplicaSetsBySizeNewer`.
            all.sort_by(|&a, &b| {
                rs_spec(&self.rs[b])
                    .cmp(&rs_spec(&self.rs[a]))
                    .then_with(|| creation(&self.rs[b]).cmp(&creation(&self.rs[a])))
            });
        } else if to_add < 0 {
            // `ReplicaSetsBySizeOlder`.
            all.sort_by(|&a, &b| {
                rs_spec(&self.rs[b])
                    .cmp(&rs_spec(&self.rs[a]))
                    .then_with(|| creation(&self.rs[a]).cmp(&creation(&self.rs[b])))
            });
        }
        let mut added = 0;
        let mut sizes = Vec::with_capacity(all.len());
        for &k in &all {
            let size = rs_spec(&self.rs[k]);
            if to_add == 0 {
                sizes.push(size);
            } else {
                let p = self.proportion(k, to_add, added);
                sizes.push(size + p);
                added += p;
            }
        }
        for (pos, &k) in all.iter().enumerate() {
            if pos == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_rs(k, sizes[pos])?;
        }
        Ok(())
    }

    /// `FindActiveOrLatest`.
    fn active_or_latest(&self, new: Option<usize>, old: &[usize]) -> Option<usize> {
        if new.is_none() && old.is_empty() {
            return None;
        }
        let mut newest_first = old.to_vec();
        newest_first.sort_by_key(|&k| std::cmp::Reverse(creation(&self.rs[k])));
        let mut all = newest_first.clone();
        all.extend(new);
        let active = self.active(&all);
        match active.len() {
            0 => new.or_else(|| newest_first.first().copied()),
            1 => Some(active[0]),
            _ => None,
        }
    }

    /// `IsSaturated`.
    fn is_saturated(&self, k: usize) -> bool {
        let rs = &self.rs[k];
        let desired = annotation(rs, DESIRED_REPLICAS).and_then(|v| v.parse::<i64>().ok());
        rs_spec(rs) == self.spec.replicas
            && desired == Some(self.spec.replicas)
            && rs_available(rs) == self.spec.replicas
    }

    /// `GetProportion`.
    fn proportion(&self, k: usize, to_add: i64, added: i64) -> i64 {
        let size = rs_spec(&self.rs[k]);
        if size == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = self.fraction(k);
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    /// `getReplicaSetFraction`: the ReplicaSet's share of the new maximum, from the maximum
    /// it was sized for (`max-replicas`).
    fn fraction(&self, k: usize) -> i64 {
        let rs = &self.rs[k];
        let size = rs_spec(rs);
        if self.spec.replicas == 0 {
            return -size;
        }
        let max = self.spec.replicas + self.spec.max_surge;
        let before = annotation(rs, MAX_REPLICAS)
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|v| *v != 0)
            .unwrap_or_else(|| i(&self.d, "/status/replicas"));
        if before == 0 {
            return 0;
        }
        // Rounded half away from zero, as `integer.RoundToInt32`.
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let target = ((size * max) as f64 / before as f64).round() as i64;
        target - size
    }

    /// `cleanupDeployment`: deletes the oldest unused ReplicaSets beyond
    /// `revisionHistoryLimit`.
    fn cleanup(&mut self, old: &[usize]) -> Result<(), ApiError> {
        let Some(limit) = self.spec.history_limit else {
            return Ok(());
        };
        let mut cleanable: Vec<usize> = old
            .iter()
            .copied()
            .filter(|&k| !is_deleting(&self.rs[k]))
            .collect();
        let diff = i64::try_from(cleanable.len()).unwrap_or(0) - limit;
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by_key(|&k| (revision(&self.rs[k]), creation(&self.rs[k])));
        for &k in cleanable.iter().take(usize::try_from(diff).unwrap_or(0)) {
            let rs = self.rs[k].clone();
            if i(&rs, "/status/replicas") != 0
                || rs_spec(&rs) != 0
                || i(&rs, "/metadata/generation") > i(&rs, "/status/observedGeneration")
            {
                continue;
            }
            self.ctx.delete(Kind::ReplicaSet, &rs, None)?;
        }
        Ok(())
    }

    /// `DeploymentComplete` on the status as read.
    fn complete_before_sync(&self) -> bool {
        let st = self.d.get("status").cloned().unwrap_or(json!({}));
        self.complete(&st)
    }

    /// `DeploymentComplete`.
    fn complete(&self, st: &Value) -> bool {
        let r = self.spec.replicas;
        i(st, "/updatedReplicas") == r
            && i(st, "/replicas") == r
            && i(st, "/availableReplicas") == r
            && i(st, "/observedGeneration") >= i(&self.d, "/metadata/generation")
    }

    /// `DeploymentProgressing`: more updated, ready or available replicas, or fewer old ones,
    /// than the status as read.
    fn progressing(&self, st: &Value) -> bool {
        let before = self.d.get("status").cloned().unwrap_or(json!({}));
        let old_before = i(&before, "/replicas") - i(&before, "/updatedReplicas");
        let old_now = i(st, "/replicas") - i(st, "/updatedReplicas");
        i(st, "/updatedReplicas") > i(&before, "/updatedReplicas")
            || old_now < old_before
            || i(st, "/readyReplicas") > i(&before, "/readyReplicas")
            || i(st, "/availableReplicas") > i(&before, "/availableReplicas")
    }

    /// `DeploymentTimedOut`.
    fn timed_out(&self, st: &Value) -> bool {
        let (Some(deadline), Some(c)) = (self.spec.progress_deadline, condition(st, "Progressing")) else {
            return false;
        };
        match s(c, "/reason") {
            NEW_RS_AVAILABLE => false,
            TIMED_OUT => true,
            _ => {
                parse_time(s(c, "/lastUpdateTime")).is_some_and(|from| from + deadline * 1000 < self.ctx.now)
            }
        }
    }

    /// `calculateStatus`.
    fn calculate_status(&self, all: &[usize], new: Option<usize>) -> Value {
        let available = self.sum(all, rs_available);
        let total = self.sum(all, rs_spec);
        let mut map = Map::new();
        put_nonzero(&mut map, "observedGeneration", i(&self.d, "/metadata/generation"));
        put_nonzero(&mut map, "replicas", self.sum(all, |r| i(r, "/status/replicas")));
        put_nonzero(
            &mut map,
            "updatedReplicas",
            new.map_or(0, |n| i(&self.rs[n], "/status/replicas")),
        );
        put_nonzero(
            &mut map,
            "readyReplicas",
            self.sum(all, |r| i(r, "/status/readyReplicas")),
        );
        put_nonzero(&mut map, "availableReplicas", available);
        put_nonzero(&mut map, "unavailableReplicas", (total - available).max(0));
        let mut status = Value::Object(map);
        for f in ["collisionCount", "conditions"] {
            if let Some(v) = self.status.get(f) {
                status[f] = v.clone();
            }
        }
        let c = if available >= self.spec.replicas - self.spec.max_unavailable {
            self.new_condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
            )
        } else {
            self.new_condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            )
        };
        set_condition(&mut status, c);
        status
    }

    /// `syncDeploymentStatus`.
    fn sync_deployment_status(&mut self, old: &[usize], new: Option<usize>) {
        let mut all = old.to_vec();
        all.extend(new);
        self.status = self.calculate_status(&all, new);
    }

    /// `syncRolloutStatus`: the status with the Progressing condition estimated.
    fn sync_rollout_status(&mut self, all: &[usize], new: Option<usize>) {
        let mut st = self.calculate_status(all, new);
        if !self.has_deadline() {
            remove_condition(&mut st, "Progressing");
        }
        let current = condition(&self.status, "Progressing").cloned();
        let complete_deployment = i(&st, "/replicas") == i(&st, "/updatedReplicas")
            && current
                .as_ref()
                .is_some_and(|c| s(c, "/reason") == NEW_RS_AVAILABLE);
        if self.has_deadline() && !complete_deployment {
            let subject = self.subject(new);
            if self.complete(&st) {
                let msg = format!("{subject} has successfully progressed.");
                let c = self.new_condition("Progressing", "True", NEW_RS_AVAILABLE, msg);
                set_condition(&mut st, c);
            } else if self.progressing(&st) {
                // Progress moves lastUpdateTime even when the reason stays the same.
                let mut c = self.new_condition(
                    "Progressing",
                    "True",
                    RS_UPDATED,
                    format!("{subject} is progressing."),
                );
                if let Some(cur) = &current {
                    if s(cur, "/status") == "True" {
                        c["lastTransitionTime"] = cur["lastTransitionTime"].clone();
                    }
                    remove_condition(&mut st, "Progressing");
                }
                set_condition(&mut st, c);
            } else if self.timed_out(&st) {
                let msg = format!("{subject} has timed out progressing.");
                let c = self.new_condition("Progressing", "False", TIMED_OUT, msg);
                set_condition(&mut st, c);
            }
        }
        // `getReplicaFailures`: the new ReplicaSet's, else any.
        let failure = new.into_iter().chain(all.iter().copied()).find_map(|k| {
            self.rs[k]
                .get("status")
                .and_then(|rs| condition(rs, "ReplicaFailure"))
                .cloned()
        });
        match failure {
            Some(f) => {
                let c = json!({
                    "type": "ReplicaFailure", "status": f["status"], "reason": f["reason"], "message": f["message"],
                    "lastUpdateTime": f["lastTransitionTime"], "lastTransitionTime": f["lastTransitionTime"],
                });
                set_condition(&mut st, c);
            }
            None => remove_condition(&mut st, "ReplicaFailure"),
        }
        self.status = st;
        self.requeue_stuck();
    }

    /// `requeueStuckDeployment`: a rollout without progress is looked at again when its
    /// deadline passes.
    fn requeue_stuck(&mut self) {
        let Some(deadline) = self.spec.progress_deadline else {
            return;
        };
        let Some(c) = condition(&self.status, "Progressing") else {
            return;
        };
        if self.complete(&self.status) || s(c, "/reason") == TIMED_OUT {
            return;
        }
        if let Some(from) = parse_time(s(c, "/lastUpdateTime")) {
            // A second more, as upstream, so the check runs after the deadline.
            let at = (from + deadline * 1000 + 1000).max(self.ctx.now);
            let d = self.d.clone();
            self.ctx.requeue(Kind::Deployment, &d, at);
        }
    }

    /// `checkPausedConditions`.
    fn check_paused_conditions(&mut self) {
        if !self.has_deadline() {
            return;
        }
        let reason = condition(&self.status, "Progressing").map(|c| s(c, "/reason").to_owned());
        if reason.as_deref() == Some(TIMED_OUT) {
            return;
        }
        let paused_exists = reason.as_deref() == Some(PAUSED);
        if self.spec.paused && !paused_exists {
            let c = self.new_condition("Progressing", "Unknown", PAUSED, "Deployment is paused".into());
            set_condition(&mut self.status, c);
        } else if !self.spec.paused && paused_exists {
            let c = self.new_condition("Progressing", "Unknown", RESUMED, "Deployment is resumed".into());
            set_condition(&mut self.status, c);
        }
    }
}

/// Sets a ReplicaSet's `spec.minReadySeconds` (absent when 0, as Go's `omitempty` writes it).
fn set_min_ready(rs: &mut Value, seconds: i64) {
    if let Some(spec) = rs.get_mut("spec").and_then(Value::as_object_mut) {
        if seconds == 0 {
            spec.remove("minReadySeconds");
        } else {
            spec.insert("minReadySeconds".into(), json!(seconds));
        }
    }
}

/// `SetDeploymentCondition`: no change when status and reason are the same; the transition
/// time stays when only the reason changes.
fn set_condition(status: &mut Value, mut c: Value) {
    let type_ = s(&c, "/type").to_owned();
    if let Some(cur) = condition(status, &type_) {
        if s(cur, "/status") == s(&c, "/status") && s(cur, "/reason") == s(&c, "/reason") {
            return;
        }
        if s(cur, "/status") == s(&c, "/status") {
            c["lastTransitionTime"] = cur["lastTransitionTime"].clone();
        }
    }
    remove_condition(status, &type_);
    push_condition(status, c);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Spec, equal_ignore_hash, set_condition};

    #[test]
    fn fenceposts() {
        let d = |surge: serde_json::Value, unavailable: serde_json::Value, replicas: i64| {
            Spec::of(
                &json!({"spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}}),
            )
        };
        let s = d(json!("25%"), json!("25%"), 10);
        assert_eq!((s.max_surge, s.max_unavailable), (3, 2));
        let s = d(json!(0), json!("10%"), 5);
        assert_eq!((s.max_surge, s.max_unavailable), (0, 1));
        let s = d(json!(2), json!(20), 4);
        assert_eq!((s.max_surge, s.max_unavailable), (2, 4));
        let s = Spec::of(&json!({"spec": {"replicas": 4}}));
        assert_eq!(
            (s.max_surge, s.max_unavailable, s.progress_deadline),
            (1, 1, Some(600))
        );
        let s = Spec::of(&json!({"spec": {"replicas": 4, "strategy": {"type": "Recreate"}}}));
        assert_eq!((s.max_surge, s.max_unavailable), (0, 0));
    }

    #[test]
    fn templates_compare_without_the_hash_label() {
        let a = json!({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": {"containers": [{"image": "a"}]}});
        let b = json!({"metadata": {"labels": {"app": "web"}, "creationTimestamp": null}, "spec": {"containers": [{"image": "a"}]}});
        assert!(equal_ignore_hash(&a, &b));
        let c = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "b"}]}});
        assert!(!equal_ignore_hash(&a, &c));
    }

    #[test]
    fn conditions_keep_transition_times() {
        let mut st = json!({});
        set_condition(
            &mut st,
            json!({"type": "Progressing", "status": "True", "reason": "A", "lastTransitionTime": "t1"}),
        );
        set_condition(
            &mut st,
            json!({"type": "Progressing", "status": "True", "reason": "B", "lastTransitionTime": "t2"}),
        );
        assert_eq!(st["conditions"][0]["lastTransitionTime"], "t1");
        assert_eq!(st["conditions"][0]["reason"], "B");
        set_condition(
            &mut st,
            json!({"type": "Progressing", "status": "False", "reason": "C", "lastTransitionTime": "t3"}),
        );
        assert_eq!(st["conditions"][0]["lastTransitionTime"], "t3");
    }
}
