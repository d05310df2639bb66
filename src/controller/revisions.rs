//! TaskDefinition revisions as the cluster stores them (pure: no client, no clock), for every
//! controller that reads or writes them.
//!
//! ECS semantics (ecs-reference.md §1.1): each registration gets the previous revision + 1, even
//! when older revisions were deleted; revisions are immutable. Here a revision is an `apps/v1`
//! ControllerRevision `<object>-<revision>` owned by the TaskDefinition, whose `data` is the
//! normalized `RegisterTaskDefinition` and whose [`ANNOTATION_SPEC_HASH`] is the hash of that data.
//! The TaskDefinition controller registers them; the Service controller runs them.

use k8s_openapi::{api::apps::v1::ControllerRevision, apimachinery::pkg::runtime::RawExtension};
use kube::{Resource, ResourceExt, api::ObjectMeta};
use serde_json::Value;

use crate::{
    api::{TaskDefinition, ecs::RegisterTaskDefinition},
    translate::labels,
};

/// Annotation with the hash of a revision's normalized spec ([`spec_hash`]).
pub const ANNOTATION_SPEC_HASH: &str = "ecsbridge.io/spec-hash";
/// Longest TaskDefinition name: it is the value of the `ecsbridge.io/task-definition` label.
pub const MAX_NAME_LEN: usize = 63;

/// The normalized spec of `td`: the `RegisterTaskDefinition` after a serde round trip through the
/// typed model (unknown fields dropped, unset fields left out), with `family` filled in from the
/// object name when absent, and every object's keys sorted.
#[must_use]
pub fn normalized_spec(td: &TaskDefinition) -> Value {
    let mut spec = td.spec.task_definition.clone();
    spec.family = Some(td.family());
    canonical(serde_json::to_value(&spec).unwrap_or(Value::Null))
}

/// `value` with the keys of every object in sorted order (whatever order the map type keeps).
#[must_use]
pub fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, canonical(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// The content hash of a normalized spec: 64-bit FNV-1a of its compact canonical JSON, as
/// `fnv1a64:<16 hex digits>`. Stable across runs, platforms and Rust versions (unlike `std`'s
/// hasher), and independent of key order.
#[must_use]
pub fn spec_hash(spec: &Value) -> String {
    let json = canonical(spec.clone()).to_string();
    let hash = crate::fnv::hash(json.bytes());
    format!("fnv1a64:{hash:016x}")
}

/// Name of the ControllerRevision of `revision` of the TaskDefinition named `object`.
#[must_use]
pub fn revision_name(object: &str, revision: i64) -> String {
    format!("{object}-{revision}")
}

/// Label selector of the ControllerRevisions of the TaskDefinition named `object`.
#[must_use]
pub fn selector(object: &str) -> String {
    format!("{}={object}", labels::TASK_DEFINITION)
}

/// Whether `cr` is controlled by the object with `uid`.
#[must_use]
pub fn controlled_by(cr: &ControllerRevision, uid: &str) -> bool {
    cr.owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// The hash of the spec `cr` stores: its [`ANNOTATION_SPEC_HASH`], else computed from `data`.
#[must_use]
pub fn stored_hash(cr: &ControllerRevision) -> Option<String> {
    cr.annotations()
        .get(ANNOTATION_SPEC_HASH)
        .cloned()
        .or_else(|| cr.data.as_ref().map(|d| spec_hash(&d.0)))
}

/// The spec stored in `cr`.
///
/// # Errors
/// A message when `cr` has no data or the data is not a `RegisterTaskDefinition`.
pub fn stored_spec(cr: &ControllerRevision) -> Result<RegisterTaskDefinition, String> {
    let data = cr
        .data
        .as_ref()
        .ok_or_else(|| format!("ControllerRevision {} has no data", cr.name_any()))?;
    serde_json::from_value(data.0.clone()).map_err(|e| {
        format!(
            "ControllerRevision {}: data is not a task definition: {e}",
            cr.name_any()
        )
    })
}

/// The ControllerRevision that stores `td`'s spec as `revision` ([`normalized_spec`],
/// [`spec_hash`], [`controller_revision`]); `None` when `td` has no uid.
#[must_use]
pub fn registered_as(td: &TaskDefinition, revision: i64) -> Option<ControllerRevision> {
    let spec = normalized_spec(td);
    let hash = spec_hash(&spec);
    controller_revision(td, revision, spec, &hash)
}

/// The ControllerRevision that stores `revision` of `td` with `spec` (normalized) and `hash`:
/// controlled by `td` (with `blockOwnerDeletion`), labelled with the object name, the revision
/// and `managed-by`.
///
/// Returns `None` when `td` has no uid.
#[must_use]
pub fn controller_revision(
    td: &TaskDefinition,
    revision: i64,
    spec: Value,
    hash: &str,
) -> Option<ControllerRevision> {
    let mut owner = td.controller_owner_ref(&())?;
    owner.block_owner_deletion = Some(true);
    let object = td.name_any();
    Some(ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(&object, revision)),
            namespace: td.namespace(),
            labels: Some(
                [
                    (labels::TASK_DEFINITION.to_owned(), object),
                    (labels::REVISION.to_owned(), revision.to_string()),
                    (labels::MANAGED_BY.to_owned(), labels::MANAGED_BY_VALUE.to_owned()),
                ]
                .into(),
            ),
            annotations: Some([(ANNOTATION_SPEC_HASH.to_owned(), hash.to_owned())].into()),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(spec)),
        revision,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::testing;

    fn td() -> TaskDefinition {
        testing::with_container(testing::task_definition("team-a", "web", 1), "app", "nginx:1.27")
    }

    #[test]
    fn hash_is_stable_under_key_order() {
        let a: Value = serde_json::from_str(
            r#"{"family":"web","cpu":"256","containerDefinitions":[{"name":"app","image":"nginx"}]}"#,
        )
        .expect("json");
        let b: Value = serde_json::from_str(
            r#"{"containerDefinitions":[{"image":"nginx","name":"app"}],"cpu":"256","family":"web"}"#,
        )
        .expect("json");
        assert_eq!(spec_hash(&a), spec_hash(&b));
        assert_eq!(canonical(a.clone()).to_string(), canonical(b).to_string());
        // A pinned value: the hash must never change between versions of the operator.
        assert_eq!(spec_hash(&json!({})), "fnv1a64:08f44b07b5901a25");
        assert_eq!(spec_hash(&json!({"family": "web"})), "fnv1a64:803be658b6373dc5");
        let c = json!({"family": "web", "cpu": "512", "containerDefinitions": [{"name": "app", "image": "nginx"}]});
        assert_ne!(spec_hash(&a), spec_hash(&c));
        // Array order matters (container order is meaningful).
        let d = json!({"x": [1, 2]});
        let e = json!({"x": [2, 1]});
        assert_ne!(spec_hash(&d), spec_hash(&e));
    }

    #[test]
    fn normalization_fills_the_family_and_drops_unset_fields() {
        let mut td = td();
        td.spec.task_definition.family = None;
        let spec = normalized_spec(&td);
        assert_eq!(spec["family"], "web");
        assert_eq!(spec["containerDefinitions"][0]["image"], "nginx:1.27");
        assert!(spec.get("cpu").is_none(), "{spec}");
        // Naming the family explicitly as the object name changes nothing.
        let mut explicit = td.clone();
        explicit.spec.task_definition.family = Some("web".into());
        assert_eq!(spec_hash(&normalized_spec(&explicit)), spec_hash(&spec));
    }
}
