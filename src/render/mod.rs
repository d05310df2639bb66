//! `ecs-bridge render`: custom resources in, the Kubernetes objects the operator would create
//! out, offline (like `helm template`).
//!
//! References among the given manifests are resolved (a Service's `taskDefinition` names a
//! TaskDefinition in the same namespace). Each TaskDefinition is rendered as its first revision.
//! A Service renders as its workload followed by its networking objects (Services and
//! TargetGroupBindings, [`crate::translate::networking`]).
//! Objects carry no owner references (they need the owner's uid, which only the API server
//! assigns); the operator adds them when it applies the objects.

mod load;

use std::{collections::BTreeMap, path::PathBuf};

use k8s_openapi::{
    api::core::v1::{PodTemplate, PodTemplateSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use serde_json::Value;

pub use load::{Loaded, Resource, load};

use crate::{
    api::Service,
    manifest::{Diagnostic, FieldPath, position_of, read_documents},
    translate::{
        Report,
        networking::{NetworkError, network_objects},
        pod::{PodOptions, pod_template_with},
        reference::TaskDefinitionRef,
        service::{ServiceContext, Workload, workload},
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

/// Choices of the operator's installation that change what is rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Whether External Secrets is installed (the operator's `--external-secrets`): AWS
    /// secrets become ExternalSecrets; without it, references to Secrets you create.
    pub external_secrets: bool,
    /// Whether `environmentFiles` load from ConfigMaps (the operator's
    /// `--environment-files-as-config-maps`).
    pub environment_files_as_config_maps: bool,
    /// The nodes placement is compiled against (`--nodes`).
    pub nodes: Option<Vec<k8s_openapi::api::core::v1::Node>>,
    /// Whether the ecs-bridge scheduler (binpack profiles) is installed.
    pub binpack_scheduler: bool,
    /// The label prefix of custom ECS attributes (the operator's `--attribute-prefix`).
    pub attribute_prefix: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            external_secrets: true,
            environment_files_as_config_maps: false,
            nodes: None,
            binpack_scheduler: false,
            attribute_prefix: crate::translate::placement::attributes::DEFAULT_PREFIX.to_owned(),
        }
    }
}

/// Renders the manifests in `paths` (files or directories).
#[must_use]
pub fn render_paths(paths: &[PathBuf], options: &RenderOptions) -> Rendered {
    match read_documents(paths) {
        Ok(docs) => {
            let (loaded, mut diagnostics) = load(&docs);
            let mut rendered = render(&loaded, options);
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

/// A task definition rendered offline, for services to use.
struct RenderedTaskDefinition {
    template: PodTemplateSpec,
    spec: crate::api::ecs::RegisterTaskDefinition,
}

/// Renders loaded resources.
#[must_use]
pub fn render(loaded: &[Loaded], options: &RenderOptions) -> Rendered {
    let mut out = Rendered::default();
    // (namespace, family) → pod template; a family is known by spec.family or metadata.name.
    let mut families: BTreeMap<(String, String), RenderedTaskDefinition> = BTreeMap::new();
    for item in loaded {
        if let Resource::TaskDefinition(td) = &item.resource
            && let Some((name, ns)) = name_and_namespace(item, &td.metadata, &mut out)
        {
            let spec = &td.spec.task_definition;
            let pod_options = PodOptions {
                external_secrets: options.external_secrets,
                namespace: Some(ns.clone()),
                environment_files_as_config_maps: options.environment_files_as_config_maps,
                attribute_prefix: options.attribute_prefix.clone(),
            };
            match pod_template_with(&name, spec, OFFLINE_REVISION, &pod_options) {
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
                        families.insert(
                            (ns.clone(), key),
                            RenderedTaskDefinition {
                                template: t.template.clone(),
                                spec: spec.clone(),
                            },
                        );
                    }
                }
                Err(e) => out.diagnostics.push(located(item, &e.to_string())),
            }
        }
    }
    for item in loaded {
        match &item.resource {
            Resource::TaskDefinition(_) => {}
            Resource::Service(svc) => render_service(item, svc, &families, options, &mut out),
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

fn render_service(
    item: &Loaded,
    svc: &Service,
    families: &BTreeMap<(String, String), RenderedTaskDefinition>,
    options: &RenderOptions,
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
    let Some(td) = families.get(&(ns.clone(), reference.family.clone())) else {
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
    let ctx = ServiceContext {
        task_definition: Some(&td.spec),
        nodes: options.nodes.as_deref(),
        binpack_scheduler: options.binpack_scheduler,
        attribute_prefix: &options.attribute_prefix,
        // (Offline, the number of nodes a daemon runs on is not known.)
        daemon_tasks: None,
    };
    let t = match workload(&name, &ns, &svc.spec, &td.template, &ctx) {
        Ok(t) => t,
        Err(e) => {
            let td = svc.spec.service.task_definition.as_deref().unwrap_or_default();
            out.diagnostics.push(Diagnostic::error(
                &item.document.file,
                Some(item.document.file_position(1, 1)),
                None,
                format!("{}: {}", item.resource.describe(), e.located(td)),
            ));
            return;
        }
    };
    report(item, &t.report, out);
    if let Some(blocked) = &t.blocked {
        let field = FieldPath::root().key("spec").key("deploymentConfiguration");
        out.diagnostics.push(Diagnostic::warning(
            &item.document.file,
            position_of(&item.document, &field).or_else(|| Some(item.document.file_position(1, 1))),
            None,
            format!("{}: {blocked}", item.resource.describe()),
        ));
    }
    out.objects.push(match t.workload {
        Workload::Deployment(d) => to_value(&*d),
        Workload::DaemonSet(d) => to_value(&*d),
    });
    // After the workload: the Services and TargetGroupBindings that reach its tasks.
    match network_objects(&name, &ns, &svc.spec, &td.spec, &td.template) {
        Ok(n) => {
            report(item, &n.report, out);
            out.objects.extend(n.services.iter().map(to_value));
            out.objects.extend(n.target_group_bindings.iter().map(to_value));
        }
        Err(e) => {
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
        }
    }
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
