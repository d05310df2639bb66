//! essential and dependsOn → native sidecars and init containers, in an order that respects every dependency.
//!
//! (Not translated yet: every field listed here is reported until this stage handles it.)

use super::{Build, PodError};

/// Fields this stage translates.
pub(super) const HANDLED: &[&str] = &[];

/// Applies this stage to the pod under construction.
#[allow(clippy::unnecessary_wraps)]
pub(super) fn apply(_b: &mut Build<'_>) -> Result<(), PodError> {
    Ok(())
}
