//! Build (pure: no client, no clock): a [`Valid`] TaskDefinition and its [`Plan`] → what to
//! apply: the revision to register, the revisions (and their EFS PersistentVolumes) retention
//! lets go, and the dependents, the objects its tasks need besides their pod (the ServiceAccount
//! of `taskRoleArn`, the ExternalSecrets of `secrets` and `repositoryCredentials`, the
//! PersistentVolumes and claims of EFS and shared Docker volumes), for every retained revision,
//! so that pods of any revision a Service may run (the latest, a pinned `family:N`, the old one
//! during a rollout) find them.
//!
//! Ownership, so that garbage collection removes what ECS would no longer have:
//!
//! | object | owner | removed |
//! |---|---|---|
//! | ServiceAccount (one per TaskDefinition) | the TaskDefinition | with the TaskDefinition |
//! | ExternalSecret, EFS claim (one per revision) | the revision's ControllerRevision | when retention lets the revision go |
//! | EFS PersistentVolume (cluster-scoped) | none (a namespaced owner is not allowed) | by [`super::apply`] with its revision; `Retain`: the file system is never touched |
//! | shared Docker volume claim | none | never: like ECS's `shared` volumes, the data outlives the task definition |
//!
//! A revision registered in this reconcile has no uid yet, so a dependent names its owner
//! ([`Owner`]) and [`super::apply`] sets the owner reference and the applied hash once the
//! revision exists. When several retained revisions make an object of the same kind and name
//! (the ServiceAccount), the newest revision's wins.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ControllerRevision;
use serde_json::Value;

use super::{
    decide::{Plan, Retained},
    validate::Valid,
};
use crate::{
    controller::revisions::stored_spec,
    translate::{Options, labels, pod::pod_template_with},
};

/// Who owns a dependent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The TaskDefinition (the task role's ServiceAccount).
    TaskDefinition,
    /// The ControllerRevision of this revision (its ExternalSecrets and EFS claims).
    Revision(i64),
}

/// One object a TaskDefinition's tasks need.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependent {
    /// The object, with its namespace (unless cluster-scoped) and without owner references.
    pub object: Value,
    /// Its owner; `None` for cluster-scoped objects and shared volumes' claims.
    pub owner: Option<Owner>,
}

/// A revision retention lets go, and the PersistentVolumes to delete with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Deletion {
    /// The ControllerRevision (deleted by uid precondition).
    pub revision: ControllerRevision,
    /// The names of its EFS PersistentVolumes.
    pub volumes: Vec<String>,
}

/// What to apply for one TaskDefinition.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The ControllerRevision to create.
    pub register: Option<ControllerRevision>,
    /// The revisions to delete, with their volumes.
    pub delete: Vec<Deletion>,
    /// The dependents of the retained revisions, PersistentVolumes first (claims name them).
    pub dependents: Vec<Dependent>,
}

/// Builds what to apply for `valid` and its `plan`, for an installation with `options`.
#[must_use]
pub fn build(valid: &Valid, plan: &Plan, options: &Options) -> Desired {
    let delete = plan
        .delete
        .iter()
        .map(|cr| Deletion {
            volumes: stored_spec(cr)
                .map(|spec| {
                    volumes_of(
                        valid,
                        &Retained {
                            revision: cr.revision,
                            spec,
                        },
                        options,
                    )
                })
                .unwrap_or_default(),
            revision: cr.clone(),
        })
        .collect();
    Desired {
        register: plan.register.clone(),
        delete,
        dependents: dependents(valid, &plan.retained, options),
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

/// The dependents of `valid` over its `retained` revisions (ascending), with namespaces set and
/// owners named, PersistentVolumes first (claims name them).
///
/// A revision whose spec cannot be translated adds nothing (its error is in the `Translated`
/// condition, and Services refuse to run it).
#[must_use]
pub fn dependents(valid: &Valid, retained: &[Retained], options: &Options) -> Vec<Dependent> {
    let mut by_key: BTreeMap<(bool, String, String, String), Dependent> = BTreeMap::new();
    for r in retained {
        let namespace = Some(valid.namespace.as_str());
        let Ok(translation) = pod_template_with(&valid.name, &r.spec, r.revision, namespace, options) else {
            continue;
        };
        for mut object in translation.objects {
            let owner = if cluster_scoped(&object) {
                None
            } else if per_revision(&object) {
                Some(Owner::Revision(r.revision))
            } else if object["kind"] == "PersistentVolumeClaim" {
                // A shared Docker volume: kept, like ECS keeps the volume.
                None
            } else {
                Some(Owner::TaskDefinition)
            };
            if !cluster_scoped(&object) {
                object["metadata"]["namespace"] = Value::String(valid.namespace.clone());
            }
            let key = (
                !cluster_scoped(&object),
                object["apiVersion"].as_str().unwrap_or_default().to_owned(),
                object["kind"].as_str().unwrap_or_default().to_owned(),
                object["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
            );
            by_key.insert(key, Dependent { object, owner });
        }
    }
    by_key.into_values().collect()
}

/// The PersistentVolumes `retained` of `valid` made (its EFS volumes), by name.
#[must_use]
pub fn volumes_of(valid: &Valid, retained: &Retained, options: &Options) -> Vec<String> {
    let namespace = Some(valid.namespace.as_str());
    pod_template_with(&valid.name, &retained.spec, retained.revision, namespace, options)
        .map(|t| {
            t.objects
                .iter()
                .filter(|o| cluster_scoped(o))
                .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::testing;

    fn valid(spec: Value) -> Valid {
        let mut td = testing::task_definition("team-a", "web", 1);
        td.spec.task_definition = serde_json::from_value(spec).expect("spec");
        super::super::validate::validate(&td, "team-a", &crate::translate::Options::default()).expect("valid")
    }

    fn retained(revision: i64, valid: &Valid) -> Retained {
        Retained {
            revision,
            spec: valid.task_definition.spec.task_definition.clone(),
        }
    }

    fn summary(dependents: &[Dependent]) -> Vec<(String, String, Option<String>, Value)> {
        dependents
            .iter()
            .map(|d| {
                let o = &d.object;
                (
                    o["kind"].as_str().unwrap_or_default().to_owned(),
                    o["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                    o["metadata"]["namespace"].as_str().map(str::to_owned),
                    match d.owner {
                        None => Value::Null,
                        Some(Owner::TaskDefinition) => json!("web"),
                        Some(Owner::Revision(r)) => json!(format!("web-{r}")),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn every_dependent_has_the_owner_that_removes_it_with_what_ecs_would_remove() {
        let old = valid(json!({
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
        new.task_definition.spec.task_definition.task_role_arn =
            Some("arn:aws:iam::123456789012:role/new".into());
        let objects = dependents(&new, &[retained(1, &old), retained(2, &new)], &Options::default());
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
            .map(|d| &d.object)
            .find(|o| o["kind"] == "ServiceAccount")
            .expect("SA");
        assert_eq!(
            sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], "arn:aws:iam::123456789012:role/new",
            "the newest revision's ServiceAccount wins"
        );
        assert_eq!(
            volumes_of(&new, &retained(1, &old), &Options::default()),
            vec![pv(1)],
            "the volumes to delete with revision 1"
        );
    }

    #[test]
    fn nothing_is_made_for_a_revision_that_does_not_translate_or_needs_nothing() {
        // (Registration refuses such a spec now; a revision stored before still may not translate.)
        let bad = Retained {
            revision: 1,
            spec: serde_json::from_value(
                json!({"family": "web", "taskRoleArn": "arn:aws:iam::1:role/r", "containerDefinitions": [{"name": "app"}]}),
            )
            .expect("spec"),
        };
        let plain = valid(json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "x"}]}));
        assert!(dependents(&plain, &[bad, retained(2, &plain)], &Options::default()).is_empty());
    }
}
