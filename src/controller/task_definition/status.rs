//! Status of a TaskDefinition: [`compute_status`] (pure: no client, no clock) and the async
//! [`update`] that writes it with server-side apply when it changed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
};

use super::{FIELD_MANAGER, apply::Missing, decide::Plan, validate::Refused};
use crate::{
    api::{
        TaskDefinition, TaskDefinitionStatus,
        condition::{self, DEGRADED, READY, TRANSLATED},
    },
    controller::{
        Context, Error,
        status::{MAX_MESSAGE_LEN, REASON_INVALID_TASK_DEFINITION, cut, same_status, translated_condition},
    },
    translate::{Options, pod::pod_template_with},
};

/// ECS status of a registered task definition revision.
pub const ACTIVE: &str = "ACTIVE";
/// Reason of the `Ready=True` condition.
pub const REASON_REGISTERED: &str = "Registered";

/// Reason of `Degraded=True` when objects the tasks need could not be made.
pub const REASON_DEPENDENTS_NOT_APPLIED: &str = "DependentsNotApplied";

/// What the reconcile did about revisions, for [`compute_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The spec is registered as revision `latest`; `retained` are the revisions kept
    /// (ascending, `latest` included).
    Registered {
        /// The latest revision.
        latest: i64,
        /// The retained revisions, ascending.
        retained: Vec<i64>,
    },
    /// The spec cannot be registered; `Ready=False` with this reason and message.
    Refused {
        /// PascalCase condition reason.
        reason: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// The status `td` should have after `registration`, starting from its current status (so that
/// fields and conditions this step does not compute are kept, and `lastTransitionTime` only
/// moves on a flip).
///
/// `now` is the transition time of conditions whose status changes.
#[must_use]
pub fn compute_status(td: &TaskDefinition, registration: &Registration, now: Time) -> TaskDefinitionStatus {
    compute_status_with(td, registration, &Options::default(), None, now)
}

/// [`compute_status`] with the operator's translation options (`--external-secrets` changes
/// what the `Translated` condition says about secrets) and `missing`: when some of the objects
/// the tasks need could not be made (their kind is not served), `Degraded=True` says why.
#[must_use]
pub fn compute_status_with(
    td: &TaskDefinition,
    registration: &Registration,
    options: &Options,
    missing: Option<&str>,
    now: Time,
) -> TaskDefinitionStatus {
    let generation = td.metadata.generation;
    let mut status = td.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    let ready = match registration {
        Registration::Registered { latest, retained } => {
            let arn = format!("{}:{latest}", td.family());
            status.revision = Some(*latest);
            status.status = Some(ACTIVE.to_owned());
            status.revisions.clone_from(retained);
            let ready = match missing {
                // Why: Ready=True would tell a user (and Argo CD) all is well while the tasks
                // cannot start; the user must install what is missing.
                Some(message) => condition::new(
                    READY,
                    false,
                    REASON_DEPENDENTS_NOT_APPLIED,
                    cut(
                        &format!("Revision {arn} is registered, but its tasks cannot start: {message}"),
                        MAX_MESSAGE_LEN,
                    ),
                    generation,
                    now.clone(),
                ),
                None => condition::new(
                    READY,
                    true,
                    REASON_REGISTERED,
                    format!("Revision {arn} is registered."),
                    generation,
                    now.clone(),
                ),
            };
            status.task_definition_arn = Some(arn);
            ready
        }
        Registration::Refused { reason, message } => {
            condition::new(READY, false, reason, message.clone(), generation, now.clone())
        }
    };
    let revision = status.revision.unwrap_or(1);
    let degraded = match (registration, missing) {
        (Registration::Refused { reason, message }, _) => Some((*reason, message.clone())),
        (Registration::Registered { .. }, Some(message)) => {
            Some((REASON_DEPENDENTS_NOT_APPLIED, cut(message, MAX_MESSAGE_LEN)))
        }
        (Registration::Registered { .. }, None) => None,
    };
    condition::set(&mut status.conditions, ready);
    match degraded {
        Some((reason, message)) => condition::set(
            &mut status.conditions,
            condition::new(DEGRADED, true, reason, message, generation, now.clone()),
        ),
        None => status.conditions.retain(|c| c.type_ != DEGRADED),
    }
    condition::set(
        &mut status.conditions,
        translated_with(td, revision, options, generation, now),
    );
    let (health, reason) = condition::health(&status.conditions);
    status.health = Some(health.to_owned());
    status.health_reason = Some(reason);
    status
}

/// The `Translated` condition of `td`'s spec at `revision`: True when every field set has a
/// Kubernetes equivalent, False with the notes (cut to a readable length) otherwise, False with
/// the error when the spec cannot become a pod template at all.
#[must_use]
pub fn translated(td: &TaskDefinition, revision: i64, generation: Option<i64>, now: Time) -> Condition {
    translated_with(td, revision, &Options::default(), generation, now)
}

/// [`translated`] with the operator's translation options.
#[must_use]
pub fn translated_with(
    td: &TaskDefinition,
    revision: i64,
    options: &Options,
    generation: Option<i64>,
    now: Time,
) -> Condition {
    let namespace = td.namespace();
    match pod_template_with(
        &td.name_any(),
        &td.spec.task_definition,
        revision,
        namespace.as_deref(),
        options,
    ) {
        Ok(pod) => {
            let notes: Vec<String> = pod.report.notes.iter().map(ToString::to_string).collect();
            translated_condition(&notes, generation, now)
        }
        Err(e) => condition::new(
            TRANSLATED,
            false,
            REASON_INVALID_TASK_DEFINITION,
            cut(
                &format!("The spec cannot become a pod template: {e}"),
                MAX_MESSAGE_LEN,
            ),
            generation,
            now,
        ),
    }
}

impl Registration {
    /// The registration `plan` carries out.
    #[must_use]
    pub fn registered(plan: &Plan) -> Self {
        Self::Registered {
            latest: plan.latest,
            retained: plan.revisions.clone(),
        }
    }

    /// A registration refused for the reason `validate` gave.
    #[must_use]
    pub fn refused(refused: Refused) -> Self {
        Self::Refused {
            reason: refused.reason,
            message: refused.message,
        }
    }
}

/// Computes the status of `td` after `registration`, with the dependents that are `missing`,
/// and writes it when it changed (`now` is the transition time of conditions that flip).
///
/// # Errors
/// [`Error::Kube`] when the status write fails.
pub async fn update(
    ctx: &Context,
    td: &TaskDefinition,
    namespace: &str,
    registration: &Registration,
    missing: &[Missing],
    now: Time,
) -> Result<(), Error> {
    let problem = (!missing.is_empty()).then(|| {
        missing
            .iter()
            .map(|m| m.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    });
    let desired = compute_status_with(td, registration, &ctx.config.options, problem.as_deref(), now);
    if same_status(td.status.as_ref(), &desired) {
        tracing::debug!("status up to date");
        return Ok(());
    }
    let api: Api<TaskDefinition> = Api::namespaced(ctx.client.clone(), namespace);
    patch_status(&api, &td.name_any(), &desired).await?;
    tracing::info!(
        generation = desired.observed_generation,
        revision = desired.revision,
        "status updated"
    );
    if let Some(degraded) = newly_degraded(td.status.as_ref(), &desired) {
        publish_warning(ctx, td, degraded).await;
    }
    Ok(())
}

/// The `Degraded=True` condition of `after` when `before` did not say the same (no Degraded, or
/// another reason or message): each new trouble is told once as a Warning Event.
#[must_use]
pub fn newly_degraded<'a>(
    before: Option<&TaskDefinitionStatus>,
    after: &'a TaskDefinitionStatus,
) -> Option<&'a Condition> {
    let degraded = |s: &TaskDefinitionStatus| {
        condition::find(&s.conditions, DEGRADED)
            .filter(|c| c.status == "True")
            .cloned()
    };
    let now = condition::find(&after.conditions, DEGRADED).filter(|c| c.status == "True")?;
    let same = before
        .and_then(degraded)
        .is_some_and(|was| was.reason == now.reason && was.message == now.message);
    (!same).then_some(now)
}

/// Publishes `degraded` as a Warning Event about `td` (reason and message of the condition).
async fn publish_warning(ctx: &Context, td: &TaskDefinition, degraded: &Condition) {
    let what = crate::controller::recorder::Occurrence {
        warning: true,
        reason: &degraded.reason,
        action: "Register",
        note: &degraded.message,
    };
    let now = k8s_openapi::jiff::Timestamp::now();
    if let Err(e) = ctx.recorder.publish(&td.object_ref(&()), what, now).await {
        tracing::warn!(reason = %degraded.reason, error = %e, "could not publish an event");
    }
}

/// The server-side apply body that sets `status` on a TaskDefinition.
#[must_use]
pub fn status_patch(status: &TaskDefinitionStatus) -> serde_json::Value {
    crate::controller::status::status_patch::<TaskDefinition>(status)
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
    use crate::controller::status::translated_message;

    use k8s_openapi::jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::controller::{status::MAX_CONDITION_MESSAGE_LEN, testing};

    fn t(seconds: i64) -> Time {
        Time(Timestamp::from_second(1_700_000_000 + seconds).unwrap())
    }

    fn ready(status: &TaskDefinitionStatus) -> &Condition {
        condition::find(&status.conditions, READY).expect("a Ready condition")
    }

    fn translated_cond(status: &TaskDefinitionStatus) -> &Condition {
        condition::find(&status.conditions, TRANSLATED).expect("a Translated condition")
    }

    fn registered(latest: i64) -> Registration {
        Registration::Registered {
            latest,
            retained: (1..=latest).collect(),
        }
    }

    /// `web` with one container that translates without notes (a non-root user).
    fn web() -> TaskDefinition {
        let mut td =
            testing::with_container(testing::task_definition("team-a", "web", 3), "app", "nginx:1.27");
        td.spec.task_definition.container_definitions[0].user = Some("1000".into());
        td
    }

    #[test]
    fn registered_object_gets_revision_arn_active_and_ready() {
        let td = web();
        let status = compute_status(&td, &registered(2), t(0));
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.status.as_deref(), Some("ACTIVE"));
        assert_eq!(status.revision, Some(2));
        assert_eq!(status.revisions, vec![1, 2]);
        assert_eq!(status.task_definition_arn.as_deref(), Some("web:2"));
        assert_eq!(status.conditions.len(), 2);
        let ready = ready(&status);
        assert_eq!(ready.status, "True");
        assert_eq!(ready.reason, "Registered");
        assert_eq!(ready.message, "Revision web:2 is registered.");
        assert_eq!(ready.observed_generation, Some(3));
        assert_eq!(ready.last_transition_time, t(0));
        let translated = translated_cond(&status);
        assert_eq!(
            (translated.status.as_str(), translated.reason.as_str()),
            ("True", "AllFieldsTranslated")
        );
        assert!(
            !same_status(td.status.as_ref(), &status),
            "no status yet: a patch is needed"
        );
    }

    #[test]
    fn the_arn_uses_the_family() {
        let mut td = web();
        td.spec.task_definition.family = Some("web_app".into());
        let status = compute_status(&td, &registered(4), t(0));
        assert_eq!(status.task_definition_arn.as_deref(), Some("web_app:4"));
    }

    #[test]
    fn untranslated_fields_are_listed_in_the_translated_condition() {
        let mut td = web();
        td.spec.task_definition.network_mode = Some(crate::api::ecs::NetworkMode::Bridge);
        let status = compute_status(&td, &registered(1), t(0));
        let translated = translated_cond(&status);
        assert_eq!(translated.status, "False");
        assert_eq!(translated.reason, "FieldsNotTranslated");
        assert!(
            translated.message.contains("spec.networkMode: approximated"),
            "{}",
            translated.message
        );
        assert!(translated.message.len() <= MAX_MESSAGE_LEN);
        // Ready is about registration, not translation.
        assert_eq!(ready(&status).status, "True");
    }

    #[test]
    fn a_long_list_of_notes_is_told_whole() {
        let mut td = web();
        for i in 0..60 {
            td = testing::with_container(td, &format!("c{i}"), "busybox");
            td.spec.task_definition.container_definitions[i + 1].docker_security_options = Some(vec![
                "apparmor:unconfined".into(),
                "label:type:container_t".into(),
            ]);
        }
        let translated = translated(&td, 1, Some(3), t(0));
        assert_eq!(translated.reason, "FieldsNotTranslated");
        assert!(translated.message.len() <= MAX_CONDITION_MESSAGE_LEN);
        for i in 1..=60 {
            // (`label:type:container_t` keeps the profile: only the AppArmor option is noted.)
            let field = format!("spec.containerDefinitions[{i}].dockerSecurityOptions[0]: ");
            assert!(translated.message.contains(&field), "{field} is told");
        }
        assert!(!translated.message.contains("more"), "{}", translated.message);
        // Thousands of notes still fit what Kubernetes accepts.
        let notes: Vec<String> = (0..5000)
            .map(|i| format!("spec.containerDefinitions[{i}].x: ignored: y"))
            .collect();
        let message = translated_message(&notes);
        assert!(message.len() <= MAX_CONDITION_MESSAGE_LEN, "{}", message.len());
        assert!(message.contains("more fields"), "{message}");
    }

    #[test]
    fn a_spec_that_cannot_become_a_pod_is_reported() {
        let mut td = testing::task_definition("team-a", "web", 3);
        td.spec.task_definition.container_definitions = vec![crate::api::ecs::ContainerDefinition {
            name: Some("app".into()),
            ..Default::default()
        }];
        let translated = translated(&td, 1, Some(3), t(0));
        assert_eq!(translated.status, "False");
        assert_eq!(translated.reason, "InvalidTaskDefinition");
        assert!(translated.message.contains("image"), "{}", translated.message);
        assert_eq!(cut("héllo", 4), "h…");
        assert_eq!(cut("hello", 5), "hello");
    }

    #[test]
    fn refused_registration_is_not_ready_and_keeps_the_last_revision() {
        let mut td = web();
        td.status = Some(compute_status(&td, &registered(2), t(0)));
        let refused = Registration::Refused {
            reason: super::super::validate::REASON_NAME_TOO_LONG,
            message: "too long".into(),
        };
        let status = compute_status(&td, &refused, t(10));
        assert_eq!(ready(&status).status, "False");
        assert_eq!(ready(&status).reason, "NameTooLong");
        assert_eq!(ready(&status).last_transition_time, t(10));
        assert_eq!(status.revision, Some(2));
        assert_eq!(status.revisions, vec![1, 2]);
        // Degraded, for the same reason: the user must fix it.
        let degraded = condition::find(&status.conditions, DEGRADED).expect("Degraded");
        assert_eq!(
            (
                degraded.status.as_str(),
                degraded.reason.as_str(),
                degraded.message.as_str()
            ),
            ("True", "NameTooLong", "too long")
        );
    }

    #[test]
    fn observed_generation_follows_a_new_generation() {
        let mut td = web();
        td.status = Some(compute_status(&td, &registered(1), t(0)));
        td.metadata.generation = Some(4);
        let status = compute_status(&td, &registered(1), t(60));
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
        let mut td = web();
        td.status = Some(compute_status(&td, &registered(1), t(0)));
        let later = compute_status(&td, &registered(1), t(3600));
        assert_eq!(ready(&later).last_transition_time, t(0));
        assert_eq!(Some(&later), td.status.as_ref());
        assert!(same_status(td.status.as_ref(), &later));
        // A new revision or a retention change is a change.
        assert!(!same_status(
            td.status.as_ref(),
            &compute_status(&td, &registered(2), t(1))
        ));
        let fewer = Registration::Registered {
            latest: 1,
            retained: Vec::new(),
        };
        assert!(!same_status(
            td.status.as_ref(),
            &compute_status(&td, &fewer, t(1))
        ));
    }

    #[test]
    fn differing_only_in_transition_time_needs_no_patch() {
        let td = web();
        let a = compute_status(&td, &registered(1), t(0));
        let b = compute_status(&td, &registered(1), t(10));
        assert_ne!(a, b);
        assert!(same_status(Some(&a), &b));
    }

    #[test]
    fn flip_from_false_moves_the_transition_time() {
        let mut td = web();
        let mut old = TaskDefinitionStatus::default();
        old.conditions
            .push(condition::new(READY, false, "Invalid", "bad spec", Some(2), t(0)));
        td.status = Some(old);
        let now = Time(t(0).0 + SignedDuration::from_secs(90));
        let status = compute_status(&td, &registered(1), now.clone());
        assert_eq!(ready(&status).status, "True");
        assert_eq!(ready(&status).last_transition_time, now);
        assert_eq!(status.conditions.len(), 2);
    }

    #[test]
    fn other_conditions_are_kept() {
        let mut td = web();
        let other = condition::new(condition::PROGRESSING, false, "AsExpected", "", Some(3), t(0));
        td.status = Some(TaskDefinitionStatus {
            conditions: vec![other.clone()],
            ..Default::default()
        });
        let status = compute_status(&td, &registered(7), t(5));
        assert_eq!(status.revision, Some(7));
        assert_eq!(
            condition::find(&status.conditions, condition::PROGRESSING),
            Some(&other)
        );
        assert_eq!(ready(&status).status, "True");
    }

    #[test]
    fn missing_dependents_degrade_until_they_are_made() {
        let mut td = web();
        let missing = "external-secrets.io/v1 ExternalSecret is not served by this cluster";
        let status = compute_status_with(&td, &registered(1), &Options::default(), Some(missing), t(0));
        let degraded = condition::find(&status.conditions, DEGRADED).expect("Degraded");
        assert_eq!(
            (
                degraded.status.as_str(),
                degraded.reason.as_str(),
                degraded.message.as_str()
            ),
            ("True", REASON_DEPENDENTS_NOT_APPLIED, missing)
        );
        // Registered all the same, but not Ready: its tasks cannot start until the user installs
        // what is missing.
        assert_eq!(status.revision, Some(1));
        assert_eq!(
            (ready(&status).status.as_str(), ready(&status).reason.as_str()),
            ("False", REASON_DEPENDENTS_NOT_APPLIED)
        );
        assert_eq!(
            ready(&status).message,
            format!("Revision web:1 is registered, but its tasks cannot start: {missing}")
        );
        td.status = Some(status);
        let status = compute_status_with(&td, &registered(1), &Options::default(), None, t(9));
        assert!(condition::find(&status.conditions, DEGRADED).is_none());
        assert_eq!(ready(&status).status, "True");
    }

    #[test]
    fn a_different_message_or_reason_needs_a_patch() {
        let td = web();
        let desired = compute_status(&td, &registered(1), t(0));
        let mut current = desired.clone();
        current.conditions[0].message = "something else".into();
        assert!(!same_status(Some(&current), &desired));
        let mut current = desired.clone();
        current.status = Some("INACTIVE".into());
        assert!(!same_status(Some(&current), &desired));
    }

    #[test]
    fn patch_body_has_api_version_kind_and_status() {
        let td = web();
        let body = status_patch(&compute_status(&td, &registered(1), t(0)));
        assert_eq!(body["apiVersion"], "ecsbridge.io/v1alpha1");
        assert_eq!(body["kind"], "TaskDefinition");
        assert_eq!(body["status"]["observedGeneration"], 3);
        assert_eq!(body["status"]["revisions"], serde_json::json!([1]));
        assert_eq!(body["status"]["conditions"][0]["type"], "Ready");
        assert!(body.get("spec").is_none(), "a status patch must not touch spec");
    }

    #[test]
    fn each_new_trouble_is_told_once() {
        let td = web();
        let refused = |message: &str| Registration::Refused {
            reason: "InvalidTaskDefinition",
            message: message.into(),
        };
        let healthy = compute_status(&td, &registered(1), t(0));
        assert!(newly_degraded(None, &healthy).is_none());
        let bad = compute_status(&td, &refused("spec.cpu: too big"), t(1));
        assert_eq!(
            newly_degraded(Some(&healthy), &bad).map(|c| c.message.as_str()),
            Some("spec.cpu: too big")
        );
        assert!(newly_degraded(None, &bad).is_some());
        assert!(newly_degraded(Some(&bad), &bad).is_none(), "told already");
        let worse = compute_status(&td, &refused("spec.memory: too big"), t(2));
        assert!(newly_degraded(Some(&bad), &worse).is_some(), "another message");
    }
}
