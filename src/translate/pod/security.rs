//! `user`, `privileged`, `readonlyRootFilesystem`, `dockerSecurityOptions` and the Pod Security
//! profile; `interactive`/`pseudoTerminal`, `dockerLabels`, `disableNetworking`,
//! `credentialSpecs` and `versionConsistency`. (`hostname`, DNS, `extraHosts` and `links`: [`super::dns`].)
//!
//! # The Pod Security profile
//!
//! The generated pods aim at the Pod Security Standards "restricted" profile
//! (<https://kubernetes.io/docs/concepts/security/pod-security-standards/>) and lower only what
//! the task definition asks for. Every field that lowers the pod gets an `Approximated` note
//! saying "… lowers the pod below the Pod Security restricted (or baseline) profile", and the pod
//! template carries the profile it meets in the [`POD_SECURITY_ANNOTATION`] annotation
//! (`restricted`, `baseline` or `privileged`), so that the namespace's
//! `pod-security.kubernetes.io/enforce` label can be chosen from it.
//!
//! On every Linux container: `allowPrivilegeEscalation: false` (unless `privileged`), and the
//! pod's `seccompProfile: RuntimeDefault`, which is also what ECS gives (Docker's default seccomp
//! profile, which containerd's `RuntimeDefault` derives from).
//!
//! **`runAsNonRoot` and capabilities follow `user`.** ECS runs a container as the user its image
//! names unless `user` says otherwise, and many images run as root (nginx, postgres, redis, …:
//! their entrypoints `chown` directories and switch users, which needs `CHOWN`, `SETUID`,
//! `SETGID` and friends). Forcing `runAsNonRoot: true` on them would stop them from starting, and
//! dropping `ALL` capabilities would break them at run time — neither is what someone moving from
//! ECS expects. So:
//! - `user` is a numeric non-root uid (`"1000"`, `"1000:1000"`): `runAsUser`, `runAsNonRoot:
//!   true`, `capabilities.drop: [ALL]` (the linux stage adds back what
//!   `linuxParameters.capabilities.add` asks). This is the restricted profile.
//! - `user` is not set, is a name (`"nginx"`: Kubernetes runs containers by number only, so the
//!   image's user is used), or is root (`"0"`, `"root"`): `runAsNonRoot` is not set and the
//!   container runtime's default capability set (Docker's, which ECS gives) is kept, with
//!   `linuxParameters.capabilities` applied on top as in ECS. The pod meets baseline, not
//!   restricted. Root and user names get a note on `containerDefinitions[i].user`; an unset
//!   `user` gets none — the task definition asks for nothing, the image decides, and a note on
//!   nearly every task definition would drown the ones that matter — but the annotation says
//!   `baseline`. Setting a numeric non-root `user` is how to reach restricted.
//!
//! Windows task definitions (`runtimePlatform.operatingSystemFamily` WINDOWS_*) get none of the
//! Linux settings (Kubernetes rejects them for Windows pods); `user` becomes
//! `windowsOptions.runAsUserName`, and no profile annotation is written.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    AppArmorProfile, Capabilities, Container, SELinuxOptions, SeccompProfile, SecurityContext,
    WindowsSecurityContextOptions,
};

use super::{Build, NoteKind, PodError, os::is_windows};
use crate::{
    api::ecs::{ContainerDefinition, PidMode, VersionConsistency},
    names::is_qualified_name_part,
};

/// Fields this stage translates.
pub(super) const HANDLED: &[&str] = &[
    "containerDefinitions[].user",
    "containerDefinitions[].privileged",
    "containerDefinitions[].readonlyRootFilesystem",
    "containerDefinitions[].interactive",
    "containerDefinitions[].pseudoTerminal",
    "containerDefinitions[].dockerLabels.*",
    "containerDefinitions[].disableNetworking",
    "containerDefinitions[].dockerSecurityOptions",
    "containerDefinitions[].credentialSpecs",
    "containerDefinitions[].versionConsistency",
];

/// Pod template annotation naming the Pod Security Standards profile the pod meets:
/// `restricted`, `baseline` or `privileged`.
pub const POD_SECURITY_ANNOTATION: &str = "ecsbridge.io/pod-security";

/// Domain of the per-label annotations: `<container>.docker-label.ecsbridge.io/<label key>`.
const DOCKER_LABEL_DOMAIN: &str = "docker-label.ecsbridge.io";

/// Prefix of the annotation that holds all Docker labels of a container as JSON, used when a
/// label key is not a valid annotation name: `docker-labels.ecsbridge.io/<container>`.
const DOCKER_LABELS_JSON_PREFIX: &str = "docker-labels.ecsbridge.io/";

/// Capabilities the baseline profile allows to add (Docker's default set minus `NET_RAW`).
pub(super) const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// SELinux types the baseline profile allows.
const BASELINE_SELINUX_TYPES: &[&str] = &[
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// The Pod Security Standards profiles, least restrictive first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Profile {
    /// Unrestricted.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Current hardening best practice.
    Restricted,
}

impl Profile {
    fn as_str(self) -> &'static str {
        match self {
            Self::Privileged => "privileged",
            Self::Baseline => "baseline",
            Self::Restricted => "restricted",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Privileged, Self::Baseline, Self::Restricted]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Lowers the profile recorded in the pod annotation to `to` (if it is higher), without a note:
/// for fields whose own stage already says so.
pub(super) fn lower_level(b: &mut Build<'_>, to: Profile) {
    if let Some(current) = b.annotations.get_mut(POD_SECURITY_ANNOTATION)
        && Profile::parse(current).is_none_or(|c| c > to)
    {
        *current = to.as_str().to_owned();
    }
}

/// Records that `field` lowers the pod to profile `to`, with an `Approximated` note:
/// "`what`; this lowers the pod below the Pod Security restricted|baseline profile".
pub(super) fn lower(b: &mut Build<'_>, field: impl Into<String>, to: Profile, what: &str) {
    let above = match to {
        Profile::Privileged => "baseline",
        Profile::Baseline | Profile::Restricted => "restricted",
    };
    b.report.note(
        NoteKind::Approximated,
        field,
        format!("{what}; this lowers the pod below the Pod Security {above} profile"),
    );
    lower_level(b, to);
}

/// A user or group: a number or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Id {
    Number(i64),
    Name(String),
}

/// ECS `user`: `user`, `user:group`, `uid`, `uid:gid`, `uid:group`, `user:gid`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct User {
    user: Id,
    group: Option<Id>,
}

/// Parses ECS `user`; `None` when a part is empty or a number is out of Kubernetes' range
/// (0 to 2147483647).
fn parse_user(s: &str) -> Option<User> {
    fn id(part: &str) -> Option<Id> {
        if part.is_empty() {
            None
        } else if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse::<i64>()
                .ok()
                .filter(|n| *n <= i64::from(i32::MAX))
                .map(Id::Number)
        } else {
            Some(Id::Name(part.to_owned()))
        }
    }
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    Some(User {
        user: id(user)?,
        group: match group {
            Some(g) => Some(id(g)?),
            None => None,
        },
    })
}

/// Applies this stage to the pod under construction.
pub(super) fn apply(b: &mut Build<'_>) -> Result<(), PodError> {
    let windows = is_windows(b);
    if !windows {
        b.annotations.insert(
            POD_SECURITY_ANNOTATION.to_owned(),
            Profile::Restricted.as_str().to_owned(),
        );
        b.pod
            .security_context
            .get_or_insert_with(Default::default)
            .seccomp_profile = Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            localhost_profile: None,
        });
    }
    let td = b.td;
    for (i, c) in td.container_definitions.iter().enumerate() {
        if windows {
            windows_container(b, i, c);
        } else {
            linux_container(b, i, c)?;
        }
        container_misc(b, i, c);
    }
    Ok(())
}

/// `user`, `privileged`, `readonlyRootFilesystem` and `dockerSecurityOptions` of a Linux
/// container.
fn linux_container(b: &mut Build<'_>, i: usize, c: &ContainerDefinition) -> Result<(), PodError> {
    let field = |f: &str| format!("containerDefinitions[{i}].{f}");
    let mut sc = b.containers[i].security_context.take().unwrap_or_default();
    let privileged = c.privileged == Some(true);
    if privileged {
        sc.privileged = Some(true);
        lower(
            b,
            field("privileged"),
            Profile::Privileged,
            "true: the container has every capability and the node's devices",
        );
    } else {
        sc.allow_privilege_escalation = Some(false);
    }
    if c.readonly_root_filesystem == Some(true) {
        sc.read_only_root_filesystem = Some(true);
    }
    match c.user.as_deref().filter(|u| !u.is_empty()) {
        // The image decides; see the module doc for why no note is written.
        None => lower_level(b, Profile::Baseline),
        Some(raw) => {
            let user = parse_user(raw).ok_or_else(|| PodError::InvalidUser {
                field: field("user"),
                value: raw.to_owned(),
            })?;
            let mut notes = Vec::new();
            match &user.user {
                Id::Number(0) => {
                    sc.run_as_user = Some(0);
                    notes.push("runs as root (uid 0)".to_owned());
                }
                Id::Name(n) if n == "root" => {
                    sc.run_as_user = Some(0);
                    notes.push("runs as root (uid 0)".to_owned());
                }
                Id::Number(uid) => {
                    sc.run_as_user = Some(*uid);
                    sc.run_as_non_root = Some(true);
                    if !privileged {
                        sc.capabilities = Some(Capabilities {
                            add: None,
                            drop: Some(vec!["ALL".to_owned()]),
                        });
                    }
                }
                Id::Name(n) => notes.push(format!(
                    "user name {n:?}: Kubernetes runs containers by numeric uid only, so the \
                     container runs as its image's user and runAsNonRoot is not set; give the \
                     uid instead (e.g. \"1000\")"
                )),
            }
            match user.group {
                None => {}
                Some(Id::Number(gid)) => sc.run_as_group = Some(gid),
                Some(Id::Name(g)) => b.report.note(
                    NoteKind::Approximated,
                    field("user"),
                    format!(
                        "group name {g:?}: Kubernetes sets groups by number only, so the container \
                         runs with its user's primary group; give the gid instead"
                    ),
                ),
            }
            if !notes.is_empty() {
                lower(b, field("user"), Profile::Baseline, &notes.join("; "));
            }
        }
    }
    for (j, opt) in c.docker_security_options.iter().flatten().enumerate() {
        security_option(b, &field(&format!("dockerSecurityOptions[{j}]")), opt, &mut sc);
    }
    b.containers[i].security_context = Some(sc);
    Ok(())
}

/// One `dockerSecurityOptions` entry (Docker's `--security-opt`, with `:` or `=`).
fn security_option(b: &mut Build<'_>, field: &str, opt: &str, sc: &mut SecurityContext) {
    let (key, value) = opt
        .split_once([':', '='])
        .map_or((opt, None), |(k, v)| (k, Some(v)));
    match (key, value) {
        ("no-new-privileges", None | Some("true")) => {
            if sc.privileged == Some(true) {
                b.report.note(
                    NoteKind::Ignored,
                    field,
                    "a privileged container can always gain privileges (Kubernetes rejects \
                     allowPrivilegeEscalation: false with privileged: true)",
                );
            } else {
                sc.allow_privilege_escalation = Some(false);
            }
        }
        ("no-new-privileges", Some("false")) => {
            sc.allow_privilege_escalation = None;
            lower(
                b,
                field,
                Profile::Baseline,
                "allowPrivilegeEscalation is left to the runtime (true)",
            );
        }
        ("apparmor", Some(profile)) => {
            let (type_, localhost_profile) = match profile {
                "unconfined" => ("Unconfined", None),
                "docker-default" | "runtime/default" => ("RuntimeDefault", None),
                p => ("Localhost", Some(p.to_owned())),
            };
            sc.app_armor_profile = Some(AppArmorProfile {
                type_: type_.to_owned(),
                localhost_profile,
            });
            if type_ == "Unconfined" {
                lower(b, field, Profile::Privileged, "appArmorProfile Unconfined");
            } else if type_ == "Localhost" {
                b.report.note(
                    NoteKind::Approximated,
                    field,
                    format!(
                        "appArmorProfile Localhost {profile:?}: the profile must be loaded on every \
                         node that may run the pod"
                    ),
                );
            }
        }
        ("label", Some(label)) => selinux_label(b, field, label, sc),
        ("credentialspec", _) => b.report.note(
            NoteKind::Ignored,
            field,
            "gMSA credential specs are Kubernetes GMSACredentialSpec objects (with the gMSA \
             webhook); create one and set securityContext.windowsOptions.gmsaCredentialSpecName",
        ),
        _ => b.report.note(
            NoteKind::Ignored,
            field,
            format!("{opt:?} is not a security option ECS or ecs-bridge knows"),
        ),
    }
}

/// `label:…` (SELinux) → `seLinuxOptions`.
fn selinux_label(b: &mut Build<'_>, field: &str, label: &str, sc: &mut SecurityContext) {
    let o = sc.se_linux_options.get_or_insert_with(SELinuxOptions::default);
    let (part, value) = label.split_once(':').unwrap_or((label, ""));
    match (part, value) {
        ("disable", _) => {
            // Docker's `label=disable` turns SELinux separation off; the closest Kubernetes
            // setting is the unconfined `spc_t` type.
            o.type_ = Some("spc_t".to_owned());
            lower(
                b,
                field,
                Profile::Privileged,
                "SELinux separation disabled: seLinuxOptions.type spc_t",
            );
        }
        ("user", v) if !v.is_empty() => {
            o.user = Some(v.to_owned());
            lower(b, field, Profile::Privileged, "seLinuxOptions.user");
        }
        ("role", v) if !v.is_empty() => {
            o.role = Some(v.to_owned());
            lower(b, field, Profile::Privileged, "seLinuxOptions.role");
        }
        ("type", v) if !v.is_empty() => {
            o.type_ = Some(v.to_owned());
            if !BASELINE_SELINUX_TYPES.contains(&v) {
                lower(b, field, Profile::Privileged, &format!("seLinuxOptions.type {v}"));
            }
        }
        ("level", v) if !v.is_empty() => o.level = Some(v.to_owned()),
        _ => {
            b.report.note(
                NoteKind::Ignored,
                field,
                format!("{label:?} is not an SELinux label option (user:, role:, type:, level:, disable)"),
            );
        }
    }
    if sc
        .se_linux_options
        .as_ref()
        .is_some_and(|o| *o == SELinuxOptions::default())
    {
        sc.se_linux_options = None;
    }
}

/// A Windows container: only `user` has a Windows meaning.
fn windows_container(b: &mut Build<'_>, i: usize, c: &ContainerDefinition) {
    let field = |f: &str| format!("containerDefinitions[{i}].{f}");
    if let Some(user) = c.user.as_deref().filter(|u| !u.is_empty()) {
        b.containers[i]
            .security_context
            .get_or_insert_with(SecurityContext::default)
            .windows_options = Some(WindowsSecurityContextOptions {
            run_as_user_name: Some(user.to_owned()),
            ..WindowsSecurityContextOptions::default()
        });
    }
    for (name, set) in [
        ("privileged", c.privileged == Some(true)),
        ("readonlyRootFilesystem", c.readonly_root_filesystem == Some(true)),
    ] {
        if set {
            b.report.note(
                NoteKind::Ignored,
                field(name),
                "not supported for Windows containers (by ECS either)",
            );
        }
    }
    for (j, opt) in c.docker_security_options.iter().flatten().enumerate() {
        b.report.note(
            NoteKind::Ignored,
            field(&format!("dockerSecurityOptions[{j}]")),
            if opt.starts_with("credentialspec") {
                "gMSA credential specs are Kubernetes GMSACredentialSpec objects (with the gMSA \
                 webhook); create one and set securityContext.windowsOptions.gmsaCredentialSpecName"
                    .to_owned()
            } else {
                format!("{opt:?} has no meaning for Windows containers")
            },
        );
    }
}

/// Container fields other than the security context.
fn container_misc(b: &mut Build<'_>, i: usize, c: &ContainerDefinition) {
    let field = |f: &str| format!("containerDefinitions[{i}].{f}");
    let k = &mut b.containers[i];
    if c.interactive == Some(true) {
        k.stdin = Some(true);
    }
    if c.pseudo_terminal == Some(true) {
        k.tty = Some(true);
    }
    if let Some(labels) = c.docker_labels.as_ref().filter(|l| !l.is_empty()) {
        let kname = b.containers[i].name.clone();
        docker_labels(b, &field("dockerLabels"), &kname, labels);
    }
    if c.disable_networking == Some(true) {
        b.report.note(
            NoteKind::Approximated,
            field("disableNetworking"),
            "true: the containers of a pod share one network namespace, so this container keeps \
             the pod's network; isolate the whole pod with a NetworkPolicy that denies all traffic",
        );
    }
    if c.credential_specs.as_ref().is_some_and(|s| !s.is_empty()) {
        b.report.note(
            NoteKind::Ignored,
            field("credentialSpecs"),
            "gMSA credential specs are Kubernetes GMSACredentialSpec objects (with the gMSA \
             webhook); create one and set securityContext.windowsOptions.gmsaCredentialSpecName",
        );
    }
    match c.version_consistency {
        None => {}
        Some(VersionConsistency::Enabled) => b.report.note(
            NoteKind::Approximated,
            field("versionConsistency"),
            "enabled: Kubernetes resolves an image tag on each node when it pulls, so tasks may \
             run different images if the tag moves; pin the image by digest (image@sha256:…) for \
             ECS's guarantee",
        ),
        Some(VersionConsistency::Disabled) => b.report.note(
            NoteKind::Ignored,
            field("versionConsistency"),
            "disabled: Kubernetes resolves an image tag on each node when it pulls, as asked",
        ),
    }
}

/// `dockerLabels` → pod annotations `<container>.docker-label.ecsbridge.io/<key>`, or, when a
/// key is not a valid annotation name, all labels as JSON in `docker-labels.ecsbridge.io/<container>`.
fn docker_labels(b: &mut Build<'_>, field: &str, container: &str, labels: &BTreeMap<String, String>) {
    // An annotation key is an optional DNS-subdomain prefix and a name of at most 63 characters
    // (https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations/#syntax-and-character-set).
    // The container name is a DNS label, so the prefix is always a valid subdomain.
    if let Some(bad) = labels.keys().find(|k| !is_qualified_name_part(k)) {
        let json = serde_json::to_string(labels).unwrap_or_default();
        let key = format!("{DOCKER_LABELS_JSON_PREFIX}{container}");
        b.annotations.insert(key.clone(), json);
        b.report.note(
            NoteKind::Approximated,
            field,
            format!(
                "label key {bad:?} is not a valid annotation name, so all labels of the container \
                 are kept as JSON in the pod annotation {key}; Kubernetes has no container labels"
            ),
        );
    } else {
        for (k, v) in labels {
            b.annotations
                .insert(format!("{container}.{DOCKER_LABEL_DOMAIN}/{k}"), v.clone());
        }
        b.report.note(
            NoteKind::Approximated,
            field,
            format!(
                "kept as pod annotations {container}.{DOCKER_LABEL_DOMAIN}/<key>; Kubernetes has no \
                 container labels, so tools that read Docker labels from the runtime do not see them"
            ),
        );
    }
}

/// Host namespaces and host resources the other stages create from the task definition, counted
/// in the pod's profile.
pub(super) fn host_namespaces(b: &mut Build<'_>) {
    if is_windows(b) {
        return;
    }
    if b.pod.host_network == Some(true) {
        lower(
            b,
            "networkMode",
            Profile::Privileged,
            "host: hostNetwork: true shares the node's network namespace",
        );
    } else {
        let ports: Vec<(usize, i32)> = b
            .containers
            .iter()
            .enumerate()
            .flat_map(|(i, k): (usize, &Container)| {
                k.ports
                    .iter()
                    .flatten()
                    .filter_map(move |p| p.host_port.filter(|h| *h > 0).map(|h| (i, h)))
            })
            .collect();
        for (i, port) in ports {
            lower(
                b,
                format!("containerDefinitions[{i}].portMappings"),
                Profile::Privileged,
                &format!("hostPort {port} binds a port of the node"),
            );
        }
    }
    // The task stage notes these itself.
    if b.td.pid_mode == Some(PidMode::Host) || b.td.ipc_mode == Some(crate::api::ecs::IpcMode::Host) {
        lower_level(b, Profile::Privileged);
    }
    // hostPath volumes (the volumes stage notes them).
    if b.td.volumes.iter().flatten().any(|v| {
        v.host
            .as_ref()
            .and_then(|h| h.source_path.as_deref())
            .is_some_and(|p| !p.is_empty())
    }) {
        lower_level(b, Profile::Privileged);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::{
        names::is_dns_subdomain,
        translate::{
            Note,
            pod::{PodTranslation, pod_template},
            testing::{container, notes, one, spec, translate},
        },
    };

    fn sc(t: &PodTranslation, i: usize) -> SecurityContext {
        container(t, i)
            .security_context
            .clone()
            .expect("security context")
    }

    fn annotations(t: &PodTranslation) -> BTreeMap<String, String> {
        t.template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.clone())
            .expect("annotations")
    }

    fn level(t: &PodTranslation) -> Option<String> {
        annotations(t).get(POD_SECURITY_ANNOTATION).cloned()
    }

    #[test]
    fn parses_every_user_form() {
        let n = Id::Number;
        let s = |x: &str| Id::Name(x.to_owned());
        let cases = [
            ("1000", n(1000), None),
            ("1000:50", n(1000), Some(n(50))),
            ("nginx", s("nginx"), None),
            ("nginx:www", s("nginx"), Some(s("www"))),
            ("1000:www", n(1000), Some(s("www"))),
            ("nginx:50", s("nginx"), Some(n(50))),
            ("0", n(0), None),
            ("2147483647", n(2_147_483_647), None),
        ];
        for (raw, user, group) in cases {
            assert_eq!(parse_user(raw), Some(User { user, group }), "{raw}");
        }
        for bad in [":", "1000:", ":50", "2147483648", "99999999999999999999"] {
            assert_eq!(parse_user(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_numeric_non_root_user_gets_the_restricted_profile() {
        let t = one(json!({"name": "a", "image": "x", "user": "1000:2000"}));
        let sc = sc(&t, 0);
        assert_eq!(sc.run_as_user, Some(1000));
        assert_eq!(sc.run_as_group, Some(2000));
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            sc.capabilities.expect("capabilities").drop,
            Some(vec!["ALL".to_owned()])
        );
        assert_eq!(sc.privileged, None);
        let pod_sc = spec(&t).security_context.clone().expect("pod security context");
        assert_eq!(pod_sc.seccomp_profile.expect("seccomp").type_, "RuntimeDefault");
        assert_eq!(level(&t).as_deref(), Some("restricted"));
        assert!(notes(&t, "containerDefinitions[0].user").is_empty());
    }

    #[test]
    fn without_a_user_the_image_decides_and_the_pod_is_baseline() {
        let t = one(json!({"name": "a", "image": "nginx"}));
        let sc = sc(&t, 0);
        assert_eq!(sc.run_as_non_root, None, "many images run as root");
        assert_eq!(sc.run_as_user, None);
        assert_eq!(sc.capabilities, None, "the runtime's default set, as in ECS");
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(level(&t).as_deref(), Some("baseline"));
        assert!(t.report.notes.is_empty(), "{:?}", t.report.notes);
    }

    #[test]
    fn root_runs_as_uid_0_and_lowers_the_profile() {
        for user in ["0", "root", "0:0", "root:wheel"] {
            let t = one(json!({"name": "a", "image": "x", "user": user}));
            let sc = sc(&t, 0);
            assert_eq!(sc.run_as_user, Some(0), "{user}");
            assert_eq!(sc.run_as_non_root, None, "{user}");
            assert_eq!(level(&t).as_deref(), Some("baseline"), "{user}");
            let n = notes(&t, "containerDefinitions[0].user");
            assert!(
                n.iter().any(|n| n.message.starts_with("runs as root")
                    && n.message.contains("below the Pod Security restricted profile")),
                "{user}: {n:?}"
            );
        }
    }

    #[test]
    fn user_and_group_names_cannot_be_expressed() {
        let t = one(json!({"name": "a", "image": "x", "user": "nginx:www"}));
        let sc = sc(&t, 0);
        assert_eq!((sc.run_as_user, sc.run_as_group), (None, None));
        assert_eq!(sc.run_as_non_root, None);
        let n = notes(&t, "containerDefinitions[0].user");
        assert_eq!(n.len(), 2, "{n:?}");
        assert!(n.iter().all(|n| n.kind == NoteKind::Approximated));
        assert!(n.iter().any(|n| n.message.contains("user name \"nginx\"")));
        assert!(n.iter().any(|n| n.message.contains("group name \"www\"")));
        assert_eq!(level(&t).as_deref(), Some("baseline"));

        let t = one(json!({"name": "a", "image": "x", "user": "1000:www"}));
        let sc = self::sc(&t, 0);
        assert_eq!(
            (sc.run_as_user, sc.run_as_non_root, sc.run_as_group),
            (Some(1000), Some(true), None)
        );
        assert_eq!(level(&t).as_deref(), Some("restricted"));
    }

    #[test]
    fn a_malformed_user_is_an_error_naming_the_field() {
        let td = serde_json::from_value(json!({
            "family": "t",
            "containerDefinitions": [{"name": "a", "image": "x"}, {"name": "b", "image": "x", "user": "1000:"}]
        }))
        .expect("task definition");
        let err = pod_template("t", &td, 1).expect_err("bad user");
        assert!(matches!(err, PodError::InvalidUser { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("spec.containerDefinitions[1].user: \"1000:\" is not a user"),
            "{err}"
        );
    }

    #[test]
    fn privileged_lowers_the_pod_to_privileged() {
        let t = translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x", "user": "1000"},
            {"name": "b", "image": "x", "user": "1000", "privileged": true, "readonlyRootFilesystem": true}
        ]}));
        let sc = sc(&t, 1);
        assert_eq!(sc.privileged, Some(true));
        assert_eq!(
            sc.allow_privilege_escalation, None,
            "Kubernetes rejects false with privileged"
        );
        assert_eq!(sc.capabilities, None);
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(level(&t).as_deref(), Some("privileged"));
        let n = notes(&t, "containerDefinitions[1].privileged");
        assert_eq!(n.len(), 1);
        assert!(
            n[0].message
                .ends_with("lowers the pod below the Pod Security baseline profile"),
            "{}",
            n[0].message
        );
        assert_eq!(self::sc(&t, 0).privileged, None);
    }

    #[test]
    fn privileged_false_and_other_defaults_change_nothing() {
        let t = one(json!({
            "name": "a", "image": "x", "user": "1000", "privileged": false,
            "readonlyRootFilesystem": false, "interactive": false, "pseudoTerminal": false
        }));
        assert_eq!(level(&t).as_deref(), Some("restricted"));
        let c = container(&t, 0);
        assert_eq!((c.stdin, c.tty), (None, None));
        assert_eq!(sc(&t, 0).read_only_root_filesystem, None);
        assert!(t.report.notes.is_empty(), "{:?}", t.report.notes);
    }

    #[test]
    fn interactive_and_pseudo_terminal_are_stdin_and_tty() {
        let t = one(json!({"name": "a", "image": "x", "interactive": true, "pseudoTerminal": true}));
        let c = container(&t, 0);
        assert_eq!((c.stdin, c.tty), (Some(true), Some(true)));
    }

    #[test]
    fn docker_labels_become_annotations_with_valid_keys() {
        let t = one(json!({"name": "web_app", "image": "x", "dockerLabels": {
            "com.example.team": "payments", "name": "katsubushi"
        }}));
        let a = annotations(&t);
        assert_eq!(
            a["web-app.docker-label.ecsbridge.io/com.example.team"],
            "payments"
        );
        assert_eq!(a["web-app.docker-label.ecsbridge.io/name"], "katsubushi");
        for k in a.keys() {
            let (prefix, name) = k.split_once('/').expect("prefixed");
            assert!(is_dns_subdomain(prefix) && is_qualified_name_part(name), "{k}");
        }
        assert_eq!(
            notes(&t, "containerDefinitions[0].dockerLabels")[0].kind,
            NoteKind::Approximated
        );
    }

    #[test]
    fn docker_labels_with_an_invalid_key_are_kept_as_json() {
        let labels = json!({
            "traefik.http.routers.web/rule": "Host(`x`)",
            "ok": "1",
            "x".repeat(64): "long"
        });
        let t = one(json!({"name": "web", "image": "x", "dockerLabels": labels}));
        let a = annotations(&t);
        let json: Value = serde_json::from_str(&a["docker-labels.ecsbridge.io/web"]).expect("JSON");
        assert_eq!(json, labels, "no label is lost");
        assert!(
            !a.keys().any(|k| k.contains("docker-label.ecsbridge.io/")),
            "all or nothing: {a:?}"
        );
    }

    #[test]
    fn qualified_name_parts() {
        for ok in ["a", "com.example_x-y", "A1", &"x".repeat(63)] {
            assert!(is_qualified_name_part(ok), "{ok}");
        }
        for bad in ["", "-a", "a.", "a/b", "a:b", "a b", &"x".repeat(64)] {
            assert!(!is_qualified_name_part(bad), "{bad}");
        }
    }

    #[test]
    fn docker_security_options() {
        let t = one(
            json!({"name": "a", "image": "x", "user": "1000", "dockerSecurityOptions": [
                "no-new-privileges", "apparmor:my-profile", "label:type:container_t", "label:level:s0:c1,c2"
            ]}),
        );
        let sc = sc(&t, 0);
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            sc.app_armor_profile,
            Some(AppArmorProfile {
                type_: "Localhost".to_owned(),
                localhost_profile: Some("my-profile".to_owned())
            })
        );
        assert_eq!(
            sc.se_linux_options,
            Some(SELinuxOptions {
                type_: Some("container_t".to_owned()),
                level: Some("s0:c1,c2".to_owned()),
                ..SELinuxOptions::default()
            })
        );
        assert_eq!(level(&t).as_deref(), Some("restricted"));

        let t = one(
            json!({"name": "a", "image": "x", "user": "1000", "dockerSecurityOptions": [
                "apparmor=unconfined", "label=user:system_u", "credentialspec:file://x.json", "seccomp=unconfined"
            ]}),
        );
        let sc = self::sc(&t, 0);
        assert_eq!(sc.app_armor_profile.expect("apparmor").type_, "Unconfined");
        assert_eq!(
            sc.se_linux_options.expect("selinux").user.as_deref(),
            Some("system_u")
        );
        assert_eq!(level(&t).as_deref(), Some("privileged"));
        for j in 0..2 {
            assert_eq!(
                notes(&t, &format!("containerDefinitions[0].dockerSecurityOptions[{j}]"))[0].kind,
                NoteKind::Approximated
            );
        }
        for j in 2..4 {
            assert_eq!(
                notes(&t, &format!("containerDefinitions[0].dockerSecurityOptions[{j}]"))[0].kind,
                NoteKind::Ignored
            );
        }
    }

    #[test]
    fn fields_without_a_kubernetes_meaning_are_reported() {
        let t = one(json!({
            "name": "a", "image": "x", "user": "1000", "disableNetworking": true,
            "credentialSpecs": ["credentialspec:arn:aws:s3:::bucket/spec.json"],
            "versionConsistency": "enabled"
        }));
        for (f, kind) in [
            ("disableNetworking", NoteKind::Approximated),
            ("credentialSpecs", NoteKind::Ignored),
            ("versionConsistency", NoteKind::Approximated),
        ] {
            let n = notes(&t, &format!("containerDefinitions[0].{f}"));
            assert_eq!(n.len(), 1, "{f}");
            assert_eq!(n[0].kind, kind, "{f}");
        }
        let t = one(json!({"name": "a", "image": "x", "versionConsistency": "disabled"}));
        assert_eq!(
            notes(&t, "containerDefinitions[0].versionConsistency")[0].kind,
            NoteKind::Ignored
        );
    }

    #[test]
    fn host_networking_and_host_paths_lower_the_profile() {
        let t = translate(json!({"family": "t", "networkMode": "host",
            "volumes": [{"name": "sock", "host": {"sourcePath": "/var/run/docker.sock"}}, {"name": "scratch"}],
            "containerDefinitions": [{"name": "a", "image": "x", "user": "1000"}]}));
        assert_eq!(level(&t).as_deref(), Some("privileged"));
        assert!(
            notes(&t, "networkMode")
                .iter()
                .any(|n| n.message.contains("below the Pod Security baseline profile"))
        );
        assert!(
            notes(&t, "volumes[0].host.sourcePath")
                .iter()
                .all(|n| !n.message.contains("this lowers")),
            "the volumes stage notes it"
        );
    }

    #[test]
    fn windows_containers_get_no_linux_settings() {
        let t = translate(json!({"family": "t",
            "runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"},
            "containerDefinitions": [{"name": "a", "image": "x", "user": "ContainerUser", "privileged": true}]}));
        assert_eq!(level(&t), None);
        assert!(
            spec(&t)
                .security_context
                .as_ref()
                .is_none_or(|s| s.seccomp_profile.is_none())
        );
        let sc = sc(&t, 0);
        assert_eq!(
            sc.windows_options.and_then(|w| w.run_as_user_name).as_deref(),
            Some("ContainerUser")
        );
        assert_eq!((sc.privileged, sc.allow_privilege_escalation), (None, None));
        assert_eq!(
            notes(&t, "containerDefinitions[0].privileged")[0].kind,
            NoteKind::Ignored
        );
    }

    #[test]
    fn every_field_of_this_stage_is_handled() {
        let t = one(json!({
            "name": "a", "image": "x", "user": "1000", "privileged": true,
            "readonlyRootFilesystem": true, "interactive": true, "pseudoTerminal": true,
            "dockerLabels": {"a": "b"}, "hostname": "h", "dnsServers": ["10.0.0.2"],
            "dnsSearchDomains": ["example.com"], "extraHosts": [{"hostname": "x", "ipAddress": "10.0.0.1"}],
            "links": ["b"], "disableNetworking": true, "dockerSecurityOptions": ["no-new-privileges"],
            "credentialSpecs": ["credentialspec:arn:aws:s3:::b/c"], "versionConsistency": "disabled"
        }));
        let untranslated: Vec<&Note> = t
            .report
            .notes
            .iter()
            .filter(|n| n.kind == NoteKind::NotYetTranslated)
            .collect();
        assert!(untranslated.is_empty(), "{untranslated:?}");
    }
}

/// Kubernetes' OS checks (`validateOS` in `pkg/apis/core/validation`): the fields a pod with
/// `spec.os.name: windows` must not set, and `windowsOptions`, which a Linux pod must not set.
#[cfg(test)]
mod os_rule_tests {
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use serde_json::json;

    use crate::{
        api::ecs::RegisterTaskDefinition,
        translate::{
            pod::{PodTranslation, pod_template},
            testing::corpus_task_definition,
        },
    };

    /// The fields Kubernetes refuses for the pod's OS.
    fn refused_for_os(pod: &PodSpec) -> Vec<String> {
        let mut refused = Vec::new();
        let windows = pod.os.as_ref().is_some_and(|o| o.name == "windows");
        let containers: Vec<&Container> = pod
            .containers
            .iter()
            .chain(pod.init_containers.iter().flatten())
            .collect();
        if windows {
            let mut no = |set: bool, field: &str| {
                if set {
                    refused.push(field.to_owned());
                }
            };
            no(pod.host_pid == Some(true), "spec.hostPID");
            no(pod.host_ipc == Some(true), "spec.hostIPC");
            no(
                pod.share_process_namespace.is_some(),
                "spec.shareProcessNamespace",
            );
            if let Some(sc) = &pod.security_context {
                no(
                    sc.se_linux_options.is_some(),
                    "spec.securityContext.seLinuxOptions",
                );
                no(
                    sc.seccomp_profile.is_some(),
                    "spec.securityContext.seccompProfile",
                );
                no(
                    sc.app_armor_profile.is_some(),
                    "spec.securityContext.appArmorProfile",
                );
                no(sc.fs_group.is_some(), "spec.securityContext.fsGroup");
                no(
                    sc.fs_group_change_policy.is_some(),
                    "spec.securityContext.fsGroupChangePolicy",
                );
                no(
                    sc.sysctls.as_ref().is_some_and(|s| !s.is_empty()),
                    "spec.securityContext.sysctls",
                );
                no(sc.run_as_user.is_some(), "spec.securityContext.runAsUser");
                no(sc.run_as_group.is_some(), "spec.securityContext.runAsGroup");
                no(
                    sc.supplemental_groups.as_ref().is_some_and(|g| !g.is_empty()),
                    "spec.securityContext.supplementalGroups",
                );
                no(
                    sc.supplemental_groups_policy.is_some(),
                    "spec.securityContext.supplementalGroupsPolicy",
                );
            }
            for c in &containers {
                if let Some(sc) = &c.security_context {
                    let name = &c.name;
                    no(sc.se_linux_options.is_some(), &format!("{name}.seLinuxOptions"));
                    no(sc.seccomp_profile.is_some(), &format!("{name}.seccompProfile"));
                    no(sc.app_armor_profile.is_some(), &format!("{name}.appArmorProfile"));
                    no(sc.capabilities.is_some(), &format!("{name}.capabilities"));
                    no(
                        sc.read_only_root_filesystem.is_some(),
                        &format!("{name}.readOnlyRootFilesystem"),
                    );
                    no(sc.privileged.is_some(), &format!("{name}.privileged"));
                    no(
                        sc.allow_privilege_escalation.is_some(),
                        &format!("{name}.allowPrivilegeEscalation"),
                    );
                    no(sc.proc_mount.is_some(), &format!("{name}.procMount"));
                    no(sc.run_as_user.is_some(), &format!("{name}.runAsUser"));
                    no(sc.run_as_group.is_some(), &format!("{name}.runAsGroup"));
                }
            }
        } else {
            if pod
                .security_context
                .as_ref()
                .is_some_and(|s| s.windows_options.is_some())
            {
                refused.push("spec.securityContext.windowsOptions".to_owned());
            }
            for c in &containers {
                if c.security_context
                    .as_ref()
                    .is_some_and(|s| s.windows_options.is_some())
                {
                    refused.push(format!("{}.windowsOptions", c.name));
                }
            }
        }
        refused
    }

    fn translate(td: &RegisterTaskDefinition) -> PodTranslation {
        pod_template("t", td, 1).expect("translates")
    }

    #[test]
    fn windows_pods_set_no_linux_only_field_and_linux_pods_no_windows_options() {
        // Everything Linux-flavoured a task definition can ask for, on each OS.
        let linuxy = json!({"name": "a", "image": "x", "user": "1000:1000", "privileged": true,
            "readonlyRootFilesystem": true, "dockerSecurityOptions": ["no-new-privileges", "apparmor:p", "label:type:t"],
            "systemControls": [{"namespace": "net.ipv4.ip_local_port_range", "value": "1024 65000"}],
            "linuxParameters": {"initProcessEnabled": true, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                "sharedMemorySize": 64, "tmpfs": [{"containerPath": "/tmp", "size": 64}]}});
        let windows_by_hint = json!({"name": "w", "image": "x", "workingDirectory": "C:\\app"});
        for (case, td) in [
            (
                "windows 2022",
                json!({"family": "t", "pidMode": "task", "ipcMode": "host",
                "runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}, "containerDefinitions": [linuxy.clone()]}),
            ),
            (
                "windows by hint",
                json!({"family": "t", "pidMode": "task", "containerDefinitions": [windows_by_hint, linuxy.clone()]}),
            ),
            (
                "linux",
                json!({"family": "t", "pidMode": "task", "runtimePlatform": {"operatingSystemFamily": "LINUX"},
                "containerDefinitions": [linuxy.clone()]}),
            ),
            (
                "unsaid",
                json!({"family": "t", "containerDefinitions": [linuxy.clone()]}),
            ),
        ] {
            let td: RegisterTaskDefinition = serde_json::from_value(td).expect("task definition");
            let pod = translate(&td).template.spec.expect("pod");
            assert_eq!(refused_for_os(&pod), Vec::<String>::new(), "{case}");
            if case.starts_with("windows") {
                assert_eq!(
                    pod.os.as_ref().map(|o| o.name.as_str()),
                    Some("windows"),
                    "{case}"
                );
            }
        }
    }

    #[test]
    fn corpus_windows_task_definitions_are_windows_pods_kubernetes_accepts() {
        for file in [
            "taskdef-datadog-agent-windows-named-pipe.json",
            "taskdef-ecsagent-windows-gmsa-credentialspec.json",
        ] {
            let pod = translate(&corpus_task_definition(file))
                .template
                .spec
                .expect("pod");
            assert_eq!(
                pod.os.as_ref().map(|o| o.name.as_str()),
                Some("windows"),
                "{file}"
            );
            assert_eq!(refused_for_os(&pod), Vec::<String>::new(), "{file}");
        }
    }
}
