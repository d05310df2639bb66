//! Service → Deployment (REPLICA) or DaemonSet (DAEMON).
//!
//! This first version carries the task count, the scheduling strategy and the task definition's
//! pod template, with the service's labels. Every other field set in the service is listed in the
//! [`Report`] as not translated yet.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec},
        core::v1::PodTemplateSpec,
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta},
};

use k8s_openapi::api::core::v1::Node;

use super::{
    NoteKind, Report, labels,
    placement::{Constraint, Placement, PlacementError, place},
};
use crate::api::{
    ServiceSpec,
    ecs::{PlacementStrategy, PlacementStrategyType, RegisterTaskDefinition, SchedulingStrategy},
};

/// Fields of the service this module translates (patterns, relative to `spec`).
const HANDLED: &[&str] = &[
    "serviceName",
    "taskDefinition",
    "desiredCount",
    "schedulingStrategy",
    "placementConstraints[].type",
    "placementConstraints[].expression",
    "placementStrategy[].type",
    "placementStrategy[].field",
];

/// What the placement of a service's tasks needs besides the service.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlacementContext<'a> {
    /// The task definition (its `placementConstraints` apply too, ANDed).
    pub task_definition: Option<&'a RegisterTaskDefinition>,
    /// The known nodes (`=~` and `ec2InstanceId` need them).
    pub nodes: Option<&'a [Node]>,
    /// Whether the ecs-bridge scheduler (binpack profiles) is installed.
    pub binpack_scheduler: bool,
}

/// The placement of a service's tasks: the task definition's and the service's constraints, and
/// the service's strategies; without strategies, ECS spreads a REPLICA service's tasks over
/// availability zones, and so does this.
///
/// # Errors
/// [`PlacementError`] naming the field (`placementConstraints[0].expression`, or
/// `placementConstraints[0].expression`, marked as the task definition's when it is).
pub fn placement(
    name: &str,
    spec: &ServiceSpec,
    ctx: &PlacementContext<'_>,
) -> Result<Placement, PlacementError> {
    let mut constraints: Vec<Constraint> = ctx
        .task_definition
        .map(crate::translate::pod::placement::constraints)
        .unwrap_or_default();
    constraints.extend(Constraint::from_request(
        spec.service.placement_constraints.as_deref().unwrap_or_default(),
        "",
    )?);
    let daemon = spec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon);
    let default_spread = [PlacementStrategy {
        r#type: Some(PlacementStrategyType::Spread),
        field: Some("attribute:ecs.availability-zone".to_owned()),
    }];
    let strategies = match spec.service.placement_strategy.as_deref() {
        Some(list) if !list.is_empty() => list,
        // (A daemon runs one task per node: nothing to spread.)
        _ if daemon => &[][..],
        _ => &default_spread[..],
    };
    let group = labels::group_label_value(&labels::service_group(name));
    place(&constraints, strategies, &group, ctx.nodes, ctx.binpack_scheduler)
}

/// The workload that runs a service's tasks.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// `schedulingStrategy: REPLICA` (the default).
    Deployment(Box<Deployment>),
    /// `schedulingStrategy: DAEMON`.
    DaemonSet(Box<DaemonSet>),
}

/// A service's workload and what did not carry over.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTranslation {
    /// The Deployment or DaemonSet.
    pub workload: Workload,
    /// Fields ignored, approximated or not yet translated.
    pub report: Report,
}

/// The labels that select a service's pods.
#[must_use]
pub fn selector_labels(service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(labels::SERVICE.to_owned(), service.to_owned())])
}

/// Translates the service object `name` in `namespace`, running the pod template `pod`, placed
/// as [`placement`] says.
///
/// # Errors
/// [`PlacementError`] when the placement constraints or strategies do not compile.
pub fn workload(
    name: &str,
    namespace: &str,
    spec: &ServiceSpec,
    pod: &PodTemplateSpec,
    placing: &PlacementContext<'_>,
) -> Result<ServiceTranslation, PlacementError> {
    let placed = placement(name, spec, placing)?;
    let mut report = Report::default();
    for (field, message) in &placed.notes {
        report.note(NoteKind::Approximated, field.clone(), message.clone());
    }
    if let Ok(v) = serde_json::to_value(spec) {
        // (The networking fields are `networking`'s, which reports them.)
        report.untranslated(&v, &[HANDLED, super::networking::HANDLED].concat());
    }
    let group = labels::service_group(name);
    let mut template = pod.clone();
    placed.apply_to(template.spec.get_or_insert_with(Default::default));
    let meta = template.metadata.get_or_insert_with(ObjectMeta::default);
    let pod_labels = meta.labels.get_or_insert_with(BTreeMap::new);
    pod_labels.extend(selector_labels(name));
    pod_labels.insert(labels::GROUP.to_owned(), labels::group_label_value(&group));
    meta.annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(labels::GROUP_ANNOTATION.to_owned(), group);

    let mut object_labels = selector_labels(name);
    object_labels.insert(labels::MANAGED_BY.to_owned(), labels::MANAGED_BY_VALUE.to_owned());
    let metadata = ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(object_labels),
        ..ObjectMeta::default()
    };
    let selector = LabelSelector {
        match_labels: Some(selector_labels(name)),
        ..LabelSelector::default()
    };
    let workload = if spec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon) {
        Workload::DaemonSet(Box::new(DaemonSet {
            metadata,
            spec: Some(DaemonSetSpec {
                selector,
                template,
                ..DaemonSetSpec::default()
            }),
            status: None,
        }))
    } else {
        Workload::Deployment(Box::new(Deployment {
            metadata,
            spec: Some(DeploymentSpec {
                // When auto scaling owns the task count, the workload's replicas are left to it.
                replicas: if spec.auto_scaling.is_some() {
                    None
                } else {
                    spec.service.desired_count
                },
                selector,
                template,
                ..DeploymentSpec::default()
            }),
            status: None,
        }))
    };
    Ok(ServiceTranslation { workload, report })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(v: serde_json::Value) -> ServiceSpec {
        serde_json::from_value(v).expect("service spec")
    }

    #[test]
    fn replica_services_become_deployments_selecting_their_pods() {
        let t = workload(
            "web",
            "shop",
            &spec(json!({"taskDefinition": "web", "desiredCount": 3})),
            &PodTemplateSpec::default(),
            &PlacementContext::default(),
        )
        .expect("translates");
        let Workload::Deployment(d) = t.workload else {
            panic!("expected a Deployment")
        };
        let ds = d.spec.expect("spec");
        assert_eq!(ds.replicas, Some(3));
        assert_eq!(ds.selector.match_labels, Some(selector_labels("web")));
        let tmeta = ds.template.metadata.expect("template metadata");
        let labels = tmeta.labels.expect("labels");
        assert_eq!(labels[labels::SERVICE], "web");
        assert_eq!(labels[labels::GROUP], "service.web");
        assert_eq!(
            tmeta.annotations.expect("annotations")[labels::GROUP_ANNOTATION],
            "service:web"
        );
        assert_eq!(d.metadata.namespace.as_deref(), Some("shop"));
        assert!(t.report.is_empty());
    }

    #[test]
    fn auto_scaling_leaves_replicas_to_the_autoscaler() {
        let t = workload(
            "web",
            "shop",
            &spec(
                json!({"taskDefinition": "web", "desiredCount": 3, "autoScaling": {"minCapacity": 1, "maxCapacity": 5}}),
            ),
            &PodTemplateSpec::default(),
            &PlacementContext::default(),
        )
        .expect("translates");
        let Workload::Deployment(d) = t.workload else {
            panic!("expected a Deployment")
        };
        assert_eq!(d.spec.expect("spec").replicas, None);
    }

    #[test]
    fn daemon_services_become_daemonsets_and_the_rest_is_reported() {
        let t = workload(
            "agent",
            "default",
            &spec(
                json!({"schedulingStrategy": "DAEMON", "taskDefinition": "agent", "enableExecuteCommand": true}),
            ),
            &PodTemplateSpec::default(),
            &PlacementContext::default(),
        )
        .expect("translates");
        assert!(matches!(t.workload, Workload::DaemonSet(_)));
        let fields: Vec<&str> = t.report.notes.iter().map(|n| n.field.as_str()).collect();
        assert_eq!(fields, vec!["enableExecuteCommand"]);
    }
}
