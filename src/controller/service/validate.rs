//! Validate (pure: no client, no clock): the Service and what [`load`](super::load) found →
//! a [`ValidatedService`] ready to build, or an [`Invalid`] that the status reports.
//!
//! Everything here is a permanent error: retrying cannot fix it, a change of the Service or of a
//! TaskDefinition can (and re-triggers the reconcile through the watches).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use super::load::Loaded;
use crate::{
    api::{Service, TaskDefinition},
    translate::reference::TaskDefinitionRef,
};

/// Reason: `spec.taskDefinition` names no TaskDefinition of the namespace.
pub const REASON_TASK_DEFINITION_NOT_FOUND: &str = "TaskDefinitionNotFound";
/// Reason: `spec.taskDefinition` is missing or is not `family`, `family:N` or a task definition ARN.
pub const REASON_INVALID_REFERENCE: &str = "InvalidTaskDefinitionReference";
/// Reason: the TaskDefinition cannot become a pod template.
pub const REASON_INVALID_TASK_DEFINITION: &str = "InvalidTaskDefinition";
/// Reason: the Service itself cannot be turned into Kubernetes objects (name, uid).
pub const REASON_INVALID_SERVICE: &str = "InvalidService";

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
    /// The TaskDefinition it names.
    pub task_definition: TaskDefinition,
    /// The revision that runs: the TaskDefinition's `status.revision`, 1 when unset.
    pub revision: i64,
}

impl ValidatedService {
    /// The family of the TaskDefinition: `spec.family`, else its object name.
    #[must_use]
    pub fn family(&self) -> String {
        family_of(&self.task_definition)
    }
}

/// The family a TaskDefinition object registers: `spec.family`, else `metadata.name`.
#[must_use]
pub fn family_of(td: &TaskDefinition) -> String {
    td.spec
        .task_definition
        .family
        .clone()
        .unwrap_or_else(|| td.name_any())
}

/// The latest revision of `td`: `status.revision`, 1 until the TaskDefinition controller
/// publishes one.
#[must_use]
pub fn revision_of(td: &TaskDefinition) -> i64 {
    td.status.as_ref().and_then(|s| s.revision).unwrap_or(1)
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

/// The TaskDefinition of `family` among `candidates`: the one whose family (`spec.family`, else
/// its name) is `family`, else the one named `family`.
///
/// # Errors
/// A message when several objects register `family` (there must be one object per family).
pub fn find_task_definition<'a>(
    candidates: &'a [TaskDefinition],
    family: &str,
) -> Result<Option<&'a TaskDefinition>, String> {
    let mut by_family: Vec<&TaskDefinition> =
        candidates.iter().filter(|td| family_of(td) == family).collect();
    match by_family.len() {
        0 => Ok(candidates.iter().find(|td| td.name_any() == family)),
        1 => Ok(by_family.pop()),
        _ => {
            let mut names: Vec<String> = by_family.iter().map(|td| td.name_any()).collect();
            names.sort();
            Err(format!(
                "TaskDefinitions {} all register family {family:?}; keep one object per family",
                names.join(", ")
            ))
        }
    }
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
    let reference = reference(svc)?;
    let value = svc.spec.service.task_definition.as_deref().unwrap_or_default();
    let namespace = svc.namespace().unwrap_or_default();
    let found = find_task_definition(&loaded.task_definitions, &reference.family).map_err(|e| Invalid {
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
    Ok(ValidatedService {
        service: svc.clone(),
        name,
        namespace,
        owner,
        revision: revision_of(td),
        task_definition: td.clone(),
        reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::testing;

    fn loaded(tds: Vec<TaskDefinition>) -> Loaded {
        Loaded {
            task_definitions: tds,
        }
    }

    #[test]
    fn resolves_family_pinned_revision_and_arn() {
        let tds = vec![testing::task_definition("team-a", "web", 1)];
        for value in [
            "web",
            "web:1",
            "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:1",
        ] {
            let svc = testing::service("team-a", "front", 2, value);
            let v = validate(&svc, &loaded(tds.clone())).expect(value);
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
    fn revision_comes_from_the_task_definition_status() {
        let mut td = testing::task_definition("team-a", "web", 1);
        td.status = Some(crate::api::TaskDefinitionStatus {
            revision: Some(4),
            ..Default::default()
        });
        let svc = testing::service("team-a", "web", 1, "web");
        assert_eq!(validate(&svc, &loaded(vec![td])).expect("valid").revision, 4);
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
            validate(&svc, &loaded(tds.clone()))
                .expect("valid")
                .task_definition
                .name_any(),
            "web-v2"
        );
        // Falls back to the object name when no family matches.
        let svc = testing::service("team-a", "web", 1, "web-v2");
        assert_eq!(
            validate(&svc, &loaded(tds))
                .expect("valid")
                .task_definition
                .name_any(),
            "web-v2"
        );
    }

    #[test]
    fn missing_task_definition_names_field_and_value() {
        let svc = testing::service("team-a", "web", 1, "web:3");
        let err = validate(&svc, &loaded(vec![testing::task_definition("team-a", "api", 1)]))
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
        let err = validate(&svc, &loaded(Vec::new())).expect_err("invalid");
        assert_eq!(err.reason, REASON_INVALID_REFERENCE);
        assert!(
            err.message.starts_with("spec.taskDefinition: \"web:latest\""),
            "{}",
            err.message
        );

        let mut svc = testing::service("team-a", "web", 1, "web");
        svc.spec.service.task_definition = None;
        let err = validate(&svc, &loaded(Vec::new())).expect_err("invalid");
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
        let err = validate(&svc, &loaded(vec![b, a])).expect_err("ambiguous");
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
            validate(&svc, &loaded(tds.clone())).expect_err("no uid").reason,
            REASON_INVALID_SERVICE
        );
        let svc = testing::service("team-a", &"w".repeat(64), 1, "web");
        let err = validate(&svc, &loaded(tds.clone())).expect_err("too long");
        assert_eq!(err.reason, REASON_INVALID_SERVICE);
        let svc = testing::service("team-a", &"w".repeat(63), 1, "web");
        assert!(validate(&svc, &loaded(tds)).is_ok());
    }
}
