//! Validate (pure): a Task's RunTask request checked as ECS checks it, and — when tasks are to
//! be started — resolved against what was loaded: the task definition revision it runs, its
//! capacity provider strategy, and the pods [`crate::translate::task::task_pods`] makes of them.
//! Every refusal names the field.

use kube::ResourceExt;

use super::load::Start;
use crate::{
    api::{
        Task, TaskDefinition,
        condition::{READY, find},
    },
    controller::revisions,
    translate::{
        Options,
        capacity::{
            cluster::{ClusterCapacity, resolve},
            provider::Provider,
        },
        reference::TaskDefinitionRef,
        service::TaskDefinitionRevision,
        task::{TaskError, TaskInput, TaskObjects, request},
    },
};

/// Ready=False: the request breaks one of RunTask's rules.
pub const REASON_INVALID_TASK: &str = "InvalidTask";
/// Ready=False: the task definition it names does not exist (or not that revision).
pub const REASON_TASK_DEFINITION_NOT_FOUND: &str = "TaskDefinitionNotFound";
/// Ready=False: the TaskDefinition refused its spec, so it has no revision to run.
pub const REASON_TASK_DEFINITION_NOT_REGISTERED: &str = "TaskDefinitionNotRegistered";
/// Ready=False (waiting): the TaskDefinition's first revision is being registered.
pub const REASON_WAITING_FOR_TASK_DEFINITION: &str = "WaitingForTaskDefinition";
/// Ready=False: the capacity provider strategy (or launch type) is refused.
pub const REASON_INVALID_CAPACITY_PROVIDER_STRATEGY: &str = "InvalidCapacityProviderStrategy";
/// Ready=False: the task definition, with the overrides, cannot become a pod.
pub const REASON_INVALID_TASK_DEFINITION: &str = crate::controller::status::REASON_INVALID_TASK_DEFINITION;

/// Why a Task cannot be reconciled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The Ready condition's reason.
    pub reason: &'static str,
    /// The message, naming the field.
    pub message: String,
}

impl Invalid {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// Checks `task`'s request, and when `start` was loaded (tasks are to be started) translates
/// it into its tasks' pods with `options`.
///
/// # Errors
/// [`Invalid`] naming the field and the fix.
pub fn validate(
    task: &Task,
    start: Option<&Start>,
    options: &Options,
) -> Result<Option<TaskObjects>, Invalid> {
    let run = &task.spec.run_task;
    request::validate(run).map_err(|e| Invalid::new(REASON_INVALID_TASK, e.to_string()))?;
    let Some(start) = start else {
        return Ok(None);
    };
    let value = run.task_definition.as_str();
    let reference = TaskDefinitionRef::parse(value)
        .map_err(|e| Invalid::new(REASON_INVALID_TASK, format!("spec.taskDefinition: {e}")))?;
    let td = TaskDefinition::of_family(&start.task_definitions, &reference.family)
        .map_err(|e| {
            Invalid::new(
                REASON_TASK_DEFINITION_NOT_FOUND,
                format!("spec.taskDefinition {value:?}: {e}"),
            )
        })?
        .ok_or_else(|| {
            Invalid::new(
                REASON_TASK_DEFINITION_NOT_FOUND,
                format!(
                    "spec.taskDefinition {value:?}: no TaskDefinition of family {:?} in this namespace; \
                     apply it, or name another",
                    reference.family
                ),
            )
        })?;
    let spec = match &start.revision {
        None => return Err(not_registered(td, value)),
        Some((revision, None)) => {
            return Err(Invalid::new(
                REASON_TASK_DEFINITION_NOT_FOUND,
                format!(
                    "spec.taskDefinition {value:?}: revision {}:{revision} of TaskDefinition {:?} is not registered",
                    td.family(),
                    td.name_any()
                ),
            ));
        }
        Some((revision, Some(cr))) => (
            *revision,
            revisions::stored_spec(cr).map_err(|e| {
                Invalid::new(
                    REASON_INVALID_TASK_DEFINITION,
                    format!("spec.taskDefinition {value:?}: {e}"),
                )
            })?,
        ),
    };
    let strategy = strategy(task, start)?;
    let providers = strategy
        .as_ref()
        .map(|r| (r.field.as_str(), r.providers.as_slice()));
    let name = task.name_any();
    let namespace = task.namespace().unwrap_or_default();
    let object = td.name_any();
    let input = TaskInput {
        name: &name,
        namespace: &namespace,
        run,
        task_definition: TaskDefinitionRevision {
            object: &object,
            spec: &spec.1,
            revision: spec.0,
        },
        nodes: start.nodes.as_deref(),
        strategy: providers,
    };
    crate::translate::task::task_pods(&input, options)
        .map(Some)
        .map_err(|e| match e {
            TaskError::Request(e) => Invalid::new(REASON_INVALID_TASK, e.to_string()),
            TaskError::TaskDefinition(e) => Invalid::new(
                REASON_INVALID_TASK_DEFINITION,
                format!("TaskDefinition {object} (with spec.overrides): {e}"),
            ),
        })
}

/// Why a Task naming `td` (`value`) cannot start yet: `td` has registered no revision.
fn not_registered(td: &TaskDefinition, value: &str) -> Invalid {
    let refused = td
        .status
        .as_ref()
        .and_then(|s| find(&s.conditions, READY))
        .filter(|c| c.status == "False");
    match refused {
        Some(c) => Invalid::new(
            REASON_TASK_DEFINITION_NOT_REGISTERED,
            format!(
                "spec.taskDefinition {value:?}: TaskDefinition {:?} has no registered revision: {}",
                td.name_any(),
                c.message
            ),
        ),
        None => Invalid::new(
            REASON_WAITING_FOR_TASK_DEFINITION,
            format!(
                "spec.taskDefinition {value:?}: TaskDefinition {:?} has no registered revision yet; the tasks \
                 start once one is registered",
                td.name_any()
            ),
        ),
    }
}

/// The capacity provider strategy the tasks run with: the request's, its launch type's, or the
/// cluster's default, by the same rules as a service's.
fn strategy(
    task: &Task,
    start: &Start,
) -> Result<Option<crate::translate::capacity::cluster::Resolved>, Invalid> {
    let invalid = |e: crate::translate::capacity::StrategyError| {
        Invalid::new(REASON_INVALID_CAPACITY_PROVIDER_STRATEGY, e.in_service())
    };
    let cluster = ClusterCapacity::from_annotations(
        start
            .namespace
            .as_ref()
            .and_then(|n| n.metadata.annotations.as_ref()),
    )
    .map_err(invalid)?;
    let run = &task.spec.run_task;
    let as_service = crate::translate::task::as_service_strategy(run);
    resolve(&as_service, None, &cluster, |name| {
        start
            .capacity_providers
            .iter()
            .find(|cp| cp.ecs_name() == name)
            .map(|cp| (Provider::of(cp), cp.metadata.deletion_timestamp.is_none()))
    })
    .map_err(invalid)
}
