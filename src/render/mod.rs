//! `ecs-bridge render`: custom resources in, the Kubernetes objects the operator would create
//! out, offline (like `helm template`).
//!
//! References among the given manifests are resolved (a Service's `taskDefinition` names a
//! TaskDefinition in the same namespace). Each TaskDefinition is rendered as its first revision.
//! A Service renders as its workload followed by its networking objects (Services and
//! TargetGroupBindings), made by [`service_objects_of_pod`] from the TaskDefinition's one
//! translation: the assembly the Service controller applies
//! ([`crate::translate::service::service_objects`]).
//! Objects carry no owner references (they need the owner's uid, which only the API server
//! assigns); the operator adds them when it applies the objects.

mod load;

use std::{collections::BTreeMap, path::PathBuf};

use k8s_openapi::{
    api::core::v1::{Node, PodTemplate, PodTemplateSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use serde_json::Value;

pub use load::{Loaded, Resource, load};

use crate::{
    api::Service,
    manifest::{Diagnostic, FieldPath, position_of, read_documents},
    translate::{
        Options, Report,
        networking::NetworkError,
        pod::{PodTranslation, pod_template_with},
        reference::TaskDefinitionRef,
        service::{
            ServiceInput, ServiceObjectsError, TaskDefinitionRevision, Workload, service_objects_of_pod,
        },
    },
};

/// The revision offline rendering gives every task definition.
pub const OFFLINE_REVISION: i64 = 1;

/// What `render` produced.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Kubernetes objects, in input order.
    pub objects: Vec<Value>,
    /// Errors (the command exits non-zero) and warnings (fields not carried over).
    pub diagnostics: Vec<Diagnostic>,
}

impl Rendered {
    /// Whether any diagnostic is an error.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Renders the manifests in `paths` (files or directories) for an installation with `options`,
/// placing against `nodes` when given (`--nodes`).
#[must_use]
pub fn render_paths(paths: &[PathBuf], options: &Options, nodes: Option<&[Node]>) -> Rendered {
    match read_documents(paths) {
        Ok(docs) => {
            let (loaded, mut diagnostics) = load(&docs);
            let mut rendered = render(&loaded, options, nodes);
            diagnostics.append(&mut rendered.diagnostics);
            rendered.diagnostics = diagnostics;
            rendered
        }
        Err(e) => Rendered {
            objects: Vec::new(),
            diagnostics: vec![e],
        },
    }
}

/// A task definition that rendered offline, for services to run: its object name, spec and
/// translation (made once, whatever the number of Services that run it).
struct RenderedTaskDefinition<'a> {
    object: String,
    spec: &'a crate::api::ecs::RegisterTaskDefinition,
    pod: PodTranslation,
}

/// Renders loaded resources for an installation with `options`, placing against `nodes` when
/// given.
#[must_use]
pub fn render(loaded: &[Loaded], options: &Options, nodes: Option<&[Node]>) -> Rendered {
    let mut out = Rendered::default();
    // The task definitions that rendered, and (namespace, family) → the index of one: a family
    // is known by spec.family or metadata.name.
    let mut rendered: Vec<RenderedTaskDefinition<'_>> = Vec::new();
    let mut families: BTreeMap<(String, String), usize> = BTreeMap::new();
    for item in loaded {
        if let Resource::TaskDefinition(td) = &item.resource
            && let Some((name, ns)) = name_and_namespace(item, &td.metadata, &mut out)
        {
            let spec = &td.spec.task_definition;
            match pod_template_with(&name, spec, OFFLINE_REVISION, Some(&ns), options) {
                Ok(t) => {
                    report(item, &t.report, &mut out);
                    out.objects
                        .push(to_value(&pod_template_object(&name, &ns, &t.template)));
                    // The objects the tasks need; namespaced ones go in the task definition's
                    // namespace (PersistentVolumes are cluster-scoped).
                    out.objects.extend(t.objects.iter().cloned().map(|mut o| {
                        let cluster_scoped =
                            o.get("kind").and_then(Value::as_str) == Some("PersistentVolume");
                        if !cluster_scoped && o.pointer("/metadata/namespace").is_none() {
                            o["metadata"]["namespace"] = Value::String(ns.clone());
                        }
                        o
                    }));
                    let family = spec.family.clone().unwrap_or_else(|| name.clone());
                    for key in [family, name.clone()] {
                        families.insert((ns.clone(), key), rendered.len());
                    }
                    rendered.push(RenderedTaskDefinition {
                        object: name,
                        spec,
                        pod: t,
                    });
                }
                Err(e) => out.diagnostics.push(located(item, &e.to_string())),
            }
        }
    }
    for item in loaded {
        match &item.resource {
            Resource::TaskDefinition(_) => {}
            Resource::Service(svc) => {
                let td = |key: &(String, String)| families.get(key).map(|i| &rendered[*i]);
                render_service(item, svc, td, options, nodes, &mut out);
            }
            other => out.diagnostics.push(Diagnostic::warning(
                &item.document.file,
                Some(item.document.file_position(1, 1)),
                None,
                format!(
                    "{}: not translated yet by this release; nothing rendered for it",
                    other.describe()
                ),
            )),
        }
    }
    out
}

/// Renders `svc` (the document `item`), running the task definitions `families` finds by
/// (namespace, family).
fn render_service<'a>(
    item: &Loaded,
    svc: &Service,
    families: impl Fn(&(String, String)) -> Option<&'a RenderedTaskDefinition<'a>>,
    options: &Options,
    nodes: Option<&[Node]>,
    out: &mut Rendered,
) {
    let Some((name, ns)) = name_and_namespace(item, &svc.metadata, out) else {
        return;
    };
    let field = FieldPath::root().key("spec").key("taskDefinition");
    let at = |msg: String| {
        Diagnostic::error(
            &item.document.file,
            position_of(&item.document, &field),
            Some(field.clone()),
            msg,
        )
    };
    let Some(reference) = svc.spec.service.task_definition.as_deref() else {
        out.diagnostics.push(at(
            "required: name the task definition (family, family:revision or ARN)".into(),
        ));
        return;
    };
    let reference = match TaskDefinitionRef::parse(reference) {
        Ok(r) => r,
        Err(e) => return out.diagnostics.push(at(e)),
    };
    let Some(td) = families(&(ns.clone(), reference.family.clone())) else {
        out.diagnostics.push(at(format!(
            "task definition {:?} not found among the given manifests in namespace {ns:?}; \
             pass its file too",
            reference.family
        )));
        return;
    };
    if let Some(rev) = reference.revision.filter(|r| *r != OFFLINE_REVISION) {
        out.diagnostics.push(Diagnostic::warning(
            &item.document.file,
            position_of(&item.document, &field),
            Some(field.clone()),
            format!("pins revision {rev}; offline, the manifest's task definition is revision {OFFLINE_REVISION} and is used"),
        ));
    }
    let input = ServiceInput {
        name: &name,
        namespace: &ns,
        spec: &svc.spec,
        task_definition: TaskDefinitionRevision {
            object: &td.object,
            spec: td.spec,
            revision: OFFLINE_REVISION,
        },
        nodes,
    };
    let objects = match service_objects_of_pod(&input, &td.pod, options) {
        Ok(objects) => objects,
        Err(ServiceObjectsError::Networking(e)) => {
            let path = match &e {
                NetworkError::Field { field, .. } => spec_path(&FieldPath::root().key("spec"), field),
                NetworkError::Name { .. } => FieldPath::root().key("metadata").key("name"),
            };
            out.diagnostics.push(Diagnostic::error(
                &item.document.file,
                position_of(&item.document, &path).or_else(|| Some(item.document.file_position(1, 1))),
                None,
                format!("{}: {e}", item.resource.describe()),
            ));
            return;
        }
        Err(e) => {
            let message = match &e {
                ServiceObjectsError::Workload(e) => {
                    e.located(svc.spec.service.task_definition.as_deref().unwrap_or_default())
                }
                other => other.to_string(),
            };
            out.diagnostics.push(Diagnostic::error(
                &item.document.file,
                Some(item.document.file_position(1, 1)),
                None,
                format!("{}: {message}", item.resource.describe()),
            ));
            return;
        }
    };
    report(item, &objects.report, out);
    if let Some(blocked) = &objects.blocked {
        let field = FieldPath::root().key("spec").key("deploymentConfiguration");
        out.diagnostics.push(Diagnostic::warning(
            &item.document.file,
            position_of(&item.document, &field).or_else(|| Some(item.document.file_position(1, 1))),
            None,
            format!("{}: {blocked}", item.resource.describe()),
        ));
    }
    out.objects.push(match &objects.workload {
        Workload::Deployment(d) => to_value(&**d),
        Workload::DaemonSet(d) => to_value(&**d),
    });
    // After the workload: the Services and TargetGroupBindings that reach its tasks.
    out.objects.extend(objects.services.iter().map(to_value));
    out.objects
        .extend(objects.target_group_bindings.iter().map(to_value));
}

fn pod_template_object(name: &str, namespace: &str, template: &PodTemplateSpec) -> PodTemplate {
    PodTemplate {
        metadata: ObjectMeta {
            name: Some(format!("{name}-{OFFLINE_REVISION}")),
            namespace: Some(namespace.to_owned()),
            labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
            ..ObjectMeta::default()
        },
        template: Some(template.clone()),
    }
}

fn name_and_namespace(item: &Loaded, meta: &ObjectMeta, out: &mut Rendered) -> Option<(String, String)> {
    let Some(name) = meta.name.clone() else {
        out.diagnostics.push(located(item, "metadata.name: required"));
        return None;
    };
    Some((
        name,
        meta.namespace.clone().unwrap_or_else(|| "default".to_owned()),
    ))
}

fn located(item: &Loaded, message: &str) -> Diagnostic {
    Diagnostic::error(
        &item.document.file,
        Some(item.document.file_position(1, 1)),
        None,
        format!("{}: {message}", item.resource.describe()),
    )
}

fn report(item: &Loaded, report: &Report, out: &mut Rendered) {
    for note in &report.notes {
        let field = FieldPath::root().key("spec");
        let position = position_of(&item.document, &spec_path(&field, &note.field));
        out.diagnostics.push(Diagnostic::warning(
            &item.document.file,
            position,
            None,
            format!("{}: {note}", item.resource.describe()),
        ));
    }
}

/// `spec` + a note's field (`containerDefinitions[0].healthCheck`) as a path.
fn spec_path(spec: &FieldPath, field: &str) -> FieldPath {
    let mut path = spec.clone();
    for part in field.split('.') {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        path = path.key(key);
        for idx in rest.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse::<usize>() {
                path = path.index(i);
            }
        }
    }
    path
}

fn to_value<T: serde::Serialize>(obj: &T) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

/// Reads a nodes file: Node objects as multi-document YAML, a `List`/`NodeList`, or JSON.
///
/// # Errors
/// A diagnostic naming the file and the problem.
pub fn read_nodes(path: &std::path::Path) -> Result<Vec<k8s_openapi::api::core::v1::Node>, Diagnostic> {
    use k8s_openapi::api::core::v1::Node;
    let docs = read_documents(&[path.to_owned()])?;
    let mut nodes = Vec::new();
    for doc in &docs {
        let value = crate::manifest::parse_value(doc)?;
        let items = match value.get("items").and_then(Value::as_array) {
            Some(items) => items.clone(),
            None => vec![value],
        };
        for (i, item) in items.iter().enumerate() {
            let kind = item.get("kind").and_then(Value::as_str).unwrap_or("Node");
            if kind != "Node" {
                return Err(Diagnostic::error(
                    &doc.file,
                    Some(doc.file_position(1, 1)),
                    None,
                    format!("item {i} is a {kind}, expected Node (e.g. from `kubectl get nodes -o yaml`)"),
                ));
            }
            let base = FieldPath::root();
            nodes.push(crate::manifest::type_value::<Node>(doc, &base, item)?);
        }
    }
    Ok(nodes)
}
