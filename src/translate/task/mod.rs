//! A Task (ECS RunTask) → the pods of its tasks, and what their pods say → the Task's status in
//! ECS's words (pure: no client, no I/O, no clock).
//!
//! [`task_pods`] is the one assembly that `ecs-bridge render` and the Task controller share:
//! the task definition revision with the request's `overrides` ([`request`]), its pod template
//! ([`crate::translate::pod`]), and `count` pods `<task>-1` … `<task>-<count>`, each one task:
//! `restartPolicy: Never` (ECS never restarts a standalone task), the task group as label and
//! annotation (`family:<family>` unless `group` says otherwise), `startedBy`, the tags ECS puts
//! on the task, the placement of the request and the task definition (constraints ANDed;
//! `spread`/`binpack` over the group's tasks; no strategy is ECS's random placement), and the
//! capacity provider each task runs on (the request's `capacityProviderStrategy`, its
//! `launchType`, or the cluster default, split by base and weight as for a service).
//!
//! The names are fixed, so that creating the pods is idempotent (ECS's `clientToken`): an
//! operator that restarts half way creates only those that are missing.
//!
//! The rest reads pods: [`lifecycle`] (a pod → a task as `describe-tasks` shows it),
//! [`essential`] (when a task must stop), [`outcome`] (the Task's roll-up, and whether it
//! succeeded).

pub mod essential;
pub mod lifecycle;
pub mod outcome;
pub mod request;

#[cfg(test)]
mod essential_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Node, Pod},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use serde_json::Value;

pub use request::RequestError;

use super::{
    Options, Report, capacity,
    capacity::provider::{PROVIDER_LABEL, StrategyProvider},
    labels,
    placement::{Constraint, place},
    pod::{PodError, pod_template_with},
    service::{ServiceError, TaskDefinitionRevision},
};
use crate::api::ecs::{PlacementStrategy, PropagateTags, RunTask, Tag};

/// The label on a task's pod naming its Task.
pub const TASK_LABEL: &str = "ecsbridge.io/task";
/// Annotation with the request's `startedBy`.
pub const STARTED_BY_ANNOTATION: &str = "ecsbridge.io/started-by";
/// Annotation with the capacity provider (its ECS name) a task runs on.
pub const CAPACITY_PROVIDER_ANNOTATION: &str = "ecsbridge.io/capacity-provider-name";
/// Annotation the operator puts on a task's pod when it stops the task: ECS's stop code.
pub const STOP_CODE_ANNOTATION: &str = "ecsbridge.io/stop-code";
/// Annotation with ECS's stopped reason, beside [`STOP_CODE_ANNOTATION`].
pub const STOPPED_REASON_ANNOTATION: &str = "ecsbridge.io/stopped-reason";
/// Annotation with the time the operator stopped the task (RFC 3339).
pub const STOPPING_AT_ANNOTATION: &str = "ecsbridge.io/stopping-at";
/// Annotation on a task's pod with the task definition revision it runs (`family:revision`).
pub const TASK_DEFINITION_ANNOTATION: &str = "ecsbridge.io/task-definition-revision";
/// Annotation on a task's pod with the generation of the Task that started it (the controller
/// adds it when it creates the pod).
pub const STARTED_GENERATION_ANNOTATION: &str = "ecsbridge.io/started-generation";
/// Annotation a user puts on a Task to stop its tasks, as StopTask does; its value is the reason
/// (`kubectl annotate ecstask nightly ecsbridge.io/stop-task="cancelled by ops"`).
pub const STOP_TASK_ANNOTATION: &str = "ecsbridge.io/stop-task";
/// Longest Task name: it is the value of [`TASK_LABEL`] on its pods.
pub const MAX_NAME_LEN: usize = 63;

/// One Task to translate, with what it runs and where.
#[derive(Debug, Clone, Copy)]
pub struct TaskInput<'a> {
    /// The Task's name.
    pub name: &'a str,
    /// Its namespace (the ECS cluster).
    pub namespace: &'a str,
    /// The RunTask request.
    pub run: &'a RunTask,
    /// The task definition revision it runs (before the request's overrides).
    pub task_definition: TaskDefinitionRevision<'a>,
    /// The known nodes (`=~` and `ec2InstanceId` need them); `None` when unknown.
    pub nodes: Option<&'a [Node]>,
    /// The capacity provider strategy its tasks run with, when it has one, and where it is
    /// written (for errors).
    pub strategy: Option<(&'a str, &'a [StrategyProvider])>,
}

/// The pods of a Task's tasks, and what they need.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskObjects {
    /// The pods, `<task>-1` … `<task>-<count>`, without owner references.
    pub pods: Vec<Pod>,
    /// The ServiceAccount of an `overrides.taskRoleArn` (the task definition's own role has its
    /// TaskDefinition's), without owner references.
    pub service_account: Option<Value>,
    /// The resolved task definition, `family:revision`.
    pub task_definition: String,
    /// What did not carry over exactly of the request's fields.
    pub report: Report,
    /// What did not carry over exactly of the task definition's fields (with the overrides).
    pub task_definition_report: Report,
}

/// Why a Task cannot become pods; each names the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The request breaks one of RunTask's rules.
    #[error("{0}")]
    Request(RequestError),
    /// The task definition (with the overrides) cannot become a pod.
    #[error("{0}")]
    TaskDefinition(PodError),
}

impl From<RequestError> for TaskError {
    fn from(e: RequestError) -> Self {
        Self::Request(e)
    }
}

/// The name of task `index` (1-based) of the Task `task`.
#[must_use]
pub fn pod_name(task: &str, index: u32) -> String {
    format!("{task}-{index}")
}

/// The label selector of a Task's pods.
#[must_use]
pub fn selector(task: &str) -> String {
    format!("{TASK_LABEL}={task}")
}

/// Translates `input` into its tasks' pods, for an installation with `options`.
///
/// # Errors
/// [`TaskError`]: what ECS's RunTask would refuse, or what cannot become a pod.
pub fn task_pods(input: &TaskInput<'_>, options: &Options) -> Result<TaskObjects, TaskError> {
    let run = input.run;
    request::validate(run)?;
    if input.name.len() > MAX_NAME_LEN {
        return Err(RequestError {
            field: "metadata.name".to_owned(),
            message: format!(
                "{} characters; a Task's name labels its pods, at most {MAX_NAME_LEN}",
                input.name.len()
            ),
        }
        .into());
    }
    let td = input.task_definition;
    let spec = request::apply_overrides(td.spec, run.overrides.as_ref())?;
    let family = td.spec.family.clone().unwrap_or_else(|| td.object.to_owned());
    let translation = pod_template_with(td.object, &spec, td.revision, Some(input.namespace), options)
        .map_err(TaskError::TaskDefinition)?;
    let mut report = Report::default();
    request_notes(run, &mut report);
    let group = request::group(run, &family);
    let group_value = labels::group_label_value(&group);
    let mut constraints = crate::translate::pod::placement::constraints(&spec);
    constraints.extend(
        Constraint::from_request(run.placement_constraints.as_deref().unwrap_or_default(), "")
            .map_err(|e| placement_error(&e))?,
    );
    let strategies: &[PlacementStrategy] = run.placement_strategy.as_deref().unwrap_or_default();
    let placed = place(&constraints, strategies, &group_value, input.nodes, options)
        .map_err(|e| placement_error(&e))?;
    for (field, message) in &placed.notes {
        report.note(super::NoteKind::Approximated, field.clone(), message.clone());
    }
    let mut template = translation.template;
    let mut pod_spec = template.spec.take().unwrap_or_default();
    placed.apply_to(&mut pod_spec);
    pod_spec.restart_policy = Some("Never".to_owned());
    let role_overridden = run
        .overrides
        .as_ref()
        .and_then(|o| o.task_role_arn.as_deref())
        .is_some_and(|r| Some(r) != td.spec.task_role_arn.as_deref());
    let service_account = if role_overridden {
        let sa = translation
            .objects
            .iter()
            .find(|o| o.get("kind").and_then(Value::as_str) == Some("ServiceAccount"))
            .cloned();
        sa.map(|mut sa| {
            let name = task_service_account(input.name);
            sa["metadata"]["name"] = Value::String(name.clone());
            sa["metadata"]["labels"] = serde_json::json!({
                labels::MANAGED_BY: labels::MANAGED_BY_VALUE,
                TASK_LABEL: input.name,
            });
            pod_spec.service_account_name = Some(name);
            sa
        })
    } else {
        None
    };
    let meta = template.metadata.take().unwrap_or_default();
    let mut pod_labels = meta.labels.unwrap_or_default();
    pod_labels.insert(TASK_LABEL.to_owned(), input.name.to_owned());
    pod_labels.insert(labels::GROUP.to_owned(), group_value);
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(labels::GROUP_ANNOTATION.to_owned(), group);
    annotations.insert(
        TASK_DEFINITION_ANNOTATION.to_owned(),
        format!("{family}:{}", td.revision),
    );
    if let Some(by) = run.started_by.as_ref().filter(|s| !s.is_empty()) {
        annotations.insert(STARTED_BY_ANNOTATION.to_owned(), by.clone());
    }
    annotations.remove(labels::TAGS);
    let tags = task_tags(input, td.spec.tags.as_deref(), &family);
    if !tags.is_empty() {
        annotations.insert(labels::TAGS.to_owned(), Value::Object(tags).to_string());
    }
    let count = request::count(run);
    let providers: Vec<Option<(usize, &StrategyProvider)>> = match input.strategy {
        Some((_, providers)) if !providers.is_empty() => {
            let items: Vec<_> = providers.iter().map(|p| p.item.clone()).collect();
            capacity::split(count, &items)
                .into_iter()
                .zip(providers.iter().enumerate())
                .flat_map(|(n, p)| std::iter::repeat_n(Some(p), n as usize))
                .collect()
        }
        _ => vec![None; count as usize],
    };
    let mut pods = Vec::with_capacity(providers.len());
    for (i, provider) in providers.into_iter().enumerate() {
        let mut spec = pod_spec.clone();
        let mut pod_labels = pod_labels.clone();
        let mut annotations = annotations.clone();
        if let (Some((item, p)), Some((field, _))) = (provider, input.strategy) {
            crate::translate::service::providers::schedule_on(
                &mut spec,
                &p.provider,
                &format!("{field}[{item}].capacityProvider"),
            )
            .map_err(|e| match e {
                ServiceError::Placement(p) => placement_error(&p),
                ServiceError::Field { field, message } => TaskError::Request(RequestError { field, message }),
            })?;
            pod_labels.insert(PROVIDER_LABEL.to_owned(), p.provider.label_value());
            annotations.insert(CAPACITY_PROVIDER_ANNOTATION.to_owned(), p.provider.name.clone());
            annotations.extend(p.provider.pod_annotations());
        }
        let index = u32::try_from(i).unwrap_or(0) + 1;
        pods.push(Pod {
            metadata: ObjectMeta {
                name: Some(pod_name(input.name, index)),
                namespace: Some(input.namespace.to_owned()),
                labels: Some(pod_labels),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
            status: None,
        });
    }
    Ok(TaskObjects {
        pods,
        service_account,
        task_definition: format!("{family}:{}", td.revision),
        report,
        task_definition_report: translation.report,
    })
}

/// The two fields of `run` that choose its capacity providers (`launchType`,
/// `capacityProviderStrategy`), as a service's spec: ECS resolves a task's strategy by a
/// service's rules ([`crate::translate::capacity::cluster::resolve`]).
#[must_use]
pub fn as_service_strategy(run: &RunTask) -> crate::api::ServiceSpec {
    crate::api::ServiceSpec {
        service: crate::api::ecs::CreateService {
            launch_type: run.launch_type,
            capacity_provider_strategy: run.capacity_provider_strategy.clone(),
            ..Default::default()
        },
        auto_scaling: None,
    }
}

/// The ServiceAccount of a Task whose request overrides the task role: `ecs-task-<task>-` and a
/// hash of the Task's name, so that it is no TaskDefinition's (those are `ecs-<object>`).
#[must_use]
pub fn task_service_account(task: &str) -> String {
    let hash = crate::fnv::hash(format!("task/{task}").bytes()) & 0xffff_ffff;
    format!("ecs-task-{task}-{hash:08x}")
}

fn placement_error(e: &crate::translate::placement::PlacementError) -> TaskError {
    TaskError::Request(RequestError {
        field: e.field.clone(),
        message: if e.in_task_definition {
            format!("{} (in the task definition)", e.message)
        } else {
            e.message.clone()
        },
    })
}

/// The request's fields that have no Kubernetes counterpart, reported rather than dropped.
fn request_notes(run: &RunTask, report: &mut Report) {
    use super::NoteKind;
    if run.network_configuration.is_some() {
        report.note(
            NoteKind::Ignored,
            "networkConfiguration",
            "subnets and security groups are the cluster's: pods get the pod network (security groups \
             for pods need a SecurityGroupPolicy)",
        );
    }
    if run.platform_version.is_some() {
        report.note(
            NoteKind::Ignored,
            "platformVersion",
            "Fargate platform versions have no Kubernetes counterpart",
        );
    }
    if run.enable_execute_command == Some(true) {
        report.note(
            NoteKind::Approximated,
            "enableExecuteCommand",
            "use kubectl exec, with the RBAC that allows it",
        );
    }
    if run.volume_configurations.as_ref().is_some_and(|v| !v.is_empty()) {
        report.note(
            NoteKind::NotYetTranslated,
            "volumeConfigurations",
            "EBS volumes configured at launch are not created for standalone tasks yet",
        );
    }
    if run.cluster.is_some() {
        report.note(
            NoteKind::Ignored,
            "cluster",
            "the Task's namespace is its cluster",
        );
    }
}

/// The tags ECS puts on the request's tasks: the task definition's with
/// `propagateTags: TASK_DEFINITION`, then the request's own, then ECS's managed tags.
fn task_tags(input: &TaskInput<'_>, td_tags: Option<&[Tag]>, family: &str) -> serde_json::Map<String, Value> {
    let object = |tags: Option<&[Tag]>| -> BTreeMap<String, Value> {
        tags.into_iter()
            .flatten()
            .filter_map(|t| Some((t.key.clone()?, Value::String(t.value.clone().unwrap_or_default()))))
            .collect()
    };
    let mut tags = match input.run.propagate_tags {
        Some(PropagateTags::TaskDefinition) => object(td_tags),
        _ => BTreeMap::new(),
    };
    tags.extend(object(input.run.tags.as_deref()));
    if input.run.enable_ecs_managed_tags == Some(true) {
        tags.insert(
            "aws:ecs:clusterName".to_owned(),
            Value::String(input.namespace.to_owned()),
        );
        tags.insert(
            "aws:ecs:taskDefinitionFamily".to_owned(),
            Value::String(family.to_owned()),
        );
    }
    tags.into_iter().collect()
}
