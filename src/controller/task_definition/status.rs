//! Status of a TaskDefinition: [`compute_status`] (pure: no client, no clock) and the async
//! [`patch_status`] that writes it with server-side apply.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{
    Api, Resource,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::FIELD_MANAGER;
use crate::{
    api::{
        TaskDefinition, TaskDefinitionStatus,
        condition::{self, READY},
    },
    controller::Error,
};

/// ECS status of a registered task definition revision.
pub const ACTIVE: &str = "ACTIVE";
/// Reason of the `Ready=True` condition.
pub const REASON_REGISTERED: &str = "Registered";

/// The status `td` should have, starting from its current status (so that fields and conditions
/// this step does not compute are kept, and `lastTransitionTime` only moves on a flip).
///
/// `now` is the transition time of conditions whose status changes.
#[must_use]
pub fn compute_status(td: &TaskDefinition, now: Time) -> TaskDefinitionStatus {
    let generation = td.metadata.generation;
    let mut status = td.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    status.status = Some(ACTIVE.to_owned());
    condition::set(
        &mut status.conditions,
        condition::new(
            READY,
            true,
            REASON_REGISTERED,
            "The task definition family is registered.",
            generation,
            now,
        ),
    );
    status
}

/// Whether two statuses say the same thing, ignoring the conditions' transition times: when the
/// current status and the computed one agree, there is nothing to write.
#[must_use]
pub fn same_status(current: Option<&TaskDefinitionStatus>, desired: &TaskDefinitionStatus) -> bool {
    let Some(current) = current else {
        return false;
    };
    let without_conditions = |s: &TaskDefinitionStatus| TaskDefinitionStatus {
        conditions: Vec::new(),
        ..s.clone()
    };
    without_conditions(current) == without_conditions(desired)
        && condition::same_ignoring_time(&current.conditions, &desired.conditions)
}

/// The server-side apply body that sets `status` on a TaskDefinition.
#[must_use]
pub fn status_patch(status: &TaskDefinitionStatus) -> serde_json::Value {
    json!({
        "apiVersion": TaskDefinition::api_version(&()),
        "kind": TaskDefinition::kind(&()),
        "status": status,
    })
}

/// Writes `status` to the status subresource of TaskDefinition `name` with server-side apply
/// (field manager [`FIELD_MANAGER`], forced).
///
/// # Errors
///
/// [`Error::Kube`] when the API server refuses or cannot be reached.
pub async fn patch_status(
    api: &Api<TaskDefinition>,
    name: &str,
    status: &TaskDefinitionStatus,
) -> Result<(), Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(name, &params, &Patch::Apply(status_patch(status)))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use k8s_openapi::{
        apimachinery::pkg::apis::meta::v1::Condition,
        jiff::{SignedDuration, Timestamp},
    };

    use super::*;
    use crate::{api::condition::TRANSLATED, controller::testing};

    fn t(seconds: i64) -> Time {
        Time(Timestamp::from_second(1_700_000_000 + seconds).unwrap())
    }

    fn ready(status: &TaskDefinitionStatus) -> &Condition {
        condition::find(&status.conditions, READY).expect("a Ready condition")
    }

    #[test]
    fn new_object_gets_observed_generation_active_and_ready() {
        let td = testing::task_definition("team-a", "web", 3);
        let status = compute_status(&td, t(0));
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.status.as_deref(), Some("ACTIVE"));
        assert_eq!(status.conditions.len(), 1);
        let ready = ready(&status);
        assert_eq!(ready.status, "True");
        assert_eq!(ready.reason, "Registered");
        assert_eq!(ready.observed_generation, Some(3));
        assert_eq!(ready.last_transition_time, t(0));
        assert!(
            !same_status(td.status.as_ref(), &status),
            "no status yet: a patch is needed"
        );
    }

    #[test]
    fn observed_generation_follows_a_new_generation() {
        let mut td = testing::task_definition("team-a", "web", 3);
        td.status = Some(compute_status(&td, t(0)));
        td.metadata.generation = Some(4);
        let status = compute_status(&td, t(60));
        assert_eq!(status.observed_generation, Some(4));
        assert_eq!(ready(&status).observed_generation, Some(4));
        // Still True: the transition time stays.
        assert_eq!(ready(&status).last_transition_time, t(0));
        assert!(
            !same_status(td.status.as_ref(), &status),
            "generation moved: a patch is needed"
        );
    }

    #[test]
    fn unchanged_object_keeps_its_transition_time_and_needs_no_patch() {
        let mut td = testing::task_definition("team-a", "web", 3);
        td.status = Some(compute_status(&td, t(0)));
        let later = compute_status(&td, t(3600));
        assert_eq!(ready(&later).last_transition_time, t(0));
        assert_eq!(Some(&later), td.status.as_ref());
        assert!(same_status(td.status.as_ref(), &later));
    }

    #[test]
    fn differing_only_in_transition_time_needs_no_patch() {
        let td = testing::task_definition("team-a", "web", 3);
        let a = compute_status(&td, t(0));
        let b = compute_status(&td, t(10));
        assert_ne!(a, b);
        assert!(same_status(Some(&a), &b));
    }

    #[test]
    fn flip_from_false_moves_the_transition_time() {
        let mut td = testing::task_definition("team-a", "web", 3);
        let mut old = TaskDefinitionStatus::default();
        old.conditions
            .push(condition::new(READY, false, "Invalid", "bad spec", Some(2), t(0)));
        td.status = Some(old);
        let now = Time(t(0).0 + SignedDuration::from_secs(90));
        let status = compute_status(&td, now.clone());
        assert_eq!(ready(&status).status, "True");
        assert_eq!(ready(&status).last_transition_time, now);
        assert_eq!(status.conditions.len(), 1);
    }

    #[test]
    fn other_fields_and_conditions_are_kept() {
        let mut td = testing::task_definition("team-a", "web", 3);
        let translated = condition::new(TRANSLATED, true, "Translated", "", Some(3), t(0));
        td.status = Some(TaskDefinitionStatus {
            revision: Some(7),
            task_definition_arn: Some("web:7".into()),
            conditions: vec![translated.clone()],
            ..Default::default()
        });
        let status = compute_status(&td, t(5));
        assert_eq!(status.revision, Some(7));
        assert_eq!(status.task_definition_arn.as_deref(), Some("web:7"));
        assert_eq!(condition::find(&status.conditions, TRANSLATED), Some(&translated));
        assert_eq!(ready(&status).status, "True");
    }

    #[test]
    fn a_different_message_or_reason_needs_a_patch() {
        let td = testing::task_definition("team-a", "web", 3);
        let desired = compute_status(&td, t(0));
        let mut current = desired.clone();
        current.conditions[0].message = "something else".into();
        assert!(!same_status(Some(&current), &desired));
        let mut current = desired.clone();
        current.status = Some("INACTIVE".into());
        assert!(!same_status(Some(&current), &desired));
    }

    #[test]
    fn patch_body_has_api_version_kind_and_status() {
        let td = testing::task_definition("team-a", "web", 3);
        let body = status_patch(&compute_status(&td, t(0)));
        assert_eq!(body["apiVersion"], "ecsbridge.io/v1alpha1");
        assert_eq!(body["kind"], "TaskDefinition");
        assert_eq!(body["status"]["observedGeneration"], 3);
        assert_eq!(body["status"]["conditions"][0]["type"], "Ready");
        assert!(body.get("spec").is_none(), "a status patch must not touch spec");
    }
}
