//! The pause container (pure): what the operator runs where a pod must exist but nothing is to
//! run — managed scaling's placeholder tasks, a ScheduledTask's token Jobs (which make no pod) —
//! with a pod and container security context the restricted Pod Security Standard admits.

use k8s_openapi::api::core::v1::{
    Capabilities, Container, PodSecurityContext, ResourceRequirements, SeccompProfile, SecurityContext,
};

/// The pause image: it sleeps until stopped.
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";

/// A pod security context the restricted Pod Security Standard admits: non-root (the pause
/// image's `nobody`), the runtime's default seccomp profile.
#[must_use]
pub fn restricted_pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(65535),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// The pause container `name` with `resources`: no privilege escalation, a read-only root file
/// system, every capability dropped.
#[must_use]
pub fn pause_container(name: &str, resources: ResourceRequirements) -> Container {
    Container {
        name: name.to_owned(),
        image: Some(PAUSE_IMAGE.to_owned()),
        resources: Some(resources),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}
