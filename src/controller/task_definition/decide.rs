//! Decide (pure: no client, no clock): registration and retention, from the revisions
//! [`super::load`] listed.
//!
//! The spec is registered as the next revision only when it differs from that of the latest one
//! the TaskDefinition owns ([`registration`]); retention then keeps the latest revision, the
//! newest [`crate::controller::Config::revision_history_limit`] and those in use by Services,
//! Tasks and ScheduledTasks ([`in_use`], [`to_delete`]). How a revision is stored:
//! [`crate::controller::revisions`].

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::ControllerRevision;
use kube::ResourceExt;

use super::validate::Valid;
use crate::{
    api::{ScheduledTask, Service, Task, TaskDefinition, ecs::RegisterTaskDefinition},
    controller::revisions::{
        controlled_by, controller_revision, normalized_spec, spec_hash, stored_hash, stored_spec,
    },
    translate::reference::TaskDefinitionRef,
};

/// One revision the TaskDefinition keeps: its number and registered spec (its dependents are
/// made from it).
#[derive(Debug, Clone, PartialEq)]
pub struct Retained {
    /// The revision number.
    pub revision: i64,
    /// The registered spec.
    pub spec: RegisterTaskDefinition,
}

/// What this reconcile does with the TaskDefinition's revisions.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The latest revision once the plan is carried out.
    pub latest: i64,
    /// The ControllerRevision to create, when the spec changed since the latest revision.
    pub register: Option<ControllerRevision>,
    /// The ControllerRevisions retention lets go.
    pub delete: Vec<ControllerRevision>,
    /// The revisions kept, ascending (`latest` included), for the status.
    pub revisions: Vec<i64>,
    /// The kept revisions whose spec is known, ascending: their dependents are made.
    pub retained: Vec<Retained>,
}

/// Whether retention may let a revision go once `registration` is carried out, keeping `limit`:
/// only then does [`super::load`] list the objects that may use one ([`Referrers`]).
#[must_use]
pub fn needs_referrers(registration: Option<&Registration>, limit: usize) -> bool {
    registration.is_some_and(|r| !to_delete(&r.owned, r.latest, limit, &BTreeSet::new()).is_empty())
}

/// Decides the revisions of `valid` from the ControllerRevisions [`super::load`] `listed`, the
/// [`registration`] it worked out from them and, when it listed them, the `referrers` that may
/// use one, keeping `limit` besides the latest and those in use.
#[must_use]
pub fn decide(
    valid: &Valid,
    listed: &[ControllerRevision],
    registration: Option<&Registration>,
    referrers: Option<&Referrers>,
    limit: usize,
) -> Plan {
    let td = &valid.task_definition;
    let Some(registration) = registration else {
        // (validate refuses an object without uid; nothing to do for one.)
        return Plan {
            latest: td.latest_revision(),
            register: None,
            delete: Vec::new(),
            revisions: Vec::new(),
            retained: Vec::new(),
        };
    };
    let mut stored: BTreeMap<i64, &ControllerRevision> = listed
        .iter()
        .filter(|cr| controlled_by(cr, &valid.uid))
        .map(|cr| (cr.revision, cr))
        .collect();
    if let Some(cr) = &registration.register {
        stored.insert(cr.revision, cr);
    }
    let mut revisions = registration.owned.clone();
    let mut delete = Vec::new();
    if let Some(referrers) = referrers {
        let in_use = in_use(referrers, &td.family(), &valid.name);
        for revision in to_delete(&registration.owned, registration.latest, limit, &in_use) {
            let Some(cr) = stored.remove(&revision) else {
                continue;
            };
            delete.push(cr.clone());
            revisions.retain(|r| *r != revision);
        }
    }
    let retained = revisions
        .iter()
        .filter_map(|r| stored.get(r))
        .filter_map(|cr| {
            Some(Retained {
                revision: cr.revision,
                spec: stored_spec(cr).ok()?,
            })
        })
        .collect();
    Plan {
        latest: registration.latest,
        register: registration.register.clone(),
        delete,
        revisions,
        retained,
    }
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
pub struct Registration {
    /// The latest revision once the plan is carried out.
    pub latest: i64,
    /// The ControllerRevision to create, when the spec changed since the latest revision.
    pub register: Option<ControllerRevision>,
    /// The revisions the TaskDefinition owns once the plan is carried out, ascending.
    pub owned: Vec<i64>,
}

/// A family's high-water mark, as the families ConfigMap records it ([`super::families`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The last number given to the family.
    pub revision: i64,
    /// Whether it was given to this very TaskDefinition (by uid).
    pub ours: bool,
}

/// Decides whether `td` needs a new revision, given the ControllerRevisions labelled with its
/// name (`listed`) and its family's high-water `mark` ([`super::families`], when read): only
/// when its normalized spec differs from that of its latest owned revision (or it owns none).
/// The new revision is [`next_revision`], above `mark` too: numbers are never reused, even
/// after the object and its revisions were deleted. One exception, as ECS, where a failed
/// `RegisterTaskDefinition` uses up no number: the mark's number, when it was given to this
/// TaskDefinition and neither a revision nor its status has it (the create after the mark
/// failed, or the process died between them).
///
/// Returns `None` when `td` cannot own a revision (no uid: it did not come from the API server).
#[must_use]
pub fn registration(
    td: &TaskDefinition,
    listed: &[ControllerRevision],
    mark: Option<Mark>,
) -> Option<Registration> {
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
        return Some(Registration {
            latest,
            register: None,
            owned: numbers,
        });
    }
    let highest_listed = listed.iter().map(|cr| cr.revision).max();
    let unused = mark.filter(|m| {
        m.ours && status_revision.unwrap_or(0) < m.revision && highest_listed.unwrap_or(0) < m.revision
    });
    let revision = match unused {
        Some(m) => m.revision,
        None => next_revision(
            status_revision,
            highest_listed.into_iter().chain(mark.map(|m| m.revision)),
        ),
    };
    let cr = controller_revision(td, revision, spec, &hash)?;
    numbers.push(revision);
    Some(Registration {
        latest: revision,
        register: Some(cr),
        owned: numbers,
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
            let scheduler = s
                .spec
                .target
                .as_ref()
                .and_then(|t| t.ecs_parameters.as_ref())
                .map(|p| p.task_definition_arn.as_str());
            s.spec
                .targets
                .iter()
                .map(|t| t.ecs_parameters.as_ref().map(|p| p.task_definition_arn.as_str()))
                .chain([scheduler])
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

    use super::*;
    use crate::{
        api::ServiceStatus,
        controller::{revisions::ANNOTATION_SPEC_HASH, testing},
    };

    fn td() -> TaskDefinition {
        testing::with_container(testing::task_definition("team-a", "web", 1), "app", "nginx:1.27")
    }

    /// The ControllerRevision `td` registers as `revision`.
    fn registered(td: &TaskDefinition, revision: i64) -> ControllerRevision {
        crate::controller::revisions::registered_as(td, revision).expect("td has a uid")
    }

    #[test]
    fn first_registration_is_revision_one() {
        let td = td();
        let plan = registration(&td, &[], None).expect("a plan");
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
        let plan = registration(&td, &listed, None).expect("a plan");
        assert_eq!(plan.register, None);
        assert_eq!((plan.latest, plan.owned), (1, vec![1]));
        // Without the annotation, the hash is computed from the data.
        let mut bare = listed[0].clone();
        bare.metadata.annotations = None;
        assert_eq!(registration(&td, &[bare], None).expect("a plan").register, None);
    }

    #[test]
    fn a_changed_spec_registers_the_next_revision() {
        let old = td();
        let listed = vec![registered(&old, 1), registered(&old, 2)];
        let mut new = old.clone();
        new.spec.task_definition.container_definitions[0].image = Some("nginx:1.28".into());
        let plan = registration(&new, &listed, None).expect("a plan");
        assert_eq!((plan.latest, plan.owned.as_slice()), (3, &[1, 2, 3][..]));
        assert_eq!(plan.register.expect("a revision").revision, 3);
        // Reverting to an older spec is a new revision too, as in ECS.
        let mut reverted = listed.clone();
        reverted.push(registered(&new, 3));
        let plan = registration(&old, &reverted, None).expect("a plan");
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
        assert_eq!(registration(&new, &[], None).expect("a plan").latest, 8);
        // A revision left by an earlier object of the same name counts, but is not ours.
        let mut foreign = registered(&old, 9);
        foreign.metadata.owner_references = Some(vec![OwnerReference {
            uid: "uid-earlier".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let plan = registration(&new, &[foreign], None).expect("a plan");
        assert_eq!((plan.latest, plan.owned), (10, vec![10]));
        // Revision 2 deleted by hand and the spec reverted to revision 1's: still a new revision,
        // numbered after 2, never 2 again.
        let mut reverted = old.clone();
        reverted.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(2),
            ..Default::default()
        });
        let plan = registration(&reverted, &[registered(&old, 1)], None).expect("a plan");
        assert_eq!((plan.latest, plan.owned.as_slice()), (3, &[1, 3][..]));
        assert_eq!(next_revision(None, []), 1);
        assert_eq!(next_revision(Some(3), [1, 2]), 4);
        assert_eq!(next_revision(Some(2), [5]), 6);
    }

    #[test]
    fn a_number_given_to_this_object_and_never_registered_is_registered_again() {
        // The mark says 3 was given to this TaskDefinition, and neither a revision nor the
        // status has 3: the create after the mark failed, so 3 is registered, as in ECS.
        let old = td();
        let mut new = old.clone();
        new.spec.task_definition.cpu = Some("512".into());
        new.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(2),
            ..Default::default()
        });
        let listed = vec![registered(&old, 1), registered(&old, 2)];
        let ours = Mark {
            revision: 3,
            ours: true,
        };
        let plan = registration(&new, &listed, Some(ours)).expect("a plan");
        assert_eq!(plan.register.expect("a revision").revision, 3);
        // Given to another object of the family: never again.
        let theirs = Mark { ours: false, ..ours };
        let plan = registration(&new, &listed, Some(theirs)).expect("a plan");
        assert_eq!(plan.register.expect("a revision").revision, 4);
        // Registered (a revision or the status has it): the next one.
        let mut listed3 = listed.clone();
        listed3.push(registered(&old, 3));
        let plan = registration(&new, &listed3, Some(ours)).expect("a plan");
        assert_eq!(plan.register.expect("a revision").revision, 4);
        let mut stated = new.clone();
        stated.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(3),
            ..Default::default()
        });
        let plan = registration(&stated, &listed, Some(ours)).expect("a plan");
        assert_eq!(plan.register.expect("a revision").revision, 4);
    }

    #[test]
    fn an_object_without_uid_plans_nothing() {
        let mut td = td();
        td.metadata.uid = None;
        assert_eq!(registration(&td, &[], None), None);
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
