//! The families' high-water marks: the last revision number each task definition family of a
//! namespace was given, kept where it survives the TaskDefinition object.
//!
//! ECS never reuses a family's revision numbers, not even after every revision was deregistered
//! and deleted (ecs-reference.md §1.1): a Service pinned to `web:4` must never run another spec
//! under that number. A TaskDefinition's revisions (ControllerRevisions) and its
//! `status.revision` go with the object, so the numbers are also kept in one ConfigMap per
//! namespace (the namespace is the ECS cluster), [`CONFIG_MAP`], owned by nothing: its `data`
//! maps each family ([`key`]) to the last revision registered for it, e.g. `web: "4"`. Deleting
//! and re-applying TaskDefinition `web` registers `web:5`. Deleting the ConfigMap (or the
//! namespace) forgets the marks; a user who wants the numbers to start again at 1 deletes it.
//!
//! Requests: none at rest. A registration reads the ConfigMap once ([`read`], in load) and
//! raises the mark before it creates the revision ([`record`], in apply: a create, or a merge
//! patch guarded by the resource version read, so two registrations never lower a mark).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};

use crate::{controller::Error, translate::labels};

/// Name of the ConfigMap of a namespace that holds its families' high-water marks.
pub const CONFIG_MAP: &str = "ecsbridge-task-definition-families";

/// Longest ConfigMap key.
const MAX_KEY_LEN: usize = 253;

/// The ConfigMap key of `family`: the family itself when it is a valid key (ECS families are
/// letters, digits, `-` and `_`, so nearly always), else `family-<FNV-1a of the family>`.
#[must_use]
pub fn key(family: &str) -> String {
    let valid = !family.is_empty()
        && family.len() <= MAX_KEY_LEN
        && family
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        family.to_owned()
    } else {
        format!("family-{:016x}", crate::fnv::hash(family.bytes()))
    }
}

/// The last revision `cm` records for `family`; `None` when it records none (or not a number).
#[must_use]
pub fn high_water_mark(cm: &ConfigMap, family: &str) -> Option<i64> {
    cm.data.as_ref()?.get(&key(family))?.trim().parse().ok()
}

/// Reads the ConfigMap of `namespace`; `None` when it does not exist yet.
///
/// # Errors
/// [`Error::Kube`] when the read fails.
pub async fn read(client: &kube::Client, namespace: &str) -> Result<Option<ConfigMap>, Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    Ok(api.get_opt(CONFIG_MAP).await?)
}

/// Raises `family`'s mark to `revision` in the ConfigMap of `namespace`, as [`read`] found it
/// (`read`): creates it when it did not exist, patches it (guarded by its resource version) when
/// its mark is lower, and leaves it alone otherwise.
///
/// # Errors
/// [`Error::Kube`] when the write fails, a conflict included (the ConfigMap changed since it was
/// read: the reconcile is retried and reads it again).
pub async fn record(
    client: &kube::Client,
    namespace: &str,
    read: Option<&ConfigMap>,
    family: &str,
    revision: i64,
) -> Result<(), Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let data = BTreeMap::from([(key(family), revision.to_string())]);
    match read {
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(CONFIG_MAP.to_owned()),
                    namespace: Some(namespace.to_owned()),
                    labels: Some(BTreeMap::from([(
                        labels::MANAGED_BY.to_owned(),
                        labels::MANAGED_BY_VALUE.to_owned(),
                    )])),
                    annotations: Some(BTreeMap::from([(
                        "ecsbridge.io/description".to_owned(),
                        "The last revision number registered for each task definition family \
                         of this namespace: ecs-bridge never reuses one. Delete to start again at 1."
                            .to_owned(),
                    )])),
                    ..ObjectMeta::default()
                },
                data: Some(data),
                ..ConfigMap::default()
            };
            api.create(&PostParams::default(), &cm).await?;
        }
        Some(cm) if high_water_mark(cm, family).is_some_and(|mark| mark >= revision) => {}
        Some(cm) => {
            let patch = serde_json::json!({
                "metadata": { "resourceVersion": cm.resource_version() },
                "data": data,
            });
            api.patch(CONFIG_MAP, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_is_its_own_key_unless_no_key_can_hold_it() {
        assert_eq!(key("web"), "web");
        assert_eq!(key("dev-redash_server"), "dev-redash_server");
        let long = "w".repeat(254);
        for odd in [long.as_str(), "", "a/b"] {
            let k = key(odd);
            assert!(k.starts_with("family-") && k.len() == 23, "{k}");
        }
        assert_ne!(key(&"w".repeat(254)), key(&"w".repeat(255)));
    }

    #[test]
    fn the_mark_is_read_by_family() {
        let cm = ConfigMap {
            data: Some(BTreeMap::from([
                ("web".to_owned(), "4".to_owned()),
                ("api".to_owned(), "x".to_owned()),
            ])),
            ..ConfigMap::default()
        };
        assert_eq!(high_water_mark(&cm, "web"), Some(4));
        assert_eq!(high_water_mark(&cm, "api"), None);
        assert_eq!(high_water_mark(&cm, "db"), None);
        assert_eq!(high_water_mark(&ConfigMap::default(), "web"), None);
    }
}
