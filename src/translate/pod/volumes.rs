//! Task `volumes`, container `mountPoints` and `volumesFrom` → pod volumes and volume mounts, plus
//! the PersistentVolumes and claims that EFS and shared Docker volumes need (ecs-reference §1.7).
//!
//! | ECS volume | Kubernetes |
//! |---|---|
//! | name only, or `host` without `sourcePath` (or with an empty one) | `emptyDir` |
//! | `host.sourcePath` | `hostPath` (no type: sockets, files and directories all mount) |
//! | `dockerVolumeConfiguration`, scope `task` | `emptyDir` (in memory for the `local` driver's `type: tmpfs`) |
//! | `dockerVolumeConfiguration`, scope `shared` | claim `<object_name>-<volume>` (created when `autoprovision`) |
//! | `efsVolumeConfiguration` | PersistentVolume on the EFS CSI driver + claim `<object_name>-<revision>-<volume>` |
//! | `configuredAtLaunch` | `emptyDir` stand-in until the Service supplies the EBS volume |
//! | FSx for Windows File Server, S3 Files | not mounted (reported) |
//!
//! PersistentVolumes are cluster-scoped, so an EFS volume's PV is named
//! `ecs-<namespace>-<object_name>-<revision>-<volume>-<hash>` (see [`pv_name`]) and labelled with
//! the namespace (`ecsbridge.io/namespace`); the hash covers the file system, directory and
//! access point. The revision is in the name because a PV binds exactly one claim, and the
//! claims of two revisions live side by side during a rollout. Mount points (`mountPoints`,
//! `volumesFrom`) are [`super::mounts`]'s.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{
        CSIPersistentVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource, PersistentVolume,
        PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
        PersistentVolumeSpec, Volume, VolumeResourceRequirements,
    },
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::ObjectMeta},
};

use super::{Build, NoteKind, PodError};
use crate::{
    api::ecs::{
        DockerVolumeConfiguration, EFSAuthorizationConfigIAM, EFSTransitEncryption, EFSVolumeConfiguration,
        Scope,
    },
    names::container_name,
    translate::labels,
};

/// Fields this stage translates (or reports, volume by volume).
pub(super) const HANDLED: &[&str] = &[
    "volumes[].name",
    "volumes[].host.sourcePath",
    "volumes[].dockerVolumeConfiguration.*",
    "volumes[].efsVolumeConfiguration.*",
    "volumes[].fsxWindowsFileServerVolumeConfiguration.*",
    "volumes[].s3filesVolumeConfiguration.*",
    "volumes[].configuredAtLaunch",
    "containerDefinitions[].mountPoints[].sourceVolume",
    "containerDefinitions[].mountPoints[].containerPath",
    "containerDefinitions[].mountPoints[].readOnly",
    "containerDefinitions[].volumesFrom[].sourceContainer",
    "containerDefinitions[].volumesFrom[].readOnly",
];

/// The EFS CSI driver (<https://github.com/kubernetes-sigs/aws-efs-csi-driver>).
const EFS_CSI_DRIVER: &str = "efs.csi.aws.com";

/// The size written on EFS volumes and claims: Kubernetes requires one, EFS is elastic and the
/// driver ignores it.
const EFS_NOMINAL_SIZE: &str = "5Gi";

/// The size requested for a shared Docker volume's claim (ECS has no size).
const SHARED_VOLUME_SIZE: &str = "1Gi";

/// A short, stable hash (FNV-1a, 64 bits, first 8 hex digits) of `parts`, for names that must
/// not collide. Stable across Rust versions, unlike `std`'s hasher.
pub(super) fn short_hash(parts: &[&str]) -> String {
    let h = crate::fnv::hash(parts.iter().flat_map(|part| part.bytes().chain([0])));
    format!("{h:016x}")[..8].to_owned()
}

/// Applies this stage to the pod under construction.
pub(super) fn apply(b: &mut Build<'_>) -> Result<(), PodError> {
    let td = b.td;
    // ECS volume name → pod volume name (`None`: declared but not mounted, see the report).
    let mut volumes: BTreeMap<String, Option<String>> = BTreeMap::new();
    // Pod volume name → what it came from; earlier stages' volumes (tmpfs, /dev/shm) included.
    let mut taken: BTreeMap<String, String> = b
        .pod
        .volumes
        .iter()
        .flatten()
        .map(|v| (v.name.clone(), "linuxParameters".to_owned()))
        .collect();
    for (i, v) in td.volumes.iter().flatten().enumerate() {
        let ecs = v.name.as_deref().ok_or_else(|| PodError::Missing {
            field: format!("volumes[{i}].name"),
            hint: "name every volume; mountPoints[].sourceVolume refers to it by name",
        })?;
        let name = container_name(ecs).ok_or_else(|| PodError::Missing {
            field: format!("volumes[{i}].name"),
            hint: "a volume name needs letters or digits",
        })?;
        if let Some(first) = taken.insert(name.clone(), format!("volume {ecs:?}")) {
            return Err(PodError::BadVolume {
                field: format!("volumes[{i}].name"),
                reason: format!("volume {ecs:?} becomes {name:?} in Kubernetes, like {first}; rename one"),
            });
        }
        let source = volume(b, i, v, &name)?;
        if let Some(mut pod_volume) = source {
            pod_volume.name.clone_from(&name);
            b.pod.volumes.get_or_insert_with(Vec::new).push(pod_volume);
            volumes.insert(ecs.to_owned(), Some(name));
        } else {
            volumes.insert(ecs.to_owned(), None);
        }
    }
    super::mounts::attach(b, &volumes)
}

/// The pod volume for ECS volume `i` (its name is set by the caller), or `None` when it cannot
/// be mounted (reported). Adds the PersistentVolumes and claims it needs.
fn volume(
    b: &mut Build<'_>,
    i: usize,
    v: &crate::api::ecs::Volume,
    name: &str,
) -> Result<Option<Volume>, PodError> {
    let field = |f: &str| format!("volumes[{i}].{f}");
    // ECS: an empty `sourcePath` is no `sourcePath` (Docker assigns the path). Kubernetes refuses
    // a hostPath with an empty path, and the Pod Security profile counts non-empty ones only.
    let source_path = v
        .host
        .as_ref()
        .and_then(|h| h.source_path.clone())
        .filter(|p| !p.is_empty());
    let at_launch = v.configured_at_launch == Some(true);
    let kinds = [
        source_path.is_some(),
        v.docker_volume_configuration.is_some(),
        v.efs_volume_configuration.is_some(),
        v.fsx_windows_file_server_volume_configuration.is_some(),
        v.s3files_volume_configuration.is_some(),
        at_launch,
    ];
    if kinds.iter().filter(|k| **k).count() > 1 {
        return Err(PodError::BadVolume {
            field: format!("volumes[{i}]"),
            reason: "set only one of host.sourcePath, dockerVolumeConfiguration, \
                     efsVolumeConfiguration, fsxWindowsFileServerVolumeConfiguration, \
                     s3filesVolumeConfiguration and configuredAtLaunch (ECS rule)"
                .to_owned(),
        });
    }
    let empty_dir = |medium: Option<&str>| Volume {
        empty_dir: Some(EmptyDirVolumeSource {
            medium: medium.map(str::to_owned),
            size_limit: None,
        }),
        ..Volume::default()
    };
    if let Some(path) = source_path {
        b.report.note(
            NoteKind::Approximated,
            field("host.sourcePath"),
            format!(
                "hostPath {path:?}: the data stays on whichever node ran the pod, and hostPath \
                 volumes put the pod below the Pod Security baseline profile"
            ),
        );
        // https://kubernetes.io/docs/concepts/storage/volumes/#hostpath: no type means no
        // check before mounting, so sockets (/var/run/docker.sock), files and Windows named pipes
        // mount as they do in ECS; `DirectoryOrCreate` would refuse them. (A missing path is
        // created as a directory by the container runtime, as ECS does.)
        return Ok(Some(Volume {
            host_path: Some(HostPathVolumeSource { path, type_: None }),
            ..Volume::default()
        }));
    }
    if let Some(d) = &v.docker_volume_configuration {
        return docker_volume(b, i, d, name).map(Some);
    }
    if let Some(efs) = &v.efs_volume_configuration {
        return efs_volume(b, i, efs, name).map(Some);
    }
    let ecs = v.name.as_deref().unwrap_or_default();
    if v.fsx_windows_file_server_volume_configuration.is_some() {
        b.report.note(
            NoteKind::Ignored,
            field("fsxWindowsFileServerVolumeConfiguration"),
            format!(
                "volume {ecs:?}: FSx for Windows File Server has no mapping; the volume and its \
                 mount points are left out"
            ),
        );
        return Ok(None);
    }
    if v.s3files_volume_configuration.is_some() {
        b.report.note(
            NoteKind::Ignored,
            field("s3filesVolumeConfiguration"),
            format!(
                "volume {ecs:?}: S3 Files has no mapping; the volume and its mount points are \
                 left out"
            ),
        );
        return Ok(None);
    }
    if at_launch {
        b.report.note(
            NoteKind::Approximated,
            field("configuredAtLaunch"),
            format!(
                "volume {ecs:?} is an EBS volume the Service or RunTask configures; an emptyDir \
                 stands in for it in the task definition's template"
            ),
        );
    }
    // A name only, or `host` without `sourcePath`: Docker picks a path, the data does not
    // outlive the task; on Fargate it is task storage.
    Ok(Some(empty_dir(None)))
}

/// Labels of the objects a volume needs; claims shared by revisions carry no revision.
fn object_labels(b: &Build<'_>, per_revision: bool) -> BTreeMap<String, String> {
    let mut l = labels::task_definition_labels(b.object_name, b.revision);
    if !per_revision {
        l.remove(labels::REVISION);
    }
    l
}

fn docker_volume(
    b: &mut Build<'_>,
    i: usize,
    d: &DockerVolumeConfiguration,
    name: &str,
) -> Result<Volume, PodError> {
    let field = |f: &str| format!("volumes[{i}].dockerVolumeConfiguration.{f}");
    let driver = d.driver.as_deref().unwrap_or("local");
    if driver != "local" {
        b.report.note(
            NoteKind::Approximated,
            field("driver"),
            format!(
                "Docker volume driver {driver:?} has no Kubernetes counterpart; the volume is \
                 storage of the kind given by scope"
            ),
        );
    }
    if d.labels.as_ref().is_some_and(|l| !l.is_empty()) {
        b.report.note(
            NoteKind::Ignored,
            field("labels"),
            "Docker volume labels have no Kubernetes counterpart",
        );
    }
    let opts = d.driver_opts.clone().unwrap_or_default();
    let tmpfs = driver == "local" && opts.get("type").is_some_and(|t| t == "tmpfs");
    if d.scope == Some(Scope::Shared) {
        if !opts.is_empty() {
            b.report.note(
                NoteKind::Ignored,
                field("driverOpts"),
                "Docker driver options have no meaning for a PersistentVolumeClaim",
            );
        }
        let claim = format!("{}-{name}", b.object_name);
        if d.autoprovision == Some(true) {
            let pvc = PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim.clone()),
                    labels: Some(object_labels(b, false)),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_owned(),
                            Quantity(SHARED_VOLUME_SIZE.to_owned()),
                        )])),
                        limits: None,
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                status: None,
            };
            b.objects.push(to_value(&pvc));
            b.report.note(
                NoteKind::Approximated,
                field("scope"),
                format!(
                    "a shared Docker volume becomes PersistentVolumeClaim {claim:?} \
                     ({SHARED_VOLUME_SIZE}, ReadWriteOnce, the default StorageClass), shared by \
                     this family's pods on one node rather than by every task on a host"
                ),
            );
        } else {
            b.report.note(
                NoteKind::Approximated,
                field("scope"),
                format!(
                    "a shared Docker volume that ECS expects to exist (no autoprovision) becomes \
                     PersistentVolumeClaim {claim:?}, which you create"
                ),
            );
        }
        return Ok(Volume {
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim,
                read_only: None,
            }),
            ..Volume::default()
        });
    }
    if d.autoprovision == Some(true) {
        return Err(PodError::BadVolume {
            field: field("autoprovision"),
            reason: "ECS allows autoprovision only with scope: shared; remove it or set scope: \
                     shared"
                .to_owned(),
        });
    }
    if tmpfs {
        b.report.note(
            NoteKind::Approximated,
            field("driverOpts"),
            "type tmpfs becomes an emptyDir in memory (it counts against the containers' memory \
             limits); other driver options are ignored",
        );
    } else if !opts.is_empty() {
        b.report.note(
            NoteKind::Ignored,
            field("driverOpts"),
            "Docker driver options have no meaning for an emptyDir",
        );
    }
    // https://kubernetes.io/docs/concepts/storage/volumes/#emptydir: medium Memory is a tmpfs.
    Ok(Volume {
        empty_dir: Some(EmptyDirVolumeSource {
            medium: tmpfs.then(|| "Memory".to_owned()),
            size_limit: None,
        }),
        ..Volume::default()
    })
}

fn efs_volume(
    b: &mut Build<'_>,
    i: usize,
    efs: &EFSVolumeConfiguration,
    name: &str,
) -> Result<Volume, PodError> {
    let field = |f: &str| format!("volumes[{i}].efsVolumeConfiguration.{f}");
    if efs.file_system_id.is_empty() {
        return Err(PodError::Missing {
            field: field("fileSystemId"),
            hint: "give the EFS file system id, e.g. fs-0123456789abcdef0",
        });
    }
    let tls = efs.transit_encryption == Some(EFSTransitEncryption::Enabled);
    let auth = efs.authorization_config.clone().unwrap_or_default();
    let access_point = auth.access_point_id.filter(|a| !a.is_empty());
    let iam = auth.iam == Some(EFSAuthorizationConfigIAM::Enabled);
    let root = efs.root_directory.clone().filter(|r| !r.is_empty() && r != "/");
    // ECS's own rules (ecs-reference §1.7).
    if access_point.is_some() && !tls {
        return Err(PodError::BadVolume {
            field: field("transitEncryption"),
            reason: "an access point (authorizationConfig.accessPointId) needs transitEncryption: \
                     ENABLED"
                .to_owned(),
        });
    }
    if access_point.is_some() && root.is_some() {
        return Err(PodError::BadVolume {
            field: field("rootDirectory"),
            reason: "must be omitted or \"/\" with an access point \
                     (authorizationConfig.accessPointId): the access point sets the directory"
                .to_owned(),
        });
    }
    if iam && !tls {
        return Err(PodError::BadVolume {
            field: field("transitEncryption"),
            reason: "IAM authorization (authorizationConfig.iam: ENABLED) needs \
                     transitEncryption: ENABLED"
                .to_owned(),
        });
    }
    // The driver's volume handle is `{fileSystemId}:{path}:{accessPointId}`, empty fields
    // allowed (`fs-1:/dir`, `fs-1::fsap-2`); see parseVolumeId in the driver's pkg/driver/node.go.
    let fs = &efs.file_system_id;
    let handle = match (&root, &access_point) {
        (_, Some(ap)) => format!("{fs}::{ap}"),
        (Some(root), None) => format!("{fs}:{root}"),
        (None, None) => fs.clone(),
    };
    // The driver encrypts in transit unless the volume says `encryptInTransit: "false"`; ECS's
    // default is DISABLED, so say it either way. (`tls` in mountOptions is deprecated there.)
    let attributes = BTreeMap::from([("encryptInTransit".to_owned(), tls.to_string())]);
    let mut mount_options = Vec::new();
    if let Some(port) = efs.transit_encryption_port {
        if tls {
            mount_options.push(format!("tlsport={port}"));
        } else {
            b.report.note(
                NoteKind::Ignored,
                field("transitEncryptionPort"),
                "a TLS port without transitEncryption: ENABLED has no effect",
            );
        }
    }
    if iam {
        mount_options.push("iam".to_owned());
        b.report.note(
            NoteKind::Approximated,
            field("authorizationConfig.iam"),
            "the EFS CSI driver mounts with its own identity (the efs-csi-node service account's \
             role or the node's), not the task role: allow that role in the file system policy",
        );
    }
    let hash = short_hash(&[
        fs,
        root.as_deref().unwrap_or("/"),
        access_point.as_deref().unwrap_or(""),
    ]);
    let pv_name = pv_name(b.namespace, b.object_name, b.revision, name, &hash);
    let claim = format!("{}-{}-{name}", b.object_name, b.revision);
    let size = || BTreeMap::from([("storage".to_owned(), Quantity(EFS_NOMINAL_SIZE.to_owned()))]);
    let rwx = || Some(vec!["ReadWriteMany".to_owned()]);
    let mut pv_labels = object_labels(b, true);
    if let Some(ns) = b.namespace {
        pv_labels.insert(labels::NAMESPACE.to_owned(), ns.to_owned());
    }
    let pv = PersistentVolume {
        metadata: ObjectMeta {
            name: Some(pv_name.clone()),
            labels: Some(pv_labels),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            capacity: Some(size()),
            access_modes: rwx(),
            volume_mode: Some("Filesystem".to_owned()),
            // The file system outlives the task definition: never delete it with the PV.
            persistent_volume_reclaim_policy: Some("Retain".to_owned()),
            storage_class_name: Some(String::new()),
            mount_options: (!mount_options.is_empty()).then_some(mount_options),
            csi: Some(CSIPersistentVolumeSource {
                driver: EFS_CSI_DRIVER.to_owned(),
                volume_handle: handle,
                volume_attributes: Some(attributes),
                ..CSIPersistentVolumeSource::default()
            }),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    };
    // https://kubernetes.io/docs/concepts/storage/persistent-volumes/#reserving-a-persistentvolume:
    // a claim with `volumeName` (and the PV's class, here none) binds to exactly that PV.
    let pvc = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim.clone()),
            labels: Some(object_labels(b, true)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: rwx(),
            storage_class_name: Some(String::new()),
            volume_name: Some(pv_name),
            resources: Some(VolumeResourceRequirements {
                requests: Some(size()),
                limits: None,
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    };
    b.objects.push(to_value(&pv));
    b.objects.push(to_value(&pvc));
    Ok(Volume {
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim,
            read_only: None,
        }),
        ..Volume::default()
    })
}

/// The name of an EFS volume's PersistentVolume: `ecs-<namespace>-<object>-<revision>-<volume>-<hash>`
/// (PersistentVolumes are cluster-scoped, so the namespace keeps two namespaces' task
/// definitions apart). Long names are cut before the hash, which stays, to 253 characters.
pub(crate) fn pv_name(
    namespace: Option<&str>,
    object: &str,
    revision: i64,
    volume: &str,
    hash: &str,
) -> String {
    let prefix = match namespace {
        Some(ns) => format!("ecs-{ns}-{object}-{revision}-{volume}"),
        None => format!("ecs-{object}-{revision}-{volume}"),
    };
    let room = 253 - hash.len() - 1;
    let cut: String = prefix.chars().take(room).collect();
    format!("{}-{hash}", cut.trim_end_matches(['-', '.']))
}

fn to_value<T: serde::Serialize>(obj: &T) -> serde_json::Value {
    serde_json::to_value(obj).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::translate::{
        Options,
        pod::{PodTranslation, pod_template, pod_template_with},
        testing::{corpus_task_definition, td},
    };

    fn translate(v: Value) -> Result<PodTranslation, PodError> {
        pod_template("web", &td(v), 2)
    }

    /// One container `app` mounting every volume at `/v/<name>`.
    fn with_volumes(volumes: Value) -> Value {
        let mounts: Vec<Value> = volumes
            .as_array()
            .expect("list")
            .iter()
            .map(|v| json!({"sourceVolume": v["name"], "containerPath": format!("/v/{}", v["name"].as_str().expect("name"))}))
            .collect();
        json!({
            "family": "web",
            "volumes": volumes,
            "containerDefinitions": [{"name": "app", "image": "x", "mountPoints": mounts}]
        })
    }

    fn pod_volumes(t: &PodTranslation) -> Value {
        serde_json::to_value(&t.template.spec.as_ref().expect("spec").volumes).expect("json")
    }

    fn mounts(t: &PodTranslation, container: &str) -> Value {
        let spec = t.template.spec.as_ref().expect("spec");
        let c = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .find(|c| c.name == container)
            .expect("container");
        serde_json::to_value(&c.volume_mounts).expect("json")
    }

    /// This stage's notes (other stages note other fields).
    fn fields(t: &PodTranslation) -> Vec<(NoteKind, &str)> {
        t.report
            .notes
            .iter()
            .filter(|n| {
                n.field.starts_with("volumes")
                    || n.field.contains(".mountPoints")
                    || n.field.contains(".volumesFrom")
            })
            .map(|n| (n.kind, n.field.as_str()))
            .collect()
    }

    /// The PersistentVolumes and claims among the objects.
    fn storage(t: &PodTranslation) -> Vec<&Value> {
        t.objects
            .iter()
            .filter(|o| o["kind"] == "PersistentVolume" || o["kind"] == "PersistentVolumeClaim")
            .collect()
    }

    fn bad(v: Value) -> String {
        translate(v).expect_err("rejected").to_string()
    }

    #[test]
    fn scratch_and_host_volumes() {
        let t = translate(with_volumes(json!([
            {"name": "scratch"},
            {"name": "empty_host", "host": {}},
            {"name": "logs", "host": {"sourcePath": "/var/log/app"}}
        ])))
        .expect("translates");
        assert_eq!(
            pod_volumes(&t),
            json!([
                {"name": "scratch", "emptyDir": {}},
                {"name": "empty-host", "emptyDir": {}},
                {"name": "logs", "hostPath": {"path": "/var/log/app"}}
            ])
        );
        assert_eq!(
            mounts(&t, "app"),
            json!([
                {"name": "scratch", "mountPath": "/v/scratch"},
                {"name": "empty-host", "mountPath": "/v/empty_host"},
                {"name": "logs", "mountPath": "/v/logs"}
            ])
        );
        assert_eq!(
            fields(&t),
            vec![(NoteKind::Approximated, "volumes[2].host.sourcePath")]
        );
        assert!(
            t.report
                .notes
                .iter()
                .any(|n| n.field == "volumes[2].host.sourcePath" && n.message.contains("baseline"))
        );
        assert!(storage(&t).is_empty());
    }

    /// An empty `sourcePath` is Docker's assigned path in ECS: an emptyDir, not a hostPath "" that
    /// Kubernetes refuses and the Pod Security annotation (restricted here) would not count.
    #[test]
    fn an_empty_source_path_is_an_empty_dir() {
        let mut v = with_volumes(json!([{"name": "data", "host": {"sourcePath": ""}}]));
        v["containerDefinitions"][0]["user"] = json!("1000");
        let t = translate(v).expect("translates");
        assert_eq!(pod_volumes(&t), json!([{"name": "data", "emptyDir": {}}]));
        assert!(fields(&t).is_empty(), "{:?}", t.report.notes);
        assert_eq!(
            t.template
                .metadata
                .as_ref()
                .and_then(|m| m.annotations.as_ref())
                .and_then(|a| a.get(crate::translate::pod::security::POD_SECURITY_ANNOTATION))
                .map(String::as_str),
            Some("restricted")
        );
    }

    #[test]
    fn task_docker_volumes_are_empty_dirs() {
        let t = translate(with_volumes(json!([
            {"name": "tmp", "dockerVolumeConfiguration": {"scope": "task", "driver": "local",
                "driverOpts": {"type": "tmpfs", "device": "tmpfs"}, "labels": {"a": "b"}}},
            {"name": "rex", "dockerVolumeConfiguration": {"driver": "rexray/ebs"}}
        ])))
        .expect("translates");
        assert_eq!(
            pod_volumes(&t),
            json!([
                {"name": "tmp", "emptyDir": {"medium": "Memory"}},
                {"name": "rex", "emptyDir": {}}
            ])
        );
        assert_eq!(
            fields(&t),
            vec![
                (NoteKind::Ignored, "volumes[0].dockerVolumeConfiguration.labels"),
                (
                    NoteKind::Approximated,
                    "volumes[0].dockerVolumeConfiguration.driverOpts"
                ),
                (
                    NoteKind::Approximated,
                    "volumes[1].dockerVolumeConfiguration.driver"
                ),
            ]
        );
        assert!(
            bad(with_volumes(json!([{"name": "t", "dockerVolumeConfiguration": {"scope": "task", "autoprovision": true}}])))
                .starts_with("spec.volumes[0].dockerVolumeConfiguration.autoprovision: ECS allows autoprovision only with scope: shared")
        );
    }

    #[test]
    fn shared_docker_volumes_are_claims() {
        let t = translate(with_volumes(json!([
            {"name": "cache", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}},
            {"name": "pre", "dockerVolumeConfiguration": {"scope": "shared"}}
        ])))
        .expect("translates");
        assert_eq!(
            pod_volumes(&t),
            json!([
                {"name": "cache", "persistentVolumeClaim": {"claimName": "web-cache"}},
                {"name": "pre", "persistentVolumeClaim": {"claimName": "web-pre"}}
            ])
        );
        let objects = storage(&t);
        assert_eq!(objects.len(), 1, "only the autoprovisioned claim is created");
        let pvc = objects[0];
        assert_eq!(
            (pvc["apiVersion"].as_str(), pvc["kind"].as_str()),
            (Some("v1"), Some("PersistentVolumeClaim"))
        );
        assert_eq!(pvc["metadata"]["name"], "web-cache");
        assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteOnce"]));
        assert!(
            pvc["metadata"]["labels"].get(labels::REVISION).is_none(),
            "outlives revisions"
        );
        assert_eq!(
            fields(&t),
            vec![
                (
                    NoteKind::Approximated,
                    "volumes[0].dockerVolumeConfiguration.scope"
                ),
                (
                    NoteKind::Approximated,
                    "volumes[1].dockerVolumeConfiguration.scope"
                ),
            ]
        );
        assert!(
            t.report
                .notes
                .iter()
                .any(|n| n.field.starts_with("volumes[1]") && n.message.contains("which you create"))
        );
    }

    #[test]
    fn efs_volumes_are_a_persistent_volume_and_claim() {
        let t = translate(with_volumes(json!([
            {"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/srv"}},
            {"name": "ap", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/",
                "transitEncryption": "ENABLED", "transitEncryptionPort": 2999,
                "authorizationConfig": {"accessPointId": "fsap-9", "iam": "ENABLED"}}}
        ])))
        .expect("translates");
        assert_eq!(
            pod_volumes(&t),
            json!([
                {"name": "data", "persistentVolumeClaim": {"claimName": "web-2-data"}},
                {"name": "ap", "persistentVolumeClaim": {"claimName": "web-2-ap"}}
            ])
        );
        let objects = storage(&t);
        let kinds: Vec<&str> = objects
            .iter()
            .map(|o| o["kind"].as_str().expect("kind"))
            .collect();
        assert_eq!(
            kinds,
            [
                "PersistentVolume",
                "PersistentVolumeClaim",
                "PersistentVolume",
                "PersistentVolumeClaim"
            ]
        );
        let (pv, pvc) = (objects[0], objects[1]);
        let pv_name = format!("ecs-web-2-data-{}", short_hash(&["fs-1", "/srv", ""]));
        assert_eq!(pv["metadata"]["name"], pv_name.as_str());
        assert_eq!(
            pv["spec"],
            json!({
                "accessModes": ["ReadWriteMany"],
                "capacity": {"storage": "5Gi"},
                "csi": {"driver": "efs.csi.aws.com", "volumeHandle": "fs-1:/srv",
                        "volumeAttributes": {"encryptInTransit": "false"}},
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "volumeMode": "Filesystem"
            })
        );
        assert_eq!(
            pvc["spec"],
            json!({
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": "5Gi"}},
                "storageClassName": "",
                "volumeName": pv_name
            })
        );
        assert_eq!(pvc["metadata"]["labels"][labels::REVISION], "2");
        let ap = &objects[2]["spec"];
        assert_eq!(ap["csi"]["volumeHandle"], "fs-1::fsap-9");
        assert_eq!(ap["csi"]["volumeAttributes"]["encryptInTransit"], "true");
        assert_eq!(ap["mountOptions"], json!(["tlsport=2999", "iam"]));
        assert_eq!(
            fields(&t),
            vec![(
                NoteKind::Approximated,
                "volumes[1].efsVolumeConfiguration.authorizationConfig.iam"
            )]
        );
        assert_ne!(
            objects[0]["metadata"]["name"], objects[2]["metadata"]["name"],
            "one PV per volume"
        );
    }

    #[test]
    fn efs_rules_of_ecs_are_errors_naming_the_field() {
        let efs = |c: Value| with_volumes(json!([{"name": "e", "efsVolumeConfiguration": c}]));
        assert_eq!(
            bad(efs(
                json!({"fileSystemId": "fs-1", "authorizationConfig": {"accessPointId": "fsap-1"}})
            )),
            "spec.volumes[0].efsVolumeConfiguration.transitEncryption: an access point (authorizationConfig.accessPointId) needs transitEncryption: ENABLED"
        );
        assert!(
            bad(efs(
                json!({"fileSystemId": "fs-1", "rootDirectory": "/x", "transitEncryption": "ENABLED",
                "authorizationConfig": {"accessPointId": "fsap-1"}})
            ))
            .starts_with("spec.volumes[0].efsVolumeConfiguration.rootDirectory: must be omitted or \"/\"")
        );
        assert!(
            bad(efs(
                json!({"fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}})
            ))
            .starts_with("spec.volumes[0].efsVolumeConfiguration.transitEncryption: IAM authorization")
        );
        assert!(
            bad(efs(json!({"fileSystemId": ""})))
                .starts_with("spec.volumes[0].efsVolumeConfiguration.fileSystemId: required")
        );
    }

    #[test]
    fn unmappable_volumes_are_reported_and_not_mounted() {
        let t = translate(with_volumes(json!([
            {"name": "fsx", "fsxWindowsFileServerVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "\\",
                "authorizationConfig": {"credentialsParameter": "arn:aws:ssm:r:1:parameter/c", "domain": "d"}}},
            {"name": "s3", "s3filesVolumeConfiguration": {"fileSystemArn": "arn:aws:s3files:r:1:file-system/x"}},
            {"name": "ebs", "configuredAtLaunch": true}
        ])))
        .expect("translates");
        assert_eq!(pod_volumes(&t), json!([{"name": "ebs", "emptyDir": {}}]));
        assert_eq!(mounts(&t, "app"), json!([{"name": "ebs", "mountPath": "/v/ebs"}]));
        assert_eq!(
            fields(&t),
            vec![
                (
                    NoteKind::Ignored,
                    "volumes[0].fsxWindowsFileServerVolumeConfiguration"
                ),
                (NoteKind::Ignored, "volumes[1].s3filesVolumeConfiguration"),
                (NoteKind::Approximated, "volumes[2].configuredAtLaunch"),
                (NoteKind::Ignored, "containerDefinitions[0].mountPoints[0]"),
                (NoteKind::Ignored, "containerDefinitions[0].mountPoints[1]"),
            ]
        );
        assert!(
            t.report
                .notes
                .iter()
                .any(|n| n.field.starts_with("volumes[0]") && n.message.contains("\"fsx\""))
        );
    }

    #[test]
    fn names_are_mapped_and_collisions_rejected() {
        assert!(
            bad(with_volumes(json!([{"name": "a_b"}, {"name": "a-b"}]))).starts_with(
                "spec.volumes[1].name: volume \"a-b\" becomes \"a-b\" in Kubernetes, like volume \"a_b\""
            )
        );
        assert!(
            bad(with_volumes(json!([{"name": "x", "host": {"sourcePath": "/x"}, "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}])))
                .starts_with("spec.volumes[0]: set only one of")
        );
        let t = translate(with_volumes(json!([{"name": "My_Data"}]))).expect("translates");
        assert_eq!(pod_volumes(&t)[0]["name"], "my-data");
    }

    #[test]
    fn mount_points_must_name_declared_volumes() {
        let v = json!({"family": "web", "volumes": [{"name": "a"}],
            "containerDefinitions": [{"name": "app", "image": "x",
                "mountPoints": [{"sourceVolume": "nope", "containerPath": "/n"}]}]});
        assert_eq!(
            bad(v),
            "spec.containerDefinitions[0].mountPoints[0].sourceVolume: container \"app\" mounts volume \"nope\", which spec.volumes does not declare; declare it or mount one of [\"a\"]"
        );
        let twice = json!({"family": "web", "volumes": [{"name": "a"}, {"name": "b"}],
            "containerDefinitions": [{"name": "app", "image": "x", "mountPoints": [
                {"sourceVolume": "a", "containerPath": "/d/"}, {"sourceVolume": "b", "containerPath": "/d"}]}]});
        assert!(bad(twice).starts_with(
            "spec.containerDefinitions[0].mountPoints[1].containerPath: \"/d\" is already a mount point"
        ));
        let no_path = json!({"family": "web", "volumes": [{"name": "a"}],
            "containerDefinitions": [{"name": "app", "image": "x", "mountPoints": [{"sourceVolume": "a"}]}]});
        assert!(
            bad(no_path).starts_with("spec.containerDefinitions[0].mountPoints[0].containerPath: required")
        );
    }

    #[test]
    fn volumes_from_copies_mounts_transitively_with_read_only() {
        let t = translate(json!({
            "family": "web",
            "volumes": [{"name": "data"}, {"name": "conf"}],
            "containerDefinitions": [
                {"name": "store", "image": "x", "mountPoints": [
                    {"sourceVolume": "data", "containerPath": "/data"},
                    {"sourceVolume": "conf", "containerPath": "/conf", "readOnly": true}]},
                {"name": "middle", "image": "x", "volumesFrom": [{"sourceContainer": "store"}]},
                {"name": "reader", "image": "x", "volumesFrom": [{"sourceContainer": "middle", "readOnly": true}]},
                {"name": "own", "image": "x", "mountPoints": [{"sourceVolume": "conf", "containerPath": "/data"}],
                    "volumesFrom": [{"sourceContainer": "store"}]}
            ]
        }))
        .expect("translates");
        assert_eq!(
            mounts(&t, "middle"),
            json!([{"name": "data", "mountPath": "/data"}, {"name": "conf", "mountPath": "/conf", "readOnly": true}])
        );
        assert_eq!(
            mounts(&t, "reader"),
            json!([{"name": "data", "mountPath": "/data", "readOnly": true}, {"name": "conf", "mountPath": "/conf", "readOnly": true}])
        );
        assert_eq!(
            mounts(&t, "own"),
            json!([{"name": "conf", "mountPath": "/data"}, {"name": "conf", "mountPath": "/conf", "readOnly": true}])
        );
        assert_eq!(
            fields(&t),
            vec![(NoteKind::Approximated, "containerDefinitions[3].volumesFrom[0]")]
        );
    }

    #[test]
    fn volumes_from_rejects_unknown_containers_and_cycles() {
        let unknown = json!({"family": "web", "containerDefinitions": [
            {"name": "a", "image": "x", "volumesFrom": [{"sourceContainer": "ghost"}]}]});
        assert_eq!(
            bad(unknown),
            "spec.containerDefinitions[0].volumesFrom[0].sourceContainer: container \"a\" takes volumes from \"ghost\", which is not a container of this task definition; name one of its containers"
        );
        let cycle = json!({"family": "web", "containerDefinitions": [
            {"name": "a", "image": "x", "volumesFrom": [{"sourceContainer": "b"}]},
            {"name": "b", "image": "x", "volumesFrom": [{"sourceContainer": "a"}]}]});
        assert!(bad(cycle).contains("volumesFrom forms a cycle: a → b → a"));
    }

    #[test]
    fn pv_names_carry_the_namespace_and_stay_valid() {
        let hash = short_hash(&["fs-1", "/", ""]);
        assert_eq!(
            pv_name(Some("team-a"), "web", 2, "data", &hash),
            format!("ecs-team-a-web-2-data-{hash}")
        );
        assert_ne!(
            pv_name(Some("team-a"), "web", 2, "data", &hash),
            pv_name(Some("team-b"), "web", 2, "data", &hash),
            "two namespaces never share a PersistentVolume"
        );
        let long = "a".repeat(253);
        let name = pv_name(Some(&"n".repeat(63)), &long, 7, "data", &hash);
        assert_eq!(name.len(), 253);
        assert!(name.ends_with(&format!("-{hash}")), "{name}");
        let t = pod_template_with(
            "web",
            &td(with_volumes(
                json!([{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]),
            )),
            2,
            Some("team-a"),
            &Options::default(),
        )
        .expect("translates");
        let pv = storage(&t)[0].clone();
        assert_eq!(
            pv["metadata"]["name"],
            format!("ecs-team-a-web-2-data-{hash}").as_str()
        );
        assert_eq!(pv["metadata"]["labels"]["ecsbridge.io/namespace"], "team-a");
    }

    #[test]
    fn hashes_are_stable() {
        assert_eq!(short_hash(&["fs-1", "/"]), short_hash(&["fs-1", "/"]));
        assert_ne!(short_hash(&["fs-1", "/a"]), short_hash(&["fs-1/", "a"]));
        assert_eq!(short_hash(&[""]).len(), 8);
        assert_eq!(
            short_hash(&["a"]),
            "089be207",
            "FNV-1a of \"a\\0\"; must never change"
        );
    }

    #[test]
    fn corpus_volumes_translate() {
        let t = |name: &str| {
            pod_template("corpus", &corpus_task_definition(name), 1).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let efs = t("taskdef-ecsagent-efs-volume.json");
        assert_eq!(storage(&efs).len(), 2);
        assert_eq!(storage(&efs)[0]["spec"]["csi"]["volumeHandle"], "FILESYSTEM_ID");

        let firelens = t("taskdef-firelens-efs-describe.json");
        assert_eq!(
            storage(&firelens)[0]["spec"]["csi"]["volumeHandle"],
            "fs-c3c9bcbb",
            "rootDirectory / is the root"
        );
        assert_eq!(
            mounts(&firelens, "log-router"),
            json!([{"name": "firelens-conf", "mountPath": "/configs"}])
        );

        let hyperdx = t("taskdef-hyperdx-multi-container-efs-arm64-describe.json");
        let handles: Vec<&str> = storage(&hyperdx)
            .into_iter()
            .filter(|o| o["kind"] == "PersistentVolume")
            .map(|o| o["spec"]["csi"]["volumeHandle"].as_str().expect("handle"))
            .collect();
        assert_eq!(
            handles,
            [
                "fs-041442074747c685c:/efs_ch_data",
                "fs-041442074747c685c:/efs_config",
                "fs-041442074747c685c:/efs_mongodb"
            ]
        );
        assert_eq!(
            mounts(&hyperdx, "db"),
            json!([{"name": "efs-mongodb", "mountPath": "/data/db"}])
        );

        let local = t("taskdef-ecsagent-local-docker-volume.json");
        assert_eq!(
            pod_volumes(&local),
            json!([{"name": "task-local", "emptyDir": {"medium": "Memory"}}])
        );

        let links = t("taskdef-ecsagent-datavolume-links.json");
        for c in ["datavolume", "a", "exit"] {
            assert_eq!(
                mounts(&links, c),
                json!([{"name": "vol", "mountPath": "/data"}]),
                "{c}"
            );
        }
    }
}
