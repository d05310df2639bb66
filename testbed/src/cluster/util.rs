//! Helpers shared by the simulated controllers: JSON access, owner references, label selectors,
//! int-or-percent values, conditions, pod readiness and time.

use serde_json::{Map, Value, json};

/// A string field (`""` when missing).
pub fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// An integer field (0 when missing).
pub fn i(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// An integer field, or `default` when missing (the API server's defaulting, which the double
/// does not do, e.g. `spec.replicas` 1).
pub fn i_or(v: &Value, pointer: &str, default: i64) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(default)
}

/// `metadata.name`.
pub fn name(v: &Value) -> &str {
    s(v, "/metadata/name")
}

/// `metadata.namespace`.
pub fn namespace(v: &Value) -> &str {
    s(v, "/metadata/namespace")
}

/// `metadata.uid`.
pub fn uid(v: &Value) -> &str {
    s(v, "/metadata/uid")
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(v: &Value) -> bool {
    v.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// An annotation.
pub fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// A label.
pub fn label<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.pointer("/metadata/labels")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// The owner reference with `controller: true`.
pub fn controller_ref(obj: &Value) -> Option<&Value> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

/// A controller owner reference to `owner`, as `metav1.NewControllerRef` makes it.
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

/// A short stable hash of a pod template, spelled like the `pod-template-hash` label
/// (FNV-1a, encoded with the alphabet of `rand.SafeEncodeString`). `collision_count` is folded in
/// as `controller.ComputeHash` does, so a hash collision can be resolved.
pub fn template_hash(template: &Value, collision_count: Option<i64>) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut text = serde_json::to_string(template).unwrap_or_default();
    if let Some(c) = collision_count {
        text.push_str(&c.to_string());
    }
    let mut n = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (0..10)
        .map(|_| {
            let c = ALPHABET[usize::try_from(n % 27).unwrap_or(0)] as char;
            n /= 27;
            c
        })
        .collect()
}

/// Whether `labels` satisfy a `LabelSelector` object (matchLabels and matchExpressions). An
/// empty selector matches everything.
pub fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    let ok_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.iter().all(|(k, v)| get(k) == v.as_str()));
    let ok_exprs = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .is_none_or(|es| es.iter().all(|e| expression_matches(e, get(s(e, "/key")))));
    ok_labels && ok_exprs
}

/// Whether one label-selector or node-selector requirement holds for `value` (the label or field
/// value, None when absent). `Gt`/`Lt` are the node selector's integer comparisons.
pub fn expression_matches(e: &Value, value: Option<&str>) -> bool {
    let values: Vec<&str> = e
        .get("values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let number = |x: &str| x.parse::<i64>().ok();
    match s(e, "/operator") {
        "In" => value.is_some_and(|v| values.contains(&v)),
        "NotIn" => value.is_none_or(|v| !values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => {
            matches!((value.and_then(number), values.first().and_then(|x| number(x))), (Some(a), Some(b)) if a > b)
        }
        "Lt" => {
            matches!((value.and_then(number), values.first().and_then(|x| number(x))), (Some(a), Some(b)) if a < b)
        }
        _ => false,
    }
}

/// Resolves an int-or-percent field against `total` as `intstr.GetScaledValueFromIntOrPercent`
/// does: a percentage rounds up or down as asked; a missing value takes `default`.
pub fn scaled_value(v: Option<&Value>, default: &str, total: i64, round_up: bool) -> i64 {
    let percent = |p: &str| -> Option<i64> { p.strip_suffix('%')?.trim().parse().ok() };
    let pct = match v {
        Some(Value::Number(n)) => return n.as_i64().unwrap_or(0),
        Some(Value::String(p)) => percent(p),
        _ => match default.parse::<i64>() {
            Ok(n) => return n,
            Err(_) => percent(default),
        },
    };
    let Some(pct) = pct else { return 0 };
    let scaled = total * pct;
    if round_up {
        (scaled + 99).div_euclid(100)
    } else {
        scaled.div_euclid(100)
    }
}

/// Milliseconds since the epoch as the API server writes times (RFC 3339, seconds).
pub fn format_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// An RFC 3339 time as milliseconds since the epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(jiff::Timestamp::as_millisecond)
}

/// Whether a pod counts as active for its controller: not being deleted, not finished
/// (`controller.IsPodActive`).
pub fn pod_active(pod: &Value) -> bool {
    !is_deleting(pod) && !matches!(s(pod, "/status/phase"), "Succeeded" | "Failed")
}

/// The pod's `Ready` condition.
fn ready_condition(pod: &Value) -> Option<&Value> {
    condition(pod.get("status")?, "Ready")
}

/// Whether a pod is Ready.
pub fn pod_ready(pod: &Value) -> bool {
    ready_condition(pod).is_some_and(|c| s(c, "/status") == "True")
}

/// When a Ready pod becomes available: its Ready transition plus `min_ready_seconds`
/// (`podutil.IsPodAvailable`); None when it is not Ready.
pub fn pod_available_at(pod: &Value, min_ready_seconds: i64) -> Option<i64> {
    let c = ready_condition(pod).filter(|c| s(c, "/status") == "True")?;
    if min_ready_seconds <= 0 {
        return Some(i64::MIN);
    }
    let since = parse_time(s(c, "/lastTransitionTime"))?;
    Some(since + min_ready_seconds * 1000)
}

/// Whether a pod is available at `now` (Ready for at least `min_ready_seconds`).
pub fn pod_available(pod: &Value, min_ready_seconds: i64, now: i64) -> bool {
    pod_available_at(pod, min_ready_seconds).is_some_and(|at| at == i64::MIN || at < now)
}

/// A condition of `status` by type.
pub fn condition<'a>(status: &'a Value, type_: &str) -> Option<&'a Value> {
    status
        .get("conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| s(c, "/type") == type_)
}

/// Removes a condition from `status` (and `conditions` when it becomes empty, as `omitempty`
/// does).
pub fn remove_condition(status: &mut Value, type_: &str) {
    if let Some(cs) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        cs.retain(|c| s(c, "/type") != type_);
        if cs.is_empty()
            && let Some(o) = status.as_object_mut()
        {
            o.remove("conditions");
        }
    }
}

/// Appends a condition to `status.conditions`.
pub fn push_condition(status: &mut Value, condition: Value) {
    if !status.is_object() {
        *status = json!({});
    }
    match status.get_mut("conditions").and_then(Value::as_array_mut) {
        Some(cs) => cs.push(condition),
        None => status["conditions"] = json!([condition]),
    }
}

/// Inserts `key: n` unless n is 0 (Go's `omitempty` on integer status fields).
pub fn put_nonzero(map: &mut Map<String, Value>, key: &str, n: i64) {
    if n != 0 {
        map.insert(key.to_owned(), json!(n));
    }
}

/// A copy of `v` without null members, recursively (so `creationTimestamp: null` in a template
/// compares equal to no `creationTimestamp`).
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), without_nulls(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
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
        let gt = json!({"key": "n", "operator": "Gt", "values": ["3"]});
        assert!(expression_matches(&gt, Some("4")));
        assert!(!expression_matches(&gt, Some("3")));
        let h = template_hash(&json!({"spec": {"containers": [{"image": "a"}]}}), None);
        assert_eq!(h.len(), 10);
        assert_ne!(
            h,
            template_hash(&json!({"spec": {"containers": [{"image": "b"}]}}), None)
        );
        assert_ne!(
            h,
            template_hash(&json!({"spec": {"containers": [{"image": "a"}]}}), Some(1))
        );
    }

    /// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#max-surge: the
    /// absolute number is calculated from the percentage by rounding up (surge) or down
    /// (unavailable).
    #[test]
    fn percentages_round_as_kubernetes_does() {
        assert_eq!(scaled_value(Some(&json!("25%")), "25%", 10, true), 3);
        assert_eq!(scaled_value(Some(&json!("25%")), "25%", 10, false), 2);
        assert_eq!(scaled_value(None, "25%", 4, true), 1);
        assert_eq!(scaled_value(None, "25%", 3, false), 0);
        assert_eq!(scaled_value(Some(&json!(2)), "25%", 10, true), 2);
        assert_eq!(scaled_value(None, "1", 10, true), 1);
    }

    #[test]
    fn times_round_trip_at_second_precision() {
        let t = parse_time("2025-01-02T03:04:05Z").expect("parses");
        assert_eq!(format_time(t + 999), "2025-01-02T03:04:05Z");
    }
}
