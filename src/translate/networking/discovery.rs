//! Service discovery (Cloud Map).
//!
//! `serviceRegistries` (at most 1) → a headless Service `<service>-discovery` (`clusterIP:
//! None`): cluster DNS answers `<service>-discovery.<namespace>.svc` with the ready tasks' IPs,
//! as Cloud Map answers with the registered tasks, and SRV records for its named port. The port
//! is `containerName` + `containerPort` (which must match a port mapping) or `port`, not both,
//! as ECS requires; with neither (`awsvpc` A records) the Service has no port. The Cloud Map
//! service itself (`registryArn`) is not updated: reported.

use std::collections::BTreeSet;

use k8s_openapi::{
    api::core::v1::{Service as CoreService, ServiceSpec as CoreServiceSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::{
    DISCOVERY_SUFFIX, MAX_PORT, MAX_SERVICE_REGISTRIES, NetworkError, bad, derived_name,
    ports::{MappedPort, PodPorts, container_port, core_service, service_port},
};
use crate::{
    api::ecs::{NetworkMode, ServiceRegistry},
    translate::{NoteKind, Report},
};

/// `serviceRegistries` → the headless Service; `None` without registries.
pub(super) fn discovery(
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
