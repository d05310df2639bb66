//! Revisions (pure: no client, no clock): the normalized spec and its hash, which revision comes
//! next, the ControllerRevision that stores it, and which revisions retention keeps.
//!
//! ECS semantics (ecs-reference.md §1.1): each registration gets the previous revision + 1, even
//! when older revisions were deleted; revisions are immutable. Here a revision is an `apps/v1`
//! ControllerRevision `<object>-<revision>` owned by the TaskDefinition, whose `data` is the
//! normalized `RegisterTaskDefinition` and whose [`ANNOTATION_SPEC_HASH`] is the hash of that data.

use std::collections::BTreeSet;

use k8s_openapi::{api::apps::v1::ControllerRevision, apimachinery::pkg::runtime::RawExtension};
use kube::{Resource, ResourceExt, api::ObjectMeta};
use serde_json::Value;

use crate::{
    api::{ScheduledTask, Service, Task, TaskDefinition, ecs::RegisterTaskDefinition},
    controller::service::validate::family_of,
    translate::{labels, reference::TaskDefinitionRef},
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
    spec.family = Some(family_of(td));
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

/// The revision after every one seen: `status.revision` (which survives deleted revisions) and
/// the revisions of the listed ControllerRevisions (a previous object of the same name counts
/// too: ECS keeps numbering a family after all its revisions are gone).
#[must_use]
pub fn next_revision(status_revision: Option<i64>, seen: impl IntoIterator<Item = i64>) -> i64 {
    seen.into_iter().chain(status_revision).max().unwrap_or(0).max(0) + 1
}

/// What the listed ControllerRevisions of a TaskDefinition say, and what to register.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The latest revision once the plan is carried out.
    pub latest: i64,
    /// The ControllerRevision to create, when the spec changed since the latest revision.
    pub register: Option<ControllerRevision>,
    /// The revisions the TaskDefinition owns once the plan is carried out, ascending.
    pub owned: Vec<i64>,
}

/// Decides whether `td` needs a new revision, given the ControllerRevisions labelled with its
/// name (`listed`): only when its normalized spec differs from that of its latest owned revision
/// (or it owns none). The new revision is [`next_revision`].
///
/// Returns `None` when `td` cannot own a revision (no uid: it did not come from the API server).
#[must_use]
pub fn plan(td: &TaskDefinition, listed: &[ControllerRevision]) -> Option<Plan> {
    let uid = td.uid()?;
    let mut owned: Vec<&ControllerRevision> = listed.iter().filter(|cr| controlled_by(cr, &uid)).collect();
    owned.sort_by_key(|cr| cr.revision);
    let mut numbers: Vec<i64> = owned.iter().map(|cr| cr.revision).collect();
    let spec = normalized_spec(td);
    let hash = spec_hash(&spec);
    let status_revision = td.status.as_ref().and_then(|s| s.revision);
    // Why: the latest owned revision only stands for the registered spec while it is the latest
    // ever registered; after a manual delete of newer ones, status remembers a higher number.
    let unchanged = owned.last().is_some_and(|latest| {
        latest.revision >= status_revision.unwrap_or(0)
            && stored_hash(latest).as_deref() == Some(hash.as_str())
    });
    if unchanged {
        let latest = numbers.last().copied().unwrap_or(0);
        return Some(Plan {
            latest,
            register: None,
            owned: numbers,
        });
    }
    let revision = next_revision(status_revision, listed.iter().map(|cr| cr.revision));
    let cr = controller_revision(td, revision, spec, &hash)?;
    numbers.push(revision);
    Some(Plan {
        latest: revision,
        register: Some(cr),
        owned: numbers,
    })
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

/// The objects that may name a revision of a task definition.
#[derive(Debug, Clone, Default)]
pub struct Referrers {
    /// Services of the namespace.
    pub services: Vec<Service>,
    /// Standalone task requests of the namespace.
    pub tasks: Vec<Task>,
    /// Scheduled tasks of the namespace.
    pub scheduled_tasks: Vec<ScheduledTask>,
}

impl Referrers {
    /// Every task definition reference they hold: a Service's `spec.taskDefinition` and
    /// `status.taskDefinition` (the revision running), a Task's `spec.taskDefinition` and
    /// `status.taskDefinition`, and the `EcsParameters.TaskDefinitionArn` of each scheduled
    /// task's targets.
    fn references(&self) -> impl Iterator<Item = &str> {
        let services = self.services.iter().flat_map(|svc| {
            [
                svc.spec.service.task_definition.as_deref(),
                svc.status.as_ref().and_then(|s| s.task_definition.as_deref()),
            ]
        });
        let tasks = self.tasks.iter().flat_map(|t| {
            [
                Some(t.spec.run_task.task_definition.as_str()),
                t.status.as_ref().and_then(|s| s.task_definition.as_deref()),
            ]
        });
        let scheduled = self.scheduled_tasks.iter().flat_map(|s| {
            s.spec
                .targets
                .iter()
                .map(|t| t.ecs_parameters.as_ref().map(|p| p.task_definition_arn.as_str()))
        });
        services.chain(tasks).chain(scheduled).flatten()
    }
}

/// The revisions of the family that `referrers` use, pinned (`family:N` or an ARN) or running.
/// They name the TaskDefinition by its `family` or by its object name (as the controllers
/// resolve it); a bare family (the latest) pins nothing.
#[must_use]
pub fn in_use(referrers: &Referrers, family: &str, object: &str) -> BTreeSet<i64> {
    let ours = |r: &TaskDefinitionRef| r.family == family || r.family == object;
    referrers
        .references()
        .filter_map(|r| TaskDefinitionRef::parse(r).ok())
        .filter(|r| ours(r))
        .filter_map(|r| r.revision)
        .collect()
}

/// The revisions among `owned` that retention deletes: all but the latest, the newest `limit`
/// and those `in_use`. Ascending.
#[must_use]
pub fn to_delete(owned: &[i64], latest: i64, limit: usize, in_use: &BTreeSet<i64>) -> Vec<i64> {
    let mut sorted: Vec<i64> = owned.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let newest: BTreeSet<i64> = sorted.iter().rev().take(limit).copied().collect();
    sorted
        .into_iter()
        .filter(|r| *r != latest && !newest.contains(r) && !in_use.contains(r))
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use serde_json::json;

    use super::*;
    use crate::{api::ServiceStatus, controller::testing};

    fn td() -> TaskDefinition {
        testing::with_container(testing::task_definition("team-a", "web", 1), "app", "nginx:1.27")
    }

    /// The ControllerRevision `td` registers as `revision`.
    fn registered(td: &TaskDefinition, revision: i64) -> ControllerRevision {
        let spec = normalized_spec(td);
        let hash = spec_hash(&spec);
        controller_revision(td, revision, spec, &hash).expect("td has a uid")
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

    #[test]
    fn first_registration_is_revision_one() {
        let td = td();
        let plan = plan(&td, &[]).expect("a plan");
        assert_eq!((plan.latest, plan.owned.as_slice()), (1, &[1][..]));
        let cr = plan.register.expect("a revision to register");
        assert_eq!(cr.revision, 1);
        assert_eq!(cr.metadata.name.as_deref(), Some("web-1"));
        assert_eq!(cr.metadata.namespace.as_deref(), Some("team-a"));
        let labels = cr.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels["ecsbridge.io/task-definition"], "web");
        assert_eq!(labels["ecsbridge.io/revision"], "1");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "ecs-bridge");
        let owner = &cr.metadata.owner_references.as_ref().expect("owners")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("TaskDefinition", "web", "uid-team-a-web")
        );
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
        let data = &cr.data.as_ref().expect("data").0;
        assert_eq!(data, &normalized_spec(&td));
        assert_eq!(
            cr.metadata.annotations.as_ref().expect("annotations")[ANNOTATION_SPEC_HASH],
            spec_hash(data)
        );
        assert_eq!(stored_spec(&cr).expect("a spec"), {
            let mut spec = td.spec.task_definition.clone();
            spec.family = Some("web".into());
            spec
        });
    }

    #[test]
    fn unchanged_spec_registers_nothing() {
        let td = td();
        let listed = vec![registered(&td, 1)];
        let plan = plan(&td, &listed).expect("a plan");
        assert_eq!(plan.register, None);
        assert_eq!((plan.latest, plan.owned), (1, vec![1]));
        // Without the annotation, the hash is computed from the data.
        let mut bare = listed[0].clone();
        bare.metadata.annotations = None;
        assert_eq!(self::plan(&td, &[bare]).expect("a plan").register, None);
    }

    #[test]
    fn a_changed_spec_registers_the_next_revision() {
        let old = td();
        let listed = vec![registered(&old, 1), registered(&old, 2)];
        let mut new = old.clone();
        new.spec.task_definition.container_definitions[0].image = Some("nginx:1.28".into());
        let plan = plan(&new, &listed).expect("a plan");
        assert_eq!((plan.latest, plan.owned.as_slice()), (3, &[1, 2, 3][..]));
        assert_eq!(plan.register.expect("a revision").revision, 3);
        // Reverting to an older spec is a new revision too, as in ECS.
        let mut reverted = listed.clone();
        reverted.push(registered(&new, 3));
        let plan = self::plan(&old, &reverted).expect("a plan");
        assert_eq!(plan.latest, 4);
    }

    #[test]
    fn revision_numbers_never_repeat() {
        let old = td();
        let mut new = old.clone();
        new.spec.task_definition.cpu = Some("512".into());
        // Every revision deleted, status remembers 7.
        new.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(7),
            ..Default::default()
        });
        assert_eq!(plan(&new, &[]).expect("a plan").latest, 8);
        // A revision left by an earlier object of the same name counts, but is not ours.
        let mut foreign = registered(&old, 9);
        foreign.metadata.owner_references = Some(vec![OwnerReference {
            uid: "uid-earlier".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let plan = plan(&new, &[foreign]).expect("a plan");
        assert_eq!((plan.latest, plan.owned), (10, vec![10]));
        // Revision 2 deleted by hand and the spec reverted to revision 1's: still a new revision,
        // numbered after 2, never 2 again.
        let mut reverted = old.clone();
        reverted.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(2),
            ..Default::default()
        });
        let plan = super::plan(&reverted, &[registered(&old, 1)]).expect("a plan");
        assert_eq!((plan.latest, plan.owned.as_slice()), (3, &[1, 3][..]));
        assert_eq!(next_revision(None, []), 1);
        assert_eq!(next_revision(Some(3), [1, 2]), 4);
        assert_eq!(next_revision(Some(2), [5]), 6);
    }

    #[test]
    fn an_object_without_uid_plans_nothing() {
        let mut td = td();
        td.metadata.uid = None;
        assert_eq!(plan(&td, &[]), None);
    }

    #[test]
    fn retention_keeps_in_use_latest_and_newest_n() {
        let owned: Vec<i64> = (1..=15).collect();
        let none = BTreeSet::new();
        assert_eq!(to_delete(&owned, 15, 10, &none), vec![1, 2, 3, 4, 5]);
        let in_use = BTreeSet::from([2, 4, 99]);
        assert_eq!(to_delete(&owned, 15, 10, &in_use), vec![1, 3, 5]);
        // Limit 0 keeps the latest and those in use only.
        assert_eq!(
            to_delete(&owned, 15, 0, &in_use),
            (1..=14).filter(|r| *r != 2 && *r != 4).collect::<Vec<_>>()
        );
        // Few revisions: nothing to delete.
        assert!(to_delete(&[1, 2, 3], 3, 10, &none).is_empty());
        // Gaps count by position, not by number.
        assert_eq!(to_delete(&[1, 5, 9, 12], 12, 2, &none), vec![1, 5]);
    }

    #[test]
    fn in_use_counts_pinned_references_and_running_revisions_of_the_family() {
        let mut running = testing::service("team-a", "front", 1, "web");
        running.status = Some(ServiceStatus {
            task_definition: Some("web:4".into()),
            ..Default::default()
        });
        let services = vec![
            running,
            testing::service("team-a", "pinned", 1, "web:2"),
            testing::service(
                "team-a",
                "arn",
                1,
                "arn:aws:ecs:eu-west-1:1:task-definition/web:3",
            ),
            testing::service("team-a", "other", 1, "api:5"),
            testing::service("team-a", "broken", 1, "web:latest"),
        ];
        let referrers = Referrers {
            services,
            ..Referrers::default()
        };
        assert_eq!(in_use(&referrers, "web", "web"), BTreeSet::from([2, 3, 4]));
        // Known by family "web_app" or object name "web".
        let services = vec![
            testing::service("team-a", "a", 1, "web_app:6"),
            testing::service("team-a", "b", 1, "web:7"),
        ];
        let referrers = Referrers {
            services,
            ..Referrers::default()
        };
        assert_eq!(in_use(&referrers, "web_app", "web"), BTreeSet::from([6, 7]));
    }

    #[test]
    fn tasks_and_scheduled_tasks_keep_the_revisions_they_name() {
        let task: Task = serde_json::from_value(serde_json::json!({
            "apiVersion": "ecsbridge.io/v1alpha1", "kind": "Task",
            "metadata": {"name": "once", "namespace": "team-a"},
            "spec": {"taskDefinition": "web:3"},
            "status": {"taskDefinition": "web:2"}
        }))
        .expect("task");
        let scheduled: ScheduledTask = serde_json::from_value(serde_json::json!({
            "apiVersion": "ecsbridge.io/v1alpha1", "kind": "ScheduledTask",
            "metadata": {"name": "nightly", "namespace": "team-a"},
            "spec": {"ScheduleExpression": "cron(0 3 * * ? *)", "Targets": [
                {"Id": "a", "Arn": "arn:aws:ecs:us-east-1:1:cluster/team-a",
                 "EcsParameters": {"TaskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:5"}},
                {"Id": "b", "Arn": "arn:aws:ecs:us-east-1:1:cluster/team-a",
                 "EcsParameters": {"TaskDefinitionArn": "web"}},
                {"Id": "c", "Arn": "arn:aws:lambda:us-east-1:1:function:f"}
            ]}
        }))
        .expect("scheduled task");
        let referrers = Referrers {
            tasks: vec![task],
            scheduled_tasks: vec![scheduled],
            ..Referrers::default()
        };
        assert_eq!(in_use(&referrers, "web", "web"), BTreeSet::from([2, 3, 5]));
    }
}
