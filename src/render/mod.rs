//! `ecs-bridge render`: custom resources in, the Kubernetes objects the operator would create
//! out, offline (like `helm template`).
//!
//! References among the given manifests are resolved (a Service's `taskDefinition` names a
//! TaskDefinition in the same namespace). Each TaskDefinition is rendered as its first revision.
//! A Service renders as its workload followed by its networking objects (Services and
//! TargetGroupBindings), made by [`service_objects_of_pod`] from the TaskDefinition's one
//! translation: the assembly the Service controller applies
//! ([`crate::translate::service::service_objects`]).
//! A Task renders as the pods of its tasks ([`crate::translate::task::task_pods`], as the Task
//! controller creates them).
//! Objects carry no owner references (they need the owner's uid, which only the API server
//! assigns); the operator adds them when it applies the objects.

mod load;
mod providers;
mod scheduled_tasks;
mod tasks;

use std::{collections::BTreeMap, path::PathBuf};

use k8s_openapi::{
    api::core::v1::{Node, PodTemplate, PodTemplateSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
    jiff::Timestamp,
};
use serde_json::Value;

pub use load::{Loaded, Resource, load};

use crate::{
    api::Service,
    manifest::{Diagnostic, FieldPath, position_of, read_documents},
    translate::{
        Options, Report, autoscaling,
        capacity::{cluster::resolve, provider::Provider},
        networking::NetworkError,
        pod::{PodTranslation, pod_template_with},
        reference::TaskDefinitionRef,
        service::{
            ServiceInput, ServiceObjectsError, TaskDefinitionRevision, Workload, service_objects_of_pod,
            workload::Strategy,
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
/// placing against `nodes` when given (`--nodes`), at `now` (auto scaling's targets are
/// registered then).
#[must_use]
pub fn render_paths(
    paths: &[PathBuf],
    options: &Options,
    nodes: Option<&[Node]>,
    now: Timestamp,
) -> Rendered {
    match read_documents(paths) {
        Ok(docs) => {
            let (loaded, mut diagnostics) = load(&docs);
            let mut rendered = render(&loaded, options, nodes, now);
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
    /// Its document (placement errors of its fields are placed there).
    item: &'a Loaded,
    object: String,
    spec: &'a crate::api::ecs::RegisterTaskDefinition,
    pod: PodTranslation,
}

/// Renders loaded resources for an installation with `options`, placing against `nodes` when
/// given, at `now`.
#[must_use]
pub fn render(loaded: &[Loaded], options: &Options, nodes: Option<&[Node]>, now: Timestamp) -> Rendered {
    let mut out = Rendered::default();
    // The task definitions that rendered, and (namespace, family) → the index of one: a family
    // is known by spec.family or metadata.name.
    let mut rendered: Vec<RenderedTaskDefinition<'_>> = Vec::new();
    let mut families: BTreeMap<(String, String), usize> = BTreeMap::new();
    // The (namespace, family) of task definitions that did not render: their error is told.
    let mut failed: std::collections::BTreeSet<(String, String)> = std::collections::BTreeSet::new();
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
                        item,
                        object: name,
                        spec,
                        pod: t,
                    });
                }
                Err(e) => {
                    let message = e.to_string();
                    out.diagnostics.push(at_field(item, &message, &message));
                    let family = spec.family.clone().unwrap_or_else(|| name.clone());
                    for key in [family, name.clone()] {
                        failed.insert((ns.clone(), key));
                    }
                }
            }
        }
    }
    let providers = providers::capacity_providers(loaded, options, &mut out);
    let clusters = providers::clusters(loaded, &mut out);
    for item in loaded {
        match &item.resource {
            Resource::TaskDefinition(_) | Resource::CapacityProvider(_) | Resource::Namespace(_) => {}
            Resource::Service(_) | Resource::Task(_) | Resource::ScheduledTask(_) => {
                let td = |key: &(String, String)| families.get(key).map(|i| &rendered[*i]);
                // The cluster (Namespace) the object is in: its providers and default strategy.
                let (_, meta) = item.resource.kind_and_metadata();
                let cluster = meta
                    .namespace
                    .as_ref()
                    .and_then(|ns| clusters.get(ns))
                    .cloned()
                    .unwrap_or_default();
                let on = providers::Capacity {
                    providers: &providers,
                    cluster: &cluster,
                    nodes,
                };
                match &item.resource {
                    Resource::Service(svc) => {
                        render_service(item, svc, td, &failed, &on, options, now, &mut out)
                    }
                    Resource::Task(task) => {
                        tasks::render_task(item, task, td, &failed, &on, options, &mut out)
                    }
                    Resource::ScheduledTask(st) => scheduled_tasks::render_scheduled_task(
                        item, st, td, &failed, &on, options, now, &mut out,
                    ),
                    _ => {}
                }
            }
        }
    }
    // Managed scaling's headroom of the providers given, for the tasks rendered on them.
    for item in loaded {
        if let Resource::CapacityProvider(cp) = &item.resource
            && let Some(headroom) = providers::headroom_of(cp, &out.objects)
        {
            out.objects.push(to_value(&headroom));
        }
    }
    out
}

/// The namespace `render` puts placeholder pods in: the chart's default release namespace (the
/// operator puts them in its own).
pub const HEADROOM_NAMESPACE: &str = "ecs-bridge-system";

/// Renders `svc` (the document `item`), running the task definitions `families` finds by
/// (namespace, family), on `capacity`, at `now`.
#[allow(clippy::too_many_arguments)]
fn render_service<'a>(
    item: &Loaded,
    svc: &Service,
    families: impl Fn(&(String, String)) -> Option<&'a RenderedTaskDefinition<'a>>,
    failed: &std::collections::BTreeSet<(String, String)>,
    capacity: &providers::Capacity<'_>,
    options: &Options,
    now: Timestamp,
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
    let Some((reference, td)) = task_definition_of(item, &ns, reference, &families, failed, out) else {
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
    let lookup = |name: &str| {
        capacity
            .providers
            .iter()
            .find(|p| p.ecs_name() == name)
            .map(|p| (Provider::of(p), true))
    };
    let strategy = match resolve(&svc.spec, None, capacity.cluster, lookup) {
        Ok(strategy) => strategy,
        Err(e) => {
            let message = e.in_service();
            out.diagnostics.push(at_field(item, &message, &message));
            return;
        }
    };
    // Auto scaling as just registered (no status to go on from, no deployment in progress), with
    // KEDA when `--keda true` says it is installed.
    let keda = options.keda_settings();
    let state = autoscaling::State {
        recorded: None,
        deploying: false,
        hpa: None,
        keda: options.keda.unwrap_or(false).then_some(&keda),
        external_metrics: options.external_metrics.unwrap_or(false),
        now,
    };
    let scaling = match autoscaling::service_scaling(&name, &ns, &svc.spec, td.spec, &state) {
        Ok(scaling) => scaling,
        Err(e) => {
            let message = e.to_string();
            out.diagnostics.push(at_field(item, &message, &message));
            return;
        }
    };
    let input = ServiceInput {
        name: &name,
        namespace: &ns,
        spec: &svc.spec,
        task_definition: TaskDefinitionRevision {
            object: &td.object,
            spec: td.spec,
            revision: OFFLINE_REVISION,
        },
        nodes: capacity.nodes,
        strategy: strategy.as_ref().map(|s| Strategy {
            field: &s.field,
            providers: &s.providers,
        }),
        scaling: scaling.as_ref(),
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
            let (message, field, document) = match &e {
                ServiceObjectsError::Workload(w) => {
                    let message = w.located(svc.spec.service.task_definition.as_deref().unwrap_or_default());
                    // A placement error in the task definition's fields is placed in its file.
                    let in_td = matches!(w, crate::translate::service::ServiceError::Placement(p) if p.in_task_definition);
                    let field = format!("spec.{}", w.field());
                    (message, field, if in_td { td.item } else { item })
                }
                other => {
                    let message = other.to_string();
                    (message.clone(), message, item)
                }
            };
            let mut diagnostic = at_field(document, &field, &message);
            if !std::ptr::eq(document, item) {
                diagnostic.message = format!(
                    "{} (for {}): {message}",
                    document.resource.describe(),
                    item.resource.describe()
                );
            }
            out.diagnostics.push(diagnostic);
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
    match &objects.workload {
        Workload::Deployments(ds) => out.objects.extend(ds.iter().map(to_value)),
        Workload::DaemonSet(d) => out.objects.push(to_value(&**d)),
    }
    // After the workload: the Services and TargetGroupBindings that reach its tasks.
    out.objects.extend(objects.services.iter().map(to_value));
    out.objects
        .extend(objects.target_group_bindings.iter().map(to_value));
    // Then the HPA that scales the Service, or KEDA's ScaledObject.
    out.objects.extend(objects.hpa.iter().map(to_value));
    out.objects.extend(objects.scaled_object.iter().map(to_value));
    if let Some(unserved) = objects.unserved_scaling.as_deref() {
        let field = FieldPath::root().key("spec").key("autoScaling");
        out.diagnostics.push(Diagnostic::warning(
            &item.document.file,
            position_of(&item.document, &field).or_else(|| Some(item.document.file_position(1, 1))),
            None,
            format!(
                "{}: {unserved} (render with --keda true or --external-metrics true for a cluster that has one)",
                item.resource.describe()
            ),
        ));
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

/// The task definition among the rendered ones that `reference` (the `spec.taskDefinition` of
/// `item`, in `ns`) names, and the parsed reference; `None`, told in `out`, when it does not
/// parse, is not among the manifests, or did not render (its own error is told where it is).
fn task_definition_of<'a>(
    item: &Loaded,
    ns: &str,
    reference: &str,
    families: impl Fn(&(String, String)) -> Option<&'a RenderedTaskDefinition<'a>>,
    failed: &std::collections::BTreeSet<(String, String)>,
    out: &mut Rendered,
) -> Option<(TaskDefinitionRef, &'a RenderedTaskDefinition<'a>)> {
    let field = FieldPath::root().key("spec").key("taskDefinition");
    let position = position_of(&item.document, &field);
    let reference = match TaskDefinitionRef::parse(reference) {
        Ok(r) => r,
        Err(e) => {
            out.diagnostics
                .push(Diagnostic::error(&item.document.file, position, Some(field), e));
            return None;
        }
    };
    let key = (ns.to_owned(), reference.family.clone());
    if failed.contains(&key) {
        out.diagnostics.push(Diagnostic::warning(
            &item.document.file,
            position,
            Some(field),
            format!(
                "not rendered: its task definition {:?} has an error (above)",
                reference.family
            ),
        ));
        return None;
    }
    let Some(td) = families(&key) else {
        out.diagnostics.push(Diagnostic::error(
            &item.document.file,
            position,
            Some(field),
            format!(
                "task definition {:?} not found among the given manifests in namespace {ns:?}; pass its file too",
                reference.family
            ),
        ));
        return None;
    };
    Some((reference, td))
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

/// An error about `item`, placed at the field `field` names (`spec.<path>[: ...]`, `, at
/// character N` and what follows left out), else at the document's start.
fn at_field(item: &Loaded, field: &str, message: &str) -> Diagnostic {
    let path = field.strip_prefix("spec.").map(|rest| {
        let end = rest.find([':', ' ', ',']).unwrap_or(rest.len());
        spec_path(&FieldPath::root().key("spec"), &rest[..end])
    });
    let position = path
        .and_then(|p| position_of(&item.document, &p))
        .unwrap_or_else(|| item.document.file_position(1, 1));
    Diagnostic::error(
        &item.document.file,
        Some(position),
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
