//! What a capacity provider holds and how full it is, in ECS's terms (pure; ecs-reference §4.2):
//! its nodes, their allocatable CPU and memory, what its tasks request, its running and pending
//! tasks, and `CapacityProviderReservation`.
//!
//! # CapacityProviderReservation
//!
//! ECS publishes `M / N × 100`: `N` the instances the provider has, `M` the instances its tasks
//! need (running, and PROVISIONING ones waiting for capacity); with `N = 0`, 100 when `M = 0`
//! (nothing to do) and 200 when `M > 0` (scale out from zero). **\[INF\]** ECS computes `M` by
//! binpacking against its instance types; here `M` is the nodes that run at least one of the
//! provider's tasks; when tasks wait unscheduled (the scheduler found no node for them), every
//! node the provider has plus the nodes their requests would fill at the provider's average
//! node size (at least one). So 100 means every node runs a task and none waits, below 100 some
//! node runs none (ECS would scale in), above 100 tasks wait (ECS would scale out), as ECS reads
//! its metric.

use std::collections::{BTreeMap, BTreeSet};

/// One node of the provider: its name and allocatable CPU (millicores) and memory (bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCapacity {
    /// The node's name.
    pub name: String,
    /// Allocatable CPU, in millicores.
    pub cpu_millis: u64,
    /// Allocatable memory, in bytes.
    pub memory_bytes: u64,
}

/// One task of the provider: where it runs (`None`: not scheduled yet) and what it requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUsage {
    /// The node it is scheduled on.
    pub node: Option<String>,
    /// Requested CPU, in millicores.
    pub cpu_millis: u64,
    /// Requested memory, in bytes.
    pub memory_bytes: u64,
}

impl TaskUsage {
    /// What a task of pod spec `pod` requests (its containers' requests added up), and where it
    /// runs (`nodeName`).
    #[must_use]
    pub fn of(pod: &k8s_openapi::api::core::v1::PodSpec) -> Self {
        let request = |k: &str| -> f64 {
            pod.containers
                .iter()
                .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(k))
                .map(|q| quantity(&q.0))
                .sum()
        };
        Self {
            node: pod.node_name.clone(),
            cpu_millis: whole(request("cpu") * 1000.0),
            memory_bytes: whole(request("memory")),
        }
    }
}

/// A Kubernetes quantity's value in its unit (cores, bytes); 0 when it does not parse.
#[must_use]
pub fn quantity(q: &str) -> f64 {
    kube_quantity::ParsedQuantity::try_from(q)
        .ok()
        .and_then(|p| p.to_bytes_f64())
        .unwrap_or(0.0)
}

/// A non-negative whole number from `v`, rounded.
#[must_use]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub fn whole(v: f64) -> u64 {
    v.max(0.0).round() as u64
}

/// A provider's usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Its nodes.
    pub nodes: u32,
    /// Their allocatable CPU, in millicores.
    pub allocatable_cpu_millis: u64,
    /// Their allocatable memory, in bytes.
    pub allocatable_memory_bytes: u64,
    /// What its tasks request, in millicores.
    pub requested_cpu_millis: u64,
    /// What its tasks request, in bytes.
    pub requested_memory_bytes: u64,
    /// Its tasks scheduled on a node.
    pub running: u32,
    /// Its tasks waiting for a node.
    pub pending: u32,
    /// Nodes its tasks need (`M`).
    pub needed_nodes: u32,
    /// `CapacityProviderReservation`.
    pub reservation: u32,
}

/// ECS's `CapacityProviderReservation` for `needed` (`M`) and `nodes` (`N`).
#[must_use]
pub fn reservation(needed: u32, nodes: u32) -> u32 {
    match (nodes, needed) {
        (0, 0) => 100,
        (0, _) => 200,
        (n, m) => u32::try_from(u64::from(m) * 100 / u64::from(n)).unwrap_or(u32::MAX),
    }
}

/// The usage of a provider with `nodes` and `tasks` (see the module docs).
#[must_use]
pub fn usage(nodes: &[NodeCapacity], tasks: &[TaskUsage]) -> Usage {
    let names: BTreeSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let count = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    let allocatable_cpu_millis: u64 = nodes.iter().map(|n| n.cpu_millis).sum();
    let allocatable_memory_bytes: u64 = nodes.iter().map(|n| n.memory_bytes).sum();
    let mut per_node: BTreeMap<&str, u32> = BTreeMap::new();
    let (mut pending_cpu, mut pending_memory, mut pending) = (0_u64, 0_u64, 0_u32);
    for t in tasks {
        match t.node.as_deref() {
            Some(node) => *per_node.entry(node).or_default() += 1,
            None => {
                pending += 1;
                pending_cpu += t.cpu_millis;
                pending_memory += t.memory_bytes;
            }
        }
    }
    let running: u32 = per_node.values().sum();
    let busy = u32::try_from(per_node.keys().filter(|n| names.contains(*n)).count()).unwrap_or(u32::MAX);
    let for_pending = if pending == 0 {
        0
    } else {
        let nodes_for = |need: u64, total: u64| {
            if count == 0 || total == 0 {
                return 1;
            }
            let average = total.div_ceil(u64::from(count)).max(1);
            u32::try_from(need.div_ceil(average)).unwrap_or(u32::MAX)
        };
        nodes_for(pending_cpu, allocatable_cpu_millis)
            .max(nodes_for(pending_memory, allocatable_memory_bytes))
            .max(1)
    };
    let needed_nodes = if pending == 0 {
        busy
    } else {
        count.saturating_add(for_pending)
    };
    Usage {
        nodes: count,
        allocatable_cpu_millis,
        allocatable_memory_bytes,
        requested_cpu_millis: tasks.iter().map(|t| t.cpu_millis).sum(),
        requested_memory_bytes: tasks.iter().map(|t| t.memory_bytes).sum(),
        running,
        pending,
        needed_nodes,
        reservation: reservation(needed_nodes, count),
    }
}

/// Millicores as a Kubernetes quantity (`3800m`, or whole cores as `4`).
#[must_use]
pub fn cpu_quantity(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// Bytes as a Kubernetes quantity, in the largest binary unit that divides them (`15Gi`, `512Mi`).
#[must_use]
pub fn memory_quantity(bytes: u64) -> String {
    for (unit, size) in [
        ("Ti", 1_u64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn node(name: &str) -> NodeCapacity {
        NodeCapacity {
            name: name.into(),
            cpu_millis: 4000,
            memory_bytes: 16 << 30,
        }
    }

    fn task(node: Option<&str>, cpu: u64) -> TaskUsage {
        TaskUsage {
            node: node.map(str::to_owned),
            cpu_millis: cpu,
            memory_bytes: 512 << 20,
        }
    }

    #[test]
    fn reservation_is_ecs_formula_with_its_zero_cases() {
        assert_eq!(reservation(0, 0), 100, "nothing to do");
        assert_eq!(reservation(3, 0), 200, "scale out from zero");
        assert_eq!(reservation(2, 2), 100);
        assert_eq!(reservation(1, 2), 50, "a node runs no task: scale in");
        assert_eq!(reservation(3, 2), 150, "tasks wait: scale out");
    }

    #[test]
    fn usage_counts_nodes_tasks_and_what_they_need() {
        let nodes = [node("a"), node("b")];
        let u = usage(&nodes, &[task(Some("a"), 250), task(Some("a"), 250)]);
        assert_eq!(
            (u.nodes, u.running, u.pending, u.needed_nodes, u.reservation),
            (2, 2, 0, 1, 50)
        );
        assert_eq!(cpu_quantity(u.allocatable_cpu_millis), "8");
        assert_eq!(memory_quantity(u.allocatable_memory_bytes), "32Gi");
        assert_eq!(cpu_quantity(u.requested_cpu_millis), "500m");
        assert_eq!(memory_quantity(u.requested_memory_bytes), "1Gi");
        // Both nodes busy and 6 cores waiting: two more nodes of 4 cores.
        let u = usage(
            &nodes,
            &[
                task(Some("a"), 100),
                task(Some("b"), 100),
                task(None, 3000),
                task(None, 3000),
            ],
        );
        assert_eq!((u.pending, u.needed_nodes, u.reservation), (2, 4, 200));
        // A task waits while a node runs none (it fits on no node): still above 100.
        let u = usage(&nodes, &[task(Some("a"), 100), task(None, 100)]);
        assert_eq!((u.needed_nodes, u.reservation), (3, 150));
        // No node at all: 200 while a task waits, 100 otherwise.
        assert_eq!(usage(&[], &[task(None, 100)]).reservation, 200);
        assert_eq!(usage(&[], &[]).reservation, 100);
    }

    proptest! {
        /// The reading ECS gives its metric: 100 exactly when every node runs a task and none
        /// waits; below when some node runs none and none waits; above when a task waits.
        #[test]
        fn reservation_reads_as_ecs(busy in 0..6_usize, idle in 0..6_usize, waiting in 0..4_usize) {
            let nodes: Vec<NodeCapacity> = (0..busy + idle).map(|i| node(&format!("n{i}"))).collect();
            let mut tasks: Vec<TaskUsage> = (0..busy).map(|i| task(Some(&format!("n{i}")), 100)).collect();
            tasks.extend((0..waiting).map(|_| task(None, 100)));
            let r = usage(&nodes, &tasks).reservation;
            if waiting > 0 {
                prop_assert!(r > 100, "{}", r);
            } else if idle > 0 {
                prop_assert!(r < 100, "{}", r);
            } else {
                prop_assert_eq!(r, 100);
            }
        }
    }
}
