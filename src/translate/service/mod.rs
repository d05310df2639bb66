//! A Service → all of its Kubernetes objects (pure: no client, no I/O, no clock).
//!
//! [`service_objects`] is the one assembly that `ecs-bridge render` and the Service controller
//! share: the task definition revision's pod template ([`crate::translate::pod`]), the workload
//! that runs it ([`workload`]: a Deployment or DaemonSet, placed and rolled out as ECS would),
//! and the networking objects that reach its tasks ([`crate::translate::networking`]). The
//! controller only adds what needs the live cluster: owner references, the applied hash, and
//! what its rollout decision says (a held template, the circuit breaker's memory).

mod error;
pub mod providers;
pub mod workload;

use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment},
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{Node, Service as CoreService},
};

pub use error::ServiceError;

use super::{
    Options, Report,
    autoscaling::Scaling,
    networking::{NetworkError, network_objects},
    pod::{PodError, PodTranslation, pod_template_with},
};
use crate::api::{
    ServiceSpec,
    ecs::RegisterTaskDefinition,
    external::{ScaledObject, TargetGroupBinding},
};

/// The workload that runs a service's tasks.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// `schedulingStrategy: REPLICA` (the default): one Deployment, or one per capacity provider
    /// of the service's strategy ([`providers`]).
    Deployments(Vec<Deployment>),
    /// `schedulingStrategy: DAEMON`.
    DaemonSet(Box<DaemonSet>),
}

/// One registered revision of a task definition, as a service runs it.
#[derive(Debug, Clone, Copy)]
pub struct TaskDefinitionRevision<'a> {
    /// The TaskDefinition object's name (it names the pods' labels and the revision's objects).
    pub object: &'a str,
    /// The revision's spec.
    pub spec: &'a RegisterTaskDefinition,
    /// The revision number.
    pub revision: i64,
}

/// A Service to translate, with what it runs and where.
#[derive(Debug, Clone, Copy)]
pub struct ServiceInput<'a> {
    /// The Service's name.
    pub name: &'a str,
    /// Its namespace (the ECS cluster).
    pub namespace: &'a str,
    /// Its spec.
    pub spec: &'a ServiceSpec,
    /// The task definition revision its tasks run.
    pub task_definition: TaskDefinitionRevision<'a>,
    /// The known nodes (`=~` and `ec2InstanceId` need them); `None` when unknown.
    pub nodes: Option<&'a [Node]>,
    /// The capacity provider strategy it runs with, when it has one.
    pub strategy: Option<workload::Strategy<'a>>,
    /// Its auto scaling, translated ([`crate::translate::autoscaling::service_scaling`]) when
    /// it has `autoScaling`: the count in force and the HPA.
    pub scaling: Option<&'a Scaling>,
}

/// All the Kubernetes objects of one Service, without owner references.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceObjects {
    /// The Deployments (REPLICA) or DaemonSet (DAEMON).
    pub workload: Workload,
    /// Kubernetes Services of the load balancers, the Cloud Map registry and Service Connect.
    pub services: Vec<CoreService>,
    /// One TargetGroupBinding per target group.
    pub target_group_bindings: Vec<TargetGroupBinding>,
    /// The HorizontalPodAutoscaler of its auto scaling, when it has one.
    pub hpa: Option<HorizontalPodAutoscaler>,
    /// The KEDA ScaledObject of its auto scaling, when KEDA scales it.
    pub scaled_object: Option<ScaledObject>,
    /// Why some of its policies do not scale it (KEDA missing), for `Degraded`.
    pub unserved_scaling: Option<String>,
    /// What did not carry over exactly of the Service's fields: the workload's notes, the
    /// networking's, then auto scaling's.
    pub report: Report,
    /// What did not carry over exactly of the task definition's fields.
    pub task_definition_report: Report,
    /// ECS's message when the deployment configuration lets no task stop or start
    /// ([`crate::translate::rollout::blocked_message`]).
    pub blocked: Option<String>,
}

/// Why a Service cannot become Kubernetes objects; each names the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceObjectsError {
    /// The task definition cannot become a pod template.
    #[error("{0}")]
    TaskDefinition(PodError),
    /// The workload cannot be made (placement, deployment configuration, ...).
    #[error("{0}")]
    Workload(ServiceError),
    /// The networking cannot be made (load balancers, registries, Service Connect).
    #[error("{0}")]
    Networking(NetworkError),
}

/// Translates `input` into all of its Kubernetes objects, for an installation with `options`.
///
/// # Errors
/// [`ServiceObjectsError`]: what ECS would refuse, or what cannot name a Kubernetes object.
pub fn service_objects(
    input: &ServiceInput<'_>,
    options: &Options,
) -> Result<ServiceObjects, ServiceObjectsError> {
    let td = input.task_definition;
    let pod = pod_template_with(td.object, td.spec, td.revision, Some(input.namespace), options)
        .map_err(ServiceObjectsError::TaskDefinition)?;
    service_objects_of_pod(input, &pod, options)
}

/// [`service_objects`] with the task definition revision already translated into `pod` (by
/// [`pod_template_with`], for the same object, revision, namespace and `options`): one
/// translation serves every Service that runs it.
///
/// # Errors
/// [`ServiceObjectsError`]: what ECS would refuse, or what cannot name a Kubernetes object.
pub fn service_objects_of_pod(
    input: &ServiceInput<'_>,
    pod: &PodTranslation,
    options: &Options,
) -> Result<ServiceObjects, ServiceObjectsError> {
    let td = input.task_definition;
    // With auto scaling, the count in force: desiredCount kept inside the range in force.
    let counted;
    let spec = match input.scaling {
        Some(scaling) => {
            let mut spec = input.spec.clone();
            spec.service.desired_count = Some(scaling.count(spec.service.desired_count));
            counted = spec;
            &counted
        }
        None => input.spec,
    };
    let workload_input = workload::WorkloadInput {
        task_definition: Some(td.spec),
        nodes: input.nodes,
        // (The number of a DAEMON service's tasks is not known here: a percentage.)
        daemon_tasks: None,
        strategy: input.strategy,
    };
    let translated = workload::workload(
        input.name,
        input.namespace,
        spec,
        &pod.template,
        &workload_input,
        options,
    )
    .map_err(ServiceObjectsError::Workload)?;
    let network = network_objects(input.name, input.namespace, spec, td.spec, &pod.template)
        .map_err(ServiceObjectsError::Networking)?;
    let mut report = translated.report;
    report.notes.extend(network.report.notes);
    if let Some(scaling) = input.scaling {
        report.notes.extend(scaling.report.notes.iter().cloned());
    }
    Ok(ServiceObjects {
        workload: translated.workload,
        services: network.services,
        target_group_bindings: network.target_group_bindings,
        hpa: input.scaling.and_then(|s| s.hpa.clone()),
        scaled_object: input.scaling.and_then(|s| s.scaled_object.clone()),
        unserved_scaling: input.scaling.and_then(|s| s.unserved.clone()),
        report,
        task_definition_report: pod.report.clone(),
        blocked: translated.blocked,
    })
}
