//! Load (async, read-only): what a CapacityProvider's reconcile reads, from the controller's
//! caches ([`super::watch`]): the nodes its node selector matches (with their allocatable
//! capacity), its tasks (pods labelled with the provider) and the Services whose strategy names
//! it. Without caches (a reconcile outside the controller) they are listed.

use std::borrow::Borrow;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::{Api, ResourceExt, api::ListParams};

use crate::{
    api::{CapacityProvider, Service},
    controller::{Context, Error},
    translate::capacity::{
        provider::{PROVIDER_LABEL, label_value},
        usage::{NodeCapacity, TaskUsage, quantity, whole},
    },
};

/// What a CapacityProvider's reconcile read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// The nodes its node selector matches.
    pub nodes: Vec<NodeCapacity>,
    /// Its tasks that have not ended.
    pub tasks: Vec<TaskUsage>,
    /// The Services whose strategy names it, as `namespace/name`, sorted.
    pub users: Vec<String>,
}

/// Reads what `cp` holds and who uses it.
///
/// # Errors
/// [`Error::Kube`] when a LIST fails (without caches only).
pub async fn load(ctx: &Context, cp: &CapacityProvider) -> Result<Loaded, Error> {
    if let Some((nodes, pods, services)) = super::watch::cached(ctx) {
        return Ok(observe(cp, &nodes, &pods, &services));
    }
    let label = format!("{PROVIDER_LABEL}={}", label_value(&cp.ecs_name()));
    let nodes = Api::<Node>::all(ctx.client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let pods = Api::<Pod>::all(ctx.client.clone())
        .list(&ListParams::default().labels(&label))
        .await?
        .items;
    let services = Api::<Service>::all(ctx.client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    Ok(observe(cp, &nodes, &pods, &services))
}

/// What `cp` holds among `nodes` and `pods`, and which of `services` use it (pure). They are
/// borrowed (the caches' `Arc`s or listed objects): a reconcile copies none of them.
#[must_use]
pub fn observe<N, P, S>(cp: &CapacityProvider, nodes: &[N], pods: &[P], services: &[S]) -> Loaded
where
    N: Borrow<Node>,
    P: Borrow<Pod>,
    S: Borrow<Service>,
{
    // What its tasks select: its nodeSelector, and its NodePool once it has one.
    let selector = crate::translate::capacity::provider::Provider::of(cp).node_selector;
    let name = cp.ecs_name();
    let label = label_value(&name);
    let nodes = nodes
        .iter()
        .map(Borrow::borrow)
        .filter(|n: &&Node| n.metadata.deletion_timestamp.is_none())
        .filter(|n| selector.iter().all(|(k, v)| n.labels().get(k) == Some(v)))
        .map(|n| {
            let allocatable = n.status.as_ref().and_then(|s| s.allocatable.as_ref());
            let get = |k: &str| allocatable.and_then(|a| a.get(k)).map_or(0.0, |q| quantity(&q.0));
            NodeCapacity {
                name: n.name_any(),
                cpu_millis: whole(get("cpu") * 1000.0),
                memory_bytes: whole(get("memory")),
            }
        })
        .collect();
    let tasks = pods
        .iter()
        .map(Borrow::borrow)
        .filter(|p: &&Pod| p.labels().get(PROVIDER_LABEL) == Some(&label))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .map(|p| {
            p.spec.as_ref().map(TaskUsage::of).unwrap_or(TaskUsage {
                node: None,
                cpu_millis: 0,
                memory_bytes: 0,
            })
        })
        .collect();
    let mut users: Vec<String> = services
        .iter()
        .map(Borrow::borrow)
        .filter(|svc: &&Service| svc.uses_capacity_provider(&name))
        .map(|svc| format!("{}/{}", svc.namespace().unwrap_or_default(), svc.name_any()))
        .collect();
    users.sort();
    users.dedup();
    Loaded { nodes, tasks, users }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_provider_holds_the_nodes_it_selects_and_its_unfinished_tasks() {
        let cp: CapacityProvider = serde_json::from_value(json!({
            "apiVersion": "ecsbridge.io/v1alpha1", "kind": "CapacityProvider",
            "metadata": {"name": "fargate-spot"},
            "spec": {"name": "FARGATE_SPOT", "nodeSelector": {"karpenter.sh/capacity-type": "spot"}}
        }))
        .expect("a provider");
        let node = |name: &str, spot: bool| -> Node {
            let labels = if spot {
                json!({"karpenter.sh/capacity-type": "spot"})
            } else {
                json!({})
            };
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels},
                "status": {"allocatable": {"cpu": "3800m", "memory": "15Gi"}}}))
            .expect("a node")
        };
        let pod = |name: &str, node: Option<&str>, phase: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "shop",
                    "labels": {"ecsbridge.io/capacity-provider": "FARGATE_SPOT"}},
                "spec": {"nodeName": node, "containers": [{"name": "app",
                    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}}}]},
                "status": {"phase": phase}
            }))
            .expect("a pod")
        };
        let svc = |name: &str, strategy: serde_json::Value| -> Service {
            serde_json::from_value(json!({"apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service",
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {"capacityProviderStrategy": strategy}}))
            .expect("a service")
        };
        let loaded = observe(
            &cp,
            &[node("a", true), node("b", false)],
            &[
                pod("t1", Some("a"), "Running"),
                pod("t2", None, "Pending"),
                pod("t3", Some("a"), "Succeeded"),
            ],
            &[
                svc("web", json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1}])),
                svc("api", json!([{"capacityProvider": "FARGATE", "weight": 1}])),
            ],
        );
        assert_eq!(loaded.nodes.len(), 1);
        assert_eq!(
            (loaded.nodes[0].cpu_millis, loaded.nodes[0].memory_bytes),
            (3800, 15 << 30)
        );
        assert_eq!(loaded.tasks.len(), 2, "the ended task does not count");
        assert_eq!(
            (loaded.tasks[0].cpu_millis, loaded.tasks[0].memory_bytes),
            (250, 512 << 20)
        );
        assert_eq!(loaded.users, ["shop/web"]);
    }
}
