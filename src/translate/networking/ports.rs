//! The task definition's port mappings as the pod template names them, and the Service ports made
//! from them (shared by load balancers, Cloud Map and Service Connect).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::{
    api::core::v1::{PodTemplateSpec, Service as CoreService, ServicePort, ServiceSpec as CoreServiceSpec},
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, util::intstr::IntOrString},
};

use super::{MAX_PORT_NAME, NetworkError, bad};
use crate::{
    api::ecs::{NetworkMode, PortMapping, RegisterTaskDefinition, TransportProtocol},
    names,
    translate::{labels::selector_labels, pod::APP_PROTOCOLS_ANNOTATION},
};
/// One port mapping of the task definition, as the pod has it.
#[derive(Debug, Clone)]
pub(super) struct MappedPort {
    /// The container port.
    pub(super) port: i32,
    /// `TCP` or `UDP`.
    pub(super) protocol: &'static str,
    /// The container port's Kubernetes name, if it kept one.
    pub(super) name: Option<String>,
    /// The Kubernetes `appProtocol` for Services, if the mapping has one.
    pub(super) app_protocol: Option<String>,
}

/// The task definition's port mappings, with the names the pod gives them.
pub(super) struct PodPorts<'a> {
    td: &'a RegisterTaskDefinition,
    /// (Kubernetes container name, port, protocol) → the port's Kubernetes name.
    names: BTreeMap<(String, i32, String), String>,
    /// Kubernetes port name (or port number) → appProtocol (the pod template annotation).
    app_protocols: BTreeMap<String, String>,
}

impl<'a> PodPorts<'a> {
    pub(super) fn new(td: &'a RegisterTaskDefinition, pod: &PodTemplateSpec) -> Self {
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
            .and_then(|a| a.get(APP_PROTOCOLS_ANNOTATION))
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default();
        Self {
            td,
            names,
            app_protocols,
        }
    }

    pub(super) fn mode(&self) -> Option<NetworkMode> {
        self.td.network_mode
    }

    /// The port mapping `pm` of the container named `container` (ECS name).
    pub(super) fn mapped(&self, container: &str, pm: &PortMapping) -> Option<MappedPort> {
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
    pub(super) fn find(&self, container: &str, port: i32) -> Result<MappedPort, bool> {
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
    pub(super) fn named(&self, name: &str) -> Option<MappedPort> {
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
    pub(super) fn containers(&self) -> String {
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
    pub(super) fn ports_of(&self, container: &str) -> String {
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
pub(super) fn container_port(
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
pub(super) fn service_port(
    mapped: &MappedPort,
    port: i32,
    by_name: bool,
    taken: &mut BTreeSet<String>,
) -> ServicePort {
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
pub(super) fn core_service(meta: ObjectMeta, name: &str, spec: CoreServiceSpec) -> CoreService {
    CoreService {
        metadata: meta,
        spec: Some(CoreServiceSpec {
            selector: Some(selector_labels(name)),
            ..spec
        }),
        status: None,
    }
}
