//! `ValidatePodUpdate` (k8s.io/kubernetes/pkg/apis/core/validation/validation.go): once created, a
//! pod's spec may change only in the few fields Kubernetes lets change — container images,
//! `activeDeadlineSeconds` (set, or lowered, never raised nor removed), tolerations (additions
//! only), `terminationGracePeriodSeconds` (from a negative value to 1 only), scheduling gates
//! (removals only) — so that a controller that
//! patches a pod in a way a real API server refuses fails here too. (`nodeName` from empty is
//! allowed: the double's scheduler binds with an update, where a real one uses `pods/binding`.)

use serde_json::{Value, json};

use super::error::{ApiError, Cause};

/// The spec of `pod` with the fields that may change taken out.
fn fixed_part(pod: &Value, live_node: &str) -> Value {
    let mut spec = pod.get("spec").cloned().unwrap_or(json!({}));
    if let Some(o) = spec.as_object_mut() {
        for f in [
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
            "schedulingGates",
        ] {
            o.remove(f);
        }
        if live_node.is_empty() {
            o.remove("nodeName");
        }
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                if let Some(o) = c.as_object_mut() {
                    o.remove("image");
                }
            }
        }
    }
    spec
}

fn invalid(name: &str, field: &str, message: String) -> ApiError {
    ApiError::invalid(
        "Pod",
        name,
        vec![Cause {
            reason: "FieldValueInvalid".into(),
            message,
            field: field.into(),
        }],
    )
    .about("", "pods", name)
}

/// Checks an update of the pod `live` to `new`.
///
/// # Errors
/// 422 naming the field, in the API server's words.
pub fn validate(name: &str, live: &Value, new: &Value) -> Result<(), ApiError> {
    let deadline = |v: &Value| v.pointer("/spec/activeDeadlineSeconds").and_then(Value::as_i64);
    match (deadline(live), deadline(new)) {
        (_, Some(n)) if n < 1 => {
            return Err(invalid(
                name,
                "spec.activeDeadlineSeconds",
                format!("Invalid value: {n}: must be between 1 and 2147483647, inclusive"),
            ));
        }
        (Some(old), Some(n)) if n > old => {
            return Err(invalid(
                name,
                "spec.activeDeadlineSeconds",
                format!("Invalid value: {n}: must be less than or equal to previous value"),
            ));
        }
        (Some(_), None) => {
            return Err(invalid(
                name,
                "spec.activeDeadlineSeconds",
                "Invalid value: \"null\": must not update from a positive integer to nil value".to_owned(),
            ));
        }
        _ => {}
    }
    let list = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let grace = |v: &Value| {
        v.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
    };
    let tolerations_kept = list(live, "/spec/tolerations")
        .iter()
        .all(|t| list(new, "/spec/tolerations").contains(t));
    let gates_not_added = list(new, "/spec/schedulingGates")
        .iter()
        .all(|g| list(live, "/spec/schedulingGates").contains(g));
    let grace_ok = grace(live) == grace(new) || (grace(live).is_some_and(|g| g < 0) && grace(new) == Some(1));
    let live_node = live
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if fixed_part(live, live_node) != fixed_part(new, live_node)
        || !tolerations_kept
        || !gates_not_added
        || !grace_ok
    {
        return Err(ApiError::invalid(
            "Pod",
            name,
            vec![Cause {
                reason: "FieldValueForbidden".into(),
                message: "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,\
                          `spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only \
                          additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be \
                          set to 1 if it was previously negative)"
                    .to_owned(),
                field: "spec".into(),
            }],
        )
        .about("", "pods", name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::validate;

    fn pod(spec: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "p"}, "spec": spec})
    }

    #[test]
    fn only_what_kubernetes_lets_change_changes() {
        let live = pod(
            json!({"containers": [{"name": "a", "image": "x:1"}], "nodeName": "n",
                              "tolerations": [{"key": "k", "operator": "Exists"}],
                              "terminationGracePeriodSeconds": 30}),
        );
        let ok = |spec: serde_json::Value| validate("p", &live, &pod(spec));
        let mut s = live["spec"].clone();
        s["containers"][0]["image"] = json!("x:2");
        s["activeDeadlineSeconds"] = json!(1);
        s["tolerations"] = json!([{"key": "k", "operator": "Exists"}, {"key": "j", "operator": "Exists"}]);
        assert!(
            ok(s.clone()).is_ok(),
            "image, a first deadline and an added toleration"
        );
        let with_deadline = pod(s.clone());
        let mut raised = s.clone();
        raised["activeDeadlineSeconds"] = json!(5);
        let e = validate("p", &with_deadline, &pod(raised)).expect_err("raised");
        assert!(
            e.message.contains("must be less than or equal to previous value"),
            "{}",
            e.message
        );
        let mut removed = s.clone();
        removed
            .as_object_mut()
            .expect("spec")
            .remove("activeDeadlineSeconds");
        assert!(validate("p", &with_deadline, &pod(removed)).is_err());
        for (field, value) in [
            ("restartPolicy", json!("Always")),
            ("tolerations", json!([])),
            ("terminationGracePeriodSeconds", json!(10)),
            ("schedulingGates", json!([{"name": "wait"}])),
            ("nodeName", json!("other")),
        ] {
            let mut changed = live["spec"].clone();
            changed[field] = value;
            let e = ok(changed).expect_err(field);
            assert_eq!(e.code, 422, "{field}");
        }
    }
}
