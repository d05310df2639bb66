//! Each container's mount points: its own (`mountPoints`, checked against the pod's volumes)
//! and those it takes from other containers (`volumesFrom`, transitively), as volume mounts.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::VolumeMount;

use super::{Build, NoteKind, PodError, Report};

/// One mount of a container: the pod volume, where, read-only or not.
#[derive(Debug, Clone)]
pub(super) struct Mount {
    volume: String,
    path: String,
    read_only: bool,
}

/// Mounts the volumes `volumes` (ECS volume name → pod volume name, `None` when not mountable)
/// in the containers that mount them, directly or through `volumesFrom`.
///
/// # Errors
/// A mount point that names no volume, a path mounted twice, a `volumesFrom` cycle, ...
pub(super) fn attach(b: &mut Build<'_>, volumes: &BTreeMap<String, Option<String>>) -> Result<(), PodError> {
    let own = own_mounts(b, volumes)?;
    let mut memo: Vec<Option<Vec<Mount>>> = vec![None; own.len()];
    for c in 0..own.len() {
        let mounts = mounts_of(b.td, c, &own, &mut memo, &mut Vec::new(), &mut b.report)?;
        if mounts.is_empty() {
            continue;
        }
        let list = b.containers[c].volume_mounts.get_or_insert_with(Vec::new);
        for m in mounts {
            if list
                .iter()
                .any(|x| normal_path(&x.mount_path) == normal_path(&m.path))
            {
                // Only a mount taken through volumesFrom can get here (own ones are checked).
                b.report.note(
                    NoteKind::Approximated,
                    format!("containerDefinitions[{c}].volumesFrom"),
                    format!(
                        "{:?} is already a mount point of this container; the volume taken \
                         from another container is not mounted there",
                        m.path
                    ),
                );
                continue;
            }
            list.push(VolumeMount {
                name: m.volume,
                mount_path: m.path,
                read_only: m.read_only.then_some(true),
                ..VolumeMount::default()
            });
        }
    }
    Ok(())
}

/// Each container's own mount points, checked.
fn own_mounts(
    b: &mut Build<'_>,
    volumes: &BTreeMap<String, Option<String>>,
) -> Result<Vec<Vec<Mount>>, PodError> {
    let mut all = Vec::new();
    for (c, def) in b.td.container_definitions.iter().enumerate() {
        let mut mounts: Vec<Mount> = Vec::new();
        let mut paths: BTreeSet<String> = b.containers[c]
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| normal_path(&m.mount_path))
            .collect();
        for (j, mp) in def.mount_points.iter().flatten().enumerate() {
            let field = |f: &str| format!("containerDefinitions[{c}].mountPoints[{j}].{f}");
            let source = mp.source_volume.as_deref().ok_or_else(|| PodError::Missing {
                field: field("sourceVolume"),
                hint: "name the volume to mount (one of spec.volumes[].name)",
            })?;
            let path = mp.container_path.clone().ok_or_else(|| PodError::Missing {
                field: field("containerPath"),
                hint: "give the path inside the container to mount the volume at",
            })?;
            let Some(volume) = volumes.get(source) else {
                let known: Vec<&str> = volumes.keys().map(String::as_str).collect();
                return Err(PodError::BadVolume {
                    field: field("sourceVolume"),
                    reason: format!(
                        "container {:?} mounts volume {source:?}, which spec.volumes does not \
                         declare; declare it or mount one of {known:?}",
                        def.name.as_deref().unwrap_or_default()
                    ),
                });
            };
            let Some(volume) = volume else {
                b.report.note(
                    NoteKind::Ignored,
                    format!("containerDefinitions[{c}].mountPoints[{j}]"),
                    format!(
                        "volume {source:?} is not translated (see spec.volumes); nothing is \
                         mounted at {path:?}"
                    ),
                );
                continue;
            };
            if !paths.insert(normal_path(&path)) {
                return Err(PodError::BadVolume {
                    field: field("containerPath"),
                    reason: format!(
                        "{path:?} is already a mount point of this container; Kubernetes needs \
                         one mount per path"
                    ),
                });
            }
            mounts.push(Mount {
                volume: volume.clone(),
                path,
                read_only: mp.read_only == Some(true),
            });
        }
        all.push(mounts);
    }
    Ok(all)
}

fn normal_path(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        "/".to_owned()
    } else {
        t.to_owned()
    }
}

/// Container `c`'s mounts: its own, then those of every container it takes `volumesFrom`
/// (recursively; read-only when the entry says so). `stack` holds the containers being
/// resolved, to find cycles.
fn mounts_of(
    td: &crate::api::ecs::RegisterTaskDefinition,
    c: usize,
    own: &[Vec<Mount>],
    memo: &mut Vec<Option<Vec<Mount>>>,
    stack: &mut Vec<usize>,
    report: &mut Report,
) -> Result<Vec<Mount>, PodError> {
    if let Some(done) = &memo[c] {
        return Ok(done.clone());
    }
    let defs = &td.container_definitions;
    let ecs_name = |k: usize| defs[k].name.clone().unwrap_or_default();
    let mut mounts = own[c].clone();
    stack.push(c);
    for (k, from) in defs[c].volumes_from.iter().flatten().enumerate() {
        let field = format!("containerDefinitions[{c}].volumesFrom[{k}]");
        let source = from
            .source_container
            .as_deref()
            .ok_or_else(|| PodError::Missing {
                field: format!("{field}.sourceContainer"),
                hint: "name the container whose volumes to mount",
            })?;
        let Some(s) = defs.iter().position(|d| d.name.as_deref() == Some(source)) else {
            return Err(PodError::BadVolume {
                field: format!("{field}.sourceContainer"),
                reason: format!(
                    "container {:?} takes volumes from {source:?}, which is not a container of \
                     this task definition; name one of its containers",
                    ecs_name(c)
                ),
            });
        };
        if let Some(at) = stack.iter().position(|x| *x == s) {
            let cycle: Vec<String> = stack[at..].iter().chain([&s]).map(|x| ecs_name(*x)).collect();
            return Err(PodError::BadVolume {
                field: format!("{field}.sourceContainer"),
                reason: format!(
                    "volumesFrom forms a cycle: {}; remove one of these entries",
                    cycle.join(" → ")
                ),
            });
        }
        let read_only = from.read_only == Some(true);
        for m in mounts_of(td, s, own, memo, stack, report)? {
            if mounts
                .iter()
                .any(|x| normal_path(&x.path) == normal_path(&m.path))
            {
                report.note(
                    NoteKind::Approximated,
                    field.clone(),
                    format!(
                        "container {source:?} mounts {:?}, which this container already \
                         mounts; its own mount is kept",
                        m.path
                    ),
                );
                continue;
            }
            mounts.push(Mount {
                read_only: m.read_only || read_only,
                ..m
            });
        }
    }
    stack.pop();
    memo[c] = Some(mounts.clone());
    Ok(mounts)
}
