//! A service's workload: a Deployment (REPLICA) or a DaemonSet (DAEMON).
//!
//! The workload carries the task count, the scheduling strategy, the task definition's pod
//! template with the service's labels, the placement ([`placement`]) and the rolling update
//! ([`rollout`]: `deploymentConfiguration`, `deploymentController`). The service-level
//! fields below are translated here; every other field set in the service is listed in the
//! [`Report`] as not translated yet.
//!
//! # healthCheckGracePeriodSeconds
//!
//! For this long after a task starts, ECS ignores its failing container (and load balancer)
//! health checks: the scheduler does not replace it. Kubernetes acts on failing checks through
//! the liveness probe (the kubelet restarts the container), so every container with a liveness
//! probe gets `initialDelaySeconds` of at least the grace period. **\[INF\]** Its startup probe,
//! when it has one, also gets a `failureThreshold` of at least `ceil(grace / periodSeconds)`:
//! liveness only starts once the startup probe succeeds, and a failing startup probe restarts
//! the container too, which ECS would not do within the grace period. Readiness probes stay as
//! they are: the grace period does not make a failing task healthy in ECS (it neither counts
//! towards minimumHealthyPercent nor receives load balancer traffic until its checks pass), it
//! only keeps the task from being replaced. Without liveness probes there is nothing to delay.
//!
//! # Tags
//!
//! ECS tags are free-form (keys of up to 128 characters with spaces, `:`, `/`, ...), which label
//! keys cannot hold, so they are kept losslessly as one annotation, [`labels::TAGS`], holding a
//! JSON object (key → value):
//! - the service's `tags` on the workload;
//! - on the pod template, what ECS puts on the service's tasks: with `propagateTags: SERVICE`
//!   the service's tags, with `TASK_DEFINITION` the task definition's, with `NONE` (the default)
//!   none; and with `enableECSManagedTags: true`, `aws:ecs:serviceName` (the service) and
//!   `aws:ecs:clusterName` (the namespace, which is the cluster).
//!
//! ECS tags only the tasks started after a change of tags; a change of the pod template's
//! annotation replaces the tasks with a rolling update, so `propagateTags: SERVICE` with tags is
//! reported as approximated.
//!
//! # Reported only
//!
//! - `enableExecuteCommand: true`: Ignored; `kubectl exec` opens a shell in any container for
//!   whoever may create `pods/exec` (RBAC). `false`, ECS's default, says nothing.
//! - `platformVersion`: Ignored; the pods run on the cluster's nodes.
//! - `networkConfiguration.awsvpcConfiguration`: the security groups (Ignored, with a pointer to
//!   EKS's SecurityGroupPolicy), the subnets (Ignored: the pod network assigns addresses) and
//!   `assignPublicIp: ENABLED` (Ignored: pods get no public address; `DISABLED` is what pods have
//!   anyway and says nothing).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec},
        core::v1::{Node, PodTemplateSpec},
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta},
};
use serde_json::Value;

use super::{ServiceError, Workload, providers};
use crate::{
    api::{
        ServiceSpec,
        ecs::{
            AssignPublicIp, LaunchType, PlacementStrategy, PlacementStrategyType, PropagateTags,
            RegisterTaskDefinition, SchedulingStrategy, Tag,
        },
    },
    translate::{
        Handled, NoteKind, Options, Report, labels, networking,
        placement::{Constraint, Placement, PlacementError, place},
        rollout::{self, UpdateStrategy},
    },
};

/// Fields of the service this module translates (patterns, relative to `spec`); the rollout's
/// are in [`rollout::HANDLED`].
const HANDLED: &[&str] = &[
    "serviceName",
    "cluster",
    "taskDefinition",
    "desiredCount",
    "schedulingStrategy",
    "placementConstraints[].type",
    "placementConstraints[].expression",
    "placementStrategy[].type",
    "placementStrategy[].field",
    "healthCheckGracePeriodSeconds",
    "enableExecuteCommand",
    "tags",
    "propagateTags",
    "enableECSManagedTags",
    "platformVersion",
    "networkConfiguration.awsvpcConfiguration.subnets",
    "networkConfiguration.awsvpcConfiguration.securityGroups",
    "networkConfiguration.awsvpcConfiguration.assignPublicIp",
    "launchType",
    "capacityProviderStrategy[].capacityProvider",
    "capacityProviderStrategy[].weight",
    "capacityProviderStrategy[].base",
];

/// What the translation of a service's workload needs besides the service and its pod template.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkloadInput<'a> {
    /// The task definition: its `placementConstraints` apply too (ANDed), and its `tags` are
    /// the tasks' with `propagateTags: TASK_DEFINITION`.
    pub task_definition: Option<&'a RegisterTaskDefinition>,
    /// The known nodes (`=~` and `ec2InstanceId` need them).
    pub nodes: Option<&'a [Node]>,
    /// How many tasks a DAEMON service runs, when known (the DaemonSet's
    /// `status.desiredNumberScheduled`): its rolling update is then in tasks, not a percentage.
    pub daemon_tasks: Option<i32>,
    /// The capacity provider strategy the service runs with, when it has one.
    pub strategy: Option<Strategy<'a>>,
}

/// A service's capacity provider strategy, with its providers.
#[derive(Debug, Clone, Copy)]
pub struct Strategy<'a> {
    /// Where it is written, for errors (`capacityProviderStrategy`, `launchType`, or the
    /// namespace's default).
    pub field: &'a str,
    /// Its items, each with its provider, in order.
    pub providers: &'a [crate::translate::capacity::provider::StrategyProvider],
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
    input: &WorkloadInput<'_>,
    options: &Options,
) -> Result<Placement, PlacementError> {
    let mut constraints: Vec<Constraint> = input
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
    place(&constraints, strategies, &group, input.nodes, options)
}

/// A service's workload and what did not carry over.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTranslation {
    /// The Deployment or DaemonSet, with its rolling update.
    pub workload: Workload,
    /// ECS's service event when `deploymentConfiguration` lets no task stop or start, so no
    /// deployment can progress ([`rollout::blocked_message`]); the workload's strategy is still
    /// a valid one (see [`rollout`]).
    pub blocked: Option<String>,
    /// Fields ignored, approximated or not yet translated.
    pub report: Report,
}

/// Translates the service object `name` in `namespace`, running the pod template `pod`, placed
/// as [`placement`] says and rolled out as [`rollout::rollout`] says.
///
/// # Errors
/// [`ServiceError::Placement`] when the placement constraints or strategies do not compile,
/// [`ServiceError::Field`] for a value that cannot be carried over (deployment configuration,
/// health check grace period).
pub fn workload(
    name: &str,
    namespace: &str,
    spec: &ServiceSpec,
    pod: &PodTemplateSpec,
    input: &WorkloadInput<'_>,
    options: &Options,
) -> Result<ServiceTranslation, ServiceError> {
    let placed = placement(name, spec, input, options)?;
    let rolled = rollout::rollout(name, spec, input.daemon_tasks)?;
    let grace = spec
        .service
        .health_check_grace_period_seconds
        .map(|g| {
            if g < 0 {
                Err(ServiceError::Field {
                    field: "healthCheckGracePeriodSeconds".to_owned(),
                    message: format!(
                        "{g} is negative: give the seconds to ignore failing health checks, 0 or more"
                    ),
                })
            } else {
                Ok(g)
            }
        })
        .transpose()?;
    let mut report = Report::default();
    for (field, message) in &placed.notes {
        report.note(NoteKind::Approximated, field.clone(), message.clone());
    }
    report.notes.extend(rolled.report.notes);
    report_service_fields(name, namespace, spec, &mut report);
    if let Ok(v) = serde_json::to_value(spec) {
        // (The networking fields are `networking`'s, which reports them.)
        let handled: Vec<&str> = HANDLED
            .iter()
            .chain(rollout::HANDLED)
            .chain(networking::HANDLED)
            .chain(crate::translate::autoscaling::HANDLED)
            .copied()
            .collect();
        report.untranslated_in(&v, &Handled::new(&handled));
    }
    let group = labels::service_group(name);
    let mut template = pod.clone();
    placed.apply_to(template.spec.get_or_insert_with(Default::default));
    if let Some(g) = grace.filter(|g| *g > 0) {
        delay_liveness(&mut template, g);
    }
    let task_tags = task_tags(name, namespace, spec, input.task_definition, &template);
    let meta = template.metadata.get_or_insert_with(ObjectMeta::default);
    let pod_labels = meta.labels.get_or_insert_with(BTreeMap::new);
    pod_labels.extend(labels::selector_labels(name));
    pod_labels.insert(labels::GROUP.to_owned(), labels::group_label_value(&group));
    let pod_annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
    pod_annotations.insert(labels::GROUP_ANNOTATION.to_owned(), group);
    pod_annotations.remove(labels::TAGS);
    if !task_tags.is_empty() {
        pod_annotations.insert(labels::TAGS.to_owned(), Value::Object(task_tags).to_string());
    }

    let mut object_labels = labels::selector_labels(name);
    object_labels.insert(labels::MANAGED_BY.to_owned(), labels::MANAGED_BY_VALUE.to_owned());
    let service_tags = tag_object(spec.service.tags.as_deref());
    let metadata = ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(object_labels),
        annotations: (!service_tags.is_empty())
            .then(|| BTreeMap::from([(labels::TAGS.to_owned(), Value::Object(service_tags).to_string())])),
        ..ObjectMeta::default()
    };
    let selector = LabelSelector {
        match_labels: Some(labels::selector_labels(name)),
        ..LabelSelector::default()
    };
    let workload = match rolled.strategy {
        UpdateStrategy::DaemonSet(update_strategy) => {
            let mut template = template;
            if let Some(strategy) = input.strategy {
                daemon_on_provider(&mut template, strategy)?;
            }
            Workload::DaemonSet(Box::new(DaemonSet {
                metadata,
                spec: Some(DaemonSetSpec {
                    selector,
                    template,
                    update_strategy: Some(update_strategy),
                    ..DaemonSetSpec::default()
                }),
                status: None,
            }))
        }
        UpdateStrategy::Deployment(strategy) => {
            let split = input.strategy.filter(|s| !s.providers.is_empty());
            let deployment = Deployment {
                metadata,
                spec: Some(DeploymentSpec {
                    // The Service's count, also with auto scaling: its HPA scales the Service
                    // (its scale subresource, as AAS writes desiredCount), not the Deployment.
                    replicas: spec.service.desired_count,
                    selector,
                    template,
                    strategy: Some(strategy),
                    ..DeploymentSpec::default()
                }),
                status: None,
            };
            match split {
                Some(s) => {
                    Workload::Deployments(providers::split(name, spec, &deployment, s.providers, s.field)?)
                }
                None => Workload::Deployments(vec![deployment]),
            }
        }
    };
    Ok(ServiceTranslation {
        workload,
        blocked: rolled.blocked,
        report,
    })
}

/// A DAEMON service's pods on the one provider of its `strategy`: a daemon runs one task on
/// every node its placement allows, which a split of counts cannot describe.
fn daemon_on_provider(template: &mut PodTemplateSpec, strategy: Strategy<'_>) -> Result<(), ServiceError> {
    match strategy.providers {
        [] => Ok(()),
        [one] => providers::schedule_on(
            template.spec.get_or_insert_with(Default::default),
            &one.provider,
            &format!("{}[0].capacityProvider", strategy.field),
        ),
        _ => Err(ServiceError::Field {
            field: strategy.field.to_owned(),
            message:
                "a DAEMON service runs one task on every node its placement allows, which cannot be split \
                      by weight: name one capacity provider, whose nodes it runs on"
                    .to_owned(),
        }),
    }
}

/// ECS tags as a JSON object (key → value; a tag without value has the value `""`).
fn tag_object(tags: Option<&[Tag]>) -> serde_json::Map<String, Value> {
    tags.into_iter()
        .flatten()
        .filter_map(|t| Some((t.key.clone()?, Value::String(t.value.clone().unwrap_or_default()))))
        .collect()
}

/// The tags ECS puts on the service's tasks (see the module docs). The task definition's come
/// from `task_definition`, else from the annotation the pod translation put on `template`.
fn task_tags(
    name: &str,
    namespace: &str,
    spec: &ServiceSpec,
    task_definition: Option<&RegisterTaskDefinition>,
    template: &PodTemplateSpec,
) -> serde_json::Map<String, Value> {
    let mut tags = match spec.service.propagate_tags {
        Some(PropagateTags::Service) => tag_object(spec.service.tags.as_deref()),
        Some(PropagateTags::TaskDefinition) => match task_definition {
            Some(td) => tag_object(td.tags.as_deref()),
            None => template
                .metadata
                .as_ref()
                .and_then(|m| m.annotations.as_ref())
                .and_then(|a| a.get(labels::TAGS))
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default(),
        },
        Some(PropagateTags::None) | None => serde_json::Map::new(),
    };
    if spec.service.enable_ecs_managed_tags == Some(true) {
        tags.insert("aws:ecs:serviceName".to_owned(), Value::String(name.to_owned()));
        tags.insert(
            "aws:ecs:clusterName".to_owned(),
            Value::String(namespace.to_owned()),
        );
    }
    tags
}

/// Raises every liveness probe's `initialDelaySeconds` to `grace`, and the failure budget of the
/// startup probe of the same container to cover it (see the module docs).
fn delay_liveness(template: &mut PodTemplateSpec, grace: i32) {
    let Some(pod) = template.spec.as_mut() else {
        return;
    };
    for c in pod
        .containers
        .iter_mut()
        .chain(pod.init_containers.iter_mut().flatten())
    {
        let Some(liveness) = c.liveness_probe.as_mut() else {
            continue;
        };
        liveness.initial_delay_seconds = Some(liveness.initial_delay_seconds.unwrap_or(0).max(grace));
        if let Some(startup) = c.startup_probe.as_mut() {
            // (Kubernetes' defaults: periodSeconds 10, failureThreshold 3.)
            let period = i64::from(startup.period_seconds.unwrap_or(10).max(1));
            let window = i64::from(grace) - i64::from(startup.initial_delay_seconds.unwrap_or(0));
            let needed = i32::try_from((window.max(0) + period - 1) / period).unwrap_or(i32::MAX);
            startup.failure_threshold = Some(startup.failure_threshold.unwrap_or(3).max(needed));
        }
    }
}

/// Notes on the service-level fields that are kept but have no Kubernetes effect here.
fn report_service_fields(name: &str, namespace: &str, spec: &ServiceSpec, report: &mut Report) {
    let s = &spec.service;
    if let Some(cluster) = &s.cluster {
        // The namespace is the ECS cluster: the field is kept, and does not move the tasks.
        let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
        if cluster != namespace {
            report.note(
                NoteKind::Ignored,
                "cluster",
                format!(
                    "the ECS cluster is the Service's namespace ({namespace:?}), not {cluster:?}: apply \
                     the Service in namespace {cluster:?} to run it in that cluster"
                ),
            );
        }
    }
    if s.propagate_tags == Some(PropagateTags::Service) && s.tags.as_ref().is_some_and(|t| !t.is_empty()) {
        report.note(
            NoteKind::Approximated,
            "propagateTags",
            "the service's tags are on the pod template (annotation ecsbridge.io/tags): changing them replaces \
             the tasks with a rolling update, where ECS tags only the tasks started after the change",
        );
    }
    match s.launch_type {
        Some(LaunchType::External) => report.note(
            NoteKind::Approximated,
            "launchType",
            "EXTERNAL (ECS Anywhere): the tasks run on any of the cluster's nodes; join the external machines \
             as nodes and add a memberOf placement constraint (or a CapacityProvider selecting them) to keep the \
             tasks there",
        ),
        Some(LaunchType::ManagedInstances) => report.note(
            NoteKind::Approximated,
            "launchType",
            "MANAGED_INSTANCES: the tasks run on any of the cluster's nodes; name a CapacityProvider with a \
             managedInstancesProvider in capacityProviderStrategy to run them on its nodes",
        ),
        _ => {}
    }
    if s.enable_execute_command == Some(true) {
        report.note(
            NoteKind::Ignored,
            "enableExecuteCommand",
            "ECS Exec is not needed: `kubectl exec -it <pod> -c <container> -- sh` opens a shell in any container \
             for whoever may create pods/exec in the namespace (RBAC)",
        );
    }
    if let Some(v) = &s.platform_version {
        report.note(
            NoteKind::Ignored,
            "platformVersion",
            format!(
                "Fargate platform version {v}: the tasks run on the cluster's nodes, whose kubelet and container \
                 runtime decide what a platform version would"
            ),
        );
    }
    let Some(vpc) = s
        .network_configuration
        .as_ref()
        .and_then(|n| n.awsvpc_configuration.as_ref())
    else {
        return;
    };
    if let Some(groups) = vpc.security_groups.as_ref().filter(|g| !g.is_empty()) {
        report.note(
            NoteKind::Ignored,
            "networkConfiguration.awsvpcConfiguration.securityGroups",
            format!(
                "security groups {} are not attached: pods use their node's; on EKS, a SecurityGroupPolicy \
                 (vpcresources.k8s.aws/v1beta1) selecting the pods by the label {}={name} gives them these groups \
                 (VPC CNI with ENABLE_POD_ENI), or restrict traffic with NetworkPolicies",
                groups.join(", "),
                labels::SERVICE
            ),
        );
    }
    if !vpc.subnets.is_empty() {
        report.note(
            NoteKind::Ignored,
            "networkConfiguration.awsvpcConfiguration.subnets",
            format!(
                "pods get addresses from the cluster's pod network (on EKS with the VPC CNI, from their node's \
                 subnets, or ENIConfig custom networking), not from subnets {}",
                vpc.subnets.join(", ")
            ),
        );
    }
    if vpc.assign_public_ip == Some(AssignPublicIp::Enabled) {
        report.note(
            NoteKind::Ignored,
            "networkConfiguration.awsvpcConfiguration.assignPublicIp",
            "pods get no public IP address: expose the tasks through a Service of type LoadBalancer or an \
             Ingress, and reach the internet through the nodes' NAT",
        );
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, PodSpec, Probe};
    use serde_json::json;

    use super::*;
    use crate::translate::{
        rollout::blocked_message,
        testing::{corpus_files, service_spec as spec},
    };

    fn translate(v: serde_json::Value) -> ServiceTranslation {
        workload(
            "web",
            "shop",
            &spec(v),
            &PodTemplateSpec::default(),
            &WorkloadInput::default(),
            &Options::default(),
        )
        .expect("translates")
    }

    fn deployment(t: &ServiceTranslation) -> &Deployment {
        match &t.workload {
            Workload::Deployments(d) => &d[0],
            Workload::DaemonSet(_) => panic!("expected a Deployment"),
        }
    }

    fn template(t: &ServiceTranslation) -> &PodTemplateSpec {
        match &t.workload {
            Workload::Deployments(d) => &d[0].spec.as_ref().expect("spec").template,
            Workload::DaemonSet(d) => &d.spec.as_ref().expect("spec").template,
        }
    }

    /// The tags annotation of `meta`, parsed.
    fn tags(meta: Option<&ObjectMeta>) -> Option<Value> {
        let text = meta?.annotations.as_ref()?.get(labels::TAGS)?;
        Some(serde_json::from_str(text).expect("tags are JSON"))
    }

    fn notes(t: &ServiceTranslation) -> Vec<(NoteKind, &str)> {
        t.report
            .notes
            .iter()
            .map(|n| (n.kind, n.field.as_str()))
            .collect()
    }

    #[test]
    fn replica_services_become_deployments_selecting_their_pods() {
        let t = workload(
            "web",
            "shop",
            &spec(json!({"taskDefinition": "web", "desiredCount": 3})),
            &PodTemplateSpec::default(),
            &WorkloadInput::default(),
            &Options::default(),
        )
        .expect("translates");
        let Workload::Deployments(mut d) = t.workload else {
            panic!("expected a Deployment")
        };
        let d = d.remove(0);
        let ds = d.spec.expect("spec");
        assert_eq!(ds.replicas, Some(3));
        assert_eq!(ds.selector.match_labels, Some(labels::selector_labels("web")));
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
    fn auto_scaling_runs_the_services_count() {
        let t = workload(
            "web",
            "shop",
            &spec(
                json!({"taskDefinition": "web", "desiredCount": 3, "autoScaling": {"minCapacity": 1, "maxCapacity": 5}}),
            ),
            &PodTemplateSpec::default(),
            &WorkloadInput::default(),
            &Options::default(),
        )
        .expect("translates");
        let Workload::Deployments(mut d) = t.workload else {
            panic!("expected a Deployment")
        };
        let d = d.remove(0);
        assert_eq!(
            d.spec.expect("spec").replicas,
            Some(3),
            "auto scaling changes the Service's desiredCount, which the Deployment follows"
        );
    }

    #[test]
    fn the_cluster_is_the_namespace_and_another_one_is_said_so() {
        let run = |namespace: &str, cluster: &str| {
            let t = workload(
                "web",
                namespace,
                &spec(json!({"taskDefinition": "web", "cluster": cluster})),
                &PodTemplateSpec::default(),
                &WorkloadInput::default(),
                &Options::default(),
            )
            .expect("translates");
            t.report.notes
        };
        assert!(run("shop", "shop").is_empty(), "the namespace is the cluster");
        assert!(run("shop", "arn:aws:ecs:us-east-1:123456789012:cluster/shop").is_empty());
        let notes = run("default", "shop");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].kind, NoteKind::Ignored);
        assert_eq!(notes[0].field, "cluster");
        assert!(
            notes[0].message.contains("namespace (\"default\")")
                && notes[0].message.contains("namespace \"shop\""),
            "{}",
            notes[0].message
        );
    }

    #[test]
    fn daemon_services_become_daemonsets_and_the_rest_is_reported() {
        let t = workload(
            "agent",
            "default",
            &spec(
                json!({"schedulingStrategy": "DAEMON", "taskDefinition": "agent", "enableExecuteCommand": true,
                    "launchType": "EC2"}),
            ),
            &PodTemplateSpec::default(),
            &WorkloadInput::default(),
            &Options::default(),
        )
        .expect("translates");
        assert!(matches!(t.workload, Workload::DaemonSet(_)));
        assert_eq!(notes(&t), vec![(NoteKind::Ignored, "enableExecuteCommand"),]);
        assert!(t.report.notes[0].message.contains("kubectl exec"));
        assert!(t.report.notes[0].message.contains("pods/exec"));
    }

    #[test]
    fn the_rolling_update_goes_on_the_workload() {
        let t = translate(json!({"desiredCount": 4, "deploymentConfiguration":
            {"minimumHealthyPercent": 50, "maximumPercent": 200,
             "deploymentCircuitBreaker": {"enable": true, "rollback": true}}}));
        let strategy = deployment(&t)
            .spec
            .as_ref()
            .and_then(|s| s.strategy.clone())
            .expect("strategy");
        assert_eq!(
            serde_json::to_value(strategy).expect("json"),
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 4, "maxUnavailable": 2}})
        );
        assert_eq!(t.blocked, None);
        // (The circuit breaker is the controller's: it counts failed tasks, nothing to translate.)
        assert!(t.report.is_empty(), "{:?}", t.report.notes);

        let t = workload(
            "agent",
            "default",
            &spec(json!({"schedulingStrategy": "DAEMON", "deploymentConfiguration": {"minimumHealthyPercent": 100}})),
            &PodTemplateSpec::default(),
            &WorkloadInput {
                daemon_tasks: Some(3),
                ..WorkloadInput::default()
            },
            &Options::default(),
        )
        .expect("translates");
        let Workload::DaemonSet(d) = &t.workload else {
            panic!("expected a DaemonSet")
        };
        assert_eq!(
            serde_json::to_value(d.spec.as_ref().and_then(|s| s.update_strategy.clone())).expect("json"),
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
        );
        assert_eq!(t.blocked, Some(blocked_message("agent")));
    }

    #[test]
    fn a_deployment_that_cannot_roll_is_blocked_but_valid() {
        let t = translate(json!({"desiredCount": 1, "deploymentConfiguration":
            {"minimumHealthyPercent": 100, "maximumPercent": 100}}));
        assert_eq!(t.blocked, Some(blocked_message("web")));
        let ru = deployment(&t)
            .spec
            .as_ref()
            .and_then(|s| s.strategy.as_ref())
            .and_then(|s| s.rolling_update.clone())
            .expect("rollingUpdate");
        assert_ne!(
            (ru.max_surge, ru.max_unavailable),
            (
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(0)),
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(0))
            )
        );
    }

    #[test]
    fn deployment_configuration_errors_name_the_field() {
        let e = workload(
            "web",
            "shop",
            &spec(json!({"desiredCount": 2, "deploymentConfiguration": {"minimumHealthyPercent": 150}})),
            &PodTemplateSpec::default(),
            &WorkloadInput::default(),
            &Options::default(),
        )
        .expect_err("out of range");
        assert!(matches!(e, ServiceError::Field { .. }));
        assert!(
            e.located("\"web\"")
                .starts_with("spec.deploymentConfiguration.minimumHealthyPercent: 150 is outside 0–100"),
            "{}",
            e.located("\"web\"")
        );
        let e = workload(
            "web",
            "shop",
            &spec(json!({"healthCheckGracePeriodSeconds": -5})),
            &PodTemplateSpec::default(),
            &WorkloadInput::default(),
            &Options::default(),
        )
        .expect_err("negative");
        assert_eq!(e.field(), "healthCheckGracePeriodSeconds");
    }

    fn probe(period: i32, failures: i32) -> Probe {
        Probe {
            period_seconds: Some(period),
            failure_threshold: Some(failures),
            ..Probe::default()
        }
    }

    fn probed_pod() -> PodTemplateSpec {
        let checked = Container {
            name: "app".into(),
            startup_probe: Some(probe(30, 4)),
            liveness_probe: Some(probe(30, 3)),
            readiness_probe: Some(probe(30, 3)),
            ..Container::default()
        };
        let sidecar = Container {
            name: "envoy".into(),
            restart_policy: Some("Always".into()),
            liveness_probe: Some(Probe {
                initial_delay_seconds: Some(500),
                ..probe(10, 3)
            }),
            ..Container::default()
        };
        let unchecked = Container {
            name: "log".into(),
            ..Container::default()
        };
        PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![checked, unchecked],
                init_containers: Some(vec![sidecar]),
                ..PodSpec::default()
            }),
        }
    }

    #[test]
    fn grace_period_delays_liveness_probes_not_readiness() {
        let with_grace = |seconds: i64| {
            workload(
                "web",
                "shop",
                &spec(json!({"desiredCount": 1, "healthCheckGracePeriodSeconds": seconds})),
                &probed_pod(),
                &WorkloadInput::default(),
                &Options::default(),
            )
            .expect("translates")
        };
        let t = with_grace(300);
        let pod = template(&t).spec.as_ref().expect("pod");
        let app = &pod.containers[0];
        assert_eq!(
            app.liveness_probe.as_ref().and_then(|p| p.initial_delay_seconds),
            Some(300)
        );
        // The startup probe's budget covers the grace period: 10 × 30 s.
        assert_eq!(
            app.startup_probe.as_ref().and_then(|p| p.failure_threshold),
            Some(10)
        );
        assert_eq!(app.readiness_probe, Some(probe(30, 3)), "readiness unchanged");
        assert_eq!(pod.containers[1], probed_pod().spec.expect("pod").containers[1]);
        // A longer delay stays; the sidecar's liveness probe counts too.
        let sidecar = &pod.init_containers.as_ref().expect("init")[0];
        assert_eq!(
            sidecar
                .liveness_probe
                .as_ref()
                .and_then(|p| p.initial_delay_seconds),
            Some(500)
        );
        assert!(t.report.is_empty(), "{:?}", t.report.notes);

        // A short grace period keeps the startup probe's longer budget.
        let t = with_grace(60);
        let app = &template(&t).spec.as_ref().expect("pod").containers[0];
        assert_eq!(
            (
                app.liveness_probe.as_ref().and_then(|p| p.initial_delay_seconds),
                app.startup_probe.as_ref().and_then(|p| p.failure_threshold)
            ),
            (Some(60), Some(4))
        );
        // Without liveness probes there is nothing to do.
        let bare = PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
        };
        let t = workload(
            "web",
            "shop",
            &spec(json!({"healthCheckGracePeriodSeconds": 60})),
            &bare,
            &WorkloadInput::default(),
            &Options::default(),
        )
        .expect("translates");
        assert_eq!(
            template(&t).spec.as_ref().map(|p| &p.containers),
            bare.spec.as_ref().map(|p| &p.containers)
        );
    }

    #[test]
    fn service_tags_go_on_the_workload_and_propagate_as_ecs_says() {
        let service_tags = json!([{"key": "cost center", "value": "a:b"}, {"key": "team"}]);
        let td: RegisterTaskDefinition =
            serde_json::from_value(json!({"family": "web", "containerDefinitions": [],
            "tags": [{"key": "owner", "value": "td"}]}))
            .expect("task definition");
        // The pod translation annotates the template with the task definition's tags.
        let pod = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                annotations: Some(BTreeMap::from([(
                    labels::TAGS.to_owned(),
                    json!({"owner": "td"}).to_string(),
                )])),
                ..ObjectMeta::default()
            }),
            spec: None,
        };
        let run = |propagate: Option<&str>, managed: bool, with_td: bool| {
            let mut v = json!({"desiredCount": 1, "tags": service_tags, "enableECSManagedTags": managed});
            if let Some(p) = propagate {
                v["propagateTags"] = json!(p);
            }
            let input = WorkloadInput {
                task_definition: with_td.then_some(&td),
                ..WorkloadInput::default()
            };
            workload("web", "shop", &spec(v), &pod, &input, &Options::default()).expect("translates")
        };
        let t = run(Some("SERVICE"), false, true);
        let own = json!({"cost center": "a:b", "team": ""});
        assert_eq!(tags(Some(&deployment(&t).metadata)), Some(own.clone()));
        assert_eq!(tags(template(&t).metadata.as_ref()), Some(own.clone()));
        assert_eq!(notes(&t), vec![(NoteKind::Approximated, "propagateTags")]);

        for with_td in [true, false] {
            let t = run(Some("TASK_DEFINITION"), false, with_td);
            assert_eq!(tags(Some(&deployment(&t).metadata)), Some(own.clone()));
            assert_eq!(tags(template(&t).metadata.as_ref()), Some(json!({"owner": "td"})));
            assert!(t.report.is_empty(), "{:?}", t.report.notes);
        }

        for propagate in [Some("NONE"), None] {
            let t = run(propagate, false, true);
            assert_eq!(tags(template(&t).metadata.as_ref()), None, "{propagate:?}");
        }

        let t = run(Some("NONE"), true, true);
        assert_eq!(
            tags(template(&t).metadata.as_ref()),
            Some(json!({"aws:ecs:serviceName": "web", "aws:ecs:clusterName": "shop"}))
        );
        let t = run(Some("TASK_DEFINITION"), true, true);
        assert_eq!(
            tags(template(&t).metadata.as_ref()),
            Some(json!({"owner": "td", "aws:ecs:serviceName": "web", "aws:ecs:clusterName": "shop"}))
        );
        // No tags: no annotation on the workload.
        let t = translate(json!({"desiredCount": 1}));
        assert_eq!(deployment(&t).metadata.annotations, None);
    }

    #[test]
    fn platform_and_network_settings_are_reported() {
        let t = translate(json!({"desiredCount": 1, "platformVersion": "1.4.0",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1", "subnet-2"],
                "securityGroups": ["sg-1", "sg-2"], "assignPublicIp": "ENABLED"}}}));
        assert_eq!(
            notes(&t),
            vec![
                (NoteKind::Ignored, "platformVersion"),
                (
                    NoteKind::Ignored,
                    "networkConfiguration.awsvpcConfiguration.securityGroups"
                ),
                (
                    NoteKind::Ignored,
                    "networkConfiguration.awsvpcConfiguration.subnets"
                ),
                (
                    NoteKind::Ignored,
                    "networkConfiguration.awsvpcConfiguration.assignPublicIp"
                ),
            ]
        );
        let sg = &t.report.notes[1].message;
        assert!(
            sg.contains("sg-1, sg-2")
                && sg.contains("SecurityGroupPolicy")
                && sg.contains("ecsbridge.io/service=web"),
            "{sg}"
        );
        assert!(t.report.notes[2].message.contains("subnet-1, subnet-2"));
        // DISABLED and disabled exec are what Kubernetes does anyway.
        let t = translate(json!({"desiredCount": 1, "enableExecuteCommand": false,
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": [], "assignPublicIp": "DISABLED"}}}));
        assert!(t.report.is_empty(), "{:?}", t.report.notes);
    }

    /// The corpus services: every field this module and the rollout translate leaves the "not
    /// translated yet" list.
    #[test]
    fn corpus_services_report_only_what_others_translate() {
        let mut seen = 0;
        for path in corpus_files("service-") {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(&path).expect("read");
            let t = workload(
                "svc",
                "corpus",
                &serde_json::from_str(&text).expect("service spec"),
                &PodTemplateSpec::default(),
                &WorkloadInput::default(),
                &Options::default(),
            )
            .expect("translates");
            let pending: Vec<&str> = t
                .report
                .notes
                .iter()
                .filter(|n| n.kind == NoteKind::NotYetTranslated)
                .map(|n| n.field.as_str())
                .collect();
            assert!(pending.is_empty(), "{file}: {pending:?}");
            seen += 1;
        }
        assert!(seen >= 5, "corpus services found: {seen}");
    }
}
