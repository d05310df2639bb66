//! The task's network mode.

use super::{NoteKind, Report};
use crate::api::ecs::NetworkMode;

/// Fields this module translates.
pub(super) const HANDLED: &[&str] = &["networkMode"];

/// ECS network mode → pod networking. `awsvpc` (a network interface and IP per task) is what
/// every pod has; `bridge` differs only in host port mapping; `host` is `hostNetwork`.
pub(super) fn network_mode(mode: Option<NetworkMode>, report: &mut Report) -> Option<bool> {
    match mode {
        None | Some(NetworkMode::Awsvpc) => None,
        Some(NetworkMode::Bridge) => {
            report.note(
                NoteKind::Approximated,
                "networkMode",
                "bridge: the task gets its own pod IP, as with awsvpc; containers reach each other on localhost",
            );
            None
        }
        Some(NetworkMode::Host) => Some(true),
        Some(NetworkMode::None) => {
            report.note(
                NoteKind::Approximated,
                "networkMode",
                "none: pods always have a network namespace; add a NetworkPolicy denying all traffic to isolate them",
            );
            None
        }
    }
}
