//! Helpers shared by the simulated controllers.

use std::sync::Arc;

use serde_json::{Value, json};

use super::opts;
use crate::{
    api::{ApiError, ApiServer, ListQuery},
    patch::PatchType,
    registry::ResourceType,
    schema::Gvk,
};

/// The resource type of a built-in kind.
pub fn rt(api: &ApiServer, group: &str, version: &str, kind: &str) -> ResourceType {
    api.resource_type(&Gvk::new(group, version, kind))
        .expect("built-in kind")
}

/// Objects of a kind, in a namespace or all, optionally filtered by a label selector string.
pub fn list(
    api: &ApiServer,
    rt: &ResourceType,
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    let q = ListQuery {
        label_selector: selector.map(str::to_owned),
        ..ListQuery::default()
    };
    let list = api.list(rt, namespace, &q)?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

/// Pods.
pub fn pods(
    api: &ApiServer,
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    list(api, &rt(api, "", "v1", "Pod"), namespace, selector)
}

/// A string field.
pub fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// An integer field.
pub fn i(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// Whether `obj`'s controller owner reference points at `uid`.
pub fn controlled_by(obj: &Value, uid: &str) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r.get("uid").and_then(Value::as_str) == Some(uid)
                    && r.get("controller").and_then(Value::as_bool) == Some(true)
            })
        })
}

/// A controller owner reference to `owner`.
pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner.pointer("/metadata/name"),
        "uid": owner.pointer("/metadata/uid"),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// A short stable hash of a pod template, like the `pod-template-hash` label.
pub fn template_hash(template: &Value) -> String {
    let text = serde_json::to_string(template).unwrap_or_default();
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = h;
    (0..10)
        .map(|_| {
            let c = ALPHABET[usize::try_from(n % 27).unwrap_or(0)] as char;
            n /= 27;
            c
        })
        .collect()
}

/// Whether `labels` satisfy a `LabelSelector` object (matchLabels and matchExpressions).
pub fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let ok_labels = match_labels.is_none_or(|m| m.iter().all(|(k, v)| get(k) == v.as_str()));
    let exprs = selector.get("matchExpressions").and_then(Value::as_array);
    let ok_exprs = exprs.is_none_or(|es| {
        es.iter().all(|e| {
            let key = s(e, "/key");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match s(e, "/operator") {
                "In" => get(key).is_some_and(|v| values.contains(&v)),
                "NotIn" => get(key).is_none_or(|v| !values.contains(&v)),
                "Exists" => get(key).is_some(),
                "DoesNotExist" => get(key).is_none(),
                _ => false,
            }
        })
    });
    ok_labels && ok_exprs
}

/// Whether a pod counts as active (not terminating, not finished).
pub fn active(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp")
        .is_none_or(Value::is_null)
        && !matches!(s(pod, "/status/phase"), "Succeeded" | "Failed")
}

/// Whether a pod is Ready.
pub fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True")
        })
}

/// Writes `status` into `obj`'s status subresource if it differs.
pub fn set_status(
    api: &Arc<ApiServer>,
    rt: &ResourceType,
    obj: &Value,
    status: Value,
) -> Result<(), ApiError> {
    if obj.get("status") == Some(&status) {
        return Ok(());
    }
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
    let name = s(obj, "/metadata/name");
    let mut body = obj.clone();
    body["status"] = status;
    api.update(rt, ns, name, Some("status"), body, &opts())?;
    Ok(())
}

/// Creates a pod from `template` owned by `owner`.
pub fn create_pod(
    api: &Arc<ApiServer>,
    owner: &Value,
    template: &Value,
    extra_labels: &Value,
    node: Option<&str>,
) -> Result<Value, ApiError> {
    let ns = owner.pointer("/metadata/namespace").and_then(Value::as_str);
    let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
    if let (Some(l), Some(extra)) = (labels.as_object_mut(), extra_labels.as_object()) {
        l.extend(extra.clone());
    }
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    let body = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": format!("{}-", s(owner, "/metadata/name")),
            "labels": labels,
            "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or(json!({})),
            "ownerReferences": [owner_ref(owner)],
        },
        "spec": spec,
        "status": {"phase": "Pending"},
    });
    Ok(api.create(&rt(api, "", "v1", "Pod"), ns, body, &opts())?.object)
}

/// Deletes an object.
pub fn delete(api: &Arc<ApiServer>, rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
    match api.delete(
        rt,
        ns,
        s(obj, "/metadata/name"),
        &crate::api::DeleteOptions::default(),
    ) {
        Ok(_) | Err(ApiError { code: 404, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Merge-patches an object.
pub fn merge(api: &Arc<ApiServer>, rt: &ResourceType, obj: &Value, patch: &Value) -> Result<Value, ApiError> {
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
    Ok(api
        .patch(
            rt,
            ns,
            s(obj, "/metadata/name"),
            None,
            PatchType::Merge,
            patch,
            &opts(),
        )?
        .object)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selectors_and_hashes() {
        let sel = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]});
        assert!(selector_matches(&sel, &json!({"app": "web", "tier": "a"})));
        assert!(!selector_matches(&sel, &json!({"app": "web", "tier": "c"})));
        assert!(!selector_matches(&sel, &json!({"app": "api", "tier": "a"})));
        let h = template_hash(&json!({"spec": {"containers": [{"image": "a"}]}}));
        assert_eq!(h.len(), 10);
        assert_ne!(
            h,
            template_hash(&json!({"spec": {"containers": [{"image": "b"}]}}))
        );
    }
}
