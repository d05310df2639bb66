//! `ValidatePodUpdate` (k8s.io/kubernetes/pkg/apis/core/validation/validation.go): once created, a
//! pod's spec may change only in the few fields Kubernetes lets change — container images,
//! `activeDeadlineSeconds` (set, or lowered, never raised nor removed), tolerations (additions),
//! `terminationGracePeriodSeconds`, scheduling gates (removed) — so that a controller that
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
    let live_node = live
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if fixed_part(live, live_node) != fixed_part(new, live_node) {
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
