//! Build (pure: no client, no clock): a [`ValidatedService`] and its [`Plan`] → the objects to
//! apply.
//!
//! The objects come from [`service_objects`], the assembly `ecs-bridge render` shows, for the
//! revision the plan runs; this step adds what only the operator knows: the plan (a held
//! template, the circuit breaker's memory in the Deployment's annotations, a pause), the owner
//! reference and the applied hash ([`unchanged::APPLIED_HASH`], so that [`super::apply`] skips
//! what is unchanged). With auto scaling on, the count is the Service's `desiredCount` inside the
//! range in force ([`super::decide::scaling`]), which the HPA built here changes through the
//! Service's scale subresource.

use k8s_openapi::api::{autoscaling::v2::HorizontalPodAutoscaler, core::v1::Service as CoreService};
use kube::{Resource, ResourceExt};
use serde::Serialize;

use super::{
    decide::Plan,
    pace,
    validate::{Invalid, ValidatedService},
};
use crate::{
    api::{
        autoscaling::AutoScalingStatus,
        ecs::CapacityProviderStrategyItem,
        external::{ScaledObject, TargetGroupBinding},
    },
    controller::{status::REASON_INVALID_TASK_DEFINITION, unchanged},
    translate::{
        Options, Report,
        autoscaling::Scaling,
        capacity::provider::StrategySource,
        service::{
            ServiceError, ServiceInput, ServiceObjectsError, TaskDefinitionRevision, Workload, providers,
            service_objects, workload::Strategy,
        },
    },
};

/// Reason of `Ready=False` when the placement constraints or strategies do not compile.
pub const REASON_INVALID_PLACEMENT: &str = "InvalidPlacement";
/// Reason of `Ready=False` when another field of the Service cannot be carried over
/// (`deploymentConfiguration` out of range, a negative `healthCheckGracePeriodSeconds`, ...).
pub const REASON_INVALID_SERVICE_FIELD: &str = "InvalidServiceField";
/// Reason of `Ready=False` when `loadBalancers`, `serviceRegistries` or
/// `serviceConnectConfiguration` cannot become Kubernetes objects (ECS would refuse them too, or
/// a name cannot name a Kubernetes Service).
pub const REASON_INVALID_NETWORKING: &str = "InvalidNetworking";

/// What did not carry over exactly, from the Service and from its TaskDefinition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Translation {
    /// Notes on the Service's fields (relative to its `spec`).
    pub service: Report,
    /// Notes on the TaskDefinition's fields (relative to the TaskDefinition's `spec`).
    pub task_definition: Report,
    /// Object name of the TaskDefinition, to say whose fields [`Self::task_definition`] lists.
    pub task_definition_object: String,
}

impl Translation {
    /// Whether nothing was reported.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.service.is_empty() && self.task_definition.is_empty()
    }

    /// Every note as a sentence, the Service's first; the TaskDefinition's say whose they are.
    #[must_use]
    pub fn notes(&self) -> Vec<String> {
        let service = self.service.notes.iter().map(ToString::to_string);
        let task_definition = self
            .task_definition
            .notes
            .iter()
            .map(|n| format!("TaskDefinition {}: {n}", self.task_definition_object));
        service.chain(task_definition).collect()
    }
}

/// The desired state of one Service: its objects, owned and stamped with their applied hash, and
/// what the translation reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The Deployments (REPLICA: one, or one per capacity provider) or DaemonSet (DAEMON).
    pub workload: Workload,
    /// Its Deployments no longer wanted (of capacity providers it left), with the count each
    /// shrinks to; deleted at 0 ([`super::pace`]).
    pub leaving: Vec<pace::Leaving>,
    /// Kubernetes Services of the load balancers, the Cloud Map registry and Service Connect.
    pub services: Vec<CoreService>,
    /// One TargetGroupBinding per target group.
    pub target_group_bindings: Vec<TargetGroupBinding>,
    /// The HorizontalPodAutoscaler of its auto scaling; `None`: it has none (any it had goes).
    pub hpa: Option<HorizontalPodAutoscaler>,
    /// The KEDA ScaledObject of its auto scaling; `None`: it has none (one it had goes).
    pub scaled_object: Option<ScaledObject>,
    /// Why some of its policies do not scale it (KEDA missing), for `Degraded`.
    pub unserved_scaling: Option<String>,
    /// Its auto scaling as the status records it.
    pub auto_scaling: Option<AutoScalingStatus>,
    /// The task definition that runs, `family:revision`.
    pub task_definition: String,
    /// What did not carry over exactly.
    pub translation: Translation,
    /// The capacity provider strategy the tasks run with, and where it comes from.
    pub strategy: Option<(Vec<CapacityProviderStrategyItem>, StrategySource)>,
    /// The task to replace (its pod, deleted so that its ReplicaSet makes another).
    pub replace: Option<k8s_openapi::api::core::v1::Pod>,
}

/// Builds the objects of `valid` for `plan` and `scaling` (its auto scaling, as
/// [`super::decide::scaling`] decided it), placed against `nodes`, for an installation with
/// `options`.
///
/// # Errors
/// [`REASON_INVALID_TASK_DEFINITION`] when the TaskDefinition cannot become a pod template (a
/// container without image, two container names that collide in Kubernetes, ...);
/// [`REASON_INVALID_PLACEMENT`] when its placement does not compile;
/// [`REASON_INVALID_SERVICE_FIELD`] when another field of the Service cannot be carried over;
/// [`REASON_INVALID_NETWORKING`] when its networking cannot become objects.
pub fn build(
    valid: &ValidatedService,
    plan: &Plan<'_>,
    scaling: Option<&Scaling>,
    nodes: Option<&[k8s_openapi::api::core::v1::Node]>,
    options: &Options,
) -> Result<Desired, Invalid> {
    let td_object = valid.task_definition.name_any();
    let input = ServiceInput {
        name: &valid.name,
        namespace: &valid.namespace,
        spec: &valid.service.spec,
        task_definition: TaskDefinitionRevision {
            object: &td_object,
            spec: plan.spec,
            revision: plan.revision,
        },
        nodes,
        strategy: valid.strategy.as_ref().map(|s| Strategy {
            field: &s.field,
            providers: &s.providers,
        }),
        scaling,
    };
    let objects = service_objects(&input, options).map_err(|e| invalid(&e, &td_object))?;
    let owners = Some(vec![valid.owner.clone()]);
    let mut leaving = Vec::new();
    let workload = match objects.workload {
        Workload::Deployments(mut ds) => {
            for d in &mut ds {
                let name = d.metadata.name.clone().unwrap_or_default();
                if let Some(spec) = d.spec.as_mut() {
                    if let Some(template) = plan.hold.as_ref().and_then(|h| h.templates.get(&name)) {
                        spec.template = template.clone();
                    }
                    spec.paused = plan.paused.then_some(true);
                }
            }
            let bounds = providers::bounds(&valid.service.spec)
                .map_err(|e| invalid(&ServiceObjectsError::Workload(e), &td_object))?;
            leaving = pace::pace(&mut ds, &plan.live, bounds, plan.paused);
            Workload::Deployments(
                ds.into_iter()
                    .map(|mut d| {
                        plan.history.annotate(&mut d);
                        owned(d, &owners)
                    })
                    .collect(),
            )
        }
        Workload::DaemonSet(d) => Workload::DaemonSet(Box::new(owned(*d, &owners))),
    };
    Ok(Desired {
        workload,
        leaving,
        services: objects.services.into_iter().map(|s| owned(s, &owners)).collect(),
        target_group_bindings: objects
            .target_group_bindings
            .into_iter()
            .map(|b| owned(b, &owners))
            .collect(),
        hpa: objects.hpa.map(|h| owned(h, &owners)),
        scaled_object: objects.scaled_object.map(|s| owned(s, &owners)),
        unserved_scaling: objects.unserved_scaling,
        auto_scaling: scaling.map(|s| s.status.clone()),
        task_definition: plan.running.clone(),
        strategy: valid.strategy.as_ref().map(|s| (s.items(), s.source)),
        replace: plan.replace.clone(),
        translation: Translation {
            service: objects.report,
            task_definition: objects.task_definition_report,
            task_definition_object: td_object,
        },
    })
}

/// `obj` with the controller owner reference `owners` and its applied hash.
fn owned<K: Resource + Serialize>(
    mut obj: K,
    owners: &Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>,
) -> K {
    obj.meta_mut().owner_references.clone_from(owners);
    let hash = unchanged::hash(&obj);
    unchanged::stamp(obj.meta_mut(), hash);
    obj
}

/// Why the objects of the TaskDefinition object `td_object`'s Service cannot be built, as the
/// `Ready` condition says it.
fn invalid(e: &ServiceObjectsError, td_object: &str) -> Invalid {
    match e {
        ServiceObjectsError::TaskDefinition(e) => Invalid {
            reason: REASON_INVALID_TASK_DEFINITION,
            message: format!("TaskDefinition {td_object:?}: {e}"),
        },
        ServiceObjectsError::Workload(e) => Invalid {
            reason: match e {
                ServiceError::Placement(_) => REASON_INVALID_PLACEMENT,
                ServiceError::Field { .. } => REASON_INVALID_SERVICE_FIELD,
            },
            message: e.located(&format!("{td_object:?}")),
        },
        ServiceObjectsError::Networking(e) => Invalid {
            reason: REASON_INVALID_NETWORKING,
            message: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};

    use super::*;
    use crate::{
        api::{TaskDefinition, autoscaling::AutoScaling, ecs::SchedulingStrategy},
        controller::{
            revisions,
            service::{
                children::Children,
                decide::decide,
                load::Loaded,
                validate::{validate, validated},
            },
            testing,
        },
        translate::labels,
    };

    /// Builds `valid` as a first reconcile would (nothing running yet), placed against `nodes`.
    fn built(
        valid: &ValidatedService,
        nodes: Option<&[k8s_openapi::api::core::v1::Node]>,
    ) -> Result<Desired, Invalid> {
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).expect("a time"),
        );
        let plan = decide(valid, &Children::default(), &now);
        build(valid, &plan, None, nodes, &Options::default())
    }

    fn web_td() -> TaskDefinition {
        testing::with_container(testing::task_definition("team-a", "web", 1), "app", "nginx:1.27")
    }

    fn deployment(d: &Desired) -> &Deployment {
        match &d.workload {
            Workload::Deployments(d) => &d[0],
            Workload::DaemonSet(_) => panic!("expected a Deployment"),
        }
    }

    #[test]
    fn deployment_is_owned_by_the_service_and_labelled() {
        let svc = testing::service("team-a", "front", 2, "web");
        let desired = built(&validated(&svc, web_td()), None).expect("builds");
        let d = deployment(&desired);
        assert_eq!(d.metadata.name.as_deref(), Some("front"));
        assert_eq!(d.metadata.namespace.as_deref(), Some("team-a"));
        let owners = d.metadata.owner_references.as_ref().expect("owner references");
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].api_version, "ecsbridge.io/v1alpha1");
        assert_eq!(owners[0].kind, "Service");
        assert_eq!(owners[0].name, "front");
        assert_eq!(owners[0].uid, "uid-team-a-front");
        assert_eq!(owners[0].controller, Some(true));
        assert_eq!(owners[0].block_owner_deletion, Some(true));
        let meta_labels = d.metadata.labels.as_ref().expect("labels");
        assert_eq!(meta_labels[labels::SERVICE], "front");
        assert_eq!(meta_labels[labels::MANAGED_BY], "ecs-bridge");
        let spec = d.spec.as_ref().expect("spec");
        assert_eq!(spec.replicas, Some(3), "desiredCount of the fixture");
        let pod_labels = spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref())
            .expect("labels");
        assert_eq!(pod_labels[labels::SERVICE], "front");
        assert_eq!(pod_labels[labels::TASK_DEFINITION], "web");
        assert_eq!(pod_labels[labels::REVISION], "1");
        let pod = spec.template.spec.as_ref().expect("pod spec");
        assert_eq!(pod.containers[0].image.as_deref(), Some("nginx:1.27"));
        assert_eq!(desired.task_definition, "web:1");
        assert!(
            desired.translation.is_empty(),
            "{:?}",
            desired.translation.notes()
        );
    }

    #[test]
    fn auto_scaling_runs_the_services_count() {
        let mut svc = testing::service("team-a", "front", 2, "web");
        svc.spec.auto_scaling = Some(AutoScaling {
            min_capacity: 2,
            max_capacity: 10,
            ..Default::default()
        });
        let desired = built(&validated(&svc, web_td()), None).expect("builds");
        let d = deployment(&desired);
        assert_eq!(
            d.spec.as_ref().expect("spec").replicas,
            svc.spec.service.desired_count,
            "the Service's count (3)"
        );
    }

    #[test]
    fn daemon_becomes_an_owned_daemon_set() {
        let mut svc = testing::service("team-a", "agent", 1, "web");
        svc.spec.service.scheduling_strategy = Some(SchedulingStrategy::Daemon);
        let desired = built(&validated(&svc, web_td()), None).expect("builds");
        let Workload::DaemonSet(d) = &desired.workload else {
            panic!("expected a DaemonSet")
        };
        let d: &DaemonSet = d;
        assert_eq!(d.metadata.name.as_deref(), Some("agent"));
        let owners = d.metadata.owner_references.as_ref().expect("owner references");
        assert_eq!(
            (owners[0].uid.as_str(), owners[0].controller),
            ("uid-team-a-agent", Some(true))
        );
        let pod = d
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod spec");
        assert_eq!(pod.containers[0].image.as_deref(), Some("nginx:1.27"));
    }

    #[test]
    fn revision_and_family_come_from_the_task_definition() {
        let mut td = web_td();
        td.spec.task_definition.family = Some("web_app".into());
        td.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(5),
            ..Default::default()
        });
        let svc = testing::service("team-a", "front", 1, "web_app");
        let desired = built(&validated(&svc, td), None).expect("builds");
        assert_eq!(desired.task_definition, "web_app:5");
        let pod_labels = deployment(&desired)
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.as_ref())
            .expect("labels");
        assert_eq!(pod_labels[labels::REVISION], "5");
        assert!(desired.translation.is_empty());
    }

    #[test]
    fn a_pinned_revision_runs_its_stored_spec() {
        let old = web_td();
        let mut live =
            testing::with_container(testing::task_definition("team-a", "web", 2), "app", "nginx:1.28");
        live.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(2),
            ..Default::default()
        });
        let loaded = Loaded {
            task_definitions: vec![live],
            revision: revisions::registered_as(&old, 1),
            ..Loaded::default()
        };
        let svc = testing::service("team-a", "front", 1, "web:1");
        let desired = built(&validate(&svc, &loaded).expect("valid"), None).expect("builds");
        assert_eq!(desired.task_definition, "web:1");
        let pod = deployment(&desired)
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod spec");
        assert_eq!(pod.containers[0].image.as_deref(), Some("nginx:1.27"));
        assert!(
            desired.translation.service.is_empty(),
            "{:?}",
            desired.translation.notes()
        );
    }

    #[test]
    fn task_definition_notes_say_whose_they_are() {
        let mut td = web_td();
        td.spec.task_definition.network_mode = Some(crate::api::ecs::NetworkMode::Bridge);
        let svc = testing::service("team-a", "front", 1, "web");
        let desired = built(&validated(&svc, td), None).expect("builds");
        let notes = desired.translation.notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("TaskDefinition web: spec.networkMode: approximated: "),
            "{notes:?}"
        );
    }

    #[test]
    fn networking_objects_are_owned_by_the_service_and_reported() {
        let mut td = web_td();
        td.spec.task_definition = serde_json::from_value(serde_json::json!({
            "family": "web", "networkMode": "awsvpc",
            "containerDefinitions": [{"name": "app", "image": "nginx:1.27",
                "portMappings": [{"name": "http", "containerPort": 80}]}]
        }))
        .expect("task definition");
        let mut svc = testing::service("team-a", "front", 1, "web");
        svc.spec.service.load_balancers = Some(vec![
            serde_json::from_value(serde_json::json!({
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/front/1",
                "containerName": "app", "containerPort": 80,
                "advancedConfiguration": {"alternateTargetGroupArn": "arn:green"}}))
            .expect("load balancer"),
        ]);
        svc.spec.service.service_registries = Some(vec![Default::default()]);
        let desired = built(&validated(&svc, td), None).expect("builds");
        let names: Vec<&str> = desired
            .services
            .iter()
            .filter_map(|s| s.metadata.name.as_deref())
            .collect();
        assert_eq!(names, ["front-lb", "front-discovery"]);
        assert_eq!(
            desired.target_group_bindings[0].metadata.name.as_deref(),
            Some("front.front")
        );
        let owners = desired
            .services
            .iter()
            .map(|s| &s.metadata.owner_references)
            .chain(
                desired
                    .target_group_bindings
                    .iter()
                    .map(|b| &b.metadata.owner_references),
            );
        for o in owners {
            let o = o.as_ref().expect("owner references");
            assert_eq!(
                (o[0].uid.as_str(), o[0].controller),
                ("uid-team-a-front", Some(true))
            );
        }
        let fields: Vec<&str> = desired
            .translation
            .service
            .notes
            .iter()
            .map(|n| n.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "loadBalancers[0].advancedConfiguration",
                "serviceRegistries[0].registryArn"
            ]
        );
    }

    #[test]
    fn a_task_definition_without_image_is_invalid() {
        let mut td = testing::task_definition("team-a", "web", 1);
        td.spec.task_definition.container_definitions = vec![crate::api::ecs::ContainerDefinition {
            name: Some("app".into()),
            ..Default::default()
        }];
        let svc = testing::service("team-a", "front", 1, "web");
        let err = built(&validated(&svc, td), None).expect_err("no image");
        assert_eq!(err.reason, "InvalidTaskDefinition");
        assert!(
            err.message
                .starts_with("TaskDefinition \"web\": spec.containerDefinitions[0].image: required"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_invalid_deployment_configuration_makes_the_service_invalid() {
        let mut svc = testing::service("team-a", "front", 2, "web");
        svc.spec.service.deployment_configuration = Some(crate::api::ecs::DeploymentConfiguration {
            maximum_percent: Some(50),
            ..Default::default()
        });
        let err = built(&validated(&svc, web_td()), None).expect_err("max < 100");
        assert_eq!(err.reason, REASON_INVALID_SERVICE_FIELD);
        assert!(
            err.message
                .starts_with("spec.deploymentConfiguration.maximumPercent: 50 is below 100"),
            "{}",
            err.message
        );
    }

    #[test]
    fn placement_compiles_against_the_listed_nodes_or_the_service_is_invalid() {
        let mut td = web_td();
        td.spec.task_definition.placement_constraints = Some(vec![
            serde_json::from_value(
                serde_json::json!({"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}),
            )
            .expect("constraint"),
        ]);
        let mut svc = testing::service("team-a", "front", 1, "web");
        svc.spec.service.placement_constraints = Some(vec![
            serde_json::from_value(serde_json::json!({"type": "distinctInstance"})).expect("constraint"),
        ]);
        let nodes: Vec<k8s_openapi::api::core::v1::Node> = ["t3.micro", "m5.large"]
            .iter()
            .enumerate()
            .map(|(i, ty)| {
                serde_json::from_value(serde_json::json!({"metadata": {"name": format!("n{i}"),
                    "labels": {"node.kubernetes.io/instance-type": ty}}}))
                .expect("node")
            })
            .collect();
        let desired = built(&validated(&svc, td.clone()), Some(&nodes)).expect("builds");
        let affinity = deployment(&desired)
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.affinity.clone())
            .expect("affinity");
        let term = &affinity
            .node_affinity
            .and_then(|n| n.required_during_scheduling_ignored_during_execution)
            .expect("required node affinity")
            .node_selector_terms[0];
        let req = &term.match_expressions.as_ref().expect("expressions")[0];
        assert_eq!(
            (req.operator.as_str(), req.values.clone()),
            ("In", Some(vec!["t3.micro".to_owned()]))
        );
        let anti = affinity
            .pod_anti_affinity
            .and_then(|a| a.required_during_scheduling_ignored_during_execution)
            .expect("distinctInstance");
        assert_eq!(anti[0].topology_key, "kubernetes.io/hostname");
        // Without the nodes, `=~` cannot be evaluated: the Service says so.
        let err = built(&validated(&svc, td), None).expect_err("needs nodes");
        assert_eq!(err.reason, REASON_INVALID_PLACEMENT);
        assert!(
            err.message.starts_with(
                "TaskDefinition \"web\": spec.placementConstraints[0].expression: at character 1: "
            ),
            "{}",
            err.message
        );
    }
}
