//! ECS task placement → Kubernetes scheduling (ecs-reference §3; design.md "Placement").
//!
//! - [`cql`]: the cluster query language parser (`memberOf` expressions) into an [`ast::Expr`];
//! - [`attributes`]: ECS instance attributes → node labels;
//! - [`compile`]: expressions and `distinctInstance` → node affinity and pod (anti-)affinity;
//! - [`order`]: how comparisons order attribute values;
//! - [`strategy`]: `placementStrategy` → topology spread constraints and a scheduler profile.

pub mod affinity;
pub mod ast;
pub mod attributes;
pub mod compile;
pub mod cql;
pub mod needs;
pub mod order;
pub mod strategy;

#[cfg(test)]
mod compile_tests;
#[cfg(test)]
mod law_tests;

use k8s_openapi::api::core::v1::{Affinity, Node, PodSpec, TopologySpreadConstraint};

use crate::{
    api::ecs::{PlacementConstraint, PlacementConstraintType, PlacementStrategy},
    translate::Options,
};

/// Why a constraint or strategy cannot compile: the field, and for expressions the character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PlacementError {
    /// The field, relative to `spec` (`placementConstraints[1].expression`), with the position in
    /// the expression when there is one (`..., at character 12`).
    pub field: String,
    /// What is wrong, and how to fix it.
    pub message: String,
    /// Whether it compiles once the nodes are known.
    pub needs_nodes: bool,
    /// Whether the field is the task definition's (else the service's or the request's).
    pub in_task_definition: bool,
}

impl PlacementError {
    /// The error as a message naming its object: `spec.<field>: ...`, or
    /// `TaskDefinition <task_definition>: spec.<field>: ...` for the task definition's fields.
    #[must_use]
    pub fn located(&self, task_definition: &str) -> String {
        let object = if self.in_task_definition {
            format!("TaskDefinition {task_definition}: ")
        } else {
            String::new()
        };
        format!("{object}spec.{}: {}", self.field, self.message)
    }
}

/// What placement compiles to on a pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placement {
    /// Node affinity and pod (anti-)affinity.
    pub affinity: Option<Affinity>,
    /// Spread constraints.
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// The scheduler profile (binpack).
    pub scheduler_name: Option<String>,
    /// Approximations: (field, message).
    pub notes: Vec<(String, String)>,
}

impl Placement {
    /// Sets the placement on `pod` (replacing affinity, spread constraints and scheduler).
    pub fn apply_to(&self, pod: &mut PodSpec) {
        pod.affinity.clone_from(&self.affinity);
        pod.topology_spread_constraints =
            (!self.topology_spread_constraints.is_empty()).then(|| self.topology_spread_constraints.clone());
        if self.scheduler_name.is_some() {
            pod.scheduler_name.clone_from(&self.scheduler_name);
        }
    }
}

/// One `memberOf` or `distinctInstance` constraint, from wherever it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// The field it was written in (`placementConstraints[0]`, relative to its object's `spec`).
    pub field: String,
    /// `memberOf` (with its expression) or `distinctInstance` (`None`).
    pub expression: Option<String>,
    /// Whether it is the task definition's (else the service's or the request's).
    pub in_task_definition: bool,
}

impl Constraint {
    /// The constraints of a service or RunTask request; `distinctInstance` with an expression and
    /// `memberOf` without one are errors (ECS refuses them).
    ///
    /// # Errors
    /// [`PlacementError`] naming the field.
    pub fn from_request(list: &[PlacementConstraint], prefix: &str) -> Result<Vec<Self>, PlacementError> {
        list.iter()
            .enumerate()
            .map(|(i, c)| {
                let field = format!("{prefix}placementConstraints[{i}]");
                let expression = c.expression.as_deref().map(str::trim).filter(|e| !e.is_empty());
                match (c.r#type, expression) {
                    (Some(PlacementConstraintType::Memberof), Some(e)) => Ok(Self {
                        field,
                        expression: Some(e.to_owned()),
                        in_task_definition: false,
                    }),
                    (Some(PlacementConstraintType::Memberof), None) => Err(PlacementError {
                        field: format!("{field}.expression"),
                        message: "required for memberOf: a cluster query language expression".to_owned(),
                        needs_nodes: false,
                        in_task_definition: false,
                    }),
                    (Some(PlacementConstraintType::Distinctinstance), None) => Ok(Self {
                        field,
                        expression: None,
                        in_task_definition: false,
                    }),
                    (Some(PlacementConstraintType::Distinctinstance), Some(_)) => Err(PlacementError {
                        field: format!("{field}.expression"),
                        message: "distinctInstance takes no expression; remove it".to_owned(),
                        needs_nodes: false,
                        in_task_definition: false,
                    }),
                    (None, _) => Err(PlacementError {
                        field: format!("{field}.type"),
                        message: "required: memberOf or distinctInstance".to_owned(),
                        needs_nodes: false,
                        in_task_definition: false,
                    }),
                }
            })
            .collect()
    }
}

/// Most constraints per task, task definition and request together.
pub const MAX_CONSTRAINTS: usize = 10;

/// Compiles `constraints` (ANDed) and `strategies` for tasks of `group` (the group's label value).
///
/// # Errors
/// [`PlacementError`] naming the field (and the character of an expression).
pub fn place(
    constraints: &[Constraint],
    strategies: &[PlacementStrategy],
    group: &str,
    nodes: Option<&[Node]>,
    options: &Options,
) -> Result<Placement, PlacementError> {
    if constraints.len() > MAX_CONSTRAINTS {
        return Err(PlacementError {
            field: "placementConstraints".to_owned(),
            message: format!(
                "{} constraints with the task definition's; ECS accepts at most {MAX_CONSTRAINTS}",
                constraints.len()
            ),
            needs_nodes: false,
            in_task_definition: false,
        });
    }
    let scope = compile::Scope {
        nodes,
        attribute_prefix: &options.attribute_prefix,
    };
    let mut parsed = Vec::new();
    let mut members: Vec<&Constraint> = Vec::new();
    for c in constraints {
        if let Some(text) = &c.expression {
            let expr = cql::parse(text).map_err(|e| PlacementError {
                field: format!("{}.expression", c.field),
                message: e.to_string(),
                needs_nodes: false,
                in_task_definition: c.in_task_definition,
            })?;
            parsed.push((text.as_str(), expr));
            members.push(c);
        }
    }
    let distinct = constraints
        .iter()
        .any(|c| c.expression.is_none())
        .then_some(group);
    let refs: Vec<(&str, &ast::Expr)> = parsed.iter().map(|(t, e)| (*t, e)).collect();
    let compiled =
        compile::compile_constraints(&refs, distinct, &scope).map_err(|(i, e)| PlacementError {
            field: i.map_or_else(
                || "placementConstraints".to_owned(),
                |i| format!("{}.expression", members[i].field),
            ),
            needs_nodes: e.needs_nodes,
            in_task_definition: i.is_some_and(|i| members[i].in_task_definition),
            message: e.to_string(),
        })?;
    let strategies = strategy::compile_strategies(
        strategies,
        group,
        &options.attribute_prefix,
        options.binpack_scheduler,
    )
    .map_err(|e| PlacementError {
        field: e.field,
        message: e.message,
        needs_nodes: false,
        in_task_definition: false,
    })?;
    let affinity = (compiled.node_affinity.is_some()
        || compiled.pod_affinity.is_some()
        || compiled.pod_anti_affinity.is_some())
    .then_some(Affinity {
        node_affinity: compiled.node_affinity,
        pod_affinity: compiled.pod_affinity,
        pod_anti_affinity: compiled.pod_anti_affinity,
    });
    let mut notes: Vec<(String, String)> = compiled
        .notes
        .into_iter()
        .map(|n| ("placementConstraints".to_owned(), n))
        .collect();
    notes.extend(strategies.notes);
    Ok(Placement {
        affinity,
        topology_spread_constraints: strategies.spread,
        scheduler_name: strategies.scheduler_name,
        notes,
    })
}

/// `ecs-bridge explain`: what one expression compiles to, as JSON (`nodeAffinity`,
/// `podAffinity`, `podAntiAffinity`, `null` when not needed; and `matches`, the names of the
/// `nodes` it selects, when nodes are given). Custom attributes read labels under
/// `attribute_prefix`.
///
/// # Errors
/// The parse or compile error, with its character position.
pub fn explain(
    text: &str,
    nodes: Option<&[Node]>,
    attribute_prefix: &str,
) -> Result<serde_json::Value, String> {
    let expr = cql::parse(text).map_err(|e| e.to_string())?;
    let scope = compile::Scope {
        nodes,
        attribute_prefix,
    };
    let c = compile::compile_expression(text, &expr, &scope).map_err(|e| e.to_string())?;
    let mut out = serde_json::json!({
        "nodeAffinity": c.node_affinity,
        "podAffinity": c.pod_affinity,
        "podAntiAffinity": c.pod_anti_affinity,
    });
    if let Some(nodes) = nodes {
        let matches: Vec<&str> = nodes
            .iter()
            .filter(|n| compile::node_matches(c.node_affinity.as_ref(), n))
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        out["matches"] = serde_json::json!(matches);
    }
    if !c.notes.is_empty() {
        out["notes"] = serde_json::json!(c.notes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn member_of(expression: &str) -> Constraint {
        Constraint {
            field: "placementConstraints[0]".to_owned(),
            expression: Some(expression.to_owned()),
            in_task_definition: false,
        }
    }

    /// The label keys of the node selector's expressions, in order.
    fn node_keys(p: &Placement) -> Vec<String> {
        let value = serde_json::to_value(&p.affinity).expect("json");
        value
            .pointer("/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|t| t["matchExpressions"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["key"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn custom_attributes_use_the_configured_prefix_in_member_of_and_spread() {
        let constraints = [member_of(
            "attribute:stack == prod and attribute:ecs.instance-type == t3.micro",
        )];
        let strategies: Vec<PlacementStrategy> = serde_json::from_value(json!([
            {"type": "spread", "field": "attribute:rack"},
            {"type": "spread", "field": "attribute:ecs.availability-zone"},
        ]))
        .expect("strategies");
        let spread_keys = |p: &Placement| -> Vec<String> {
            p.topology_spread_constraints
                .iter()
                .map(|c| c.topology_key.clone())
                .collect()
        };

        let default = place(&constraints, &strategies, "g", None, &Options::default()).expect("places");
        assert_eq!(
            node_keys(&default),
            ["ecsbridge.io/attr-stack", "node.kubernetes.io/instance-type"]
        );
        assert_eq!(
            spread_keys(&default),
            ["ecsbridge.io/attr-rack", "topology.kubernetes.io/zone"]
        );

        let options = Options {
            attribute_prefix: "example.com/".into(),
            ..Options::default()
        };
        let custom = place(&constraints, &strategies, "g", None, &options).expect("places");
        assert_eq!(
            node_keys(&custom),
            ["example.com/stack", "node.kubernetes.io/instance-type"],
            "built-in attributes keep their well-known labels"
        );
        assert_eq!(
            spread_keys(&custom),
            ["example.com/rack", "topology.kubernetes.io/zone"]
        );
    }

    #[test]
    fn explain_uses_the_configured_prefix() {
        let out = explain("attribute:stack == prod", None, "example.com/attr.").expect("compiles");
        assert_eq!(
            out.pointer(
                "/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/0/key"
            ),
            Some(&json!("example.com/attr.stack"))
        );
    }

    #[test]
    fn a_prefix_too_long_for_an_attribute_is_an_error_naming_the_field() {
        let prefix = format!("example.com/{}-", "a".repeat(60));
        let options = Options {
            attribute_prefix: prefix,
            ..Options::default()
        };
        let err =
            place(&[member_of("attribute:stack == prod")], &[], "g", None, &options).expect_err("too long");
        assert_eq!(err.field, "placementConstraints[0].expression");
        assert!(err.message.contains("rename the attribute"), "{}", err.message);
    }
}
