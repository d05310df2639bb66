//! Service networking (pure: no client, no I/O): `loadBalancers`, `serviceRegistries` and
//! `serviceConnectConfiguration` (ecs-reference §2.1) → Kubernetes Services and AWS Load
//! Balancer Controller `TargetGroupBinding`s.
//!
//! Every object selects the service's tasks with [`selector_labels`] (the workload's pods, of
//! every revision during a rollout, as ECS registers the tasks of every deployment) and is
//! labelled like the workload (`app.kubernetes.io/managed-by=ecs-bridge`,
//! `ecsbridge.io/service=<name>`), so the Service controller can list its own and prune the ones
//! no longer wanted.
//!
//! # Load balancers
//!
//! Each `loadBalancers[]` entry with a `targetGroupArn` names the container port ECS registers in
//! that target group (`containerName` and `containerPort` must match a `containerPort` mapping of
//! that container, as ECS requires; otherwise an error naming `loadBalancers[i].containerPort`).
//! The entries become:
//!
//! * one Kubernetes Service `<service>-lb` selecting the tasks, with one port per distinct
//!   container port and protocol (`port` = `targetPort` = the container port, named after the
//!   container port's Kubernetes name, else `tcp-<port>`/`udp-<port>`, an `IANA_SVC_NAME`; the
//!   `appProtocol` the task definition gave the port, if any);
//! * one `TargetGroupBinding` (`elbv2.k8s.aws/v1beta1`) per target group, named
//!   `<service>.<target group name>` (lower case), with `spec.targetGroupARN`,
//!   `spec.serviceRef {name: <service>-lb, port: <port name>}` and `spec.targetType`: the AWS
//!   Load Balancer Controller then registers the tasks in the existing target group, so an
//!   existing ALB or NLB can send traffic to the cluster during a migration.
//!
//! `targetType` follows the task definition's network mode, since a target group's type is
//! fixed when it is created and ECS requires the type that matches the mode:
//!
//! | `networkMode` | ECS registers | `targetType` | the Service |
//! |---|---|---|---|
//! | `awsvpc` | task IP : `containerPort` | `ip`: the pods' IPs and container ports (pods must have VPC IPs, as with the Amazon VPC CNI) | `ClusterIP` |
//! | `bridge`, `host`, or unset | instance : host port | `instance`: every node, on the Service's node port | `NodePort` (the node port is allocated by Kubernetes; the target group's health check must use the traffic port) |
//!
//! With `instance`, the load balancer reaches any node and kube-proxy forwards to a task, where
//! ECS registered only the instances running one: the report says so.
//!
//! At most 5 target groups (ECS's limit), each once; past that, an error. `loadBalancerName` (a
//! Classic Load Balancer, which `TargetGroupBinding` cannot bind), `advancedConfiguration`
//! (blue/green target group pairs) and the service's `role` are reported, not carried.
//!
//! # Service discovery (Cloud Map)
//!
//! `serviceRegistries` (at most 1) → a headless Service `<service>-discovery` (`clusterIP:
//! None`): cluster DNS answers `<service>-discovery.<namespace>.svc` with the ready tasks' IPs,
//! as Cloud Map answers with the registered tasks, and SRV records for its named port. The port
//! is `containerName` + `containerPort` (which must match a port mapping) or `port`, not both,
//! as ECS requires; with neither (`awsvpc` A records) the Service has no port. The Cloud Map
//! service itself (`registryArn`) is not updated: reported.
//!
//! # Service Connect
//!
//! With `enabled: true`, each `services[]` entry → a `ClusterIP` Service named after the first
//! label of its client alias's `dnsName` (lower case: DNS names are case-insensitive), else its
//! `discoveryName`, else its `portName`, so that clients in the namespace reach it by the name
//! they used with ECS. `port` = `clientAliases[0].port` (else the container port); `targetPort` =
//! the Kubernetes name of the container port whose ECS `name` is `portName` (a `portName` that
//! names no port mapping is an error, as in ECS). There is no Service Connect proxy: clients
//! connect to the tasks through kube-proxy, so `tls`, `timeout`, `ingressPortOverride`, the
//! proxy's logs and test traffic rules are reported, and the Cloud Map `namespace` is replaced by
//! the Kubernetes namespace (the ECS cluster): a multi-label `dnsName` (`orders.internal`) is
//! reached as `orders` (or `orders.<namespace>.svc`), reported.
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

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::{
    api::core::v1::{PodTemplateSpec, Service as CoreService, ServicePort, ServiceSpec as CoreServiceSpec},
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, util::intstr::IntOrString},
};
use kube::CustomResource;
use serde::{Deserialize, Serialize};

use super::{NoteKind, Report, labels, service::selector_labels};
use crate::{
    api::{
        ServiceSpec,
        ecs::{
            LoadBalancer, NetworkMode, PortMapping, RegisterTaskDefinition, ServiceConnectConfiguration,
            ServiceRegistry, TransportProtocol,
        },
    },
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
const MAX_SERVICE_NAME: usize = 63;
/// The longest Kubernetes port name (`IANA_SVC_NAME`).
const MAX_PORT_NAME: usize = 15;
/// The highest port number.
const MAX_PORT: i32 = 65_535;

/// `TargetGroupBindingSpec` of the AWS Load Balancer Controller (`elbv2.k8s.aws/v1beta1`): the
/// fields ecs-bridge sets. Others (`networking`, `nodeSelector`, `ipAddressType`, `vpcID`, ...)
/// are left to their defaults, and to whoever else manages them.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "elbv2.k8s.aws",
    version = "v1beta1",
    kind = "TargetGroupBinding",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupBindingSpec {
    /// The target group's ARN.
    #[serde(rename = "targetGroupARN")]
    pub target_group_arn: String,
    /// `ip` or `instance`: must be the target group's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<TargetType>,
    /// The Kubernetes Service (and its port) whose endpoints are registered.
    pub service_ref: ServiceReference,
}

/// How a target group addresses its targets.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// Pod IP and container port (ECS `awsvpc`).
    Ip,
    /// Node and node port (ECS `bridge` and `host`: instance and host port).
    Instance,
}

/// `spec.serviceRef` of a TargetGroupBinding.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ServiceReference {
    /// The Service's name.
    pub name: String,
    /// A port of that Service, by name or number.
    pub port: IntOrString,
}

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

fn bad(field: impl Into<String>, reason: impl Into<String>) -> NetworkError {
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
    let ports = PodPorts::new(td, pod);
    let meta = |object: &str| ObjectMeta {
        name: Some(object.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(object_labels(name)),
        ..ObjectMeta::default()
    };
    let service = &spec.service;
    let mut report = Report::default();
    let load_balancers = service.load_balancers.as_deref().unwrap_or_default();
    let balanced = load_balancing(name, load_balancers, &ports, &mut report, &meta)?;
    if service.role.is_some() {
        report.note(
            NoteKind::Ignored,
            "role",
            "the AWS Load Balancer Controller registers targets with its own IAM role",
        );
    }
    let registries = service.service_registries.as_deref().unwrap_or_default();
    let discovered = discovery(name, namespace, registries, &ports, &mut report, &meta)?;
    let connected = match &service.service_connect_configuration {
        Some(sc) => service_connect(name, sc, &ports, &mut report, &meta)?,
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
    let mut labels = selector_labels(service);
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
fn is_dns1035_label(s: &str) -> bool {
    names::is_dns_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// The name of one of the service's own Services: `<name><suffix>`.
///
/// # Errors
/// When that is no DNS-1035 label.
fn derived_name(name: &str, suffix: &str, what: &str) -> Result<String, NetworkError> {
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

/// One port mapping of the task definition, as the pod has it.
#[derive(Debug, Clone)]
struct MappedPort {
    /// The container port.
    port: i32,
    /// `TCP` or `UDP`.
    protocol: &'static str,
    /// The container port's Kubernetes name, if it kept one.
    name: Option<String>,
    /// The Kubernetes `appProtocol` for Services, if the mapping has one.
    app_protocol: Option<String>,
}

/// The task definition's port mappings, with the names the pod gives them.
struct PodPorts<'a> {
    td: &'a RegisterTaskDefinition,
    /// (Kubernetes container name, port, protocol) → the port's Kubernetes name.
    names: BTreeMap<(String, i32, String), String>,
    /// Kubernetes port name (or port number) → appProtocol (the pod template annotation).
    app_protocols: BTreeMap<String, String>,
}

impl<'a> PodPorts<'a> {
    fn new(td: &'a RegisterTaskDefinition, pod: &PodTemplateSpec) -> Self {
        let mut names = BTreeMap::new();
        if let Some(spec) = &pod.spec {
            for c in spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
            {
                for p in c.ports.iter().flatten() {
                    if let Some(name) = &p.name {
                        let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".to_owned());
                        names.insert((c.name.clone(), p.container_port, protocol), name.clone());
                    }
                }
            }
        }
        let app_protocols = pod
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(super::pod::APP_PROTOCOLS_ANNOTATION))
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default();
        Self {
            td,
            names,
            app_protocols,
        }
    }

    fn mode(&self) -> Option<NetworkMode> {
        self.td.network_mode
    }

    /// The port mapping `pm` of the container named `container` (ECS name).
    fn mapped(&self, container: &str, pm: &PortMapping) -> Option<MappedPort> {
        let port = pm.container_port?;
        let protocol = match pm.protocol {
            Some(TransportProtocol::Udp) => "UDP",
            Some(TransportProtocol::Tcp) | None => "TCP",
        };
        let k8s_container = names::container_name(container)?;
        let name = self
            .names
            .get(&(k8s_container, port, protocol.to_owned()))
            .cloned();
        let key = name.clone().unwrap_or_else(|| port.to_string());
        Some(MappedPort {
            port,
            protocol,
            app_protocol: self.app_protocols.get(&key).cloned(),
            name,
        })
    }

    /// The `containerPort` mapping of `port` in container `container` (ECS name).
    ///
    /// # Errors
    /// When there is no such container (`Err(true)`) or it does not map the port (`Err(false)`).
    fn find(&self, container: &str, port: i32) -> Result<MappedPort, bool> {
        let c = self
            .td
            .container_definitions
            .iter()
            .find(|c| c.name.as_deref() == Some(container))
            .ok_or(true)?;
        c.port_mappings
            .iter()
            .flatten()
            .find(|pm| pm.container_port == Some(port))
            .and_then(|pm| self.mapped(container, pm))
            .ok_or(false)
    }

    /// The port mapping whose ECS `name` is `name`, with its container's ECS name.
    fn named(&self, name: &str) -> Option<MappedPort> {
        self.td.container_definitions.iter().find_map(|c| {
            let pm = c
                .port_mappings
                .iter()
                .flatten()
                .find(|pm| pm.name.as_deref() == Some(name))?;
            self.mapped(c.name.as_deref()?, pm)
        })
    }

    /// The container names, for messages.
    fn containers(&self) -> String {
        let names: Vec<String> = self
            .td
            .container_definitions
            .iter()
            .filter_map(|c| c.name.as_deref().map(|n| format!("{n:?}")))
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }

    /// The `containerPort`s container `container` maps, for messages.
    fn ports_of(&self, container: &str) -> String {
        let ports: Vec<String> = self
            .td
            .container_definitions
            .iter()
            .filter(|c| c.name.as_deref() == Some(container))
            .flat_map(|c| c.port_mappings.iter().flatten())
            .filter_map(|pm| pm.container_port.map(|p| p.to_string()))
            .collect();
        if ports.is_empty() {
            "none".to_owned()
        } else {
            ports.join(", ")
        }
    }
}

/// The `containerName` + `containerPort` of a load balancer or registry entry (`field` is its
/// path), resolved against the task definition.
///
/// # Errors
/// When either is missing (with `required` as the reason), or names no container or port.
fn container_port(
    ports: &PodPorts<'_>,
    field: &str,
    container: Option<&str>,
    port: Option<i32>,
    required: &str,
) -> Result<MappedPort, NetworkError> {
    let container = container.ok_or_else(|| bad(format!("{field}.containerName"), required))?;
    let port = port.ok_or_else(|| bad(format!("{field}.containerPort"), required))?;
    ports.find(container, port).map_err(|no_container| {
        if no_container {
            bad(
                format!("{field}.containerName"),
                format!(
                    "{container:?} is not a container of the task definition (its containers: {}); \
                     name one of them, as ECS requires",
                    ports.containers()
                ),
            )
        } else {
            bad(
                format!("{field}.containerPort"),
                format!(
                    "container {container:?} maps no containerPort {port} (its containerPorts: {}); \
                     ECS requires a port mapping of the container",
                    ports.ports_of(container)
                ),
            )
        }
    })
}

/// A Service port for `mapped` (exposed on `port`), named after the container port, else
/// `tcp-<port>` / `udp-<port>`, unique among `taken`; its `targetPort` is the container port's
/// name when `by_name` and it has one, else its number.
fn service_port(mapped: &MappedPort, port: i32, by_name: bool, taken: &mut BTreeSet<String>) -> ServicePort {
    let base = mapped
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", mapped.protocol.to_ascii_lowercase(), mapped.port));
    let name = (1..)
        .map(|n: u32| {
            if n == 1 {
                base.clone()
            } else {
                let suffix = format!("-{n}");
                let cut = base[..base.len().min(MAX_PORT_NAME - suffix.len())].trim_end_matches('-');
                format!("{cut}{suffix}")
            }
        })
        .find(|n| !taken.contains(n))
        .unwrap_or(base);
    taken.insert(name.clone());
    ServicePort {
        name: Some(name),
        port,
        protocol: Some(mapped.protocol.to_owned()),
        target_port: Some(match &mapped.name {
            Some(name) if by_name => IntOrString::String(name.clone()),
            _ => IntOrString::Int(mapped.port),
        }),
        app_protocol: mapped.app_protocol.clone(),
        ..ServicePort::default()
    }
}

/// A Service of the service's tasks.
fn core_service(meta: ObjectMeta, name: &str, spec: CoreServiceSpec) -> CoreService {
    CoreService {
        metadata: meta,
        spec: Some(CoreServiceSpec {
            selector: Some(selector_labels(name)),
            ..spec
        }),
        status: None,
    }
}

/// The name of a target group from its ARN
/// (`arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`).
fn target_group_name(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, _partition, service, _region, _account, resource] = parts.as_slice() else {
        return None;
    };
    if *prefix != "arn" || *service != "elasticloadbalancing" {
        return None;
    }
    let mut rest = resource.strip_prefix("targetgroup/")?.split('/');
    let (name, id) = (rest.next()?, rest.next()?);
    let valid = (1..=32).contains(&name.len())
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !id.is_empty()
        && rest.next().is_none();
    valid.then_some(name)
}

/// `loadBalancers` → the load balancer Service and a TargetGroupBinding per target group;
/// `None` when no entry has a target group.
#[allow(clippy::type_complexity)]
fn load_balancing(
    name: &str,
    entries: &[LoadBalancer],
    ports: &PodPorts<'_>,
    report: &mut Report,
    meta: &dyn Fn(&str) -> ObjectMeta,
) -> Result<Option<(CoreService, Vec<TargetGroupBinding>)>, NetworkError> {
    let target_type = match ports.mode() {
        Some(NetworkMode::Awsvpc) => TargetType::Ip,
        _ => TargetType::Instance,
    };
    let mut service_ports: Vec<ServicePort> = Vec::new();
    let mut port_names = BTreeSet::new();
    // (port, protocol) → the Service port's name.
    let mut exposed: BTreeMap<(i32, &'static str), String> = BTreeMap::new();
    // Target group ARN → its entry; TargetGroupBinding name → its entry.
    let mut arns: BTreeMap<&str, usize> = BTreeMap::new();
    let mut binding_names: BTreeMap<String, usize> = BTreeMap::new();
    let mut bindings = Vec::new();
    let mut lb_name: Option<String> = None;
    for (i, lb) in entries.iter().enumerate() {
        let field = format!("loadBalancers[{i}]");
        if lb.advanced_configuration.is_some() {
            report.note(
                NoteKind::Ignored,
                format!("{field}.advancedConfiguration"),
                "blue/green deployments are not made: the TargetGroupBinding registers the tasks in \
                 targetGroupArn only, never in the alternate target group, and no listener rule is changed",
            );
        }
        let Some(arn) = lb.target_group_arn.as_deref() else {
            if lb.load_balancer_name.is_some() {
                report.note(
                    NoteKind::Ignored,
                    format!("{field}.loadBalancerName"),
                    "a Classic Load Balancer cannot be bound: TargetGroupBinding binds ALB and NLB \
                     target groups; register the tasks in an ALB or NLB target group (targetGroupArn) \
                     instead",
                );
                continue;
            }
            return Err(bad(
                format!("{field}.targetGroupArn"),
                "required: the ARN of the ALB or NLB target group to register the tasks in",
            ));
        };
        if lb.load_balancer_name.is_some() {
            report.note(
                NoteKind::Ignored,
                format!("{field}.loadBalancerName"),
                "a Classic Load Balancer name with a target group: the target group is bound, the \
                 Classic Load Balancer is not",
            );
        }
        if arns.len() == MAX_TARGET_GROUPS {
            return Err(bad(
                format!("{field}.targetGroupArn"),
                format!("ECS attaches at most {MAX_TARGET_GROUPS} target groups to a service"),
            ));
        }
        let tg = target_group_name(arn).ok_or_else(|| {
            bad(
                format!("{field}.targetGroupArn"),
                format!(
                    "{arn:?} is not a target group ARN; write \
                     arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>"
                ),
            )
        })?;
        if let Some(first) = arns.insert(arn, i) {
            return Err(bad(
                format!("{field}.targetGroupArn"),
                format!("loadBalancers[{first}] attaches this target group already; attach it once"),
            ));
        }
        let mapped = container_port(
            ports,
            &field,
            lb.container_name.as_deref(),
            lb.container_port,
            "required: the container and port ECS registers in the target group",
        )?;
        let port_name = match exposed.get(&(mapped.port, mapped.protocol)) {
            Some(n) => n.clone(),
            None => {
                let sp = service_port(&mapped, mapped.port, false, &mut port_names);
                let n = sp.name.clone().unwrap_or_default();
                exposed.insert((mapped.port, mapped.protocol), n.clone());
                service_ports.push(sp);
                n
            }
        };
        let service_name = match &lb_name {
            Some(n) => n.clone(),
            None => {
                let n = derived_name(name, LOAD_BALANCER_SUFFIX, "load balancer")?;
                lb_name = Some(n.clone());
                n
            }
        };
        let binding = format!("{name}.{}", tg.to_ascii_lowercase());
        if let Some(first) = binding_names.insert(binding.clone(), i) {
            return Err(bad(
                format!("{field}.targetGroupArn"),
                format!(
                    "target group {tg:?} and the one of loadBalancers[{first}] both make the \
                     TargetGroupBinding {binding:?} (names are lower case in Kubernetes); rename one"
                ),
            ));
        }
        if target_type == TargetType::Instance {
            report.note(
                NoteKind::Approximated,
                format!("{field}.targetGroupArn"),
                format!(
                    "target type instance ({}): every node is registered on the node port of \
                     Service {service_name:?}, where ECS registered each task's instance and host \
                     port; kube-proxy forwards to the tasks",
                    match ports.mode() {
                        Some(NetworkMode::Host) => "networkMode host",
                        Some(NetworkMode::Bridge) => "networkMode bridge",
                        _ => "the default network mode",
                    }
                ),
            );
        }
        bindings.push(TargetGroupBinding {
            metadata: meta(&binding),
            spec: TargetGroupBindingSpec {
                target_group_arn: arn.to_owned(),
                target_type: Some(target_type),
                service_ref: ServiceReference {
                    name: service_name,
                    port: IntOrString::String(port_name),
                },
            },
        });
    }
    let Some(lb_name) = lb_name else {
        return Ok(None);
    };
    let service = core_service(
        meta(&lb_name),
        name,
        CoreServiceSpec {
            type_: Some(
                match target_type {
                    TargetType::Ip => "ClusterIP",
                    TargetType::Instance => "NodePort",
                }
                .to_owned(),
            ),
            ports: Some(service_ports),
            ..CoreServiceSpec::default()
        },
    );
    Ok(Some((service, bindings)))
}

/// `serviceRegistries` → the headless Service; `None` without registries.
fn discovery(
    name: &str,
    namespace: &str,
    registries: &[ServiceRegistry],
    ports: &PodPorts<'_>,
    report: &mut Report,
    meta: &dyn Fn(&str) -> ObjectMeta,
) -> Result<Option<CoreService>, NetworkError> {
    let Some(registry) = registries.first() else {
        return Ok(None);
    };
    if registries.len() > MAX_SERVICE_REGISTRIES {
        return Err(bad(
            format!("serviceRegistries[{MAX_SERVICE_REGISTRIES}]"),
            format!("ECS attaches at most {MAX_SERVICE_REGISTRIES} service registry to a service"),
        ));
    }
    let field = "serviceRegistries[0]";
    let object = derived_name(name, DISCOVERY_SUFFIX, "service discovery")?;
    let awsvpc = ports.mode() == Some(NetworkMode::Awsvpc);
    let by_container = registry.container_name.is_some() || registry.container_port.is_some();
    let service_port = match (registry.port, by_container) {
        (Some(_), true) => {
            return Err(bad(
                format!("{field}.port"),
                "give port or containerName and containerPort, not both (ECS refuses both)",
            ));
        }
        (Some(port), false) => {
            if !(1..=MAX_PORT).contains(&port) {
                return Err(bad(
                    format!("{field}.port"),
                    format!("{port} is out of range; ECS accepts 1 to {MAX_PORT}"),
                ));
            }
            let mapped = MappedPort {
                port,
                protocol: "TCP",
                name: None,
                app_protocol: None,
            };
            Some(service_port(&mapped, port, false, &mut BTreeSet::new()))
        }
        (None, true) => {
            let mapped = container_port(
                ports,
                field,
                registry.container_name.as_deref(),
                registry.container_port,
                "required with containerPort (or containerName): the container and port the SRV records give",
            )?;
            Some(service_port(&mapped, mapped.port, false, &mut BTreeSet::new()))
        }
        (None, false) if awsvpc => None,
        (None, false) => {
            return Err(bad(
                format!("{field}.containerName"),
                "required without networkMode awsvpc: ECS registers SRV records of a container port \
                 (containerName and containerPort)",
            ));
        }
    };
    let dns = format!("{object}.{namespace}.svc");
    report.note(
        if matches!(ports.mode(), Some(NetworkMode::Bridge) | None) {
            NoteKind::Approximated
        } else {
            NoteKind::Ignored
        },
        format!("{field}.registryArn"),
        format!(
            "the Cloud Map service is not updated: the tasks are found through the headless Service \
             {object:?} (DNS {dns}: the ready tasks' pod IPs{}){}",
            if service_port.is_some() {
                ", SRV records for its port"
            } else {
                ""
            },
            if matches!(ports.mode(), Some(NetworkMode::Bridge) | None) {
                "; with bridge networking ECS registered the instance and host port, Kubernetes \
                 gives the pod IP and container port"
            } else {
                ""
            }
        ),
    );
    Ok(Some(core_service(
        meta(&object),
        name,
        CoreServiceSpec {
            cluster_ip: Some("None".to_owned()),
            ports: service_port.map(|p| vec![p]),
            ..CoreServiceSpec::default()
        },
    )))
}

/// `serviceConnectConfiguration` → one Service per `services[]` entry, each with the field its
/// name comes from.
fn service_connect(
    name: &str,
    sc: &ServiceConnectConfiguration,
    ports: &PodPorts<'_>,
    report: &mut Report,
    meta: &dyn Fn(&str) -> ObjectMeta,
) -> Result<Vec<(String, CoreService)>, NetworkError> {
    const NO_PROXY: &str = "there is no Service Connect proxy: clients connect to the tasks through \
                            the Kubernetes Service (kube-proxy)";
    let base = "serviceConnectConfiguration";
    let entries = sc.services.as_deref().unwrap_or_default();
    if !sc.enabled {
        if !entries.is_empty() {
            report.note(
                NoteKind::Ignored,
                format!("{base}.services"),
                "Service Connect is not enabled (enabled: false): no Services are made for it",
            );
        }
        return Ok(Vec::new());
    }
    for (field, set) in [
        ("logConfiguration", sc.log_configuration.is_some()),
        ("accessLogConfiguration", sc.access_log_configuration.is_some()),
        (
            "containerConfigurations",
            sc.container_configurations
                .as_ref()
                .is_some_and(|c| !c.is_empty()),
        ),
    ] {
        if set {
            report.note(
                NoteKind::Ignored,
                format!("{base}.{field}"),
                format!("{NO_PROXY}, so there are no proxy logs to configure"),
            );
        }
    }
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let field = format!("{base}.services[{i}]");
        let mapped = ports.named(&entry.port_name).ok_or_else(|| {
            bad(
                format!("{field}.portName"),
                format!(
                    "{:?} names no port mapping of the task definition; name one of its portMappings \
                     (portMappings[].name), as ECS requires",
                    entry.port_name
                ),
            )
        })?;
        let aliases = entry.client_aliases.as_deref().unwrap_or_default();
        if aliases.len() > MAX_CLIENT_ALIASES {
            return Err(bad(
                format!("{field}.clientAliases"),
                format!("ECS accepts at most {MAX_CLIENT_ALIASES} client alias per Service Connect service"),
            ));
        }
        let alias = aliases.first();
        let (object, from) = match (
            alias.and_then(|a| a.dns_name.as_deref()),
            entry.discovery_name.as_deref(),
        ) {
            (Some(dns), _) => (
                dns.split('.').next().unwrap_or_default().to_ascii_lowercase(),
                format!("{field}.clientAliases[0].dnsName"),
            ),
            (None, Some(discovery)) => (discovery.to_ascii_lowercase(), format!("{field}.discoveryName")),
            (None, None) => (entry.port_name.to_ascii_lowercase(), format!("{field}.portName")),
        };
        if !is_dns1035_label(&object) {
            return Err(bad(
                from,
                format!(
                    "{object:?} cannot name a Kubernetes Service, which clients would reach by that \
                     name: use at most {MAX_SERVICE_NAME} of a-z, 0-9 and '-', starting with a letter"
                ),
            ));
        }
        if let Some(dns) = alias.and_then(|a| a.dns_name.as_deref())
            && dns.contains('.')
        {
            report.note(
                NoteKind::Approximated,
                format!("{field}.clientAliases[0].dnsName"),
                format!(
                    "{dns:?} is reached as {object:?} in the namespace (or {object}.<namespace>.svc \
                     from others): Kubernetes names Services by namespace, not by Cloud Map namespace"
                ),
            );
        }
        let port = alias.map_or(mapped.port, |a| a.port);
        if !(1..=MAX_PORT).contains(&port) {
            return Err(bad(
                format!("{field}.clientAliases[0].port"),
                format!("{port} is out of range; ECS accepts 1 to {MAX_PORT}"),
            ));
        }
        if alias.is_some_and(|a| a.test_traffic_rules.is_some()) {
            report.note(
                NoteKind::Ignored,
                format!("{field}.clientAliases[0].testTrafficRules"),
                "blue/green test traffic is not routed: every request goes to the service's tasks",
            );
        }
        for (sub, set) in [
            ("ingressPortOverride", entry.ingress_port_override.is_some()),
            ("timeout", entry.timeout.is_some()),
            ("tls", entry.tls.is_some()),
        ] {
            if set {
                report.note(
                    NoteKind::Ignored,
                    format!("{field}.{sub}"),
                    format!("{NO_PROXY}; use a service mesh for proxy timeouts and TLS"),
                );
            }
        }
        let sp = service_port(&mapped, port, true, &mut BTreeSet::new());
        let svc = core_service(
            meta(&object),
            name,
            CoreServiceSpec {
                type_: Some("ClusterIP".to_owned()),
                ports: Some(vec![sp]),
                ..CoreServiceSpec::default()
            },
        );
        out.push((from, svc));
    }
    if let Some(namespace) = &sc.namespace {
        report.note(
            NoteKind::Approximated,
            format!("{base}.namespace"),
            format!(
                "the Cloud Map namespace {namespace:?} is not used: the Kubernetes namespace is the \
                 ECS cluster, and Service Connect names are Services in it"
            ),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::translate::{Note, pod::pod_template};

    const TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067";

    fn tg(name: &str) -> String {
        format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/0123456789abcdef")
    }

    /// A task definition in `mode` with container `app` mapping 8080 (`http`, appProtocol
    /// http), 9090 (unnamed) and 5353/udp (`dns`).
    fn td(mode: &str) -> RegisterTaskDefinition {
        serde_json::from_value(json!({
            "family": "web",
            "networkMode": mode,
            "containerDefinitions": [{
                "name": "app", "image": "nginx",
                "portMappings": [
                    {"name": "http", "containerPort": 8080, "appProtocol": "http"},
                    {"containerPort": 9090},
                    {"name": "dns", "containerPort": 5353, "protocol": "udp"}
                ]
            }, {
                "name": "log_router", "image": "fluent-bit",
                "portMappings": [{"name": "Metrics_Port", "containerPort": 2020}]
            }]
        }))
        .expect("task definition")
    }

    fn translate(mode: &str, service: Value) -> Result<NetworkObjects, NetworkError> {
        translate_named("web", mode, service)
    }

    fn translate_named(name: &str, mode: &str, service: Value) -> Result<NetworkObjects, NetworkError> {
        let td = td(mode);
        let pod = pod_template("web", &td, 1).expect("pod template");
        let spec: ServiceSpec = serde_json::from_value(service).expect("service spec");
        network_objects(name, "shop", &spec, &td, &pod.template)
    }

    fn err_field(e: &NetworkError) -> &str {
        match e {
            NetworkError::Field { field, .. } => field,
            NetworkError::Name { .. } => "metadata.name",
        }
    }

    fn json(v: &impl Serialize) -> Value {
        serde_json::to_value(v).expect("json")
    }

    fn notes(n: &NetworkObjects) -> Vec<(NoteKind, &str)> {
        n.report
            .notes
            .iter()
            .map(|Note { kind, field, .. }| (*kind, field.as_str()))
            .collect()
    }

    #[test]
    fn an_awsvpc_load_balancer_binds_pod_ips_through_a_cluster_ip_service() {
        let n = translate(
            "awsvpc",
            json!({"loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}]}),
        )
        .expect("translates");
        assert_eq!(n.services.len(), 1);
        assert_eq!(
            json(&n.services[0]),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web-lb", "namespace": "shop", "labels": {
                    "app.kubernetes.io/managed-by": "ecs-bridge", "ecsbridge.io/service": "web"}},
                "spec": {
                    "type": "ClusterIP",
                    "selector": {"ecsbridge.io/service": "web"},
                    "ports": [{"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP", "appProtocol": "http"}]
                }
            })
        );
        assert_eq!(
            json(&n.target_group_bindings),
            json!([{
                "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
                "metadata": {"name": "web.web-tg", "namespace": "shop", "labels": {
                    "app.kubernetes.io/managed-by": "ecs-bridge", "ecsbridge.io/service": "web"}},
                "spec": {"targetGroupARN": TG, "targetType": "ip", "serviceRef": {"name": "web-lb", "port": "http"}}
            }])
        );
        assert!(n.report.is_empty(), "{:?}", n.report);
        assert_eq!(
            n.services[0].spec.as_ref().and_then(|s| s.selector.clone()),
            Some(selector_labels("web")),
            "the Service selects the workload's pods"
        );
    }

    #[test]
    fn bridge_and_host_load_balancers_register_nodes_on_a_node_port() {
        for mode in ["bridge", "host"] {
            let n = translate(
                mode,
                json!({"loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 9090}]}),
            )
            .expect("translates");
            let spec = n.services[0].spec.as_ref().expect("spec");
            assert_eq!(spec.type_.as_deref(), Some("NodePort"), "{mode}");
            let ports = spec.ports.as_ref().expect("ports");
            assert_eq!(
                (ports[0].name.as_deref(), ports[0].port, ports[0].node_port),
                (Some("tcp-9090"), 9090, None),
                "{mode}: the node port is Kubernetes' to allocate"
            );
            let b = &n.target_group_bindings[0].spec;
            assert_eq!(b.target_type, Some(TargetType::Instance), "{mode}");
            assert_eq!(b.service_ref.port, IntOrString::String("tcp-9090".into()));
            assert_eq!(
                notes(&n),
                vec![(NoteKind::Approximated, "loadBalancers[0].targetGroupArn")]
            );
            assert!(
                n.report.notes[0].message.contains(&format!("networkMode {mode}")),
                "{:?}",
                n.report.notes
            );
        }
    }

    #[test]
    fn target_groups_share_the_service_ports_they_have_in_common() {
        let n = translate(
            "awsvpc",
            json!({"loadBalancers": [
                {"targetGroupArn": tg("A-Public"), "containerName": "app", "containerPort": 8080},
                {"targetGroupArn": tg("internal"), "containerName": "app", "containerPort": 8080},
                {"targetGroupArn": tg("dns"), "containerName": "app", "containerPort": 5353},
                {"targetGroupArn": tg("metrics"), "containerName": "log_router", "containerPort": 2020}
            ]}),
        )
        .expect("translates");
        let ports: Vec<(String, i32, String)> = n.services[0]
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .expect("ports")
            .into_iter()
            .map(|p| (p.name.unwrap_or_default(), p.port, p.protocol.unwrap_or_default()))
            .collect();
        assert_eq!(
            ports,
            vec![
                ("http".into(), 8080, "TCP".into()),
                ("dns".into(), 5353, "UDP".into()),
                ("metrics-port".into(), 2020, "TCP".into()),
            ],
            "renamed ports keep their Kubernetes name"
        );
        let bindings: Vec<(Option<String>, IntOrString)> = n
            .target_group_bindings
            .iter()
            .map(|b| (b.metadata.name.clone(), b.spec.service_ref.port.clone()))
            .collect();
        assert_eq!(
            bindings,
            vec![
                (Some("web.a-public".into()), IntOrString::String("http".into())),
                (Some("web.internal".into()), IntOrString::String("http".into())),
                (Some("web.dns".into()), IntOrString::String("dns".into())),
                (
                    Some("web.metrics".into()),
                    IntOrString::String("metrics-port".into())
                ),
            ]
        );
    }

    #[test]
    fn load_balancers_on_ports_the_task_definition_does_not_map_are_errors() {
        let cases = [
            (
                json!({"containerName": "app", "containerPort": 81}),
                "loadBalancers[0].containerPort",
                "maps no containerPort 81 (its containerPorts: 8080, 9090, 5353)",
            ),
            (
                json!({"containerName": "nginx", "containerPort": 8080}),
                "loadBalancers[0].containerName",
                "\"nginx\" is not a container of the task definition (its containers: \"app\", \"log_router\")",
            ),
            (
                json!({"containerPort": 8080}),
                "loadBalancers[0].containerName",
                "required",
            ),
            (
                json!({"containerName": "app"}),
                "loadBalancers[0].containerPort",
                "required",
            ),
        ];
        for (mut lb, field, reason) in cases {
            lb["targetGroupArn"] = json!(TG);
            let e = translate("awsvpc", json!({"loadBalancers": [lb]})).expect_err("refused");
            assert_eq!(err_field(&e), field, "{e}");
            assert!(e.to_string().contains(reason), "{e}");
        }
    }

    #[test]
    fn target_groups_are_checked_as_ecs_checks_them() {
        let lb = |arn: &str| json!({"targetGroupArn": arn, "containerName": "app", "containerPort": 8080});
        let six: Vec<Value> = (0..6).map(|i| lb(&tg(&format!("tg-{i}")))).collect();
        let e = translate("awsvpc", json!({"loadBalancers": six})).expect_err("six");
        assert_eq!(err_field(&e), "loadBalancers[5].targetGroupArn");
        assert!(e.to_string().contains("at most 5 target groups"), "{e}");
        let five: Vec<Value> = (0..5).map(|i| lb(&tg(&format!("tg-{i}")))).collect();
        assert_eq!(
            translate("awsvpc", json!({"loadBalancers": five}))
                .expect("five")
                .target_group_bindings
                .len(),
            5
        );

        let e = translate("awsvpc", json!({"loadBalancers": [lb(TG), lb(TG)]})).expect_err("twice");
        assert_eq!(err_field(&e), "loadBalancers[1].targetGroupArn");
        assert!(e.to_string().contains("loadBalancers[0] attaches"), "{e}");

        let e = translate(
            "awsvpc",
            json!({"loadBalancers": [lb(&tg("Web")), lb(&tg("web"))]}),
        )
        .expect_err("one name in lower case");
        assert_eq!(err_field(&e), "loadBalancers[1].targetGroupArn");
        assert!(e.to_string().contains("\"web.web\""), "{e}");

        for arn in [
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
            "web-tg",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/-bad/1",
        ] {
            let e = translate("awsvpc", json!({"loadBalancers": [lb(arn)]})).expect_err(arn);
            assert!(e.to_string().contains("is not a target group ARN"), "{e}");
        }
        let e = translate(
            "awsvpc",
            json!({"loadBalancers": [{"containerName": "app", "containerPort": 8080}]}),
        )
        .expect_err("no target group");
        assert_eq!(err_field(&e), "loadBalancers[0].targetGroupArn");
    }

    #[test]
    fn classic_load_balancers_blue_green_and_the_role_are_reported() {
        let n = translate(
            "bridge",
            json!({
                "role": "ecsServiceRole",
                "loadBalancers": [
                    {"loadBalancerName": "legacy-elb", "containerName": "app", "containerPort": 8080},
                    {"targetGroupArn": TG, "containerName": "app", "containerPort": 8080,
                     "advancedConfiguration": {"alternateTargetGroupArn": tg("green")}}
                ]
            }),
        )
        .expect("translates");
        assert_eq!(
            notes(&n),
            vec![
                (NoteKind::Ignored, "loadBalancers[0].loadBalancerName"),
                (NoteKind::Ignored, "loadBalancers[1].advancedConfiguration"),
                (NoteKind::Approximated, "loadBalancers[1].targetGroupArn"),
                (NoteKind::Ignored, "role"),
            ]
        );
        assert_eq!(n.target_group_bindings.len(), 1);
        let only_classic = translate(
            "bridge",
            json!({"loadBalancers": [{"loadBalancerName": "legacy-elb", "containerName": "app", "containerPort": 8080}]}),
        )
        .expect("translates");
        assert!(only_classic.is_empty(), "nothing to bind: {only_classic:?}");
    }

    #[test]
    fn a_service_name_that_cannot_name_a_kubernetes_service_is_an_error() {
        let lb =
            json!({"loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}]});
        for name in ["2048-game", "web.v2", &"w".repeat(61)] {
            let e = translate_named(name, "awsvpc", lb.clone()).expect_err(name);
            assert!(matches!(e, NetworkError::Name { .. }), "{e}");
            assert!(e.to_string().starts_with("metadata.name: "), "{e}");
        }
        assert!(translate_named(&"w".repeat(60), "awsvpc", lb).is_ok());
        // Without networking, any name is fine here.
        assert!(
            translate_named("2048-game", "awsvpc", json!({}))
                .expect("nothing")
                .is_empty()
        );
    }

    #[test]
    fn a_cloud_map_registry_becomes_a_headless_service() {
        let n = translate(
            "bridge",
            json!({"serviceRegistries": [{"registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-abc",
                "containerName": "app", "containerPort": 8080}]}),
        )
        .expect("translates");
        assert_eq!(
            json(&n.services[0])["spec"],
            json!({
                "clusterIP": "None",
                "selector": {"ecsbridge.io/service": "web"},
                "ports": [{"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP", "appProtocol": "http"}]
            })
        );
        assert_eq!(n.services[0].metadata.name.as_deref(), Some("web-discovery"));
        assert_eq!(
            notes(&n),
            vec![(NoteKind::Approximated, "serviceRegistries[0].registryArn")]
        );
        assert!(
            n.report.notes[0].message.contains("DNS web-discovery.shop.svc"),
            "{:?}",
            n.report.notes
        );

        // awsvpc: `port` (SRV), or nothing (A records only).
        let n = translate("awsvpc", json!({"serviceRegistries": [{"port": 7000}]})).expect("port");
        let port = &n.services[0]
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .expect("ports")[0];
        assert_eq!(
            (port.name.as_deref(), port.port, port.target_port.clone()),
            (Some("tcp-7000"), 7000, Some(IntOrString::Int(7000)))
        );
        assert_eq!(
            notes(&n),
            vec![(NoteKind::Ignored, "serviceRegistries[0].registryArn")]
        );
        let n =
            translate("awsvpc", json!({"serviceRegistries": [{"registryArn": "arn:x"}]})).expect("A records");
        assert_eq!(n.services[0].spec.as_ref().and_then(|s| s.ports.clone()), None);
    }

    #[test]
    fn cloud_map_registries_are_checked_as_ecs_checks_them() {
        let cases = [
            (
                "awsvpc",
                json!([{"port": 80, "containerName": "app", "containerPort": 8080}]),
                "serviceRegistries[0].port",
            ),
            (
                "bridge",
                json!([{"registryArn": "arn:x"}]),
                "serviceRegistries[0].containerName",
            ),
            (
                "awsvpc",
                json!([{"containerName": "app", "containerPort": 1}]),
                "serviceRegistries[0].containerPort",
            ),
            (
                "awsvpc",
                json!([{"containerPort": 8080}]),
                "serviceRegistries[0].containerName",
            ),
            ("awsvpc", json!([{}, {}]), "serviceRegistries[1]"),
            ("awsvpc", json!([{"port": 0}]), "serviceRegistries[0].port"),
        ];
        for (mode, registries, field) in cases {
            let e = translate(mode, json!({"serviceRegistries": registries})).expect_err(field);
            assert_eq!(err_field(&e), field, "{e}");
        }
    }

    #[test]
    fn service_connect_services_are_named_as_clients_call_them() {
        let n = translate(
            "awsvpc",
            json!({"serviceConnectConfiguration": {
                "enabled": true,
                "namespace": "internal",
                "services": [
                    {"portName": "http", "clientAliases": [{"port": 80, "dnsName": "Orders.internal"}]},
                    {"portName": "dns", "discoveryName": "resolver"},
                    {"portName": "Metrics_Port", "discoveryName": "metrics", "clientAliases": [{"port": 9100}],
                     "tls": {"issuerCertificateAuthority": {"awsPcaAuthorityArn": "arn:ca"}},
                     "timeout": {"idleTimeoutSeconds": 10}, "ingressPortOverride": 15000}
                ],
                "logConfiguration": {"logDriver": "awslogs"}
            }}),
        )
        .expect("translates");
        let services: Vec<Value> = n.services.iter().map(json).collect();
        let summary: Vec<(&str, &Value, &Value)> = services
            .iter()
            .map(|s| {
                (
                    s["metadata"]["name"].as_str().unwrap_or_default(),
                    &s["spec"]["type"],
                    &s["spec"]["ports"][0],
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "orders",
                    &json!("ClusterIP"),
                    &json!({"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"})
                ),
                (
                    "resolver",
                    &json!("ClusterIP"),
                    &json!({"name": "dns", "port": 5353, "targetPort": "dns", "protocol": "UDP"})
                ),
                (
                    "metrics",
                    &json!("ClusterIP"),
                    &json!({"name": "metrics-port", "port": 9100, "targetPort": "metrics-port", "protocol": "TCP"})
                ),
            ]
        );
        assert_eq!(
            notes(&n),
            vec![
                (NoteKind::Ignored, "serviceConnectConfiguration.logConfiguration"),
                (
                    NoteKind::Approximated,
                    "serviceConnectConfiguration.services[0].clientAliases[0].dnsName"
                ),
                (
                    NoteKind::Ignored,
                    "serviceConnectConfiguration.services[2].ingressPortOverride"
                ),
                (
                    NoteKind::Ignored,
                    "serviceConnectConfiguration.services[2].timeout"
                ),
                (NoteKind::Ignored, "serviceConnectConfiguration.services[2].tls"),
                (NoteKind::Approximated, "serviceConnectConfiguration.namespace"),
            ]
        );
    }

    #[test]
    fn service_connect_is_checked_as_ecs_checks_it() {
        let sc =
            |services: Value| json!({"serviceConnectConfiguration": {"enabled": true, "services": services}});
        let cases = [
            (
                json!([{"portName": "https"}]),
                "serviceConnectConfiguration.services[0].portName",
                "names no port mapping",
            ),
            (
                json!([{"portName": "http", "clientAliases": [{"port": 80}, {"port": 81}]}]),
                "serviceConnectConfiguration.services[0].clientAliases",
                "at most 1 client alias",
            ),
            (
                json!([{"portName": "http", "clientAliases": [{"port": 80, "dnsName": "my_orders"}]}]),
                "serviceConnectConfiguration.services[0].clientAliases[0].dnsName",
                "cannot name a Kubernetes Service",
            ),
            (
                json!([{"portName": "http", "discoveryName": "1st"}]),
                "serviceConnectConfiguration.services[0].discoveryName",
                "cannot name a Kubernetes Service",
            ),
            (
                json!([{"portName": "http", "clientAliases": [{"port": 70000}]}]),
                "serviceConnectConfiguration.services[0].clientAliases[0].port",
                "out of range",
            ),
            (
                json!([
                    {"portName": "http", "clientAliases": [{"port": 80, "dnsName": "api"}]},
                    {"portName": "dns", "discoveryName": "API"}
                ]),
                "serviceConnectConfiguration.services[1].discoveryName",
                "which serviceConnectConfiguration.services[0].clientAliases[0].dnsName makes already",
            ),
        ];
        for (services, field, reason) in cases {
            let e = translate("awsvpc", sc(services)).expect_err(field);
            assert_eq!(err_field(&e), field, "{e}");
            assert!(e.to_string().contains(reason), "{e}");
        }
        // Disabled: nothing, and said.
        let n = translate(
            "awsvpc",
            json!({"serviceConnectConfiguration": {"enabled": false, "services": [{"portName": "nope"}]}}),
        )
        .expect("disabled");
        assert!(n.is_empty());
        assert_eq!(
            notes(&n),
            vec![(NoteKind::Ignored, "serviceConnectConfiguration.services")]
        );
    }

    #[test]
    fn names_of_one_service_never_collide_silently() {
        let both = json!({
            "loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}],
            "serviceRegistries": [{"containerName": "app", "containerPort": 8080}],
            "serviceConnectConfiguration": {"enabled": true, "services": [
                {"portName": "http", "clientAliases": [{"port": 80, "dnsName": "web"}]}]}
        });
        let n = translate("awsvpc", both.clone()).expect("the usual names are distinct");
        let names: Vec<&str> = n
            .services
            .iter()
            .filter_map(|s| s.metadata.name.as_deref())
            .collect();
        assert_eq!(names, vec!["web-lb", "web-discovery", "web"]);
        for taken in ["web-lb", "web-discovery"] {
            let mut spec = both.clone();
            spec["serviceConnectConfiguration"]["services"][0]["clientAliases"][0]["dnsName"] = json!(taken);
            let e = translate("awsvpc", spec).expect_err(taken);
            let message = e.to_string();
            assert!(
                message.contains("serviceConnectConfiguration.services[0].clientAliases[0].dnsName"),
                "{message}"
            );
            assert!(
                message.starts_with("spec.loadBalancers: ")
                    || message.starts_with("spec.serviceRegistries: "),
                "{message}"
            );
        }
    }

    #[test]
    fn every_networking_field_is_handled_or_reported() {
        let spec: ServiceSpec = serde_json::from_value(json!({
            "taskDefinition": "web",
            "role": "r",
            "loadBalancers": [{"targetGroupArn": TG, "loadBalancerName": "x", "containerName": "app",
                "containerPort": 8080, "advancedConfiguration": {"alternateTargetGroupArn": "a",
                "productionListenerRule": "p", "testListenerRule": "t", "roleArn": "r"}}],
            "serviceRegistries": [{"registryArn": "arn:x", "containerName": "app", "containerPort": 8080}],
            "serviceConnectConfiguration": {"enabled": true, "namespace": "n",
                "services": [{"portName": "http", "discoveryName": "d", "ingressPortOverride": 1,
                    "clientAliases": [{"port": 80, "dnsName": "x",
                        "testTrafficRules": {"header": {"name": "h", "value": {"exact": "v"}}}}],
                    "timeout": {"idleTimeoutSeconds": 1, "perRequestTimeoutSeconds": 1},
                    "tls": {"issuerCertificateAuthority": {"awsPcaAuthorityArn": "a"}, "kmsKey": "k", "roleArn": "r"}}],
                "logConfiguration": {"logDriver": "awslogs"},
                "accessLogConfiguration": {"format": "JSON", "includeQueryParameters": "ENABLED"},
                "containerConfigurations": [{"logLevel": "debug"}]}
        }))
        .expect("spec");
        let td = td("awsvpc");
        let pod = pod_template("web", &td, 1).expect("pod");
        let w = crate::translate::service::workload(
            "web",
            "shop",
            &spec,
            &pod.template,
            &crate::translate::service::ServiceContext::default(),
        )
        .expect("workload");
        assert!(w.report.is_empty(), "{:?}", w.report.notes);
        let n = network_objects("web", "shop", &spec, &td, &pod.template).expect("networking");
        for field in [
            "role",
            "loadBalancers[0].loadBalancerName",
            "loadBalancers[0].advancedConfiguration",
            "serviceRegistries[0].registryArn",
            "serviceConnectConfiguration.namespace",
            "serviceConnectConfiguration.services[0].clientAliases[0].testTrafficRules",
            "serviceConnectConfiguration.services[0].ingressPortOverride",
            "serviceConnectConfiguration.services[0].timeout",
            "serviceConnectConfiguration.services[0].tls",
            "serviceConnectConfiguration.logConfiguration",
            "serviceConnectConfiguration.accessLogConfiguration",
            "serviceConnectConfiguration.containerConfigurations",
        ] {
            assert!(
                n.report.notes.iter().any(|note| note.field == field),
                "{field} is not reported: {:?}",
                n.report.notes
            );
        }
    }

    #[test]
    fn target_group_names_come_from_their_arns() {
        assert_eq!(target_group_name(TG), Some("web-tg"));
        assert_eq!(
            target_group_name("arn:aws-cn:elasticloadbalancing:cn-north-1:1:targetgroup/A1/x"),
            Some("A1")
        );
        for bad in [
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web",
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1/2",
            "arn:aws:ec2:us-east-1:1:targetgroup/web/1",
            &format!(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/{}/1",
                "a".repeat(33)
            ),
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a_b/1",
        ] {
            assert_eq!(target_group_name(bad), None, "{bad}");
        }
    }

    proptest! {
        /// Whatever Service Connect names are asked for, the objects of one service either have
        /// valid, distinct names, or the translation says which fields clash.
        #[test]
        fn service_names_are_valid_and_distinct(
            aliases in proptest::collection::vec(
                prop_oneof![Just("web"), Just("web-lb"), Just("web-discovery"), Just("Web"), Just("api"), Just("a.b"), Just("x_y")],
                1..3,
            ),
        ) {
            let port_names = ["http", "dns"];
            let services: Vec<Value> = aliases.iter().zip(port_names).map(|(a, p)| {
                json!({"portName": p, "clientAliases": [{"port": 80, "dnsName": a}]})
            }).collect();
            let spec = json!({
                "loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}],
                "serviceRegistries": [{"port": 8080}],
                "serviceConnectConfiguration": {"enabled": true, "services": services}
            });
            match translate("awsvpc", spec) {
                Ok(n) => {
                    let names: Vec<String> = n.services.iter().filter_map(|s| s.metadata.name.clone()).collect();
                    let distinct: BTreeSet<&String> = names.iter().collect();
                    prop_assert_eq!(distinct.len(), names.len());
                    for name in &names {
                        prop_assert!(is_dns1035_label(name), "{}", name);
                    }
                }
                Err(e) => prop_assert!(matches!(e, NetworkError::Field { .. }), "{}", e),
            }
        }
    }
}
