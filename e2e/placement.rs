//! Placement end to end: a Service whose TaskDefinition has a `memberOf` expression evaluated
//! against the nodes' labels (`=~`) matches no node at first, so its tasks stay Pending, as ECS would leave them
//! unplaced; labelling a node makes the operator compile the expression again and the tasks run
//! there. The Service has no constraints of its own, so only the TaskDefinition's tie it to the
//! nodes.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Env, eventually};

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_wait_for_a_matching_node_then_run_on_it() {
    let env = Env::start("placement").await;
    // The label is unique to this test, so that a real cluster's nodes do not match already.
    let value = format!("prod-{}", &env.namespace[env.namespace.len() - 6..]);
    let manifests = env.file(
        "placement.yaml",
        &format!(
            r#"apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: api
spec:
  containerDefinitions:
    - name: api
      image: public.ecr.aws/nginx/nginx:1.27
      memory: 64
  placementConstraints:
    - type: memberOf
      expression: "attribute:stack =~ {value}"
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata:
  name: api
spec:
  taskDefinition: api
  desiredCount: 1
"#
        ),
    );
    env.kubectl_ok(&["apply", "-f", &Env::s(&manifests)]);

    // No node has the attribute: one term that matches no node; the task waits.
    let deployment = eventually("the api Deployment", TIMEOUT, || {
        env.get(&["deployment", "api"]).ok_or("absent".into())
    })
    .await;
    let key = "/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/0/key";
    assert_eq!(
        deployment.pointer(key).and_then(Value::as_str),
        Some("ecsbridge.io/no-instance-matches"),
        "{deployment}"
    );
    // The task waits, unschedulable. Let the operator settle (nothing else triggers it then),
    // so that what re-places the task below can only be the node change.
    eventually("the task unschedulable", TIMEOUT, || {
        let pods = env
            .get(&["pods", "-l", "ecsbridge.io/service=api"])
            .ok_or("no pods")?;
        let unschedulable = |p: &Value| {
            p.pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "PodScheduled" && c["reason"] == "Unschedulable")
        };
        let items = pods["items"].as_array().cloned().unwrap_or_default();
        (!items.is_empty() && items.iter().all(unschedulable))
            .then_some(())
            .ok_or(format!("{items:?}"))
    })
    .await;
    // The Service says why, and what the placement needs.
    eventually("the Service saying why", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "api"]).ok_or("absent")?;
        let ready = svc["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Ready")
            .cloned()
            .unwrap_or_default();
        let message = ready["message"].as_str().unwrap_or_default();
        (ready["reason"] == "TasksPending"
            && message.contains("A task cannot be placed: ")
            && message.contains("attributes that match the placement expression"))
        .then_some(())
        .ok_or(format!("{ready}"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Label one node: the operator compiles the expression again, and the task runs there.
    let nodes = env.get(&["nodes"]).expect("nodes");
    let node = nodes["items"][0]["metadata"]["name"]
        .as_str()
        .expect("a node")
        .to_owned();
    env.kubectl_ok(&[
        "label",
        "node",
        &node,
        &format!("ecsbridge.io/attr-stack={value}"),
    ]);
    let placed = eventually("the task placed on the labelled node", TIMEOUT, || {
        let pods = env
            .get(&["pods", "-l", "ecsbridge.io/service=api"])
            .ok_or("no pods")?;
        let on: Vec<String> = pods["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p.pointer("/status/phase").and_then(Value::as_str) == Some("Running"))
            .filter_map(|p| {
                p.pointer("/spec/nodeName")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        (!on.is_empty()).then_some(on).ok_or(format!("{}", pods["items"]))
    })
    .await;
    assert_eq!(placed, std::slice::from_ref(&node));
    env.kubectl(&["label", "node", &node, "ecsbridge.io/attr-stack-"]);
}
