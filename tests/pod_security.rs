//! An independent check that the generated pods meet the Pod Security Standards profile their
//! `ecsbridge.io/pod-security` annotation claims.
//!
//! The checker below ([`level`]) is written from the standard itself
//! (<https://kubernetes.io/docs/concepts/security/pod-security-standards/>, the controls of the
//! latest version), not from the translation's code, so that the two can disagree:
//!
//! * **Baseline**: HostProcess; host namespaces (`hostNetwork`, `hostPID`, `hostIPC`); privileged
//!   containers; capabilities added beyond the baseline list; `hostPath` volumes; non-zero
//!   `hostPort`s (the built-in admission controller supports no "known list", nor does this
//!   checker); the `host` field of probes and lifecycle hooks (v1.34+); AppArmor profile types
//!   other than `RuntimeDefault`/`Localhost` (and, for templates, the legacy
//!   `container.apparmor.security.beta.kubernetes.io/*` annotations other than
//!   `runtime/default`/`localhost/*`); SELinux types outside `container_t`, `container_init_t`,
//!   `container_kvm_t`, `container_engine_t`, and any SELinux user or role; `procMount` other than
//!   `Default`; seccomp `Unconfined`; sysctls outside the safe set.
//! * **Restricted**, on top: volume types limited to `configMap`, `csi`, `downwardAPI`,
//!   `emptyDir`, `ephemeral`, `persistentVolumeClaim`, `projected`, `secret`;
//!   `allowPrivilegeEscalation: false`; `runAsNonRoot: true` (per container, or inherited from
//!   the pod); no `runAsUser: 0`; seccomp `RuntimeDefault` or `Localhost` (per container, or
//!   inherited from the pod); capabilities dropping `ALL` and adding nothing but
//!   `NET_BIND_SERVICE`.
//!
//! Every control applies to `containers`, `initContainers` and `ephemeralContainers`. The
//! standard makes three restricted controls Linux-only (privilege escalation, seccomp,
//! capabilities): pods with `spec.os.name: windows` are exempt from them. User namespaces
//! (`hostUsers: false`), which relax the non-root checks in the admission controller, are not
//! taken into account: the checker is stricter there, never laxer. The optional "non-root groups"
//! control of older versions of the standard is no longer part of it and is not checked.
//!
//! The tests: the checker on hand-written pods (one per control); every task definition of the
//! shared corpus (`../shared/corpus/ecs/taskdef-*.json`) translated, whose annotation must never
//! claim more than the checker finds, with a note for each field that lowered it; and synthetic
//! task definitions, one per field that lowers the profile, each with the level and the note on
//! the responsible field asserted.

mod support;

use std::collections::BTreeMap;

use ecs_bridge::{
    api::ecs::RegisterTaskDefinition,
    import::{ImportOptions, Imported, import_file},
    translate::{
        pod::{PodTranslation, pod_template},
        report::Note,
    },
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EphemeralContainer, HTTPGetAction, Lifecycle, LifecycleHandler,
    PodOS, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SELinuxOptions, SeccompProfile,
    SecurityContext, Sysctl, TCPSocketAction, Volume, WindowsSecurityContextOptions,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The checker.
// ---------------------------------------------------------------------------------------------

/// The annotation the translation writes on the pod template.
const ANNOTATION: &str = "ecsbridge.io/pod-security";

/// Capabilities the baseline profile allows to add.
const BASELINE_ADD: &[&str] = &[
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

/// SELinux types the baseline profile allows (besides undefined / "").
const SELINUX_TYPES: &[&str] = &[
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// The "safe" sysctls of the baseline profile.
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// Profiles, least strict first, so that `rank(a) >= rank(b)` means "a is at least as strict".
const LEVELS: &[&str] = &["privileged", "baseline", "restricted"];

fn rank(level: &str) -> usize {
    LEVELS
        .iter()
        .position(|l| *l == level)
        .unwrap_or_else(|| panic!("{level:?} is not a Pod Security level"))
}

/// The parts of a container (regular, init or ephemeral) the standard restricts.
struct View<'a> {
    /// `spec.containers[i]` and so on.
    path: String,
    sc: Option<&'a SecurityContext>,
    ports: &'a [ContainerPort],
    probes: [(&'static str, Option<&'a Probe>); 3],
    lifecycle: Option<&'a Lifecycle>,
}

impl<'a> View<'a> {
    fn of(path: String, c: &'a Container) -> Self {
        Self {
            path,
            sc: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            probes: [
                ("livenessProbe", c.liveness_probe.as_ref()),
                ("readinessProbe", c.readiness_probe.as_ref()),
                ("startupProbe", c.startup_probe.as_ref()),
            ],
            lifecycle: c.lifecycle.as_ref(),
        }
    }

    fn of_ephemeral(path: String, c: &'a EphemeralContainer) -> Self {
        Self {
            path,
            sc: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            probes: [
                ("livenessProbe", c.liveness_probe.as_ref()),
                ("readinessProbe", c.readiness_probe.as_ref()),
                ("startupProbe", c.startup_probe.as_ref()),
            ],
            lifecycle: c.lifecycle.as_ref(),
        }
    }
}

fn views(pod: &PodSpec) -> Vec<View<'_>> {
    let mut out: Vec<View<'_>> = pod
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| View::of(format!("spec.containers[{i}]"), c))
        .collect();
    for (i, c) in pod.init_containers.iter().flatten().enumerate() {
        out.push(View::of(format!("spec.initContainers[{i}]"), c));
    }
    for (i, c) in pod.ephemeral_containers.iter().flatten().enumerate() {
        out.push(View::of_ephemeral(format!("spec.ephemeralContainers[{i}]"), c));
    }
    out
}

/// Violations of the baseline profile.
fn baseline_violations(pod: &PodSpec) -> Vec<String> {
    let mut v = Vec::new();
    let psc = pod.security_context.as_ref();

    // HostProcess.
    if psc
        .and_then(|s| s.windows_options.as_ref())
        .and_then(|w| w.host_process)
        == Some(true)
    {
        v.push("spec.securityContext.windowsOptions.hostProcess: must be unset or false".into());
    }
    // Host namespaces.
    for (name, value) in [
        ("hostNetwork", pod.host_network),
        ("hostPID", pod.host_pid),
        ("hostIPC", pod.host_ipc),
    ] {
        if value == Some(true) {
            v.push(format!("spec.{name}: sharing a host namespace is not allowed"));
        }
    }
    // HostPath volumes.
    for (i, vol) in pod.volumes.iter().flatten().enumerate() {
        if vol.host_path.is_some() {
            v.push(format!(
                "spec.volumes[{i}].hostPath: hostPath volumes are forbidden"
            ));
        }
    }
    // Pod-level AppArmor, SELinux, seccomp, sysctls.
    if let Some(psc) = psc {
        if let Some(a) = &psc.app_armor_profile
            && !matches!(a.type_.as_str(), "RuntimeDefault" | "Localhost")
        {
            v.push(format!(
                "spec.securityContext.appArmorProfile.type: {:?} is not allowed",
                a.type_
            ));
        }
        selinux(&mut v, "spec.securityContext", psc.se_linux_options.as_ref());
        if let Some(s) = &psc.seccomp_profile
            && s.type_ == "Unconfined"
        {
            v.push("spec.securityContext.seccompProfile.type: Unconfined is not allowed".into());
        }
        for (i, s) in psc.sysctls.iter().flatten().enumerate() {
            if !SAFE_SYSCTLS.contains(&s.name.as_str()) {
                v.push(format!(
                    "spec.securityContext.sysctls[{i}].name: {:?} is not a safe sysctl",
                    s.name
                ));
            }
        }
    }

    for c in views(pod) {
        let p = &c.path;
        if let Some(sc) = c.sc {
            if sc.windows_options.as_ref().and_then(|w| w.host_process) == Some(true) {
                v.push(format!(
                    "{p}.securityContext.windowsOptions.hostProcess: must be unset or false"
                ));
            }
            if sc.privileged == Some(true) {
                v.push(format!(
                    "{p}.securityContext.privileged: privileged containers are not allowed"
                ));
            }
            for cap in sc.capabilities.iter().flat_map(|c| c.add.iter().flatten()) {
                if !BASELINE_ADD.contains(&cap.as_str()) {
                    v.push(format!(
                        "{p}.securityContext.capabilities.add: {cap:?} is beyond the baseline set"
                    ));
                }
            }
            if let Some(a) = &sc.app_armor_profile
                && !matches!(a.type_.as_str(), "RuntimeDefault" | "Localhost")
            {
                v.push(format!(
                    "{p}.securityContext.appArmorProfile.type: {:?} is not allowed",
                    a.type_
                ));
            }
            selinux(
                &mut v,
                &format!("{p}.securityContext"),
                sc.se_linux_options.as_ref(),
            );
            if let Some(m) = &sc.proc_mount
                && m != "Default"
            {
                v.push(format!("{p}.securityContext.procMount: {m:?} is not allowed"));
            }
            if let Some(s) = &sc.seccomp_profile
                && s.type_ == "Unconfined"
            {
                v.push(format!(
                    "{p}.securityContext.seccompProfile.type: Unconfined is not allowed"
                ));
            }
        }
        for (i, port) in c.ports.iter().enumerate() {
            if port.host_port.is_some_and(|h| h != 0) {
                v.push(format!(
                    "{p}.ports[{i}].hostPort: {} is not allowed",
                    port.host_port.unwrap_or_default()
                ));
            }
        }
        for (name, probe) in c.probes {
            if let Some(probe) = probe {
                host_field(
                    &mut v,
                    &format!("{p}.{name}"),
                    probe.http_get.as_ref(),
                    probe.tcp_socket.as_ref(),
                );
            }
        }
        if let Some(l) = c.lifecycle {
            for (name, h) in [("postStart", &l.post_start), ("preStop", &l.pre_stop)] {
                if let Some(h) = h {
                    host_field(
                        &mut v,
                        &format!("{p}.lifecycle.{name}"),
                        h.http_get.as_ref(),
                        h.tcp_socket.as_ref(),
                    );
                }
            }
        }
    }
    v
}

/// The SELinux control: type in the allowed list (or empty), no user, no role.
fn selinux(v: &mut Vec<String>, at: &str, o: Option<&SELinuxOptions>) {
    let Some(o) = o else { return };
    if let Some(t) = o.type_.as_deref()
        && !t.is_empty()
        && !SELINUX_TYPES.contains(&t)
    {
        v.push(format!("{at}.seLinuxOptions.type: {t:?} is not allowed"));
    }
    for (name, value) in [("user", &o.user), ("role", &o.role)] {
        if value.as_deref().is_some_and(|s| !s.is_empty()) {
            v.push(format!("{at}.seLinuxOptions.{name}: must be unset"));
        }
    }
}

/// The host probes / lifecycle hooks control: `host` undefined or "".
fn host_field(v: &mut Vec<String>, at: &str, http: Option<&HTTPGetAction>, tcp: Option<&TCPSocketAction>) {
    if http
        .and_then(|h| h.host.as_deref())
        .is_some_and(|h| !h.is_empty())
    {
        v.push(format!("{at}.httpGet.host: must be unset"));
    }
    if tcp.and_then(|t| t.host.as_deref()).is_some_and(|h| !h.is_empty()) {
        v.push(format!("{at}.tcpSocket.host: must be unset"));
    }
}

/// Violations of the restricted profile's own controls (the baseline ones are not repeated).
fn restricted_violations(pod: &PodSpec) -> Vec<String> {
    let mut v = Vec::new();
    let psc = pod.security_context.as_ref();
    // The Linux-only controls do not apply to Windows pods.
    let linux = pod.os.as_ref().is_none_or(|os| os.name != "windows");

    // Volume types.
    for (i, vol) in pod.volumes.iter().flatten().enumerate() {
        let allowed = vol.config_map.is_some()
            || vol.csi.is_some()
            || vol.downward_api.is_some()
            || vol.empty_dir.is_some()
            || vol.ephemeral.is_some()
            || vol.persistent_volume_claim.is_some()
            || vol.projected.is_some()
            || vol.secret.is_some();
        if !allowed {
            v.push(format!("spec.volumes[{i}]: volume type is not allowed"));
        }
    }

    let pod_non_root = psc.and_then(|s| s.run_as_non_root);
    if pod_non_root == Some(false) {
        v.push("spec.securityContext.runAsNonRoot: must be true".into());
    }
    if psc.and_then(|s| s.run_as_user) == Some(0) {
        v.push("spec.securityContext.runAsUser: must not be 0".into());
    }
    let pod_seccomp = psc
        .and_then(|s| s.seccomp_profile.as_ref())
        .map(|s| s.type_.as_str());
    let seccomp_ok = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
    if linux && pod_seccomp.is_some_and(|t| !seccomp_ok(t)) {
        v.push(format!(
            "spec.securityContext.seccompProfile.type: {:?} is not allowed",
            pod_seccomp.unwrap_or_default()
        ));
    }

    for c in views(pod) {
        let p = &c.path;
        let sc = c.sc;
        if linux && sc.and_then(|s| s.allow_privilege_escalation) != Some(false) {
            v.push(format!(
                "{p}.securityContext.allowPrivilegeEscalation: must be false"
            ));
        }
        match sc.and_then(|s| s.run_as_non_root) {
            Some(true) => {}
            Some(false) => v.push(format!("{p}.securityContext.runAsNonRoot: must be true")),
            None if pod_non_root == Some(true) => {}
            None => v.push(format!(
                "{p}.securityContext.runAsNonRoot: must be true (here or in spec.securityContext)"
            )),
        }
        if sc.and_then(|s| s.run_as_user) == Some(0) {
            v.push(format!("{p}.securityContext.runAsUser: must not be 0"));
        }
        if linux {
            match sc.and_then(|s| s.seccomp_profile.as_ref()).map(|s| s.type_.as_str()) {
                Some(t) if seccomp_ok(t) => {}
                Some(t) => v.push(format!("{p}.securityContext.seccompProfile.type: {t:?} is not allowed")),
                None if pod_seccomp.is_some_and(seccomp_ok) => {}
                None => v.push(format!(
                    "{p}.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost (here or in spec.securityContext)"
                )),
            }
            let caps = sc.and_then(|s| s.capabilities.as_ref());
            if !caps
                .and_then(|c| c.drop.as_ref())
                .is_some_and(|d| d.iter().any(|c| c == "ALL"))
            {
                v.push(format!("{p}.securityContext.capabilities.drop: must include ALL"));
            }
            for cap in caps.iter().flat_map(|c| c.add.iter().flatten()) {
                if cap != "NET_BIND_SERVICE" {
                    v.push(format!(
                        "{p}.securityContext.capabilities.add: only NET_BIND_SERVICE may be added, not {cap:?}"
                    ));
                }
            }
        }
    }
    v
}

/// The strictest Pod Security Standards profile `pod` meets, and the violations of the next
/// stricter one (none for restricted), as "field: reason".
fn level(pod: &PodSpec) -> (&'static str, Vec<String>) {
    let baseline = baseline_violations(pod);
    if !baseline.is_empty() {
        return ("privileged", baseline);
    }
    let restricted = restricted_violations(pod);
    if restricted.is_empty() {
        ("restricted", restricted)
    } else {
        ("baseline", restricted)
    }
}

/// [`level`] of a pod template, with the legacy AppArmor annotations of its metadata checked too
/// (baseline: `runtime/default`, `localhost/*` or undefined).
fn template_level(t: &PodTemplateSpec) -> (&'static str, Vec<String>) {
    let spec = t.spec.as_ref().expect("pod template has a spec");
    let mut annotation_violations = Vec::new();
    for (k, value) in t.metadata.iter().flat_map(|m| m.annotations.iter().flatten()) {
        if k.starts_with("container.apparmor.security.beta.kubernetes.io/")
            && value != "runtime/default"
            && !value.starts_with("localhost/")
        {
            annotation_violations.push(format!("metadata.annotations[{k:?}]: {value:?} is not allowed"));
        }
    }
    if annotation_violations.is_empty() {
        level(spec)
    } else {
        let mut all = annotation_violations;
        all.extend(baseline_violations(spec));
        ("privileged", all)
    }
}

// ---------------------------------------------------------------------------------------------
// Checker self-tests on hand-written pods.
// ---------------------------------------------------------------------------------------------

/// A container meeting the restricted profile on its own.
fn restricted_container(name: &str) -> Container {
    Container {
        name: name.into(),
        image: Some("app".into()),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            run_as_non_root: Some(true),
            run_as_user: Some(1000),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: Some(vec!["NET_BIND_SERVICE".into()]),
            }),
            ..SecurityContext::default()
        }),
        ports: Some(vec![ContainerPort {
            container_port: 8080,
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(Probe {
            http_get: Some(HTTPGetAction {
                port: IntOrString::Int(8080),
                ..HTTPGetAction::default()
            }),
            ..Probe::default()
        }),
        ..Container::default()
    }
}

/// A pod meeting the restricted profile: seccomp at pod level, everything else per container,
/// with an init container and allowed volume types.
fn restricted_pod() -> PodSpec {
    PodSpec {
        containers: vec![restricted_container("app"), restricted_container("sidecar")],
        init_containers: Some(vec![restricted_container("init")]),
        security_context: Some(PodSecurityContext {
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            sysctls: Some(vec![Sysctl {
                name: "net.ipv4.tcp_keepalive_time".into(),
                value: "60".into(),
            }]),
            ..PodSecurityContext::default()
        }),
        volumes: Some(vec![
            Volume {
                name: "scratch".into(),
                empty_dir: Some(Default::default()),
                ..Volume::default()
            },
            Volume {
                name: "data".into(),
                persistent_volume_claim: Some(Default::default()),
                ..Volume::default()
            },
        ]),
        ..PodSpec::default()
    }
}

fn sc_mut(pod: &mut PodSpec, i: usize) -> &mut SecurityContext {
    pod.containers[i]
        .security_context
        .get_or_insert_with(SecurityContext::default)
}

fn psc_mut(pod: &mut PodSpec) -> &mut PodSecurityContext {
    pod.security_context
        .get_or_insert_with(PodSecurityContext::default)
}

/// Asserts that `pod` is at `expected` with a violation on `field`.
#[track_caller]
fn assert_level(pod: &PodSpec, expected: &str, field: &str) {
    let (got, violations) = level(pod);
    assert_eq!(got, expected, "violations: {violations:#?}");
    assert!(
        violations.iter().any(|v| v.starts_with(&format!("{field}:"))),
        "no violation on {field}: {violations:#?}"
    );
}

#[test]
fn checker_accepts_a_restricted_pod() {
    let (got, violations) = level(&restricted_pod());
    assert_eq!((got, violations), ("restricted", vec![]));
    // runAsNonRoot at pod level covers containers that leave it unset; seccomp per container
    // replaces the pod-level one.
    let mut pod = restricted_pod();
    psc_mut(&mut pod).run_as_non_root = Some(true);
    psc_mut(&mut pod).seccomp_profile = None;
    for c in pod
        .containers
        .iter_mut()
        .chain(pod.init_containers.iter_mut().flatten())
    {
        let sc = c.security_context.as_mut().expect("sc");
        sc.run_as_non_root = None;
        sc.seccomp_profile = Some(SeccompProfile {
            type_: "Localhost".into(),
            localhost_profile: Some("p.json".into()),
        });
    }
    assert_eq!(level(&pod), ("restricted", vec![]));
}

#[test]
fn checker_default_pod_is_baseline() {
    // "Allows the default (minimally specified) Pod configuration."
    let pod = PodSpec {
        containers: vec![Container {
            name: "app".into(),
            ..Container::default()
        }],
        ..PodSpec::default()
    };
    let (got, violations) = level(&pod);
    assert_eq!(got, "baseline");
    for field in [
        "allowPrivilegeEscalation",
        "runAsNonRoot",
        "seccompProfile.type",
        "capabilities.drop",
    ] {
        assert!(
            violations
                .iter()
                .any(|v| v.starts_with(&format!("spec.containers[0].securityContext.{field}:"))),
            "{field}: {violations:#?}"
        );
    }
}

#[test]
fn checker_each_baseline_control_makes_the_pod_privileged() {
    type Flip = fn(&mut PodSpec);
    let cases: &[(&str, Flip)] = &[
        ("spec.hostNetwork", |p| p.host_network = Some(true)),
        ("spec.hostPID", |p| p.host_pid = Some(true)),
        ("spec.hostIPC", |p| p.host_ipc = Some(true)),
        ("spec.containers[1].securityContext.privileged", |p| {
            sc_mut(p, 1).privileged = Some(true);
        }),
        ("spec.containers[0].securityContext.capabilities.add", |p| {
            sc_mut(p, 0).capabilities = Some(Capabilities {
                add: Some(vec!["SYS_ADMIN".into()]),
                drop: Some(vec!["ALL".into()]),
            });
        }),
        ("spec.containers[0].securityContext.capabilities.add", |p| {
            sc_mut(p, 0).capabilities = Some(Capabilities {
                add: Some(vec!["NET_ADMIN".into()]),
                drop: Some(vec!["ALL".into()]),
            });
        }),
        ("spec.volumes[2].hostPath", |p| {
            p.volumes.get_or_insert_default().push(Volume {
                name: "host".into(),
                host_path: Some(Default::default()),
                ..Volume::default()
            });
        }),
        ("spec.containers[0].ports[0].hostPort", |p| {
            p.containers[0].ports.as_mut().expect("ports")[0].host_port = Some(8080);
        }),
        ("spec.containers[0].readinessProbe.httpGet.host", |p| {
            let probe = p.containers[0].readiness_probe.as_mut().expect("probe");
            probe.http_get.as_mut().expect("httpGet").host = Some("10.0.0.1".into());
        }),
        ("spec.containers[1].lifecycle.preStop.tcpSocket.host", |p| {
            p.containers[1].lifecycle = Some(Lifecycle {
                pre_stop: Some(LifecycleHandler {
                    tcp_socket: Some(TCPSocketAction {
                        host: Some("example.com".into()),
                        port: IntOrString::Int(1),
                    }),
                    ..LifecycleHandler::default()
                }),
                ..Lifecycle::default()
            });
        }),
        ("spec.securityContext.appArmorProfile.type", |p| {
            psc_mut(p).app_armor_profile = Some(k8s_openapi::api::core::v1::AppArmorProfile {
                type_: "Unconfined".into(),
                ..Default::default()
            });
        }),
        ("spec.containers[0].securityContext.appArmorProfile.type", |p| {
            sc_mut(p, 0).app_armor_profile = Some(k8s_openapi::api::core::v1::AppArmorProfile {
                type_: "Unconfined".into(),
                ..Default::default()
            });
        }),
        ("spec.containers[0].securityContext.seLinuxOptions.type", |p| {
            sc_mut(p, 0).se_linux_options = Some(SELinuxOptions {
                type_: Some("spc_t".into()),
                ..SELinuxOptions::default()
            });
        }),
        ("spec.securityContext.seLinuxOptions.user", |p| {
            psc_mut(p).se_linux_options = Some(SELinuxOptions {
                user: Some("system_u".into()),
                ..SELinuxOptions::default()
            });
        }),
        ("spec.containers[0].securityContext.seLinuxOptions.role", |p| {
            sc_mut(p, 0).se_linux_options = Some(SELinuxOptions {
                role: Some("sysadm_r".into()),
                type_: Some("container_t".into()),
                ..SELinuxOptions::default()
            });
        }),
        ("spec.containers[0].securityContext.procMount", |p| {
            sc_mut(p, 0).proc_mount = Some("Unmasked".into());
        }),
        ("spec.securityContext.seccompProfile.type", |p| {
            psc_mut(p).seccomp_profile = Some(SeccompProfile {
                type_: "Unconfined".into(),
                ..SeccompProfile::default()
            });
        }),
        ("spec.containers[1].securityContext.seccompProfile.type", |p| {
            sc_mut(p, 1).seccomp_profile = Some(SeccompProfile {
                type_: "Unconfined".into(),
                ..SeccompProfile::default()
            });
        }),
        ("spec.securityContext.sysctls[1].name", |p| {
            psc_mut(p).sysctls.get_or_insert_default().push(Sysctl {
                name: "net.core.somaxconn".into(),
                value: "1024".into(),
            });
        }),
        ("spec.securityContext.windowsOptions.hostProcess", |p| {
            psc_mut(p).windows_options = Some(WindowsSecurityContextOptions {
                host_process: Some(true),
                ..WindowsSecurityContextOptions::default()
            });
        }),
        ("spec.initContainers[0].securityContext.privileged", |p| {
            let init = &mut p.init_containers.as_mut().expect("init")[0];
            init.security_context.as_mut().expect("sc").privileged = Some(true);
        }),
        ("spec.ephemeralContainers[0].securityContext.privileged", |p| {
            p.ephemeral_containers = Some(vec![EphemeralContainer {
                name: "debug".into(),
                security_context: Some(SecurityContext {
                    privileged: Some(true),
                    ..SecurityContext::default()
                }),
                ..EphemeralContainer::default()
            }]);
        }),
    ];
    for (field, flip) in cases {
        let mut pod = restricted_pod();
        flip(&mut pod);
        assert_level(&pod, "privileged", field);
    }
    // The allowed values stay allowed.
    let mut pod = restricted_pod();
    sc_mut(&mut pod, 0).se_linux_options = Some(SELinuxOptions {
        type_: Some("container_init_t".into()),
        level: Some("s0:c1,c2".into()),
        ..SELinuxOptions::default()
    });
    sc_mut(&mut pod, 0).proc_mount = Some("Default".into());
    pod.containers[0].ports.as_mut().expect("ports")[0].host_port = Some(0);
    assert_eq!(level(&pod), ("restricted", vec![]));
    // The legacy AppArmor annotations are checked on templates.
    let template = |value: &str| PodTemplateSpec {
        metadata: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            annotations: Some(BTreeMap::from([(
                "container.apparmor.security.beta.kubernetes.io/app".to_owned(),
                value.to_owned(),
            )])),
            ..Default::default()
        }),
        spec: Some(restricted_pod()),
    };
    assert_eq!(template_level(&template("localhost/k8s-nginx")).0, "restricted");
    assert_eq!(template_level(&template("unconfined")).0, "privileged");
}

#[test]
fn checker_each_restricted_control_makes_the_pod_baseline() {
    type Flip = fn(&mut PodSpec);
    let cases: &[(&str, Flip)] = &[
        ("spec.volumes[2]", |p| {
            p.volumes.get_or_insert_default().push(Volume {
                name: "nfs".into(),
                nfs: Some(Default::default()),
                ..Volume::default()
            });
        }),
        (
            "spec.containers[0].securityContext.allowPrivilegeEscalation",
            |p| {
                sc_mut(p, 0).allow_privilege_escalation = None;
            },
        ),
        (
            "spec.initContainers[0].securityContext.allowPrivilegeEscalation",
            |p| {
                let init = &mut p.init_containers.as_mut().expect("init")[0];
                init.security_context
                    .as_mut()
                    .expect("sc")
                    .allow_privilege_escalation = Some(true);
            },
        ),
        ("spec.containers[1].securityContext.runAsNonRoot", |p| {
            sc_mut(p, 1).run_as_non_root = None;
        }),
        ("spec.containers[1].securityContext.runAsNonRoot", |p| {
            // An explicit false is not rescued by the pod level.
            psc_mut(p).run_as_non_root = Some(true);
            sc_mut(p, 1).run_as_non_root = Some(false);
        }),
        ("spec.securityContext.runAsNonRoot", |p| {
            psc_mut(p).run_as_non_root = Some(false);
        }),
        ("spec.containers[0].securityContext.runAsUser", |p| {
            sc_mut(p, 0).run_as_user = Some(0);
        }),
        ("spec.securityContext.runAsUser", |p| {
            psc_mut(p).run_as_user = Some(0);
        }),
        ("spec.containers[0].securityContext.seccompProfile.type", |p| {
            psc_mut(p).seccomp_profile = None;
        }),
        ("spec.containers[0].securityContext.capabilities.drop", |p| {
            sc_mut(p, 0).capabilities.as_mut().expect("caps").drop = Some(vec!["NET_RAW".into()]);
        }),
        ("spec.containers[0].securityContext.capabilities.add", |p| {
            // In the baseline set, but restricted allows only NET_BIND_SERVICE.
            sc_mut(p, 0).capabilities.as_mut().expect("caps").add = Some(vec!["CHOWN".into()]);
        }),
        ("spec.ephemeralContainers[0].securityContext.runAsNonRoot", |p| {
            p.ephemeral_containers = Some(vec![EphemeralContainer {
                name: "debug".into(),
                security_context: Some(SecurityContext {
                    allow_privilege_escalation: Some(false),
                    capabilities: Some(Capabilities {
                        drop: Some(vec!["ALL".into()]),
                        add: None,
                    }),
                    ..SecurityContext::default()
                }),
                ..EphemeralContainer::default()
            }]);
        }),
    ];
    for (field, flip) in cases {
        let mut pod = restricted_pod();
        flip(&mut pod);
        assert_level(&pod, "baseline", field);
    }
}

#[test]
fn checker_windows_pods_are_exempt_from_the_linux_only_controls() {
    let mut pod = restricted_pod();
    psc_mut(&mut pod).seccomp_profile = None;
    for c in pod
        .containers
        .iter_mut()
        .chain(pod.init_containers.iter_mut().flatten())
    {
        let sc = c.security_context.as_mut().expect("sc");
        sc.allow_privilege_escalation = None;
        sc.capabilities = None;
    }
    assert_eq!(level(&pod).0, "baseline", "on Linux these are violations");
    pod.os = Some(PodOS {
        name: "windows".into(),
    });
    assert_eq!(level(&pod), ("restricted", vec![]));
    // runAsNonRoot is not Linux-only.
    sc_mut(&mut pod, 0).run_as_non_root = None;
    assert_level(
        &pod,
        "baseline",
        "spec.containers[0].securityContext.runAsNonRoot",
    );
}

// ---------------------------------------------------------------------------------------------
// The translation.
// ---------------------------------------------------------------------------------------------

fn annotation(t: &PodTranslation) -> Option<&str> {
    t.template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(ANNOTATION))
        .map(String::as_str)
}

fn is_windows(t: &PodTranslation) -> bool {
    t.template
        .spec
        .as_ref()
        .and_then(|s| s.os.as_ref())
        .is_some_and(|os| os.name == "windows")
}

fn lowering_notes(t: &PodTranslation) -> Vec<&Note> {
    t.report
        .notes
        .iter()
        .filter(|n| n.message.contains("below the Pod Security"))
        .collect()
}

/// Restricted violations that an unset `user` explains (documented: baseline, no note): the
/// container runs as the image says, with the runtime's default capabilities.
fn unset_user_violation(v: &str) -> bool {
    v.contains(".securityContext.runAsNonRoot:") || v.contains(".securityContext.capabilities.drop:")
}

#[test]
fn corpus_annotations_never_overclaim() {
    let files = support::corpus_files("taskdef-");
    assert!(files.len() >= 30, "only {} taskdef files", files.len());
    let options = ImportOptions {
        namespace: Some("pss".into()),
        ..ImportOptions::default()
    };
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut cpu_errors = Vec::new();
    let mut translated = 0;
    let mut failures = Vec::new();
    for file in &files {
        let file_name = file
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8")
            .to_owned();
        let imported = import_file(file, &options);
        assert!(
            imported.diagnostics.iter().all(|d| !d.is_error()),
            "{file_name}: {:?}",
            imported.diagnostics
        );
        for object in &imported.objects {
            let Imported::TaskDefinition(td) = object else {
                continue;
            };
            let name = td.metadata.name.clone().expect("imported objects are named");
            let t = match pod_template(&name, &td.spec.task_definition, 1) {
                Ok(t) => t,
                Err(e) if e.to_string().starts_with("spec.cpu") => {
                    cpu_errors.push(file_name.clone());
                    continue;
                }
                Err(e) => panic!("{file_name}: {e}"),
            };
            translated += 1;
            let (checked, violations) = template_level(&t.template);
            let claim = annotation(&t);
            if is_windows(&t) {
                assert_eq!(claim, None, "{file_name}: Windows pods get no profile annotation");
                *tally.entry(format!("windows (checker: {checked})")).or_default() += 1;
                continue;
            }
            let Some(claim) = claim else {
                failures.push(format!("{file_name}: no {ANNOTATION} annotation on a Linux pod"));
                continue;
            };
            *tally.entry(claim.to_owned()).or_default() += 1;
            if rank(checked) < rank(claim) {
                failures.push(format!(
                    "{file_name}: annotated {claim} but the checker finds {checked}: {violations:#?}"
                ));
            } else if rank(checked) > rank(claim) {
                eprintln!("{file_name}: annotated {claim}, the checker finds {checked} (underclaim)");
            }
            let notes = lowering_notes(&t);
            let said = |profile: &str| {
                notes.iter().any(|n| {
                    n.message
                        .contains(&format!("below the Pod Security {profile} profile"))
                })
            };
            match claim {
                "privileged" if !said("baseline") => failures.push(format!(
                    "{file_name}: annotated privileged without a note \"below the Pod Security baseline profile\"; checker: {violations:#?}"
                )),
                "baseline" if !said("restricted") => {
                    // Only the documented case may go without a note: `user` unset somewhere.
                    let user_unset = td
                        .spec
                        .task_definition
                        .container_definitions
                        .iter()
                        .any(|c| c.user.is_none());
                    let (_, restricted) = level(t.template.spec.as_ref().expect("spec"));
                    if !user_unset || !restricted.iter().all(|v| unset_user_violation(v)) {
                        failures.push(format!(
                            "{file_name}: annotated baseline without a note \"below the Pod Security restricted profile\"; restricted violations: {restricted:#?}"
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    eprintln!("Pod Security levels over {translated} corpus task definitions (annotation):");
    for (level, count) in &tally {
        eprintln!("  {level}: {count}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        cpu_errors,
        vec!["taskdef-spinnaker-ec2-multi-lb-containers.json".to_owned()],
        "the one expected spec.cpu error"
    );
    assert!(translated >= 30, "only {translated} translated");
}

// ---------------------------------------------------------------------------------------------
// Synthetic task definitions: one per field that may lower the profile.
// ---------------------------------------------------------------------------------------------

/// A task definition with one container `app` running as uid 1000 (restricted), changed by `f`.
fn task_definition(f: impl FnOnce(&mut Value)) -> RegisterTaskDefinition {
    let mut v = json!({
        "family": "pss",
        "containerDefinitions": [{"name": "app", "image": "nginx", "user": "1000", "memory": 128}]
    });
    f(&mut v);
    serde_json::from_value(v).expect("task definition")
}

/// Sets `value` at `key` of container 0.
fn container(key: &'static str, value: Value) -> impl FnOnce(&mut Value) {
    move |v| v["containerDefinitions"][0][key] = value
}

/// What a synthetic task definition must give.
struct Expect {
    /// The profile, by the checker and by the annotation alike.
    level: &'static str,
    /// The note on the responsible field, and the profile its message says the pod is below
    /// ("below the Pod Security <profile> profile"), or `None` for a note that lowers nothing
    /// (a field ignored or not translated, so the pod keeps its profile).
    note: Option<(&'static str, Option<&'static str>)>,
}

const fn lowers(level: &'static str, field: &'static str, below: &'static str) -> Expect {
    Expect {
        level,
        note: Some((field, Some(below))),
    }
}

const RESTRICTED: Expect = Expect {
    level: "restricted",
    note: None,
};

const fn restricted_with_note(field: &'static str) -> Expect {
    Expect {
        level: "restricted",
        note: Some((field, None)),
    }
}

/// Translates `td`, and asserts the checker and the annotation agree on `expect.level`, and the
/// note: on the field (saying which profile the pod is below), or no lowering note at all.
#[track_caller]
fn check(case: &str, td: &RegisterTaskDefinition, expect: &Expect) -> PodTranslation {
    let t = pod_template("pss", td, 1).unwrap_or_else(|e| panic!("{case}: {e}"));
    let (checked, violations) = template_level(&t.template);
    assert_eq!(
        checked, expect.level,
        "{case}: checker; violations: {violations:#?}"
    );
    assert_eq!(annotation(&t), Some(expect.level), "{case}: annotation");
    let lowering = lowering_notes(&t);
    match expect.note {
        Some((field, Some(below))) => {
            let wanted = format!("below the Pod Security {below} profile");
            assert!(
                lowering
                    .iter()
                    .any(|n| n.field == field && n.message.contains(&wanted)),
                "{case}: no note on {field} saying {wanted:?}: {:#?}",
                t.report.notes
            );
        }
        Some((field, None)) => {
            assert!(
                t.report.notes.iter().any(|n| n.field == field),
                "{case}: no note on {field}: {:#?}",
                t.report.notes
            );
            assert!(lowering.is_empty(), "{case}: {lowering:#?}");
        }
        None => assert!(lowering.is_empty(), "{case}: {lowering:#?}"),
    }
    t
}

#[test]
fn synthetic_task_definitions_get_the_profile_they_claim() {
    let cap_add = |caps: Value| container("linuxParameters", json!({"capabilities": {"add": caps}}));
    let security_options = |opts: Value| container("dockerSecurityOptions", opts);
    let caps_field = "containerDefinitions[0].linuxParameters.capabilities.add";
    let option_field = "containerDefinitions[0].dockerSecurityOptions[0]";
    let cases: Vec<(&str, RegisterTaskDefinition, Expect)> = vec![
        ("plain, user 1000", task_definition(|_| {}), RESTRICTED),
        (
            "user 1000:1000, readonly root, no-new-privileges",
            task_definition(|v| {
                v["containerDefinitions"][0]["user"] = json!("1000:1000");
                v["containerDefinitions"][0]["readonlyRootFilesystem"] = json!(true);
                v["containerDefinitions"][0]["dockerSecurityOptions"] = json!(["no-new-privileges"]);
            }),
            RESTRICTED,
        ),
        (
            "privileged",
            task_definition(container("privileged", json!(true))),
            lowers("privileged", "containerDefinitions[0].privileged", "baseline"),
        ),
        (
            "privileged: false",
            task_definition(container("privileged", json!(false))),
            RESTRICTED,
        ),
        (
            "networkMode host",
            task_definition(|v| v["networkMode"] = json!("host")),
            lowers("privileged", "networkMode", "baseline"),
        ),
        (
            "pidMode host",
            task_definition(|v| v["pidMode"] = json!("host")),
            lowers("privileged", "pidMode", "baseline"),
        ),
        (
            "pidMode task",
            task_definition(|v| v["pidMode"] = json!("task")),
            RESTRICTED,
        ),
        (
            "ipcMode host",
            task_definition(|v| v["ipcMode"] = json!("host")),
            lowers("privileged", "ipcMode", "baseline"),
        ),
        (
            "add SYS_ADMIN",
            task_definition(cap_add(json!(["SYS_ADMIN"]))),
            lowers("privileged", caps_field, "baseline"),
        ),
        // NET_ADMIN is not in the baseline list (Docker's default set does not have it either).
        (
            "add NET_ADMIN",
            task_definition(cap_add(json!(["NET_ADMIN"]))),
            lowers("privileged", caps_field, "baseline"),
        ),
        // NET_RAW is in Docker's default set but not in the baseline list.
        (
            "add NET_RAW, user unset",
            task_definition(|v| {
                v["containerDefinitions"][0]
                    .as_object_mut()
                    .expect("object")
                    .remove("user");
                v["containerDefinitions"][0]["linuxParameters"] =
                    json!({"capabilities": {"add": ["NET_RAW"]}});
            }),
            lowers("privileged", caps_field, "baseline"),
        ),
        (
            "add all (lower case)",
            task_definition(cap_add(json!(["all"]))),
            lowers("privileged", caps_field, "baseline"),
        ),
        (
            "add CHOWN (baseline list)",
            task_definition(cap_add(json!(["CHOWN"]))),
            lowers("baseline", caps_field, "restricted"),
        ),
        (
            "add NET_BIND_SERVICE",
            task_definition(cap_add(json!(["NET_BIND_SERVICE"]))),
            RESTRICTED,
        ),
        (
            "host volume",
            task_definition(|v| {
                v["volumes"] = json!([{"name": "logs", "host": {"sourcePath": "/var/log"}}]);
                v["containerDefinitions"][0]["mountPoints"] =
                    json!([{"sourceVolume": "logs", "containerPath": "/logs"}]);
            }),
            lowers("privileged", "volumes[0].host.sourcePath", "baseline"),
        ),
        (
            "host volume, not mounted",
            task_definition(|v| {
                v["volumes"] = json!([{"name": "x"}, {"name": "logs", "host": {"sourcePath": "/x"}}])
            }),
            lowers("privileged", "volumes[1].host.sourcePath", "baseline"),
        ),
        // An empty sourcePath is Docker's own path in ECS: an emptyDir (was hostPath "" while
        // the annotation said restricted).
        (
            "host volume, empty sourcePath",
            task_definition(|v| {
                v["volumes"] = json!([{"name": "data", "host": {"sourcePath": ""}}]);
                v["containerDefinitions"][0]["mountPoints"] =
                    json!([{"sourceVolume": "data", "containerPath": "/data"}]);
            }),
            RESTRICTED,
        ),
        (
            "user 0",
            task_definition(container("user", json!("0"))),
            lowers("baseline", "containerDefinitions[0].user", "restricted"),
        ),
        (
            "user root:1000",
            task_definition(container("user", json!("root:1000"))),
            lowers("baseline", "containerDefinitions[0].user", "restricted"),
        ),
        (
            "user name",
            task_definition(container("user", json!("nginx"))),
            lowers("baseline", "containerDefinitions[0].user", "restricted"),
        ),
        (
            "second container user 0",
            task_definition(|v| {
                v["containerDefinitions"]
                    .as_array_mut()
                    .expect("list")
                    .push(json!({"name": "side", "image": "busybox", "user": "0", "memory": 64, "essential": false}));
            }),
            lowers("baseline", "containerDefinitions[1].user", "restricted"),
        ),
        // Documented: an unset user is baseline without a note (the image decides).
        (
            "user unset",
            task_definition(|v| {
                v["containerDefinitions"][0]
                    .as_object_mut()
                    .expect("object")
                    .remove("user");
            }),
            Expect {
                level: "baseline",
                note: None,
            },
        ),
        // net.core.somaxconn is not in the baseline's safe set: left out of the pod, reported.
        (
            "unsafe sysctl",
            task_definition(container(
                "systemControls",
                json!([{"namespace": "net.core.somaxconn", "value": "1024"}]),
            )),
            restricted_with_note("containerDefinitions[0].systemControls[0]"),
        ),
        (
            "safe sysctl",
            task_definition(container(
                "systemControls",
                json!([{"namespace": "net.ipv4.tcp_syncookies", "value": "1"}]),
            )),
            RESTRICTED,
        ),
        (
            "apparmor:unconfined",
            task_definition(security_options(json!(["apparmor:unconfined"]))),
            lowers("privileged", option_field, "baseline"),
        ),
        (
            "apparmor:<profile>",
            task_definition(security_options(json!(["apparmor:my-profile"]))),
            restricted_with_note(option_field),
        ),
        // Not a security option ECS knows (ECS has no seccomp option): ignored, reported.
        (
            "seccomp:unconfined",
            task_definition(security_options(json!(["seccomp:unconfined"]))),
            restricted_with_note(option_field),
        ),
        (
            "label:type:spc_t",
            task_definition(security_options(json!(["label:type:spc_t"]))),
            lowers("privileged", option_field, "baseline"),
        ),
        (
            "label:type:container_t",
            task_definition(security_options(json!(["label:type:container_t"]))),
            RESTRICTED,
        ),
        (
            "label:user",
            task_definition(security_options(json!(["label:user:system_u"]))),
            lowers("privileged", option_field, "baseline"),
        ),
        (
            "label:role",
            task_definition(security_options(json!([
                "label:level:s0:c1",
                "label:role:system_r"
            ]))),
            lowers(
                "privileged",
                "containerDefinitions[0].dockerSecurityOptions[1]",
                "baseline",
            ),
        ),
        (
            "label:disable",
            task_definition(security_options(json!(["label:disable"]))),
            lowers("privileged", option_field, "baseline"),
        ),
    ];
    for (case, td, expect) in &cases {
        check(case, td, expect);
    }

    // The safe sysctl is in the pod, the unsafe one is not.
    let sysctls = |t: &PodTranslation| -> Vec<String> {
        t.template
            .spec
            .as_ref()
            .and_then(|s| s.security_context.as_ref())
            .and_then(|s| s.sysctls.as_ref())
            .map(|l| l.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default()
    };
    let (_, safe, expect) = &cases[cases.iter().position(|c| c.0 == "safe sysctl").expect("case")];
    assert_eq!(
        sysctls(&check("safe sysctl", safe, expect)),
        ["net.ipv4.tcp_syncookies"]
    );
    let (_, unsafe_, expect) = &cases[cases.iter().position(|c| c.0 == "unsafe sysctl").expect("case")];
    assert!(sysctls(&check("unsafe sysctl", unsafe_, expect)).is_empty());
}

#[test]
fn synthetic_host_port_under_bridge_networking() {
    let td = task_definition(|v| {
        v["networkMode"] = json!("bridge");
        v["containerDefinitions"][0]["portMappings"] =
            json!([{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 0}]);
    });
    let t = pod_template("pss", &td, 1).expect("translates");
    let host_ports: Vec<i32> = t
        .template
        .spec
        .as_ref()
        .expect("spec")
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| p.host_port.filter(|h| *h != 0))
        .collect();
    // A fixed host port is kept (the dynamic one is not): the pod is privileged, with a note
    // on the port mappings.
    assert_eq!(host_ports, [8080]);
    let (checked, violations) = template_level(&t.template);
    assert_eq!(checked, "privileged", "{violations:#?}");
    assert_eq!(annotation(&t), Some("privileged"));
    assert!(
        lowering_notes(&t)
            .iter()
            .any(|n| n.field.starts_with("containerDefinitions[0].portMappings")
                && n.message.contains("below the Pod Security baseline profile")),
        "{:#?}",
        t.report.notes
    );
}

#[test]
fn synthetic_windows_task_definition_has_no_profile_annotation() {
    let td = task_definition(|v| {
        v["runtimePlatform"] = json!({"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"});
        v["containerDefinitions"][0]["user"] = json!("ContainerUser");
        v["containerDefinitions"][0]["privileged"] = json!(true);
    });
    let t = pod_template("pss", &td, 1).expect("translates");
    assert!(is_windows(&t));
    assert_eq!(annotation(&t), None);
    // No Linux-only field reaches the pod (privileged is reported, not set), so the only gap to
    // restricted is runAsNonRoot, which the standard does not exempt Windows pods from.
    let (checked, violations) = template_level(&t.template);
    assert_eq!(checked, "baseline", "{violations:#?}");
    assert!(
        violations
            .iter()
            .all(|v| v.contains(".securityContext.runAsNonRoot:")),
        "{violations:#?}"
    );
    assert!(
        t.report
            .notes
            .iter()
            .any(|n| n.field == "containerDefinitions[0].privileged"),
        "{:#?}",
        t.report.notes
    );
}
