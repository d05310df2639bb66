//! The Deployment controller: a ReplicaSet per pod template, rolled with the RollingUpdate
//! arithmetic (maxSurge rounds up, maxUnavailable rounds down, both zero means one unavailable)
//! or Recreate (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/).

use std::sync::Arc;

use serde_json::{Value, json};

use super::util::{self, controlled_by, i, rt, s};
use crate::api::{ApiError, ApiServer};

/// Resolves an int-or-percent against `total`, rounding up or down.
fn resolve(v: Option<&Value>, total: i64, default_pct: i64, round_up: bool) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(p)) if p.ends_with('%') => {
            let pct: i64 = p.trim_end_matches('%').parse().unwrap_or(default_pct);
            if round_up {
                (total * pct + 99) / 100
            } else {
                total * pct / 100
            }
        }
        _ => {
            if round_up {
                (total * default_pct + 99) / 100
            } else {
                total * default_pct / 100
            }
        }
    }
}

pub fn reconcile(api: &Arc<ApiServer>) -> Result<(), ApiError> {
    let d_type = rt(api, "apps", "v1", "Deployment");
    let rs_type = rt(api, "apps", "v1", "ReplicaSet");
    let all_rs = util::list(api, &rs_type, None, None)?;
    for d in util::list(api, &d_type, None, None)? {
        if d.pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
            || d.pointer("/spec/paused") == Some(&json!(true))
        {
            continue;
        }
        let uid = s(&d, "/metadata/uid");
        let ns = s(&d, "/metadata/namespace");
        let name = s(&d, "/metadata/name");
        let desired = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let hash = util::template_hash(&template);
        let owned: Vec<&Value> = all_rs
            .iter()
            .filter(|r| s(r, "/metadata/namespace") == ns && controlled_by(r, uid))
            .collect();
        let new_rs = owned
            .iter()
            .find(|r| s(r, "/metadata/labels/pod-template-hash") == hash)
            .copied();
        let old: Vec<&Value> = owned
            .iter()
            .filter(|r| s(r, "/metadata/labels/pod-template-hash") != hash)
            .copied()
            .collect();
        let old_spec: i64 = old.iter().map(|r| i(r, "/spec/replicas")).sum();
        let recreate = s(&d, "/spec/strategy/type") == "Recreate";
        let total = desired;
        let surge = resolve(
            d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
            total,
            25,
            true,
        );
        let mut unavailable = resolve(
            d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
            total,
            25,
            false,
        );
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        let new_replicas = new_rs.map_or(0, |r| i(r, "/spec/replicas"));
        let target_new = if recreate {
            if old
                .iter()
                .any(|r| i(r, "/status/replicas") > 0 || i(r, "/spec/replicas") > 0)
            {
                0
            } else {
                desired
            }
        } else if new_replicas < desired {
            let room = (desired + surge - new_replicas - old_spec).max(0);
            new_replicas + room.min(desired - new_replicas)
        } else {
            desired
        };
        let new_rs = match new_rs {
            Some(r) => {
                if i(r, "/spec/replicas") != target_new {
                    util::merge(api, &rs_type, r, &json!({"spec": {"replicas": target_new}}))?
                } else {
                    r.clone()
                }
            }
            None => {
                let revision = owned
                    .iter()
                    .filter_map(|r| {
                        s(r, "/metadata/annotations/deployment.kubernetes.io~1revision")
                            .parse::<i64>()
                            .ok()
                    })
                    .max()
                    .unwrap_or(0)
                    + 1;
                let mut rs_template = template.clone();
                rs_template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
                selector["matchLabels"]["pod-template-hash"] = json!(hash);
                let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
                labels["pod-template-hash"] = json!(hash);
                let body = json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {
                        "name": format!("{name}-{hash}"),
                        "labels": labels,
                        "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
                        "ownerReferences": [util::owner_ref(&d)],
                    },
                    "spec": {"replicas": target_new, "selector": selector, "template": rs_template},
                });
                api.create(&rs_type, Some(ns), body, &super::opts())?.object
            }
        };
        // Scale old ReplicaSets down as far as availability allows (all at once for Recreate).
        let available: i64 = owned.iter().map(|r| i(r, "/status/availableReplicas")).sum();
        let min_available = (desired - unavailable).max(0);
        let mut removable = if recreate {
            i64::MAX
        } else {
            (available - min_available).max(0)
        };
        for r in &old {
            let spec = i(r, "/spec/replicas");
            let unready = (i(r, "/status/replicas") - i(r, "/status/availableReplicas")).max(0);
            let cut = spec.min(removable.saturating_add(unready));
            if cut > 0 {
                util::merge(api, &rs_type, r, &json!({"spec": {"replicas": spec - cut}}))?;
                removable = removable.saturating_sub((cut - unready).max(0));
            }
        }
        // Status, from the ReplicaSets' status.
        let sum = |p: &str| owned.iter().map(|r| i(r, p)).sum::<i64>();
        let updated = i(&new_rs, "/status/replicas");
        let ready_total = sum("/status/readyReplicas");
        let complete = updated == desired
            && i(&new_rs, "/status/availableReplicas") == desired
            && old.iter().all(|r| i(r, "/status/replicas") == 0);
        let rs_name = s(&new_rs, "/metadata/name");
        let progressing = if complete {
            json!({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{rs_name}\" has successfully progressed.")})
        } else {
            json!({"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": format!("ReplicaSet \"{rs_name}\" is progressing.")})
        };
        let available_ok = available >= min_available;
        let status = json!({
            "observedGeneration": i(&d, "/metadata/generation"),
            "replicas": sum("/status/replicas"),
            "updatedReplicas": updated,
            "readyReplicas": ready_total,
            "availableReplicas": available,
            "unavailableReplicas": (desired - available).max(0),
            "conditions": [
                {"type": "Available", "status": if available_ok { "True" } else { "False" },
                 "reason": if available_ok { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                 "message": if available_ok { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." }},
                progressing,
            ],
        });
        util::set_status(api, &d_type, &d, status)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::resolve;

    #[test]
    fn percentages_round_as_kubernetes_does() {
        assert_eq!(resolve(Some(&json!("25%")), 10, 0, true), 3);
        assert_eq!(resolve(Some(&json!("25%")), 10, 0, false), 2);
        assert_eq!(resolve(None, 4, 25, true), 1);
        assert_eq!(resolve(Some(&json!(2)), 10, 25, true), 2);
    }
}
