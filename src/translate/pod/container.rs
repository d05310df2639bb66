//! Containers: names, images, entry points and commands, working directories and environment
//! variables. Ports are the ports stage's (`ports.rs`).

use k8s_openapi::api::core::v1::{Container, EnvVar};

use super::{NoteKind, PodError, Report};
use crate::{api::ecs::ContainerDefinition, names::container_name};

/// Fields this module translates.
pub(super) const HANDLED: &[&str] = &[
    "containerDefinitions[].name",
    "containerDefinitions[].image",
    "containerDefinitions[].entryPoint",
    "containerDefinitions[].command",
    "containerDefinitions[].workingDirectory",
    "containerDefinitions[].environment[].name",
    "containerDefinitions[].environment[].value",
];

/// Container definition `i` → a container with its name, image, command, working directory,
/// environment; later stages add the rest (resources, ports, probes, mounts, ...).
///
/// # Errors
/// When the container has no name or image, or a name without letters or digits.
pub(super) fn container(
    i: usize,
    c: &ContainerDefinition,
    report: &mut Report,
) -> Result<Container, PodError> {
    let field = |f: &str| format!("containerDefinitions[{i}].{f}");
    let ecs_name = c.name.as_deref().ok_or_else(|| PodError::Missing {
        field: field("name"),
        hint: "give every container a name ([a-z0-9-], as Kubernetes requires)",
    })?;
    let image = c.image.clone().ok_or_else(|| PodError::Missing {
        field: field("image"),
        hint: "give every container an image, e.g. nginx:1.27",
    })?;
    let name = container_name(ecs_name).ok_or_else(|| PodError::Missing {
        field: field("name"),
        hint: "a container name needs letters or digits",
    })?;
    if name != ecs_name {
        report.note(
            NoteKind::Approximated,
            field("name"),
            format!("container {ecs_name:?} is named {name:?} in Kubernetes (lower case, '-' for '_')"),
        );
    }
    let env: Vec<EnvVar> = c
        .environment
        .iter()
        .flatten()
        .filter_map(|kv| {
            kv.name.as_ref().map(|n| EnvVar {
                name: n.clone(),
                value: kv.value.clone(),
                ..EnvVar::default()
            })
        })
        .collect();
    Ok(Container {
        name,
        image: Some(image),
        command: c.entry_point.clone(),
        args: c.command.clone(),
        working_dir: c.working_directory.clone(),
        env: (!env.is_empty()).then_some(env),
        ..Container::default()
    })
}
