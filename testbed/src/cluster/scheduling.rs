//! Which nodes a pod may run on: `nodeSelector`, required node affinity, taints and
//! tolerations (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/ and
//! https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/).

use serde_json::{Value, json};

use super::util::{expression_matches, name, s};

/// The taint the node lifecycle controller puts on a cordoned node (`spec.unschedulable`).
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Whether `spec` (a pod spec)'s `nodeSelector` and required node affinity select `node`. Terms
/// are ORed; a term's expressions (on labels) and fields (`metadata.name`) are ANDed; an empty
/// term selects nothing.
pub fn selects(spec: &Value, node: &Value) -> bool {
    let labels = node.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    let selector_ok = spec
        .get("nodeSelector")
        .and_then(Value::as_object)
        .is_none_or(|m| m.iter().all(|(k, v)| label(k) == v.as_str()));
    let terms = spec
        .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array);
    let affinity_ok = terms.is_none_or(|terms| {
        terms.iter().any(|t| {
            let exprs = t.get("matchExpressions").and_then(Value::as_array);
            let fields = t.get("matchFields").and_then(Value::as_array);
            let any = exprs.is_some_and(|e| !e.is_empty()) || fields.is_some_and(|f| !f.is_empty());
            any && exprs.is_none_or(|es| es.iter().all(|e| expression_matches(e, label(s(e, "/key")))))
                && fields.is_none_or(|fs| {
                    fs.iter().all(|f| {
                        let value = (s(f, "/key") == "metadata.name").then(|| name(node));
                        expression_matches(f, value)
                    })
                })
        })
    });
    let name_ok = s(spec, "/nodeName").is_empty() || s(spec, "/nodeName") == name(node);
    selector_ok && affinity_ok && name_ok
}

/// The node's taints, with the one a cordon implies.
fn taints(node: &Value) -> Vec<Value> {
    let mut taints = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if node.pointer("/spec/unschedulable") == Some(&json!(true))
        && !taints.iter().any(|t| s(t, "/key") == UNSCHEDULABLE)
    {
        taints.push(json!({"key": UNSCHEDULABLE, "effect": "NoSchedule"}));
    }
    taints
}

/// Whether a toleration tolerates a taint (`Toleration.ToleratesTaint`).
fn tolerates(tol: &Value, taint: &Value) -> bool {
    let effect_ok = s(tol, "/effect").is_empty() || s(tol, "/effect") == s(taint, "/effect");
    let key_ok = s(tol, "/key").is_empty() || s(tol, "/key") == s(taint, "/key");
    let value_ok = match s(tol, "/operator") {
        "" | "Equal" => s(tol, "/value") == s(taint, "/value"),
        "Exists" => true,
        _ => false,
    };
    effect_ok && key_ok && value_ok
}

/// Whether `node` has a taint with one of `effects` that `spec`'s tolerations do not tolerate.
fn untolerated(spec: &Value, node: &Value, effects: &[&str]) -> bool {
    let tolerations = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    taints(node)
        .iter()
        .filter(|t| effects.contains(&s(t, "/effect")))
        .any(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

/// Whether a new pod with `spec` can be placed on `node`.
pub fn fits(spec: &Value, node: &Value) -> bool {
    selects(spec, node) && !untolerated(spec, node, &["NoSchedule", "NoExecute"])
}

/// `NodeShouldRunDaemonPod`: whether a daemon pod should be created on `node`, and whether one
/// already there may keep running (a `NoSchedule` taint keeps new pods off but does not evict;
/// `NoExecute` does both).
pub fn daemon_should_run(spec: &Value, node: &Value) -> (bool, bool) {
    if !selects(spec, node) {
        return (false, false);
    }
    if untolerated(spec, node, &["NoSchedule", "NoExecute"]) {
        return (false, !untolerated(spec, node, &["NoExecute"]));
    }
    (true, true)
}

/// Adds the tolerations the DaemonSet controller gives every daemon pod
/// (https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/#taints-and-tolerations).
pub fn add_daemon_tolerations(spec: &mut Value) {
    let mut wanted = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        (UNSCHEDULABLE, "NoSchedule"),
    ];
    if spec.get("hostNetwork") == Some(&json!(true)) {
        wanted.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    if !spec.is_object() {
        *spec = json!({});
    }
    let list = spec
        .as_object_mut()
        .expect("an object")
        .entry("tolerations")
        .or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    let list = list.as_array_mut().expect("an array");
    for (key, effect) in wanted {
        if !list
            .iter()
            .any(|t| s(t, "/key") == key && s(t, "/effect") == effect)
        {
            list.push(json!({"key": key, "operator": "Exists", "effect": effect}));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selectors_affinity_and_taints() {
        let node = json!({"metadata": {"name": "n1", "labels": {"role": "web", "cpus": "8"}},
            "spec": {"taints": [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]}});
        let plain = json!({"nodeSelector": {"role": "web"}});
        assert!(!fits(&plain, &node));
        assert_eq!(daemon_should_run(&plain, &node), (false, true));
        let tolerant = json!({"nodeSelector": {"role": "web"}, "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}]});
        assert!(fits(&tolerant, &node));
        let affinity = |op: &str, v: &str| json!({"tolerations": [{"operator": "Exists"}], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "cpus", "operator": op, "values": [v]}]}]}}}});
        assert!(fits(&affinity("Gt", "4"), &node));
        assert!(!fits(&affinity("Lt", "4"), &node));
        let by_name = json!({"tolerations": [{"operator": "Exists"}], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]}}}});
        assert!(!fits(&by_name, &node));
        let empty_term = json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}}}});
        assert!(!selects(&empty_term, &node));
    }

    #[test]
    fn daemon_pods_tolerate_a_cordon() {
        let node = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
        let mut spec = json!({});
        assert!(!fits(&spec, &node));
        add_daemon_tolerations(&mut spec);
        assert!(fits(&spec, &node));
    }
}
