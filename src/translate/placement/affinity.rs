//! The compiled form of placement constraints: a formula over Kubernetes requirements (`F`,
//! `Lit`), put in disjunctive normal form and written as node affinity and pod
//! (anti-)affinity ([`Compiled`]); and [`node_matches`], which evaluates node affinity against a
//! node as the scheduler does. [`super::compile`] builds the formula from expressions.

use k8s_openapi::{
    api::core::v1::{
        Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodAffinity,
        PodAffinityTerm, PodAntiAffinity,
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement},
};

use crate::translate::labels;

/// The most `nodeSelectorTerms` an expression may expand to in disjunctive normal form.
pub const MAX_TERMS: usize = 128;

/// The label key of the term that matches no node (no node carries it).
pub const NO_NODE_MATCHES: &str = "ecsbridge.io/no-instance-matches";

/// The topology of "the same container instance".
const HOSTNAME: &str = "kubernetes.io/hostname";

/// Why an expression does not compile: the atom's position and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {position}: {message}")]
pub struct CompileError {
    /// 1-based character position in the expression.
    pub position: usize,
    /// What is wrong, and what to do.
    pub message: String,
    /// Whether the expression compiles once the nodes are known (`=~`, `ec2InstanceId`).
    pub needs_nodes: bool,
}

/// The scheduling rules of a set of constraints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Compiled {
    /// Required node affinity (`None`: every node is fine).
    pub node_affinity: Option<NodeAffinity>,
    /// Required pod affinity (`task:group == g`).
    pub pod_affinity: Option<PodAffinity>,
    /// Required pod anti-affinity (`not(task:group == g)`, `distinctInstance`).
    pub pod_anti_affinity: Option<PodAntiAffinity>,
    /// Approximations worth telling (e.g. "matches no node").
    pub notes: Vec<String>,
}

/// A Kubernetes requirement a literal of the normal form stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Lit {
    /// A node label requirement.
    Node {
        key: String,
        op: &'static str,
        values: Vec<String>,
    },
    /// `metadata.name` of the node (`matchFields`), one name.
    Name { op: &'static str, name: String },
    /// A task group test: anti-affinity when `anti`.
    Group {
        anti: bool,
        op: &'static str,
        values: Vec<String>,
        position: usize,
    },
}

/// A formula over literals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum F {
    True,
    False,
    Lit(Lit),
    And(Vec<F>),
    Or(Vec<F>),
}

/// Disjunctive normal form: an `or` of `and`s of literals, each `and` sorted and deduplicated.
fn dnf(f: F) -> Result<Vec<Vec<Lit>>, usize> {
    Ok(match f {
        F::True => vec![Vec::new()],
        F::False => Vec::new(),
        F::Lit(l) => vec![vec![l]],
        F::Or(parts) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(dnf(p)?);
                if out.len() > MAX_TERMS {
                    return Err(out.len());
                }
            }
            out
        }
        F::And(mut parts) if parts.len() == 1 => dnf(parts.swap_remove(0))?,
        F::And(parts) => {
            let mut acc: Vec<Vec<Lit>> = vec![Vec::new()];
            for p in parts {
                let terms = dnf(p)?;
                let size = acc.len().saturating_mul(terms.len());
                if size > MAX_TERMS {
                    return Err(size);
                }
                acc = acc
                    .iter()
                    .flat_map(|a| {
                        terms.iter().map(move |t| {
                            let mut term = a.clone();
                            term.extend(t.iter().cloned());
                            term.sort();
                            term.dedup();
                            term
                        })
                    })
                    .collect();
            }
            acc
        }
    })
}

/// The scheduling rules `f` stands for, with pod anti-affinity to `distinct_group` (a
/// `distinctInstance` constraint) when given.
///
/// # Errors
/// When the normal form has more than [`MAX_TERMS`] terms, or a `task:group` test sits inside
/// an `or`.
pub(super) fn finish(f: F, distinct_group: Option<&str>) -> Result<Compiled, CompileError> {
    let mut terms = dnf(f).map_err(|size| CompileError {
        position: 1,
        needs_nodes: false,
        message: format!(
            "the expression expands to at least {size} alternatives in disjunctive normal form, \
             more than the {MAX_TERMS} node selector terms ecs-bridge writes; factor common \
             conditions out of the `or`s (or split the constraint)"
        ),
    })?;
    terms.sort();
    terms.dedup();
    let mut compiled = Compiled::default();
    // Group tests: the same in every alternative.
    let groups_of = |t: &[Lit]| -> Vec<Lit> {
        t.iter()
            .filter(|l| matches!(l, Lit::Group { .. }))
            .cloned()
            .collect()
    };
    let mut groups: Vec<Lit> = terms.first().map(|t| groups_of(t)).unwrap_or_default();
    let any_group = terms.iter().flatten().any(|l| matches!(l, Lit::Group { .. }));
    if let Some(bad) = terms.iter().find(|t| any_group && groups_of(t) != groups) {
        let position = groups_of(bad)
            .into_iter()
            .chain(groups.iter().cloned())
            .find_map(|l| match l {
                Lit::Group { position, .. } => Some(position),
                _ => None,
            })
            .unwrap_or(1);
        return Err(CompileError {
            position,
            needs_nodes: false,
            message: "task:group under an `or` cannot be expressed: Kubernetes requires every pod \
                      (anti-)affinity term at once; keep task:group tests outside `or`s"
                .to_owned(),
        });
    }
    if let Some(group) = distinct_group {
        groups.push(Lit::Group {
            anti: true,
            op: "In",
            values: vec![group.to_owned()],
            position: 1,
        });
    }
    let node_terms: Vec<Vec<Lit>> = terms
        .into_iter()
        .map(|t| {
            t.into_iter()
                .filter(|l| !matches!(l, Lit::Group { .. }))
                .collect()
        })
        .collect();
    if node_terms.is_empty() {
        compiled.notes.push(
            "no node can satisfy the placement constraints: the tasks stay Pending, as ECS \
             would not place them"
                .to_owned(),
        );
        compiled.node_affinity = Some(required(vec![NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: NO_NODE_MATCHES.to_owned(),
                operator: "Exists".to_owned(),
                values: None,
            }]),
            match_fields: None,
        }]));
    } else if node_terms.iter().all(|t| !t.is_empty()) {
        compiled.node_affinity = Some(required(node_terms.into_iter().map(selector_term).collect()));
    }
    let (anti, affine): (Vec<Lit>, Vec<Lit>) = groups
        .into_iter()
        .partition(|l| matches!(l, Lit::Group { anti: true, .. }));
    if !affine.is_empty() {
        compiled.pod_affinity = Some(PodAffinity {
            required_during_scheduling_ignored_during_execution: Some(affine.iter().map(pod_term).collect()),
            ..PodAffinity::default()
        });
    }
    if !anti.is_empty() {
        let mut terms: Vec<PodAffinityTerm> = anti.iter().map(pod_term).collect();
        terms.dedup();
        compiled.pod_anti_affinity = Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(terms),
            ..PodAntiAffinity::default()
        });
    }
    Ok(compiled)
}

fn required(terms: Vec<NodeSelectorTerm>) -> NodeAffinity {
    NodeAffinity {
        required_during_scheduling_ignored_during_execution: Some(NodeSelector {
            node_selector_terms: terms,
        }),
        ..NodeAffinity::default()
    }
}

fn selector_term(lits: Vec<Lit>) -> NodeSelectorTerm {
    let mut exprs = Vec::new();
    let mut fields = Vec::new();
    for l in lits {
        match l {
            Lit::Node { key, op, values } => exprs.push(NodeSelectorRequirement {
                key,
                operator: op.to_owned(),
                values: (!values.is_empty()).then_some(values),
            }),
            Lit::Name { op, name } => fields.push(NodeSelectorRequirement {
                key: "metadata.name".to_owned(),
                operator: op.to_owned(),
                values: Some(vec![name]),
            }),
            Lit::Group { .. } => {}
        }
    }
    NodeSelectorTerm {
        match_expressions: (!exprs.is_empty()).then_some(exprs),
        match_fields: (!fields.is_empty()).then_some(fields),
    }
}

fn pod_term(l: &Lit) -> PodAffinityTerm {
    let (op, values) = match l {
        Lit::Group { op, values, .. } => (*op, values.clone()),
        _ => ("Exists", Vec::new()),
    };
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: labels::GROUP.to_owned(),
                operator: op.to_owned(),
                values: (!values.is_empty()).then_some(values),
            }]),
            match_labels: None,
        }),
        topology_key: HOSTNAME.to_owned(),
        ..PodAffinityTerm::default()
    }
}

/// Whether `node` satisfies `affinity`'s required node selector (any term; a term's
/// requirements all; `Gt`/`Lt` on integers), as the scheduler reads it.
#[must_use]
pub fn node_matches(affinity: Option<&NodeAffinity>, node: &Node) -> bool {
    let Some(selector) =
        affinity.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref())
    else {
        return true;
    };
    let empty = std::collections::BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let name = node.metadata.name.clone().unwrap_or_default();
    let holds = |r: &NodeSelectorRequirement, value: Option<&String>| {
        let values = r.values.as_deref().unwrap_or_default();
        let int = |s: &str| s.parse::<i64>().ok();
        match r.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => !value.is_some_and(|v| values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            "Gt" => {
                matches!((value.and_then(|v| int(v)), values.first().and_then(|b| int(b))), (Some(v), Some(b)) if v > b)
            }
            "Lt" => {
                matches!((value.and_then(|v| int(v)), values.first().and_then(|b| int(b))), (Some(v), Some(b)) if v < b)
            }
            _ => false,
        }
    };
    selector.node_selector_terms.iter().any(|t| {
        let exprs = t.match_expressions.as_deref().unwrap_or_default();
        let fields = t.match_fields.as_deref().unwrap_or_default();
        (!exprs.is_empty() || !fields.is_empty())
            && exprs.iter().all(|r| holds(r, labels.get(&r.key)))
            && fields
                .iter()
                .all(|r| holds(r, (r.key == "metadata.name").then_some(&name)))
    })
}
