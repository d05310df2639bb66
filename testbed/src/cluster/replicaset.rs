//! The ReplicaSet controller: keeps `spec.replicas` pods.

use std::sync::Arc;

use serde_json::{Value, json};

use super::util::{self, active, controlled_by, i, ready, rt, s};
use crate::api::{ApiError, ApiServer};

pub fn reconcile(api: &Arc<ApiServer>) -> Result<(), ApiError> {
    let rs_type = rt(api, "apps", "v1", "ReplicaSet");
    let pod_type = rt(api, "", "v1", "Pod");
    let all_pods = util::pods(api, None, None)?;
    for rs in util::list(api, &rs_type, None, None)? {
        if rs
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
        {
            continue;
        }
        let uid = s(&rs, "/metadata/uid");
        let ns = s(&rs, "/metadata/namespace");
        let mut pods: Vec<&Value> = all_pods
            .iter()
            .filter(|p| s(p, "/metadata/namespace") == ns && controlled_by(p, uid) && active(p))
            .collect();
        let desired = usize::try_from(
            rs.pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                .max(0),
        )
        .unwrap_or(0);
        let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
        if pods.len() < desired {
            for _ in pods.len()..desired {
                util::create_pod(api, &rs, &template, &json!({}), None)?;
            }
        } else if pods.len() > desired {
            // Delete not-ready pods first, then the newest, as the ReplicaSet controller prefers.
            pods.sort_by_key(|p| {
                (
                    ready(p),
                    std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_owned()),
                )
            });
            for p in pods.iter().take(pods.len() - desired) {
                util::delete(api, &pod_type, p)?;
            }
        }
        let pods: Vec<&Value> = all_pods
            .iter()
            .filter(|p| s(p, "/metadata/namespace") == ns && controlled_by(p, uid) && active(p))
            .collect();
        let ready_n = pods.iter().filter(|p| ready(p)).count();
        let status = json!({
            "replicas": pods.len(),
            "fullyLabeledReplicas": pods.len(),
            "readyReplicas": ready_n,
            "availableReplicas": ready_n,
            "observedGeneration": i(&rs, "/metadata/generation"),
        });
        util::set_status(api, &rs_type, &rs, status)?;
    }
    Ok(())
}
