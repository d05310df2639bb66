//! Diagnostics: errors and warnings that name the file, the position and the field.

use std::{fmt, path::PathBuf};

use super::path::FieldPath;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Something the user should know (a field approximated or ignored); the output is usable.
    Warning,
    /// The input is wrong; the command exits non-zero.
    Error,
}

/// A message about one place in one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The input file.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// The field the message is about, when there is one.
    pub field: Option<FieldPath>,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl Diagnostic {
    /// An error at `position` about `field`.
    #[must_use]
    pub fn error(
        file: impl Into<PathBuf>,
        position: Option<(usize, usize)>,
        field: Option<FieldPath>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, file, position, field, message)
    }

    /// A warning at `position` about `field`.
    #[must_use]
    pub fn warning(
        file: impl Into<PathBuf>,
        position: Option<(usize, usize)>,
        field: Option<FieldPath>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, file, position, field, message)
    }

    fn new(
        severity: Severity,
        file: impl Into<PathBuf>,
        position: Option<(usize, usize)>,
        field: Option<FieldPath>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            file: file.into(),
            position,
            field,
            message: message.into(),
        }
    }

    /// Whether this is an error.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, ": {level}: ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}
