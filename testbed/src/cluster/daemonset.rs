//! The DaemonSet controller: one pod on every node the pod template's nodeSelector, required
//! node affinity and tolerations allow; pods of an older template are replaced one at a time.

use std::sync::Arc;

use serde_json::{Value, json};

use super::util::{self, active, controlled_by, i, ready, rt, s};
use crate::api::{ApiError, ApiServer};

/// Whether `spec` (a pod spec) may run on `node`.
pub fn fits(spec: &Value, node: &Value) -> bool {
    let labels = node.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
    let selector_ok = spec
        .get("nodeSelector")
        .and_then(Value::as_object)
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let terms = spec
        .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array);
    let affinity_ok = terms.is_none_or(|terms| {
        terms.iter().any(|t| {
            let exprs = t.get("matchExpressions").cloned().unwrap_or(json!([]));
            util::selector_matches(&json!({"matchExpressions": exprs}), &labels)
        })
    });
    let tolerations = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let taints_ok = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .is_none_or(|taints| {
            taints
                .iter()
                .filter(|t| matches!(s(t, "/effect"), "NoSchedule" | "NoExecute"))
                .all(|t| {
                    tolerations.iter().any(|tol| {
                        let key_ok = s(tol, "/key").is_empty() || s(tol, "/key") == s(t, "/key");
                        let op_exists = s(tol, "/operator") == "Exists";
                        let value_ok = op_exists || s(tol, "/value") == s(t, "/value");
                        let effect_ok = s(tol, "/effect").is_empty() || s(tol, "/effect") == s(t, "/effect");
                        key_ok && value_ok && effect_ok
                    })
                })
        });
    selector_ok && affinity_ok && taints_ok
}

pub fn reconcile(api: &Arc<ApiServer>) -> Result<(), ApiError> {
    let ds_type = rt(api, "apps", "v1", "DaemonSet");
    let pod_type = rt(api, "", "v1", "Pod");
    let nodes = util::list(api, &rt(api, "", "v1", "Node"), None, None)?;
    let all_pods = util::pods(api, None, None)?;
    for ds in util::list(api, &ds_type, None, None)? {
        if ds
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
        {
            continue;
        }
        let uid = s(&ds, "/metadata/uid");
        let ns = s(&ds, "/metadata/namespace");
        let template = ds.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let hash = util::template_hash(&template);
        let spec = template.get("spec").cloned().unwrap_or(json!({}));
        let eligible: Vec<&str> = nodes
            .iter()
            .filter(|n| fits(&spec, n))
            .map(|n| s(n, "/metadata/name"))
            .collect();
        let pods: Vec<&Value> = all_pods
            .iter()
            .filter(|p| s(p, "/metadata/namespace") == ns && controlled_by(p, uid) && active(p))
            .collect();
        let mut replaced_one = false;
        for p in &pods {
            let node = s(p, "/spec/nodeName");
            let outdated = s(p, "/metadata/labels/controller-revision-hash") != hash;
            if !eligible.contains(&node) {
                util::delete(api, &pod_type, p)?;
            } else if outdated && !replaced_one {
                // maxUnavailable 1: replace one outdated pod per pass.
                util::delete(api, &pod_type, p)?;
                replaced_one = true;
            }
        }
        for node in &eligible {
            if !pods.iter().any(|p| s(p, "/spec/nodeName") == *node) {
                util::create_pod(
                    api,
                    &ds,
                    &template,
                    &json!({"controller-revision-hash": hash}),
                    Some(node),
                )?;
            }
        }
        let on_eligible: Vec<&&Value> = pods
            .iter()
            .filter(|p| eligible.contains(&s(p, "/spec/nodeName")))
            .collect();
        let ready_n = on_eligible.iter().filter(|p| ready(p)).count();
        let updated = on_eligible
            .iter()
            .filter(|p| s(p, "/metadata/labels/controller-revision-hash") == hash)
            .count();
        let status = json!({
            "desiredNumberScheduled": eligible.len(),
            "currentNumberScheduled": on_eligible.len(),
            "numberReady": ready_n,
            "numberAvailable": ready_n,
            "updatedNumberScheduled": updated,
            "numberMisscheduled": pods.len() - on_eligible.len(),
            "observedGeneration": i(&ds, "/metadata/generation"),
        });
        util::set_status(api, &ds_type, &ds, status)?;
    }
    Ok(())
}
