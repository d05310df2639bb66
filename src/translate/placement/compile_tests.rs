//! What each operator compiles to, written out by hand from the table in [`super::compile`]'s
//! docs (the law in `law_tests` checks the meaning; these pin the form).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Node, NodeSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::{
    compile::{CompileError, Compiled, MAX_TERMS, NO_NODE_MATCHES, Scope, compile_expression},
    cql,
};

/// A node with `labels` and, when given, EC2 instance `id`.
fn node(name: &str, labels: &[(&str, &str)], id: Option<&str>) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            provider_id: id.map(|id| format!("aws:///us-east-1a/{id}")),
            ..NodeSpec::default()
        }),
        status: None,
    }
}

fn run(text: &str, nodes: Option<&[Node]>) -> Result<Compiled, CompileError> {
    let expr = cql::parse(text).expect("parses");
    compile_expression(
        text,
        &expr,
        &Scope {
            nodes,
            ..Scope::default()
        },
    )
}

/// The node selector terms, each as `key op values` strings (`matchFields` prefixed `field:`).
fn terms(text: &str, nodes: Option<&[Node]>) -> Vec<Vec<String>> {
    let c = run(text, nodes).unwrap_or_else(|e| panic!("{text}: {e}"));
    let Some(selector) = c
        .node_affinity
        .and_then(|a| a.required_during_scheduling_ignored_during_execution)
    else {
        return Vec::new();
    };
    selector
        .node_selector_terms
        .into_iter()
        .map(|t| {
            let show = |prefix: &str, r: &k8s_openapi::api::core::v1::NodeSelectorRequirement| {
                let values = r.values.clone().unwrap_or_default().join(",");
                format!("{prefix}{} {} {values}", r.key, r.operator)
                    .trim_end()
                    .to_owned()
            };
            let mut out: Vec<String> = t
                .match_expressions
                .unwrap_or_default()
                .iter()
                .map(|r| show("", r))
                .collect();
            out.extend(
                t.match_fields
                    .unwrap_or_default()
                    .iter()
                    .map(|r| show("field:", r)),
            );
            out
        })
        .collect()
}

const ZONE: &str = "topology.kubernetes.io/zone";

fn one(term: &str) -> Vec<Vec<String>> {
    vec![vec![term.to_owned()]]
}

#[test]
fn equality_lists_and_existence() {
    assert_eq!(
        terms("attribute:ecs.availability-zone == us-east-1a", None),
        one(&format!("{ZONE} In us-east-1a"))
    );
    assert_eq!(
        terms("attribute:ecs.availability-zone != us-east-1a", None),
        one(&format!("{ZONE} NotIn us-east-1a"))
    );
    assert_eq!(
        terms("attribute:ecs.instance-type in [t3.small, 'm5.large']", None),
        one("node.kubernetes.io/instance-type In m5.large,t3.small")
    );
    assert_eq!(
        terms("attribute:stack !in [prod, dev]", None),
        one("ecsbridge.io/attr-stack NotIn dev,prod")
    );
    assert_eq!(
        terms("attribute:gpu exists", None),
        one("ecsbridge.io/attr-gpu Exists")
    );
    assert_eq!(
        terms("attribute:gpu !exists", None),
        one("ecsbridge.io/attr-gpu DoesNotExist")
    );
    // The ECS architecture name becomes the Kubernetes one.
    assert_eq!(
        terms("attribute:ecs.cpu-architecture == x86_64", None),
        one("kubernetes.io/arch In amd64")
    );
}

#[test]
fn negation_goes_to_the_leaves() {
    // not(a and b) = not a or not b: two terms.
    assert_eq!(
        terms("not(attribute:stack == prod and attribute:gpu exists)", None),
        vec![
            vec!["ecsbridge.io/attr-gpu DoesNotExist".to_owned()],
            vec!["ecsbridge.io/attr-stack NotIn prod".to_owned()],
        ]
    );
    // (a or b) and c: one term per alternative, each with c.
    assert_eq!(
        terms(
            "(attribute:stack == a or attribute:stack == b) and attribute:gpu exists",
            None
        ),
        vec![
            vec![
                "ecsbridge.io/attr-gpu Exists".to_owned(),
                "ecsbridge.io/attr-stack In a".to_owned()
            ],
            vec![
                "ecsbridge.io/attr-gpu Exists".to_owned(),
                "ecsbridge.io/attr-stack In b".to_owned()
            ],
        ]
    );
}

#[test]
fn integer_comparisons_are_gt_and_lt_off_by_one_for_or_equal() {
    for (op, want) in [(">", "Gt 3"), (">=", "Gt 2"), ("<", "Lt 3"), ("<=", "Lt 4")] {
        assert_eq!(
            terms(&format!("attribute:cores {op} 3"), None),
            one(&format!("ecsbridge.io/attr-cores {want}")),
            "{op}"
        );
    }
    // The negation also holds where the label is absent.
    assert_eq!(
        terms("not(attribute:cores >= 3)", None),
        vec![
            vec!["ecsbridge.io/attr-cores DoesNotExist".to_owned()],
            vec!["ecsbridge.io/attr-cores Lt 3".to_owned()],
        ]
    );
}

#[test]
fn integer_comparisons_list_the_known_values_gt_and_lt_cannot_read() {
    let nodes = [
        node("a", &[("ecsbridge.io/attr-cores", "2.5")], None),
        node("b", &[("ecsbridge.io/attr-cores", "1.5")], None),
        node("c", &[("ecsbridge.io/attr-cores", "x")], None),
        node("d", &[("ecsbridge.io/attr-cores", "4")], None),
    ];
    assert_eq!(
        terms("attribute:cores > 2", Some(&nodes)),
        vec![
            vec!["ecsbridge.io/attr-cores Gt 2".to_owned()],
            vec!["ecsbridge.io/attr-cores In 2.5".to_owned()],
        ]
    );
    // Not greater: 1.5, and x (a non-number is unordered against 2).
    assert_eq!(
        terms("not(attribute:cores > 2)", Some(&nodes)),
        vec![
            vec!["ecsbridge.io/attr-cores DoesNotExist".to_owned()],
            vec!["ecsbridge.io/attr-cores In 1.5,x".to_owned()],
            vec!["ecsbridge.io/attr-cores Lt 3".to_owned()],
        ]
    );
}

#[test]
fn other_comparisons_are_evaluated_against_the_nodes() {
    let err = run("attribute:cores > 2.5", None).expect_err("needs nodes");
    assert!(err.needs_nodes);
    assert_eq!(err.position, 1);
    assert!(
        err.message.contains("64-bit integers") && err.message.contains("--nodes"),
        "{}",
        err.message
    );

    let nodes = [
        node(
            "a",
            &[
                ("ecsbridge.io/attr-cores", "2.75"),
                ("ecsbridge.io/attr-release", "2024-01"),
            ],
            None,
        ),
        node(
            "b",
            &[
                ("ecsbridge.io/attr-cores", "3"),
                ("ecsbridge.io/attr-release", "2024-03"),
            ],
            None,
        ),
        node("c", &[("ecsbridge.io/attr-cores", "2")], None),
    ];
    assert_eq!(
        terms("attribute:cores > 2.5", Some(&nodes)),
        one("ecsbridge.io/attr-cores In 2.75,3")
    );
    assert_eq!(
        terms("attribute:release >= 2024-02", Some(&nodes)),
        one("ecsbridge.io/attr-release In 2024-03")
    );
    assert_eq!(
        terms("not(attribute:release >= 2024-02)", Some(&nodes)),
        one("ecsbridge.io/attr-release NotIn 2024-03")
    );
    // Past the ends of i64 there is no Gt/Lt bound: the nodes decide.
    assert_eq!(
        terms("attribute:cores >= -9223372036854775808", Some(&nodes)),
        one("ecsbridge.io/attr-cores In 2,2.75,3")
    );
}

#[test]
fn regular_expressions_match_whole_values_of_the_known_nodes() {
    let err = run("attribute:ecs.instance-type =~ t2.*", None).expect_err("needs nodes");
    assert!(err.needs_nodes && err.message.contains("=~"), "{}", err.message);
    let nodes = [
        node("a", &[("node.kubernetes.io/instance-type", "t2.small")], None),
        node("b", &[("node.kubernetes.io/instance-type", "t3.small")], None),
        node("c", &[("node.kubernetes.io/instance-type", "xt2.small")], None),
    ];
    assert_eq!(
        terms("attribute:ecs.instance-type =~ t2.*", Some(&nodes)),
        one("node.kubernetes.io/instance-type In t2.small")
    );
    assert_eq!(
        terms("attribute:ecs.instance-type !~ t2.*", Some(&nodes)),
        one("node.kubernetes.io/instance-type NotIn t2.small")
    );
    // A pattern too large to keep is refused where it stands (twice: once compiled, once kept).
    for _ in 0..2 {
        let err =
            run(r"attribute:ecs.instance-type =~ '(?:\w{50}){20}'", Some(&nodes)).expect_err("too large");
        assert_eq!(err.position, 1, "{}", err.message);
        assert!(
            err.message
                .contains("is not a regular expression this operator supports")
                && err.message.contains("size limit"),
            "{}",
            err.message
        );
    }
}

#[test]
fn instance_ids_become_node_names() {
    let nodes = [
        node("ip-10-0-0-1", &[], Some("i-1")),
        node("ip-10-0-0-2", &[], Some("i-2")),
        node("ip-10-0-0-3", &[], Some("i-3")),
    ];
    assert_eq!(
        terms("ec2InstanceId in ['i-1', 'i-3']", Some(&nodes)),
        vec![
            vec!["field:metadata.name In ip-10-0-0-1".to_owned()],
            vec!["field:metadata.name In ip-10-0-0-3".to_owned()],
        ]
    );
    assert_eq!(
        terms("ec2InstanceId != i-2", Some(&nodes)),
        one("field:metadata.name NotIn ip-10-0-0-2")
    );
    let err = run("ec2InstanceId > i-2", Some(&nodes)).expect_err("no order on ids");
    assert!(err.message.contains("cannot be compared"), "{}", err.message);
}

#[test]
fn task_groups_become_pod_affinity_and_anti_affinity() {
    let c = run("task:group == service:web", None).expect("compiles");
    let affinity = serde_json::to_value(c.pod_affinity).expect("json");
    assert_eq!(
        affinity["requiredDuringSchedulingIgnoredDuringExecution"][0],
        serde_json::json!({
            "labelSelector": {"matchExpressions": [
                {"key": "ecsbridge.io/group", "operator": "In", "values": ["service.web"]}
            ]},
            "topologyKey": "kubernetes.io/hostname"
        })
    );
    assert!(c.node_affinity.is_none() && c.pod_anti_affinity.is_none());

    for text in ["not(task:group == database)", "task:group != database"] {
        let c = run(text, None).expect("compiles");
        let anti = serde_json::to_value(c.pod_anti_affinity).expect("json");
        assert_eq!(
            anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"]["matchExpressions"][0]
                ["values"],
            serde_json::json!(["database"]),
            "{text}"
        );
        assert!(c.pod_affinity.is_none(), "{text}");
    }

    let text = "attribute:stack == prod or task:group == database";
    let err = run(text, None).expect_err("group under or");
    assert_eq!(err.position, text.find("task:group").expect("in text") + 1);
    assert!(err.message.contains("under an `or`"), "{}", err.message);
}

#[test]
fn ecs_agent_subjects_are_refused_where_they_stand() {
    let text = "attribute:stack == prod and runningTasksCount == 0";
    let err = run(text, None).expect_err("no Kubernetes meaning");
    assert_eq!(err.position, text.find("running").expect("in text") + 1);
    assert!(
        err.message.contains("runningTasksCount") && err.message.contains("remove"),
        "{}",
        err.message
    );
}

#[test]
fn an_expression_no_node_satisfies_keeps_a_term_that_matches_none() {
    // 'a b' cannot be a label value, so no node has it.
    let c = run("attribute:stack == 'a b'", None).expect("compiles");
    assert_eq!(
        terms("attribute:stack == 'a b'", None),
        one(&format!("{NO_NODE_MATCHES} Exists"))
    );
    assert!(c.notes.iter().any(|n| n.contains("Pending")), "{:?}", c.notes);
    // And one every node satisfies adds no affinity.
    assert!(
        run("attribute:stack != 'a b'", None)
            .expect("compiles")
            .node_affinity
            .is_none()
    );
}

#[test]
fn the_normal_form_is_bounded() {
    let or = |i: usize| format!("(attribute:a{i} exists or attribute:b{i} exists)");
    // 2^7 = 128 terms: the bound, accepted.
    let seven = (0..7).map(or).collect::<Vec<_>>().join(" and ");
    assert_eq!(terms(&seven, None).len(), MAX_TERMS);
    // Ten two-way `or`s: 1,024 terms, refused with the bound named.
    let ten = (0..10).map(or).collect::<Vec<_>>().join(" and ");
    let err = run(&ten, None).expect_err("too large");
    assert!(
        err.message.contains("disjunctive normal form") && err.message.contains(&MAX_TERMS.to_string()),
        "{}",
        err.message
    );
}
