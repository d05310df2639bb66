//! Task definition → pod template.
//!
//! This first version carries over what every task definition has: containers, images,
//! entry points and commands, working directories, environment variables, container ports and
//! container-level cpu and memory. Every other field set in the task definition is listed in the
//! [`Report`] as not translated yet, never dropped silently.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Container, ContainerPort, EnvVar, PodSpec, PodTemplateSpec, ResourceRequirements},
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::ObjectMeta},
};

use super::{NoteKind, Report, labels};
use crate::api::ecs::{ContainerDefinition, NetworkMode, RegisterTaskDefinition, TransportProtocol};
use crate::names::container_name;

/// Fields of the task definition this module translates (patterns, relative to `spec`).
const HANDLED: &[&str] = &[
    "family",
    "containerDefinitions[].name",
    "containerDefinitions[].image",
    "containerDefinitions[].entryPoint",
    "containerDefinitions[].command",
    "containerDefinitions[].workingDirectory",
    "containerDefinitions[].environment[].name",
    "containerDefinitions[].environment[].value",
    "containerDefinitions[].portMappings[].containerPort",
    "containerDefinitions[].portMappings[].protocol",
    "containerDefinitions[].portMappings[].name",
    "containerDefinitions[].cpu",
    "containerDefinitions[].memory",
    "containerDefinitions[].memoryReservation",
    "containerDefinitions[].essential",
    "networkMode",
];

/// Annotation listing the essential containers (Kubernetes names, comma-separated): when one of
/// them exits, the task stops. The controllers enforce it; the cluster alone would not.
pub const ESSENTIAL_ANNOTATION: &str = "ecsbridge.io/essential-containers";

/// A pod template and what did not carry over.
#[derive(Debug, Clone, PartialEq)]
pub struct PodTranslation {
    /// The pod template for the task definition's tasks.
    pub template: PodTemplateSpec,
    /// Fields ignored, approximated or not yet translated.
    pub report: Report,
}

/// Why a task definition cannot become a pod template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PodError {
    /// A field Kubernetes needs is missing.
    #[error("spec.{field}: required: {hint}")]
    Missing {
        /// The field, relative to `spec`.
        field: String,
        /// How to fix it.
        hint: &'static str,
    },
    /// Two containers end up with the same Kubernetes name.
    #[error(
        "spec.containerDefinitions: containers {first:?} and {second:?} both become {name:?} in Kubernetes; rename one"
    )]
    DuplicateName {
        /// The first ECS name.
        first: String,
        /// The second ECS name.
        second: String,
        /// The Kubernetes name both map to.
        name: String,
    },
}

/// Translates `td` (the family's object `object_name`, at `revision`) into a pod template.
///
/// # Errors
/// When a container has no name or image, or two names collide once made valid for Kubernetes.
pub fn pod_template(
    object_name: &str,
    td: &RegisterTaskDefinition,
    revision: i64,
) -> Result<PodTranslation, PodError> {
    let mut report = Report::default();
    let mut containers = Vec::with_capacity(td.container_definitions.len());
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (i, c) in td.container_definitions.iter().enumerate() {
        let container = container(i, c, &mut report)?;
        if let Some(first) = names.insert(container.name.clone(), c.name.clone().unwrap_or_default()) {
            return Err(PodError::DuplicateName {
                first,
                second: c.name.clone().unwrap_or_default(),
                name: container.name,
            });
        }
        containers.push(container);
    }
    let host_network = network_mode(td.network_mode, &mut report);
    if let Ok(spec) = serde_json::to_value(td) {
        report.untranslated(&spec, HANDLED);
    }
    // ECS: `essential` defaults to true.
    let essential: Vec<&str> = td
        .container_definitions
        .iter()
        .zip(&containers)
        .filter(|(c, _)| c.essential != Some(false))
        .map(|(_, k)| k.name.as_str())
        .collect();
    let annotations = BTreeMap::from([(ESSENTIAL_ANNOTATION.to_owned(), essential.join(","))]);
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels::task_definition_labels(object_name, revision)),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers,
            host_network,
            ..PodSpec::default()
        }),
    };
    Ok(PodTranslation { template, report })
}

fn container(i: usize, c: &ContainerDefinition, report: &mut Report) -> Result<Container, PodError> {
    let field = |f: &str| format!("containerDefinitions[{i}].{f}");
    let ecs_name = c.name.as_deref().ok_or_else(|| PodError::Missing {
        field: field("name"),
        hint: "give every container a name ([a-z0-9-], as Kubernetes requires)",
    })?;
    let image = c.image.clone().ok_or_else(|| PodError::Missing {
        field: field("image"),
        hint: "give every container an image, e.g. nginx:1.27",
    })?;
    let name = container_name(ecs_name).ok_or_else(|| PodError::Missing {
        field: field("name"),
        hint: "a container name needs letters or digits",
    })?;
    if name != ecs_name {
        report.note(
            NoteKind::Approximated,
            field("name"),
            format!("container {ecs_name:?} is named {name:?} in Kubernetes (lower case, '-' for '_')"),
        );
    }
    let env: Vec<EnvVar> = c
        .environment
        .iter()
        .flatten()
        .filter_map(|kv| {
            kv.name.as_ref().map(|n| EnvVar {
                name: n.clone(),
                value: kv.value.clone(),
                ..EnvVar::default()
            })
        })
        .collect();
    let ports: Vec<ContainerPort> = c
        .port_mappings
        .iter()
        .flatten()
        .filter_map(|pm| {
            pm.container_port.map(|port| ContainerPort {
                container_port: port,
                protocol: Some(match pm.protocol {
                    Some(TransportProtocol::Udp) => "UDP".to_owned(),
                    _ => "TCP".to_owned(),
                }),
                name: pm.name.clone(),
                ..ContainerPort::default()
            })
        })
        .collect();
    Ok(Container {
        name,
        image: Some(image),
        command: c.entry_point.clone(),
        args: c.command.clone(),
        working_dir: c.working_directory.clone(),
        env: (!env.is_empty()).then_some(env),
        ports: (!ports.is_empty()).then_some(ports),
        resources: resources(c),
        ..Container::default()
    })
}

/// ECS network mode → pod networking. `awsvpc` (a network interface and IP per task) is what
/// every pod has; `bridge` differs only in host port mapping; `host` is `hostNetwork`.
fn network_mode(mode: Option<NetworkMode>, report: &mut Report) -> Option<bool> {
    match mode {
        None | Some(NetworkMode::Awsvpc) => None,
        Some(NetworkMode::Bridge) => {
            report.note(
                NoteKind::Approximated,
                "networkMode",
                "bridge: the task gets its own pod IP, as with awsvpc; containers reach each other on localhost",
            );
            None
        }
        Some(NetworkMode::Host) => Some(true),
        Some(NetworkMode::None) => {
            report.note(
                NoteKind::Approximated,
                "networkMode",
                "none: pods always have a network namespace; add a NetworkPolicy denying all traffic to isolate them",
            );
            None
        }
    }
}

/// 1024 ECS cpu units = 1 vCPU = 1000 millicores (rounded to the nearest millicore, at least 1).
#[must_use]
pub fn cpu_units_to_millis(units: i32) -> i64 {
    let units = i64::from(units.max(0));
    ((units * 1000 + 512) / 1024).max(i64::from(units > 0))
}

/// Container cpu → request (ECS cpu is a share, not a cap); `memory` → limit (and request when
/// there is no `memoryReservation`); `memoryReservation` → request.
fn resources(c: &ContainerDefinition) -> Option<ResourceRequirements> {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    if let Some(cpu) = c.cpu.filter(|c| *c > 0) {
        requests.insert(
            "cpu".to_owned(),
            Quantity(format!("{}m", cpu_units_to_millis(cpu))),
        );
    }
    if let Some(mem) = c.memory.filter(|m| *m > 0) {
        limits.insert("memory".to_owned(), Quantity(format!("{mem}Mi")));
        requests.insert("memory".to_owned(), Quantity(format!("{mem}Mi")));
    }
    if let Some(res) = c.memory_reservation.filter(|m| *m > 0) {
        requests.insert("memory".to_owned(), Quantity(format!("{res}Mi")));
    }
    (!requests.is_empty() || !limits.is_empty()).then(|| ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..ResourceRequirements::default()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn td(v: serde_json::Value) -> RegisterTaskDefinition {
        serde_json::from_value(v).expect("task definition")
    }

    #[test]
    fn translates_the_basics_of_a_container() {
        let t = pod_template(
            "web",
            &td(json!({
                "family": "web",
                "containerDefinitions": [{
                    "name": "app_server", "image": "nginx:1.27",
                    "entryPoint": ["/bin/sh", "-c"], "command": ["exec nginx"],
                    "workingDirectory": "/srv",
                    "environment": [{"name": "A", "value": "1"}],
                    "portMappings": [{"containerPort": 80}, {"containerPort": 53, "protocol": "udp", "name": "dns"}],
                    "cpu": 256, "memory": 512, "memoryReservation": 128
                }]
            })),
            3,
        )
        .expect("translates");
        let pod = t.template.spec.expect("pod spec");
        let c = &pod.containers[0];
        assert_eq!(c.name, "app-server");
        assert_eq!(
            c.command.as_deref(),
            Some(&["/bin/sh".to_owned(), "-c".to_owned()][..])
        );
        assert_eq!(c.args.as_deref(), Some(&["exec nginx".to_owned()][..]));
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        let ports = c.ports.as_ref().expect("ports");
        assert_eq!(
            (ports[0].container_port, ports[0].protocol.as_deref()),
            (80, Some("TCP"))
        );
        assert_eq!(
            (ports[1].protocol.as_deref(), ports[1].name.as_deref()),
            (Some("UDP"), Some("dns"))
        );
        let res = c.resources.as_ref().expect("resources");
        let req = res.requests.as_ref().expect("requests");
        assert_eq!(req["cpu"].0, "250m");
        assert_eq!(req["memory"].0, "128Mi");
        assert_eq!(res.limits.as_ref().expect("limits")["memory"].0, "512Mi");
        assert!(
            res.limits.as_ref().expect("limits").get("cpu").is_none(),
            "cpu is a share, not a limit"
        );
        let meta = t.template.metadata.expect("metadata");
        assert_eq!(meta.labels.expect("labels")[labels::REVISION], "3");
        assert_eq!(
            meta.annotations.expect("annotations")[ESSENTIAL_ANNOTATION],
            "app-server"
        );
        assert_eq!(t.report.notes.len(), 1, "{:?}", t.report.notes);
        assert_eq!(t.report.notes[0].kind, NoteKind::Approximated);
    }

    #[test]
    fn reports_every_field_it_does_not_translate() {
        let t = pod_template(
            "web",
            &td(json!({
                "family": "web", "networkMode": "awsvpc", "cpu": "256",
                "containerDefinitions": [{"name": "a", "image": "x", "healthCheck": {"command": ["CMD", "true"]}}]
            })),
            1,
        )
        .expect("translates");
        let fields: Vec<&str> = t.report.notes.iter().map(|n| n.field.as_str()).collect();
        assert_eq!(fields, vec!["containerDefinitions[0].healthCheck", "cpu"]);
    }

    #[test]
    fn names_the_missing_field() {
        let err = pod_template(
            "web",
            &td(json!({"family": "w", "containerDefinitions": [{"name": "a"}]})),
            1,
        )
        .expect_err("no image");
        assert_eq!(
            err.to_string(),
            "spec.containerDefinitions[0].image: required: give every container an image, e.g. nginx:1.27"
        );
        let err = pod_template(
            "web",
            &td(json!({"family": "w", "containerDefinitions": [{"name": "a_b", "image": "x"}, {"name": "a-b", "image": "y"}]})),
            1,
        )
        .expect_err("collision");
        assert!(matches!(err, PodError::DuplicateName { .. }), "{err}");
    }

    #[test]
    fn cpu_units_become_millicores() {
        assert_eq!(cpu_units_to_millis(1024), 1000);
        assert_eq!(cpu_units_to_millis(256), 250);
        assert_eq!(cpu_units_to_millis(1), 1);
        assert_eq!(cpu_units_to_millis(0), 0);
        assert_eq!(cpu_units_to_millis(100), 98);
    }
}

#[cfg(test)]
mod network_and_essential_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn essential_defaults_to_true_and_host_mode_is_host_network() {
        let td: RegisterTaskDefinition = serde_json::from_value(json!({
            "family": "w", "networkMode": "host",
            "containerDefinitions": [
                {"name": "app", "image": "x"},
                {"name": "log_router", "image": "y", "essential": false},
                {"name": "sidecar", "image": "z", "essential": true}
            ]
        }))
        .expect("task definition");
        let t = pod_template("w", &td, 1).expect("translates");
        let annotations = t
            .template
            .metadata
            .and_then(|m| m.annotations)
            .expect("annotations");
        assert_eq!(annotations[ESSENTIAL_ANNOTATION], "app,sidecar");
        assert_eq!(t.template.spec.expect("spec").host_network, Some(true));
    }

    #[test]
    fn bridge_and_none_are_reported_as_approximations() {
        for mode in ["bridge", "none"] {
            let td: RegisterTaskDefinition = serde_json::from_value(json!({
                "family": "w", "networkMode": mode, "containerDefinitions": [{"name": "a", "image": "x"}]
            }))
            .expect("task definition");
            let t = pod_template("w", &td, 1).expect("translates");
            assert_eq!(t.report.notes.len(), 1, "{mode}");
            assert_eq!(
                (t.report.notes[0].field.as_str(), t.report.notes[0].kind),
                ("networkMode", NoteKind::Approximated)
            );
        }
    }
}
