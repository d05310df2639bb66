//! Every `memberOf` expression of the corpus (`../shared/corpus/ecs/member-of-expressions.txt`)
//! compiles, or fails with a precise reason and position; the results (compiled affinity and the
//! sample nodes each selects, or the error) are one reviewed snapshot.

mod support;

use k8s_openapi::api::core::v1::Node;
use serde_json::{Value, json};

/// Sample nodes: four EC2 instances with the labels EKS gives them, plus custom attributes.
fn nodes() -> Vec<Node> {
    let node = |name: &str, id: &str, zone: &str, ty: &str, arch: &str, extra: Value| -> Node {
        let mut labels = json!({
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": arch,
            "topology.kubernetes.io/zone": zone,
            "node.kubernetes.io/instance-type": ty,
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            labels[format!("ecsbridge.io/attr-{k}")] = v;
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"providerID": format!("aws:///{zone}/{id}")},
        }))
        .expect("node")
    };
    vec![
        node(
            "a",
            "i-abcd1234",
            "us-east-1a",
            "t2.small",
            "amd64",
            json!({"stack": "prod", "Special": "true"}),
        ),
        node(
            "b",
            "i-wxyx7890",
            "us-east-1b",
            "t3.micro",
            "arm64",
            json!({"flavor": "test", "name": "etcd0"}),
        ),
        node(
            "c",
            "i-0c",
            "us-east-1d",
            "g2.2xlarge",
            "amd64",
            json!({"color": "green", "stack": "dev"}),
        ),
        node("d", "i-0d", "ap-northeast-1a", "m3.large", "amd64", json!({})),
    ]
}

#[test]
fn corpus_expressions_compile_or_fail_precisely() {
    let path = support::repo_root().join("../shared/corpus/ecs/member-of-expressions.txt");
    let text = std::fs::read_to_string(&path).expect("corpus expressions");
    let nodes = nodes();
    let mut out = String::new();
    let (mut compiled, mut refused) = (0, 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let expression = line.split('\t').next().unwrap_or(line);
        out.push_str(&format!("## {expression}\n"));
        match ecs_bridge::translate::placement::explain(
            expression,
            Some(&nodes),
            ecs_bridge::translate::placement::attributes::DEFAULT_PREFIX,
        ) {
            Ok(v) => {
                compiled += 1;
                out.push_str(&serde_json::to_string(&v).expect("json"));
            }
            Err(e) => {
                refused += 1;
                assert!(e.starts_with("at character "), "{expression}: {e}");
                out.push_str(&format!("error: {e}"));
            }
        }
        out.push('\n');
    }
    eprintln!("{compiled} compiled, {refused} refused");
    // Only the subjects without a Kubernetes meaning are refused.
    assert_eq!(
        refused,
        out.matches("describes ECS container instances and agents")
            .count()
    );
    insta::assert_snapshot!(out);
}
