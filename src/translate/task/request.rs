//! A RunTask request checked as ECS checks it, and its `overrides` applied to the task definition
//! revision it runs (ecs-reference §6.1).
//!
//! The checks, each naming the field: `count` 1–[`MAX_COUNT`]; `startedBy` up to 128 letters,
//! digits, `-`, `/` and `_`; `group` up to 255 characters; `propagateTags` not `SERVICE`; at most
//! 50 tags; `clientToken` up to 64 printable ASCII characters; `launchType` and
//! `capacityProviderStrategy` not both (the strategy's own rules are the capacity module's); at
//! most 5 placement strategies; the whole `overrides` at most [`MAX_OVERRIDES_LEN`] characters of
//! JSON, and each container override naming a container of the task definition.
//!
//! [`apply_overrides`] gives the revision as the task runs it: a container override replaces
//! `command`, `environmentFiles`, `cpu`, `memory`, `memoryReservation` and
//! `resourceRequirements`, and adds to (or replaces by name) the `environment`; the task-level
//! `cpu`, `memory`, `taskRoleArn`, `executionRoleArn` and `ephemeralStorage` replace the
//! definition's. Elastic Inference accelerators are gone from ECS (and from Kubernetes): an
//! `inferenceAcceleratorOverrides` is refused.

use crate::api::ecs::{ContainerOverride, PropagateTags, RegisterTaskDefinition, RunTask, TaskOverride};

/// Most tasks one RunTask starts.
pub const MAX_COUNT: i32 = 10;
/// Longest `overrides`, as JSON (ECS: 8,192 characters).
pub const MAX_OVERRIDES_LEN: usize = 8192;
/// Longest `startedBy`.
pub const MAX_STARTED_BY_LEN: usize = 128;
/// Longest `group`.
pub const MAX_GROUP_LEN: usize = 255;
/// Most tags of a task.
pub const MAX_TAGS: usize = 50;
/// Most placement strategies.
pub const MAX_STRATEGIES: usize = 5;

/// Why a RunTask request is refused: the field (relative to `spec`) and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec.{field}: {message}")]
pub struct RequestError {
    /// The field, e.g. `overrides.containerOverrides[0].name`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn refused(field: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.into(),
        message: message.into(),
    }
}

/// The number of tasks `run` starts: `count`, 1 when absent.
#[must_use]
pub fn count(run: &RunTask) -> u32 {
    run.count
        .map_or(1, |c| u32::try_from(c.clamp(1, MAX_COUNT)).unwrap_or(1))
}

/// The task group of `run`'s tasks: `group`, else `family:<family>`.
#[must_use]
pub fn group(run: &RunTask, family: &str) -> String {
    run.group
        .clone()
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| format!("family:{family}"))
}

/// Checks `run` as ECS's RunTask does, before the task definition is known.
///
/// # Errors
/// The first rule broken.
pub fn validate(run: &RunTask) -> Result<(), RequestError> {
    if run.task_definition.trim().is_empty() {
        return Err(refused(
            "taskDefinition",
            "required: the family, family:revision or ARN of the task definition to run",
        ));
    }
    if let Some(c) = run.count
        && !(1..=MAX_COUNT).contains(&c)
    {
        return Err(refused(
            "count",
            format!("{c} is out of range: RunTask starts 1 to {MAX_COUNT} tasks; make more Tasks for more"),
        ));
    }
    if let Some(s) = &run.started_by {
        let bad = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_')));
        if s.len() > MAX_STARTED_BY_LEN {
            return Err(refused(
                "startedBy",
                format!("{} characters; ECS takes at most {MAX_STARTED_BY_LEN}", s.len()),
            ));
        }
        if let Some(c) = bad {
            return Err(refused(
                "startedBy",
                format!(
                    "{c:?} is not allowed: use letters, digits, hyphens (-), forward slashes (/) and underscores (_)"
                ),
            ));
        }
    }
    if let Some(g) = &run.group
        && g.len() > MAX_GROUP_LEN
    {
        return Err(refused(
            "group",
            format!("{} characters; ECS takes at most {MAX_GROUP_LEN}", g.len()),
        ));
    }
    if run.propagate_tags == Some(PropagateTags::Service) {
        return Err(refused(
            "propagateTags",
            "SERVICE is for services; a RunTask propagates TASK_DEFINITION or NONE",
        ));
    }
    if let Some(tags) = &run.tags {
        if tags.len() > MAX_TAGS {
            return Err(refused(
                "tags",
                format!("{} tags; ECS takes at most {MAX_TAGS}", tags.len()),
            ));
        }
        if let Some(i) = tags
            .iter()
            .position(|t| t.key.as_deref().is_none_or(str::is_empty))
        {
            return Err(refused(format!("tags[{i}].key"), "required: every tag has a key"));
        }
    }
    if let Some(t) = &run.client_token
        && (t.len() > 64 || t.bytes().any(|b| !(33..=126).contains(&b)))
    {
        return Err(refused(
            "clientToken",
            "up to 64 ASCII characters from ! to ~ (no spaces)",
        ));
    }
    if run.launch_type.is_some() && run.capacity_provider_strategy.is_some() {
        return Err(refused(
            "launchType",
            "launchType and capacityProviderStrategy cannot both be given: keep the strategy and remove \
             launchType, or the other way round",
        ));
    }
    if let Some(s) = &run.placement_strategy
        && s.len() > MAX_STRATEGIES
    {
        return Err(refused(
            "placementStrategy",
            format!("{} strategies; ECS takes at most {MAX_STRATEGIES}", s.len()),
        ));
    }
    if let Some(o) = &run.overrides {
        let len = serde_json::to_string(o).map_or(0, |s| s.len());
        if len > MAX_OVERRIDES_LEN {
            return Err(refused(
                "overrides",
                format!(
                    "{len} characters of JSON; ECS takes at most {MAX_OVERRIDES_LEN}: move long commands or \
                     environments into the task definition or environmentFiles"
                ),
            ));
        }
        if o.inference_accelerator_overrides
            .as_ref()
            .is_some_and(|a| !a.is_empty())
        {
            return Err(refused(
                "overrides.inferenceAcceleratorOverrides",
                "Elastic Inference has ended (ECS refuses it too) and has no Kubernetes counterpart: remove it",
            ));
        }
    }
    Ok(())
}

/// `td` as `overrides` make it for one run (see the module docs).
///
/// # Errors
/// A container override without a name, or naming no container of `td`.
pub fn apply_overrides(
    td: &RegisterTaskDefinition,
    overrides: Option<&TaskOverride>,
) -> Result<RegisterTaskDefinition, RequestError> {
    let mut td = td.clone();
    let Some(o) = overrides else {
        return Ok(td);
    };
    for (i, c) in o.container_overrides.iter().flatten().enumerate() {
        let field = format!("overrides.containerOverrides[{i}].name");
        let Some(name) = c.name.as_deref().filter(|n| !n.is_empty()) else {
            return Err(refused(field, "required: the name of the container to override"));
        };
        let names: Vec<String> = td
            .container_definitions
            .iter()
            .filter_map(|d| d.name.clone())
            .collect();
        let Some(def) = td
            .container_definitions
            .iter_mut()
            .find(|d| d.name.as_deref() == Some(name))
        else {
            return Err(refused(
                field,
                format!(
                    "{name:?} is not a container of the task definition (its containers: {})",
                    names.join(", ")
                ),
            ));
        };
        override_container(def, c);
    }
    if let Some(cpu) = &o.cpu {
        td.cpu = Some(cpu.clone());
    }
    if let Some(memory) = &o.memory {
        td.memory = Some(memory.clone());
    }
    if let Some(role) = &o.task_role_arn {
        td.task_role_arn = Some(role.clone());
    }
    if let Some(role) = &o.execution_role_arn {
        td.execution_role_arn = Some(role.clone());
    }
    if let Some(storage) = &o.ephemeral_storage {
        td.ephemeral_storage = Some(storage.clone());
    }
    Ok(td)
}

fn override_container(def: &mut crate::api::ecs::ContainerDefinition, c: &ContainerOverride) {
    if let Some(command) = &c.command {
        def.command = Some(command.clone());
    }
    if let Some(env) = &c.environment {
        let list = def.environment.get_or_insert_with(Vec::new);
        for kv in env {
            match list.iter_mut().find(|e| e.name == kv.name) {
                Some(e) => e.value.clone_from(&kv.value),
                None => list.push(kv.clone()),
            }
        }
    }
    if let Some(files) = &c.environment_files {
        def.environment_files = Some(files.clone());
    }
    if let Some(cpu) = c.cpu {
        def.cpu = Some(cpu);
    }
    if let Some(memory) = c.memory {
        def.memory = Some(memory);
    }
    if let Some(reservation) = c.memory_reservation {
        def.memory_reservation = Some(reservation);
    }
    if let Some(r) = &c.resource_requirements {
        def.resource_requirements = Some(r.clone());
    }
}
