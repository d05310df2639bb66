//! Service networking (pure: no client, no I/O): `loadBalancers`, `serviceRegistries` and
//! `serviceConnectConfiguration` (ecs-reference §2.1) → Kubernetes Services and AWS Load
//! Balancer Controller `TargetGroupBinding`s.
//!
//! Every object selects the service's tasks with [`labels::selector_labels`] (the workload's pods, of
//! every revision during a rollout, as ECS registers the tasks of every deployment) and is
//! labelled like the workload (`app.kubernetes.io/managed-by=ecs-bridge`,
//! `ecsbridge.io/service=<name>`), so the Service controller can list its own and prune the ones
//! no longer wanted.
//!
//!
//! The objects come from [`load_balancers`], [`discovery`] and [`service_connect`]; [`ports`]
//! resolves the task definition's port mappings to the pod's port names for all three.
//!
//! # Names
//!
//! | object | name |
//! |---|---|
//! | load balancer Service | `<service>-lb` |
//! | Cloud Map headless Service | `<service>-discovery` |
//! | Service Connect Services | the alias's first DNS label, else `discoveryName`, else `portName` |
//! | TargetGroupBindings | `<service>.<target group name>` |
//!
//! Service Connect names come first: clients depend on them; the other two only need to be
//! distinct. Service names must be DNS-1035 labels (at most 63 of `a-z`, `0-9` and `-`,
//! starting with a letter): a service name that cannot make one is an error naming
//! `metadata.name`, a Service Connect name an error naming its field. `<a>-lb` and
//! `<b>-discovery` never meet (no name ends in both), but a Service Connect name can be any
//! label: two Services of one service with the same name are an error naming both fields. A
//! TargetGroupBinding name cannot collide: neither the service name (a DNS-1035 label when
//! there are load balancers) nor a target group name (`[A-Za-z0-9-]`) contains a dot. Names
//! chosen by two different services (two Service Connect aliases) are not seen here: the
//! controller reports the second one (the API server refuses a second controller owner).

pub mod discovery;
pub mod load_balancers;
pub mod ports;
pub mod service_connect;

#[cfg(test)]
mod network_objects_tests;

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{PodTemplateSpec, Service as CoreService},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::{NoteKind, Report, labels};
use crate::{
    api::{ServiceSpec, ecs::RegisterTaskDefinition, external::TargetGroupBinding},
    names,
};

/// Fields of the Service spec this module translates or reports (patterns, relative to `spec`).
pub const HANDLED: &[&str] = &[
    "role",
    "loadBalancers[].targetGroupArn",
    "loadBalancers[].loadBalancerName",
    "loadBalancers[].containerName",
    "loadBalancers[].containerPort",
    "loadBalancers[].advancedConfiguration",
    "serviceRegistries[].registryArn",
    "serviceRegistries[].port",
    "serviceRegistries[].containerName",
    "serviceRegistries[].containerPort",
    "serviceConnectConfiguration.enabled",
    "serviceConnectConfiguration.namespace",
    "serviceConnectConfiguration.services[].portName",
    "serviceConnectConfiguration.services[].discoveryName",
    "serviceConnectConfiguration.services[].clientAliases[].port",
    "serviceConnectConfiguration.services[].clientAliases[].dnsName",
    "serviceConnectConfiguration.services[].clientAliases[].testTrafficRules",
    "serviceConnectConfiguration.services[].ingressPortOverride",
    "serviceConnectConfiguration.services[].timeout",
    "serviceConnectConfiguration.services[].tls",
    "serviceConnectConfiguration.logConfiguration",
    "serviceConnectConfiguration.accessLogConfiguration",
    "serviceConnectConfiguration.containerConfigurations",
];

/// The most target groups ECS attaches to one service.
pub const MAX_TARGET_GROUPS: usize = 5;
/// The most service registries ECS attaches to one service.
pub const MAX_SERVICE_REGISTRIES: usize = 1;
/// The most client aliases ECS accepts per Service Connect service.
pub const MAX_CLIENT_ALIASES: usize = 1;
/// Suffix of the load balancer Service's name.
pub const LOAD_BALANCER_SUFFIX: &str = "-lb";
/// Suffix of the Cloud Map headless Service's name.
pub const DISCOVERY_SUFFIX: &str = "-discovery";
/// Longest Kubernetes Service name (a DNS-1035 label).
pub(super) const MAX_SERVICE_NAME: usize = 63;
/// The longest Kubernetes port name (`IANA_SVC_NAME`).
pub(super) const MAX_PORT_NAME: usize = 15;
/// The highest port number.
pub(super) const MAX_PORT: i32 = 65_535;

/// The networking objects of one service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkObjects {
    /// Kubernetes Services: the load balancer's, the Cloud Map headless one, the Service
    /// Connect ones, in that order.
    pub services: Vec<CoreService>,
    /// One per target group, in `loadBalancers` order.
    pub target_group_bindings: Vec<TargetGroupBinding>,
    /// Fields ignored or approximated.
    pub report: Report,
}

impl NetworkObjects {
    /// Whether there is nothing to make.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.target_group_bindings.is_empty()
    }
}

/// Why a service's networking cannot become Kubernetes objects (ECS would refuse the service,
/// or its names cannot name Kubernetes objects).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// A field of the spec.
    #[error("spec.{field}: {reason}")]
    Field {
        /// The field, relative to `spec` (`loadBalancers[0].containerPort`).
        field: String,
        /// What is wrong, and how to fix it.
        reason: String,
    },
    /// The service's own name.
    #[error("metadata.name: {reason}")]
    Name {
        /// What is wrong, and how to fix it.
        reason: String,
    },
}

pub(super) fn bad(field: impl Into<String>, reason: impl Into<String>) -> NetworkError {
    NetworkError::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Translates the networking of service `name` in `namespace` (its `spec`), whose tasks run the
/// task definition `td` as the pod template `pod` (its Kubernetes port names and `appProtocol`s).
///
/// # Errors
/// [`NetworkError`] where ECS would refuse the service (a load balancer on a port the task
/// definition does not map, more than 5 target groups, a Service Connect `portName` that names
/// no port mapping, ...) or a name cannot name a Kubernetes Service (see the module docs).
pub fn network_objects(
    name: &str,
    namespace: &str,
    spec: &ServiceSpec,
    td: &RegisterTaskDefinition,
    pod: &PodTemplateSpec,
) -> Result<NetworkObjects, NetworkError> {
    let ports = ports::PodPorts::new(td, pod);
    let meta = |object: &str| ObjectMeta {
        name: Some(object.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(object_labels(name)),
        ..ObjectMeta::default()
    };
    let service = &spec.service;
    let mut report = Report::default();
    let load_balancers = service.load_balancers.as_deref().unwrap_or_default();
    let balanced = load_balancers::load_balancing(name, load_balancers, &ports, &mut report, &meta)?;
    if service.role.is_some() {
        report.note(
            NoteKind::Ignored,
            "role",
            "the AWS Load Balancer Controller registers targets with its own IAM role",
        );
    }
    let registries = service.service_registries.as_deref().unwrap_or_default();
    let discovered = discovery::discovery(name, namespace, registries, &ports, &mut report, &meta)?;
    let connected = match &service.service_connect_configuration {
        Some(sc) => service_connect::service_connect(name, sc, &ports, &mut report, &meta)?,
        None => Vec::new(),
    };

    // Service Connect names first: clients depend on them.
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for (field, svc) in &connected {
        claim(&mut taken, svc, field)?;
    }
    let mut out = NetworkObjects {
        report,
        ..NetworkObjects::default()
    };
    if let Some((svc, bindings)) = balanced {
        claim(&mut taken, &svc, "loadBalancers")?;
        out.services.push(svc);
        out.target_group_bindings = bindings;
    }
    if let Some(svc) = discovered {
        claim(&mut taken, &svc, "serviceRegistries")?;
        out.services.push(svc);
    }
    out.services.extend(connected.into_iter().map(|(_, svc)| svc));
    Ok(out)
}

/// The labels of every object made here: the workload's.
fn object_labels(service: &str) -> BTreeMap<String, String> {
    let mut labels = labels::selector_labels(service);
    labels.insert(labels::MANAGED_BY.to_owned(), labels::MANAGED_BY_VALUE.to_owned());
    labels
}

/// Records that `svc`'s name comes from `field`.
///
/// # Errors
/// When another object of the service has that name already.
fn claim(taken: &mut BTreeMap<String, String>, svc: &CoreService, field: &str) -> Result<(), NetworkError> {
    let name = svc.metadata.name.clone().unwrap_or_default();
    if let Some(first) = taken.get(&name) {
        return Err(bad(
            field,
            format!(
                "makes the Kubernetes Service {name:?}, which {first} makes already; give one of \
                 them another name"
            ),
        ));
    }
    taken.insert(name, field.to_owned());
    Ok(())
}

/// Whether `s` is a DNS-1035 label (a Kubernetes Service name): at most 63 of `a-z`, `0-9` and
/// `-`, starting with a letter, ending with a letter or digit.
pub(super) fn is_dns1035_label(s: &str) -> bool {
    names::is_dns_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// The name of one of the service's own Services: `<name><suffix>`.
///
/// # Errors
/// When that is no DNS-1035 label.
pub(super) fn derived_name(name: &str, suffix: &str, what: &str) -> Result<String, NetworkError> {
    let object = format!("{name}{suffix}");
    if is_dns1035_label(&object) {
        return Ok(object);
    }
    Err(NetworkError::Name {
        reason: format!(
            "{name:?} cannot name the {what} Service {object:?}: a Service name is at most \
             {MAX_SERVICE_NAME} characters of a-z, 0-9 and '-', starting with a letter; rename the \
             Service (at most {} characters)",
            MAX_SERVICE_NAME - suffix.len()
        ),
    })
}
