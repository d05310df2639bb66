//! Loading ecs-bridge custom resources from manifest documents, strictly.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    api::{
        API_VERSION, CapacityProvider, ScheduledTask, Service, Task, TaskDefinition,
        autoscaling::AutoScaling,
        ecs::{CreateCapacityProvider, CreateService, EbPutRule, EbTarget, RegisterTaskDefinition, RunTask},
    },
    manifest::{Diagnostic, Document, FieldPath, check_kept, parse_value, type_value},
};

/// One ecs-bridge object read from a manifest.
#[derive(Debug, Clone)]
pub enum Resource {
    /// A task definition family.
    TaskDefinition(Box<TaskDefinition>),
    /// A service.
    Service(Box<Service>),
    /// A capacity provider.
    CapacityProvider(Box<CapacityProvider>),
    /// Standalone tasks.
    Task(Box<Task>),
    /// A scheduled task.
    ScheduledTask(Box<ScheduledTask>),
    /// A Namespace (an ECS cluster): its annotations give its capacity providers and default
    /// strategy.
    Namespace(Box<k8s_openapi::api::core::v1::Namespace>),
}

impl Resource {
    /// Its kind and metadata.
    #[must_use]
    pub fn kind_and_metadata(&self) -> (&'static str, &kube::api::ObjectMeta) {
        match self {
            Self::TaskDefinition(o) => ("TaskDefinition", &o.metadata),
            Self::Service(o) => ("Service", &o.metadata),
            Self::CapacityProvider(o) => ("CapacityProvider", &o.metadata),
            Self::Task(o) => ("Task", &o.metadata),
            Self::ScheduledTask(o) => ("ScheduledTask", &o.metadata),
            Self::Namespace(o) => ("Namespace", &o.metadata),
        }
    }

    /// `Kind namespace/name` (or `Kind name` when cluster-scoped), for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        let (kind, meta) = self.kind_and_metadata();
        let name = meta.name.as_deref().unwrap_or("");
        match &meta.namespace {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        }
    }
}

/// A resource and the document it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The object (namespace filled in with `default` for namespaced kinds that had none).
    pub resource: Resource,
    /// Where it was read.
    pub document: Document,
}

/// Reads the ecs-bridge objects among `docs`. Objects of other API groups are skipped with a
/// warning; fields our schema does not know are errors, as `kubectl apply` (strict field
/// validation) would make them.
#[must_use]
pub fn load(docs: &[Document]) -> (Vec<Loaded>, Vec<Diagnostic>) {
    let mut loaded = Vec::new();
    let mut diags = Vec::new();
    for doc in docs {
        let value = match parse_value(doc) {
            Ok(v) => v,
            Err(e) => {
                diags.push(e);
                continue;
            }
        };
        let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        if (api_version, kind) == ("v1", "Namespace") {
            // The ECS cluster: its capacity providers and default strategy.
            if let Some(ns) = typed(doc, &value, &mut diags) {
                loaded.push(Loaded {
                    resource: Resource::Namespace(Box::new(ns)),
                    document: doc.clone(),
                });
            }
            continue;
        }
        if api_version != API_VERSION {
            let msg = if api_version.starts_with("ecsbridge.io/") {
                Diagnostic::error(
                    &doc.file,
                    Some(doc.file_position(1, 1)),
                    Some(FieldPath::root().key("apiVersion")),
                    format!("unknown version {api_version:?}; this release serves {API_VERSION}"),
                )
            } else {
                Diagnostic::warning(
                    &doc.file,
                    Some(doc.file_position(1, 1)),
                    None,
                    format!("skipped: {kind} ({api_version:?}) is not an ecs-bridge kind"),
                )
            };
            diags.push(msg);
            continue;
        }
        let resource = match kind {
            "TaskDefinition" => typed(doc, &value, &mut diags).map(|o| Resource::TaskDefinition(Box::new(o))),
            "Service" => typed(doc, &value, &mut diags).map(|o| Resource::Service(Box::new(o))),
            "CapacityProvider" => {
                typed(doc, &value, &mut diags).map(|o| Resource::CapacityProvider(Box::new(o)))
            }
            "Task" => typed(doc, &value, &mut diags).map(|o| Resource::Task(Box::new(o))),
            "ScheduledTask" => typed(doc, &value, &mut diags).map(|o| Resource::ScheduledTask(Box::new(o))),
            other => {
                diags.push(Diagnostic::error(
                    &doc.file,
                    Some(doc.file_position(1, 1)),
                    Some(FieldPath::root().key("kind")),
                    format!(
                        "unknown kind {other:?}; ecsbridge.io kinds are TaskDefinition, Service, CapacityProvider, \
                         Task and ScheduledTask"
                    ),
                ));
                None
            }
        };
        if let Some(mut resource) = resource {
            default_namespace(&mut resource);
            loaded.push(Loaded {
                resource,
                document: doc.clone(),
            });
        }
    }
    (loaded, diags)
}

fn typed<T: DeserializeOwned + Serialize>(
    doc: &Document,
    value: &Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    let obj: T = match type_value(doc, &FieldPath::root(), value) {
        Ok(o) => o,
        Err(e) => {
            diags.push(refine_spec_error(doc, value, e));
            return None;
        }
    };
    let unknown = check_kept(doc, &FieldPath::root(), value, &obj, &|field| {
        Some(Diagnostic::error(
            &doc.file,
            None,
            Some(field.clone()),
            "unknown field: not part of the ECS request this kind takes (the API server would reject it); \
             check its spelling and casing",
        ))
    });
    let failed = !unknown.is_empty();
    diags.extend(unknown);
    (!failed).then_some(obj)
}

fn default_namespace(resource: &mut Resource) {
    let meta = match resource {
        Resource::TaskDefinition(o) => &mut o.metadata,
        Resource::Service(o) => &mut o.metadata,
        Resource::Task(o) => &mut o.metadata,
        Resource::ScheduledTask(o) => &mut o.metadata,
        Resource::CapacityProvider(_) | Resource::Namespace(_) => return,
    };
    meta.namespace.get_or_insert_with(|| "default".to_owned());
}

/// serde cannot follow a path into a `#[serde(flatten)]`ed struct, so an error inside a spec
/// (the ECS request, flattened) is reported at `spec`. Typing the spec's parts one by one finds
/// the field.
fn refine_spec_error(doc: &Document, value: &Value, error: Diagnostic) -> Diagnostic {
    let spec_path = FieldPath::root().key("spec");
    if error.field.as_ref() != Some(&spec_path) {
        return error;
    }
    let Some(spec) = value.get("spec").and_then(Value::as_object) else {
        return error;
    };
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    // (the flattened request, the spec keys that are not part of it and how to type them)
    let (request, extras): (Check, &[(&str, Check)]) = match kind {
        "TaskDefinition" => (check::<RegisterTaskDefinition>, &[]),
        "Service" => (check::<CreateService>, &[("autoScaling", check::<AutoScaling>)]),
        "CapacityProvider" => (
            check::<CreateCapacityProvider>,
            &[
                ("nodeSelector", check::<BTreeMap<String, String>>),
                ("tolerations", check::<Vec<Toleration>>),
            ],
        ),
        "Task" => (check::<RunTask>, &[]),
        "ScheduledTask" => (
            check::<EbPutRule>,
            &[
                ("ScheduleExpressionTimezone", check::<String>),
                ("Targets", check::<Vec<EbTarget>>),
            ],
        ),
        _ => return error,
    };
    let mut rest = spec.clone();
    for (key, check_extra) in extras {
        if let Some(v) = rest.remove(*key)
            && let Some(found) = check_extra(doc, &spec_path.key(key), &v)
        {
            return found;
        }
    }
    request(doc, &spec_path, &Value::Object(rest)).unwrap_or(error)
}

/// Types a value found at a path of a document, returning the error if it does not fit.
type Check = fn(&Document, &FieldPath, &Value) -> Option<Diagnostic>;

fn check<T: DeserializeOwned>(doc: &Document, base: &FieldPath, value: &Value) -> Option<Diagnostic> {
    type_value::<T>(doc, base, value).err()
}
