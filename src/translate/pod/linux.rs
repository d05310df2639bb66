//! `linuxParameters` (capabilities, init process, shared memory, tmpfs, devices, swap),
//! `systemControls` and `ulimits`.
//!
//! - `capabilities` → `securityContext.capabilities`. When the security stage dropped `ALL` (a
//!   numeric non-root `user`), `add` goes on top of it and `drop` is already covered; otherwise
//!   `add` and `drop` apply to the runtime's default set, as they do to Docker's in ECS. Adding
//!   anything but `NET_BIND_SERVICE` lowers the Pod Security profile (see the security stage).
//! - `initProcessEnabled` → `shareProcessNamespace`: the pod's pause process is then PID 1 of the
//!   shared namespace and reaps orphaned zombies
//!   (<https://kubernetes.io/docs/tasks/configure-pod-container/share-process-namespace/>); the
//!   application is not PID 1, so signals it does not handle kill it, as under ECS's init.
//!   Approximated: the containers also see each other's processes.
//! - `sharedMemorySize` and `tmpfs` → memory-backed `emptyDir` volumes with `sizeLimit`
//!   (<https://kubernetes.io/docs/concepts/storage/volumes/#emptydir>), named `ecs-shm-<i>` and
//!   `ecs-tmpfs-<i>-<n>` (container index, tmpfs index), mounted at `/dev/shm` and the tmpfs path.
//! - `systemControls` → the pod's `securityContext.sysctls`, for the sysctls Kubernetes 1.30 (the
//!   oldest supported version) considers safe
//!   (<https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/>); the others would keep
//!   the pod from starting unless every node allows them, so they are reported.
//! - `devices`, `maxSwap`, `swappiness` and `ulimits` have no per-container Kubernetes setting and
//!   are reported as ignored.

use k8s_openapi::{
    api::core::v1::{Capabilities, EmptyDirVolumeSource, Sysctl, Volume, VolumeMount},
    apimachinery::pkg::api::resource::Quantity,
};

use super::{
    Build, NoteKind, PodError,
    os::is_windows,
    security::{BASELINE_CAPABILITIES, Profile, lower},
};
use crate::{
    api::ecs::{ContainerDefinition, IpcMode, KernelCapabilities, PidMode, Tmpfs},
    names::container_name,
};

/// Fields this stage translates.
pub(super) const HANDLED: &[&str] = &[
    "containerDefinitions[].linuxParameters.*",
    "containerDefinitions[].systemControls.*",
    "containerDefinitions[].ulimits",
];

/// Sysctls the kubelet of Kubernetes 1.30 allows by default (and the Pod Security baseline
/// profile accepts): <https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/#safe-and-unsafe-sysctls>.
pub(super) const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// Sysctls safe only from a later Kubernetes version than the oldest supported one.
const SAFE_SYSCTLS_LATER: &[(&str, &str)] = &[("net.ipv4.tcp_rmem", "1.32"), ("net.ipv4.tcp_wmem", "1.32")];

/// Applies this stage to the pod under construction.
#[allow(clippy::unnecessary_wraps)]
pub(super) fn apply(b: &mut Build<'_>) -> Result<(), PodError> {
    let td = b.td;
    if is_windows(b) {
        for (i, c) in td.container_definitions.iter().enumerate() {
            for (name, set) in [
                ("linuxParameters", c.linux_parameters.is_some()),
                (
                    "systemControls",
                    c.system_controls.as_ref().is_some_and(|s| !s.is_empty()),
                ),
                ("ulimits", c.ulimits.as_ref().is_some_and(|s| !s.is_empty())),
            ] {
                if set {
                    b.report.note(
                        NoteKind::Ignored,
                        format!("containerDefinitions[{i}].{name}"),
                        "not supported for Windows containers (by ECS either)",
                    );
                }
            }
        }
        return Ok(());
    }
    for (i, c) in td.container_definitions.iter().enumerate() {
        let field = |f: &str| format!("containerDefinitions[{i}].{f}");
        if let Some(lp) = &c.linux_parameters {
            if let Some(caps) = &lp.capabilities {
                capabilities(b, i, caps);
            }
            if lp.init_process_enabled == Some(true) {
                init_process(b, i);
            }
            if let Some(size) = lp.shared_memory_size {
                let f = field("linuxParameters.sharedMemorySize");
                if size > 0 {
                    memory_volume(b, i, c, &format!("ecs-shm-{i}"), "/dev/shm", size, false, &f);
                } else {
                    b.report
                        .note(NoteKind::Ignored, f, format!("{size} MiB is not a size"));
                }
            }
            for (n, t) in lp.tmpfs.iter().flatten().enumerate() {
                tmpfs(b, i, n, c, t);
            }
            if let Some(devices) = lp.devices.as_ref().filter(|d| !d.is_empty()) {
                let paths: Vec<&str> = devices.iter().map(|d| d.host_path.as_str()).collect();
                b.report.note(
                    NoteKind::Ignored,
                    field("linuxParameters.devices"),
                    format!(
                        "Kubernetes exposes host devices ({}) through device plugins (as extended \
                         resources) or to privileged containers; install the device's plugin and \
                         request its resource",
                        paths.join(", ")
                    ),
                );
            }
            if let Some(swap) = lp.max_swap {
                b.report.note(
                    NoteKind::Ignored,
                    field("linuxParameters.maxSwap"),
                    format!(
                        "{swap} MiB: Kubernetes configures swap per node (the kubelet's \
                         memorySwap.swapBehavior), not per container"
                    ),
                );
            }
            if let Some(s) = lp.swappiness {
                b.report.note(
                    NoteKind::Ignored,
                    field("linuxParameters.swappiness"),
                    format!("{s}: Kubernetes has no per-container swappiness"),
                );
            }
        }
        if let Some(ulimits) = c.ulimits.as_ref().filter(|u| !u.is_empty()) {
            let list: Vec<String> = ulimits
                .iter()
                .map(|u| {
                    let name = crate::translate::spelling::enum_name(&u.name);
                    format!("{name} {}/{}", u.soft_limit, u.hard_limit)
                })
                .collect();
            b.report.note(
                NoteKind::Ignored,
                field("ulimits"),
                format!(
                    "{}: Kubernetes has no per-container ulimits; containers get the limits of the \
                     node's container runtime (its configuration or service unit); an entrypoint \
                     can lower them, or raise the soft limit up to the hard one, with ulimit",
                    list.join(", ")
                ),
            );
        }
    }
    sysctls(b);
    Ok(())
}

/// An ECS capability name as Kubernetes writes it (upper case, no `CAP_` prefix).
fn capability(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").map_or(upper.clone(), str::to_owned)
}

/// `linuxParameters.capabilities` → `securityContext.capabilities`, merged with what the security
/// stage set.
fn capabilities(b: &mut Build<'_>, i: usize, caps: &KernelCapabilities) {
    let field = format!("containerDefinitions[{i}].linuxParameters.capabilities");
    let mut add: Vec<String> = Vec::new();
    for c in caps.add.iter().flatten().map(|c| capability(c)) {
        if !add.contains(&c) {
            add.push(c);
        }
    }
    let drop: Vec<String> = caps.drop.iter().flatten().map(|c| capability(c)).collect();
    if add.is_empty() && drop.is_empty() {
        return;
    }
    let sc = b.containers[i]
        .security_context
        .get_or_insert_with(Default::default);
    if sc.privileged == Some(true) {
        b.report.note(
            NoteKind::Ignored,
            field,
            "a privileged container has every capability (Docker ignores add and drop for it too)",
        );
        return;
    }
    let current = sc.capabilities.take().unwrap_or_default();
    let mut final_drop = current.drop.unwrap_or_default();
    let dropped_all = final_drop.iter().any(|d| d == "ALL");
    if !dropped_all {
        for d in drop {
            if !final_drop.contains(&d) {
                final_drop.push(d);
            }
        }
    }
    // Docker drops first and then adds; the container runtime under Kubernetes drops named
    // capabilities after adding, so a capability both dropped and added is only added.
    final_drop.retain(|d| d == "ALL" || !add.contains(d));
    let mut final_add = current.add.unwrap_or_default();
    for a in &add {
        if !final_add.contains(a) {
            final_add.push(a.clone());
        }
    }
    sc.capabilities = Some(Capabilities {
        add: (!final_add.is_empty()).then_some(final_add),
        drop: (!final_drop.is_empty()).then_some(final_drop),
    });
    let beyond_restricted: Vec<&str> = add
        .iter()
        .map(String::as_str)
        .filter(|c| *c != "NET_BIND_SERVICE")
        .collect();
    if beyond_restricted.is_empty() {
        return;
    }
    let beyond_baseline: Vec<&str> = beyond_restricted
        .iter()
        .copied()
        .filter(|c| !BASELINE_CAPABILITIES.contains(c))
        .collect();
    let field = format!("{field}.add");
    if beyond_baseline.is_empty() {
        lower(
            b,
            field,
            Profile::Baseline,
            &format!("adds {}", beyond_restricted.join(", ")),
        );
    } else {
        lower(
            b,
            field,
            Profile::Privileged,
            &format!("adds {}", beyond_baseline.join(", ")),
        );
    }
}

/// `initProcessEnabled` → `shareProcessNamespace`.
fn init_process(b: &mut Build<'_>, i: usize) {
    let field = format!("containerDefinitions[{i}].linuxParameters.initProcessEnabled");
    if b.td.pid_mode == Some(PidMode::Host) {
        b.report.note(
            NoteKind::Ignored,
            field,
            "with pidMode host the pod uses the node's PID namespace (Kubernetes cannot also share \
             a process namespace)",
        );
        return;
    }
    b.pod.share_process_namespace = Some(true);
    b.report.note(
        NoteKind::Approximated,
        field,
        "shareProcessNamespace: true: the pod's pause process is PID 1 and reaps zombies, and the \
         application is not PID 1, so unhandled signals stop it as under an init; the containers \
         of the pod also see each other's processes",
    );
}

/// A name for a volume of this stage that no other volume of the pod has or will have (the
/// volumes stage names volumes after the task definition's).
fn volume_name(b: &Build<'_>, base: &str) -> String {
    let taken = |n: &str| {
        b.pod.volumes.iter().flatten().any(|v| v.name == n)
            || b.td
                .volumes
                .iter()
                .flatten()
                .filter_map(|v| v.name.as_deref())
                .any(|v| container_name(v).as_deref() == Some(n))
    };
    let mut name = base.to_owned();
    let mut k = 1;
    while taken(&name) {
        name = format!("{base}-x{k}");
        k += 1;
    }
    name
}

/// Mounts a memory-backed `emptyDir` of `mib` MiB at `path` in container `i`, unless the
/// container mounts something there already.
#[allow(clippy::too_many_arguments)]
fn memory_volume(
    b: &mut Build<'_>,
    i: usize,
    c: &ContainerDefinition,
    base: &str,
    path: &str,
    mib: i32,
    read_only: bool,
    field: &str,
) {
    let norm = |p: &str| {
        let t = p.trim_end_matches('/');
        if t.is_empty() {
            "/".to_owned()
        } else {
            t.to_owned()
        }
    };
    let target = norm(path);
    let clash = c
        .mount_points
        .iter()
        .flatten()
        .filter_map(|m| m.container_path.as_deref())
        .chain(
            b.containers[i]
                .volume_mounts
                .iter()
                .flatten()
                .map(|m| m.mount_path.as_str()),
        )
        .any(|p| norm(p) == target);
    if clash {
        b.report.note(
            NoteKind::Ignored,
            field,
            format!("the container mounts another volume at {path}"),
        );
        return;
    }
    let name = volume_name(b, base);
    b.pod.volumes.get_or_insert_with(Vec::new).push(Volume {
        name: name.clone(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: Some("Memory".to_owned()),
            size_limit: Some(Quantity(format!("{mib}Mi"))),
        }),
        ..Volume::default()
    });
    b.containers[i]
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(VolumeMount {
            name,
            mount_path: path.to_owned(),
            read_only: read_only.then_some(true),
            ..VolumeMount::default()
        });
}

/// One `linuxParameters.tmpfs` entry → a memory-backed `emptyDir`.
fn tmpfs(b: &mut Build<'_>, i: usize, n: usize, c: &ContainerDefinition, t: &Tmpfs) {
    let field = format!("containerDefinitions[{i}].linuxParameters.tmpfs[{n}]");
    if !t.container_path.starts_with('/') {
        b.report.note(
            NoteKind::Ignored,
            field,
            format!("containerPath {:?} is not an absolute path", t.container_path),
        );
        return;
    }
    if t.size <= 0 {
        b.report.note(
            NoteKind::Ignored,
            field,
            format!("size {} MiB is not a size", t.size),
        );
        return;
    }
    let mut read_only = false;
    let mut other = Vec::new();
    for o in t.mount_options.iter().flatten() {
        match o.as_str() {
            "ro" => read_only = true,
            "rw" => read_only = false,
            o => other.push(o),
        }
    }
    if !other.is_empty() {
        b.report.note(
            NoteKind::Approximated,
            format!("{field}.mountOptions"),
            format!(
                "{} not applied: Kubernetes mounts emptyDir volumes with its own options (only \
                 ro/rw carry over, as readOnly)",
                other.join(", ")
            ),
        );
    }
    memory_volume(
        b,
        i,
        c,
        &format!("ecs-tmpfs-{i}-{n}"),
        &t.container_path,
        t.size,
        read_only,
        &field,
    );
}

/// A sysctl in the IPC namespace.
fn is_ipc_sysctl(name: &str) -> bool {
    name.starts_with("kernel.shm")
        || name.starts_with("kernel.msg")
        || name == "kernel.sem"
        || name.starts_with("fs.mqueue.")
}

/// `systemControls` of every container → the pod's sysctls (the safe ones).
fn sysctls(b: &mut Build<'_>) {
    let td = b.td;
    let host_network = b.pod.host_network == Some(true);
    let host_ipc = td.ipc_mode == Some(IpcMode::Host);
    // (name, value, container index)
    let mut set: Vec<(String, String, usize)> = Vec::new();
    for (i, c) in td.container_definitions.iter().enumerate() {
        for (j, s) in c.system_controls.iter().flatten().enumerate() {
            let field = format!("containerDefinitions[{i}].systemControls[{j}]");
            let (Some(ns), Some(value)) = (
                s.namespace.as_deref().map(str::trim).filter(|n| !n.is_empty()),
                s.value.as_deref(),
            ) else {
                b.report.note(
                    NoteKind::Ignored,
                    field,
                    "a system control needs a namespace and a value",
                );
                continue;
            };
            let name = if ns.contains('.') {
                ns.to_owned()
            } else {
                ns.replace('/', ".")
            };
            if host_network && name.starts_with("net.") {
                b.report.note(
                    NoteKind::Ignored,
                    field,
                    format!("{name}: network sysctls cannot be set with host networking (nor in ECS)"),
                );
            } else if host_ipc && is_ipc_sysctl(&name) {
                b.report.note(
                    NoteKind::Ignored,
                    field,
                    format!("{name}: IPC sysctls cannot be set with ipcMode host"),
                );
            } else if SAFE_SYSCTLS.contains(&name.as_str()) {
                if let Some(prev) = set.iter_mut().find(|(n, _, _)| *n == name) {
                    if prev.1 != value {
                        b.report.note(
                            NoteKind::Approximated,
                            field,
                            format!(
                                "{name} is pod-wide in Kubernetes and container {} sets it to \
                                 {:?}; the pod gets this container's {value:?}, as the last \
                                 container started wins in ECS",
                                prev.2, prev.1
                            ),
                        );
                        prev.1 = value.to_owned();
                        prev.2 = i;
                    }
                } else {
                    set.push((name, value.to_owned(), i));
                }
            } else {
                let later = SAFE_SYSCTLS_LATER
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| format!(" before Kubernetes {v}"))
                    .unwrap_or_default();
                b.report.note(
                    NoteKind::Ignored,
                    field,
                    format!(
                        "{name} is not a safe sysctl{later}: pods that set it start only on nodes \
                         whose kubelet allows it (--allowed-unsafe-sysctls={name}); allow it there \
                         and add it to the pod's securityContext.sysctls"
                    ),
                );
            }
        }
    }
    if set.is_empty() {
        return;
    }
    b.pod
        .security_context
        .get_or_insert_with(Default::default)
        .sysctls = Some(
        set.into_iter()
            .map(|(name, value, _)| Sysctl { name, value })
            .collect(),
    );
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PodSpec, SecurityContext};
    use serde_json::json;

    use super::*;
    use crate::{
        api::ecs::RegisterTaskDefinition,
        translate::{
            pod::{PodTranslation, pod_template, security::POD_SECURITY_ANNOTATION},
            testing::{container, corpus_dir, notes, one, spec, translate},
        },
    };

    fn corpus(file: &str) -> PodTranslation {
        let path = corpus_dir().join(file);
        let text = std::fs::read_to_string(&path).expect("corpus file");
        let td: RegisterTaskDefinition = serde_json::from_str(&text).expect("task definition");
        pod_template("t", &td, 1).expect("translates")
    }

    fn sc(t: &PodTranslation, i: usize) -> SecurityContext {
        container(t, i)
            .security_context
            .clone()
            .expect("security context")
    }

    fn caps(t: &PodTranslation, i: usize) -> (Vec<String>, Vec<String>) {
        let c = sc(t, i).capabilities.unwrap_or_default();
        (c.add.unwrap_or_default(), c.drop.unwrap_or_default())
    }

    fn level(t: &PodTranslation) -> Option<String> {
        t.template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(POD_SECURITY_ANNOTATION).cloned())
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn sysctls(t: &PodTranslation) -> Vec<(String, String)> {
        spec(t)
            .security_context
            .as_ref()
            .and_then(|s| s.sysctls.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.name, s.value))
            .collect()
    }

    #[test]
    fn capabilities_apply_to_the_runtime_default_without_a_user() {
        let t = one(
            json!({"name": "a", "image": "x", "linuxParameters": {"capabilities": {
                "add": ["SYS_ADMIN", "cap_net_admin", "SYS_ADMIN"], "drop": ["MKNOD", "NET_ADMIN"]
            }}}),
        );
        assert_eq!(
            caps(&t, 0),
            (strings(&["SYS_ADMIN", "NET_ADMIN"]), strings(&["MKNOD"])),
            "names normalised, duplicates merged, added wins over dropped"
        );
        assert_eq!(level(&t).as_deref(), Some("privileged"));
        let n = notes(&t, "containerDefinitions[0].linuxParameters.capabilities.add");
        assert_eq!(n.len(), 1);
        assert!(
            n[0].message.starts_with("adds SYS_ADMIN, NET_ADMIN")
                && n[0].message.ends_with("below the Pod Security baseline profile"),
            "{}",
            n[0].message
        );
    }

    #[test]
    fn capabilities_go_on_top_of_drop_all_for_a_non_root_user() {
        let t = one(
            json!({"name": "a", "image": "x", "user": "1000", "linuxParameters": {
                "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["MKNOD"]}
            }}),
        );
        assert_eq!(caps(&t, 0), (strings(&["NET_BIND_SERVICE"]), strings(&["ALL"])));
        assert_eq!(
            level(&t).as_deref(),
            Some("restricted"),
            "NET_BIND_SERVICE is allowed"
        );
        assert!(t.report.notes.is_empty(), "{:?}", t.report.notes);

        let t = one(
            json!({"name": "a", "image": "x", "user": "1000", "linuxParameters": {
                "capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE"]}
            }}),
        );
        assert_eq!(
            caps(&t, 0),
            (strings(&["CHOWN", "NET_BIND_SERVICE"]), strings(&["ALL"]))
        );
        assert_eq!(level(&t).as_deref(), Some("baseline"));
        let n = notes(&t, "containerDefinitions[0].linuxParameters.capabilities.add");
        assert!(
            n[0].message == "adds CHOWN; this lowers the pod below the Pod Security restricted profile",
            "{}",
            n[0].message
        );
    }

    #[test]
    fn dropping_all_and_adding_back() {
        let t = one(json!({"name": "a", "image": "x", "linuxParameters": {
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}
        }}));
        assert_eq!(caps(&t, 0), (strings(&["NET_BIND_SERVICE"]), strings(&["ALL"])));
    }

    #[test]
    fn a_privileged_container_ignores_capabilities() {
        let t = one(
            json!({"name": "a", "image": "x", "privileged": true, "linuxParameters": {
                "capabilities": {"add": ["SYS_ADMIN"]}
            }}),
        );
        assert_eq!(sc(&t, 0).capabilities, None);
        assert_eq!(
            notes(&t, "containerDefinitions[0].linuxParameters.capabilities")[0].kind,
            NoteKind::Ignored
        );
    }

    #[test]
    fn init_process_shares_the_process_namespace() {
        let t = one(json!({"name": "a", "image": "x", "linuxParameters": {"initProcessEnabled": true}}));
        assert_eq!(spec(&t).share_process_namespace, Some(true));
        assert_eq!(
            notes(&t, "containerDefinitions[0].linuxParameters.initProcessEnabled")[0].kind,
            NoteKind::Approximated
        );
        let t = one(json!({"name": "a", "image": "x", "linuxParameters": {"initProcessEnabled": false}}));
        assert_eq!(spec(&t).share_process_namespace, None);
        let t = translate(json!({"family": "t", "pidMode": "host", "containerDefinitions": [
            {"name": "a", "image": "x", "linuxParameters": {"initProcessEnabled": true}}
        ]}));
        assert_eq!(spec(&t).share_process_namespace, None);
        assert_eq!(
            notes(&t, "containerDefinitions[0].linuxParameters.initProcessEnabled")[0].kind,
            NoteKind::Ignored
        );
    }

    fn volume(t: &PodTranslation, name: &str) -> Volume {
        spec(t)
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("volume {name}: {:?}", spec(t).volumes))
    }

    fn mount(t: &PodTranslation, i: usize, path: &str) -> VolumeMount {
        container(t, i)
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == path)
            .cloned()
            .unwrap_or_else(|| panic!("mount {path}"))
    }

    #[test]
    fn shared_memory_is_a_memory_volume_at_dev_shm() {
        let t = translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x"},
            {"name": "b", "image": "x", "linuxParameters": {"sharedMemorySize": 256}}
        ]}));
        let v = volume(&t, "ecs-shm-1");
        let e = v.empty_dir.expect("emptyDir");
        assert_eq!(e.medium.as_deref(), Some("Memory"));
        assert_eq!(e.size_limit, Some(Quantity("256Mi".to_owned())));
        let m = mount(&t, 1, "/dev/shm");
        assert_eq!((m.name.as_str(), m.read_only), ("ecs-shm-1", None));
        assert!(container(&t, 0).volume_mounts.is_none());
    }

    #[test]
    fn shared_memory_yields_to_a_mount_point_and_avoids_volume_names() {
        let t = translate(
            json!({"family": "t", "volumes": [{"name": "shm"}], "containerDefinitions": [
                {"name": "a", "image": "x", "linuxParameters": {"sharedMemorySize": 64},
                 "mountPoints": [{"sourceVolume": "shm", "containerPath": "/dev/shm/"}]}
            ]}),
        );
        assert!(
            spec(&t)
                .volumes
                .iter()
                .flatten()
                .all(|v| !v.name.starts_with("ecs-shm"))
        );
        assert_eq!(
            notes(&t, "containerDefinitions[0].linuxParameters.sharedMemorySize")[0].kind,
            NoteKind::Ignored
        );
        let mut b_td: RegisterTaskDefinition = serde_json::from_value(json!({"family": "t",
            "volumes": [{"name": "ecs_shm_0"}],
            "containerDefinitions": [{"name": "a", "image": "x"}]}))
        .expect("task definition");
        b_td.container_definitions[0].linux_parameters = None;
        let options = crate::translate::Options::default();
        let b = Build {
            td: &b_td,
            object_name: "t",
            revision: 1,
            namespace: None,
            options: &options,
            containers: Vec::new(),
            pod: PodSpec::default(),
            annotations: std::collections::BTreeMap::new(),
            labels: std::collections::BTreeMap::new(),
            objects: Vec::new(),
            report: crate::translate::Report::default(),
        };
        assert_eq!(volume_name(&b, "ecs-shm-0"), "ecs-shm-0-x1");
        assert_eq!(volume_name(&b, "ecs-shm-1"), "ecs-shm-1");
    }

    #[test]
    fn tmpfs_sizes_paths_and_options() {
        let t = one(json!({"name": "a", "image": "x", "linuxParameters": {"tmpfs": [
            {"containerPath": "/run", "size": 64},
            {"containerPath": "/scratch", "size": 1024, "mountOptions": ["ro", "noexec", "nosuid"]},
            {"containerPath": "relative", "size": 10},
            {"containerPath": "/zero", "size": 0}
        ]}}));
        assert_eq!(
            volume(&t, "ecs-tmpfs-0-0")
                .empty_dir
                .expect("emptyDir")
                .size_limit,
            Some(Quantity("64Mi".to_owned()))
        );
        assert_eq!(
            volume(&t, "ecs-tmpfs-0-1")
                .empty_dir
                .expect("emptyDir")
                .size_limit,
            Some(Quantity("1024Mi".to_owned()))
        );
        assert_eq!(mount(&t, 0, "/run").read_only, None);
        assert_eq!(mount(&t, 0, "/scratch").read_only, Some(true));
        assert_eq!(spec(&t).volumes.as_ref().map(Vec::len), Some(2));
        let n = notes(
            &t,
            "containerDefinitions[0].linuxParameters.tmpfs[1].mountOptions",
        );
        assert!(
            n[0].message.starts_with("noexec, nosuid not applied"),
            "{}",
            n[0].message
        );
        for k in [2, 3] {
            assert_eq!(
                notes(&t, &format!("containerDefinitions[0].linuxParameters.tmpfs[{k}]"))[0].kind,
                NoteKind::Ignored
            );
        }
    }

    #[test]
    fn safe_sysctls_are_set_and_the_others_reported() {
        let t = translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x", "systemControls": [
                {"namespace": "net.ipv4.tcp_keepalive_time", "value": "60"},
                {"namespace": "net.core.somaxconn", "value": "1024"},
                {"namespace": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"},
                {"namespace": "kernel/shm_rmid_forced", "value": "1"}
            ]},
            {"name": "b", "image": "x", "systemControls": [
                {"namespace": "net.ipv4.tcp_keepalive_time", "value": "120"},
                {"namespace": "kernel.shm_rmid_forced", "value": "1"}
            ]}
        ]}));
        assert_eq!(
            sysctls(&t),
            vec![
                ("net.ipv4.tcp_keepalive_time".to_owned(), "120".to_owned()),
                ("kernel.shm_rmid_forced".to_owned(), "1".to_owned()),
            ],
            "the last container wins; equal values merge"
        );
        let unsafe_note = notes(&t, "containerDefinitions[0].systemControls[1]");
        assert_eq!(unsafe_note[0].kind, NoteKind::Ignored);
        assert!(
            unsafe_note[0]
                .message
                .contains("--allowed-unsafe-sysctls=net.core.somaxconn")
        );
        assert!(
            notes(&t, "containerDefinitions[0].systemControls[2]")[0]
                .message
                .contains("before Kubernetes 1.32")
        );
        assert_eq!(
            notes(&t, "containerDefinitions[1].systemControls[0]")[0].kind,
            NoteKind::Approximated
        );
        assert!(notes(&t, "containerDefinitions[1].systemControls[1]").is_empty());
        assert_eq!(
            level(&t).as_deref(),
            Some("baseline"),
            "safe sysctls keep the profile"
        );
    }

    #[test]
    fn network_sysctls_are_not_set_with_host_networking() {
        let t = translate(
            json!({"family": "t", "networkMode": "host", "containerDefinitions": [
                {"name": "a", "image": "x", "systemControls": [
                    {"namespace": "net.ipv4.tcp_syncookies", "value": "1"},
                    {"namespace": "kernel.shm_rmid_forced", "value": "1"}
                ]}
            ]}),
        );
        assert_eq!(
            sysctls(&t),
            vec![("kernel.shm_rmid_forced".to_owned(), "1".to_owned())]
        );
        assert_eq!(
            notes(&t, "containerDefinitions[0].systemControls[0]")[0].kind,
            NoteKind::Ignored
        );
    }

    #[test]
    fn devices_swap_and_ulimits_are_reported_as_ignored() {
        let t = one(json!({"name": "a", "image": "x",
            "linuxParameters": {"devices": [{"hostPath": "/dev/fuse"}], "maxSwap": 0, "swappiness": 10},
            "ulimits": [{"name": "nofile", "softLimit": 123, "hardLimit": 234}]
        }));
        for f in [
            "linuxParameters.devices",
            "linuxParameters.maxSwap",
            "linuxParameters.swappiness",
            "ulimits",
        ] {
            let n = notes(&t, &format!("containerDefinitions[0].{f}"));
            assert_eq!(n.len(), 1, "{f}");
            assert_eq!(n[0].kind, NoteKind::Ignored, "{f}");
        }
        assert!(
            notes(&t, "containerDefinitions[0].ulimits")[0]
                .message
                .starts_with("nofile 123/234")
        );
        assert!(
            notes(&t, "containerDefinitions[0].linuxParameters.devices")[0]
                .message
                .contains("/dev/fuse")
        );
        assert!(
            t.report
                .notes
                .iter()
                .all(|n| n.kind != NoteKind::NotYetTranslated),
            "{:?}",
            t.report.notes
        );
    }

    #[test]
    fn windows_ignores_linux_parameters() {
        let t = translate(json!({"family": "t",
            "runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE"},
            "containerDefinitions": [{"name": "a", "image": "x",
                "linuxParameters": {"initProcessEnabled": true},
                "systemControls": [{"namespace": "net.ipv4.tcp_syncookies", "value": "1"}]}]}));
        assert_eq!(spec(&t).share_process_namespace, None);
        assert!(sysctls(&t).is_empty());
        assert_eq!(
            notes(&t, "containerDefinitions[0].linuxParameters")[0].kind,
            NoteKind::Ignored
        );
        assert_eq!(
            notes(&t, "containerDefinitions[0].systemControls")[0].kind,
            NoteKind::Ignored
        );
    }

    #[test]
    fn corpus_add_drop_capabilities() {
        let t = corpus("taskdef-ecsagent-add-drop-capabilities.json");
        // The test container exits 42 when it has CAP_SYS_ADMIN and lacks CAP_MKNOD.
        assert_eq!(caps(&t, 0), (strings(&["SYS_ADMIN"]), strings(&["MKNOD"])));
        assert_eq!(sc(&t, 0).allow_privilege_escalation, Some(false));
        assert_eq!(level(&t).as_deref(), Some("privileged"));
        assert_eq!(
            notes(&t, "containerDefinitions[0].linuxParameters.capabilities.add").len(),
            1
        );
    }

    #[test]
    fn corpus_sysctl() {
        let t = corpus("taskdef-ecsagent-sysctl.json");
        // net.ipv4.conf.default.rp_filter is namespaced but not in Kubernetes' safe set.
        assert!(sysctls(&t).is_empty());
        let n = notes(&t, "containerDefinitions[0].systemControls[0]");
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].kind, NoteKind::Ignored);
        assert!(
            n[0].message
                .contains("--allowed-unsafe-sysctls=net.ipv4.conf.default.rp_filter")
        );
    }

    #[test]
    fn corpus_tmpfs() {
        let t = corpus("taskdef-ecsagent-tmpfs.json");
        let v = volume(&t, "ecs-tmpfs-0-0");
        let e = v.empty_dir.expect("emptyDir");
        assert_eq!(
            (e.medium.as_deref(), e.size_limit),
            (Some("Memory"), Some(Quantity("100Mi".to_owned())))
        );
        let m = mount(&t, 0, "/dev/tmpfs");
        assert_eq!((m.name.as_str(), m.read_only), ("ecs-tmpfs-0-0", Some(true)));
        let n = notes(
            &t,
            "containerDefinitions[0].linuxParameters.tmpfs[0].mountOptions",
        );
        assert!(n[0].message.starts_with("noexec not applied"), "{}", n[0].message);
    }

    #[test]
    fn corpus_datadog_system_probe_capabilities() {
        let t = corpus("taskdef-datadog-agent-sysprobe-ec2-capabilities.json");
        let (add, drop) = caps(&t, 0);
        assert_eq!(
            add,
            strings(&[
                "SYS_ADMIN",
                "SYS_RESOURCE",
                "SYS_PTRACE",
                "NET_ADMIN",
                "NET_BROADCAST",
                "NET_RAW",
                "IPC_LOCK",
                "CHOWN"
            ])
        );
        assert!(drop.is_empty(), "{drop:?}");
        assert_eq!(level(&t).as_deref(), Some("privileged"));
        let n = notes(&t, "containerDefinitions[0].linuxParameters.capabilities.add");
        assert!(
            n[0].message.starts_with(
                "adds SYS_ADMIN, SYS_RESOURCE, SYS_PTRACE, NET_ADMIN, NET_BROADCAST, NET_RAW, IPC_LOCK;"
            ),
            "CHOWN is within baseline: {}",
            n[0].message
        );
    }
}
