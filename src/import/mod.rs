//! `ecs-bridge import`: ECS JSON as the AWS CLI gives it → our custom resources.
//!
//! Accepted inputs: RegisterTaskDefinition input (`--cli-input-json`), describe-task-definition
//! output (wrapped in `taskDefinition` or not), CreateService input, describe-services /
//! create-service output, CreateCapacityProvider input, describe-capacity-providers /
//! create-capacity-provider output, and PutClusterCapacityProviders or CreateCluster input and
//! describe-clusters output (the cluster's Namespace, [`capacity`]), and RunTask input and
//! describe-tasks output (Tasks, [`tasks`]). A document of another shape is refused, saying
//! what it looks like and which shapes are taken. Read-only fields of describe outputs (listed below) are dropped; any
//! other field our types do not know is dropped with a warning that names it; a value of the
//! wrong type is an error with its position.

pub mod capacity;
pub mod schedules;
mod shape;
pub mod tasks;

use std::path::Path;

use kube::api::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

pub use shape::Shape;

use crate::{
    api::{
        CapacityProvider, Service, ServiceSpec, TaskDefinition, TaskDefinitionSpec,
        ecs::{CreateService, RegisterTaskDefinition, Tag},
    },
    manifest::{
        Diagnostic, Document, FieldPath, check_kept, parse_typed, parse_value, position_of, type_value,
    },
    names::object_name,
};

/// Fields of describe-task-definition output that ECS computes: not part of the request.
pub const TASK_DEFINITION_READ_ONLY: &[&str] = &[
    "compatibilities",
    "deleteRequestedAt",
    "deregisteredAt",
    "registeredAt",
    "registeredBy",
    "requiresAttributes",
    "revision",
    "status",
    "taskDefinitionArn",
];

/// Fields of describe-services output that ECS computes: not part of the request. (`roleArn`
/// is not here: it is the request's `role`, and is imported as such.)
pub const SERVICE_READ_ONLY: &[&str] = &[
    "clusterArn",
    "createdAt",
    "createdBy",
    "currentServiceDeployment",
    "currentServiceRevisions",
    "deployments",
    "events",
    "pendingCount",
    "platformFamily",
    "resourceManagementType",
    "runningCount",
    "serviceArn",
    "status",
    "taskSets",
];

/// Options of `ecs-bridge import`.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Namespace to put in each object's metadata (the ECS cluster); none when absent.
    pub namespace: Option<String>,
    /// Keep a service's `taskDefinition` as written when it pins a revision (`family:N`, or an
    /// ARN with one). By default it becomes the family, with a warning: revision N is the source
    /// account's, and the cluster numbers a family's revisions from 1 as they are applied there.
    pub keep_task_definition_revisions: bool,
}

/// One imported object.
#[derive(Debug, Clone)]
pub enum Imported {
    /// A task definition family.
    TaskDefinition(Box<TaskDefinition>),
    /// A service.
    Service(Box<Service>),
    /// A capacity provider (cluster-scoped).
    CapacityProvider(Box<CapacityProvider>),
    /// The ECS cluster's Namespace, with its capacity providers and default strategy.
    Namespace(Box<k8s_openapi::api::core::v1::Namespace>),
    /// A standalone task request.
    Task(Box<crate::api::Task>),
    /// A scheduled rule (EventBridge, Scheduler or ecschedule).
    ScheduledTask(Box<crate::api::ScheduledTask>),
    /// The targets of a rule given in another file, until [`schedules::merge`] puts them in it
    /// (never printed).
    RuleTargets(Box<schedules::RuleTargets>),
}

impl Imported {
    /// The object as YAML (one document, without the `---` separator).
    ///
    /// # Errors
    /// When serialisation fails (a bug).
    pub fn to_yaml(&self) -> Result<String, serde_yaml_ng::Error> {
        match self {
            Self::TaskDefinition(td) => crate::yaml::to_string(td),
            Self::Service(svc) => crate::yaml::to_string(svc),
            Self::CapacityProvider(cp) => crate::yaml::to_string(cp),
            Self::Namespace(ns) => crate::yaml::to_string(ns),
            Self::Task(task) => crate::yaml::to_string(task),
            Self::ScheduledTask(st) => crate::yaml::to_string(st),
            Self::RuleTargets(t) => crate::yaml::to_string(&t.targets),
        }
    }
}

/// The outcome of importing one file: objects, plus warnings and errors.
#[derive(Debug, Default)]
pub struct ImportResult {
    /// The custom resources made from the file.
    pub objects: Vec<Imported>,
    /// Everything worth telling the user; any error means the file did not import.
    pub diagnostics: Vec<Diagnostic>,
}

/// Imports one ECS JSON file.
#[must_use]
pub fn import_file(path: &Path, options: &ImportOptions) -> ImportResult {
    match std::fs::read_to_string(path) {
        Ok(text) => import_text(path, &text, options),
        Err(e) => ImportResult {
            objects: Vec::new(),
            diagnostics: vec![Diagnostic::error(path, None, None, format!("cannot read: {e}"))],
        },
    }
}

/// Imports `paths`, each file's result beside it, with the rules and their targets given in
/// separate files put together ([`schedules::merge`]).
#[must_use]
pub fn import_files(
    paths: &[std::path::PathBuf],
    options: &ImportOptions,
) -> Vec<(std::path::PathBuf, ImportResult)> {
    let mut results: Vec<_> = paths
        .iter()
        .map(|p| (p.clone(), import_file(p, options)))
        .collect();
    schedules::merge(&mut results);
    results
}

/// Imports ECS JSON given as text (`path` is used for messages and default names).
#[must_use]
pub fn import_text(path: &Path, text: &str, options: &ImportOptions) -> ImportResult {
    // Parsed as JSON whatever the file is called (that is what the AWS CLI writes), but for
    // YAML files (ecschedule's configurations).
    let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    let json_doc = Document {
        file: if yaml {
            path.to_owned()
        } else {
            path.with_extension("json")
        },
        first_line: 1,
        text: text.to_owned(),
    };
    let mut result = ImportResult::default();
    let value = match parse_value(&json_doc) {
        Ok(v) => v,
        // (An ecschedule configuration with template expressions is no YAML until filled in.)
        Err(_) if yaml && let Some(d) = schedules::templated(path, text) => {
            result.diagnostics.push(d);
            return result;
        }
        Err(mut e) => {
            e.file = path.to_owned();
            result.diagnostics.push(e);
            return result;
        }
    };
    let shape = match Shape::detect(&value) {
        Ok(s) => s,
        Err(msg) => {
            result
                .diagnostics
                .push(Diagnostic::error(path, Some((1, 1)), None, msg));
            return result;
        }
    };
    let ctx = Ctx {
        doc: &json_doc,
        path,
        options,
    };
    match shape {
        Shape::TaskDefinition { wrapped } => ctx.task_definition(&value, wrapped, &mut result),
        Shape::CreateService => ctx.service(&FieldPath::root(), &value, &mut result),
        Shape::DescribeServices => {
            #[derive(Deserialize)]
            struct Described {
                services: Vec<Value>,
            }
            // Type the outer shape first so a wrong `services` is reported with its position.
            match parse_typed::<Described>(&json_doc) {
                Ok(d) => {
                    for (i, svc) in d.services.iter().enumerate() {
                        ctx.service(&FieldPath::root().key("services").index(i), svc, &mut result);
                    }
                }
                Err(e) => result.diagnostics.push(e),
            }
        }
        Shape::CreateServiceOutput => {
            ctx.service(&FieldPath::root().key("service"), &value["service"], &mut result)
        }
        Shape::CreateCapacityProvider => ctx.capacity_provider(&FieldPath::root(), &value, &mut result),
        Shape::CreateCapacityProviderOutput => ctx.capacity_provider(
            &FieldPath::root().key("capacityProvider"),
            &value["capacityProvider"],
            &mut result,
        ),
        Shape::DescribeCapacityProviders => ctx.described_capacity_providers(&value, &mut result),
        Shape::PutClusterCapacityProviders => ctx.cluster_capacity(&FieldPath::root(), &value, &mut result),
        Shape::DescribeClusters => ctx.described_clusters(&value, &mut result),
        Shape::RunTask => ctx.run_task(&FieldPath::root(), &value, None, &mut result),
        Shape::DescribeTasks => ctx.described_tasks(&value, &mut result),
        Shape::PutRule | Shape::CreateSchedule => ctx.scheduled_task(&FieldPath::root(), &value, &mut result),
        Shape::PutTargets => ctx.rule_targets(&value, &mut result),
        Shape::Ecschedule => match schedules::templated(path, text) {
            Some(d) => result.diagnostics.push(d),
            None => ctx.ecschedule(&value, &mut result),
        },
    }
    for d in &mut result.diagnostics {
        d.file = path.to_owned();
    }
    result
}

struct Ctx<'a> {
    doc: &'a Document,
    path: &'a Path,
    options: &'a ImportOptions,
}

impl Ctx<'_> {
    fn task_definition(&self, value: &Value, wrapped: bool, result: &mut ImportResult) {
        let base = if wrapped {
            FieldPath::root().key("taskDefinition")
        } else {
            FieldPath::root()
        };
        let mut request = if wrapped {
            value["taskDefinition"].clone()
        } else {
            value.clone()
        };
        strip(&mut request, TASK_DEFINITION_READ_ONLY);
        if request.get("networkMode").and_then(Value::as_str) == Some("default") {
            // Seen in published examples; ECS's values are bridge, host, awsvpc and none, and
            // leaving the field out means the platform default, which is what was meant.
            let field = base.key("networkMode");
            result.diagnostics.push(Diagnostic::warning(
                self.path,
                position_of(self.doc, &field),
                Some(field),
                "\"default\" is not an ECS network mode (bridge, host, awsvpc, none); left out, which \
                 selects the platform default (bridge on Linux, NAT on Windows)",
            ));
            strip(&mut request, &["networkMode"]);
        }
        let spec: RegisterTaskDefinition = match self.typed_at(&base, &request) {
            Ok(s) => s,
            Err(e) => return result.diagnostics.push(e),
        };
        let mut spec = spec;
        // describe-task-definition puts the tags beside the task definition, not in it.
        if wrapped && let Some(tags) = value.get("tags").filter(|t| !t.is_null()) {
            match serde_json::from_value::<Vec<Tag>>(tags.clone()) {
                Ok(typed) => {
                    spec.tags = Some(typed);
                    request["tags"] = tags.clone();
                }
                Err(e) => {
                    let field = FieldPath::root().key("tags");
                    result.diagnostics.push(Diagnostic::error(
                        self.path,
                        position_of(self.doc, &field),
                        Some(field),
                        e.to_string(),
                    ));
                    return;
                }
            }
        }
        if !self.kept(&base, &request, &spec, "RegisterTaskDefinition", result) {
            return;
        }
        let Some(name) = self.name_from(spec.family.as_deref(), &base.key("family"), result) else {
            return;
        };
        let td = TaskDefinition {
            metadata: self.metadata(name),
            spec: TaskDefinitionSpec {
                task_definition: spec,
            },
            status: None,
        };
        result.objects.push(Imported::TaskDefinition(Box::new(td)));
    }

    fn service(&self, base: &FieldPath, value: &Value, result: &mut ImportResult) {
        let mut request = value.clone();
        strip(&mut request, SERVICE_READ_ONLY);
        let mut spec: CreateService = match self.typed_at(base, &request) {
            Ok(s) => s,
            Err(e) => return result.diagnostics.push(e),
        };
        // describe-services reports the request's `role` as `roleArn`.
        if let Some(Value::String(role)) = request.as_object_mut().and_then(|o| o.remove("roleArn")) {
            if spec.role.is_none() {
                spec.role = Some(role.clone());
            }
            request["role"] = Value::String(role);
        }
        if !self.kept(base, &request, &spec, "CreateService", result) {
            return;
        }
        if !self.options.keep_task_definition_revisions {
            self.unpin(base, &mut spec, result);
        }
        let stem = self
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("service");
        let name = match spec.service_name.as_deref() {
            Some(n) => self.name_from(Some(n), &base.key("serviceName"), result),
            None => self.name_from(Some(stem), &base.key("serviceName"), result),
        };
        let Some(name) = name else { return };
        let svc = Service {
            metadata: self.metadata(name),
            spec: ServiceSpec {
                service: spec,
                auto_scaling: None,
            },
            status: None,
        };
        result.objects.push(Imported::Service(Box::new(svc)));
    }

    /// Rewrites `spec.taskDefinition` to its family when it pins a revision ([`Self::unpinned`]).
    fn unpin(&self, base: &FieldPath, spec: &mut CreateService, result: &mut ImportResult) {
        if let Some(family) = spec
            .task_definition
            .as_deref()
            .and_then(|value| self.unpinned(base, value, result))
        {
            spec.task_definition = Some(family);
        }
    }

    /// The family of `value` (the `taskDefinition` at `base`) when it pins a revision, with a
    /// warning: the source account's revision N will not exist in the cluster (or, worse, be
    /// another spec). `None` when it pins none.
    fn unpinned(&self, base: &FieldPath, value: &str, result: &mut ImportResult) -> Option<String> {
        let reference = crate::translate::reference::TaskDefinitionRef::parse(value).ok()?;
        let revision = reference.revision?;
        let field = base.key("taskDefinition");
        result.diagnostics.push(Diagnostic::warning(
            self.path,
            position_of(self.doc, &field),
            Some(field),
            format!(
                "{value:?} pins revision {revision}, which is the source account's: in the cluster \
                 the family's revisions are numbered as its TaskDefinition is applied, so {}:{revision} \
                 will not exist (or be another spec); rewritten to the family {:?}, which runs its \
                 latest registered revision (--keep-task-definition-revisions keeps it as written)",
                reference.family, reference.family
            ),
        ));
        Some(reference.family)
    }

    /// Types `value`, the part of the document at `base`.
    fn typed_at<T: serde::de::DeserializeOwned>(
        &self,
        base: &FieldPath,
        value: &Value,
    ) -> Result<T, Diagnostic> {
        type_value(self.doc, base, value)
    }

    /// Reports what typing dropped or changed; false when that includes an error.
    fn kept<T: serde::Serialize>(
        &self,
        base: &FieldPath,
        written: &Value,
        typed: &T,
        request: &str,
        result: &mut ImportResult,
    ) -> bool {
        let diags = check_kept(self.doc, base, written, typed, &|p| {
            Some(self.unknown(p, request))
        });
        let ok = !diags.iter().any(Diagnostic::is_error);
        result.diagnostics.extend(diags);
        ok
    }

    fn unknown(&self, field: &FieldPath, request: &str) -> Diagnostic {
        Diagnostic::warning(
            self.path,
            None,
            Some(field.clone()),
            format!("not a field of ECS's {request} request (botocore model); dropped"),
        )
    }

    fn name_from(
        &self,
        ecs_name: Option<&str>,
        field: &FieldPath,
        result: &mut ImportResult,
    ) -> Option<String> {
        let name = ecs_name.and_then(object_name);
        if name.is_none() {
            result.diagnostics.push(Diagnostic::error(
                self.path,
                position_of(self.doc, field),
                Some(field.clone()),
                "no usable name: give a name made of letters, digits, '-' or '_'",
            ));
        }
        name
    }

    fn metadata(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: self.options.namespace.clone(),
            ..ObjectMeta::default()
        }
    }
}

fn strip(value: &mut Value, fields: &[&str]) {
    if let Some(o) = value.as_object_mut() {
        for f in fields {
            o.remove(*f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service_of(text: &str, options: &ImportOptions) -> (Option<String>, Vec<Diagnostic>) {
        let result = import_text(Path::new("svc.json"), text, options);
        let td = result.objects.iter().find_map(|o| match o {
            Imported::Service(svc) => Some(svc.spec.service.task_definition.clone()),
            _ => None,
        });
        (td.flatten(), result.diagnostics)
    }

    #[test]
    fn a_pinned_source_revision_becomes_the_family_unless_kept() {
        let text = "{\n  \"serviceName\": \"redash\",\n  \"taskDefinition\": \
                    \"arn:aws:ecs:us-east-1:111122223333:task-definition/dev-redash-server:75\"\n}\n";
        let (td, diagnostics) = service_of(text, &ImportOptions::default());
        assert_eq!(td.as_deref(), Some("dev-redash-server"));
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let warning = diagnostics[0].to_string();
        assert!(!diagnostics[0].is_error());
        assert!(warning.contains("svc.json:3:"), "{warning}");
        assert!(warning.contains("taskDefinition"), "{warning}");
        assert!(warning.contains("pins revision 75"), "{warning}");
        assert!(warning.contains("--keep-task-definition-revisions"), "{warning}");

        let keep = ImportOptions {
            keep_task_definition_revisions: true,
            ..ImportOptions::default()
        };
        let (td, diagnostics) = service_of(text, &keep);
        assert_eq!(
            td.as_deref(),
            Some("arn:aws:ecs:us-east-1:111122223333:task-definition/dev-redash-server:75")
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");

        let (td, diagnostics) = service_of(
            "{\"serviceName\": \"web\", \"taskDefinition\": \"web\"}",
            &ImportOptions::default(),
        );
        assert_eq!(td.as_deref(), Some("web"));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }
}
