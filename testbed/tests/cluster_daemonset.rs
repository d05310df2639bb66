//! The simulated DaemonSet controller
//! (https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/).

mod cluster_common;

use std::collections::BTreeSet;

use cluster_common::{Bed, PodFollower, active, label, ready};
use ecs_bridge_testbed::PodOutcome;
use serde_json::{Value, json};

fn agent(tolerations: &Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "nodeSelector": {"role": "web"},
                    "tolerations": tolerations,
                    "containers": [{"name": "agent", "image": "agent:1"}],
                },
            },
        },
    })
}

fn nodes_of(pods: &[Value]) -> BTreeSet<String> {
    pods.iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn status(bed: &Bed) -> Value {
    bed.get("DaemonSet", "agent")["status"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_set_runs_one_pod_per_eligible_node_and_rolls_node_by_node() {
    let bed = Bed::start().await;
    let c = &bed.cluster;
    c.add_node("node-a", &json!({"role": "web"}), "4", "16Gi", &json!([]))
        .expect("node-a");
    c.add_node(
        "node-b",
        &json!({"role": "web"}),
        "4",
        "16Gi",
        &json!([{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]),
    )
    .expect("node-b");
    c.add_node("node-c", &json!({"role": "db"}), "4", "16Gi", &json!([]))
        .expect("node-c");
    c.kubelet(PodOutcome::Running { ready: true });

    // nodeSelector role=web matches a and b; b's taint keeps the pod off without a toleration.
    bed.create(agent(&json!([])));
    let pods = bed
        .wait_for("one agent pod", |b| {
            let st = status(b);
            let pods = b.active_pods("app=agent");
            (pods.len() == 1 && st["numberAvailable"] == 1).then_some(pods)
        })
        .await;
    assert_eq!(nodes_of(&pods), BTreeSet::from(["node-a".to_owned()]));
    let st = status(&bed);
    assert_eq!(
        (
            &st["desiredNumberScheduled"],
            &st["currentNumberScheduled"],
            &st["numberReady"],
            &st["numberMisscheduled"],
            &st["updatedNumberScheduled"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(0), &json!(1)),
        "{st}"
    );
    assert!(st.get("numberUnavailable").is_none(), "omitempty: {st}");
    let pod = &pods[0];
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
    assert_eq!(
        pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            [0]["matchFields"][0]["values"][0],
        "node-a"
    );
    let tolerations: Vec<&str> = pod["spec"]["tolerations"]
        .as_array()
        .expect("tolerations")
        .iter()
        .filter_map(|t| t["key"].as_str())
        .collect();
    assert!(
        tolerations.contains(&"node.kubernetes.io/unschedulable"),
        "{tolerations:?}"
    );
    let first_hash = label(pod, "controller-revision-hash");
    let revisions = bed.list("ControllerRevision", "app=agent");
    assert_eq!(revisions.len(), 1);
    assert_eq!(label(&revisions[0], "controller-revision-hash"), first_hash);
    assert_eq!(revisions[0]["revision"], 1);

    // With the toleration the tainted node gets a pod too.
    bed.patch(
        "DaemonSet",
        "agent",
        json!({"spec": {"template": {"spec": {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}]}}}}),
    );
    let pods = bed
        .wait_for("two agent pods, both updated", |b| {
            let st = status(b);
            let pods = b.active_pods("app=agent");
            (pods.len() == 2 && st["numberAvailable"] == 2 && st["updatedNumberScheduled"] == 2)
                .then_some(pods)
        })
        .await;
    assert_eq!(
        nodes_of(&pods),
        BTreeSet::from(["node-a".to_owned(), "node-b".to_owned()])
    );
    let st = status(&bed);
    assert_eq!(st["desiredNumberScheduled"], 2);
    assert_eq!(
        st["observedGeneration"],
        bed.get("DaemonSet", "agent")["metadata"]["generation"]
    );

    // A rolling update replaces one node's pod at a time (maxUnavailable 1, no surge).
    let follower = PodFollower::start(&bed, |pods| {
        let agents: Vec<&std::sync::Arc<Value>> = pods
            .values()
            .filter(|p| p["metadata"]["labels"]["app"] == "agent" && active(p))
            .collect();
        let mut per_node = std::collections::BTreeMap::<&str, usize>::new();
        for p in &agents {
            *per_node
                .entry(p["spec"]["nodeName"].as_str().unwrap_or(""))
                .or_default() += 1;
        }
        let nodes_ready = agents.iter().filter(|p| ready(p)).count();
        let doubled = per_node.values().any(|n| *n > 1);
        let n = i64::try_from(nodes_ready).unwrap_or(0);
        (
            (n, 0),
            (nodes_ready < 1 || doubled).then(|| format!("{nodes_ready} ready, per node {per_node:?}")),
        )
    });
    bed.patch(
        "DaemonSet",
        "agent",
        json!({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:2"}]}}}}),
    );
    let pods = bed
        .wait_for("both pods on the new template", |b| {
            let st = status(b);
            let pods = b.active_pods("app=agent");
            let images: BTreeSet<&str> = pods
                .iter()
                .filter_map(|p| p["spec"]["containers"][0]["image"].as_str())
                .collect();
            (pods.len() == 2
                && images == BTreeSet::from(["agent:2"])
                && st["numberAvailable"] == 2
                && st["updatedNumberScheduled"] == 2)
                .then_some(pods)
        })
        .await;
    let seen = follower.finish().await;
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert!(
        seen.measures.iter().any(|m| m.0 == 1),
        "one node at a time went without a ready pod"
    );
    let revisions = bed.list("ControllerRevision", "app=agent");
    let numbers: BTreeSet<i64> = revisions.iter().filter_map(|r| r["revision"].as_i64()).collect();
    assert_eq!(numbers, BTreeSet::from([1, 2, 3]), "{revisions:?}");
    let newest = revisions.iter().find(|r| r["revision"] == 3).expect("revision 3");
    assert!(
        pods.iter()
            .all(|p| label(p, "controller-revision-hash") == label(newest, "controller-revision-hash"))
    );

    // A node that starts to match gets a pod; one that stops matching loses it.
    bed.patch("Node", "node-c", json!({"metadata": {"labels": {"role": "web"}}}));
    bed.patch(
        "Node",
        "node-a",
        json!({"metadata": {"labels": {"role": "batch"}}}),
    );
    let pods = bed
        .wait_for("pods on b and c", |b| {
            let pods = b.active_pods("app=agent");
            (nodes_of(&pods) == BTreeSet::from(["node-b".to_owned(), "node-c".to_owned()])
                && status(b)["numberAvailable"] == 2)
                .then_some(pods)
        })
        .await;
    assert_eq!(pods.len(), 2);
    assert_eq!(status(&bed)["desiredNumberScheduled"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kubelet_places_pods_on_nodes_they_fit_and_leaves_the_rest_pending() {
    let bed = Bed::start().await;
    let c = &bed.cluster;
    c.add_node(
        "gpu",
        &json!({"accelerator": "gpu"}),
        "8",
        "32Gi",
        &json!([{"key": "gpu", "value": "true", "effect": "NoSchedule"}]),
    )
    .expect("gpu");
    c.add_node("plain-1", &json!({}), "4", "16Gi", &json!([]))
        .expect("plain-1");
    c.add_node("plain-2", &json!({}), "4", "16Gi", &json!([]))
        .expect("plain-2");
    c.kubelet(PodOutcome::Running { ready: true });
    let mut d = cluster_common::deployment("web", 4, "nginx:1.27");
    bed.create(d.clone());
    let pods = bed
        .wait_for("4 running pods", |b| {
            let pods = b.active_pods("app=web");
            (pods.len() == 4 && pods.iter().all(ready)).then_some(pods)
        })
        .await;
    let nodes = nodes_of(&pods);
    assert_eq!(
        nodes,
        BTreeSet::from(["plain-1".to_owned(), "plain-2".to_owned()]),
        "spread over the untainted nodes"
    );

    // A pod asking for a label no node has stays Pending, Unschedulable.
    d["metadata"]["name"] = json!("ml");
    d["metadata"]["labels"] = json!({"app": "ml"});
    d["spec"]["replicas"] = json!(1);
    d["spec"]["selector"] = json!({"matchLabels": {"app": "ml"}});
    d["spec"]["template"]["metadata"]["labels"] = json!({"app": "ml"});
    d["spec"]["template"]["spec"]["nodeSelector"] = json!({"accelerator": "tpu"});
    bed.create(d);
    let pod = bed
        .wait_for("an unschedulable pod", |b| {
            b.active_pods("app=ml").into_iter().find(|p| {
                cluster_common::condition(p, "PodScheduled").is_some_and(|c| c["reason"] == "Unschedulable")
            })
        })
        .await;
    assert_eq!(pod["status"]["phase"], "Pending");
    assert!(pod["spec"].get("nodeName").is_none());
    // A node that fits appears: the pod is placed and runs.
    c.add_node("tpu", &json!({"accelerator": "tpu"}), "8", "32Gi", &json!([]))
        .expect("tpu");
    let pod = bed
        .wait_for("the pod to run on the new node", |b| {
            b.active_pods("app=ml").into_iter().find(ready)
        })
        .await;
    assert_eq!(pod["spec"]["nodeName"], "tpu");
}
