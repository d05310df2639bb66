//! Why a schedule expression does not parse.

/// Why an expression does not parse: where (1-based character) and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {position}: {message}")]
pub struct ScheduleError {
    /// The character (1-based) where the problem starts.
    pub position: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}
