//! Dependents: the objects a TaskDefinition's tasks need besides their pod (the ServiceAccount of
//! `taskRoleArn`, the ExternalSecrets of `secrets` and `repositoryCredentials`, the
//! PersistentVolumes and claims of EFS and shared Docker volumes), applied for every retained
//! revision, so that pods of any revision a Service may run (the latest, a pinned `family:N`, the
//! old one during a rollout) find them.
//!
//! [`desired`] is pure; [`apply`] and [`delete_volumes`] talk to the API server.
//!
//! Ownership, so that garbage collection removes what ECS would no longer have:
//!
//! | object | owner | removed |
//! |---|---|---|
//! | ServiceAccount (one per TaskDefinition) | the TaskDefinition | with the TaskDefinition |
//! | ExternalSecret, EFS claim (one per revision) | the revision's ControllerRevision | when retention lets the revision go |
//! | EFS PersistentVolume (cluster-scoped) | none (a namespaced owner is not allowed) | by [`delete_volumes`] with its revision; `Retain`: the file system is never touched |
//! | shared Docker volume claim | none | never: like ECS's `shared` volumes, the data outlives the task definition |
//!
//! When several retained revisions make an object of the same kind and name (the
//! ServiceAccount), the newest revision's wins.

use std::collections::BTreeMap;

use k8s_openapi::{api::apps::v1::ControllerRevision, apimachinery::pkg::apis::meta::v1::OwnerReference};
use kube::{
    Api, Resource, ResourceExt,
    api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams},
};
use serde_json::Value;

use super::{FIELD_MANAGER, revisions};
use crate::{
    api::{TaskDefinition, ecs::RegisterTaskDefinition},
    controller::{Context, Error},
    translate::{
        labels,
        pod::{PodOptions, pod_template_with},
    },
};

/// One retained revision: its number, its stored spec and the ControllerRevision's owner
/// reference (for the objects of that revision alone).
#[derive(Debug, Clone)]
pub struct Retained {
    /// The revision number.
    pub revision: i64,
    /// The registered spec.
    pub spec: RegisterTaskDefinition,
    /// A reference to the ControllerRevision storing it.
    pub owner: OwnerReference,
}

impl Retained {
    /// The retained revision `cr` stores, or `None` when it has no uid or its data is not a task
    /// definition (then nothing is made for it).
    #[must_use]
    pub fn from_controller_revision(cr: &ControllerRevision) -> Option<Self> {
        let spec = revisions::stored_spec(cr).ok()?;
        let owner = cr.controller_owner_ref(&())?;
        Some(Self {
            revision: cr.revision,
            spec,
            owner,
        })
    }
}

/// Whether an object is cluster-scoped (has no namespace).
fn cluster_scoped(obj: &Value) -> bool {
    obj["kind"] == "PersistentVolume"
}

/// Whether an object belongs to one revision (it carries the revision label).
fn per_revision(obj: &Value) -> bool {
    obj.pointer("/metadata/labels")
        .and_then(|l| l.get(labels::REVISION))
        .is_some()
}

/// The dependents of `td` (in `namespace`) over its `retained` revisions (ascending), with
/// namespaces and owner references set, PersistentVolumes first (claims name them).
///
/// A revision whose spec cannot be translated adds nothing (its error is in the `Translated`
/// condition, and Services refuse to run it).
#[must_use]
pub fn desired(
    td: &TaskDefinition,
    namespace: &str,
    retained: &[Retained],
    options: &PodOptions,
) -> Vec<Value> {
    let object = td.name_any();
    let td_owner = td.controller_owner_ref(&());
    let mut by_key: BTreeMap<(bool, String, String, String), Value> = BTreeMap::new();
    for r in retained {
        let Ok(translation) = pod_template_with(&object, &r.spec, r.revision, options) else {
            continue;
        };
        for mut obj in translation.objects {
            let owner = if cluster_scoped(&obj) {
                None
            } else if per_revision(&obj) {
                Some(r.owner.clone())
            } else if obj["kind"] == "PersistentVolumeClaim" {
                // A shared Docker volume: kept, like ECS keeps the volume.
                None
            } else {
                td_owner.clone()
            };
            if !cluster_scoped(&obj) {
                obj["metadata"]["namespace"] = Value::String(namespace.to_owned());
            }
            if let Some(owner) = owner {
                obj["metadata"]["ownerReferences"] = serde_json::json!([owner]);
            }
            let key = (
                !cluster_scoped(&obj),
                obj["apiVersion"].as_str().unwrap_or_default().to_owned(),
                obj["kind"].as_str().unwrap_or_default().to_owned(),
                obj["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
            );
            by_key.insert(key, obj);
        }
    }
    by_key.into_values().collect()
}

/// The API resource of an object given as JSON with `apiVersion` and `kind`; the plural is the
/// lower-case kind plus `s`, true of every kind made here.
fn api_resource(obj: &Value) -> ApiResource {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = obj["kind"].as_str().unwrap_or_default();
    let plural = format!("{}s", kind.to_ascii_lowercase());
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural)
}

/// A dependent that could not be applied for a reason the user must fix (not a transient
/// failure): the kind is not served by the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What is missing and how to fix it.
    pub message: String,
}

/// Server-side applies `objects` (field manager [`FIELD_MANAGER`], forced). An unchanged object
/// is a no-op for the API server (nothing is written).
///
/// Returns the kinds the cluster does not serve (External Secrets not installed), each once.
///
/// # Errors
/// [`Error::Kube`] when a request fails for another reason (retried with backoff).
pub async fn apply(ctx: &Context, objects: &[Value]) -> Result<Vec<Missing>, Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut missing: Vec<Missing> = Vec::new();
    for obj in objects {
        let ar = api_resource(obj);
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let api: Api<DynamicObject> = match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, &ar),
            None => Api::all_with(ctx.client.clone(), &ar),
        };
        match api.patch(name, &params, &Patch::Apply(obj)).await {
            Ok(_) => {}
            // Why: an apply creates a missing object, so 404 means the kind is not served.
            Err(kube::Error::Api(status)) if status.is_not_found() => {
                let message = not_served(&ar);
                if !missing.iter().any(|m| m.message == message) {
                    tracing::warn!(kind = %ar.kind, "kind not served; dependents of this kind not applied");
                    missing.push(Missing { message });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(missing)
}

/// What to say when `ar` is not served.
fn not_served(ar: &ApiResource) -> String {
    if ar.group == "external-secrets.io" {
        format!(
            "{}/{} {} is not served by this cluster, so AWS secrets cannot be fetched: install \
             External Secrets Operator (with a SecretStore or ClusterSecretStore), or run \
             ecs-bridge with --external-secrets=false and create the Secrets the Translated \
             condition names",
            ar.group, ar.version, ar.kind
        )
    } else {
        format!("{} {} is not served by this cluster", ar.api_version, ar.kind)
    }
}

/// The PersistentVolumes `revision` of `td` made (its EFS volumes), by name.
#[must_use]
pub fn volumes_of(td: &TaskDefinition, retained: &Retained, options: &PodOptions) -> Vec<String> {
    pod_template_with(&td.name_any(), &retained.spec, retained.revision, options)
        .map(|t| {
            t.objects
                .iter()
                .filter(|o| cluster_scoped(o))
                .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes the PersistentVolumes `names` (of a revision retention let go); gone already is fine.
/// The volumes' `Retain` policy leaves the file systems untouched.
///
/// # Errors
/// [`Error::Kube`] when a request fails.
pub async fn delete_volumes(ctx: &Context, names: &[String]) -> Result<(), Error> {
    let api: Api<k8s_openapi::api::core::v1::PersistentVolume> = Api::all(ctx.client.clone());
    for name in names {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => tracing::info!(volume = %name, "PersistentVolume of a deleted revision deleted"),
            Err(kube::Error::Api(status)) if status.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::testing;

    fn td(spec: Value) -> TaskDefinition {
        let mut td = testing::task_definition("team-a", "web", 1);
        td.spec.task_definition = serde_json::from_value(spec).expect("spec");
        td
    }

    fn retained(revision: i64, spec: &TaskDefinition) -> Retained {
        Retained {
            revision,
            spec: spec.spec.task_definition.clone(),
            owner: OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ControllerRevision".into(),
                name: format!("web-{revision}"),
                uid: format!("uid-cr-{revision}"),
                controller: Some(true),
                block_owner_deletion: None,
            },
        }
    }

    fn options() -> PodOptions {
        PodOptions {
            namespace: Some("team-a".into()),
            ..PodOptions::default()
        }
    }

    fn summary(objects: &[Value]) -> Vec<(String, String, Option<String>, Value)> {
        objects
            .iter()
            .map(|o| {
                (
                    o["kind"].as_str().unwrap_or_default().to_owned(),
                    o["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                    o["metadata"]["namespace"].as_str().map(str::to_owned),
                    o["metadata"]["ownerReferences"]
                        .as_array()
                        .map_or(Value::Null, |r| r[0]["name"].clone()),
                )
            })
            .collect()
    }

    #[test]
    fn every_dependent_has_the_owner_that_removes_it_with_what_ecs_would_remove() {
        let old = td(json!({
            "family": "web",
            "taskRoleArn": "arn:aws:iam::123456789012:role/old",
            "volumes": [
                {"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}},
                {"name": "cache", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}}
            ],
            "containerDefinitions": [{"name": "app", "image": "x",
                "mountPoints": [{"sourceVolume": "data", "containerPath": "/d"}, {"sourceVolume": "cache", "containerPath": "/c"}],
                "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/token"}]}]
        }));
        let mut new = old.clone();
        new.spec.task_definition.task_role_arn = Some("arn:aws:iam::123456789012:role/new".into());
        let objects = desired(
            &new,
            "team-a",
            &[retained(1, &old), retained(2, &new)],
            &options(),
        );
        let pv = |r: i64| {
            let hash = crate::translate::pod::short_hash_for_tests(&["fs-1", "/", ""]);
            format!("ecs-team-a-web-{r}-data-{hash}")
        };
        assert_eq!(
            summary(&objects),
            vec![
                ("PersistentVolume".into(), pv(1), None, Value::Null),
                ("PersistentVolume".into(), pv(2), None, Value::Null),
                (
                    "ExternalSecret".into(),
                    "web-1-secrets".into(),
                    Some("team-a".into()),
                    json!("web-1")
                ),
                (
                    "ExternalSecret".into(),
                    "web-2-secrets".into(),
                    Some("team-a".into()),
                    json!("web-2")
                ),
                (
                    "PersistentVolumeClaim".into(),
                    "web-1-data".into(),
                    Some("team-a".into()),
                    json!("web-1")
                ),
                (
                    "PersistentVolumeClaim".into(),
                    "web-2-data".into(),
                    Some("team-a".into()),
                    json!("web-2")
                ),
                (
                    "PersistentVolumeClaim".into(),
                    "web-cache".into(),
                    Some("team-a".into()),
                    Value::Null
                ),
                (
                    "ServiceAccount".into(),
                    "ecs-web".into(),
                    Some("team-a".into()),
                    json!("web")
                ),
            ]
        );
        let sa = objects
            .iter()
            .find(|o| o["kind"] == "ServiceAccount")
            .expect("SA");
        assert_eq!(
            sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], "arn:aws:iam::123456789012:role/new",
            "the newest revision's ServiceAccount wins"
        );
        assert_eq!(
            volumes_of(&new, &retained(1, &old), &options()),
            vec![pv(1)],
            "the volumes to delete with revision 1"
        );
    }

    #[test]
    fn nothing_is_made_for_a_revision_that_does_not_translate_or_needs_nothing() {
        let bad = td(
            json!({"family": "web", "taskRoleArn": "arn:aws:iam::1:role/r", "containerDefinitions": [{"name": "app"}]}),
        );
        let plain = td(json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "x"}]}));
        assert!(
            desired(
                &plain,
                "team-a",
                &[retained(1, &bad), retained(2, &plain)],
                &options()
            )
            .is_empty()
        );
    }

    #[test]
    fn api_resources_of_dependents() {
        let ar = api_resource(&json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret"}));
        assert_eq!(
            (ar.group.as_str(), ar.version.as_str(), ar.plural.as_str()),
            ("external-secrets.io", "v1", "externalsecrets")
        );
        let ar = api_resource(&json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim"}));
        assert_eq!(
            (ar.group.as_str(), ar.plural.as_str()),
            ("", "persistentvolumeclaims")
        );
        assert!(
            not_served(&api_resource(
                &json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret"})
            ))
            .contains("--external-secrets=false")
        );
    }
}
