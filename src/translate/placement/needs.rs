//! What a pod template asks of a node, said in node labels and ECS attributes (pure): for the
//! message of a task that cannot be placed, so a user knows which label to put on which node
//! (`attribute:stack == linkerd-viz` needs node label `ecsbridge.io/attr-stack=linkerd-viz`).

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, PodSpec};

/// The ECS attribute a node label `key` stands for ([`super::attributes::map`] reversed), with
/// custom attributes under `prefix`; `None` for a label that is no attribute.
#[must_use]
pub fn attribute_of(key: &str, prefix: &str) -> Option<String> {
    let known = match key {
        "topology.kubernetes.io/zone" => Some("ecs.availability-zone"),
        "node.kubernetes.io/instance-type" => Some("ecs.instance-type"),
        "kubernetes.io/os" => Some("ecs.os-type"),
        "kubernetes.io/arch" => Some("ecs.cpu-architecture"),
        _ => None,
    };
    known.map(str::to_owned).or_else(|| {
        key.strip_prefix(prefix)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    })
}

/// What `pod` requires of a node: its `nodeSelector` and required node affinity, one line per
/// alternative (node selector terms are ORed), each requirement as `label` (the ECS attribute),
/// e.g. `ecsbridge.io/attr-stack=linkerd-viz (attribute:stack == linkerd-viz)`. Empty when the
/// pod may run on any node.
#[must_use]
pub fn node_requirements(pod: &PodSpec, prefix: &str) -> Vec<String> {
    let selector: Vec<String> = pod
        .node_selector
        .iter()
        .flatten()
        .map(|(k, v)| said(k, "In", std::slice::from_ref(v), prefix))
        .collect();
    let terms: Vec<Vec<String>> = pod
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
        .map(|r| {
            r.node_selector_terms
                .iter()
                .map(|t| {
                    t.match_expressions
                        .iter()
                        .flatten()
                        .map(|e| requirement(e, prefix))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    if terms.is_empty() {
        return if selector.is_empty() {
            Vec::new()
        } else {
            vec![selector.join(" and ")]
        };
    }
    terms
        .into_iter()
        .map(|t| {
            selector
                .iter()
                .cloned()
                .chain(t)
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect()
}

fn requirement(e: &NodeSelectorRequirement, prefix: &str) -> String {
    if e.key == super::affinity::NO_NODE_MATCHES {
        // (A `=~` or `ec2InstanceId` term that matched no node when the Service was placed.)
        return "attributes that match the placement expression (no node's do: label one, and \
                the operator places the task again)"
            .to_owned();
    }
    said(
        &e.key,
        &e.operator,
        e.values.as_deref().unwrap_or_default(),
        prefix,
    )
}

fn said(key: &str, operator: &str, values: &[String], prefix: &str) -> String {
    let label = match (operator, values) {
        ("In", [v]) => format!("{key}={v}"),
        ("In", vs) => format!("{key} in ({})", vs.join(", ")),
        ("NotIn", [v]) => format!("{key}!={v}"),
        ("NotIn", vs) => format!("{key} notin ({})", vs.join(", ")),
        ("Exists", _) => key.to_owned(),
        ("DoesNotExist", _) => format!("no {key}"),
        ("Gt", [v]) => format!("{key} > {v}"),
        ("Lt", [v]) => format!("{key} < {v}"),
        (op, vs) => format!("{key} {op} ({})", vs.join(", ")),
    };
    let Some(attribute) = attribute_of(key, prefix) else {
        return format!("node label {label}");
    };
    let ecs = match (operator, values) {
        ("In", [v]) => format!("attribute:{attribute} == {v}"),
        ("In", vs) => format!("attribute:{attribute} in [{}]", vs.join(", ")),
        ("NotIn", [v]) => format!("attribute:{attribute} != {v}"),
        ("NotIn", vs) => format!("attribute:{attribute} not_in [{}]", vs.join(", ")),
        ("Exists", _) => format!("attribute:{attribute} exists"),
        ("DoesNotExist", _) => format!("not(attribute:{attribute} exists)"),
        ("Gt", [v]) => format!("attribute:{attribute} > {v}"),
        ("Lt", [v]) => format!("attribute:{attribute} < {v}"),
        _ => format!("attribute:{attribute}"),
    };
    format!("node label {label} ({ecs})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::placement::{attributes::DEFAULT_PREFIX, explain};

    fn pod_of(expression: &str) -> PodSpec {
        let compiled = explain(expression, None, DEFAULT_PREFIX).expect("compiles");
        serde_json::from_value(serde_json::json!({
            "containers": [],
            "affinity": {"nodeAffinity": compiled["nodeAffinity"]}
        }))
        .expect("a pod spec")
    }

    #[test]
    fn each_requirement_names_the_label_and_the_attribute() {
        assert_eq!(
            node_requirements(&pod_of("attribute:stack == linkerd-viz"), DEFAULT_PREFIX),
            ["node label ecsbridge.io/attr-stack=linkerd-viz (attribute:stack == linkerd-viz)"]
        );
        let both = node_requirements(
            &pod_of("attribute:ecs.availability-zone in [us-east-1a, us-east-1b] and attribute:gpu exists"),
            DEFAULT_PREFIX,
        );
        assert_eq!(both.len(), 1, "{both:?}");
        assert!(
            both[0].contains(
                "node label topology.kubernetes.io/zone in (us-east-1a, us-east-1b) \
                 (attribute:ecs.availability-zone in [us-east-1a, us-east-1b])"
            ) && both[0].contains("node label ecsbridge.io/attr-gpu (attribute:gpu exists)"),
            "{both:?}"
        );
        let either = node_requirements(&pod_of("attribute:a == x or attribute:b == y"), DEFAULT_PREFIX);
        assert_eq!(either.len(), 2, "{either:?}");
        // A label that is no attribute is named as it is.
        let plain = PodSpec {
            node_selector: Some([("disk".to_owned(), "ssd".to_owned())].into()),
            ..PodSpec::default()
        };
        assert_eq!(node_requirements(&plain, DEFAULT_PREFIX), ["node label disk=ssd"]);
        assert!(node_requirements(&PodSpec::default(), DEFAULT_PREFIX).is_empty());
    }
}
