//! Why a service's workload cannot be translated.

use crate::translate::placement::PlacementError;

/// Why a service cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The placement constraints or strategies (the service's or the task definition's) do not
    /// compile.
    #[error(transparent)]
    Placement(#[from] PlacementError),
    /// A field of the service has a value that cannot be carried over (out of range,
    /// contradictory).
    #[error("{field}: {message}")]
    Field {
        /// The field, relative to `spec` (`deploymentConfiguration.maximumPercent`).
        field: String,
        /// What is wrong, and how to fix it.
        message: String,
    },
}

impl ServiceError {
    /// The field, relative to its object's `spec`.
    #[must_use]
    pub fn field(&self) -> &str {
        match self {
            Self::Placement(e) => &e.field,
            Self::Field { field, .. } => field,
        }
    }

    /// The error as a message naming its object: `spec.<field>: ...`, or
    /// `TaskDefinition <task_definition>: spec.<field>: ...` for the task definition's fields.
    #[must_use]
    pub fn located(&self, task_definition: &str) -> String {
        match self {
            Self::Placement(e) => e.located(task_definition),
            Self::Field { field, message } => format!("spec.{field}: {message}"),
        }
    }
}
