//! Validate (pure: no client, no clock): a TaskDefinition → a [`Valid`] one whose revisions can
//! be registered, or the reason they cannot ([`Refused`], which the status reports).
//!
//! It needs nothing loaded, so it runs first: a name that cannot label the revisions could not
//! even select them. As RegisterTaskDefinition refuses what ECS cannot run, a spec that cannot
//! become a pod template (Fargate sizes ECS does not offer, a `dependsOn` cycle, containers
//! reserving more cpu than the task, ...) is refused: nothing is registered, and Services keep
//! running the last registered revision.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use crate::{
    api::TaskDefinition,
    controller::{revisions::MAX_NAME_LEN, status::REASON_INVALID_TASK_DEFINITION},
    translate::{Options, pod::pod_template_with},
};

/// Reason of `Ready=False` when the object's name cannot label its revisions.
pub const REASON_NAME_TOO_LONG: &str = "NameTooLong";
/// Reason of `Ready=False` when the object has no uid to own its revisions.
pub const REASON_MISSING_UID: &str = "MissingUid";

/// Why a TaskDefinition's spec cannot be registered: `Ready=False` with this reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// PascalCase condition reason.
    pub reason: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A TaskDefinition whose revisions can be registered.
#[derive(Debug, Clone)]
pub struct Valid {
    /// The object as reconciled.
    pub task_definition: TaskDefinition,
    /// `metadata.name` (it labels the revisions).
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.uid`: its revisions are controlled by it.
    pub uid: String,
    /// Its controller owner reference, for the objects it owns itself (the task role's
    /// ServiceAccount).
    pub owner: OwnerReference,
}

/// Validates `td` (in `namespace`), for an installation with `options`.
///
/// # Errors
/// [`REASON_NAME_TOO_LONG`] for a name longer than a label value; [`REASON_MISSING_UID`] for an
/// object that did not come from the API server; [`REASON_INVALID_TASK_DEFINITION`] for a spec
/// that cannot become a pod template, naming the field and the fix.
pub fn validate(td: &TaskDefinition, namespace: &str, options: &Options) -> Result<Valid, Refused> {
    let name = td.name_any();
    if name.len() > MAX_NAME_LEN {
        return Err(Refused {
            reason: REASON_NAME_TOO_LONG,
            message: format!(
                "metadata.name: {name:?} is longer than {MAX_NAME_LEN} characters, so it cannot label its \
                 revisions (ecsbridge.io/task-definition); use a shorter name and spec.family for the ECS \
                 family"
            ),
        });
    }
    let (Some(uid), Some(owner)) = (td.uid(), td.controller_owner_ref(&())) else {
        return Err(Refused {
            reason: REASON_MISSING_UID,
            message: "metadata.uid: required to own revisions; the object did not come from the API server"
                .to_owned(),
        });
    };
    // (The revision only labels the template; what cannot be translated does not depend on it.)
    let next = td.latest_revision() + 1;
    if let Err(e) = pod_template_with(&name, &td.spec.task_definition, next, Some(namespace), options) {
        return Err(Refused {
            reason: REASON_INVALID_TASK_DEFINITION,
            message: format!(
                "{e}. Nothing was registered; fix the field and apply again. Services keep running \
                 the last registered revision."
            ),
        });
    }
    Ok(Valid {
        task_definition: td.clone(),
        name,
        namespace: namespace.to_owned(),
        uid,
        owner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::testing;

    #[test]
    fn a_name_that_cannot_label_revisions_or_a_missing_uid_is_refused() {
        let td = testing::task_definition("team-a", &"w".repeat(64), 1);
        assert_eq!(
            validate(&td, "team-a", &Options::default())
                .expect_err("too long")
                .reason,
            REASON_NAME_TOO_LONG
        );
        let mut td = testing::task_definition("team-a", "web", 1);
        td.metadata.uid = None;
        assert_eq!(
            validate(&td, "team-a", &Options::default())
                .expect_err("no uid")
                .reason,
            REASON_MISSING_UID
        );
        let valid = validate(
            &testing::task_definition("team-a", &"w".repeat(63), 1),
            "team-a",
            &Options::default(),
        )
        .expect("valid");
        assert_eq!(valid.owner.controller, Some(true));
        assert_eq!(valid.namespace, "team-a");
    }

    /// What ECS's RegisterTaskDefinition refuses is refused here, naming the field: Fargate cpu
    /// 3072 (not a size Fargate offers), a `dependsOn` cycle, containers reserving more cpu than
    /// the task has.
    #[test]
    fn a_spec_that_cannot_run_is_refused_naming_the_field() {
        let corpus = [
            (
                serde_json::json!({"family": "big", "requiresCompatibilities": ["FARGATE"],
                    "networkMode": "awsvpc", "cpu": "3072", "memory": "8192",
                    "containerDefinitions": [{"name": "app", "image": "nginx"}]}),
                "spec.cpu",
            ),
            (
                serde_json::json!({"family": "cycle", "containerDefinitions": [
                    {"name": "a", "image": "nginx", "dependsOn": [{"containerName": "b", "condition": "START"}]},
                    {"name": "b", "image": "nginx", "dependsOn": [{"containerName": "a", "condition": "START"}]}]}),
                "spec.containerDefinitions: dependsOn forms a cycle",
            ),
            (
                serde_json::json!({"family": "sum", "cpu": "256", "memory": "512",
                    "containerDefinitions": [{"name": "a", "image": "nginx", "cpu": 200},
                        {"name": "b", "image": "nginx", "cpu": 200}]}),
                "spec.cpu: the containers' cpu add up to 400",
            ),
        ];
        for (spec, field) in corpus {
            let mut td = testing::task_definition("team-a", "web", 1);
            td.spec.task_definition = serde_json::from_value(spec.clone()).expect("a task definition");
            let refused = validate(&td, "team-a", &Options::default()).expect_err(&spec.to_string());
            assert_eq!(refused.reason, REASON_INVALID_TASK_DEFINITION, "{spec}");
            assert!(refused.message.starts_with(field), "{field}: {}", refused.message);
            assert!(
                refused.message.contains("Nothing was registered"),
                "{}",
                refused.message
            );
        }
    }
}
