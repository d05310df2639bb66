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

use std::{cell::RefCell, collections::HashMap, rc::Rc};

use k8s_openapi::api::core::v1::Node;

pub use super::affinity::{CompileError, Compiled, MAX_TERMS, NO_NODE_MATCHES, node_matches};
use super::{
    affinity::{F, Lit, finish},
    ast::{Arg, Atom, Expr, Op, Span, Subject},
    attributes::{self, Mapped},
    order,
};
use crate::translate::labels;

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

/// The distinct label values among `values`, sorted (those that cannot be label values are on no
/// node, so they are left out).
fn label_set<'v>(values: impl IntoIterator<Item = &'v str>) -> Vec<String> {
    let mut values = values.into_iter().filter(|v| attributes::is_label_value(v));
    let Some(first) = values.next() else {
        return Vec::new();
    };
    let Some(second) = values.next() else {
        // The common `== v`: one value, no set to build.
        return vec![first.to_owned()];
    };
    let mut set: Vec<&str> = [first, second].into_iter().chain(values).collect();
    set.sort_unstable();
    set.dedup();
    set.into_iter().map(str::to_owned).collect()
}

/// `In` the label values among `values`.
fn node_in<'v>(key: &str, values: impl IntoIterator<Item = &'v str>) -> F {
    let values = label_set(values);
    if values.is_empty() {
        F::False
    } else {
        node(key, "In", values)
    }
}

/// `NotIn` the label values among `values`.
fn node_not_in<'v>(key: &str, values: impl IntoIterator<Item = &'v str>) -> F {
    let values = label_set(values);
    if values.is_empty() {
        F::True
    } else {
        node(key, "NotIn", values)
    }
}

fn one_value<'a>(text: &str, a: &'a Atom) -> Result<&'a str, CompileError> {
    match &a.arg {
        Arg::Value(v) => Ok(v),
        _ => Err(err(text, a.span, format!("{} takes one value", a.op.symbol()))),
    }
}

fn values(a: &Atom) -> impl Iterator<Item = &str> {
    let list: &[String] = match &a.arg {
        Arg::None => &[],
        Arg::Value(v) => std::slice::from_ref(v),
        Arg::List(vs) => vs,
    };
    list.iter().map(String::as_str)
}

/// How many compiled regular expressions [`regex`] keeps per thread.
const REGEX_CACHE_SIZE: usize = 64;

/// The most memory one compiled pattern may take, and its matching cache: patterns that match
/// instance types and zones need a few kilobytes, and kept patterns must not let one Service's
/// constraint hold megabytes (the `regex` crate's defaults are 10 MB and 2 MB).
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

thread_local! {
    /// Compiled full-match regular expressions (or the compiler's error) by pattern: the operator
    /// compiles the same expressions for every Service that has them, and again whenever nodes
    /// change, and compiling a pattern costs tens of microseconds where matching a label costs
    /// tens of nanoseconds. Shared (`Rc`), not cloned: a cloned `Regex` starts with no matching cache.
    /// Emptied when full.
    static REGEXES: RefCell<HashMap<String, Result<Rc<regex::Regex>, String>>> =
        RefCell::new(HashMap::new());
}

/// A full-match regular expression (Java `String.matches`), compiled once per pattern and thread.
fn regex(text: &str, a: &Atom) -> Result<Rc<regex::Regex>, CompileError> {
    let r = one_value(text, a)?;
    let compiled = REGEXES.with_borrow_mut(|cache| {
        if let Some(hit) = cache.get(r) {
            return hit.clone();
        }
        let compiled = regex::RegexBuilder::new(&format!("^(?:{r})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(Rc::new)
            .map_err(|e| e.to_string());
        if cache.len() >= REGEX_CACHE_SIZE {
            cache.clear();
        }
        cache.insert(r.to_owned(), compiled.clone());
        compiled
    });
    compiled.map_err(|e| {
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

/// The distinct values of label `key` on the known nodes, sorted.
fn label_values<'n>(nodes: &'n [Node], key: &str) -> Vec<&'n str> {
    let mut values: Vec<&str> = nodes
        .iter()
        .filter_map(|n| Some(n.metadata.labels.as_ref()?.get(key)?.as_str()))
        .collect();
    values.sort_unstable();
    values.dedup();
    values
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
    let key = &*m.key;
    let op = if negated { a.op.negated() } else { a.op };
    Ok(match op {
        Op::Eq | Op::In => node_in(key, values(a).map(|v| m.to_label(v))),
        Op::Ne | Op::NotIn => node_not_in(key, values(a).map(|v| m.to_label(v))),
        Op::Exists => node(key, "Exists", Vec::new()),
        Op::NotExists => node(key, "DoesNotExist", Vec::new()),
        Op::Matches | Op::NotMatches => {
            let r = regex(text, a)?;
            let nodes = need_nodes(text, a, ctx, None)?;
            let matching = label_values(nodes, key)
                .into_iter()
                .filter(|v| r.is_match(m.to_ecs(v)));
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
    let key = &*m.key;
    let holds = |label: &str| order::holds(a.op, m.to_ecs(label), arg);
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
    let others = || -> Vec<&str> {
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
    let names = match op {
        Op::Eq | Op::In | Op::Ne | Op::NotIn => pick(&|id| values(a).any(|v| v == id)),
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
        let mut set: Vec<String> = values(a).map(labels::group_label_value).collect();
        set.sort_unstable();
        set.dedup();
        set
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
