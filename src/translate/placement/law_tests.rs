//! The compiler's law: for any expression and any set of nodes, the nodes that ECS's meaning of
//! the expression selects (an evaluator written from ecs-reference §3.5 and the decisions in
//! [`super::compile`]'s docs, sharing no code with the compiler) are exactly the nodes that
//! Kubernetes' meaning of the compiled node affinity selects (a matcher written from the
//! Kubernetes documentation of `NodeSelectorRequirement`:
//! <https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/node-selector-requirement/>).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Node, NodeAffinity, NodeSelectorRequirement, NodeSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use proptest::prelude::*;

use super::{
    ast::{Arg, Atom, Expr, Op, Span, Subject},
    compile::{Scope, compile_expression},
};

/// An ECS container instance, as ECS sees it.
#[derive(Debug, Clone)]
struct Instance {
    id: String,
    attributes: BTreeMap<String, String>,
}

// ----- ECS semantics, from ecs-reference §3.5 ------------------------------------------------

fn full_match(pattern: &str, value: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|r| r.is_match(value))
}

/// The comparison order decided in `order`'s docs: numbers (sign, digits, optional fraction) by
/// value (here in `f64`, exact for the generated values), other strings by character, a number
/// and a non-number unordered.
fn ecs_order(value: &str, arg: &str) -> Option<std::cmp::Ordering> {
    let number = regex::Regex::new(r"^[+-]?[0-9]+(\.[0-9]+)?$").expect("regex");
    match (number.is_match(value), number.is_match(arg)) {
        (true, true) => value.parse::<f64>().ok()?.partial_cmp(&arg.parse::<f64>().ok()?),
        (false, false) => Some(value.cmp(arg)),
        _ => None,
    }
}

fn ecs_atom(a: &Atom, i: &Instance) -> bool {
    let value: Option<&str> = match &a.subject {
        Subject::Attribute(name) => i.attributes.get(name).map(String::as_str),
        Subject::Ec2InstanceId => Some(i.id.as_str()),
        _ => unreachable!("only attributes and instance ids are generated"),
    };
    let list: Vec<&str> = match &a.arg {
        Arg::None => Vec::new(),
        Arg::Value(v) => vec![v.as_str()],
        Arg::List(vs) => vs.iter().map(String::as_str).collect(),
    };
    let compare =
        |f: fn(std::cmp::Ordering) -> bool| value.is_some_and(|v| ecs_order(v, list[0]).is_some_and(f));
    match a.op {
        Op::Eq | Op::In => value.is_some_and(|v| list.contains(&v)),
        Op::Ne | Op::NotIn => !value.is_some_and(|v| list.contains(&v)),
        Op::Exists => value.is_some(),
        Op::NotExists => value.is_none(),
        Op::Matches => value.is_some_and(|v| full_match(list[0], v)),
        Op::NotMatches => !value.is_some_and(|v| full_match(list[0], v)),
        Op::Gt => compare(std::cmp::Ordering::is_gt),
        Op::Ge => compare(std::cmp::Ordering::is_ge),
        Op::Lt => compare(std::cmp::Ordering::is_lt),
        Op::Le => compare(std::cmp::Ordering::is_le),
    }
}

fn ecs(e: &Expr, i: &Instance) -> bool {
    match e {
        Expr::Atom(a) => ecs_atom(a, i),
        Expr::Not(e) => !ecs(e, i),
        Expr::And(es) => es.iter().all(|e| ecs(e, i)),
        Expr::Or(es) => es.iter().any(|e| ecs(e, i)),
    }
}

// ----- Kubernetes semantics, from the NodeSelectorRequirement docs -------------------------

fn k8s_requirement(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&r.key);
    let values = r.values.clone().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => !value.is_some_and(|v| values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" { v > bound } else { v < bound }
        }
        other => panic!("not a node selector operator: {other}"),
    }
}

fn k8s(affinity: Option<&NodeAffinity>, node: &Node) -> bool {
    let Some(selector) =
        affinity.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref())
    else {
        return true;
    };
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let name = node.metadata.name.clone().unwrap_or_default();
    let fields = BTreeMap::from([("metadata.name".to_owned(), name)]);
    // Terms are ORed; a term ANDs its requirements; an empty term matches nothing.
    selector.node_selector_terms.iter().any(|t| {
        let exprs = t.match_expressions.as_deref().unwrap_or_default();
        let field_reqs = t.match_fields.as_deref().unwrap_or_default();
        (!exprs.is_empty() || !field_reqs.is_empty())
            && exprs.iter().all(|r| k8s_requirement(r, &labels))
            && field_reqs.iter().all(|r| {
                assert!(
                    r.values.as_ref().is_some_and(|v| v.len() == 1),
                    "matchFields take exactly one value"
                );
                k8s_requirement(r, &fields)
            })
    })
}

// ----- The instance → node table (the design's, written out again) -------------------------

fn label_of(attribute: &str) -> String {
    match attribute {
        "ecs.availability-zone" => "topology.kubernetes.io/zone".to_owned(),
        "ecs.cpu-architecture" => "kubernetes.io/arch".to_owned(),
        other => format!("ecsbridge.io/attr-{other}"),
    }
}

fn node_of(index: usize, i: &Instance) -> Node {
    let labels = i
        .attributes
        .iter()
        .map(|(k, v)| {
            let v = if k == "ecs.cpu-architecture" && v == "x86_64" {
                "amd64".to_owned()
            } else {
                v.clone()
            };
            (label_of(k), v)
        })
        .collect();
    Node {
        metadata: ObjectMeta {
            name: Some(format!("node-{index}")),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            provider_id: Some(format!("aws:///us-east-1a/{}", i.id)),
            ..NodeSpec::default()
        }),
        status: None,
    }
}

// ----- Generators ---------------------------------------------------------------------------

const ATTRIBUTES: &[&str] = &["ecs.availability-zone", "ecs.cpu-architecture", "stack", "n"];

fn values_of(attribute: &str) -> &'static [&'static str] {
    match attribute {
        "ecs.availability-zone" => &["us-east-1a", "us-east-1b", "eu-west-1a"],
        "ecs.cpu-architecture" => &["x86_64", "arm64"],
        "stack" => &["prod", "dev", "x-1"],
        _ => &[
            "0",
            "1",
            "3",
            "07",
            "10",
            "x",
            "b",
            "1.5",
            "2.50",
            "99999999999999999999",
        ],
    }
}

fn instance() -> impl Strategy<Value = Instance> {
    let attrs = ATTRIBUTES.iter().map(|a| {
        proptest::option::of(proptest::sample::select(values_of(a)))
            .prop_map(move |v| v.map(|v| ((*a).to_owned(), v.to_owned())))
    });
    (
        proptest::sample::select(&["i-1", "i-2", "i-3"][..]),
        attrs.collect::<Vec<_>>(),
    )
        .prop_map(|(id, attrs)| Instance {
            id: id.to_owned(),
            attributes: attrs.into_iter().flatten().collect(),
        })
}

fn atom() -> impl Strategy<Value = Expr> {
    let subject = prop_oneof![
        4 => proptest::sample::select(ATTRIBUTES).prop_map(|a| Subject::Attribute(a.to_owned())),
        1 => Just(Subject::Ec2InstanceId),
    ];
    const OPS: [Op; 12] = [
        Op::Eq,
        Op::Ne,
        Op::In,
        Op::NotIn,
        Op::Exists,
        Op::NotExists,
        Op::Matches,
        Op::NotMatches,
        Op::Gt,
        Op::Ge,
        Op::Lt,
        Op::Le,
    ];
    (subject, proptest::sample::select(&OPS[..]), 0..4usize, 0..8usize).prop_map(|(subject, op, a, b)| {
        // (Expressions may name values no node label can hold, such as "a b" and "-1"; nodes
        // only carry valid label values.)
        let pool: Vec<&str> = match &subject {
            Subject::Attribute(name) => [values_of(name), &["a b", "-1"][..]].concat(),
            _ => vec!["i-1", "i-2", "i-9"],
        };
        let pick = |k: usize| pool[k % pool.len()].to_owned();
        let regexes = [
            "us-.*",
            "x86_.*|arm64",
            "[0-9]+",
            ".*",
            "prod|dev",
            "i-[12]",
            "a b",
            "0?1",
        ];
        // Integers (Kubernetes' Gt and Lt), including the ends of i64, and other arguments.
        let compared = [
            "-1",
            "0",
            "1",
            "3",
            "7",
            "-9223372036854775808",
            "9223372036854775807",
            "1.5",
            "2.5",
            "x",
            "a",
            "2.5000",
            "99999999999999999999",
        ];
        let (op, arg) = match op {
            Op::Eq | Op::Ne => (op, Arg::Value(pick(a))),
            Op::In | Op::NotIn => (op, Arg::List(vec![pick(a), pick(b)])),
            Op::Exists | Op::NotExists => (op, Arg::None),
            Op::Matches | Op::NotMatches => (op, Arg::Value(regexes[b % regexes.len()].to_owned())),
            // (Instance ids are not compared: the compiler refuses it.)
            _ if subject == Subject::Ec2InstanceId => (Op::Eq, Arg::Value(pick(a))),
            _ if a == 0 => (op, Arg::Value(pick(b))),
            _ => (op, Arg::Value(compared[(a * 8 + b) % compared.len()].to_owned())),
        };
        Expr::Atom(Atom {
            subject,
            op,
            arg,
            span: Span::default(),
        })
    })
}

fn expr() -> impl Strategy<Value = Expr> {
    atom().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            proptest::collection::vec(inner, 2..4).prop_map(Expr::Or),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PLACEMENT_LAW_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(100_000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// ECS and Kubernetes select the same nodes (or the expression is refused as too large).
    #[test]
    fn compiled_affinity_selects_the_nodes_ecs_would(
        e in expr(),
        instances in proptest::collection::vec(instance(), 0..6),
    ) {
        let nodes: Vec<Node> = instances.iter().enumerate().map(|(i, x)| node_of(i, x)).collect();
        let ctx = Scope { nodes: Some(&nodes), ..Scope::default() };
        match compile_expression("", &e, &ctx) {
            Ok(c) => {
                prop_assert!(c.pod_affinity.is_none() && c.pod_anti_affinity.is_none());
                for (i, node) in instances.iter().zip(&nodes) {
                    prop_assert_eq!(
                        ecs(&e, i),
                        k8s(c.node_affinity.as_ref(), node),
                        "instance {:?}\nexpression {:?}\naffinity {:?}", i, e, c.node_affinity
                    );
                }
            }
            Err(err) => prop_assert!(err.message.contains("disjunctive normal form"), "{}", err),
        }
    }
}
