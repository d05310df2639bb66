//! `memberOf` expressions and `distinctInstance` → node affinity and pod (anti-)affinity.
//!
//! # How an expression compiles
//!
//! 1. Negations are pushed to the atoms (`not(a and b)` = `not a or not b`), and each atom,
//!    negated or not, becomes a small formula of Kubernetes requirements (below).
//! 2. The formula is put in disjunctive normal form: an `or` of `and`s. Each `and` of node
//!    requirements is one `nodeSelectorTerm` of `requiredDuringSchedulingIgnoredDuringExecution`
//!    (terms are ORed, the requirements of a term ANDed, as in Kubernetes). The form can grow
//!    exponentially (an `and` of ten two-way `or`s has 1,024 terms): past [`MAX_TERMS`] terms,
//!    the expression is refused with an error that says so.
//! 3. `task:group` tests become required pod affinity (and anti-affinity) terms over
//!    `kubernetes.io/hostname` on the `ecsbridge.io/group` label. Kubernetes ANDs those terms,
//!    so a `task:group` test must hold in every alternative: inside an `or` it is an error.
//!
//! # Atoms (\[INF\] decisions of ecs-reference §3.5, fixed here)
//!
//! On attributes (mapped to node labels by [`super::attributes`]):
//!
//! | ECS | true when | Kubernetes |
//! |---|---|---|
//! | `== v` | the attribute is present and equal to `v` | `In [v]` |
//! | `!= v` | absent, or not `v` (the negation of `==`) | `NotIn [v]` |
//! | `in [..]`, `!in [..]` | likewise, over a list | `In`, `NotIn` |
//! | `exists`, `!exists` | present, absent | `Exists`, `DoesNotExist` |
//! | `=~ r`, `!~ r` | present and `r` matches the whole value (Java `String.matches`); the negation | `In`/`NotIn` the values of the known nodes' labels that `r` matches |
//! | `> v`, `>= v`, `< v`, `<= v` | present, and ordered so by [`super::order`] (numbers by value, other strings by character; a number and a non-number unordered) | 64-bit integer `v`: `Gt v`, `Gt v-1`, `Lt v`, `Lt v+1`, or `In` the known values that are not 64-bit integers and compare so; other `v`: `In` the known values that compare so |
//! | `not(> v)` ... | absent, unordered, or the opposite comparison | integer `v`: the opposite `Gt`/`Lt`, or `DoesNotExist`, or `In` the known non-integer values that do not compare so; other `v`: `NotIn` the known values that compare so |
//!
//! Kubernetes compares labels as 64-bit integers only (`Gt`, `Lt`), so everything else is
//! evaluated against the label values of the known nodes (`--nodes` for the CLI, the live Node
//! list in the operator, which compiles again when nodes or their labels change): regular
//! expressions, comparisons with an argument that is not a 64-bit integer (`> 2.5`,
//! `>= 2024-01`), and the node values that are not 64-bit integers. Without nodes, `=~` and
//! those comparisons are errors, and an integer comparison sees only integer labels. A value
//! that cannot be a label value is never on a node: `== v` is false and `!= v` true.
//!
//! `ec2InstanceId` compares with the instance id of each known node (the last segment of
//! `spec.providerID`, `aws:///us-east-1a/i-0abc` → `i-0abc`) and becomes `matchFields` on
//! `metadata.name` (one name per requirement, as Kubernetes requires).
//!
//! `task:group == g` (or `in`, `exists`) → required pod affinity: the instance already runs a
//! task of `g`; its negation (`!=`, `not(...)`, `!in`, `!exists`) → required pod anti-affinity
//! (\[INF\]: `!=` read as "no task of `g`", like `not(task:group == g)`). `=~` and comparisons on
//! groups are errors. (Kubernetes lets the first pod of a group schedule when its own labels
//! match its affinity and no pod matches yet; ECS would place no task.)
//!
//! `registeredAt`, `runningTasksCount`, `agentVersion` and `agentConnected` describe ECS agents
//! and instances' task counts, which Kubernetes nodes do not have: errors, with their position.
//!
//! An expression that no node can satisfy is kept as a term matching no node
//! ([`NO_NODE_MATCHES`]), so that pods stay Pending as ECS would leave tasks unplaced; one that
//! every node satisfies adds no node affinity.

use std::collections::BTreeSet;

use k8s_openapi::{
    api::core::v1::{
        Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodAffinity,
        PodAffinityTerm, PodAntiAffinity,
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement},
};

use super::{
    ast::{Arg, Atom, Expr, Op, Span, Subject},
    attributes::{self, Mapped},
    order,
};
use crate::translate::labels;

/// The most `nodeSelectorTerms` an expression may expand to in disjunctive normal form.
pub const MAX_TERMS: usize = 128;

/// The label key of the term that matches no node (no node carries it).
pub const NO_NODE_MATCHES: &str = "ecsbridge.io/no-instance-matches";

/// The topology of "the same container instance".
const HOSTNAME: &str = "kubernetes.io/hostname";

/// What the compiler knows besides the expressions.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The known nodes (`None`: unknown, e.g. `render` without `--nodes`).
    pub nodes: Option<&'a [Node]>,
    /// The label prefix of custom attributes.
    pub attribute_prefix: &'a str,
}

impl Default for Scope<'_> {
    fn default() -> Self {
        Self {
            nodes: None,
            attribute_prefix: attributes::DEFAULT_PREFIX,
        }
    }
}

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
enum Lit {
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
enum F {
    True,
    False,
    Lit(Lit),
    And(Vec<F>),
    Or(Vec<F>),
}

/// Compiles `expr` (the text `text` parsed) alone.
///
/// # Errors
/// [`CompileError`] at the offending atom, or at character 1 when the normal form is too large.
pub fn compile_expression(text: &str, expr: &Expr, ctx: &Scope<'_>) -> Result<Compiled, CompileError> {
    let f = formula(text, expr, ctx)?;
    finish(f, None)
}

/// Compiles several constraints together (ANDed, as ECS combines task definition and service
/// constraints): each `(text, expr)` a `memberOf`, plus `distinct_group` for `distinctInstance`
/// (the label value of the task's own group).
///
/// # Errors
/// [`CompileError`] of the first failing expression (with its index), or of the combination.
pub fn compile_constraints(
    exprs: &[(&str, &Expr)],
    distinct_group: Option<&str>,
    ctx: &Scope<'_>,
) -> Result<Compiled, (Option<usize>, CompileError)> {
    let mut parts = Vec::new();
    for (i, (text, expr)) in exprs.iter().enumerate() {
        parts.push(formula(text, expr, ctx).map_err(|e| (Some(i), e))?);
    }
    finish(F::And(parts), distinct_group).map_err(|e| (None, e))
}

fn err(text: &str, span: Span, message: impl Into<String>) -> CompileError {
    CompileError {
        position: span.position_in(text),
        message: message.into(),
        needs_nodes: false,
    }
}

/// `expr` with negations pushed to the atoms, each atom compiled.
fn formula(text: &str, expr: &Expr, ctx: &Scope<'_>) -> Result<F, CompileError> {
    nnf(text, expr, false, ctx)
}

fn nnf(text: &str, expr: &Expr, negated: bool, ctx: &Scope<'_>) -> Result<F, CompileError> {
    Ok(match expr {
        Expr::Atom(a) => atom(text, a, negated, ctx)?,
        Expr::Not(e) => nnf(text, e, !negated, ctx)?,
        Expr::And(es) | Expr::Or(es) => {
            let parts = es
                .iter()
                .map(|e| nnf(text, e, negated, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            // De Morgan: a negated `and` is an `or` of the negations, and the other way round.
            if matches!(expr, Expr::And(_)) != negated {
                F::And(parts)
            } else {
                F::Or(parts)
            }
        }
    })
}

fn node(key: &str, op: &'static str, values: Vec<String>) -> F {
    F::Lit(Lit::Node {
        key: key.to_owned(),
        op,
        values,
    })
}

/// `In` the label values among `values` (those that cannot be label values are on no node).
fn node_in(key: &str, values: impl IntoIterator<Item = String>) -> F {
    let values: BTreeSet<String> = values
        .into_iter()
        .filter(|v| attributes::is_label_value(v))
        .collect();
    if values.is_empty() {
        F::False
    } else {
        node(key, "In", values.into_iter().collect())
    }
}

/// `NotIn` the label values among `values`.
fn node_not_in(key: &str, values: impl IntoIterator<Item = String>) -> F {
    let values: BTreeSet<String> = values
        .into_iter()
        .filter(|v| attributes::is_label_value(v))
        .collect();
    if values.is_empty() {
        F::True
    } else {
        node(key, "NotIn", values.into_iter().collect())
    }
}

fn one_value<'a>(text: &str, a: &'a Atom) -> Result<&'a str, CompileError> {
    match &a.arg {
        Arg::Value(v) => Ok(v),
        _ => Err(err(text, a.span, format!("{} takes one value", a.op.symbol()))),
    }
}

fn values(a: &Atom) -> Vec<&str> {
    match &a.arg {
        Arg::None => Vec::new(),
        Arg::Value(v) => vec![v.as_str()],
        Arg::List(vs) => vs.iter().map(String::as_str).collect(),
    }
}

/// A full-match regular expression (Java `String.matches`).
fn regex(text: &str, a: &Atom) -> Result<regex::Regex, CompileError> {
    let r = one_value(text, a)?;
    regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| {
        err(
            text,
            a.span,
            format!("{r:?} is not a regular expression this operator supports: {e}"),
        )
    })
}

/// The known nodes, or an error saying that `what` (by default the atom's subject and operator)
/// needs them.
fn need_nodes<'a>(
    text: &str,
    a: &Atom,
    ctx: &Scope<'a>,
    what: Option<&str>,
) -> Result<&'a [Node], CompileError> {
    ctx.nodes.ok_or_else(|| CompileError {
        needs_nodes: true,
        ..err(
            text,
            a.span,
            format!(
                "{} is evaluated against the nodes: give them (ecs-bridge render/explain \
                 --nodes, e.g. from `kubectl get nodes -o yaml`); the operator uses the live nodes",
                what.map_or_else(|| format!("{} {}", a.subject, a.op.symbol()), str::to_owned)
            ),
        )
    })
}

/// The distinct values of label `key` on the known nodes.
fn label_values(nodes: &[Node], key: &str) -> BTreeSet<String> {
    nodes
        .iter()
        .filter_map(|n| n.metadata.labels.as_ref()?.get(key).cloned())
        .collect()
}

fn atom(text: &str, a: &Atom, negated: bool, ctx: &Scope<'_>) -> Result<F, CompileError> {
    match &a.subject {
        Subject::Attribute(name) => {
            let mapped = attributes::map(name, ctx.attribute_prefix).map_err(|m| err(text, a.span, m))?;
            attribute(text, a, &mapped, negated, ctx)
        }
        Subject::Ec2InstanceId => ec2_instance(text, a, negated, ctx),
        Subject::TaskGroup => group(text, a, negated),
        other => Err(err(
            text,
            a.span,
            format!(
                "{other} describes ECS container instances and agents; Kubernetes nodes have no \
                 such property, so it cannot be a scheduling rule: remove the condition (or use \
                 an attribute, mapped to a node label)"
            ),
        )),
    }
}

fn attribute(text: &str, a: &Atom, m: &Mapped, negated: bool, ctx: &Scope<'_>) -> Result<F, CompileError> {
    let key = m.key.as_str();
    let op = if negated { a.op.negated() } else { a.op };
    Ok(match op {
        Op::Eq | Op::In => node_in(key, values(a).into_iter().map(|v| m.to_label(v))),
        Op::Ne | Op::NotIn => node_not_in(key, values(a).into_iter().map(|v| m.to_label(v))),
        Op::Exists => node(key, "Exists", Vec::new()),
        Op::NotExists => node(key, "DoesNotExist", Vec::new()),
        Op::Matches | Op::NotMatches => {
            let r = regex(text, a)?;
            let nodes = need_nodes(text, a, ctx, None)?;
            let matching = label_values(nodes, key)
                .into_iter()
                .filter(|v| r.is_match(&m.to_ecs(v)));
            if op == Op::Matches {
                node_in(key, matching)
            } else {
                node_not_in(key, matching)
            }
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => comparison(text, a, m, negated, ctx)?,
    })
}

/// `attribute op v` for a comparison `op` (the atom's), or its negation.
fn comparison(text: &str, a: &Atom, m: &Mapped, negated: bool, ctx: &Scope<'_>) -> Result<F, CompileError> {
    let arg = one_value(text, a)?;
    let key = m.key.as_str();
    let holds = |label: &String| order::holds(a.op, &m.to_ecs(label), arg);
    // `x > n` ⇔ Gt n; `x >= n` ⇔ Gt n-1; `x < n` ⇔ Lt n; `x <= n` ⇔ Lt n+1 (on integer labels).
    let bound = arg.parse::<i64>().ok().and_then(|n| match (a.op, negated) {
        (Op::Gt, false) | (Op::Le, true) => Some(("Gt", n)),
        (Op::Ge, false) | (Op::Lt, true) => Some(("Gt", n.checked_sub(1)?)),
        (Op::Lt, false) | (Op::Ge, true) => Some(("Lt", n)),
        _ => Some(("Lt", n.checked_add(1)?)),
    });
    let Some((k8s_op, bound)) = bound else {
        // Kubernetes cannot compare with `arg`: list the known values that compare.
        let what = format!(
            "{} {} {arg} (Kubernetes compares labels with 64-bit integers only)",
            a.subject,
            a.op.symbol()
        );
        let nodes = need_nodes(text, a, ctx, Some(&what))?;
        let matching = label_values(nodes, key).into_iter().filter(|v| holds(v));
        return Ok(if negated {
            node_not_in(key, matching)
        } else {
            node_in(key, matching)
        });
    };
    // The known values `Gt`/`Lt` cannot read (not 64-bit integers) where the (negated) atom holds.
    let others = || -> Vec<String> {
        ctx.nodes
            .map(|nodes| {
                label_values(nodes, key)
                    .into_iter()
                    .filter(|v| v.parse::<i64>().is_err() && holds(v) != negated)
                    .collect()
            })
            .unwrap_or_default()
    };
    let integers = node(key, k8s_op, vec![bound.to_string()]);
    Ok(if negated {
        // The negation also holds where the label is absent or unordered.
        F::Or(vec![
            integers,
            node(key, "DoesNotExist", Vec::new()),
            node_in(key, others()),
        ])
    } else {
        F::Or(vec![integers, node_in(key, others())])
    })
}

/// The EC2 instance id of a node: the last segment of `spec.providerID`.
#[must_use]
pub fn instance_id(node: &Node) -> Option<&str> {
    let provider = node.spec.as_ref()?.provider_id.as_deref()?;
    provider.rsplit('/').next().filter(|s| !s.is_empty())
}

fn ec2_instance(text: &str, a: &Atom, negated: bool, ctx: &Scope<'_>) -> Result<F, CompileError> {
    let op = if negated { a.op.negated() } else { a.op };
    let nodes = need_nodes(text, a, ctx, None)?;
    let ids: Vec<(&str, &str)> = nodes
        .iter()
        .filter_map(|n| Some((n.metadata.name.as_deref()?, instance_id(n)?)))
        .collect();
    let pick = |f: &dyn Fn(&str) -> bool| -> Vec<String> {
        ids.iter()
            .filter(|(_, id)| f(id))
            .map(|(n, _)| (*n).to_owned())
            .collect()
    };
    let listed = values(a);
    let names = match op {
        Op::Eq | Op::In | Op::Ne | Op::NotIn => pick(&|id| listed.contains(&id)),
        Op::Matches | Op::NotMatches => {
            let r = regex(text, a)?;
            pick(&|id| r.is_match(id))
        }
        Op::Exists | Op::NotExists => pick(&|_| true),
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            return Err(err(
                text,
                a.span,
                format!("ec2InstanceId cannot be compared with {}", a.op.symbol()),
            ));
        }
    };
    let positive = matches!(op, Op::Eq | Op::In | Op::Matches | Op::Exists);
    Ok(if positive {
        // One name per requirement: a node is one of them.
        F::Or(
            names
                .into_iter()
                .map(|name| F::Lit(Lit::Name { op: "In", name }))
                .collect(),
        )
    } else {
        F::And(
            names
                .into_iter()
                .map(|name| F::Lit(Lit::Name { op: "NotIn", name }))
                .collect(),
        )
    })
}

fn group(text: &str, a: &Atom, negated: bool) -> Result<F, CompileError> {
    let position = a.span.position_in(text);
    let lit = |anti: bool, op: &'static str, values: Vec<String>| {
        F::Lit(Lit::Group {
            anti,
            op,
            values,
            position,
        })
    };
    let encoded = || {
        values(a)
            .into_iter()
            .map(labels::group_label_value)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    };
    Ok(match a.op {
        Op::Eq | Op::In => lit(negated, "In", encoded()),
        Op::Ne | Op::NotIn => lit(!negated, "In", encoded()),
        Op::Exists => lit(negated, "Exists", Vec::new()),
        Op::NotExists => lit(!negated, "Exists", Vec::new()),
        op => {
            return Err(err(
                text,
                a.span,
                format!(
                    "task:group supports ==, !=, in, !in, exists and !exists (affinity and \
                     anti-affinity to groups), not {}",
                    op.symbol()
                ),
            ));
        }
    })
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

fn finish(f: F, distinct_group: Option<&str>) -> Result<Compiled, CompileError> {
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
    if let Some(bad) = terms.iter().find(|t| groups_of(t) != groups) {
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
        compiled.node_affinity = Some(required(node_terms.iter().map(|t| selector_term(t)).collect()));
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

fn selector_term(lits: &[Lit]) -> NodeSelectorTerm {
    let mut exprs = Vec::new();
    let mut fields = Vec::new();
    for l in lits {
        match l {
            Lit::Node { key, op, values } => exprs.push(NodeSelectorRequirement {
                key: key.clone(),
                operator: (*op).to_owned(),
                values: (!values.is_empty()).then(|| values.clone()),
            }),
            Lit::Name { op, name } => fields.push(NodeSelectorRequirement {
                key: "metadata.name".to_owned(),
                operator: (*op).to_owned(),
                values: Some(vec![name.clone()]),
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
