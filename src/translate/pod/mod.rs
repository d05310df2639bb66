//! Task definition → pod template (pure: no client, no I/O).
//!
//! [`pod_template_with`] builds the pod in stages, one module each, every stage owning the fields
//! of its `HANDLED` list: `container` (names, images, commands, environment), `network`
//! (`networkMode`), `ports` (port mappings by network mode; their names: `port_names`),
//! `resources` (task and container cpu, memory, GPUs; the task sizes: `size`), `security`
//! (users, privileges, the Pod Security profile), `dns` (hostname, DNS, `extraHosts`,
//! `links`), `linux` (`linuxParameters`), `health` (health checks as probes), `secrets`
//! (secrets and environment files), `volumes` (and their mount points: `mounts`), `task`
//! (task-level fields; logging: `logging`), [`placement`] (the task definition's own
//! constraints) and `ordering` (`essential` and `dependsOn`). The stages agree on the
//! operating system through `os`. A field set in the task definition that no stage handles is
//! listed in the [`Report`] as not translated yet, never dropped silently.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{PodSpec, PodTemplateSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::{NoteKind, Options, Report, labels};
use crate::api::ecs::RegisterTaskDefinition;

mod apportion;
mod container;
mod dns;
mod health;
mod linux;
mod logging;
mod mounts;
mod network;
mod ordering;
mod os;
pub mod placement;
mod port_names;
mod ports;
mod resources;
mod secrets;
mod security;
mod size;
mod task;
mod volumes;

/// The hash EFS PersistentVolume names end with, for tests elsewhere.
/// What ECS reserves for one task of `spec`, as its utilisation metrics count it: CPU in
/// millicores and memory in bytes; the task's own `cpu` and `memory`, else the sum of its
/// containers' `cpu` and `memoryReservation` (or `memory`); `None` where nothing is reserved.
#[must_use]
pub fn task_reservation(spec: &crate::api::ecs::RegisterTaskDefinition) -> (Option<i64>, Option<i64>) {
    let containers = &spec.container_definitions;
    let cpu_units = spec
        .cpu
        .as_ref()
        .and_then(|c| size::parse_cpu(c).ok())
        .or_else(|| {
            let sum: i64 = containers.iter().filter_map(|c| c.cpu).map(i64::from).sum();
            (sum > 0).then_some(sum)
        });
    let memory_mib = spec
        .memory
        .as_ref()
        .and_then(|m| size::parse_memory(m).ok())
        .or_else(|| {
            let sum: i64 = containers
                .iter()
                .filter_map(|c| c.memory_reservation.or(c.memory))
                .map(i64::from)
                .sum();
            (sum > 0).then_some(sum)
        });
    (
        cpu_units.map(apportion::units_to_millis),
        memory_mib.map(|m| m * 1024 * 1024),
    )
}

#[cfg(test)]
pub(crate) fn short_hash_for_tests(parts: &[&str]) -> String {
    volumes::short_hash(parts)
}

/// Fields translated here (the rest by the submodules' `HANDLED` lists).
const HANDLED: &[&str] = &["family", "containerDefinitions[].essential"];

/// An annotation's JSON text from a sorted typed map: the same text a `serde_json::Value`
/// object gave (its keys sorted), without building one. (Maps with text keys and plain structs:
/// serialising cannot fail.)
fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// [`handled`], indexed once.
fn handled_index() -> &'static super::Handled {
    static INDEX: std::sync::OnceLock<super::Handled> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| super::Handled::new(&handled()))
}

/// Every field pattern some part of the translation handles.
fn handled() -> Vec<&'static str> {
    [
        HANDLED,
        container::HANDLED,
        health::HANDLED,
        linux::HANDLED,
        network::HANDLED,
        ordering::HANDLED,
        placement::HANDLED,
        ports::HANDLED,
        resources::HANDLED,
        secrets::HANDLED,
        security::HANDLED,
        dns::HANDLED,
        task::HANDLED,
        volumes::HANDLED,
    ]
    .concat()
}

/// Pod template annotation with the ports' `appProtocol`s, as a JSON object from the Kubernetes
/// port name (or, for an unnamed port, the container port as a string) to the Kubernetes
/// `appProtocol` value (see the ports stage), for the Service translation to set on Service ports.
/// Absent when no port mapping has an `appProtocol`.
pub const APP_PROTOCOLS_ANNOTATION: &str = "ecsbridge.io/app-protocols";

/// Annotation listing the essential containers (Kubernetes names, comma-separated): when one of
/// them exits, the task stops. The controllers enforce it; the cluster alone would not.
pub const ESSENTIAL_ANNOTATION: &str = "ecsbridge.io/essential-containers";

/// A pod template and what did not carry over.
#[derive(Debug, Clone, PartialEq)]
pub struct PodTranslation {
    /// The pod template for the task definition's tasks.
    pub template: PodTemplateSpec,
    /// Other objects the tasks need (ServiceAccount, ExternalSecret, PersistentVolume and
    /// PersistentVolumeClaim, ...), as JSON with apiVersion and kind.
    pub objects: Vec<serde_json::Value>,
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
    /// A number outside the range ECS accepts.
    #[error("spec.{field}: {value} is out of range; ECS accepts {min} to {max}")]
    OutOfRange {
        /// The field, relative to `spec`.
        field: String,
        /// The value given.
        value: i64,
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// A health check command that does not say how to run it.
    #[error(
        "spec.{field}: {found:?} is not a health check type; start the command with \"CMD\" (run the remaining elements as a command) or \"CMD-SHELL\" (run the next element with the shell)"
    )]
    HealthCheckType {
        /// The field, relative to `spec` (`containerDefinitions[i].healthCheck.command[0]`).
        field: String,
        /// What the command starts with.
        found: String,
    },
    /// `dependsOn` names a container the task definition does not have.
    #[error(
        "spec.{field}: container {container:?} depends on {dependency:?}, which is not a container of this task definition; name one of its containers"
    )]
    UnknownDependency {
        /// The field, relative to `spec` (`containerDefinitions[i].dependsOn[j].containerName`).
        field: String,
        /// The ECS name of the dependent container.
        container: String,
        /// The name it depends on.
        dependency: String,
    },
    /// `dependsOn` forms a cycle.
    #[error(
        "spec.containerDefinitions: dependsOn forms a cycle: {}; remove one of these dependencies",
        .containers.join(" → ")
    )]
    DependencyCycle {
        /// The ECS names of the containers in the cycle, each depending on the next; the first
        /// is repeated at the end.
        containers: Vec<String>,
    },
    /// A `dependsOn` condition the named container cannot meet.
    #[error("spec.{field}: container {container:?} cannot depend on {dependency:?}: {reason}")]
    UnsatisfiableDependency {
        /// The field, relative to `spec` (`containerDefinitions[i].dependsOn[j]`).
        field: String,
        /// The ECS name of the dependent container.
        container: String,
        /// The ECS name of the container depended on.
        dependency: String,
        /// Why, and how to fix it.
        reason: String,
    },
    /// A secret reference (`secrets[].valueFrom`) in none of the accepted forms.
    #[error(
        "spec.{field}: {value:?} is not a secret reference ({reason}); use arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>[:<version-stage>[:<version-id>]]], arn:aws:ssm:<region>:<account>:parameter/<name>, a parameter name, or k8s:secret/<name>#<key>"
    )]
    BadSecretReference {
        /// The field, relative to `spec` (`containerDefinitions[i].secrets[j].valueFrom`).
        field: String,
        /// The reference given (a name or ARN, never a secret value).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A volume, mount point or `volumesFrom` entry that ECS or Kubernetes rejects.
    #[error("spec.{field}: {reason}")]
    BadVolume {
        /// The field, relative to `spec` (`volumes[i]...`, `containerDefinitions[i].mountPoints[j]...`).
        field: String,
        /// What is wrong, and how to fix it.
        reason: String,
    },
    /// An `environmentFiles` entry that is not an S3 object ARN, or two that would load from the
    /// same ConfigMap.
    #[error("spec.{field}: {reason}")]
    BadEnvironmentFile {
        /// The field, relative to `spec` (`containerDefinitions[i].environmentFiles[j].value`).
        field: String,
        /// What is wrong, and how to fix it.
        reason: String,
    },
    /// A placement constraint that does not compile.
    #[error("spec.{field}: {message}")]
    Placement {
        /// The field, relative to `spec` (`placementConstraints[i].expression`).
        field: String,
        /// What is wrong (with the character position in the expression), and how to fix it.
        message: String,
    },
    /// A `user` in none of the forms ECS accepts.
    #[error(
        "spec.{field}: {value:?} is not a user; use uid, uid:gid, user, user:group, uid:group or user:gid (uid and gid from 0 to 2147483647)"
    )]
    InvalidUser {
        /// The field, relative to `spec` (`containerDefinitions[i].user`).
        field: String,
        /// The value given.
        value: String,
    },
    /// Task or container sizes (cpu, memory, GPUs, ephemeral storage) that cannot be read, or
    /// that ECS would reject together (e.g. container reservations above the task memory).
    #[error("spec.{field}: {reason}")]
    BadResources {
        /// The field, relative to `spec` (`cpu`, `memory`, `containerDefinitions[i].memory`, ...).
        field: String,
        /// What is wrong, and how to fix it.
        reason: String,
    },
    /// A port mapping that ECS would reject (a `hostPort` the network mode does not allow, a
    /// malformed or overlapping `containerPortRange`, a port exposed twice, a name used twice),
    /// or that Kubernetes would (two mappings on one node port).
    #[error("spec.{field}: {reason}")]
    BadPortMapping {
        /// The field, relative to `spec` (`containerDefinitions[i].portMappings[j].hostPort`, ...).
        field: String,
        /// What is wrong, and how to fix it.
        reason: String,
    },
}

/// The translation under way: each stage reads the task definition and adds to the pod.
#[derive(Debug)]
pub(crate) struct Build<'a> {
    /// The task definition.
    pub td: &'a RegisterTaskDefinition,
    /// The TaskDefinition object's name (names derived objects).
    pub object_name: &'a str,
    /// The revision being translated.
    pub revision: i64,
    /// The namespace of the TaskDefinition: it names the cluster-scoped objects (EFS
    /// PersistentVolumes), which must not collide across namespaces. `None` when unknown.
    pub namespace: Option<&'a str>,
    /// The installation options.
    pub options: &'a Options,
    /// One container per container definition, in the same order (the ordering stage, last,
    /// moves some into `pod.init_containers`).
    pub containers: Vec<k8s_openapi::api::core::v1::Container>,
    /// Pod-level fields (`containers` is filled at the end).
    pub pod: PodSpec,
    /// Pod template annotations.
    pub annotations: BTreeMap<String, String>,
    /// Pod template labels.
    pub labels: BTreeMap<String, String>,
    /// Other objects the task needs (ServiceAccount, ExternalSecret, PersistentVolume, ...),
    /// as JSON with apiVersion and kind.
    pub objects: Vec<serde_json::Value>,
    /// What did not carry over.
    pub report: Report,
}

/// Translates `td` (the family's object `object_name`, at `revision`) into a pod template,
/// with default options.
///
/// # Errors
/// When a container has no name or image, or two names collide once made valid for Kubernetes.
pub fn pod_template(
    object_name: &str,
    td: &RegisterTaskDefinition,
    revision: i64,
) -> Result<PodTranslation, PodError> {
    pod_template_with(object_name, td, revision, None, &Options::default())
}

/// Translates `td`, revision `revision` of the TaskDefinition object `object_name` in
/// `namespace`, into a pod template and the objects its tasks need, for an installation with
/// `options`.
///
/// # Errors
/// When a container has no name or image, or two names collide once made valid for Kubernetes.
pub fn pod_template_with(
    object_name: &str,
    td: &RegisterTaskDefinition,
    revision: i64,
    namespace: Option<&str>,
    options: &Options,
) -> Result<PodTranslation, PodError> {
    let mut b = Build {
        td,
        object_name,
        revision,
        namespace,
        options,
        containers: Vec::with_capacity(td.container_definitions.len()),
        pod: PodSpec::default(),
        annotations: BTreeMap::new(),
        labels: labels::task_definition_labels(object_name, revision),
        objects: Vec::new(),
        report: Report::default(),
    };
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (i, c) in td.container_definitions.iter().enumerate() {
        let container = container::container(i, c, &mut b.report)?;
        if let Some(first) = names.insert(container.name.clone(), c.name.clone().unwrap_or_default()) {
            return Err(PodError::DuplicateName {
                first,
                second: c.name.clone().unwrap_or_default(),
                name: container.name,
            });
        }
        b.containers.push(container);
    }
    b.pod.host_network = network::network_mode(td.network_mode, &mut b.report);
    // The stages, in order; each owns the fields in its `HANDLED` list. Ports come before
    // security, which counts host ports in the pod's security level.
    ports::apply(&mut b)?;
    resources::apply(&mut b)?;
    security::apply(&mut b)?;
    dns::apply(&mut b);
    security::host_namespaces(&mut b);
    linux::apply(&mut b)?;
    health::apply(&mut b)?;
    secrets::apply(&mut b)?;
    volumes::apply(&mut b)?;
    task::apply(&mut b)?;
    placement::apply(&mut b)?;
    // ECS: `essential` defaults to true.
    let essential: Vec<&str> = td
        .container_definitions
        .iter()
        .zip(&b.containers)
        .filter(|(c, _)| c.essential != Some(false))
        .map(|(_, k)| k.name.as_str())
        .collect();
    b.annotations
        .insert(ESSENTIAL_ANNOTATION.to_owned(), essential.join(","));
    ordering::apply(&mut b)?;
    b.report.untranslated_in(td, handled_index());
    let Build {
        containers,
        mut pod,
        annotations,
        labels,
        objects,
        report,
        ..
    } = b;
    pod.containers = containers;
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(pod),
    };
    Ok(PodTranslation {
        template,
        objects,
        report,
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
                "family": "web", "networkMode": "awsvpc",
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
    fn task_definition_constraints_become_node_affinity() {
        let t = pod_template(
            "web",
            &td(json!({
                "family": "web", "networkMode": "awsvpc",
                "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
                "containerDefinitions": [{"name": "a", "image": "x"}]
            })),
            1,
        )
        .expect("translates");
        assert!(t.report.notes.is_empty(), "{:?}", t.report.notes);
        let term = &t
            .template
            .spec
            .and_then(|s| s.affinity)
            .and_then(|a| a.node_affinity)
            .and_then(|n| n.required_during_scheduling_ignored_during_execution)
            .expect("required node affinity")
            .node_selector_terms[0];
        let req = &term.match_expressions.as_ref().expect("expressions")[0];
        assert_eq!(
            (req.key.as_str(), req.operator.as_str(), req.values.clone()),
            ("kubernetes.io/os", "In", Some(vec!["linux".to_owned()]))
        );
        let err = pod_template(
            "web",
            &td(json!({
                "family": "web",
                "placementConstraints": [{"type": "memberOf", "expression": "attribute:a == 1 and"}],
                "containerDefinitions": [{"name": "a", "image": "x"}]
            })),
            1,
        )
        .expect_err("syntax error");
        assert!(
            err.to_string()
                .starts_with("spec.placementConstraints[0].expression: at character 21: expected "),
            "{err}"
        );
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

/// Completeness: every field of the ECS model is owned by a stage (translated or reported by
/// it), so none is left to the catch-all "not translated yet" note, bar the ones listed.
#[cfg(test)]
mod completeness_tests {
    use serde_json::{Map, Value, json};

    use super::*;

    /// Fields no stage owns yet, and why.
    const LEFT: &[(&str, &str)] = &[];

    /// A value for `schema` with every property set (one element per list, one entry per map,
    /// the first value of an enum), resolving `$ref`s in `defs`.
    fn maximal(schema: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
        assert!(depth < 40, "the ECS model is not recursive");
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or_default();
            return maximal(&defs[name], defs, depth + 1);
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let option = options
                    .iter()
                    .find(|o| o.get("type") != Some(&json!("null")))
                    .unwrap_or(&Value::Null);
                return maximal(option, defs, depth + 1);
            }
        }
        if let Some(value) = schema.get("const") {
            return value.clone();
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return values
                .iter()
                .find(|v| !v.is_null())
                .cloned()
                .unwrap_or(Value::Null);
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            return Value::Object(
                props
                    .iter()
                    .map(|(k, s)| (k.clone(), maximal(s, defs, depth + 1)))
                    .collect(),
            );
        }
        if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
            return json!({"key": maximal(extra, defs, depth + 1)});
        }
        if types.contains(&"array") {
            return json!([maximal(
                schema.get("items").unwrap_or(&Value::Null),
                defs,
                depth + 1
            )]);
        }
        if types.contains(&"string") {
            json!("x")
        } else if types.contains(&"integer") || types.contains(&"number") {
            json!(1)
        } else if types.contains(&"boolean") {
            json!(true)
        } else if types.contains(&"object") {
            json!({"key": "value"})
        } else {
            // Free-form (`hookDetails`-like) or int-or-string.
            json!("1")
        }
    }

    #[test]
    fn every_field_of_the_ecs_model_is_owned_by_a_stage() {
        let schema = serde_json::to_value(schemars::schema_for!(RegisterTaskDefinition)).expect("schema");
        let defs = schema
            .get("$defs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let spec = maximal(&schema, &defs, 0);
        // The instance really is a task definition with every container field set.
        let td: RegisterTaskDefinition = serde_json::from_value(spec.clone()).expect("a task definition");
        let container = serde_json::to_value(&td.container_definitions[0]).expect("json");
        let fields = defs["ContainerDefinition"]["properties"]
            .as_object()
            .map_or(0, Map::len);
        assert_eq!(
            container.as_object().map_or(0, Map::len),
            fields,
            "every container field is set: {container}"
        );
        let mut report = Report::default();
        report.untranslated(&spec, &handled());
        let left: Vec<&str> = report.notes.iter().map(|n| n.field.as_str()).collect();
        let expected: Vec<&str> = LEFT.iter().map(|(f, _)| *f).collect();
        assert_eq!(left, expected, "fields no stage owns");
    }
}
