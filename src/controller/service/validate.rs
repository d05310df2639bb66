//! Validate (pure: no client, no clock): the Service and what [`load`](super::load) found →
//! a [`ValidatedService`] ready to build, or an [`Invalid`] that the status reports.
//!
//! Everything here is a permanent error: retrying cannot fix it, a change of the Service or of a
//! TaskDefinition can (and re-triggers the reconcile through the watches).

use k8s_openapi::{api::apps::v1::ControllerRevision, apimachinery::pkg::apis::meta::v1::OwnerReference};
use kube::{Resource, ResourceExt};

use super::load::Loaded;
use crate::{
    api::{Service, TaskDefinition, ecs::RegisterTaskDefinition},
    controller::{revisions, status::REASON_INVALID_TASK_DEFINITION},
    translate::{
        capacity::{
            cluster::{ClusterCapacity, Resolved, resolve},
            provider::{Provider, StrategySource},
        },
        reference::TaskDefinitionRef,
    },
};

/// Reason: `spec.taskDefinition` names no TaskDefinition of the namespace, or pins a revision
/// that is not registered.
pub const REASON_TASK_DEFINITION_NOT_FOUND: &str = "TaskDefinitionNotFound";
/// Reason: the TaskDefinition `spec.taskDefinition` names has no registered revision, because
/// its spec was refused (its own `Ready` condition says why).
pub const REASON_TASK_DEFINITION_NOT_REGISTERED: &str = "TaskDefinitionNotRegistered";
/// Reason: the TaskDefinition `spec.taskDefinition` names has not registered its first revision
/// yet (it is being reconciled): a wait, not an error.
pub const REASON_WAITING_FOR_TASK_DEFINITION: &str = "WaitingForTaskDefinition";
/// Reason: `spec.taskDefinition` is missing or is not `family`, `family:N` or a task definition ARN.
pub const REASON_INVALID_REFERENCE: &str = "InvalidTaskDefinitionReference";
/// Reason: the Service itself cannot be turned into Kubernetes objects (name, uid).
pub const REASON_INVALID_SERVICE: &str = "InvalidService";
/// Reason: the capacity provider strategy breaks one of ECS's rules (or its cluster's
/// annotations do not parse).
pub const REASON_INVALID_CAPACITY_PROVIDER_STRATEGY: &str = "InvalidCapacityProviderStrategy";

/// Longest Service name: it is the value of the `ecsbridge.io/service` label, which is at most
/// 63 characters.
pub const MAX_NAME_LEN: usize = 63;

/// Why a Service cannot be reconciled into a workload: a condition reason and a message for users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// PascalCase condition reason, e.g. [`REASON_TASK_DEFINITION_NOT_FOUND`].
    pub reason: &'static str,
    /// What is wrong and how to fix it, naming the field.
    pub message: String,
}

/// A Service whose references resolved: everything [`build`](super::build::build) needs.
#[derive(Debug, Clone)]
pub struct ValidatedService {
    /// The Service (spec and metadata as reconciled).
    pub service: Service,
    /// `metadata.name` of the Service.
    pub name: String,
    /// `metadata.namespace` of the Service.
    pub namespace: String,
    /// The Service's controller owner reference (`controller` and `blockOwnerDeletion` true).
    pub owner: OwnerReference,
    /// The parsed `spec.taskDefinition`.
    pub reference: TaskDefinitionRef,
    /// The TaskDefinition it names, with the spec stored in the revision it runs (never the live
    /// spec, which may not be registered yet).
    pub task_definition: TaskDefinition,
    /// The revision the Service asks for: the pinned one, else the TaskDefinition's
    /// `status.revision` (the latest registered).
    pub revision: i64,
    /// The revision the circuit breaker rolls back to, when [`super::load`] read one.
    pub rollback: Option<Rollback>,
    /// The capacity provider strategy it runs with, with its providers, when it has one.
    pub strategy: Option<Resolved>,
}

/// The revision the circuit breaker rolls back to: its number and its stored spec, or why it
/// cannot be run.
#[derive(Debug, Clone)]
pub struct Rollback {
    /// The revision number.
    pub revision: i64,
    /// Its stored spec; an error when retention removed it or its data is not a task definition.
    pub spec: Result<RegisterTaskDefinition, Invalid>,
}

impl ValidatedService {
    /// The family of the TaskDefinition: `spec.family`, else its object name.
    #[must_use]
    pub fn family(&self) -> String {
        self.task_definition.family()
    }

    /// The task definition the Service asks for, `family:revision`.
    #[must_use]
    pub fn resolved(&self) -> String {
        format!("{}:{}", self.family(), self.revision)
    }
}

/// `td` with the spec of its revision `revision` ([`pinned_spec`]).
///
/// # Errors
/// [`pinned_spec`]'s.
pub fn pinned_task_definition(
    td: &TaskDefinition,
    revision: i64,
    stored: Option<&ControllerRevision>,
    value: &str,
) -> Result<TaskDefinition, Invalid> {
    let spec = pinned_spec(td, revision, stored, value)?;
    let mut pinned = td.clone();
    pinned.spec.task_definition = spec;
    Ok(pinned)
}

/// The spec of `td`'s revision `revision`, read from `stored` (the ControllerRevision
/// [`load`](super::load) found); `value` is `spec.taskDefinition`, for messages.
///
/// # Errors
/// [`REASON_TASK_DEFINITION_NOT_FOUND`] naming `family:N` when `td` owns no such revision;
/// [`REASON_INVALID_TASK_DEFINITION`] when the stored data is not a task definition.
pub fn pinned_spec(
    td: &TaskDefinition,
    revision: i64,
    stored: Option<&ControllerRevision>,
    value: &str,
) -> Result<RegisterTaskDefinition, Invalid> {
    let uid = td.uid().unwrap_or_default();
    let Some(cr) = stored.filter(|cr| cr.revision == revision && revisions::controlled_by(cr, &uid)) else {
        let retained = td
            .status
            .as_ref()
            .map(|s| s.revisions.as_slice())
            .unwrap_or_default();
        let known = if retained.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = retained.iter().map(ToString::to_string).collect();
            format!("; registered revisions: {}", list.join(", "))
        };
        return Err(Invalid {
            reason: REASON_TASK_DEFINITION_NOT_FOUND,
            message: format!(
                "spec.taskDefinition {value:?}: revision {}:{revision} of TaskDefinition {:?} is not \
                 registered{known}",
                td.family(),
                td.name_any()
            ),
        });
    };
    revisions::stored_spec(cr).map_err(|e| Invalid {
        reason: REASON_INVALID_TASK_DEFINITION,
        message: format!("spec.taskDefinition {value:?}: {e}"),
    })
}

/// Why a Service naming `td` by family (`value`) cannot run yet: `td` has registered no revision.
/// When `td`'s `Ready` condition is False (its spec was refused), its message says why.
fn not_registered(td: &TaskDefinition, value: &str) -> Invalid {
    let refused = td
        .status
        .as_ref()
        .and_then(|s| crate::api::condition::find(&s.conditions, crate::api::condition::READY))
        .filter(|c| c.status == "False");
    let (reason, refused) = match refused {
        Some(c) => (REASON_TASK_DEFINITION_NOT_REGISTERED, format!(": {}", c.message)),
        None => (REASON_WAITING_FOR_TASK_DEFINITION, String::new()),
    };
    Invalid {
        reason,
        message: format!(
            "spec.taskDefinition {value:?}: TaskDefinition {:?} has no registered revision yet{refused}; \
             the Service runs once one is registered",
            td.name_any()
        ),
    }
}

/// Parses `spec.taskDefinition`.
///
/// # Errors
/// [`REASON_INVALID_REFERENCE`] when it is missing or malformed; the message names the field and
/// the value.
pub fn reference(svc: &Service) -> Result<TaskDefinitionRef, Invalid> {
    let Some(value) = svc.spec.service.task_definition.as_deref() else {
        return Err(Invalid {
            reason: REASON_INVALID_REFERENCE,
            message: "spec.taskDefinition: required: name a task definition (family, family:revision or ARN)"
                .to_owned(),
        });
    };
    TaskDefinitionRef::parse(value).map_err(|e| Invalid {
        reason: REASON_INVALID_REFERENCE,
        message: format!("spec.taskDefinition: {e}"),
    })
}

/// Validates `svc` against what was loaded.
///
/// # Errors
/// [`Invalid`] with the reason the `Ready` condition shows: a bad reference, a TaskDefinition
/// that does not exist, or a Service that cannot own children (no uid, name too long for a label).
pub fn validate(svc: &Service, loaded: &Loaded) -> Result<ValidatedService, Invalid> {
    let name = svc.name_any();
    if name.len() > MAX_NAME_LEN {
        return Err(Invalid {
            reason: REASON_INVALID_SERVICE,
            message: format!(
                "metadata.name: {name:?} is longer than {MAX_NAME_LEN} characters, so it cannot be the \
                 value of the ecsbridge.io/service label; use a shorter name"
            ),
        });
    }
    let Some(mut owner) = svc.controller_owner_ref(&()) else {
        return Err(Invalid {
            reason: REASON_INVALID_SERVICE,
            message:
                "metadata.uid: required to own the Deployment; the object did not come from the API server"
                    .to_owned(),
        });
    };
    owner.block_owner_deletion = Some(true);
    let strategy = strategy(svc, loaded)?;
    let reference = reference(svc)?;
    let value = svc.spec.service.task_definition.as_deref().unwrap_or_default();
    let namespace = svc.namespace().unwrap_or_default();
    let found =
        TaskDefinition::of_family(&loaded.task_definitions, &reference.family).map_err(|e| Invalid {
            reason: REASON_INVALID_REFERENCE,
            message: format!("spec.taskDefinition {value:?}: {e}"),
        })?;
    let Some(td) = found else {
        return Err(Invalid {
            reason: REASON_TASK_DEFINITION_NOT_FOUND,
            message: format!(
                "spec.taskDefinition {value:?}: no TaskDefinition of family {:?} in namespace {namespace:?}",
                reference.family
            ),
        });
    };
    let Some(revision) = super::load::asked_revision(&reference, td) else {
        return Err(not_registered(td, value));
    };
    let task_definition = pinned_task_definition(td, revision, loaded.revision.as_ref(), value)?;
    let rollback = loaded
        .rollback_revision
        .as_ref()
        .map(|(revision, stored)| Rollback {
            revision: *revision,
            spec: pinned_spec(td, *revision, stored.as_ref(), value),
        });
    Ok(ValidatedService {
        service: svc.clone(),
        name,
        namespace,
        owner,
        revision,
        task_definition,
        reference,
        rollback,
        strategy,
    })
}

/// The capacity provider strategy `svc` runs with ([`resolve`]): its own, its launch type's,
/// the one its status recorded, or its namespace's default; checked against the loaded
/// CapacityProviders.
///
/// # Errors
/// [`REASON_INVALID_CAPACITY_PROVIDER_STRATEGY`] naming the field and the fix.
pub fn strategy(svc: &Service, loaded: &Loaded) -> Result<Option<Resolved>, Invalid> {
    let invalid = |e: crate::translate::capacity::StrategyError| Invalid {
        reason: REASON_INVALID_CAPACITY_PROVIDER_STRATEGY,
        message: e.in_service(),
    };
    let cluster = ClusterCapacity::from_annotations(
        loaded
            .namespace
            .as_ref()
            .and_then(|n| n.metadata.annotations.as_ref()),
    )
    .map_err(invalid)?;
    // (Only a strategy that came from the cluster's default is kept: one of the Service's own
    // goes with it.)
    let recorded = svc
        .status
        .as_ref()
        .filter(|s| {
            s.capacity_provider_strategy_source.as_deref() == Some(StrategySource::ClusterDefault.as_str())
        })
        .map(|s| s.capacity_provider_strategy.as_slice())
        .filter(|r| !r.is_empty());
    // A provider being deleted (DEPROVISIONING, held while Services use it) takes no new
    // Service, and keeps running the tasks of those that used it already.
    let used = |name: &str| {
        svc.status.as_ref().is_some_and(|s| {
            s.capacity_provider_strategy
                .iter()
                .any(|i| i.capacity_provider == name)
        })
    };
    resolve(&svc.spec, recorded, &cluster, |name| {
        loaded
            .capacity_providers
            .iter()
            .find(|cp| cp.ecs_name() == name)
            .map(|cp| {
                (
                    Provider::of(cp),
                    cp.meta().deletion_timestamp.is_none() || used(name),
                )
            })
    })
    .map_err(invalid)
}

/// `svc` validated against the one TaskDefinition `td` (nothing else loaded), for tests of the
/// steps after validate: `td`'s live spec is stored as the revision `svc` asks for (the pinned
/// one, else `status.revision`, registered as 1 when unset).
///
/// # Panics
/// When `svc` is invalid against `td`.
#[cfg(test)]
pub fn validated(svc: &Service, td: TaskDefinition) -> ValidatedService {
    let asked = reference(svc).ok().and_then(|r| r.revision);
    let revision = asked
        .or_else(|| td.status.as_ref().and_then(|s| s.revision))
        .unwrap_or(1);
    let td = crate::controller::testing::registered(td, revision);
    let loaded = Loaded {
        revision: Some(crate::controller::revisions::registered_as(&td, revision).expect("a uid")),
        task_definitions: vec![td],
        ..Loaded::default()
    };
    validate(svc, &loaded).expect("valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::testing;

    /// What load reads for `svc` when each of `tds` has registered its live spec as its
    /// `status.revision` (as 1 when unset): the stored revision `svc` asks for, when registered.
    fn loaded(svc: &Service, tds: Vec<TaskDefinition>) -> Loaded {
        let tds: Vec<TaskDefinition> = tds
            .into_iter()
            .map(|td| {
                let n = td.status.as_ref().and_then(|s| s.revision).unwrap_or(1);
                testing::registered(td, n)
            })
            .collect();
        let revision = reference(svc).ok().and_then(|r| {
            let td = TaskDefinition::of_family(&tds, &r.family).ok()??;
            let n = super::super::load::asked_revision(&r, td)?;
            let registered = td.status.as_ref().is_some_and(|s| s.revisions.contains(&n));
            registered.then(|| crate::controller::revisions::registered_as(td, n).expect("a uid"))
        });
        Loaded {
            task_definitions: tds,
            revision,
            ..Loaded::default()
        }
    }

    fn stored(td: &TaskDefinition, revision: i64) -> ControllerRevision {
        crate::controller::revisions::registered_as(td, revision).expect("a uid")
    }

    fn web_td(image: &str) -> TaskDefinition {
        testing::with_container(testing::task_definition("team-a", "web", 1), "app", image)
    }

    #[test]
    fn resolves_family_pinned_revision_and_arn() {
        let td = web_td("nginx:1.27");
        for value in [
            "web",
            "web:1",
            "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:1",
        ] {
            let svc = testing::service("team-a", "front", 2, value);
            let v = validate(&svc, &loaded(&svc, vec![td.clone()])).expect(value);
            assert_eq!(v.task_definition.name_any(), "web", "{value}");
            assert_eq!(v.revision, 1);
            assert_eq!(v.family(), "web");
            assert_eq!(v.owner.controller, Some(true));
            assert_eq!(v.owner.block_owner_deletion, Some(true));
            assert_eq!(v.owner.uid, "uid-team-a-front");
            assert_eq!(v.owner.kind, "Service");
        }
    }

    #[test]
    fn a_pinned_revision_runs_its_stored_spec_not_the_live_one() {
        let old = web_td("nginx:1.27");
        let mut live = web_td("nginx:1.28");
        live.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(2),
            revisions: vec![1, 2],
            ..Default::default()
        });
        let svc = testing::service("team-a", "front", 1, "web:1");
        let v = validate(
            &svc,
            &Loaded {
                task_definitions: vec![live.clone()],
                revision: Some(stored(&old, 1)),
                ..Loaded::default()
            },
        )
        .expect("valid");
        assert_eq!(v.revision, 1);
        assert_eq!(
            v.task_definition.spec.task_definition.container_definitions[0]
                .image
                .as_deref(),
            Some("nginx:1.27")
        );
        // The family alone runs the latest registered revision's stored spec, never the live
        // spec: here the object was edited (1.29) and the edit is not registered yet.
        let mut edited = web_td("nginx:1.29");
        edited.status = live.status.clone();
        let svc = testing::service("team-a", "front", 1, "web");
        let v = validate(
            &svc,
            &Loaded {
                task_definitions: vec![edited],
                revision: Some(stored(&live, 2)),
                ..Loaded::default()
            },
        )
        .expect("valid");
        assert_eq!(v.revision, 2);
        assert_eq!(
            v.task_definition.spec.task_definition.container_definitions[0]
                .image
                .as_deref(),
            Some("nginx:1.28")
        );
    }

    #[test]
    fn a_task_definition_without_a_registered_revision_is_not_run() {
        let mut td = web_td("nginx:1.27");
        let svc = testing::service("team-a", "front", 1, "web");
        let unregistered = Loaded {
            task_definitions: vec![td.clone()],
            ..Loaded::default()
        };
        let err = validate(&svc, &unregistered).expect_err("nothing registered");
        assert_eq!(err.reason, REASON_WAITING_FOR_TASK_DEFINITION);
        assert_eq!(
            err.message,
            "spec.taskDefinition \"web\": TaskDefinition \"web\" has no registered revision yet; the \
             Service runs once one is registered"
        );
        // Refused: the TaskDefinition's own Ready message says why.
        td.status = Some(crate::api::TaskDefinitionStatus {
            conditions: vec![crate::api::condition::new(
                crate::api::condition::READY,
                false,
                "InvalidTaskDefinition",
                "containerDefinitions[0].cpu: too big",
                Some(1),
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                ),
            )],
            ..Default::default()
        });
        let refused = Loaded {
            task_definitions: vec![td],
            ..Loaded::default()
        };
        let err = validate(&svc, &refused).expect_err("nothing registered");
        assert_eq!(err.reason, REASON_TASK_DEFINITION_NOT_REGISTERED);
        assert!(
            err.message
                .contains("has no registered revision yet: containerDefinitions[0].cpu: too big;"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_pinned_revision_that_does_not_exist_is_not_found() {
        let mut td = web_td("nginx:1.27");
        td.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(2),
            revisions: vec![1, 2],
            ..Default::default()
        });
        let svc = testing::service("team-a", "front", 1, "web:7");
        let err = validate(&svc, &loaded(&svc, vec![td.clone()])).expect_err("not registered");
        assert_eq!(err.reason, REASON_TASK_DEFINITION_NOT_FOUND);
        assert_eq!(
            err.message,
            "spec.taskDefinition \"web:7\": revision web:7 of TaskDefinition \"web\" is not registered; \
             registered revisions: 1, 2"
        );
        // A ControllerRevision of another revision, or owned by another object, does not count.
        let mut foreign = stored(&td, 7);
        foreign.metadata.owner_references.as_mut().expect("owners")[0].uid = "uid-other".into();
        for wrong in [stored(&td, 6), foreign] {
            let loaded = Loaded {
                task_definitions: vec![td.clone()],
                revision: Some(wrong),
                ..Loaded::default()
            };
            let err = validate(&svc, &loaded).expect_err("not registered");
            assert_eq!(err.reason, REASON_TASK_DEFINITION_NOT_FOUND);
            assert!(err.message.contains("web:7"), "{}", err.message);
        }
        // Stored data that is not a task definition is an invalid task definition.
        let mut broken = stored(&td, 7);
        broken.data = Some(k8s_openapi::apimachinery::pkg::runtime::RawExtension(
            serde_json::json!({"containerDefinitions": "nope"}),
        ));
        let loaded = Loaded {
            task_definitions: vec![td],
            revision: Some(broken),
            ..Loaded::default()
        };
        let err = validate(&svc, &loaded).expect_err("broken data");
        assert_eq!(err.reason, REASON_INVALID_TASK_DEFINITION);
        assert!(err.message.contains("web-7"), "{}", err.message);
    }

    #[test]
    fn revision_comes_from_the_task_definition_status() {
        let mut td = testing::task_definition("team-a", "web", 1);
        td.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(4),
            ..Default::default()
        });
        let svc = testing::service("team-a", "web", 1, "web");
        assert_eq!(
            validate(&svc, &loaded(&svc, vec![td])).expect("valid").revision,
            4
        );
    }

    #[test]
    fn spec_family_wins_over_object_name() {
        // Object "web" registers family "legacy"; object "web-v2" registers family "web".
        let mut legacy = testing::task_definition("team-a", "web", 1);
        legacy.spec.task_definition.family = Some("legacy".into());
        let mut current = testing::task_definition("team-a", "web-v2", 1);
        current.spec.task_definition.family = Some("web".into());
        let tds = vec![legacy, current];
        let svc = testing::service("team-a", "web", 1, "web");
        assert_eq!(
            validate(&svc, &loaded(&svc, tds.clone()))
                .expect("valid")
                .task_definition
                .name_any(),
            "web-v2"
        );
        // Falls back to the object name when no family matches.
        let svc = testing::service("team-a", "web", 1, "web-v2");
        assert_eq!(
            validate(&svc, &loaded(&svc, tds))
                .expect("valid")
                .task_definition
                .name_any(),
            "web-v2"
        );
    }

    #[test]
    fn missing_task_definition_names_field_and_value() {
        let svc = testing::service("team-a", "web", 1, "web:3");
        let err = validate(
            &svc,
            &loaded(&svc, vec![testing::task_definition("team-a", "api", 1)]),
        )
        .expect_err("not found");
        assert_eq!(err.reason, REASON_TASK_DEFINITION_NOT_FOUND);
        assert_eq!(
            err.message,
            "spec.taskDefinition \"web:3\": no TaskDefinition of family \"web\" in namespace \"team-a\""
        );
    }

    #[test]
    fn bad_or_missing_reference_is_invalid() {
        let svc = testing::service("team-a", "web", 1, "web:latest");
        let err = validate(&svc, &loaded(&svc, Vec::new())).expect_err("invalid");
        assert_eq!(err.reason, REASON_INVALID_REFERENCE);
        assert!(
            err.message.starts_with("spec.taskDefinition: \"web:latest\""),
            "{}",
            err.message
        );

        let mut svc = testing::service("team-a", "web", 1, "web");
        svc.spec.service.task_definition = None;
        let err = validate(&svc, &loaded(&svc, Vec::new())).expect_err("invalid");
        assert_eq!(err.reason, REASON_INVALID_REFERENCE);
        assert!(
            err.message.contains("spec.taskDefinition: required"),
            "{}",
            err.message
        );
    }

    #[test]
    fn two_objects_of_one_family_are_ambiguous() {
        let mut a = testing::task_definition("team-a", "a", 1);
        a.spec.task_definition.family = Some("web".into());
        let mut b = testing::task_definition("team-a", "b", 1);
        b.spec.task_definition.family = Some("web".into());
        let svc = testing::service("team-a", "web", 1, "web");
        let err = validate(&svc, &loaded(&svc, vec![b, a])).expect_err("ambiguous");
        assert_eq!(err.reason, REASON_INVALID_REFERENCE);
        assert!(
            err.message
                .contains("TaskDefinitions a, b all register family \"web\""),
            "{}",
            err.message
        );
    }

    #[test]
    fn service_without_uid_or_with_a_long_name_is_invalid() {
        let tds = vec![testing::task_definition("team-a", "web", 1)];
        let mut svc = testing::service("team-a", "web", 1, "web");
        svc.metadata.uid = None;
        assert_eq!(
            validate(&svc, &loaded(&svc, tds.clone()))
                .expect_err("no uid")
                .reason,
            REASON_INVALID_SERVICE
        );
        let svc = testing::service("team-a", &"w".repeat(64), 1, "web");
        let err = validate(&svc, &loaded(&svc, tds.clone())).expect_err("too long");
        assert_eq!(err.reason, REASON_INVALID_SERVICE);
        let svc = testing::service("team-a", &"w".repeat(63), 1, "web");
        assert!(validate(&svc, &loaded(&svc, tds)).is_ok());
    }
}
