//! Standalone tasks, imported: RunTask input (`aws ecs run-task --cli-input-json`) becomes a
//! Task with that request; each task of describe-tasks output becomes a Task that runs it again
//! (one task: its task definition, overrides, group, `startedBy`, launch type or capacity
//! provider, platform version, tags), the rest of a described task (its state, times,
//! containers) dropped as what ECS computes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, ImportResult, Imported, strip};
use crate::{
    api::{Task, TaskSpec, ecs::RunTask},
    manifest::FieldPath,
    translate::reference::TaskDefinitionRef,
};

/// Fields of a described task that ECS computes, or that its task definition already says: not
/// part of a RunTask request.
pub const TASK_READ_ONLY: &[&str] = &[
    "attachments",
    "attributes",
    "availabilityZone",
    "clusterArn",
    "connectivity",
    "connectivityAt",
    "containerInstanceArn",
    "containers",
    "cpu",
    "createdAt",
    "desiredStatus",
    "ephemeralStorage",
    "executionStoppedAt",
    "fargateEphemeralStorage",
    "healthStatus",
    "inferenceAccelerators",
    "lastStatus",
    "memory",
    "platformFamily",
    "pullStartedAt",
    "pullStoppedAt",
    "startedAt",
    "stopCode",
    "stoppedAt",
    "stoppedReason",
    "stoppingAt",
    "taskArn",
    "version",
];

impl Ctx<'_> {
    /// The RunTask request at `base` (`name`: the Task's name, when known).
    pub(super) fn run_task(
        &self,
        base: &FieldPath,
        value: &Value,
        name: Option<&str>,
        result: &mut ImportResult,
    ) {
        let mut spec: RunTask = match self.typed_at(base, value) {
            Ok(s) => s,
            Err(e) => return result.diagnostics.push(e),
        };
        if !self.kept(base, value, &spec, "RunTask", result) {
            return;
        }
        if !self.options.keep_task_definition_revisions
            && let Some(family) = self.unpinned(base, &spec.task_definition, result)
        {
            spec.task_definition = family;
        }
        let family = TaskDefinitionRef::parse(&spec.task_definition)
            .map(|r| r.family)
            .unwrap_or_default();
        let stem = self.path.file_stem().and_then(|s| s.to_str());
        let Some(name) = self.name_from(
            name.or(stem).or(Some(&family)),
            &base.key("taskDefinition"),
            result,
        ) else {
            return;
        };
        let task = Task {
            metadata: self.metadata(name),
            spec: TaskSpec { run_task: spec },
            status: None,
        };
        result.objects.push(Imported::Task(Box::new(task)));
    }

    /// describe-tasks output: each task, as a RunTask request of it.
    pub(super) fn described_tasks(&self, value: &Value, result: &mut ImportResult) {
        #[derive(Deserialize)]
        struct Described {
            tasks: Vec<Value>,
        }
        let described: Described = match self.typed_at(&FieldPath::root(), value) {
            Ok(d) => d,
            Err(e) => return result.diagnostics.push(e),
        };
        for (i, task) in described.tasks.iter().enumerate() {
            let base = FieldPath::root().key("tasks").index(i);
            let mut request = task.clone();
            let id = task
                .get("taskArn")
                .and_then(Value::as_str)
                .and_then(|arn| arn.rsplit('/').next())
                .unwrap_or_default()
                .to_owned();
            strip(&mut request, TASK_READ_ONLY);
            let Some(o) = request.as_object_mut() else {
                continue;
            };
            if let Some(arn) = o.remove("taskDefinitionArn") {
                o.insert("taskDefinition".to_owned(), arn);
            }
            // The provider it ran on, as a one-provider strategy.
            if let Some(provider) = o.remove("capacityProviderName") {
                if o.contains_key("launchType") {
                    o.remove("launchType");
                }
                o.insert(
                    "capacityProviderStrategy".to_owned(),
                    json!([{"capacityProvider": provider, "weight": 1}]),
                );
            }
            let family = o
                .get("taskDefinition")
                .and_then(Value::as_str)
                .and_then(|r| TaskDefinitionRef::parse(r).ok())
                .map(|r| r.family)
                .unwrap_or_else(|| "task".to_owned());
            let short: String = id.chars().take(8).collect();
            let name = if short.is_empty() {
                family
            } else {
                format!("{family}-{short}")
            };
            self.run_task(&base, &request, Some(&name), result);
        }
    }
}
