//! The task definition's `placementConstraints` (`memberOf` only, ecs-reference §3.3) → the pod
//! template's affinity, through the placement compiler ([`crate::translate::placement`]).
//!
//! A syntax error, an unknown subject or a subject without a Kubernetes meaning is an error
//! naming the field and the character. Expressions evaluated against the nodes (`=~`,
//! `ec2InstanceId`) need the node list, which a task definition alone does not have: they are
//! noted here and applied by the workload translation (Service, Task), which compiles the task
//! definition's constraints again together with its own, against the nodes.

use super::{Build, NoteKind, PodError};
use crate::translate::placement::{Constraint, place};

/// Fields this stage translates.
pub(super) const HANDLED: &[&str] = &["placementConstraints[].type", "placementConstraints[].expression"];

/// The task definition's constraints, as the placement compiler takes them (fields relative to
/// the task definition's `spec`).
#[must_use]
pub fn constraints(td: &crate::api::ecs::RegisterTaskDefinition) -> Vec<Constraint> {
    td.placement_constraints
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, c)| {
            let e = c.expression.as_deref().map(str::trim).filter(|e| !e.is_empty())?;
            Some(Constraint {
                field: format!("placementConstraints[{i}]"),
                expression: Some(e.to_owned()),
                in_task_definition: true,
            })
        })
        .collect()
}

/// Applies this stage to the pod under construction.
pub(super) fn apply(b: &mut Build<'_>) -> Result<(), PodError> {
    for (i, c) in b.td.placement_constraints.iter().flatten().enumerate() {
        if c.expression.as_deref().is_none_or(|e| e.trim().is_empty()) {
            return Err(PodError::Placement {
                field: format!("placementConstraints[{i}].expression"),
                message: "required for memberOf: a cluster query language expression".to_owned(),
            });
        }
    }
    let list = constraints(b.td);
    if list.is_empty() {
        return Ok(());
    }
    // (A task definition has no group of its own: it takes no distinctInstance.)
    match place(&list, &[], "", None, b.options) {
        Ok(p) => {
            for (field, message) in p.notes {
                b.report.note(NoteKind::Approximated, field, message);
            }
            b.pod.affinity = p.affinity;
            Ok(())
        }
        Err(e) if e.needs_nodes => {
            b.report.note(
                NoteKind::Approximated,
                e.field.trim_end_matches(".expression").to_owned(),
                format!(
                    "not on the pod template: {}; the Service or Task running it applies it",
                    e.message
                ),
            );
            Ok(())
        }
        Err(e) => Err(PodError::Placement {
            field: e.field,
            message: e.message,
        }),
    }
}
