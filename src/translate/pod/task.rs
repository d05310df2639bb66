//! Task-level fields: roles, registry credentials, pidMode/ipcMode, runtimePlatform, the App Mesh
//! proxy, accelerators, fault injection, trusted execution, tags, and the container restart
//! policy. Logging (`logConfiguration`, `firelensConfiguration`) is [`super::logging`]'s, which
//! this stage calls.
//!
//! Left to other stages: `cpu`, `memory`, `ephemeralStorage` and `requiresCompatibilities`
//! (resources), `volumes` (volumes), `networkMode` (network), `credentialSpecs` (security),
//! `placementConstraints` (placement).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LocalObjectReference, PodOS};
use serde_json::{Value, json};

use super::{
    Build, NoteKind, PodError, json_text, labels, logging,
    os::{is_windows, windows_hint},
    secrets::SECRETS_MANAGER_STORE,
};
use crate::api::ecs::{CPUArchitecture, IpcMode, IsolationMode, OSFamily, PidMode};

/// Fields this stage translates.
pub(super) const HANDLED: &[&str] = &[
    "taskRoleArn",
    "executionRoleArn",
    "pidMode",
    "ipcMode",
    "runtimePlatform",
    "proxyConfiguration",
    "inferenceAccelerators",
    "enableFaultInjection",
    "trustedExecutionConfiguration",
    "tags",
    "containerDefinitions[].repositoryCredentials",
    "containerDefinitions[].restartPolicy",
    "containerDefinitions[].logConfiguration",
    "containerDefinitions[].firelensConfiguration",
];

/// The ServiceAccount annotation the EKS Pod Identity Webhook (IAM roles for service accounts,
/// IRSA) reads: pods of that ServiceAccount get web-identity credentials for the role.
pub(crate) const IRSA_ROLE_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// ServiceAccount annotation keeping a `taskRoleArn` given as a short role name (IRSA needs the
/// full ARN, which cannot be built without the account).
pub(crate) const TASK_ROLE_NAME_ANNOTATION: &str = "ecsbridge.io/task-role-name";

/// Pod template annotation with the task's `proxyConfiguration` as JSON (`type`,
/// `containerName` as the Kubernetes container name, `properties` as an object), for a mesh's
/// sidecar injector to read.
pub(crate) const PROXY_ANNOTATION: &str = "ecsbridge.io/proxy-configuration";

/// Pod template annotation with the task definition's tags as a JSON object (key → value).
/// ECS tags tasks with them only when the service or RunTask says `propagateTags:
/// TASK_DEFINITION`; the workload translations replace it with the tags ECS would put on their
/// tasks (the Service's: [`crate::translate::service`]).
pub(crate) const TAGS_ANNOTATION: &str = labels::TAGS;

/// Applies this stage to the pod under construction.
#[allow(clippy::unnecessary_wraps)]
pub(super) fn apply(b: &mut Build<'_>) -> Result<(), PodError> {
    task_role(b);
    execution_role(b);
    repository_credentials(b);
    namespaces(b);
    runtime_platform(b);
    proxy_configuration(b);
    unsupported_task_features(b);
    tags(b);
    restart_policies(b);
    logging::apply(b);
    Ok(())
}

/// The name of the ServiceAccount of a TaskDefinition object's tasks: one per object (not per
/// revision), so a changed role applies to pods created after the change.
pub(crate) fn service_account_name(object_name: &str) -> String {
    derived_name(&["ecs", object_name])
}

/// The name of the image pull Secret of one container's `repositoryCredentials`.
pub(crate) fn registry_secret_name(object_name: &str, container: &str) -> String {
    derived_name(&[object_name, container, "registry"])
}

/// Joins `parts` with `-` into a valid object name (at most 253 characters, ending with an
/// alphanumeric). The parts are already valid names.
fn derived_name(parts: &[&str]) -> String {
    let joined = parts.join("-");
    let cut: String = joined.chars().take(253).collect();
    cut.trim_end_matches('-').to_owned()
}

/// Labels of the objects made for a TaskDefinition object (not revision-specific).
fn object_labels(object_name: &str) -> Value {
    json!({
        labels::MANAGED_BY: labels::MANAGED_BY_VALUE,
        labels::NAME: object_name,
        labels::TASK_DEFINITION: object_name,
    })
}

/// Whether a `taskRoleArn` is an IAM role ARN (`arn:<partition>:iam::<account>:role/<name>`)
/// rather than a short role name.
fn is_role_arn(role: &str) -> bool {
    role.starts_with("arn:") && role.contains(":iam::") && role.contains(":role/")
}

/// `taskRoleArn` → a ServiceAccount with the IRSA annotation, used by the pod. Without a task
/// role, ECS tasks have no credentials: the pod gets no ServiceAccount token either.
///
/// IRSA: <https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html>.
/// (EKS Pod Identity needs no annotation: an association of the same ServiceAccount does it.)
/// `automountServiceAccountToken`:
/// <https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting>.
fn task_role(b: &mut Build<'_>) {
    let Some(role) =
        b.td.task_role_arn
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
    else {
        b.pod.automount_service_account_token = Some(false);
        return;
    };
    let name = service_account_name(b.object_name);
    let annotation = if is_role_arn(role) {
        IRSA_ROLE_ANNOTATION
    } else {
        b.report.note(
            NoteKind::Approximated,
            "taskRoleArn",
            format!(
                "{role:?} is a role name, not an ARN: IAM roles for service accounts need the ARN \
                 (arn:aws:iam::<account>:role/{role}); give the ARN, or annotate ServiceAccount \
                 {name} with {IRSA_ROLE_ANNOTATION} (or associate it with EKS Pod Identity)"
            ),
        );
        TASK_ROLE_NAME_ANNOTATION
    };
    b.objects.push(json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "labels": object_labels(b.object_name),
            "annotations": {annotation: role},
        },
    }));
    b.pod.service_account_name = Some(name);
}

/// `executionRoleArn`: the role ECS's agent used on the task's behalf has no single
/// counterpart; each of its duties falls to a part of the cluster.
fn execution_role(b: &mut Build<'_>) {
    if b.td
        .execution_role_arn
        .as_deref()
        .is_some_and(|r| !r.trim().is_empty())
    {
        b.report.note(
            NoteKind::Approximated,
            "executionRoleArn",
            "image pulls use the node's credentials (or imagePullSecrets, from \
             repositoryCredentials), secrets are read by External Secrets with its store's \
             identity, and logs are shipped by the node's log agent: grant those the role's \
             permissions",
        );
    }
}

/// The registry host of an image reference, as a Docker config `auths` key: the first path
/// component when it looks like a host (has `.` or `:`, or is `localhost`), else Docker Hub.
fn registry_host(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.to_owned(),
        _ => "https://index.docker.io/v1/".to_owned(),
    }
}

/// The `.dockerconfigjson` template of an ExternalSecret: ECS's registry credentials secret is
/// JSON with `username` and `password`; External Secrets' template engine v2 (Go templates with
/// Sprig: `toJson`, `b64enc`) builds the Docker config from them.
/// <https://external-secrets.io/latest/guides/common-k8s-secret-types/>
fn docker_config_template(registry: &str) -> String {
    let registry = serde_json::to_string(registry).unwrap_or_else(|_| "\"\"".to_owned());
    format!(
        "{{\"auths\":{{{registry}:{{\"username\":{{{{ .username | toJson }}}},\
         \"password\":{{{{ .password | toJson }}}},\
         \"auth\":{{{{ printf \"%s:%s\" .username .password | b64enc | toJson }}}}}}}}}}"
    )
}

/// `repositoryCredentials.credentialsParameter` (a Secrets Manager secret with the registry's
/// `username` and `password`) → an image pull Secret the pod references: made by an
/// ExternalSecret (through the secrets stage's Secrets Manager ClusterSecretStore) when External
/// Secrets is installed, else expected to exist (the report names it).
fn repository_credentials(b: &mut Build<'_>) {
    for (i, c) in b.td.container_definitions.iter().enumerate() {
        let Some(param) = c
            .repository_credentials
            .as_ref()
            .map(|r| r.credentials_parameter.trim())
        else {
            continue;
        };
        let field = format!("containerDefinitions[{i}].repositoryCredentials");
        if param.is_empty() {
            b.report.note(
                NoteKind::Ignored,
                field,
                "credentialsParameter is empty: no image pull Secret",
            );
            continue;
        }
        let name = registry_secret_name(b.object_name, &b.containers[i].name);
        let registry = registry_host(c.image.as_deref().unwrap_or_default());
        if b.options.external_secrets {
            b.objects.push(json!({
                "apiVersion": "external-secrets.io/v1",
                "kind": "ExternalSecret",
                "metadata": {"name": name, "labels": object_labels(b.object_name)},
                "spec": {
                    "refreshInterval": "1h",
                    "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRETS_MANAGER_STORE},
                    "target": {
                        "name": name,
                        "creationPolicy": "Owner",
                        "template": {
                            "type": "kubernetes.io/dockerconfigjson",
                            "engineVersion": "v2",
                            "data": {".dockerconfigjson": docker_config_template(&registry)},
                        },
                    },
                    "data": [
                        {"secretKey": "username", "remoteRef": {"key": param, "property": "username"}},
                        {"secretKey": "password", "remoteRef": {"key": param, "property": "password"}},
                    ],
                },
            }));
        } else {
            b.report.note(
                NoteKind::Approximated,
                field,
                format!(
                    "External Secrets is not installed: the pod pulls with Secret {name}, which \
                     must exist: type kubernetes.io/dockerconfigjson, with the credentials in \
                     {param} for {registry}"
                ),
            );
        }
        let secrets = b.pod.image_pull_secrets.get_or_insert_with(Vec::new);
        if !secrets.iter().any(|s| s.name == name) {
            secrets.push(LocalObjectReference { name });
        }
    }
}

/// `pidMode` and `ipcMode`. The containers of a pod always share one IPC namespace
/// (<https://kubernetes.io/docs/concepts/workloads/pods/#resource-sharing-and-communication>);
/// a shared PID namespace is `shareProcessNamespace`
/// (<https://kubernetes.io/docs/tasks/configure-pod-container/share-process-namespace/>).
fn namespaces(b: &mut Build<'_>) {
    if is_windows(b) {
        // Kubernetes refuses hostPID, hostIPC and shareProcessNamespace on Windows pods.
        for (field, set) in [
            ("pidMode", b.td.pid_mode.is_some()),
            ("ipcMode", b.td.ipc_mode.is_some()),
        ] {
            if set {
                b.report.note(
                    NoteKind::Ignored,
                    field,
                    "not supported for Windows containers (by ECS either)",
                );
            }
        }
        return;
    }
    match b.td.pid_mode {
        None => {}
        Some(PidMode::Task) => b.pod.share_process_namespace = Some(true),
        Some(PidMode::Host) => {
            b.pod.host_pid = Some(true);
            b.report.note(
                NoteKind::Approximated,
                "pidMode",
                "host: hostPID: true; the pod sees the node's processes; this lowers the pod \
                 below the Pod Security baseline profile",
            );
        }
    }
    match b.td.ipc_mode {
        None | Some(IpcMode::Task) => {}
        Some(IpcMode::Host) => {
            b.pod.host_ipc = Some(true);
            b.report.note(
                NoteKind::Approximated,
                "ipcMode",
                "host: hostIPC: true; the pod shares the node's IPC namespace; this lowers the \
                 pod below the Pod Security baseline profile",
            );
        }
        Some(IpcMode::None) => b.report.note(
            NoteKind::Approximated,
            "ipcMode",
            "none: the containers of a pod always share one IPC namespace; ECS gave each \
             container its own (run them in separate tasks to isolate them)",
        ),
    }
}

/// The `node.kubernetes.io/windows-build` value (major.minor.build) of a Windows Server release.
/// <https://kubernetes.io/docs/reference/labels-annotations-taints/#nodekubernetesiowindows-build>,
/// builds as in <https://kubernetes.io/docs/concepts/windows/user-guide/>. FULL and CORE differ
/// in the image's edition, not in the node's build: Kubernetes has no label for it.
fn windows_build(os: OSFamily) -> Option<&'static str> {
    Some(match os {
        OSFamily::Linux => return None,
        OSFamily::WindowsServer2016Full => "10.0.14393",
        OSFamily::WindowsServer2019Full | OSFamily::WindowsServer2019Core => "10.0.17763",
        OSFamily::WindowsServer2004Core => "10.0.19041",
        OSFamily::WindowsServer20h2Core => "10.0.19042",
        OSFamily::WindowsServer2022Full | OSFamily::WindowsServer2022Core => "10.0.20348",
        OSFamily::WindowsServer2025Full | OSFamily::WindowsServer2025Core => "10.0.26100",
    })
}

/// `runtimePlatform` → `nodeSelector` on the well-known node labels `kubernetes.io/os`,
/// `kubernetes.io/arch` and `node.kubernetes.io/windows-build`
/// (<https://kubernetes.io/docs/reference/labels-annotations-taints/>). Only what the task
/// definition states is pinned. Without `runtimePlatform`, a task definition that can only run
/// on Windows (Windows paths, PowerShell, a gMSA credential spec) is sent to Windows nodes.
fn runtime_platform(b: &mut Build<'_>) {
    let mut selector = BTreeMap::new();
    let platform = b.td.runtime_platform.as_ref();
    match platform.and_then(|p| p.operating_system_family) {
        Some(os) => match windows_build(os) {
            None => {
                selector.insert("kubernetes.io/os", "linux");
            }
            Some(build) => {
                selector.insert("kubernetes.io/os", "windows");
                selector.insert("node.kubernetes.io/windows-build", build);
                if os == OSFamily::WindowsServer2016Full {
                    b.report.note(
                        NoteKind::Approximated,
                        "runtimePlatform.operatingSystemFamily",
                        "WINDOWS_SERVER_2016_FULL: Kubernetes supports Windows nodes from \
                         Windows Server 2019; the pod waits for a node with Windows build \
                         10.0.14393",
                    );
                }
            }
        },
        None => {
            if let Some(why) = windows_hint(b.td) {
                selector.insert("kubernetes.io/os", "windows");
                b.report.note(
                    NoteKind::Approximated,
                    "runtimePlatform",
                    format!(
                        "no operatingSystemFamily, but the task definition is for Windows ({why}): \
                         nodeSelector kubernetes.io/os=windows; set \
                         runtimePlatform.operatingSystemFamily to pin the Windows Server release"
                    ),
                );
            }
        }
    }
    match platform.and_then(|p| p.cpu_architecture) {
        None => {}
        Some(CPUArchitecture::X86_64) => {
            selector.insert("kubernetes.io/arch", "amd64");
        }
        Some(CPUArchitecture::Arm64) => {
            selector.insert("kubernetes.io/arch", "arm64");
        }
    }
    // `spec.os` makes the API server check the pod against its OS (Linux-only fields are refused
    // on Windows pods) and lets Pod Security skip Linux-only checks for Windows
    // (https://kubernetes.io/docs/concepts/workloads/pods/#pod-os).
    if let Some(os) = selector.get("kubernetes.io/os") {
        b.pod.os = Some(PodOS {
            name: (*os).to_owned(),
        });
    }
    if !selector.is_empty() {
        let node_selector = b.pod.node_selector.get_or_insert_with(BTreeMap::new);
        for (k, v) in selector {
            node_selector.insert(k.to_owned(), v.to_owned());
        }
    }
}

/// `proxyConfiguration` (App Mesh) → a pod annotation for a mesh's sidecar injector.
fn proxy_configuration(b: &mut Build<'_>) {
    let Some(proxy) = &b.td.proxy_configuration else {
        return;
    };
    let index =
        b.td.container_definitions
            .iter()
            .position(|c| c.name.as_deref() == Some(proxy.container_name.as_str()));
    let container = index.map_or(proxy.container_name.clone(), |i| b.containers[i].name.clone());
    let properties: serde_json::Map<String, Value> = proxy
        .properties
        .iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p.name.clone()?,
                Value::String(p.value.clone().unwrap_or_default()),
            ))
        })
        .collect();
    let value = json!({
        "type": proxy.r#type.map_or(Value::Null, |t| serde_json::to_value(t).unwrap_or(Value::Null)),
        "containerName": container,
        "properties": properties,
    });
    b.annotations
        .insert(PROXY_ANNOTATION.to_owned(), value.to_string());
    let missing = if index.is_none() {
        format!(
            " (container {:?} is not in the task definition)",
            proxy.container_name
        )
    } else {
        String::new()
    };
    b.report.note(
        NoteKind::Approximated,
        "proxyConfiguration",
        format!(
            "App Mesh: ECS routed the task's traffic through container {container}{missing} with \
             iptables rules; nothing does that on Kubernetes. The settings are kept in annotation \
             {PROXY_ANNOTATION} for a mesh's sidecar injector (App Mesh reaches end of support on \
             2026-09-30; Istio, Linkerd or Kuma do this job on Kubernetes)"
        ),
    );
}

/// Task features with no Kubernetes counterpart.
fn unsupported_task_features(b: &mut Build<'_>) {
    if b.td
        .inference_accelerators
        .as_ref()
        .is_some_and(|a| !a.is_empty())
    {
        b.report.note(
            NoteKind::Ignored,
            "inferenceAccelerators",
            "Amazon Elastic Inference is discontinued and has no Kubernetes device; use GPUs or \
             AWS Inferentia (Neuron) devices instead",
        );
    }
    // `false` is ECS's default: nothing to carry over.
    if b.td.enable_fault_injection == Some(true) {
        b.report.note(
            NoteKind::Ignored,
            "enableFaultInjection",
            "the ECS fault injection endpoints (for AWS Fault Injection Service) do not exist on \
             Kubernetes; use a chaos tool such as Chaos Mesh or LitmusChaos",
        );
    }
    // SHARED is an ordinary shared-kernel task, which is what a pod is.
    if let Some(t) = &b.td.trusted_execution_configuration
        && t.isolation_mode != IsolationMode::Shared
    {
        let mode = crate::translate::spelling::enum_name(&t.isolation_mode);
        b.report.note(
            NoteKind::Ignored,
            "trustedExecutionConfiguration",
            format!(
                "isolationMode {mode}: give the pod a sandboxed RuntimeClass (Kata Containers, \
                 Confidential Containers) instead; attestation is not reproduced"
            ),
        );
    }
}

/// `tags` → an annotation with the tags as a JSON object. ECS puts them on tasks only when the
/// service or RunTask propagates them (`propagateTags: TASK_DEFINITION`); the workload
/// translation keeps or drops the annotation accordingly.
fn tags(b: &mut Build<'_>) {
    // (Serialised from a sorted map, as a `serde_json::Value` object was: the same text.)
    let tags: BTreeMap<&str, &str> =
        b.td.tags
            .iter()
            .flatten()
            .filter_map(|t| Some((t.key.as_deref()?, t.value.as_deref().unwrap_or_default())))
            .collect();
    if !tags.is_empty() {
        b.annotations.insert(TAGS_ANNOTATION.to_owned(), json_text(&tags));
    }
}

/// The container `restartPolicy` (restart in place). Kubernetes restarts containers per the
/// pod's `restartPolicy`, with an exponential back-off
/// (<https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy>); it has
/// no per-container exit-code filter (in v1.33) nor minimum uptime.
fn restart_policies(b: &mut Build<'_>) {
    for (i, c) in b.td.container_definitions.iter().enumerate() {
        // `enabled: false` is ECS's default: nothing to carry over.
        let Some(policy) = c.restart_policy.as_ref().filter(|p| p.enabled) else {
            continue;
        };
        let codes = policy
            .ignored_exit_codes
            .as_ref()
            .filter(|c| !c.is_empty())
            .map_or_else(
                || "no exit code is ignored".to_owned(),
                |codes| format!("exit codes {codes:?} would still restart it"),
            );
        let period = policy.restart_attempt_period.unwrap_or(300);
        b.report.note(
            NoteKind::Approximated,
            format!("containerDefinitions[{i}].restartPolicy"),
            format!(
                "Kubernetes restarts the container per the pod's restartPolicy (Always under a \
                 service, with an exponential back-off; Never for standalone tasks); {codes}, and \
                 it is restarted even if it ran less than restartAttemptPeriod ({period} s)"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{PodTranslation, pod_template, pod_template_with};
    use super::*;
    use crate::{
        api::ecs::RegisterTaskDefinition,
        import::{ImportOptions, Imported, import_file},
        translate::{
            Note,
            testing::{corpus_dir, spec, td},
        },
    };

    fn translate(v: Value) -> PodTranslation {
        pod_template("web", &td(v), 1).expect("translates")
    }

    fn annotation<'a>(t: &'a PodTranslation, key: &str) -> Option<&'a str> {
        t.template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    fn note<'a>(t: &'a PodTranslation, field: &str) -> Option<&'a Note> {
        t.report.notes.iter().find(|n| n.field == field)
    }

    /// The notes on fields this stage handles.
    fn mine(t: &PodTranslation) -> Vec<&Note> {
        t.report
            .notes
            .iter()
            .filter(|n| {
                let mut pattern = String::new();
                let mut in_index = false;
                for ch in n.field.chars() {
                    match ch {
                        '[' => in_index = true,
                        ']' => {
                            in_index = false;
                            pattern.push_str("[]");
                        }
                        _ if in_index => {}
                        _ => pattern.push(ch),
                    }
                }
                HANDLED
                    .iter()
                    .any(|h| pattern == *h || pattern.starts_with(&format!("{h}.")))
            })
            .collect()
    }

    fn one(container: Value) -> Value {
        let mut c = json!({"name": "app", "image": "nginx"});
        if let (Some(c), Some(extra)) = (c.as_object_mut(), container.as_object()) {
            c.extend(extra.clone());
        }
        c
    }

    #[test]
    fn a_task_role_arn_becomes_an_irsa_service_account() {
        let arn = "arn:aws:iam::123456789012:role/app";
        let t =
            translate(json!({"family": "web", "taskRoleArn": arn, "containerDefinitions": [one(json!({}))]}));
        assert_eq!(t.objects.len(), 1, "{:?}", t.objects);
        let sa = &t.objects[0];
        assert_eq!(
            (sa["apiVersion"].as_str(), sa["kind"].as_str()),
            (Some("v1"), Some("ServiceAccount"))
        );
        assert_eq!(sa["metadata"]["name"], "ecs-web");
        assert_eq!(sa["metadata"]["annotations"][IRSA_ROLE_ANNOTATION], arn);
        assert_eq!(
            sa["metadata"]["labels"][labels::MANAGED_BY],
            labels::MANAGED_BY_VALUE
        );
        let pod = spec(&t);
        assert_eq!(pod.service_account_name.as_deref(), Some("ecs-web"));
        assert_eq!(pod.automount_service_account_token, None);
        assert!(note(&t, "taskRoleArn").is_none(), "{:?}", t.report.notes);
    }

    #[test]
    fn a_short_role_name_is_kept_and_reported() {
        let t = translate(
            json!({"family": "web", "taskRoleArn": "appRole", "containerDefinitions": [one(json!({}))]}),
        );
        let sa = &t.objects[0];
        assert_eq!(
            sa["metadata"]["annotations"][TASK_ROLE_NAME_ANNOTATION],
            "appRole"
        );
        assert!(sa["metadata"]["annotations"].get(IRSA_ROLE_ANNOTATION).is_none());
        let n = note(&t, "taskRoleArn").expect("note");
        assert_eq!(n.kind, NoteKind::Approximated);
        assert!(
            n.message.contains("arn:aws:iam::<account>:role/appRole"),
            "{}",
            n.message
        );
        assert!(n.message.contains("ecs-web"), "{}", n.message);
    }

    #[test]
    fn without_a_task_role_the_pod_gets_no_token() {
        let t = translate(json!({"family": "web", "containerDefinitions": [one(json!({}))]}));
        assert!(t.objects.is_empty());
        let pod = spec(&t);
        assert_eq!(pod.automount_service_account_token, Some(false));
        assert_eq!(pod.service_account_name, None);
        assert!(mine(&t).is_empty(), "{:?}", t.report.notes);
    }

    #[test]
    fn service_account_names_stay_valid() {
        assert_eq!(service_account_name("web"), "ecs-web");
        let long = "a".repeat(253);
        assert_eq!(service_account_name(&long).len(), 253);
        let cut = format!("{}-b", "a".repeat(250));
        assert!(!service_account_name(&cut).ends_with('-'));
    }

    #[test]
    fn the_execution_role_is_reported() {
        let t = translate(
            json!({"family": "web", "executionRoleArn": "arn:aws:iam::1:role/exec", "containerDefinitions": [one(json!({}))]}),
        );
        let n = note(&t, "executionRoleArn").expect("note");
        assert_eq!(n.kind, NoteKind::Approximated);
        assert!(n.message.contains("imagePullSecrets"), "{}", n.message);
    }

    #[test]
    fn registry_hosts_follow_docker_references() {
        for (image, host) in [
            ("127.0.0.1:51671/busybox:latest", "127.0.0.1:51671"),
            ("nginx", "https://index.docker.io/v1/"),
            ("library/nginx:1", "https://index.docker.io/v1/"),
            ("ghcr.io/org/app@sha256:abc", "ghcr.io"),
            ("localhost/app", "localhost"),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            ),
        ] {
            assert_eq!(registry_host(image), host, "{image}");
        }
    }

    #[test]
    fn docker_config_template_is_json_around_go_actions() {
        let t = docker_config_template("ghcr.io");
        assert_eq!(
            t,
            r#"{"auths":{"ghcr.io":{"username":{{ .username | toJson }},"password":{{ .password | toJson }},"auth":{{ printf "%s:%s" .username .password | b64enc | toJson }}}}}"#
        );
        // With the actions rendered as JSON strings, it is a Docker config.
        let rendered = t
            .replace("{{ .username | toJson }}", "\"u\"")
            .replace("{{ .password | toJson }}", "\"p\"")
            .replace(
                r#"{{ printf "%s:%s" .username .password | b64enc | toJson }}"#,
                "\"dTpw\"",
            );
        let v: Value = serde_json::from_str(&rendered).expect("docker config JSON");
        assert_eq!(v["auths"]["ghcr.io"]["auth"], "dTpw");
    }

    #[test]
    fn repository_credentials_become_an_external_secret_and_a_pull_secret() {
        let param = "arn:aws:secretsmanager:us-east-1:1:secret:reg-AbCdEf";
        let t = translate(json!({"family": "web", "containerDefinitions": [
            {"name": "app_1", "image": "registry.example.com/app:1", "repositoryCredentials": {"credentialsParameter": param}}
        ]}));
        let es = t
            .objects
            .iter()
            .find(|o| o["kind"] == "ExternalSecret")
            .expect("ExternalSecret");
        assert_eq!(es["apiVersion"], "external-secrets.io/v1");
        assert_eq!(es["metadata"]["name"], "web-app-1-registry");
        assert_eq!(es["spec"]["secretStoreRef"]["name"], SECRETS_MANAGER_STORE);
        assert_eq!(es["spec"]["target"]["name"], "web-app-1-registry");
        assert_eq!(
            es["spec"]["target"]["template"]["type"],
            "kubernetes.io/dockerconfigjson"
        );
        let template = es["spec"]["target"]["template"]["data"][".dockerconfigjson"]
            .as_str()
            .expect("template");
        assert!(template.contains("\"registry.example.com\""), "{template}");
        for (i, key) in ["username", "password"].iter().enumerate() {
            assert_eq!(es["spec"]["data"][i]["secretKey"], *key);
            assert_eq!(es["spec"]["data"][i]["remoteRef"]["key"], param);
            assert_eq!(es["spec"]["data"][i]["remoteRef"]["property"], *key);
        }
        let pull = spec(&t).image_pull_secrets.as_ref().expect("imagePullSecrets");
        assert_eq!(pull.len(), 1);
        assert_eq!(pull[0].name, "web-app-1-registry");
        assert!(
            note(&t, "containerDefinitions[0].repositoryCredentials").is_none(),
            "{:?}",
            t.report.notes
        );
    }

    #[test]
    fn without_external_secrets_the_pull_secret_is_named_in_the_report() {
        let t = pod_template_with(
            "web",
            &td(json!({"family": "web", "containerDefinitions": [
                {"name": "app", "image": "x", "repositoryCredentials": {"credentialsParameter": "reg"}}
            ]})),
            1,
            None,
            &crate::translate::Options {
                external_secrets: false,
                ..crate::translate::Options::default()
            },
        )
        .expect("translates");
        assert!(t.objects.iter().all(|o| o["kind"] != "ExternalSecret"));
        assert_eq!(
            spec(&t).image_pull_secrets.as_ref().expect("pull secrets")[0].name,
            "web-app-registry"
        );
        let n = note(&t, "containerDefinitions[0].repositoryCredentials").expect("note");
        assert_eq!(n.kind, NoteKind::Approximated);
        assert!(n.message.contains("Secret web-app-registry"), "{}", n.message);
        assert!(
            n.message.contains("kubernetes.io/dockerconfigjson"),
            "{}",
            n.message
        );
    }

    #[test]
    fn pid_and_ipc_modes() {
        let t = translate(
            json!({"family": "w", "pidMode": "task", "ipcMode": "task", "containerDefinitions": [one(json!({}))]}),
        );
        let pod = spec(&t);
        assert_eq!(pod.share_process_namespace, Some(true));
        assert_eq!((pod.host_pid, pod.host_ipc), (None, None));
        assert!(mine(&t).is_empty(), "{:?}", t.report.notes);

        let t = translate(
            json!({"family": "w", "pidMode": "host", "ipcMode": "host", "containerDefinitions": [one(json!({}))]}),
        );
        let pod = spec(&t);
        assert_eq!((pod.host_pid, pod.host_ipc), (Some(true), Some(true)));
        assert_eq!(pod.share_process_namespace, None);
        for field in ["pidMode", "ipcMode"] {
            let n = note(&t, field).expect("note");
            // The wording every profile-lowering note shares (security.rs), which tools search for.
            assert!(
                n.message
                    .ends_with("; this lowers the pod below the Pod Security baseline profile"),
                "{}",
                n.message
            );
        }

        let t =
            translate(json!({"family": "w", "ipcMode": "none", "containerDefinitions": [one(json!({}))]}));
        assert_eq!(spec(&t).host_ipc, None);
        assert_eq!(note(&t, "ipcMode").expect("note").kind, NoteKind::Approximated);
    }

    fn node_selector(t: &PodTranslation) -> BTreeMap<String, String> {
        spec(t).node_selector.clone().unwrap_or_default()
    }

    #[test]
    fn runtime_platform_selects_nodes() {
        let t = translate(
            json!({"family": "w", "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}, "containerDefinitions": [one(json!({}))]}),
        );
        assert_eq!(
            node_selector(&t),
            BTreeMap::from([
                ("kubernetes.io/arch".to_owned(), "arm64".to_owned()),
                ("kubernetes.io/os".to_owned(), "linux".to_owned()),
            ])
        );
        assert!(mine(&t).is_empty(), "{:?}", t.report.notes);

        let t = translate(
            json!({"family": "w", "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}, "containerDefinitions": [one(json!({}))]}),
        );
        let sel = node_selector(&t);
        assert_eq!(sel["kubernetes.io/os"], "windows");
        assert_eq!(sel["kubernetes.io/arch"], "amd64");
        assert_eq!(sel["node.kubernetes.io/windows-build"], "10.0.20348");

        // Only what is stated is pinned.
        let t = translate(
            json!({"family": "w", "runtimePlatform": {"cpuArchitecture": "ARM64"}, "containerDefinitions": [one(json!({}))]}),
        );
        assert_eq!(node_selector(&t).len(), 1);
    }

    #[test]
    fn every_windows_release_has_its_build() {
        for (os, build) in [
            ("WINDOWS_SERVER_2016_FULL", "10.0.14393"),
            ("WINDOWS_SERVER_2019_FULL", "10.0.17763"),
            ("WINDOWS_SERVER_2019_CORE", "10.0.17763"),
            ("WINDOWS_SERVER_2004_CORE", "10.0.19041"),
            ("WINDOWS_SERVER_20H2_CORE", "10.0.19042"),
            ("WINDOWS_SERVER_2022_FULL", "10.0.20348"),
            ("WINDOWS_SERVER_2022_CORE", "10.0.20348"),
            ("WINDOWS_SERVER_2025_FULL", "10.0.26100"),
            ("WINDOWS_SERVER_2025_CORE", "10.0.26100"),
        ] {
            let os: OSFamily = serde_json::from_value(json!(os)).expect("os family");
            assert_eq!(windows_build(os), Some(build), "{os:?}");
        }
        assert_eq!(windows_build(OSFamily::Linux), None);
        let t = translate(
            json!({"family": "w", "runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2016_FULL"}, "containerDefinitions": [one(json!({}))]}),
        );
        assert!(note(&t, "runtimePlatform.operatingSystemFamily").is_some());
    }

    #[test]
    fn windows_only_task_definitions_go_to_windows_nodes() {
        for (case, container) in [
            (
                "mount",
                json!({"mountPoints": [{"sourceVolume": "v", "containerPath": "C:\\data"}]}),
            ),
            ("workdir", json!({"workingDirectory": "c:/app"})),
            (
                "powershell",
                json!({"entryPoint": ["PowerShell.exe", "-Command"]}),
            ),
            ("cmd", json!({"command": ["cmd", "/c", "dir"]})),
        ] {
            let t = translate(
                json!({"family": "w", "volumes": [{"name": "v"}], "containerDefinitions": [one(container)]}),
            );
            assert_eq!(
                node_selector(&t).get("kubernetes.io/os").map(String::as_str),
                Some("windows"),
                "{case}"
            );
            assert_eq!(
                note(&t, "runtimePlatform").expect("note").kind,
                NoteKind::Approximated,
                "{case}"
            );
            assert_eq!(
                spec(&t).os.as_ref().map(|o| o.name.as_str()),
                Some("windows"),
                "{case}"
            );
        }
        // Not Windows-only: a shell running `cmd`, Linux paths, and gMSA (ECS has it on Linux).
        let t = translate(
            json!({"family": "w", "volumes": [{"name": "v"}], "containerDefinitions": [one(json!({"entryPoint": ["sh", "-c"], "command": ["cmd"], "dockerSecurityOptions": ["credentialspec:arn:aws:ssm:x"], "mountPoints": [{"sourceVolume": "v", "containerPath": "/data"}]}))]}),
        );
        assert!(node_selector(&t).is_empty());
        assert!(spec(&t).os.is_none());
        assert!(note(&t, "runtimePlatform").is_none());
    }

    #[test]
    fn proxy_configuration_is_kept_as_an_annotation() {
        let t = translate(
            json!({"family": "w", "containerDefinitions": [one(json!({})), {"name": "envoy_proxy", "image": "envoy"}],
            "proxyConfiguration": {"type": "APPMESH", "containerName": "envoy_proxy", "properties": [
                {"name": "IgnoredUID", "value": "1337"}, {"name": "AppPorts", "value": "8080"}, {"name": "EgressIgnoredPorts", "value": ""}
            ]}}),
        );
        let v: Value =
            serde_json::from_str(annotation(&t, PROXY_ANNOTATION).expect("annotation")).expect("json");
        assert_eq!(
            v,
            json!({"type": "APPMESH", "containerName": "envoy-proxy", "properties": {"IgnoredUID": "1337", "AppPorts": "8080", "EgressIgnoredPorts": ""}})
        );
        let n = note(&t, "proxyConfiguration").expect("note");
        assert_eq!(n.kind, NoteKind::Approximated);
        assert!(!n.message.contains("not in the task definition"), "{}", n.message);
    }

    #[test]
    fn features_without_counterparts_are_ignored_with_a_note() {
        let t = translate(json!({"family": "w", "containerDefinitions": [one(json!({}))],
            "inferenceAccelerators": [{"deviceName": "d1", "deviceType": "eia2.medium"}],
            "enableFaultInjection": true,
            "trustedExecutionConfiguration": {"isolationMode": "ISOLATED_SANDBOX"}}));
        for field in [
            "inferenceAccelerators",
            "enableFaultInjection",
            "trustedExecutionConfiguration",
        ] {
            assert_eq!(note(&t, field).expect(field).kind, NoteKind::Ignored, "{field}");
        }
        assert!(
            note(&t, "trustedExecutionConfiguration")
                .expect("note")
                .message
                .contains("ISOLATED_SANDBOX")
        );
        // ECS defaults say nothing.
        let t = translate(json!({"family": "w", "containerDefinitions": [one(json!({}))],
            "enableFaultInjection": false, "trustedExecutionConfiguration": {"isolationMode": "SHARED"}}));
        assert!(mine(&t).is_empty(), "{:?}", t.report.notes);
    }

    #[test]
    fn tags_become_an_annotation() {
        let t = translate(json!({"family": "w", "containerDefinitions": [one(json!({}))],
            "tags": [{"key": "team", "value": "web"}, {"key": "cost-center"}]}));
        let v: Value = serde_json::from_str(annotation(&t, TAGS_ANNOTATION).expect("tags")).expect("json");
        assert_eq!(v, json!({"team": "web", "cost-center": ""}));
        assert!(mine(&t).is_empty(), "{:?}", t.report.notes);
    }

    #[test]
    fn the_container_restart_policy_is_approximated() {
        let t = translate(json!({"family": "w", "containerDefinitions": [
            one(json!({"restartPolicy": {"enabled": true, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}})),
            {"name": "b", "image": "x", "restartPolicy": {"enabled": false}}
        ]}));
        let n = note(&t, "containerDefinitions[0].restartPolicy").expect("note");
        assert_eq!(n.kind, NoteKind::Approximated);
        assert!(
            n.message.contains("[0]") && n.message.contains("60 s"),
            "{}",
            n.message
        );
        assert!(note(&t, "containerDefinitions[1].restartPolicy").is_none());
    }

    // The corpus (../shared/corpus/ecs, or $ECS_CORPUS_DIR), through `import` as users do.

    fn corpus(file: &str) -> (String, RegisterTaskDefinition) {
        let dir = corpus_dir();
        let result = import_file(&dir.join(file), &ImportOptions::default());
        match result.objects.into_iter().next() {
            Some(Imported::TaskDefinition(td)) => (
                td.metadata.name.clone().expect("name"),
                td.spec.task_definition.clone(),
            ),
            _ => panic!("{file} is not a task definition: {:?}", result.diagnostics),
        }
    }

    fn corpus_translation(file: &str) -> PodTranslation {
        let (name, td) = corpus(file);
        let t = pod_template(&name, &td, 1).expect("translates");
        // None of this stage's fields is left "not translated yet".
        for n in mine(&t) {
            assert_ne!(n.kind, NoteKind::NotYetTranslated, "{file}: {n}");
        }
        t
    }

    #[test]
    fn corpus_appmesh_proxy_and_roles() {
        let t = corpus_translation("taskdef-ecspresso-katsubushi-appmesh-describe.json");
        let v: Value = serde_json::from_str(annotation(&t, PROXY_ANNOTATION).expect("proxy")).expect("json");
        assert_eq!(v["type"], "APPMESH");
        assert_eq!(v["containerName"], "envoy");
        assert_eq!(v["properties"]["IgnoredUID"], "1337");
        assert_eq!(
            v["properties"]["EgressIgnoredIPs"],
            "169.254.170.2,169.254.169.254"
        );
        assert!(
            note(&t, "proxyConfiguration")
                .expect("note")
                .message
                .contains("not in the task definition")
        );
        let sa = t
            .objects
            .iter()
            .find(|o| o["kind"] == "ServiceAccount")
            .expect("sa");
        assert_eq!(
            sa["metadata"]["annotations"][IRSA_ROLE_ANNOTATION],
            "arn:aws:iam::999999999999:role/ecsTaskRole"
        );
        assert_eq!(
            spec(&t).service_account_name.as_deref(),
            sa["metadata"]["name"].as_str()
        );
        assert!(note(&t, "executionRoleArn").is_some());
        assert!(note(&t, "containerDefinitions[0].logConfiguration").is_some());
    }

    #[test]
    fn corpus_arm64() {
        let t = corpus_translation("taskdef-hyperdx-multi-container-efs-arm64-describe.json");
        let sel = node_selector(&t);
        assert_eq!(sel["kubernetes.io/arch"], "arm64");
        assert_eq!(sel["kubernetes.io/os"], "linux");
        assert_eq!(spec(&t).automount_service_account_token, Some(false));
    }

    #[test]
    fn corpus_windows_without_runtime_platform() {
        for file in [
            "taskdef-datadog-agent-windows-named-pipe.json",
            "taskdef-ecsagent-windows-gmsa-credentialspec.json",
        ] {
            let t = corpus_translation(file);
            assert_eq!(
                node_selector(&t).get("kubernetes.io/os").map(String::as_str),
                Some("windows"),
                "{file}"
            );
            assert!(note(&t, "runtimePlatform").is_some(), "{file}");
        }
    }

    #[test]
    fn corpus_private_registry() {
        let t = corpus_translation("taskdef-ecsagent-private-registry-auth.json");
        let es = t
            .objects
            .iter()
            .find(|o| o["kind"] == "ExternalSecret")
            .expect("ExternalSecret");
        assert_eq!(
            es["spec"]["data"][0]["remoteRef"]["key"],
            "$$$REPOSITORY_CREDENTIALS$$$"
        );
        let template = es["spec"]["target"]["template"]["data"][".dockerconfigjson"]
            .as_str()
            .expect("template");
        assert!(template.contains("\"127.0.0.1:51671\""), "{template}");
        let name = es["metadata"]["name"].as_str().expect("name");
        assert_eq!(spec(&t).image_pull_secrets.as_ref().expect("pull")[0].name, name);
    }

    #[test]
    fn corpus_pid_namespace() {
        let t = corpus_translation("taskdef-ecsagent-pid-namespace-task.json");
        assert_eq!(spec(&t).share_process_namespace, Some(true));
        assert!(note(&t, "pidMode").is_none());
    }

    #[test]
    fn corpus_firelens_with_secret_options() {
        let t = corpus_translation("taskdef-firelens-newrelic-fargate.json");
        let logs: Value =
            serde_json::from_str(annotation(&t, logging::LOG_ANNOTATION).expect("logs")).expect("json");
        assert_eq!(logs["webserver"]["logDriver"], "awsfirelens");
        assert_eq!(logs["webserver"]["options"]["Name"], "newrelic");
        assert_eq!(
            logs["webserver"]["secretOptions"][0]["valueFrom"],
            "arn:aws:secretsmanager:region:aws_account_id:secret:secret_name-AbCdEf"
        );
        let router: Value =
            serde_json::from_str(annotation(&t, logging::FIRELENS_ANNOTATION).expect("firelens"))
                .expect("json");
        assert_eq!(router["log-router"]["type"], "fluentbit");
        assert!(note(&t, "containerDefinitions[0].firelensConfiguration").is_some());
        assert!(
            note(&t, "containerDefinitions[1].logConfiguration")
                .expect("note")
                .message
                .contains("apiKey")
        );
    }
}
