//! `render` of a Task: the pods of its tasks, made by
//! [`crate::translate::task::task_pods`] from the task definition revision among the given
//! manifests, on the capacity the manifests give — what the Task controller creates.

use std::collections::BTreeSet;

use super::{
    Loaded, OFFLINE_REVISION, Rendered, RenderedTaskDefinition, at_field, name_and_namespace, providers,
    report, task_definition_of, to_value,
};
use crate::{
    api::Task,
    translate::{
        Options,
        capacity::{cluster::resolve, provider::Provider},
        service::TaskDefinitionRevision,
        task::{TaskError, TaskInput, task_pods},
    },
};

/// Renders `task` (the document `item`), running the task definitions `families` finds by
/// (namespace, family), on `capacity`.
pub(super) fn render_task<'a>(
    item: &Loaded,
    task: &Task,
    families: impl Fn(&(String, String)) -> Option<&'a RenderedTaskDefinition<'a>>,
    failed: &BTreeSet<(String, String)>,
    capacity: &providers::Capacity<'_>,
    options: &Options,
    out: &mut Rendered,
) {
    let Some((name, ns)) = name_and_namespace(item, &task.metadata, out) else {
        return;
    };
    let run = &task.spec.run_task;
    let Some((_, td)) = task_definition_of(item, &ns, &run.task_definition, &families, failed, out) else {
        return;
    };
    let as_service = crate::translate::task::as_service_strategy(run);
    let lookup = |name: &str| {
        capacity
            .providers
            .iter()
            .find(|p| p.ecs_name() == name)
            .map(|p| (Provider::of(p), true))
    };
    let strategy = match resolve(&as_service, None, capacity.cluster, lookup) {
        Ok(strategy) => strategy,
        Err(e) => {
            let message = e.in_service();
            return out.diagnostics.push(at_field(item, &message, &message));
        }
    };
    let input = TaskInput {
        name: &name,
        namespace: &ns,
        run,
        task_definition: TaskDefinitionRevision {
            object: &td.object,
            spec: td.spec,
            revision: OFFLINE_REVISION,
        },
        nodes: capacity.nodes,
        strategy: strategy
            .as_ref()
            .map(|s| (s.field.as_str(), s.providers.as_slice())),
    };
    match task_pods(&input, options) {
        Ok(objects) => {
            // (The task definition's own notes are told where it is rendered.)
            report(item, &objects.report, out);
            out.objects.extend(objects.service_account.clone().map(|mut sa| {
                sa["metadata"]["namespace"] = serde_json::Value::String(ns.clone());
                sa
            }));
            out.objects.extend(objects.pods.iter().map(to_value));
        }
        Err(TaskError::Request(e)) => {
            let message = e.to_string();
            out.diagnostics.push(at_field(item, &message, &message));
        }
        Err(TaskError::TaskDefinition(e)) => {
            let message = format!("task definition {:?} with spec.overrides: {e}", td.object);
            out.diagnostics.push(at_field(item, &message, &message));
        }
    }
}
