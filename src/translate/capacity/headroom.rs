//! Managed scaling's spare capacity as the cluster's own autoscaler keeps it (pure; ecs-reference
//! §4.2).
//!
//! ECS scales an Auto Scaling group so that its tasks use `targetCapacity`% of the instances: 90
//! keeps about 10% spare. On Kubernetes, Karpenter or cluster-autoscaler add nodes for pods that
//! cannot be placed; the well-known way to keep spare room is overprovisioning: placeholder pods
//! of a priority below every task's ([`PRIORITY_CLASS`], installed by the chart), which tasks
//! preempt at once, and for which the autoscaler keeps nodes. A provider with managed scaling on
//! and `targetCapacity` below 100 gets one Deployment of placeholders on its nodes
//! ([`deployment`]): as many as the spare share of its tasks (`ceil(tasks × (100 − T) / T)`),
//! each the size of its average task, so that its tasks use about `T`% of what is kept. None at
//! 100, with managed scaling off, or with no task (ECS scales a provider without tasks to zero).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{PodSpec, PodTemplateSpec, ResourceRequirements},
    },
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{LabelSelector, ObjectMeta},
    },
};

use super::{
    provider::Provider,
    usage::{cpu_quantity, memory_quantity},
};
use crate::{
    api::{CapacityProvider, ecs::ManagedScalingStatus},
    translate::labels,
};

/// The PriorityClass of placeholder pods (the chart installs it: value -10, below every task).
pub const PRIORITY_CLASS: &str = "ecs-bridge-headroom";
/// Label of placeholder pods and their Deployment: the provider's label value.
pub const HEADROOM_LABEL: &str = "ecsbridge.io/headroom-for";
/// The placeholder container's image: Kubernetes' pause image, which does nothing.
pub use crate::translate::pause::PAUSE_IMAGE;
use crate::translate::pause::{pause_container, restricted_pod_security};

/// `targetCapacity` of `cp` when managed scaling is on and it is below 100.
#[must_use]
pub fn target_capacity(cp: &CapacityProvider) -> Option<u32> {
    let scaling = cp
        .spec
        .capacity_provider
        .auto_scaling_group_provider
        .as_ref()?
        .managed_scaling
        .as_ref()?;
    if scaling.status == Some(ManagedScalingStatus::Disabled) {
        return None;
    }
    let target = u32::try_from(scaling.target_capacity.unwrap_or(100)).ok()?;
    (1..100).contains(&target).then_some(target)
}

/// Placeholders that keep `(100 − target)`% spare for `tasks` tasks.
#[must_use]
pub fn placeholders(target: u32, tasks: u32) -> u32 {
    if target == 0 || target >= 100 {
        return 0;
    }
    u32::try_from((u64::from(tasks) * u64::from(100 - target)).div_ceil(u64::from(target)))
        .unwrap_or(u32::MAX)
}

/// The placeholders a provider keeps: how many, and the size of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholders {
    /// How many.
    pub count: u32,
    /// Each one's CPU request, in millicores.
    pub cpu_millis: u64,
    /// Each one's memory request, in bytes.
    pub memory_bytes: u64,
}

/// The placeholders kept at `target` for `tasks` tasks that request `cpu_millis` and
/// `memory_bytes` in all: [`placeholders`] of them, each the size of the average task (rounded
/// up); `None` when none is kept.
#[must_use]
pub fn sized(target: u32, tasks: u64, cpu_millis: u64, memory_bytes: u64) -> Option<Placeholders> {
    let count = placeholders(target, u32::try_from(tasks).unwrap_or(u32::MAX));
    (count > 0).then(|| Placeholders {
        count,
        cpu_millis: cpu_millis.div_ceil(tasks),
        memory_bytes: memory_bytes.div_ceil(tasks),
    })
}

/// The name of the placeholder Deployment of the CapacityProvider object `object`.
#[must_use]
pub fn deployment_name(object: &str) -> String {
    format!("ecs-bridge-headroom-{object}")
}

/// The placeholder Deployment of the CapacityProvider object `object` (`provider`) in
/// `namespace`: `count` pods of `cpu_millis` and `memory_bytes` each, on the provider's nodes.
#[must_use]
pub fn deployment(
    object: &str,
    provider: &Provider,
    namespace: &str,
    count: u32,
    cpu_millis: u64,
    memory_bytes: u64,
) -> Deployment {
    let selector = BTreeMap::from([(HEADROOM_LABEL.to_owned(), provider.label_value())]);
    let mut object_labels = selector.clone();
    object_labels.insert(labels::MANAGED_BY.to_owned(), labels::MANAGED_BY_VALUE.to_owned());
    let requests = BTreeMap::from([
        ("cpu".to_owned(), Quantity(cpu_quantity(cpu_millis.max(1)))),
        (
            "memory".to_owned(),
            Quantity(memory_quantity(memory_bytes.max(1 << 20))),
        ),
    ]);
    Deployment {
        metadata: ObjectMeta {
            name: Some(deployment_name(object)),
            namespace: Some(namespace.to_owned()),
            labels: Some(object_labels),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(count).unwrap_or(i32::MAX)),
            selector: LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(selector),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    priority_class_name: Some(PRIORITY_CLASS.to_owned()),
                    termination_grace_period_seconds: Some(0),
                    automount_service_account_token: Some(false),
                    node_selector: (!provider.node_selector.is_empty())
                        .then(|| provider.node_selector.clone()),
                    tolerations: (!provider.tolerations.is_empty()).then(|| provider.tolerations.clone()),
                    security_context: Some(restricted_pod_security()),
                    containers: vec![pause_container(
                        "placeholder",
                        ResourceRequirements {
                            requests: Some(requests),
                            ..ResourceRequirements::default()
                        },
                    )],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// What the status says of the headroom kept: `count` placeholders of the given size for
/// `target`%.
#[must_use]
pub fn describe(target: u32, count: u32, cpu_millis: u64, memory_bytes: u64) -> String {
    format!(
        "{count} placeholder tasks of {} CPU and {} memory keep about {}% spare (managedScaling.targetCapacity \
         {target}); tasks preempt them, and the cluster's autoscaler adds nodes for them",
        cpu_quantity(cpu_millis),
        memory_quantity(memory_bytes),
        100 - target
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn spare_share_of_the_tasks_at_the_target() {
        // 10 tasks at 80%: 2.5 spare, rounded up; the tasks are then 10 of 13 (77%).
        assert_eq!(placeholders(80, 10), 3);
        assert_eq!(placeholders(90, 9), 1);
        assert_eq!(placeholders(50, 4), 4);
        assert_eq!(placeholders(100, 10), 0);
        assert_eq!(placeholders(80, 0), 0, "no task, no headroom");
    }

    #[test]
    fn placeholders_are_the_average_task_rounded_up() {
        // 10 tasks of 250m and 512Mi at 80%: 3 placeholders of 250m and 512Mi.
        assert_eq!(
            sized(80, 10, 2500, 5 << 30),
            Some(Placeholders {
                count: 3,
                cpu_millis: 250,
                memory_bytes: 512 << 20,
            })
        );
        assert_eq!(
            sized(80, 3, 1000, 3),
            Some(Placeholders {
                count: 1,
                cpu_millis: 334,
                memory_bytes: 1
            })
        );
        assert_eq!(sized(80, 0, 0, 0), None);
        assert_eq!(sized(100, 10, 2500, 5 << 30), None);
    }

    #[test]
    fn only_managed_scaling_below_100_keeps_headroom() {
        let cp = |scaling: serde_json::Value| -> CapacityProvider {
            serde_json::from_value(json!({"apiVersion": "ecsbridge.io/v1alpha1", "kind": "CapacityProvider",
                "metadata": {"name": "pool"},
                "spec": {"autoScalingGroupProvider": {"autoScalingGroupArn": "asg", "managedScaling": scaling}}}))
            .expect("a provider")
        };
        assert_eq!(
            target_capacity(&cp(json!({"status": "ENABLED", "targetCapacity": 80}))),
            Some(80)
        );
        assert_eq!(target_capacity(&cp(json!({"targetCapacity": 90}))), Some(90));
        assert_eq!(
            target_capacity(&cp(json!({"status": "DISABLED", "targetCapacity": 80}))),
            None
        );
        assert_eq!(
            target_capacity(&cp(json!({"status": "ENABLED"}))),
            None,
            "default 100"
        );
    }

    #[test]
    fn placeholders_run_on_the_providers_nodes_below_every_task() {
        let provider = Provider {
            name: "spot-pool".into(),
            node_selector: BTreeMap::from([("eks.amazonaws.com/capacityType".into(), "SPOT".into())]),
            ..Provider::default()
        };
        let d = deployment("spot-pool", &provider, "ecs-bridge-system", 3, 250, 512 << 20);
        assert_eq!(d.metadata.name.as_deref(), Some("ecs-bridge-headroom-spot-pool"));
        let spec = d.spec.expect("spec");
        assert_eq!(spec.replicas, Some(3));
        let pod = spec.template.spec.expect("pod");
        assert_eq!(pod.priority_class_name.as_deref(), Some(PRIORITY_CLASS));
        assert_eq!(
            pod.node_selector.expect("selector")["eks.amazonaws.com/capacityType"],
            "SPOT"
        );
        let requests = pod.containers[0]
            .resources
            .clone()
            .and_then(|r| r.requests)
            .expect("requests");
        assert_eq!(
            (requests["cpu"].0.as_str(), requests["memory"].0.as_str()),
            ("250m", "512Mi")
        );
    }
}
