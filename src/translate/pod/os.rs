//! Which operating system a task runs on: `runtimePlatform.operatingSystemFamily`, or, when it
//! says nothing, what only runs on Windows (Windows paths, PowerShell or cmd entry points). The
//! stages agree on it: a Windows pod gets `os.name: windows` (the task stage) and none of the
//! Linux-only settings (the security and Linux stages).

use super::Build;
use crate::api::ecs::{ContainerDefinition, OSFamily, RegisterTaskDefinition};

/// Whether the task runs on Windows: `runtimePlatform.operatingSystemFamily` says so, or it
/// says nothing and the task definition can only run on Windows ([`windows_hint`]).
/// The pod then gets `os.name: windows`, which makes Kubernetes reject Linux-only fields.
pub(super) fn is_windows(b: &Build<'_>) -> bool {
    match b
        .td
        .runtime_platform
        .as_ref()
        .and_then(|p| p.operating_system_family)
    {
        Some(os) => os != OSFamily::Linux,
        None => windows_hint(b.td).is_some(),
    }
}

/// A Windows path: `C:\...`, `C:/...`, or a UNC or named-pipe path (`\\.\pipe\...`).
pub(super) fn is_windows_path(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with("\\\\")
        || (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/'))
}

/// Why the task definition can only run on Windows, if it can only run there (a Windows host or
/// container path, a PowerShell or cmd entry point). Only
/// meaningful when `runtimePlatform` is absent; other stages may use it to agree on the OS.
pub(super) fn windows_hint(td: &RegisterTaskDefinition) -> Option<String> {
    if let Some(v) = td.volumes.iter().flatten().find(|v| {
        v.host
            .as_ref()
            .and_then(|h| h.source_path.as_deref())
            .is_some_and(is_windows_path)
    }) {
        return Some(format!(
            "volume {:?} has a Windows host path",
            v.name.as_deref().unwrap_or_default()
        ));
    }
    td.container_definitions.iter().find_map(container_windows_hint)
}

fn container_windows_hint(c: &ContainerDefinition) -> Option<String> {
    let name = c.name.as_deref().unwrap_or_default();
    if c.mount_points
        .iter()
        .flatten()
        .filter_map(|m| m.container_path.as_deref())
        .chain(c.working_directory.as_deref())
        .any(is_windows_path)
    {
        return Some(format!("container {name:?} uses a Windows path"));
    }
    let program = c
        .entry_point
        .as_ref()
        .filter(|e| !e.is_empty())
        .or(c.command.as_ref())
        .and_then(|args| args.first())
        .map(|p| p.to_ascii_lowercase());
    if let Some(p) =
        program.filter(|p| ["powershell", "powershell.exe", "cmd", "cmd.exe"].contains(&p.as_str()))
    {
        return Some(format!("container {name:?} runs {p}"));
    }
    // (A gMSA `credentialspec:` option is no hint: ECS supports gMSA on Linux containers too.)
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_paths() {
        for path in [
            "C:\\data",
            "c:/data",
            "\\\\server\\share",
            "\\\\.\\pipe\\docker_engine",
        ] {
            assert!(is_windows_path(path), "{path}");
        }
        for path in ["/c:/x", "/data", "c:data", "relative\\path"] {
            assert!(!is_windows_path(path), "{path}");
        }
    }
}
